"""What the benchmarks share: a free port, the environment and the run of a child process, a fresh
PostgreSQL database, and the campaign the sending benchmarks launch."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**values: str) -> dict[str, str]:
    """This process's environment for a child run as in production, plus `values`: DEBUG off (it keeps
    every SQL query in memory), no https redirect or secure cookies (loopback is plain http)."""
    env = dict(os.environ)
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_COOKIES="false",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    env.update(values)
    return env


def run_child(module: str, env: dict[str, str], *args: str) -> str:
    """Run `python -m <module> <args>` to its end; its standard output (RuntimeError when it failed)."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"{module} {' '.join(args[:1])} failed:\n{result.stderr[-3000:]}")
    return result.stdout


# -- in a child process (Django with the benchmark's DATABASE_URL) --------------------------------------


def timed_ms(fn, repeat: int) -> dict[str, float]:
    """Median and p95 of `repeat` calls of fn, in milliseconds, after one warm-up call."""
    fn()  # warm up (connection, caches, template loading)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median": round(statistics.median(samples), 1),
        "p95": round(samples[int(0.95 * (len(samples) - 1))], 1),
    }


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rcsconnect.settings")
    import django

    django.setup()


def create_database(url: str) -> None:
    """Drop and create the PostgreSQL database of `url`."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def fresh_database() -> None:
    """A new, migrated DATABASE_URL (with the cache table) and an empty REDIS_URL database, if one is set."""
    create_database(os.environ["DATABASE_URL"])
    django_setup()
    from django.core.management import call_command

    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


def bench_campaign(*, n: int, concurrency: int, rate: int, url: str):
    """A Generic RCS provider sending to `url`, a text template, an audience of `n` and a draft campaign."""
    from django.db import connection

    from campaigns.models import Audience, Campaign
    from providers.models import Provider
    from templates_app.models import MessageTemplate

    provider = Provider.objects.create(
        kind="generic_rcs",
        nickname=f"Bench {time.time_ns()}",
        sender_id=f"tmp{time.time_ns()}",
        concurrency=concurrency,
        max_rate=rate,
        config={"endpoint": url, "method": "POST", "auth_type": "none"},
    )
    Provider.objects.filter(pk=provider.pk).update(sender_id=f"bench{provider.pk}")
    template = MessageTemplate.objects.create(
        provider=provider,
        name=f"b{provider.pk}",
        status="approved",
        content={"type": "TEXT", "text": "Hello {{1}}, your spring offer is ready.", "suggestions": []},
    )
    audience = Audience.objects.create(name=f"Bench {provider.pk}")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_contact (audience_id, phone, attributes, subscribed, created_at) "
            "SELECT %s, '+9197' || lpad(g::text, 8, '0'), '{\"name\": \"Ann\"}'::jsonb, true, now() "
            "FROM generate_series(1, %s) g",
            [audience.pk, n],
        )
    return Campaign.objects.create(
        name=f"Bench {provider.pk}",
        provider=provider,
        template=template,
        audience=audience,
        placeholder_mapping=[{"source": "attribute", "value": "name"}],
    )
