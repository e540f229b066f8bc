"""Stats pages with 1,000,000 messages: hourly buckets versus counting the messages.

    python -m bench --only stats [--quick]

A fresh PostgreSQL database (`RCS_BENCH_STATS_DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/rcs_bench_stats) is migrated and seeded (INSERT ... SELECT
generate_series) with one campaign of N messages spread over 48 hours: 5 % failed (three error
codes), 5 % still queued, 50 % delivered via RCS, 10 % via SMS fallback, 30 % read (a third of them
clicked, some replied). `campaigns.stats.rebuild` derives the hourly buckets (timed), the campaign
counters are set from them, then each page is fetched in-process (Django test client, logged in) R
times and the median / p95 wall time reported. The baseline is the same funnel, errors and hourly
series computed by GROUP BY over the messages (the indexed scan the buckets replace), in the same run.
Runs in a child process so the benchmark database never mixes with another benchmark's settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .harness import create_database, timed_ms
from .table import Row

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rcs_bench_stats"
NAME = "stats"
TARGET_MS = 200.0


def run(options) -> list[Row]:
    n = 100_000 if options.quick else 1_000_000
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("RCS_BENCH_STATS_DATABASE_URL", DEFAULT_DB),
        "DJANGO_SETTINGS_MODULE": "rcsconnect.settings",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    child = subprocess.run(
        [sys.executable, "-m", "bench.stats", str(n)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if child.returncode != 0:
        print(child.stderr, file=sys.stderr)
        return [Row(NAME, "failed to run (see stderr)", 0.0, ok=False)]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    label = f"{n:,} messages"
    rows = [Row(NAME, f"rebuild buckets from {label}", result["rebuild_ms"], "ms")]
    for page, timing in result["pages"].items():
        rows.append(
            Row(
                NAME,
                f"{page} p95 ({label})",
                timing["p95"],
                "ms",
                baseline=result["scan"]["p95"] if page == "campaign stats page" else None,
                target=f"< {TARGET_MS:.0f} ms",
                ok=timing["p95"] < TARGET_MS,
            )
        )
    rows.append(Row(NAME, f"same figures by scanning messages p95 ({label})", result["scan"]["p95"], "ms"))
    return rows


# -- the child process ------------------------------------------------------------------------------


SEED_SQL = """
INSERT INTO campaigns_message (
    campaign_id, provider_id, "to", msg_id, sms_fallback, status, rcs_status, sms_status, delivered_via,
    error_code, error_message, vendor_id, idempotency_key, attempts, created_at, sent_at, delivered_at,
    read_at, clicked_at, replied_at, failed_at)
SELECT %(campaign)s, %(provider)s, '+9198' || lpad(g::text, 8, '0'), 'bench-' || g,
    (g %% 100) BETWEEN 60 AND 69,
    CASE WHEN g %% 100 < 5 THEN 'failed' WHEN g %% 100 < 10 THEN 'queued'
         WHEN g %% 100 < 70 THEN 'delivered' ELSE 'read' END,
    CASE WHEN g %% 100 < 5 THEN 'failed' WHEN g %% 100 < 10 THEN '' WHEN g %% 100 < 60 THEN 'delivered'
         WHEN g %% 100 < 70 THEN 'failed' ELSE 'read' END,
    CASE WHEN g %% 100 BETWEEN 60 AND 69 THEN 'delivered' ELSE '' END,
    CASE WHEN g %% 100 BETWEEN 10 AND 59 OR g %% 100 >= 70 THEN 'RCS'
         WHEN g %% 100 BETWEEN 60 AND 69 THEN 'SMS' ELSE '' END,
    CASE WHEN g %% 100 < 5 THEN (ARRAY['2002', '2004', '905'])[1 + g %% 3] ELSE '' END,
    '', '', '', 1, t, CASE WHEN g %% 100 >= 10 THEN t END,
    CASE WHEN g %% 100 >= 10 THEN t + interval '5 s' END,
    CASE WHEN g %% 100 >= 70 THEN t + interval '60 s' END,
    CASE WHEN g %% 100 BETWEEN 70 AND 79 THEN t + interval '120 s' END,
    CASE WHEN g %% 100 BETWEEN 80 AND 82 THEN t + interval '300 s' END,
    CASE WHEN g %% 100 < 5 THEN t END
