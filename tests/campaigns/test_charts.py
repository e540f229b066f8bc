"""The server-drawn SVG chart: empty, one hour (a short campaign) and a longer series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from campaigns.charts import LEFT, RIGHT, WIDTH, Line, line_chart

LINES = [Line("sent", "Sent", "l-sent"), Line("failed", "Errors", "l-failed")]
T0 = datetime(2026, 11, 29, 18, tzinfo=UTC)


@dataclass
class Point:
    hour: datetime
    sent: int
    failed: int


def test_no_points_says_so():
    assert "No activity" in line_chart([], LINES, title="t")


def test_one_hour_is_drawn_as_dots_in_the_middle_with_values():
    svg = str(line_chart([Point(T0, 192, 0)], LINES, title="t"))
    middle = LEFT + (WIDTH - LEFT - RIGHT) / 2
    assert f'd="M{middle:.1f} ' in svg
    assert svg.count('class="dot ') == 2
    assert "<title>Sent: 192 (Nov 29 18:00)</title>" in svg


def test_a_series_has_a_line_and_a_dot_per_point():
    points = [Point(T0 + timedelta(hours=i), i * 10, i) for i in range(5)]
    svg = str(line_chart(points, LINES, title="t"))
    assert svg.count("<polyline") == 2 and svg.count('class="dot ') == 10
    assert "Sent <b>100</b>" in svg
