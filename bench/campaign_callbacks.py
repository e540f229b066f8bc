"""The product's core loop: a campaign sending while the vendor posts its callbacks (PostgreSQL + Redis).

    python -m bench --only campaign_callbacks [--quick]

A fresh database (`RCS_BENCH_CC_DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/rcs_bench_campaign_callbacks) is migrated; Redis
(`RCS_BENCH_CC_REDIS_URL`, default redis://127.0.0.1:6379/6) holds the broker, the cache and the
limiter. Running as an operator runs them: the simulator as the vendor (`manage.py run_simulator`:
20 ms per send, every number RCS-capable, every message read), gunicorn with 5 sync workers serving
the callback URL, and `manage.py qcluster` with 2 workers running the dispatch tasks and the events
applier. Each campaign is launched with `campaign_launch` (concurrency 50); the simulator posts `sent`,
`delivered` and `read` for every message (50 ms apart) to gunicorn while the campaign sends.

Figures, each against the same campaign without callbacks (simulator callbacks off) in the same run:

- msg/s at max rate 200/s: the messages the vendor accepted over the time from its first to its last
  send request (the simulator's clock);
- events still unapplied 5 s after the last send: 3 per accepted message, less the `ProviderEvent` rows
  applied by then (an event not yet posted, stored or applied all count);
- deadlocks: lines with "deadlock detected" in the logs of gunicorn and the task cluster during the
  campaign (and PostgreSQL's own count for the database, `pg_stat_database.deadlocks`);
- events lost: expected events never applied, 60 s after the last send at the latest;
- the sustained rate: max rates tried upwards from 200/s (downwards if 200/s does not keep up) until
  the loop stops keeping up (an event unapplied 5 s after the last send, or one lost); the highest max
  rate that kept up and the msg/s it gave, against the same campaign's msg/s without callbacks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .harness import ROOT, bench_campaign, child_env, django_setup, free_port, fresh_database, run_child
from .table import Row

NAME = "campaign_callbacks"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rcs_bench_campaign_callbacks"
DEFAULT_REDIS = "redis://127.0.0.1:6379/6"
LATENCY_MS = 20
CONCURRENCY = 50
HEADLINE_RATE = 200
EVENTS_PER_MESSAGE = 3  # sent, delivered, read
KEEP_UP_SECONDS = 5.0  # every event applied this long after the last send
GUNICORN_WORKERS = 5
Q_WORKERS = 2
RECORD_START = re.compile(r"^(?=\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d)", re.MULTILINE)  # a log record's first line


def _env(web_port: int) -> dict[str, str]:
    env = child_env(
        DATABASE_URL=os.environ.get("RCS_BENCH_CC_DATABASE_URL", DEFAULT_DB),
        REDIS_URL=os.environ.get("RCS_BENCH_CC_REDIS_URL", DEFAULT_REDIS),
        RCS_PUBLIC_BASE_URL=f"http://127.0.0.1:{web_port}",
        OUTBOUND_ALLOW_HOSTS="127.0.0.1",
        Q_WORKERS=str(Q_WORKERS),  # RCS_DISPATCHERS as an operator gets it: Q_WORKERS - 1
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _child(env, *args: str) -> str:
    return run_child("bench.campaign_callbacks", env, *args)


def _http(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read() or b"{}")


def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Loop:
    """The simulator, gunicorn and the task cluster, each in a process group of its own, logging to files."""

    def __init__(self, env: dict[str, str], web_port: int, logs: Path):
        self.env, self.logs = env, logs
        self.sim_port = free_port()
        self.sim = f"http://127.0.0.1:{self.sim_port}"
        self.web = f"http://127.0.0.1:{web_port}"
        self.procs: list[subprocess.Popen] = []
        self.names: list[str] = []
        self._start("simulator", [sys.executable, "manage.py", "run_simulator", "--port", str(self.sim_port)])
        self._start(
            "gunicorn",
            [
                sys.executable, "-m", "gunicorn", "rcsconnect.wsgi:application",
                "--workers", str(GUNICORN_WORKERS), "--bind", f"127.0.0.1:{web_port}",
                "--backlog", "2048", "--log-level", "warning",
            ],
        )  # fmt: skip
        self._start("qcluster", [sys.executable, "manage.py", "qcluster"])
        _wait_http(f"{self.sim}/_sim/stats")
        _wait_http(f"{self.web}/healthz")

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - open as long as the process
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True)  # noqa: S603
        self.procs.append(proc)
        self.names.append(name)

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system, reaped children included) of each process group so far."""
        tick = os.sysconf("SC_CLK_TCK")
        sessions = {proc.pid: name for proc, name in zip(self.procs, self.names, strict=True)}
        used = dict.fromkeys(self.names, 0.0)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended meanwhile
            name = sessions.get(int(fields[3]))  # session id
            if name:
                used[name] += sum(int(v) for v in fields[11:15]) / tick  # utime stime cutime cstime
        return used

    def log_sizes(self) -> dict[str, int]:
        return {p.name: p.stat().st_size for p in self.logs.glob("*.log")}

    def deadlocks_logged(self, since: dict[str, int]) -> int:
        """Log records (a timestamped line and its traceback) naming a deadlock, written since then."""
        count = 0
        for path in self.logs.glob("*.log"):
            with open(path, "rb") as handle:
                handle.seek(since.get(path.name, 0))
                text = handle.read().decode(errors="replace")
            records = RECORD_START.split(text)
            count += sum("deadlock detected" in record.lower() for record in records)
        return count

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _db():
    import psycopg

    return psycopg.connect(os.environ.get("RCS_BENCH_CC_DATABASE_URL", DEFAULT_DB), autocommit=True)