FROM generate_series(1, %(n)s) AS g,
     LATERAL (SELECT %(start)s::timestamptz + (g %% 172800) * interval '1 s' AS t) AS times
"""


def _child(n: int) -> dict:
    url = os.environ["DATABASE_URL"]
    create_database(url)
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count, Q, Sum
    from django.db.models.functions import TruncHour
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils import timezone

    from campaigns import stats
    from campaigns.models import Audience, Campaign, Message, StatBucket
    from providers.models import Provider
    from templates_app.models import MessageTemplate

    call_command("migrate", verbosity=0)
    provider = Provider.objects.create(kind="generic_rcs", nickname="Bench", sender_id="bench", config={})
    template = MessageTemplate.objects.create(
        provider=provider, name="bench", content={"type": "TEXT", "text": "x"}
    )
    campaign = Campaign.objects.create(
        name="Bench 1M",
        provider=provider,
        template=template,
        audience=Audience.objects.create(name="Bench"),
        status=Campaign.Status.COMPLETED,
    )
    start = timezone.now() - timezone.timedelta(hours=48)
    with connection.cursor() as cursor:
        cursor.execute(SEED_SQL, {"campaign": campaign.pk, "provider": provider.pk, "n": n, "start": start})
        cursor.execute("ANALYZE campaigns_message")
    started = time.perf_counter()
    stats.rebuild(campaign_id=campaign.pk)
    rebuild_ms = (time.perf_counter() - started) * 1000
    sums = StatBucket.objects.filter(campaign=campaign).aggregate(
        **{
            name: Sum(name)
            for name in ("sent", "delivered_rcs", "delivered_sms", "read", "clicked", "replied", "failed")
        }
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        total_count=n, processed_count=n, **{f"{k}_count": v or 0 for k, v in sums.items()}
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    def scan() -> None:
        """What the page would cost without buckets: counts, errors and series from the messages."""
        messages = Message.objects.filter(campaign=campaign)
        messages.aggregate(
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            rcs=Count("id", filter=Q(rcs_status__in=("delivered", "read"))),
            sms=Count(
                "id",
                filter=Q(sms_status__in=("delivered", "read")) & ~Q(rcs_status__in=("delivered", "read")),
            ),
            read=Count("id", filter=Q(read_at__isnull=False)),
            clicked=Count("id", filter=Q(clicked_at__isnull=False)),
            replied=Count("id", filter=Q(replied_at__isnull=False)),
            failed=Count("id", filter=Q(status="failed")),
        )
        list(messages.filter(status="failed").values("error_code").annotate(n=Count("id")))
        for stamp in ("sent_at", "delivered_at", "failed_at", "clicked_at"):
            list(
                messages.filter(**{f"{stamp}__isnull": False})
                .annotate(h=TruncHour(stamp))
                .values("h")
                .annotate(n=Count("id"))
                .order_by()
            )

    user = User.objects.create_superuser("bench", "bench@example.com", "bench-pass-1234")
    client = Client()
    client.force_login(user)
    pages = {
        "campaign stats page": f"/stats/campaigns/{campaign.pk}/",
        "provider stats page (7 days)": f"/stats/providers/{provider.pk}/?window=7d",
        "stats overview page": "/stats/",
        "campaign stats API": f"/api/campaigns/{campaign.pk}/stats/",
    }
    repeat = 30
    timings = {}
    plain_static = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=plain_static, SECURE_SSL_REDIRECT=False, ALLOWED_HOSTS=["testserver"]):
        for label, path in pages.items():

            def fetch(path=path):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            timings[label] = timed_ms(fetch, repeat)
    return {"rebuild_ms": round(rebuild_ms, 1), "pages": timings, "scan": timed_ms(scan, 5)}


if __name__ == "__main__":
    print(json.dumps(_child(int(sys.argv[1]))))
