"""`make run`: migrate, load demo data, print the login, then run every process until Ctrl-C."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, OutputWrapper

from rcsconnect.demo import demo_simulator_knobs
from rcsconnect.http import AllowList

SIMULATOR_PORT = 8025
SIMULATOR_WAIT = 60.0  # seconds for the simulator to answer before giving up


class Command(BaseCommand):
    help = "Set up the embedded demo and run web server, task cluster and vendor simulator together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=SIMULATOR_PORT)
        parser.add_argument("--no-demo", action="store_true", help="Skip demo data.")
        parser.add_argument("--rotate-password", action="store_true", help="New demo login password.")
        parser.add_argument("--password-file", type=Path, default=None, help="Default: var/demo-password.")

    def handle(
        self,
        *args,
        host: str,
        port: int,
        simulator_port: int,
        no_demo: bool,
        rotate_password: bool,
        password_file: Path | None,
        **options,
    ):
        os.makedirs(settings.BASE_DIR / "var", exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)

        username, password = "demo", None
        # The demo providers point at the simulator's port: allowed here as for the children, so the
        # provider rules (providers.validation) accept them as they would on the dashboard.
        settings.OUTBOUND_ALLOW_HOSTS = simulator_allowed(simulator_port)
        if not no_demo:
            out = io.StringIO()
            username, password = call_command(
                "demo_data",
                simulator_port=simulator_port,
                rotate_password=rotate_password,
                password_file=password_file,
                stdout=out,
            ).split()

        # From here on a signal only asks to stop: the `finally` below stops every child, whatever
        # happens to our own output (a closed pipe must not skip it).
        stop = {"requested": False}

        def request_stop(signum, frame):
            stop["requested"] = True

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, request_stop)
        processes: dict[str, subprocess.Popen] = {}
        try:
            self.start_processes(processes, stop, host, port, simulator_port)
            if stop["requested"]:
                return
            url = f"http://{host}:{port}/"
            self.say(self.style.SUCCESS("\nrcsconnect is running"))
            self.say(f"  Dashboard  {url}")
            if password:
                self.say(f"  Login      {username} / {password}   (new one: make run ARGS=--rotate-password)")
            self.say(f"  Admin      {url}admin/")
            self.say(f"  Simulator  http://127.0.0.1:{simulator_port}/ (local vendor)")
            self.say("  Stop       Ctrl-C\n")
            self.supervise(processes, stop)
        finally:
            stop_all(processes.values())
            self.say("Stopped.")

    def say(self, text: str) -> None:
        """Write a line; once our output is gone (the reader of a pipe quit), stay quiet."""
        try:
            self.stdout.write(text)
            self.stdout.flush()
        except (BrokenPipeError, OSError):
            # Point the descriptor at /dev/null so the interpreter's final flush does not fail again.
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            self.stdout = OutputWrapper(open(os.devnull, "w"))  # noqa: SIM115

    def start_processes(
        self, processes: dict[str, subprocess.Popen], stop: dict, host: str, port: int, simulator_port: int
    ) -> None:
        """Start the simulator, wait until it answers, then the web server and the task cluster.

        The task cluster sends the demo campaign at once: started before the simulator listens, its
        first sends fail to connect and the provider pauses (RCS_AUTH_PAUSE_SECONDS).
        Each child leads its own process group so that stopping it also stops what it spawned
        (qcluster's worker processes).
        """
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        commands = {
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
            "web": [*manage, "runserver", f"{host}:{port}", "--noreload"],
            "tasks": [*manage, "qcluster"],
        }
        env = {**os.environ, "OUTBOUND_ALLOW_HOSTS": ",".join(simulator_allowed(simulator_port))}
        for name, cmd in commands.items():
            if stop["requested"]:
                return
            processes[name] = subprocess.Popen(cmd, start_new_session=True, env=env)  # noqa: S603
            if name == "simulator" and not wait_until_answers(
                "127.0.0.1", simulator_port, processes[name], stop, timeout=SIMULATOR_WAIT
            ):
                if not stop["requested"]:
                    self.stderr.write(f"The simulator did not answer on port {simulator_port}; stopping.")
                    stop["requested"] = True
                return

    def supervise(self, processes: dict[str, subprocess.Popen], stop: dict) -> None:
        while not stop["requested"]:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    with contextlib.suppress(OSError):
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the rest.")
                    stop["requested"] = True
            time.sleep(0.3)
        self.say("\nStopping...")


def simulator_allowed(simulator_port: int) -> list[str]:
    """OUTBOUND_ALLOW_HOSTS for the children: the configured entries plus the simulator's own port
    (`.env` names the default one; `--simulator-port` may pick another)."""
    entries = list(settings.OUTBOUND_ALLOW_HOSTS)
    if not AllowList.from_settings().names("127.0.0.1", simulator_port):
        entries.append(f"127.0.0.1:{simulator_port}")
    return entries


def wait_until_answers(host: str, port: int, proc: subprocess.Popen, stop: dict, timeout: float) -> bool:
    """True once an HTTP request to host:port gets any answer; False if `proc` dies, a stop is asked
    or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop["requested"] and proc.poll() is None:
        conn = http.client.HTTPConnection(host, port, timeout=1)
        try:
            conn.request("GET", "/")
            conn.getresponse()
            return True
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    return False


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
