"""The vendor simulator's own ceiling: requests/s at zero latency on one core, and its start-up time.

The simulator runs as `manage.py run_simulator --cpu 0` (pinned to core 0, callbacks off); load
comes from separate client processes on the other cores: raw asyncio keep-alive connections, each
sending one request and waiting for its answer (no pipelining), every request with a new msgId so
the duplicate tracking does real work. Contract validation is always on. Baseline: the same load
against aiohttp's low-level server answering a fixed 200 after parsing the JSON body, which is
what the simulator would be built on otherwise (docs/simulator.md).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .table import Row

ROOT = Path(__file__).resolve().parents[1]
TARGET_RPS = 5000

TEXT = {
    "payloadVersion": 0.1,
    "msgId": "MSGID",
    "to": "+4915112345671",
    "callbackURL": "http://127.0.0.1:9/callbacks/token/",
    "rcsContent": {
        "senderId": "bench",
        "customParam": [{"name": "campaign", "value": "bench"}],
        "content": {
            "type": "TEXT",
            "text": "Hello Ann, your spring offer is ready: 20% off everything until Sunday.",
            "suggestions": [
                {"type": "REPLY", "text": "Yes please", "postbackData": "yes"},
                {
                    "type": "OPEN_URL",
                    "text": "Open",
                    "postbackData": "open",
                    "url": "https://example.com/o/1",
                },
            ],
        },
    },
}
_CARD = {
    "title": "Spring sale",
    "description": "Up to 50% off on the whole collection, this week only.",
    "media": {"url": "https://cdn.example.com/a.png", "height": "MEDIUM", "contentType": "image/png"},
    "suggestions": [
        {"type": "OPEN_URL", "text": "Shop", "postbackData": "s", "url": "https://example.com/s"}
    ],
}
CAROUSEL = {
    **TEXT,
    "rcsContent": {
        **TEXT["rcsContent"],
        "content": {"type": "CAROUSEL", "cardWidth": "MEDIUM", "cards": [_CARD] * 5},
    },
}
JIOCX = {
    "messageID": "MSGID",
    "agentID": "bench-agent",
    "campaignID": "bench",
    "contacts": ["4915112345671"],
    "data": {
        "content": {
            "plainText": "Hello from the benchmark",
            "suggestions": [{"reply": {"plainText": "Yes", "postBack": {"data": "y"}}}],
        }
    },
}


# -- load client (runs in separate processes) ------------------------------------------------------
class _Client(asyncio.Protocol):
    def __init__(self, host, port, path, template, prefix, counts, state, headers):
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n{headers}"
            "Content-Length: %d\r\n\r\n"
        )
        self.template = template
        self.prefix = prefix
        self.counts = counts
        self.state = state
        self.n = 0
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport
        self._send()

    def _send(self):
        self.n += 1
        body = self.template.replace("MSGID", f"{self.prefix}-{self.n}").encode()
        self.transport.write((self.head % len(body)).encode() + body)

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            at = head.lower().find(b"content-length:")
            length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            status = head[9:12].decode()
            self.counts[status] = self.counts.get(status, 0) + 1
            self.buffer = self.buffer[end + 4 + length :]
            if self.state["stop"]:
                self.transport.close()
                return
            self._send()


async def _load(port, path, template, connections, seconds, prefix, headers):
    loop = asyncio.get_running_loop()
    counts: dict[str, int] = {}
    state = {"stop": False}
    for i in range(connections):
        await loop.create_connection(
            lambda i=i: _Client("127.0.0.1", port, path, template, f"{prefix}{i}", counts, state, headers),
            "127.0.0.1",
            port,
        )
    await asyncio.sleep(0.5)  # warm-up
    before, started = sum(counts.values()), time.monotonic()
    await asyncio.sleep(seconds)
    done, elapsed = sum(counts.values()) - before, time.monotonic() - started
    state["stop"] = True
    await asyncio.sleep(0.2)
    return done / elapsed, counts


def _client_process(port, path, template, connections, seconds, prefix, headers, cpus, results):
    if cpus:
        os.sched_setaffinity(0, cpus)
    rate, counts = asyncio.run(_load(port, path, template, connections, seconds, prefix, headers))
    results.put((rate, counts))


def measure(
    port: int,
    path: str,
    body: dict,
    *,
    seconds: float,
    processes: int = 2,
    connections: int = 32,
    headers: str = "",
    tag: str = "",
) -> tuple[float, dict[str, int]]:
    """Requests/s the server at `port` answered, summed over `processes` client processes."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    cpus = set(range(1, os.cpu_count() or 1))
    template = json.dumps(body, separators=(",", ":"))
    procs = [
        context.Process(
            target=_client_process,
            args=(
                port,
                path,
                template,
                connections,
                seconds,
                f"{tag}{time.time_ns()}-{p}-",
                headers,
                cpus,
                results,
            ),
        )
        for p in range(processes)
    ]
    for proc in procs:
        proc.start()
    total, counts = 0.0, {}
    for _ in procs:
        rate, part = results.get(timeout=seconds + 60)
        total += rate
        for status, n in part.items():
            counts[status] = counts.get(status, 0) + n
    for proc in procs:
        proc.join()
    return total, counts


