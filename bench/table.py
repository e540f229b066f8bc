from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    benchmark: str
    metric: str
    value: float
    unit: str = ""
    baseline: float | None = None  # same metric for the baseline, measured in the same run
    target: str = ""  # what the issue asks for, in words ("≥ 75 % of baseline")
    ok: bool | None = None  # whether the target is met

    @property
    def ratio(self) -> str:
        if not self.baseline:
            return ""
        return f"{self.value / self.baseline:.0%}"


def render(rows: list[Row]) -> str:
    headers = ("benchmark", "metric", "value", "baseline", "ratio", "target", "met")
    table = [headers] + [
        (
            r.benchmark,
            r.metric,
            f"{r.value:,.1f} {r.unit}".strip(),
            "" if r.baseline is None else f"{r.baseline:,.1f} {r.unit}".strip(),
            r.ratio,
            r.target,
            "" if r.ok is None else ("yes" if r.ok else "NO"),
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(headers))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
