"""`manage.py run_simulator --port 8025`: the local vendor simulator as a foreground process."""

from __future__ import annotations

import dataclasses
import json

from django.core.management.base import BaseCommand, CommandError

from providers.simulator import KnobError, Knobs, serve_forever


class Command(BaseCommand):
    help = (
        "Run the local vendor simulator (Generic RCS, JioCX, OAuth 2.0 token and template status APIs) "
        "until SIGTERM or Ctrl-C. Every knob is also a flag, e.g. --latency-ms 20 --error-500 0.05."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port", type=int, action="append", help="Port to listen on (repeat for several; default 8025)."
        )
        parser.add_argument("--cpu", type=int, default=None, help="Pin the process to this CPU core.")
        for knob in dataclasses.fields(Knobs):
            flag = "--" + knob.name.replace("_", "-")
            if knob.type in ("dict[str, str]", "dict[str, Any]"):
                parser.add_argument(
                    flag, dest=knob.name, metavar="JSON", help=f"{knob.name} as a JSON object."
                )
            else:
                parser.add_argument(
                    flag, dest=knob.name, metavar=knob.type.upper(), help=f"Knob {knob.name}."
                )

    def handle(self, *args, host: str, port: list[int] | None, cpu: int | None, **options):
        changes = {}
        for knob in dataclasses.fields(Knobs):
            value = options.get(knob.name)
            if value is None:
                continue
            if knob.type.startswith("dict"):
                try:
                    value = json.loads(value)
                except ValueError as exc:
                    raise CommandError(f"--{knob.name.replace('_', '-')}: not valid JSON") from exc
            changes[knob.name] = value
        try:
            knobs = Knobs().updated(changes)
        except KnobError as exc:
            raise CommandError(str(exc)) from exc

        def on_listen(url: str) -> None:
            self.stdout.write(f"Vendor simulator listening on {url} (control: {url}/_sim/stats)")
            self.stdout.flush()

        try:
            serve_forever(host=host, ports=port or [8025], knobs=knobs, cpu=cpu, on_listen=on_listen)
        except OSError as exc:
            raise CommandError(f"could not start the simulator: {exc}") from exc
        self.stdout.write("Vendor simulator stopped.")