# -- servers ---------------------------------------------------------------------------------------
def start_command(*flags: str) -> tuple[subprocess.Popen, int, float]:
    """Start `manage.py run_simulator --port 0 --cpu 0`; return it, its port and its start-up time."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_simulator", "--port", "0", "--cpu", "0", *flags],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = process.stdout.readline()
    elapsed = time.monotonic() - started
    if "listening on" not in line:
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    return process, int(line.split(" on ", 1)[1].split()[0].rsplit(":", 1)[1]), elapsed


_AIOHTTP_BASELINE = """
import asyncio, json, os, sys
from aiohttp import web
from aiohttp.web_server import Server
os.sched_setaffinity(0, {0})
async def handler(request):
    json.loads(await request.read())
    return web.Response(body=b'{"status":"success"}', content_type="application/json")
async def main():
    server = await asyncio.get_running_loop().create_server(Server(handler, access_log=None), "127.0.0.1", 0)
    print("listening on http://127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_baseline() -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-c", _AIOHTTP_BASELINE], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    return process, int(line.rsplit(":", 1)[1])


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def server_stats(port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/stats", timeout=10) as response:  # noqa: S310
        return json.load(response)


# -- the benchmark ---------------------------------------------------------------------------------
def run(options) -> list[Row]:
    seconds = 2.0 if options.quick else 5.0
    rows: list[Row] = []

    from providers.simulator import start_simulator

    started = time.monotonic()
    in_thread = start_simulator()
    thread_start = time.monotonic() - started
    in_thread.stop()

    baseline_process, baseline_port = start_baseline()
    try:
        baseline, _ = measure(baseline_port, "/generic/messages", TEXT, seconds=seconds, tag="b")
    finally:
        stop(baseline_process)

    process, port, startup = start_command("--callbacks", "false")
    try:
        cases = [
            ("Generic RCS send (TEXT), zero latency, 1 core", "/generic/messages", TEXT, ""),
            ("Generic RCS send (5-card CAROUSEL), 1 core", "/generic/messages", CAROUSEL, ""),
            ("JioCX send (text), 1 core", "/jiocx/api/v1/sendMessage", JIOCX, "x-apikey: sim-api-key\r\n"),
        ]
        for index, (metric, path, body, headers) in enumerate(cases):
            rate, counts = measure(port, path, body, seconds=seconds, headers=headers, tag=f"s{index}")
            ok_answers = set(counts) == {"200"}
            rows.append(
                Row(
                    "simulator",
                    metric + ("" if ok_answers else f" (answers {counts})"),
                    rate,
                    "req/s",
                    baseline=baseline if index == 0 else None,
                    target=f">= {TARGET_RPS:,} req/s" if index == 0 else "",
                    ok=(rate >= TARGET_RPS and ok_answers) if index == 0 else ok_answers,
                )
            )
        stats = server_stats(port)
        rows.append(
            Row(
                "simulator",
                "stats: duplicate msgIds seen (expect 0)",
                stats["duplicate_msg_ids"],
                "",
                ok=stats["duplicate_msg_ids"] == 0,
            )
        )
    finally:
        stop(process)

    process, port, _ = start_command(
        "--callback-batch", "50", "--callback-delay-ms", "1", "--callback-retries", "0"
    )
    try:
        body = {**TEXT, "callbackURL": f"http://127.0.0.1:{port}/_sim/stats"}  # callbacks to itself: 405s
        rate, _ = measure(port, "/generic/messages", body, seconds=seconds, tag="c")
        rows.append(Row("simulator", "with callbacks on (3 per message, batched 50), 1 core", rate, "req/s"))
    finally:
        stop(process)

    rows.append(
        Row("simulator", "start-up: manage.py run_simulator", startup, "s", target="< 2 s", ok=startup < 2)
    )
    rows.append(
        Row(
            "simulator",
            "start-up: start_simulator() in a thread",
            thread_start,
            "s",
            target="< 2 s",
            ok=thread_start < 2,
        )
    )
    return rows
