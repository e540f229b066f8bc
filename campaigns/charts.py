"""A line chart as inline SVG, drawn on the server (no JavaScript, nothing from a CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28
MAX_DOTS = 72  # points per line drawn as dots too (beyond that the line alone reads better)


@dataclass(frozen=True)
class Line:
    key: str  # attribute of each point
    label: str
    css: str  # class of the stroke (colours live in app.css)


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return value


def _anchor(i: int, n: int) -> str:
    """Tick labels at the chart's edges grow inwards (they would be cut off)."""
    if n > 1 and i == 0:
        return "start"
    return "end" if n > 1 and i == n - 1 else "middle"


def line_chart(points: Sequence, lines: Sequence[Line], *, title: str) -> SafeString:
    """SVG with one polyline per `lines` entry over `points` (objects with `.hour` and the keys)."""
    if not points:
        return mark_safe('<p class="muted chart-empty">No activity to chart yet.</p>')  # noqa: S308 - constant
    top = _nice_max(max(max(getattr(p, line.key) for p in points) for line in lines))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(points) - 1, 1)
    # One hour of data (a short campaign) is one point: drawn in the middle, as dots.
    start = LEFT + plot_w / 2 if len(points) == 1 else LEFT

    def x(i: int) -> float:
        return start + i * step

    def y(value: int) -> float:
        return TOP + plot_h - value / top * plot_h

    def xy(i: int, value: int) -> str:
        return f"{x(i):.1f},{y(value):.1f}"

    grid = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="axis" x="{}" y="{}" '
        'text-anchor="end">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, y, y, LEFT - 6, y + 4, f"{value:,}")
            for value, y in ((int(top * f), TOP + plot_h - f * plot_h) for f in (0, 0.5, 1))
        ),
    )
    ticks = sorted({0, len(points) // 2, len(points) - 1})
    labels = format_html_join(
        "",
        '<text class="axis" x="{}" y="{}" text-anchor="{}">{}</text>',
        (
            (f"{x(i):.1f}", HEIGHT - 8, _anchor(i, len(points)), points[i].hour.strftime("%b %d %H:00"))
            for i in ticks
        ),
    )
    polylines = format_html_join(
        "",
        '<polyline class="line {}" fill="none" points="{}"><title>{}</title></polyline>',
        (
            (line.css, " ".join(xy(i, getattr(p, line.key)) for i, p in enumerate(points)), line.label)
            for line in lines
        ),
    )
    # A dot per point (a round cap on a zero-length path stays round in the stretched viewBox), so
    # single hours and short series are visible; each carries its value as a tooltip.
    dots = format_html_join(
        "",
        '<path class="dot {}" d="M{} {}h0"><title>{}: {} ({})</title></path>',
        (
            (
                line.css,
                f"{x(i):.1f}",
                f"{y(getattr(p, line.key)):.1f}",
                line.label,
                f"{getattr(p, line.key):,}",
                p.hour.strftime("%b %d %H:00"),
            )
            for line in lines
            for i, p in enumerate(points)
        )
        if len(points) <= MAX_DOTS
        else (),
    )
    legend = format_html_join(
        "",
        '<span class="legend-item"><i class="swatch {}"></i>{} <b>{}</b></span>',
        ((line.css, line.label, f"{sum(getattr(p, line.key) for p in points):,}") for line in lines),
    )
    svg = format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}" preserveAspectRatio="none">'
        "{}{}{}{}</svg>",
        WIDTH,
        HEIGHT,
        title,
        grid,
        labels,
        polylines,
        dots,
    )
    return format_html(
        '<figure class="chart-box">{}<figcaption class="legend">{} <span class="muted">per hour, UTC</span>'
        "</figcaption></figure>",
        svg,
        legend,
    )
