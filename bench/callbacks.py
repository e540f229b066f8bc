"""Callback ingestion: wrk on loopback against gunicorn on PostgreSQL, a bare Django view as the ceiling.

    python -m bench --only callbacks [--quick]

Steps: a fresh PostgreSQL database (`RCS_BENCH_DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/rcs_bench_callbacks) is migrated and seeded with one provider,
one campaign and N messages; gunicorn serves the project with `bench.callbacks_urls` as URLconf (the
project's URLs plus one bare view). wrk (a separate process) first posts to the bare view, then posts
one WIRE.md 3a status per request to the provider's callback URL: request i reports message i mod N,
"delivered" in the first round, "read" in the second, so every request is a distinct vendor event
that changes a message. Afterwards the stored events are counted: every acknowledged (2xx) callback
must have its event stored and applied (none lost).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from .harness import ROOT, child_env, free_port, fresh_database, run_child
from .table import Row

PYTHON = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rcs_bench_callbacks"
BARE_PATH = "/callbacks/bench-bare/"  # bench.callbacks_urls: the bare view
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"  # cache + task broker; "" for the database ones
NAME = "callbacks"
BATCH_EVENTS = 10_000  # one vendor body carrying this many statuses (the batch row)

LUA = r"""
local counter, threads = 0, 1
tid = 0
local n_messages = __N__
local statuses = {"delivered", "read", "sent"}
local path = "__PATH__"
local all_threads = {}

