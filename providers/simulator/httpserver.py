"""A lean HTTP/1.1 server on asyncio + httptools.

Per request it costs a fraction of aiohttp's server (a bare httptools protocol serves about twice
as many requests per CPU-second as aiohttp's low-level server with an empty handler; `python -m
bench --only simulator` measures both), which leaves room for contract validation and statistics
within the 5,000 requests/s per core the send benchmark needs. It supports keep-alive, pipelining
(answers in order), `Expect: 100-continue`, and the two deliberate faults the simulator needs: a
TCP reset and a silent close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

import httptools

logger = logging.getLogger("providers.simulator")

MAX_BODY = 4 * 1024 * 1024
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_LINGER_RESET = struct.pack("ii", 1, 0)


class Request:
    __slots__ = ("method", "path", "query_string", "headers", "body", "keep_alive", "_json")

    def __init__(self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes):
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.body = body
        self.keep_alive = True

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body)

    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)


class Response:
    __slots__ = ("status", "body", "headers", "action")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        action: str | None = None,
    ):
        self.status = status
        self.body = body
        self.headers = headers or []
        self.action = action  # None | "reset" (TCP RST) | "close" (close without answering)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        body = json.dumps(data, separators=(",", ":")).encode()
        return cls(status, body, [("Content-Type", "application/json"), *(headers or [])])


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class HttpProtocol(asyncio.Protocol):
    """One connection: parse requests, hand each to the handler, write the answers in order."""

    def __init__(self, handler: Handler, connections: set[HttpProtocol]):
        self.handler = handler
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[list[Any]] = deque()  # [request, response | None] in arrival order
        self.tasks: set[asyncio.Task] = set()
        self.lingering = False
        self._reset_message()

    def _reset_message(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body_parts: list[bytes] = []
        self.body_size = 0

    # asyncio callbacks
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.connections.add(self)

    def connection_lost(self, exc) -> None:
        self.connections.discard(self)
        self.transport = None
        for task in self.tasks:
            task.cancel()

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return  # after an error answer: read and drop what the client still sends, then close
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            # A callback's exception reaches us wrapped (HttpParserCallbackError); the flag says which.
            if self.body_size > MAX_BODY:
                self._fail(413, f"request body larger than {MAX_BODY} bytes")
            else:
                self._fail(400, "malformed HTTP request")

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self.headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > MAX_BODY:
            raise ValueError("body too large")
        self.body_parts.append(body)

    def on_message_complete(self) -> None:
        url = self.url.decode("latin-1")
        path, _, query = url.partition("?")
        body = self.body_parts[0] if len(self.body_parts) == 1 else b"".join(self.body_parts)
        request = Request(self.parser.get_method().decode("ascii"), path, query, self.headers, body)
        request.keep_alive = self.parser.should_keep_alive()
        self._reset_message()
        try:
            result = self.handler(request)
        except Exception:  # a handler bug answers 500 and is logged, the connection lives on
            logger.exception("simulator error on %s %s", request.method, request.path)
            result = Response.json({"error": "simulator error"}, 500)
        if isinstance(result, Response):
            if not self.pending:
                self._write(request, result)
                return
            self.pending.append([request, result])
            self._drain()
            return
        slot: list[Any] = [request, None]
        self.pending.append(slot)
        task = asyncio.get_running_loop().create_task(result)
        self.tasks.add(task)
        task.add_done_callback(lambda t, slot=slot: self._finished(t, slot))

    # writing
    def _finished(self, task: asyncio.Task, slot: list[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            logger.error("simulator error on %s %s", slot[0].method, slot[0].path, exc_info=task.exception())
            slot[1] = Response.json({"error": "simulator error"}, 500)
        else:
            slot[1] = task.result()
        self._drain()

    def _drain(self) -> None:
        while self.pending and self.pending[0][1] is not None and self.transport is not None:
            request, response = self.pending.popleft()
            self._write(request, response)

    def _write(self, request: Request, response: Response) -> None:
        transport = self.transport
        if transport is None:
            return
        if response.action == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            transport.abort()
            return
        if response.action == "close":
            transport.close()
            return
        head = [b"HTTP/1.1 %d %s\r\n" % (response.status, _REASONS.get(response.status, b"Unknown"))]
        for name, value in response.headers:
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        head.append(b"Content-Length: %d\r\n" % len(response.body))
        if not request.keep_alive:
            head.append(b"Connection: close\r\n")
        head.append(b"\r\n")
        head.append(response.body)
        transport.write(b"".join(head))
        if not request.keep_alive:
            transport.close()

    def _fail(self, status: int, reason: str) -> None:
        if self.transport is not None:
            body = json.dumps({"error": reason}).encode()
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (status, _REASONS[status], len(body), body)
            )
            # Closing with unread input would send a reset that can destroy the answer in flight:
            # keep draining for a moment first (a "lingering close").
            self.lingering = True
            asyncio.get_running_loop().call_later(1.0, self.transport.close)


async def serve(handler: Handler, host: str, port: int) -> tuple[asyncio.Server, set[HttpProtocol]]:
    """Listen on host:port (0 = an ephemeral port); returns the server and its live connections."""
    connections: set[HttpProtocol] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: HttpProtocol(handler, connections), host, port, reuse_address=True, backlog=1024
    )
    return server, connections


def close_connections(connections: set[HttpProtocol]) -> None:
    for protocol in list(connections):
        if protocol.transport is not None:
            protocol.transport.close()
