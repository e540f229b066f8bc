"""`make run`'s command: serves the dashboard, the printed login works, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import http.server
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from rcsconnect.management.commands import quickstart
from rcsconnect.management.commands.demo_data import demo_password

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _start(tmp_path, marker: str, *extra: str) -> tuple[subprocess.Popen, int, int]:
    """quickstart with its output (and its children's) going into a pipe, as in `make run | tee`."""
    web_port, sim_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'quickstart.sqlite3'}",
            "DJANGO_DEBUG": "true",
            "MEDIA_ROOT": str(tmp_path / "media"),
            marker.split("=")[0]: marker.split("=")[1],
        }
    )
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "quickstart",
            "--port",
            str(web_port),
            "--simulator-port",
            str(sim_port),
            "--password-file",
            str(tmp_path / "demo-password"),
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=write_end,
        stderr=write_end,
    )
    os.close(write_end)
    proc.read_fd = read_end  # type: ignore[attr-defined]
    return proc, web_port, sim_port


def _read_until_running(proc: subprocess.Popen) -> tuple[str, str]:
    """The output up to the "Stop Ctrl-C" line and the password printed."""
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and b"Ctrl-C" not in output:
        ready, _, _ = select.select([proc.read_fd], [], [], 1)
        if ready:
            chunk = os.read(proc.read_fd, 65536)
            assert chunk, "quickstart closed its output early:\n" + output.decode()
            output += chunk
        else:
            assert proc.poll() is None, "quickstart exited early:\n" + output.decode()
    text = output.decode(errors="replace")
    assert "Ctrl-C" in text, "quickstart did not start:\n" + text
    match = re.search(r"Login\s+demo / (\S+)", text)
    assert match, "no login printed:\n" + text
    return text, match.group(1)


def _stop_with_reader_gone(proc: subprocess.Popen, marker: str, sig: int) -> None:
    """The reader of the pipe quits (tee ended, terminal closed), then the signal comes: every process
    of the run must still end."""
    try:
        os.close(proc.read_fd)
    finally:
        proc.send_signal(sig)
        proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == [], f"processes left behind after {signal.Signals(sig).name}"


def _login(base: str, password: str) -> requests.Session:
    session = requests.Session()
    for _ in range(100):
        try:
            if session.get(f"{base}/accounts/login/", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": "demo", "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=10,
    )
    assert response.status_code == 200 and "/accounts/login/" not in response.url, response.url
    return session


def _eventually_at_least(marker: str, count: int, within: float = 30.0) -> bool:
    """Whether `count` processes carry the marker within `within` seconds: on a loaded machine the
    task cluster's process can appear a moment after the quick start says it is running."""
    deadline = time.monotonic() + within
    while len(_processes_with(marker)) < count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_quickstart_piped_stops_every_process_on_sigint_and_sigterm_and_keeps_the_password(tmp_path):
    marker = f"RCS_QUICKSTART_TEST={uuid.uuid4().hex}"
    proc, web_port, _ = _start(tmp_path, marker)
    try:
        _, password = _read_until_running(proc)
        session = _login(f"http://127.0.0.1:{web_port}", password)
        assert session.get(f"http://127.0.0.1:{web_port}/providers/", timeout=10).status_code == 200
        # quickstart, simulator, web server, task cluster (+ workers)
        assert _eventually_at_least(marker, 4)
    finally:
        _stop_with_reader_gone(proc, marker, signal.SIGINT)

    # A second run on the same database keeps the login (open sessions stay valid), and SIGTERM (the
    # terminal gone, a service manager) stops everything as Ctrl-C does.
    proc, web_port, _ = _start(tmp_path, marker)
    try:
        _, again = _read_until_running(proc)
        assert again == password
        assert _eventually_at_least(marker, 4)
    finally:
        _stop_with_reader_gone(proc, marker, signal.SIGTERM)


class _FakeChild:
    """Stands in for a started process: alive until the test ends."""

    def __init__(self, cmd):
        self.cmd = cmd

    def poll(self):
        return None


def test_the_task_cluster_starts_only_once_the_simulator_answers(monkeypatch):
    port = _free_port()
    started: list[tuple[str, bool]] = []
    server: list[http.server.HTTPServer] = []

    def answering() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code > 0
        except requests.ConnectionError:
            return False

    def popen(cmd, **kwargs):
        name = cmd[2]
        started.append((name, answering()))
        if name == "run_simulator":
            # The simulator takes a while to listen, as on a loaded machine.
            def listen_later():
                time.sleep(1.5)
                server.append(http.server.HTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler))
                server[0].serve_forever()

            threading.Thread(target=listen_later, daemon=True).start()
        return _FakeChild(cmd)

    monkeypatch.setattr(quickstart.subprocess, "Popen", popen)
    processes: dict = {}
    try:
        quickstart.Command().start_processes(processes, {"requested": False}, "127.0.0.1", _free_port(), port)
    finally:
        if server:
            server[0].shutdown()
    assert [name for name, _ in started] == ["run_simulator", "runserver", "qcluster"]
    assert dict(started) == {"run_simulator": False, "runserver": True, "qcluster": True}


def test_a_stop_asked_while_waiting_for_the_simulator_starts_nothing_more(monkeypatch):
    started = []
    monkeypatch.setattr(
        quickstart.subprocess, "Popen", lambda cmd, **kw: started.append(cmd[2]) or _FakeChild(cmd)
    )
    stop = {"requested": False}
    threading.Timer(0.5, lambda: stop.update(requested=True)).start()
    quickstart.Command().start_processes({}, stop, "127.0.0.1", _free_port(), _free_port())
    assert started == ["run_simulator"]


@pytest.mark.django_db
def test_demo_password_is_kept_while_it_works_and_rotates_on_request(tmp_path):
    from django.contrib.auth.models import User

    path = tmp_path / "demo-password"
    user = User.objects.create_user("demo")
    first = demo_password(user, path, rotate=False)
    user.save()
    assert demo_password(user, path, rotate=False) == first
    rotated = demo_password(user, path, rotate=True)
    user.save()
    assert rotated != first and user.check_password(rotated) and path.read_text().strip() == rotated
    # A file that no longer opens the login (another database) gives a new password.
    user.set_password("changed elsewhere")
    user.save()
    assert demo_password(user, path, rotate=False) not in (rotated, "changed elsewhere")


def test_the_children_allow_list_adds_the_simulator_port_when_not_named(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1:8025"]
    assert quickstart.simulator_allowed(8025) == ["127.0.0.1:8025"]
    assert quickstart.simulator_allowed(9100) == ["127.0.0.1:8025", "127.0.0.1:9100"]
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    assert quickstart.simulator_allowed(9100) == ["127.0.0.1"]