function setup(thread)
  thread:set("tid", #all_threads)
  table.insert(all_threads, thread)
end

function init(args)
  threads = __THREADS__
  counter = 0
end

function request()
  local i = __OFFSET__ + tid + threads * counter
  counter = counter + 1
  local status = statuses[(math.floor(i / n_messages) % 3) + 1]
  local body = '{"payloadVersion":"0.1","statuses":[{"msgId":"bench-' .. (i % n_messages) ..
    '","channel":"RCS","status":"' .. status .. '","timestamp":' .. (1767000000 + i) .. '}]}'
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, non2xx, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _env(database_url: str) -> dict[str, str]:
    env = child_env(
        DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="bench.callbacks_settings", Q_WORKERS="1"
    )
    redis_url = os.environ.get("RCS_BENCH_REDIS_URL", DEFAULT_REDIS)
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def _django(env: dict[str, str], *args: str) -> str:
    return run_child("bench.callbacks", env, *args)


def _wrk(
    url: str, path: str, *, threads: int, connections: int, seconds: int, n: int, offset: int = 0
) -> dict:
    script = LUA.replace("__N__", str(n)).replace("__PATH__", path).replace("__THREADS__", str(threads))
    script = script.replace("__OFFSET__", str(offset))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "5s",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    line = next(line for line in out.splitlines() if line.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def _counts(env: dict[str, str]) -> dict:
    return json.loads(_django(env, "count").strip().splitlines()[-1])


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by our process groups, this database's backends and the whole machine."""

    def __init__(self, database_url: str, groups: dict[str, int]) -> None:
        self.database_url, self.groups = database_url, groups

    def sample(self) -> dict[str, dict[int, float]]:
        import psycopg

        pids: dict[str, list[int]] = {name: [] for name in self.groups}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    pgid = os.getpgid(int(entry))
                except OSError:
                    continue
                for name, group in self.groups.items():
                    if pgid == group:
                        pids[name].append(int(entry))
        admin = self.database_url.rsplit("/", 1)[0] + "/postgres"
        name = self.database_url.rsplit("/", 1)[1]
        with psycopg.connect(admin, autocommit=True) as conn:
            query = "SELECT pid FROM pg_stat_activity WHERE datname = %s"
            pids["postgres"] = [row[0] for row in conn.execute(query, (name,))]
        with open("/proc/stat") as handle:
            ticks = [int(v) for v in handle.readline().split()[1:]]
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle, iowait
        sample = {group: {pid: _cpu(pid) for pid in group_pids} for group, group_pids in pids.items()}
        sample["machine"] = {0: busy}
        return sample

    @staticmethod
    def used(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds per group between two samples (processes started in between count fully)."""
        return {
            group: sum(max(0.0, cpu - before.get(group, {}).get(pid, 0.0)) for pid, cpu in pids.items())
            for group, pids in after.items()
        }


def _post_status(port: int, path: str) -> int:
    """The status of one POST (not followed: wrk counts a redirect as a success)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", path, body=b"{}", headers={"Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on {url}")


def run(options) -> list[Row]:
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    quick = getattr(options, "quick", False)
    seconds = 5 if quick else 15
    n = 20_000 if quick else 60_000
    workers = int(os.environ.get("RCS_BENCH_WORKERS", str((os.cpu_count() or 2) * 2 + 1)))
    connections = int(os.environ.get("RCS_BENCH_CONNECTIONS", "32"))
    database_url = os.environ.get("RCS_BENCH_DATABASE_URL", DEFAULT_DB)
    env = _env(database_url)

    print("  callbacks: creating and seeding the database ...", file=sys.stderr, flush=True)
    token = _django(env, "seed", str(n)).strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "rcsconnect.wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    qcluster = subprocess.Popen(
        [PYTHON, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(f"{base}/healthz")
        if (status := _post_status(port, BARE_PATH)) != 200:
            raise RuntimeError(f"the bare view answered {status}, not 200")
        meter = CpuMeter(database_url, {"web": gunicorn.pid, "applier": qcluster.pid})
        threads = 2
        _wrk(base, BARE_PATH, threads=threads, connections=connections, seconds=2, n=n)  # warm-up
        before = meter.sample()
        bare = _wrk(base, BARE_PATH, threads=threads, connections=connections, seconds=seconds, n=n)
        bare_cpu = meter.used(before, meter.sample())
        print(f"  bare view: {bare}", file=sys.stderr, flush=True)
        # Warm-up like the bare view's (each worker's first callback imports and connects what the
        # bare view never needs): "sent" statuses (requests 2n.. of the script), so the measured run's
        # "delivered" ones are still new events.
        path = f"/callbacks/{token}/"
        warm = _wrk(base, path, threads=threads, connections=connections, seconds=2, n=n, offset=2 * n)
        before = meter.sample()
        cb = _wrk(base, path, threads=threads, connections=connections, seconds=seconds, n=n)
        cb_cpu = meter.used(before, meter.sample())
        print(f"  callbacks: {cb}", file=sys.stderr, flush=True)
        load_end = time.monotonic()
        counts = _counts(env)
        print(f"  right after the load: {counts}", file=sys.stderr, flush=True)
        while counts["pending_events"] and time.monotonic() - load_end < 300:
            time.sleep(1)
            counts = _counts(env)
        drain = time.monotonic() - load_end
        print(f"  after {drain:.0f} s: {counts}", file=sys.stderr, flush=True)
    finally:
        for process in (gunicorn, qcluster):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (gunicorn, qcluster):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    batch = json.loads(_django(env, "batch", str(BATCH_EVENTS)).strip().splitlines()[-1])
    acknowledged = cb["requests"] - cb["non2xx"] + warm["requests"] - warm["non2xx"]
    applied = counts["applied_events"]
    lost = max(0, acknowledged - applied)
    setup = f"gunicorn {workers} sync workers, wrk {threads} threads x {connections} connections, {seconds} s"
    applied_rate = counts["applied_events"] / (cb["duration_us"] / 1e6 + drain)
    return [
        Row(
            NAME,
            f"callbacks/s (1 status each; {setup})",
            cb["rps"],
            "req/s",
            baseline=bare["rps"],
            target="≥ 3,000/s",
            ok=cb["rps"] >= 3000,
        ),
        Row(
            NAME,
            "p99 latency",
            cb["p99_us"] / 1000,
            "ms",
            baseline=bare["p99_us"] / 1000,
            target="< 50 ms",
            ok=cb["p99_us"] < 50_000,
        ),
        Row(NAME, "p50 latency", cb["p50_us"] / 1000, "ms", baseline=bare["p50_us"] / 1000),
        Row(
            NAME,
            "non-2xx / socket errors",
            cb["non2xx"] + cb["read"] + cb["write"] + cb["timeout"],
            "",
            target="0",
            ok=cb["non2xx"] == 0,
        ),
        Row(
            NAME,
            f"events lost ({acknowledged} acknowledged with the warm-up, {applied} stored+applied)",
            lost,
            "",
            target="0",
            ok=lost == 0 and counts["pending_events"] == 0,
        ),
        Row(NAME, "applier: all applied this long after the load ended", drain, "s"),
        *_cpu_rows(cb_cpu, cb["requests"], bare_cpu, bare["requests"], cb["duration_us"] / 1e6),
        Row(NAME, "applier: events applied per second (load + drain)", applied_rate, "events/s"),
        batch_row(batch),
    ]


def batch_row(batch: dict) -> Row:
    return Row(
        NAME,
        f"{BATCH_EVENTS:,} events in one body stored ({batch['bytes'] / 1e6:.1f} MB)",
        batch["seconds"],
        "s",
        target="< 2 s",
        ok=batch["seconds"] < 2 and batch["stored"] == BATCH_EVENTS,
    )


def run_batch_only(options=None) -> list[Row]:
    """The one-body row alone, on an already migrated `RCS_BENCH_DATABASE_URL` (no wrk, no gunicorn)."""
    env = _env(os.environ.get("RCS_BENCH_DATABASE_URL", DEFAULT_DB))
    return [batch_row(json.loads(_django(env, "batch", str(BATCH_EVENTS)).strip().splitlines()[-1]))]


def _cpu_rows(cb: dict, cb_requests: int, bare: dict, bare_requests: int, seconds: float) -> list[Row]:
    """Where the CPU of one request goes, and how much of the machine other processes took."""
    per_cb = {k: v * 1000 / max(1, cb_requests) for k, v in cb.items()}
    per_bare = {k: v * 1000 / max(1, bare_requests) for k, v in bare.items()}
    ours = cb["web"] + cb["postgres"] + cb["applier"]
    return [
        Row(NAME, "CPU per request: gunicorn workers", per_cb["web"], "ms", baseline=per_bare["web"]),
        Row(NAME, "CPU per request: PostgreSQL backends", per_cb["postgres"], "ms"),
        Row(NAME, "CPU per request: applier (task cluster)", per_cb["applier"], "ms"),
        Row(
            NAME,
            "cores busy with anything else (wrk, Redis, others)",
            (cb["machine"] - ours) / seconds,
            "",
        ),
    ]


# -- Django side (run in a subprocess with the benchmark's DATABASE_URL) ----------------------------
def _seed(n: int) -> None:
    from django.conf import settings as dj_settings

    fresh_database()
    from campaigns.models import Audience, Campaign, Message
    from providers.models import Provider
    from templates_app.models import MessageTemplate

    assert dj_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    provider = Provider.objects.create(
        kind="generic_rcs",
        nickname="Bench",
        sender_id="bench",
        config={"endpoint": "https://vendor.example/messages", "method": "POST", "auth_type": "none"},
    )
    template = MessageTemplate.objects.create(
        provider=provider, name="bench", content={"type": "TEXT", "text": "Hi", "suggestions": []}
    )
    campaign = Campaign.objects.create(
        name="Bench", provider=provider, template=template, audience=Audience.objects.create(name="Bench")
    )
    batch = []
    for i in range(n):
        batch.append(
            Message(
                campaign=campaign,
                provider=provider,
                to=f"+4915100{i:06d}",
                msg_id=f"bench-{i}",
                status="queued",
            )
        )
        if len(batch) == 5000:
            Message.objects.bulk_create(batch)
            batch = []
    Message.objects.bulk_create(batch)
    Campaign.objects.filter(pk=campaign.pk).update(total_count=n)
    print(provider.callback_token)


def _count() -> None:
    import django

    django.setup()
    from campaigns.models import Campaign
    from providers.models import CallbackLog, ProviderEvent

    campaign = Campaign.objects.get()
    print(
        json.dumps(
            {
                "callback_logs": CallbackLog.objects.count(),
                "events": ProviderEvent.objects.count(),
                "applied_events": ProviderEvent.objects.filter(applied=True).count(),
                "pending_events": ProviderEvent.objects.filter(applied=False).count(),
                "delivered_rcs_count": campaign.delivered_rcs_count,
                "read_count": campaign.read_count,
            }
        )
    )


def _batch(n: int) -> None:
    """Store one callback body of `n` statuses (new events, unknown msgIds) and time it."""
    import django

    django.setup()
    from providers.callbacks import callback_receive
    from providers.models import Provider, ProviderEvent

    provider = Provider.objects.filter(nickname="Bench batch").first() or Provider.objects.create(
        kind="generic_rcs",
        nickname="Bench batch",
        sender_id="bench",
        config={"endpoint": "https://vendor.example/messages", "method": "POST", "auth_type": "none"},
    )
    run = time.time_ns()
    statuses = [
        {"msgId": f"batch-{run}-{i}", "channel": "RCS", "status": "delivered", "timestamp": 1767000000 + i}
        for i in range(n)
    ]
    body = json.dumps({"payloadVersion": "0.1", "statuses": statuses}).encode()
    # Warm, as a serving worker is: the first callback of a process imports and connects.
    callback_receive(provider=provider, body=json.dumps({"statuses": statuses[:1]}).encode())
    started = time.perf_counter()
    result = callback_receive(provider=provider, body=body, content_type="application/json")
    seconds = time.perf_counter() - started
    stored = ProviderEvent.objects.filter(msg_id__startswith=f"batch-{run}-").count()
    print(
        json.dumps({"seconds": seconds, "bytes": len(body), "stored": stored, "status": result.http_status})
    )


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "batch":
        _batch(int(sys.argv[2]))
    if command == "seed":
        _seed(int(sys.argv[2]))
    elif command == "count":
        _count()