def _pg_deadlocks(conn) -> int:
    name = os.environ.get("RCS_BENCH_CC_DATABASE_URL", DEFAULT_DB).rsplit("/", 1)[1]
    row = conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


def _applied(conn, provider_id: int) -> int:
    query = "SELECT count(*) FROM providers_providerevent WHERE provider_id = %s AND applied"
    return conn.execute(query, (provider_id,)).fetchone()[0]


def _stored(conn, provider_id: int) -> int:
    query = "SELECT count(*) FROM providers_providerevent WHERE provider_id = %s"
    return conn.execute(query, (provider_id,)).fetchone()[0]


def campaign(loop: Loop, conn, *, n: int, rate: int, callbacks: bool, drain: float = 60) -> dict:
    """One campaign of n messages at this max rate, with or without the vendor's callbacks."""
    _http(f"{loop.sim}/_sim/reset", {})
    _http(
        f"{loop.sim}/_sim/config",
        {"latency_ms": LATENCY_MS, "callbacks": callbacks, "non_rcs_suffix": "", "read_share": 1.0},
    )
    logs_at, pg_at, cpu_at = loop.log_sizes(), _pg_deadlocks(conn), loop.cpu()
    out = _child(loop.env, "launch", str(n), str(rate), f"{loop.sim}/generic/messages")
    provider_id, campaign_id = (int(v) for v in out.split()[-2:])
    sender = f"bench{provider_id}"
    # Sending takes n / rate at best; a loop that stalls (a deadlocked dispatch waiting for its lease)
    # is given a few times that, then measured as it is.
    deadline = time.monotonic() + 60 + 4 * n / rate
    status = ""
    while time.monotonic() < deadline:
        status = conn.execute(
            "SELECT status FROM campaigns_campaign WHERE id = %s", (campaign_id,)
        ).fetchone()[0]
        if status == "completed":
            break
        time.sleep(0.2)
    if status != "completed":  # stalled: stop it, so that it does not send during the next campaign
        _child(loop.env, "cancel", str(campaign_id))
    stats = _http(f"{loop.sim}/_sim/stats?sender={sender}")
    accepted, first_at, last_at = stats["accepted"], stats["first_at"], stats["last_at"]
    result = {
        "n": n,
        "rate_limit": rate,
        "status": status,
        "accepted": accepted,
        "msg_per_s": (accepted - 1) / (last_at - first_at) if accepted > 1 and last_at > first_at else 0.0,
        "sending_s": (last_at - first_at) if accepted else 0.0,
    }
    if callbacks:
        expected = EVENTS_PER_MESSAGE * accepted
        time.sleep(max(0.0, last_at + KEEP_UP_SECONDS - time.time()))
        result["unapplied_after_5s"] = expected - _applied(conn, provider_id)
        # Where the unapplied ones wait at that moment: not posted yet by the vendor, posted but not
        # stored yet (gunicorn), or stored and waiting for the applier.
        result["at_5s"] = {
            "posted": _http(f"{loop.sim}/_sim/stats")["callbacks"]["posted"],
            "stored": _stored(conn, provider_id),
        }
        drain_until = last_at + drain
        while _applied(conn, provider_id) < expected and time.time() < drain_until:
            time.sleep(0.5)
        result["lost"] = expected - _applied(conn, provider_id)
        result["expected_events"] = expected
        result["sim_callbacks"] = _http(f"{loop.sim}/_sim/stats")["callbacks"]
        counters = conn.execute(
            "SELECT processed_count, total_count, sent_count, delivered_rcs_count, read_count "
            "FROM campaigns_campaign WHERE id = %s",
            (campaign_id,),
        ).fetchone()
        result["counters"] = dict(
            zip(("processed", "total", "sent", "delivered", "read"), counters, strict=True)
        )
        result["keeps_up"] = (
            result["unapplied_after_5s"] == 0 and result["lost"] == 0 and status == "completed"
        )
    # CPU per accepted message of each process group, from launch until every event was applied (or
    # the drain gave up): what the machine's cores were spent on.
    cpu_now = loop.cpu()
    result["cpu_ms_per_msg"] = {
        name: round(1000 * (cpu_now[name] - cpu_at[name]) / max(1, accepted), 3) for name in cpu_now
    }
    time.sleep(1.5)  # PostgreSQL publishes its statistics within a second or so
    result["deadlocks_logged"] = loop.deadlocks_logged(logs_at)
    result["deadlocks_pg"] = _pg_deadlocks(conn) - pg_at
    print(
        f"  {'with' if callbacks else 'without'} callbacks at {rate}/s: {result}", file=sys.stderr, flush=True
    )
    return result


