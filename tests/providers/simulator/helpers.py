"""A callback receiver on loopback (a real HTTP server) and request builders for the simulator tests."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class Receiver:
    """Records every request it gets; answers with queued status codes, then 200."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.statuses: list[int] = []  # popped front-first for the next answers
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.calls.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "raw": raw,
                            "json": json.loads(raw) if raw else None,
                            "at": time.monotonic(),
                        }
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cb"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 10.0) -> list[dict]:
        """The first `count` posts, waiting for them; fails the test when they do not come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                posts = [c for c in self.calls if c["method"] == "POST"]
            if len(posts) >= count:
                return posts
            time.sleep(0.01)
        raise AssertionError(f"expected {count} callbacks, got {len(posts)}: {[p['json'] for p in posts]}")

    def statuses_for(self, msg_id: str) -> list[tuple[str, str]]:
        """(channel, status) of every 3a entry and 3b event about msg_id, in arrival order."""
        found = []
        for call in self.calls:
            body = call["json"]
            if isinstance(body, dict):
                found += [
                    (s["channel"], s["status"]) for s in body.get("statuses", []) if s["msgId"] == msg_id
                ]
            elif isinstance(body, list):
                found += [("SMS", g["event"]) for g in body for d in g["data"] if d["meta"] == msg_id]
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def eventually(check, timeout: float = 10.0) -> None:
    """Poll `check()` until it is true (callback counters are updated after the receiver answered)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition still false after {timeout} s")
        time.sleep(0.01)


def text_message(msg_id="m-1", to="+4915112345671", callback_url="http://127.0.0.1:9/cb", **content):
    body = {
        "payloadVersion": 0.1,
        "msgId": msg_id,
        "to": to,
        "callbackURL": callback_url,
        "rcsContent": {
            "senderId": "sim-sender",
            "customParam": [{"name": "campaign", "value": "spring"}],
            "content": {"type": "TEXT", "text": "Hello from the tests", **content},
        },
    }
    return body


def send(simulator, body, *, method="POST", timeout=5, headers=None, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{simulator.url}/generic/messages", json=body, timeout=timeout, headers=headers, **kwargs
    )


def jiocx_message(msg_id="j-1", contact="4915112345671", agent="agent-1", content=None, **extra):
    return {
        "messageID": msg_id,
        "agentID": agent,
        "campaignID": "camp-1",
        "contacts": [contact],
        "data": {"content": content or {"plainText": "Hello from JioCX"}},
        **extra,
    }


def send_jiocx(simulator, body, *, key="sim-api-key", timeout=5) -> requests.Response:
    headers = {"x-apikey": key} if key is not None else {}
    return requests.post(
        f"{simulator.url}/jiocx/api/v1/sendMessage", json=body, headers=headers, timeout=timeout
    )


def fields(response: requests.Response) -> dict[str, str]:
    """field path -> reason of a 400 answer."""
    return {e["field"]: e["reason"] for e in response.json()["errors"]}
