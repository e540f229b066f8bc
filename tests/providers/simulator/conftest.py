from __future__ import annotations

import pytest

from .helpers import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()
