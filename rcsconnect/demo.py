"""Demo records for the quick start. Each app contributes one step: `<app>/demo.py` with `load()`.

A step may also set `SIMULATOR_KNOBS` (a dict): knobs the quick start gives the demo simulator.
"""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Any, TextIO

from django.utils.module_loading import import_string

# In dependency order: providers first (the simulator-backed demo providers), campaigns last.
DEMO_STEPS = ("providers.demo", "templates_app.demo", "campaigns.demo")


def load_demo_records(*, simulator_url: str, stdout: TextIO) -> None:
    """Create the demo providers, templates, audience and campaign (each step is idempotent)."""
    for module in DEMO_STEPS:
        if find_spec(module) is not None:
            import_string(f"{module}.load")(simulator_url=simulator_url, stdout=stdout)


def demo_simulator_knobs() -> dict[str, Any]:
    """The simulator knobs the demo steps ask for, merged in step order."""
    knobs: dict[str, Any] = {}
    for module in DEMO_STEPS:
        if find_spec(module) is not None:
            knobs.update(getattr(import_module(module), "SIMULATOR_KNOBS", {}))
    return knobs
