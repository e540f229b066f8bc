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
