"""Counting a segment of 1,000,000 contacts on PostgreSQL.

    python -m bench --only segments [--quick]

A fresh PostgreSQL database (`RCS_BENCH_SEGMENTS_DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/rcs_bench_segments) is migrated and seeded (INSERT ... SELECT
generate_series) with one audience of N contacts: numbers under four country codes, 85 % subscribed,
attributes city (six values), age (10-79, as text, 5 % "n/a") and joined (a date over two years), and
N/2 messages to half of the numbers with read times over the last 60 days. Two segments are counted
with `campaigns.segments.count` (the dashboard's live count and the API's), 7 times each after a warm-up,
median and p95 reported:
- attributes: city in (Delhi, Mumbai), age between 25 and 40, joined since a date, country IN,
  subscribed;
- engagement: read in the last 30 days, country IN.
The baseline is counting the whole audience (`Contact.objects.filter(audience=...).count()`), in the
same run. Target: under 1 s (issue 22). Runs in a child process with its own database.
"""

from __future__ import annotations

import json
import os
import sys

from .harness import child_env, create_database, django_setup, run_child, timed_ms
from .table import Row

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rcs_bench_segments"
NAME = "segments"
TARGET_MS = 1000.0
REPEAT = 7


def run(options) -> list[Row]:
    n = 100_000 if options.quick else 1_000_000
    env = child_env(DATABASE_URL=os.environ.get("RCS_BENCH_SEGMENTS_DATABASE_URL", DEFAULT_DB), REDIS_URL="")
    try:
        result = json.loads(run_child("bench.segments", env, str(n)).strip().splitlines()[-1])
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return [Row(NAME, "failed to run (see stderr)", 0.0, ok=False)]
    label = f"{n:,} contacts"
    rows = []
    for name, timing in result["segments"].items():
        rows.append(
            Row(
                NAME,
                f"count segment '{name}' p95 ({label}; {timing['count']:,} match)",
                timing["p95"],
                "ms",
                baseline=result["whole"]["p95"],
                target=f"< {TARGET_MS:.0f} ms",
                ok=timing["p95"] < TARGET_MS,
            )
        )
    rows.append(Row(NAME, f"count the whole audience p95 ({label})", result["whole"]["p95"], "ms"))
    return rows


# -- the child process ------------------------------------------------------------------------------

SEED_CONTACTS = """
INSERT INTO campaigns_contact (audience_id, phone, attributes, subscribed, created_at)
SELECT %(audience)s,
    (ARRAY['+9198', '+1202', '+4477', '+97150'])[1 + g %% 4] || lpad(g::text, 8, '0'),
    jsonb_build_object(
        'city', (ARRAY['Delhi', 'Mumbai', 'Pune', 'Chennai', 'Kolkata', 'Jaipur'])[1 + (g / 7) %% 6],
        'age', CASE WHEN g %% 20 = 0 THEN 'n/a' ELSE (10 + (g * 37) %% 70)::text END,
        'joined', to_char(date '2024-01-01' + (g * 13) %% 730, 'YYYY-MM-DD')),
    g %% 100 < 85, now()
FROM generate_series(1, %(n)s) AS g
"""
SEED_MESSAGES = """
INSERT INTO campaigns_message (
    campaign_id, provider_id, contact_id, "to", msg_id, sms_fallback, status, rcs_status, sms_status,
    delivered_via, error_code, error_message, vendor_id, idempotency_key, attempts, created_at, sent_at,
    delivered_at, read_at)
SELECT NULL, %(provider)s, c.id, c.phone, 'bench-' || c.id, false, 'read', 'read', '', 'RCS', '', '', '',
    '', 1, now(), t, t, t
FROM campaigns_contact c,
     LATERAL (SELECT now() - ((c.id * 7919) %% 5184000) * interval '1 s' AS t) AS times
WHERE c.audience_id = %(audience)s AND c.id %% 2 = 0
"""


def _child(n: int) -> dict:
    create_database(os.environ["DATABASE_URL"])
    django_setup()
    from django.core.management import call_command
    from django.db import connection

    from campaigns import segments
    from campaigns.models import Audience, Contact
    from providers.models import Provider

    call_command("migrate", verbosity=0)
    audience = Audience.objects.create(name="Bench 1M")
    provider = Provider.objects.create(kind="generic_rcs", nickname="Bench", sender_id="bench", config={})
    with connection.cursor() as cursor:
        cursor.execute(SEED_CONTACTS, {"audience": audience.pk, "n": n})
        cursor.execute(SEED_MESSAGES, {"audience": audience.pk, "provider": provider.pk})
        cursor.execute("VACUUM ANALYZE")
    rules = {
        "attributes": segments.clean_rules(
            [
                {"kind": "attribute", "name": "city", "op": "in", "value": ["Delhi", "Mumbai"]},
                {"kind": "attribute", "name": "age", "op": "between", "min": 25, "max": 40},
                {"kind": "attribute", "name": "joined", "op": "date_between", "min": "2024-06-01"},
                {"kind": "country", "value": ["IN"]},
                {"kind": "subscribed", "value": True},
            ]
        ),
        "engagement": segments.clean_rules(
            [
                {"kind": "engagement", "event": "read", "days": 30, "op": "did"},
                {"kind": "country", "value": ["IN"]},
            ]
        ),
    }
    whole = timed_ms(lambda: Contact.objects.filter(audience=audience).count(), REPEAT)
    result = {"segments": {}, "whole": whole}
    for name, segment_rules in rules.items():
        timing = timed_ms(lambda r=segment_rules: segments.count(audience.pk, r), REPEAT)
        result["segments"][name] = {**timing, "count": segments.count(audience.pk, segment_rules)}
    return result


if __name__ == "__main__":
    print(json.dumps(_child(int(sys.argv[1]))))
