"""`manage.py run_simulator --port 8025`: the local vendor simulator as a foreground process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

from django.core.management.base import BaseCommand, CommandError

from providers.simulator import KnobError, Knobs, serve_forever

logger = logging.getLogger("providers.simulator")


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
        parser.add_argument(
            "--webhooks-from-db",
            action="store_true",
            help="Post JioCX callbacks to the callback URL of every JioCX provider whose base URL points at "
            "this simulator (read from the database at start and every 10 s).",
        )
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

    def handle(
        self, *args, host: str, port: list[int] | None, cpu: int | None, webhooks_from_db: bool, **options
    ):
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
            serve_forever(
                host=host,
                ports=port or [8025],
                knobs=knobs,
                cpu=cpu,
                on_listen=on_listen,
                background=refresh_webhooks if webhooks_from_db else None,
            )
        except OSError as exc:
            raise CommandError(f"could not start the simulator: {exc}") from exc
        self.stdout.write("Vendor simulator stopped.")


async def refresh_webhooks(simulator, urls: list[str], *, every: float = 10.0, lookup=None) -> None:
    """Keep `jiocx_webhooks` in step with the JioCX providers that point at this simulator."""
    configured = dict(simulator.knobs.jiocx_webhooks)  # explicit --jiocx-webhooks win
    loop = asyncio.get_running_loop()
    while True:
        try:
            found = await loop.run_in_executor(None, lookup or jiocx_webhooks_for, urls)
        except Exception:  # the database may be migrating or briefly away; try again later
            logger.warning("could not read JioCX providers for the simulator's webhooks", exc_info=True)
        else:
            simulator.configure(jiocx_webhooks={**found, **configured})
        await asyncio.sleep(every)


def jiocx_webhooks_for(urls: list[str]) -> dict[str, str]:
    """Agent ID -> callback URL of the JioCX providers whose base URL is one of `urls` (or localhost)."""
    from providers.models import Provider

    prefixes = tuple(urls) + tuple(u.replace("127.0.0.1", "localhost") for u in urls)
    return {
        p.sender_id: p.callback_url
        for p in Provider.objects.filter(kind="jiocx", archived_at__isnull=True)
        if str(p.config.get("base_url", "")).rstrip("/").startswith(prefixes)
    }
