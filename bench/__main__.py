"""Run the benchmarks and print one table. See docs/benchmarks.md."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from .table import render

# Benchmark modules, in the order they run. Each exposes run(options) -> list[Row].
BENCHMARKS = ("campaign_callbacks", "simulator", "callbacks", "stats", "send", "csv_import", "segments")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="*", default=None, help="Run only these benchmarks.")
    parser.add_argument("--quick", action="store_true", help="Smaller sizes, for a smoke run.")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rcsconnect.settings")
    rows = []
    for name in BENCHMARKS:
        if options.only and name not in options.only:
            continue
        started = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(f"bench.{name}").run(options))
        print(f"  {name} took {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(render(rows))
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
