"""Layout checks in a real browser: a row of stat cards never ends with one card alone, at any common
width, on the campaign page (nine counters, ten once some are cancelled) and the home page."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from tests.campaigns.conftest import make_campaign

WIDTHS = [360, 480, 600, 768, 900, 1024, 1100, 1180, 1280, 1366, 1440, 1600, 1920]


def rows_of(page, selector: str) -> list[int]:
    """How many cards each visual row of the grid holds (cards grouped by their top edge)."""
    script = "els => els.map(e => Math.round(e.getBoundingClientRect().top))"
    tops = page.eval_on_selector_all(selector, script)
    counts: dict[int, int] = {}
    for top in tops:
        counts[top] = counts.get(top, 0) + 1
    return [counts[t] for t in sorted(counts)]


@pytest.mark.parametrize("cancelled", [0, 4])
def test_no_stat_card_is_left_alone_on_a_row(logged_in_page, live_server, cancelled):
    page = logged_in_page
    campaign = make_campaign(size=3)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING, total_count=10, sent_count=6, cancelled_count=cancelled
    )
    cards = "#progress .stats .stat"
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}{campaign.get_absolute_url()}")
        rows = rows_of(page, cards)
        assert sum(rows) == (10 if cancelled else 9)
        assert len(rows) == 1 or rows[-1] > 1, f"{width}px: rows of {rows}"
        page.goto(f"{live_server.url}/")
        for section in ("#figures-today", "#figures-week"):
            rows = rows_of(page, f"{section} .stats .stat")
            assert len(rows) == 1 or rows[-1] > 1, f"home {section} at {width}px: rows of {rows}"
