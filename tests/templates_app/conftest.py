from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from .kinds import echo_kind, provider  # noqa: F401 - fixtures

FIXTURES = Path(__file__).parent / "fixtures"
CONTENT_TYPES = ("text", "rich_card", "carousel", "media")


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def fixture_content():
    return lambda name: copy.deepcopy(load_fixture(name))


def run_sync_templates(*args) -> tuple[int, str, str]:
    """`manage.py sync_templates *args`: (exit code, stdout, stderr)."""
    import io

    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("sync_templates", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def make_fixture_templates(for_provider, **fields) -> list:
    """One template per content type, from the payload fixtures (`fields`: e.g. status)."""
    from templates_app.models import MessageTemplate

    made = []
    for name in CONTENT_TYPES:
        data = load_fixture(name)
        made.append(
            MessageTemplate.objects.create(
                provider=for_provider,
                name=name,
                format=data["content"]["type"],
                content=data["content"],
                sample_values=data["values"],
                **fields,
            )
        )
    return made
