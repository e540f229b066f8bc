"""A webhook receiver on loopback (real HTTP): scripted answers, every request recorded."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict]] = []  # (status, headers) queued; then 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": raw})
                status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    """A receiver whose host:port (only) is allow-listed, as an operator would for a local service."""
    server = Receiver()
    settings.OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{server.port}"]
    settings.RCS_WEBHOOK_RETRY_BASE_SECONDS = 10
    settings.RCS_WEBHOOK_RETRY_MAX_SECONDS = 60
    settings.RCS_WEBHOOK_MAX_ATTEMPTS = 3
    yield server
    server.stop()


@pytest.fixture
def stranger():
    """Another loopback server, not allow-listed: the address guard must keep requests from it."""
    server = Receiver()
    yield server
    server.stop()