def run(options) -> list[Row]:
    quick = getattr(options, "quick", False)
    seconds = 5 if quick else 25  # of sending at the max rate, per campaign
    web_port = free_port()
    env = _env(web_port)
    _child(env, "migrate")
    logs = Path(tempfile.mkdtemp(prefix="bench-campaign-callbacks-"))
    print(f"  logs in {logs}", file=sys.stderr, flush=True)
    loop = Loop(env, web_port, logs)
    rows: list[Row] = []
    try:
        with _db() as conn:
            # Warm-up, not measured: each process's first dispatch and first callbacks import and connect.
            campaign(loop, conn, n=HEADLINE_RATE, rate=HEADLINE_RATE, callbacks=True, drain=30)
            n = HEADLINE_RATE * seconds
            bare = campaign(loop, conn, n=n, rate=HEADLINE_RATE, callbacks=False)
            full = campaign(loop, conn, n=n, rate=HEADLINE_RATE, callbacks=True)
            rows += _headline_rows(n, bare, full)
            rows += _sustained_rows(loop, conn, full, quick=quick, seconds=seconds)
    finally:
        loop.stop()
    return rows


def _headline_rows(n: int, bare: dict, full: dict) -> list[Row]:
    setup = f"{n:,} msgs, {LATENCY_MS} ms, concurrency {CONCURRENCY}, max {HEADLINE_RATE}/s"
    deadlocks = full["deadlocks_logged"]
    return [
        Row(
            NAME,
            f"msg/s with 3 callbacks each ({setup})",
            full["msg_per_s"],
            "msg/s",
            baseline=bare["msg_per_s"],
            target=">= 90 % of without callbacks",
            ok=full["msg_per_s"] >= 0.9 * bare["msg_per_s"] and full["status"] == "completed",
        ),
        Row(
            NAME,
            f"events unapplied {KEEP_UP_SECONDS:.0f} s after the last send (of {full['expected_events']:,})",
            full["unapplied_after_5s"],
            "",
            target="0",
            ok=full["unapplied_after_5s"] == 0,
        ),
        Row(
            NAME,
            "events lost (never applied within 60 s)",
            full["lost"],
            "",
            target="0",
            ok=full["lost"] == 0,
        ),
        Row(
            NAME,
            f"deadlocks: log records naming one (PostgreSQL's own count: {full['deadlocks_pg']})",
            deadlocks,
            "",
            target="0",
            ok=deadlocks == 0 and full["deadlocks_pg"] == 0,
        ),
        Row(
            NAME,
            "counters at the end: processed / delivered / read of total "
            + " / ".join(str(full["counters"][k]) for k in ("processed", "delivered", "read", "total")),
            full["counters"]["processed"],
            "",
            target="all equal to total",
            ok=len({full["counters"][k] for k in ("processed", "delivered", "read", "total")}) == 1,
        ),
    ] + _cpu_rows(bare, full)


