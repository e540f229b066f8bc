"""`make run`: migrate, load demo data, print the login, then run every process until Ctrl-C."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from rcsconnect.demo import demo_simulator_knobs

SIMULATOR_PORT = 8025


class Command(BaseCommand):
    help = "Set up the embedded demo and run web server, task cluster and vendor simulator together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=SIMULATOR_PORT)
        parser.add_argument("--no-demo", action="store_true", help="Skip demo data.")

    def handle(self, *args, host: str, port: int, simulator_port: int, no_demo: bool, **options):
        os.makedirs(settings.BASE_DIR / "var", exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)

        username, password = "demo", None
        if not no_demo:
            out = io.StringIO()
            username, password = call_command("demo_data", simulator_port=simulator_port, stdout=out).split()

        processes = self.start_processes(host, port, simulator_port)
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS("\nrcsconnect is running"))
        self.stdout.write(f"  Dashboard  {url}")
        if password:
            self.stdout.write(f"  Login      {username} / {password}")
        self.stdout.write(f"  Admin      {url}admin/")
        self.stdout.write(f"  Simulator  http://127.0.0.1:{simulator_port}/ (local vendor)")
        self.stdout.write("  Stop       Ctrl-C\n")
        self.supervise(processes)

    def start_processes(self, host: str, port: int, simulator_port: int) -> dict[str, subprocess.Popen]:
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands = {
            "web": [*manage, "runserver", f"{host}:{port}", "--noreload"],
            "tasks": [*manage, "qcluster"],
            # A lively demo: some reads missing, some clicks (followed, so click tracking counts
            # them) and replies; numbers ending in 0 fall back to SMS (the default rule).
            "simulator": [
                *manage,
                "run_simulator",
                "--port",
                str(simulator_port),
                "--webhooks-from-db",
                *("--callback-delay-ms", "400", "--read-share", "0.8", "--click-share", "0.25"),
                *("--reply-share", "0.1", "--free-text-share", "0.3", "--follow-clicks", "true"),
                *simulator_flags(demo_simulator_knobs()),
            ],
        }
        # Each child leads its own process group so that stopping it also stops what it spawned
        # (qcluster's worker processes).
        return {name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in commands.items()}  # noqa: S603

    def supervise(self, processes: dict[str, subprocess.Popen]) -> None:
        stop = {"requested": False}

        def request_stop(signum, frame):
            stop["requested"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            while not stop["requested"]:
                for name, proc in processes.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the rest.")
                        stop["requested"] = True
                time.sleep(0.3)
        finally:
            self.stdout.write("\nStopping...")
            stop_all(processes.values())
            self.stdout.write("Stopped.")


def stop_all(processes, grace: float = 10.0) -> None:
    for proc in processes:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def simulator_flags(knobs: dict) -> list[str]:
    """run_simulator flags for knobs (dict knobs as JSON)."""
    flags = []
    for name, value in knobs.items():
        flags += ["--" + name.replace("_", "-"), json.dumps(value) if isinstance(value, dict) else str(value)]
    return flags
