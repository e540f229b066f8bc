"""`make run`'s command: serves the dashboard, the printed login works, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

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


def test_quickstart_serves_login_and_ctrl_c_stops_every_process(tmp_path):
    marker = f"RCS_QUICKSTART_TEST={uuid.uuid4().hex}"
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
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "quickstart",
            "--port",
            str(web_port),
            "--simulator-port",
            str(sim_port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    output, password = [], None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert proc.poll() is None, "quickstart exited early:\n" + "".join(output)
                continue
            output.append(line)
            if match := re.search(r"Login\s+demo / (\S+)", line):
                password = match.group(1)
            if "Ctrl-C" in line:
                break
        assert password, "no login printed:\n" + "".join(output)

        base = f"http://127.0.0.1:{web_port}"
        session = requests.Session()
        for _ in range(100):
            try:
                if session.get(f"{base}/accounts/login/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        response = session.post(
            f"{base}/accounts/login/",
            data={
                "username": "demo",
                "password": password,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=10,
        )
        assert response.status_code == 200 and "/accounts/login/" not in response.url, response.url
        assert session.get(f"{base}/providers/", timeout=10).status_code == 200
        assert len(_processes_with(marker)) >= 3  # quickstart, web server, task cluster (+ workers)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == [], "processes left behind after Ctrl-C"
