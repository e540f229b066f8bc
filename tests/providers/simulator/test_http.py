"""The simulator's HTTP/1.1 layer over a raw socket: keep-alive, pipelining, 100-continue, bad input."""

from __future__ import annotations

import json
import socket

from .helpers import text_message


def exchange(simulator, raw: bytes, *, expect: int = 1) -> list[tuple[int, dict, bytes]]:
    """Send raw bytes, read `expect` responses (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", simulator.port), timeout=5) as sock:
        sock.sendall(raw)
        buffer, answers = b"", []
        while len(answers) < expect:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                head, rest = buffer.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:])
                length = int(headers.get("Content-Length", 0))
                if len(rest) < length:
                    break
                if lines[0].startswith("HTTP/1.1 100"):
                    buffer = rest
                    continue
                answers.append((int(lines[0].split()[1]), headers, rest[:length]))
                buffer = rest[length:]
        return answers


def post(body: dict, *extra: str) -> bytes:
    data = json.dumps(body).encode()
    head = [
        "POST /generic/messages HTTP/1.1",
        "Host: sim",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def test_pipelined_requests_are_answered_in_order_even_when_the_first_is_slow(simulator):
    simulator.configure(latency_ms=200, callbacks=False)
    raw = post(text_message("p-1")) + post(text_message("p-2", to="bad")) + post(text_message("p-3"))
    answers = exchange(simulator, raw, expect=3)
    assert [status for status, _, _ in answers] == [200, 400, 200]
    assert b"to" in answers[1][2]


def test_expect_100_continue_and_connection_close(simulator):
    simulator.configure(callbacks=False)
    answers = exchange(simulator, post(text_message("p-4"), "Expect: 100-continue", "Connection: close"))
    assert answers[0][0] == 200 and answers[0][1]["Connection"] == "close"


def test_malformed_http_gets_400_and_oversized_body_413(simulator):
    assert exchange(simulator, b"NOT HTTP AT ALL\r\n\r\n")[0][0] == 400
    huge = (
        b"POST /generic/messages HTTP/1.1\r\nHost: sim\r\nContent-Length: 5000000\r\n\r\n" + b"x" * 5_000_000
    )
    assert exchange(simulator, huge)[0][0] == 413


def test_chunked_request_bodies_are_read(simulator):
    simulator.configure(callbacks=False)
    data = json.dumps(text_message("p-5")).encode()
    raw = (
        b"POST /generic/messages HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % 10
        + data[:10]
        + b"\r\n"
        + b"%x\r\n" % (len(data) - 10)
        + data[10:]
        + b"\r\n0\r\n\r\n"
    )
    assert exchange(simulator, raw)[0][0] == 200
