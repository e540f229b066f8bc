"""CSV import of 1,000,000 rows and fan-out of 1,000,000 messages, on PostgreSQL.

    python -m bench --only csv_import [--quick]

A CSV of N rows (phone, first_name, city; 1 % invalid numbers, 1 % repeated numbers) is written to a
temporary file, then a child process on a fresh database (`RCS_BENCH_CSV_DATABASE_URL`, default
postgres://postgres@127.0.0.1:5432/rcs_bench_csv) runs the import exactly as the background task does
(`campaigns.imports.run_import`) and reports wall time and its peak memory (ru_maxrss, the whole
Django process). Then it launches a campaign on the imported audience and times the fan-out
(`campaigns.services.campaign_fan_out`). Baseline: the same file read with csv.reader only.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import time

from .harness import child_env, fresh_database, run_child
from .table import Row

NAME = "csv_import"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rcs_bench_csv"


def _write_csv(path: str, n: int) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["phone", "first_name", "city"])
        for i in range(n):
            if i % 100 == 7:
                phone = f"12345-{i}"  # invalid
            elif i % 100 == 8:
                phone = f"+9198{i - 3:08d}"  # repeats an earlier valid row
            else:
                phone = f"+9198{i:08d}"
            writer.writerow([phone, f"Name{i % 1000}", "Pune"])


def run(options) -> list[Row]:
    n = 100_000 if options.quick else 1_000_000
    env = child_env(DATABASE_URL=os.environ.get("RCS_BENCH_CSV_DATABASE_URL", DEFAULT_DB))
    env.pop("REDIS_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "contacts.csv")
        _write_csv(path, n)
        started = time.monotonic()
        with open(path, newline="") as fh:
            rows = sum(1 for _ in csv.reader(fh))
        baseline = time.monotonic() - started
        stdout = run_child("bench.csv_import", env, path)
    out = json.loads(stdout.strip().splitlines()[-1])
    label = f"{n:,}"
    return [
        Row(
            NAME,
            f"import {label} rows (wall)",
            out["import_s"],
            "s",
            baseline=baseline,
            target="< 60 s (baseline: csv.reader only)",
            ok=out["import_s"] < 60 if n >= 1_000_000 else None,
        ),
        Row(NAME, "import rows/s", out["rows"] / out["import_s"], "rows/s"),
        Row(
            NAME,
            "import peak memory (whole process)",
            out["peak_mb"],
            "MB",
            target="< 300 MB",
            ok=out["peak_mb"] < 300,
        ),
        Row(
            NAME,
            "rows imported / invalid / duplicate",
            out["imported"],
            "",
            target=f"{out['invalid']} invalid, {out['duplicate']} duplicates reported",
            ok=rows - 1 == out["rows"],
        ),
        Row(
            NAME,
            f"fan-out of {out['fanned_out']:,} messages",
            out["fanout_s"],
            "s",
            target="< 60 s",
            ok=out["fanout_s"] < 60 if n >= 1_000_000 else None,
        ),
    ]


def _child(path: str) -> None:
    import resource

    fresh_database()
    from django.core.files import File

    from campaigns import services

    services.provider_kick = lambda **kw: 0  # measure the fan-out only
    from campaigns.imports import run_import
    from campaigns.models import Audience, AudienceImport, Campaign
    from providers.models import Provider
    from templates_app.models import MessageTemplate

    audience = Audience.objects.create(name="Bench")
    with open(path, "rb") as fh:
        job = AudienceImport(audience=audience, original_name="bench.csv", size_bytes=os.path.getsize(path))
        job.file.save("bench.csv", File(fh), save=True)
    started = time.monotonic()
    job = run_import(job)
    import_s = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    provider = Provider.objects.create(kind="generic_rcs", nickname="Bench", sender_id="bench", config={})
    template = MessageTemplate.objects.create(
        provider=provider, name="b", content={"type": "TEXT", "text": "Hi", "suggestions": []}
    )
    campaign = Campaign.objects.create(
        name="Bench",
        provider=provider,
        template=template,
        audience=audience,
        status="sending",
        msg_prefix="b",
    )
    started = time.monotonic()
    fanned_out = services.campaign_fan_out(campaign=campaign)
    fanout_s = time.monotonic() - started
    job.file.delete(save=False)
    print(
        json.dumps(
            {
                "import_s": import_s,
                "peak_mb": peak_mb,
                "rows": job.rows_read,
                "imported": job.imported_count,
                "invalid": job.invalid_count,
                "duplicate": job.duplicate_count,
                "fanout_s": fanout_s,
                "fanned_out": fanned_out,
            }
        )
    )


if __name__ == "__main__":
    _child(sys.argv[1])
