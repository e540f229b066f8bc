"""Demo records for the quick start. Each app contributes one step: `<app>/demo.py` with `load()`."""

from __future__ import annotations

from importlib.util import find_spec
from typing import TextIO

from django.utils.module_loading import import_string

# In dependency order: providers first (the simulator-backed demo providers), campaigns last.
DEMO_STEPS = ("providers.demo", "templates_app.demo", "campaigns.demo")


def load_demo_records(*, simulator_url: str, stdout: TextIO) -> None:
    """Create the demo providers, templates, audience and campaign (each step is idempotent)."""
    for module in DEMO_STEPS:
        if find_spec(module) is not None:
            import_string(f"{module}.load")(simulator_url=simulator_url, stdout=stdout)