def _cpu_rows(bare: dict, full: dict) -> list[Row]:
    """Where the cores go: CPU per message by process group, with callbacks against without."""
    cores = os.cpu_count() or 1
    rows = []
    for name in ("gunicorn", "qcluster", "simulator"):
        rows.append(
            Row(
                NAME,
                f"CPU per message, {name} (with callbacks; baseline: without)",
                full["cpu_ms_per_msg"][name],
                "ms",
                baseline=bare["cpu_ms_per_msg"][name] or None,
                target="report",
            )
        )
    total = sum(full["cpu_ms_per_msg"].values())
    rows.append(
        Row(
            NAME,
            f"CPU per message, all three (PostgreSQL's not counted); at {HEADLINE_RATE}/s that is "
            f"{total * HEADLINE_RATE / 1000:.2f} of {cores} cores",
            total,
            "ms",
            baseline=sum(bare["cpu_ms_per_msg"].values()),
            target="report",
        )
    )
    return rows


def _sustained_rows(loop: Loop, conn, headline: dict, *, quick: bool, seconds: int) -> list[Row]:
    """The highest max rate at which every event is applied within 5 s of the last send, nothing lost."""
    up = [400] if quick else [300, 400, 600, 800, 1200]
    down = [100] if quick else [150, 100, 50]
    best = HEADLINE_RATE if headline["keeps_up"] else None
    best_result = headline if headline["keeps_up"] else None
    for rate in up if headline["keeps_up"] else down:
        result = campaign(loop, conn, n=rate * seconds, rate=rate, callbacks=True)
        if result["keeps_up"]:
            best, best_result = rate, result
            if not headline["keeps_up"]:
                break
        elif headline["keeps_up"]:
            break
    if best is None:
        return [
            Row(NAME, f"sustained: highest max rate that keeps up (tried down to {down[-1]}/s)", 0, "msg/s")
        ]
    bare = campaign(loop, conn, n=best * seconds, rate=best, callbacks=False)
    tried = up if headline["keeps_up"] else down
    return [
        Row(
            NAME,
            f"sustained: msg/s at the highest max rate that keeps up ({best}/s; tried "
            f"{', '.join(str(r) for r in [HEADLINE_RATE, *tried])})",
            best_result["msg_per_s"],
            "msg/s",
            baseline=bare["msg_per_s"],
            target="report",
        )
    ]


# -- child processes ----------------------------------------------------------------------------------


def _launch(n: int, rate: int, url: str) -> None:
    """A provider, a template, an audience of n and a campaign, launched as the command does."""
    django_setup()
    from campaigns.services import campaign_launch

    campaign = bench_campaign(n=n, concurrency=CONCURRENCY, rate=rate, url=url)
    campaign_launch(campaign_id=campaign.pk)  # fans out here, enqueues the dispatch tasks
    print(campaign.provider_id, campaign.pk)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "migrate":
        fresh_database()
    elif command == "launch":
        _launch(int(args[0]), int(args[1]), args[2])
    elif command == "cancel":
        django_setup()
        from campaigns.services import campaign_cancel

        campaign_cancel(campaign_id=int(args[0]))
