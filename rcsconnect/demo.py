"""Demo records for the quick start. Each app adds its own step here as it grows."""

from __future__ import annotations

from typing import TextIO


def load_demo_records(*, simulator_url: str, stdout: TextIO) -> None:
    """Create the demo providers, templates, audience and campaign (idempotent)."""
