"""A tiny vendor on loopback for send/auth tests (real HTTP, scripted answers, recorded requests)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


class Vendor:
    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict, dict]] = []  # queued (status, body, headers) for sends
        self.token_answers: list[tuple[int, dict]] = []
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = {"path": self.path, "headers": dict(self.headers), "body": raw.decode()}
                vendor.requests.append(record)
                if self.path == "/oauth/token":
                    status, body = vendor.token_answers.pop(0) if vendor.token_answers else (200, None)
                    if body is None:
                        vendor.tokens_issued += 1
                        token = f"tok-{vendor.tokens_issued}"
                        vendor.valid_tokens.add(token)
                        body = {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
                    record["form"] = dict(parse_qsl(raw.decode()))
                    return self._send(status, body, {})
                status, body, headers = (
                    vendor.answers.pop(0) if vendor.answers else (200, {"status": "success"}, {})
                )
                self._send(status, body, headers)

            do_PUT = do_POST

            def _send(self, status, body, headers):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def sends(self) -> list[dict]:
        return [r for r in self.requests if r["path"] != "/oauth/token"]

    def token_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/oauth/token"]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
