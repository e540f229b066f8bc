"""Sending engine throughput and limits on PostgreSQL + Redis, against the simulator as the vendor.

    python -m bench --only send [--quick]

A fresh database (`RCS_BENCH_SEND_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/rcs_bench_send)
is migrated; Redis (`RCS_BENCH_SEND_REDIS_URL`, default redis://127.0.0.1:6379/4) holds the limiter.
The simulator runs as its own process (`manage.py run_simulator`, callbacks off). Each scenario
fans out a campaign, then WORKERS dispatcher processes run the engine's dispatch loop
(`campaigns.services.dispatch_run`: claim -> HTTP -> results written) until the campaign completes.

Every child process (dispatchers and bare-loop senders alike) starts, imports and connects first and
then waits; the clock starts when all are told "go" and stops at the latest time a child reports its
work done (the last bare request answered; a dispatcher back from a campaign that is completed), so
process start-up and exit are measured on neither side. Each child also reports the CPU time it used
after "go".

(a) zero latency: msg/s, against a bare `requests.Session` loop with the same number of processes
    posting the same request body to the same simulator (baseline, same run); and the CPU time per
    message of the sending processes on both sides (less disturbed by other load on a shared machine).
(b) latency 100 ms, concurrency 100: achieved rate vs concurrency / latency = 1,000 msg/s, and the
    simulator's maximum in flight; against a bare aiohttp loop (the engine's HTTP client, nothing
    else: no claim, no result written) with the same processes, each keeping its share of the 100
    requests in flight (baseline, same run: what HTTP alone reaches on this machine).
(c) max rate 300/s, two processes: the busiest 1-second window at the vendor and the mean rate.
(d) send rules (campaigns.sendrules), zero latency, two processes: the same campaign with a
    frequency cap on (every claim's check and record under the per-number locks; the cap high
    enough that nothing is skipped) against it with send rules off (the path without any rule),
    and the marketing campaign without a cap (the opt-out check only) against the same baseline;
    two interleaved rounds, the best rate of each kind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

from .harness import ROOT, bench_campaign, child_env, django_setup, free_port, fresh_database, run_child
from .table import Row

NAME = "send"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rcs_bench_send"
DEFAULT_REDIS = "redis://127.0.0.1:6379/4"
WORKERS = 2


def _env() -> dict[str, str]:
    return child_env(
        DATABASE_URL=os.environ.get("RCS_BENCH_SEND_DATABASE_URL", DEFAULT_DB),
        REDIS_URL=os.environ.get("RCS_BENCH_SEND_REDIS_URL", DEFAULT_REDIS),
        OUTBOUND_ALLOW_HOSTS="127.0.0.1",
        RCS_MAX_IN_FLIGHT=os.environ.get("RCS_MAX_IN_FLIGHT", "100"),
        RCS_DISPATCHERS=str(WORKERS),  # the dispatch slots the benchmark's processes hold
    )


def _child(env, *args: str) -> str:
    return run_child("bench.send", env, *args)


def _sim_get(base: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base}{path}", timeout=10) as response:
        return json.loads(response.read())


def _sim_post(base: str, path: str, body: dict) -> None:
    request = urllib.request.Request(
        f"{base}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=10).read()


def _scenario(
    env,
    sim: str,
    *,
    n: int,
    concurrency: int,
    rate: int,
    latency_ms: int,
    workers: int,
    rules: str = "category",
) -> dict:
    _sim_post(sim, "/_sim/reset", {})
    _sim_post(sim, "/_sim/config", {"latency_ms": latency_ms, "callbacks": False})
    url = f"{sim}/generic/messages"
    provider_id = int(_child(env, "prepare", str(n), str(concurrency), str(rate), url, rules))
    procs = [_ready(env, "dispatch", str(provider_id), str(slot)) for slot in range(workers)]
    elapsed, cpu = _go(procs)
    counts = json.loads(_child(env, "count", str(provider_id)))
    stats = _sim_get(sim, f"/_sim/stats?sender=bench{provider_id}")
    return {
        "elapsed": elapsed,
        "rate": counts["sent"] / elapsed,
        "cpu_per_message": cpu / max(1, counts["sent"]),
        "counts": counts,
        "stats": stats,
    }


def _ready(env, *args: str) -> subprocess.Popen:
    """A child that has imported and connected everything, waiting for "go" on stdin.
    RCS_BENCH_PYSPY=<prefix>: each dispatcher runs under `py-spy record --gil` (samples of the thread
    holding the GIL, as collapsed stacks to <prefix>-<slot>.txt), to see where its CPU goes."""
    command = [sys.executable, "-m", "bench.send", *args]
    if (prefix := os.environ.get("RCS_BENCH_PYSPY")) and args[0] == "dispatch":
        spy = [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--gil", "--format", "raw"]
        command = [*spy, "--rate", "200", "-o", f"{prefix}-{args[2]}.txt", "--", *command]
    proc = subprocess.Popen(  # noqa: S603
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    while line.startswith("py-spy>") or line == "\n":  # its own notices come first
        line = proc.stdout.readline()
    if line.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"bench.send {args[0]} did not start")
    return proc


def _go(procs: list[subprocess.Popen]) -> tuple[float, float]:
    """Start every child at once; (seconds until the last child's work was done, CPU seconds the
    children used after "go").

    Process start-up and exit are not measured: each child reports the (system-wide monotonic)
    time its work was done. CPU time is the children's own (user + system, all threads),
    a figure the other load on a shared machine disturbs much less than wall-clock rates.
    """
    started = time.monotonic()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    cpu, done = 0.0, started
    for proc in procs:
        out, _ = proc.communicate()
        last = [line for line in out.splitlines() if line.strip() and not line.startswith("py-spy>")][-1]
        child_cpu, child_done = last.split()[-2:]
        cpu += float(child_cpu)
        done = max(done, float(child_done))
    return done - started, cpu


def _wait_for_go() -> float:
    print("ready", flush=True)
    sys.stdin.readline()
    return _cpu()


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _bare_loop(env, sim: str, n: int, workers: int) -> float:
    procs = [_ready(env, "bare", sim, str(n // workers)) for _ in range(workers)]
    elapsed, cpu = _go(procs)
    return n / elapsed, cpu / n


def _bare_async_loop(env, sim: str, n: int, workers: int, *, concurrency: int) -> float:
    share = concurrency // workers
    procs = [_ready(env, "bare_async", sim, str(n // workers), str(share)) for _ in range(workers)]
    elapsed, cpu = _go(procs)
    return n / elapsed, cpu / n


def run(options) -> list[Row]:
    env = _env()
    _child(env, "migrate")
    port = free_port()
    sim_proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "run_simulator", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sim = f"http://127.0.0.1:{port}"
    rows: list[Row] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _sim_get(sim, "/_sim/stats")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        n = 6000 if options.quick else 20000
        scenarios = os.environ.get("RCS_BENCH_SEND_SCENARIOS", "abcd")
        if "a" in scenarios:
            _sim_post(sim, "/_sim/reset", {})
            _sim_post(sim, "/_sim/config", {"latency_ms": 0, "callbacks": False})
            bare, bare_cpu = _bare_loop(env, sim, n, WORKERS)
            a = _scenario(env, sim, n=n, concurrency=100, rate=4600, latency_ms=0, workers=WORKERS)
            rows.append(
                Row(
                    NAME,
                    f"(a) end to end, zero latency, {WORKERS} processes",
                    a["rate"],
                    "msg/s",
                    baseline=bare,
                    target=">= 75 % of bare loop; aim 2,000 msg/s",
                    ok=a["rate"] >= 0.75 * bare,
                )
            )
            rows.append(
                Row(
                    NAME,
                    "(a) CPU per message, all sending processes (user+sys)",
                    a["cpu_per_message"] * 1000,
                    "ms",
                    baseline=bare_cpu * 1000,
                    target="(explains (a): ratio = engine cost / bare loop cost)",
                )
            )
        if "b" in scenarios:
            nb = 3000 if options.quick else 10000
            _sim_post(sim, "/_sim/config", {"latency_ms": 100, "callbacks": False})
            bare_b, bare_b_cpu = _bare_async_loop(env, sim, nb, WORKERS, concurrency=100)
            b = _scenario(env, sim, n=nb, concurrency=100, rate=4600, latency_ms=100, workers=WORKERS)
            print(
                f"  (b) CPU/msg {b['cpu_per_message'] * 1000:.3f} ms, bare {bare_b_cpu * 1000:.3f} ms;"
                f" rate {b['rate']:.1f}, bare {bare_b:.1f} msg/s",
                file=sys.stderr,
            )
            rows.append(
                Row(
                    NAME,
                    "(b) CPU per message, dispatcher processes (user+sys)",
                    b["cpu_per_message"] * 1000,
                    "ms",
                    baseline=bare_b_cpu * 1000,
                    target="<= 1.5 x the bare aiohttp loop's",
                    ok=b["cpu_per_message"] <= 1.5 * bare_b_cpu,
                )
            )
            rows.append(
                Row(
                    NAME,
                    "(b) latency 100 ms, concurrency 100: rate",
                    b["rate"],
                    "msg/s",
                    baseline=bare_b,
                    target=">= 90 % of the bare loop's (1,000 at most)",
                    ok=b["rate"] >= 0.9 * bare_b,
                )
            )
            max_in_flight = b["stats"]["max_in_flight"]
            rows.append(
                Row(
                    NAME,
                    "(b) simulator's max in flight",
                    max_in_flight,
                    "",
                    target="<= 100",
                    ok=max_in_flight <= 100,
                )
            )
        if "c" in scenarios:
            nc = 1500 if options.quick else 3000
            c = _scenario(env, sim, n=nc, concurrency=100, rate=300, latency_ms=0, workers=2)
            windows = [v for _, v in sorted(c["stats"]["per_second"].items(), key=lambda kv: float(kv[0]))]
            full = windows[1:-1] or windows
            mean = sum(full) / len(full)
            rows.append(
                Row(
                    NAME,
                    "(c) max rate 300/s, 2 processes: busiest 1-s window",
                    max(windows),
                    "req",
                    target="<= 306",
                    ok=max(windows) <= 306,
                )
            )
            rows.append(
                Row(NAME, "(c) mean per full 1-s window", mean, "req/s", target=">= 285", ok=mean >= 285)
            )
            sliding = c["stats"].get("max_per_sliding_second")
            if sliding is not None:
                rows.append(
                    Row(
                        NAME,
                        "(c) busiest sliding 1-s window",
                        sliding,
                        "req",
                        target="<= 306",
                        ok=sliding <= 306,
                    )
                )
        if "d" in scenarios:
            nd = 6000 if options.quick else 20000
            # Interleaved rounds, the best of each kind: the load of a shared machine drifts within minutes.
            d: dict[str, dict] = {}
            for _round in range(2):
                for rules in ("off", "cap", "category"):
                    got = _scenario(
                        env, sim, n=nd, concurrency=100, rate=4600, latency_ms=0, workers=WORKERS, rules=rules
                    )
                    if rules not in d or got["rate"] > d[rules]["rate"]:
                        d[rules] = got
            off = d["off"]["rate"]
            for rules, label in (
                ("cap", "frequency cap on"),
                ("category", "marketing, no cap (opt-out check)"),
            ):
                rows.append(
                    Row(
                        NAME,
                        f"(d) {label}, zero latency, {WORKERS} processes",
                        d[rules]["rate"],
                        "msg/s",
                        baseline=off,
                        target=">= 90 % of send rules off",
                        ok=d[rules]["rate"] >= 0.9 * off and d[rules]["counts"]["sent"] == nd,
                    )
                )
    finally:
        sim_proc.terminate()
        sim_proc.wait()
    return rows


# -- child processes -----------------------------------------------------------------------------------
# What the bare loops post: the request body the engine sends for the benchmark's template.
BARE_BODY = {
    "payloadVersion": 0.1,
    "to": "+919700000001",
    "callbackURL": "http://127.0.0.1:9/callbacks/x/",
    "rcsContent": {
        "senderId": "bare",
        "customParam": [],
        "content": {"type": "TEXT", "text": "Hello Ann, your spring offer is ready.", "suggestions": []},
    },
}


def _prepare(n: int, concurrency: int, rate: int, url: str, rules: str = "category") -> None:
    """`rules`: "category" (the marketing template's rules: opt-outs; no window, no cap), "off" (no
    send rule at all), "cap" (a frequency cap every message is checked against, none reached)."""
    django_setup()
    from campaigns import services
    from campaigns.models import Campaign

    campaign = bench_campaign(n=n, concurrency=concurrency, rate=rate, url=url)
    if rules == "off":
        Campaign.objects.filter(pk=campaign.pk).update(send_rules=Campaign.Rules.OFF)
    elif rules == "cap":
        Campaign.objects.filter(pk=campaign.pk).update(frequency_cap=1000, frequency_period_hours=24)
    services.provider_kick = lambda **kw: 0  # the benchmark starts its own dispatcher processes
    services.campaign_start(campaign_id=campaign.pk)
    print(campaign.provider_id)


def _dispatch(provider_id: int, slot: int) -> None:
    django_setup()
    from django.core.cache import cache
    from django.urls import reverse

    from campaigns.models import Campaign
    from campaigns.services import dispatch_run

    # Before the clock starts, what a long-running worker process has done once already: connect,
    # and load the URLconf (the callback URL is reversed from it).
    Campaign.objects.exists()
    reverse("callback", args=["warm-up"])
    cache.get("warm-up")
    cpu = _wait_for_go()
    while Campaign.objects.filter(provider_id=provider_id, status="sending").exists():
        stats = dispatch_run(provider_id=provider_id, slot=slot, budget=600)
        if not (stats and stats.claimed):
            time.sleep(0.02)  # another dispatcher finishes the campaign; a task would not be re-run at once
        if os.environ.get("RCS_BENCH_VERBOSE"):
            print(f"dispatcher {slot}: {stats}", file=sys.stderr)
    print(_cpu() - cpu, time.monotonic())


def _count(provider_id: int) -> None:
    django_setup()
    from django.db.models import Count

    from campaigns.models import Message

    counts = dict(Message.objects.filter(provider_id=provider_id).values_list("status").annotate(Count("id")))
    print(json.dumps({"sent": counts.get("sent", 0), "all": counts}))


def _bare(sim: str, n: int) -> None:
    import requests

    session = requests.Session()
    body = dict(BARE_BODY)
    prefix = f"bare-{os.getpid()}-"
    cpu = _wait_for_go()
    for i in range(n):
        body["msgId"] = f"{prefix}{i}"
        session.post(f"{sim}/generic/messages", json=body, timeout=10).raise_for_status()
    print(_cpu() - cpu, time.monotonic())


def _bare_async(sim: str, n: int, concurrency: int) -> None:
    import asyncio

    import aiohttp

    prefix = f"bare-async-{os.getpid()}-"

    async def main() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            pending = iter(range(n))

            async def sender() -> None:
                for i in pending:
                    body = {**BARE_BODY, "msgId": f"{prefix}{i}"}
                    async with session.post(f"{sim}/generic/messages", json=body) as answer:
                        answer.raise_for_status()
                        await answer.read()

            await asyncio.gather(*(sender() for _ in range(concurrency)))

    cpu = _wait_for_go()
    asyncio.run(main())
    print(_cpu() - cpu, time.monotonic())


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "migrate":
        fresh_database()
    elif command == "prepare":
        _prepare(int(args[0]), int(args[1]), int(args[2]), args[3], *args[4:])
    elif command == "dispatch":
        _dispatch(int(args[0]), int(args[1]))
    elif command == "count":
        _count(int(args[0]))
    elif command == "bare":
        _bare(args[0], int(args[1]))
    elif command == "bare_async":
        _bare_async(args[0], int(args[1]), int(args[2]))
