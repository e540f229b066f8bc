"""The vendor simulator's own ceiling: requests/s at zero latency on one core, and its start-up time.

The simulator runs as `manage.py run_simulator --cpu 0` (pinned to core 0, callbacks off); load
comes from separate client processes on the other cores: raw asyncio keep-alive connections, each
sending one request and waiting for its answer (no pipelining), every request with a new msgId so
the duplicate tracking does real work. Contract validation is always on.

The machine is shared, so the server rarely has its core to itself: the figure checked against
the target is requests per second of the server's own CPU time (what one dedicated core serves);
wall-clock rates are reported beside it. Baseline: the same load against aiohttp's low-level
server answering a fixed 200 after parsing the JSON body (what the simulator would be built on
otherwise); a bare httptools protocol doing the same is reported as the floor of the approach.
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    port: int,
    path: str,
    body: dict,
    *,
    seconds: float,
    server_pid: int,
    processes: int = 2,
    connections: int = 32,
    headers: str = "",
    tag: str = "",
) -> tuple[float, float, dict[str, int]]:
    """(requests/s, requests per CPU-second of the server, client answers by status).

    The machine is shared, so the server rarely has its core to itself: requests per second of
    server CPU time is what one dedicated core would serve, and it is what the target is checked on.
    """
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
    time.sleep(1.5)  # processes start, connect and warm up (the clients count after 0.5 s of their own)
    # Requests counted by the server and its CPU time, sampled together: same window for both.
    served0, cpu0, wall0 = served(port), cpu_seconds(server_pid), time.monotonic()
    time.sleep(max(0.5, seconds - 1.5))
    served1, cpu1, wall1 = served(port), cpu_seconds(server_pid), time.monotonic()
    counts: dict[str, int] = {}
    for _ in procs:
        _rate, part = results.get(timeout=seconds + 60)
        for status, n in part.items():
            counts[status] = counts.get(status, 0) + n
    for proc in procs:
        proc.join()
    done = served1 - served0
    return done / (wall1 - wall0), done / (cpu1 - cpu0) if cpu1 > cpu0 else 0.0, counts


# -- servers ---------------------------------------------------------------------------------------
def start_command(*flags: str) -> tuple[subprocess.Popen, int, float, float]:
    """Start `manage.py run_simulator --port 0 --cpu 0`: the process, its port, start-up wall and CPU time."""
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
    port = int(line.split(" on ", 1)[1].split()[0].rsplit(":", 1)[1])
    return process, port, elapsed, cpu_seconds(process.pid)


_AIOHTTP_BASELINE = """
import asyncio, json, os, sys
from aiohttp import web
from aiohttp.web_server import Server
os.sched_setaffinity(0, {0})
count = 0
async def handler(request):
    global count
    if request.path == "/_sim/stats":
        return web.json_response({"total_requests": count})
    json.loads(await request.read())
    count += 1
    return web.Response(body=b'{"status":"success"}', content_type="application/json")
async def main():
    server = await asyncio.get_running_loop().create_server(Server(handler, access_log=None), "127.0.0.1", 0)
    print("listening on http://127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


_HTTPTOOLS_FLOOR = """
import asyncio, json, os
import httptools
os.sched_setaffinity(0, {0})
count = 0
class P(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.p, self.body, self.url = t, httptools.HttpRequestParser(self), [], b""
    def data_received(self, data):
        self.p.feed_data(data)
    def on_url(self, url):
        self.url = url
    def on_body(self, b):
        self.body.append(b)
    def on_message_complete(self):
        global count
        if self.url.startswith(b"/_sim/stats"):
            out = json.dumps({"total_requests": count}).encode()
        else:
            json.loads(b"".join(self.body)); count += 1; out = b'{"status":"success"}'
        self.body, self.url = [], b""
        head = b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n"
        self.t.write(head % len(out) + out)
async def main():
    server = await asyncio.get_running_loop().create_server(P, "127.0.0.1", 0)
    print("listening on http://127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_baseline(script: str = _AIOHTTP_BASELINE) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    return process, int(line.rsplit(":", 1)[1])


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def served(port: int) -> int:
    """Requests the server at `port` has answered so far (simulator stats or the baseline's counter)."""
    return server_stats(port)["total_requests"]


def server_stats(port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/stats", timeout=10) as response:  # noqa: S310
        return json.load(response)


# -- the benchmark ---------------------------------------------------------------------------------
def run(options) -> list[Row]:
    seconds = 3.0 if options.quick else 6.0
    rows: list[Row] = []

    from providers.simulator import start_simulator

    started = time.monotonic()
    in_thread = start_simulator()
    thread_start = time.monotonic() - started
    in_thread.stop()

    baseline_process, baseline_port = start_baseline()
    try:
        _, baseline, _ = measure(
            baseline_port,
            "/generic/messages",
            TEXT,
            seconds=seconds,
            server_pid=baseline_process.pid,
            tag="b",
        )
    finally:
        stop(baseline_process)
    floor_process, floor_port = start_baseline(_HTTPTOOLS_FLOOR)
    try:
        _, floor, _ = measure(
            floor_port, "/generic/messages", TEXT, seconds=seconds, server_pid=floor_process.pid, tag="f"
        )
    finally:
        stop(floor_process)

    process, port, startup, startup_cpu = start_command("--callbacks", "false")
    try:
        cases = [
            ("Generic RCS send (TEXT)", "/generic/messages", TEXT, ""),
            ("Generic RCS send (5-card CAROUSEL)", "/generic/messages", CAROUSEL, ""),
            ("JioCX send (text)", "/jiocx/api/v1/sendMessage", JIOCX, "x-apikey: sim-api-key\r\n"),
        ]
        for index, (metric, path, body, headers) in enumerate(cases):
            wall, per_core, counts = measure(
                port, path, body, seconds=seconds, server_pid=process.pid, headers=headers, tag=f"s{index}"
            )
            answers = "" if set(counts) == {"200"} else f" (answers {counts})"
            first = index == 0
            rows.append(
                Row(
                    "simulator",
                    f"{metric}, zero latency, per core (req per CPU-s){answers}",
                    per_core,
                    "req/s",
                    baseline=baseline if first else None,
                    target=f">= {TARGET_RPS:,} req/s" if first else "",
                    ok=(per_core >= TARGET_RPS and not answers) if first else not answers,
                )
            )
            rows.append(Row("simulator", f"{metric}, wall clock on the shared machine", wall, "req/s"))
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

    process, port, _, _ = start_command(
        "--callback-batch", "50", "--callback-delay-ms", "1", "--callback-retries", "0"
    )
    try:
        body = {**TEXT, "callbackURL": f"http://127.0.0.1:{port}/_sim/stats"}  # callbacks to itself: 405s
        _, per_core, _ = measure(
            port, "/generic/messages", body, seconds=seconds, server_pid=process.pid, tag="c"
        )
        rows.append(
            Row("simulator", "with callbacks on (3 per message, batched 50), per core", per_core, "req/s")
        )
    finally:
        stop(process)

    for metric, value in (
        ("reference: aiohttp low-level server, JSON parse + fixed 200, per core", baseline),
        ("reference: bare httptools protocol, JSON parse + fixed 200, per core", floor),
    ):
        rows.append(Row("simulator", metric, value, "req/s"))
    rows.append(
        Row(
            "simulator",
            "start-up: manage.py run_simulator, CPU time",
            startup_cpu,
            "s",
            target="< 2 s",
            ok=startup_cpu < 2,
        )
    )
    rows.append(Row("simulator", "start-up: manage.py run_simulator, wall clock", startup, "s"))
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
