"""Production settings end to end, as README's "Deploy" section runs them (called by `.ci/run`).

DEBUG off, PostgreSQL + Redis on localhost (a database of its own, dropped at the end), then:
`manage.py setup` (migrate, createcachetable, collectstatic), gunicorn serving a page and its static
file, a task cluster sending one message to the vendor simulator and the simulator's callback arriving through
gunicorn. Every process started here is stopped at the end, whatever happens.

    .venv/bin/python docs/deploy/production_check.py

Environment: RCS_PRODCHECK_POSTGRES (server URL, default postgres://postgres@127.0.0.1:5432),
RCS_PRODCHECK_REDIS_URL (default redis://127.0.0.1:6379/13; the script empties that Redis database).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
TIMEOUT = 90  # seconds for the whole send -> callback round trip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step(text: str) -> None:
    print(f"--- production check: {text}", flush=True)


class Processes:
    """Children in process groups of their own, all stopped (TERM, then KILL) by `stop_all`."""

    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.logdir / f"{name}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(  # noqa: S603
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def logs(self) -> str:
        return "\n".join(f"=== {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logdir.glob("*.log")))


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def http(method: str, url: str, *, token: str = "", body: dict | None = None) -> tuple[int, bytes, dict]:
    headers = {"X-Forwarded-Proto": "https"}  # as the reverse proxy in front of gunicorn sets it
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited with code {proc.returncode}")
        try:
            http("GET", url)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


SETUP = """
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from providers.models import Provider
from templates_app.models import MessageTemplate
provider = Provider.objects.create(kind="generic_rcs", nickname="Simulator", sender_id="check",
    config={"endpoint": "%(sim)s/generic/messages", "method": "POST", "auth_type": "none"})
template = MessageTemplate.objects.create(provider=provider, name="check",
    content={"type": "TEXT", "text": "Hello {{1}}", "suggestions": []}, sample_values=["Asha"],
    status=MessageTemplate.Status.APPROVED)
user = User.objects.create_user("integrator")
user.groups.add(Group.objects.get(name="Marketer"))
print("TEMPLATE", template.pk, "TOKEN", Token.objects.create(user=user).key)
"""


def main() -> None:
    import psycopg
    import redis

    server = os.environ.get("RCS_PRODCHECK_POSTGRES", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    redis_url = os.environ.get("RCS_PRODCHECK_REDIS_URL", "redis://127.0.0.1:6379/13")
    db = f"rcs_prodcheck_{os.getpid()}"
    web_port, sim_port = free_port(), free_port()
    from cryptography.fernet import Fernet

    logdir = Path(tempfile.mkdtemp(prefix="rcs-prodcheck-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "RCS_", "OUTBOUND_", "Q_"))}
    env.update(
        {
            "RCS_ENV_FILE": str(logdir / "no.env"),  # the environment only, as a service manager gives it
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            # TLS ends at the reverse proxy, which redirects http itself; the simulator posts its
            # callbacks straight to gunicorn over http.
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"{server}/{db}",
            "REDIS_URL": redis_url,
            "RCS_PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
            "OUTBOUND_ALLOW_HOSTS": f"127.0.0.1:{sim_port}",
            "MEDIA_ROOT": str(logdir / "media"),
            # collectstatic writes here, not into the checkout: whitenoise would serve those copies
            # (stale once the sources change) to every later run from the checkout, tests included.
            "DJANGO_STATIC_ROOT": str(logdir / "static"),
        }
    )
    processes = Processes(logdir)
    started = time.monotonic()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    redis.Redis.from_url(redis_url).flushdb()
    try:
        step("manage.py setup: migrate, createcachetable, collectstatic")
        manage(env, "setup")

        step("gunicorn serves a page and its static file")
        gunicorn = processes.start(
            "gunicorn",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "rcsconnect.wsgi",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--workers",
                "2",
            ],
            env,
        )
        base = f"http://127.0.0.1:{web_port}"
        wait_for(f"{base}/accounts/login/", gunicorn)
        status, page, _ = http("GET", f"{base}/accounts/login/")
        assert status == 200, f"login page: {status}"
        css = re.search(rb'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page)
        assert css, "the login page links no hashed stylesheet (collectstatic's manifest)"
        status, _, headers = http("GET", base + css.group(1).decode())
        assert status == 200 and "css" in headers.get("Content-Type", ""), f"stylesheet: {status}"
        assert "max-age" in headers.get("Cache-Control", ""), "static files are not served as immutable"

        step("a task cluster sends one message to the simulator, its callback comes back")
        simulator = processes.start(
            "simulator",
            [PYTHON, "manage.py", "run_simulator", "--port", str(sim_port), "--callback-delay-ms", "100"],
            env,
        )
        wait_for(f"http://127.0.0.1:{sim_port}/", simulator)
        processes.start("qcluster", [PYTHON, "manage.py", "qcluster"], env)
        out = manage(env, "shell", "-c", SETUP % {"sim": f"http://127.0.0.1:{sim_port}"})
        template_id, token = re.search(r"TEMPLATE (\d+) TOKEN (\w+)", out).groups()
        status, body, _ = http(
            "POST",
            f"{base}/api/send/",
            token=token,
            body={"template": int(template_id), "to": "+919812345678", "values": ["Asha"]},
        )
        assert status == 202, f"send: {status} {body[:300]!r}"
        message_id = json.loads(body)["id"]
        deadline, seen = time.monotonic() + TIMEOUT, None
        while time.monotonic() < deadline:
            status, body, _ = http("GET", f"{base}/api/messages/{message_id}/", token=token)
            seen = json.loads(body).get("status") if status == 200 else status
            if seen in ("delivered", "read"):
                break
            time.sleep(0.5)
        assert seen in ("delivered", "read"), f"message {message_id} stayed {seen!r}"
        step(f"passed in {time.monotonic() - started:.0f} s (message {message_id} {seen})")
    except (AssertionError, SystemExit) as exc:
        print(f"--- production check FAILED: {exc}\n{processes.logs()}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        processes.stop_all()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        redis.Redis.from_url(redis_url).flushdb()
        shutil.rmtree(logdir, ignore_errors=True)  # the logs were printed on failure


if __name__ == "__main__":
    main()
