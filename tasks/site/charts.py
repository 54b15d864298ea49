"""Geometry of the month page's two small inline SVG charts (the template only draws the shapes).

Inline SVG instead of <img>: no extra file, text stays selectable, and colours come from the stylesheet so
dark mode works; only presentation attributes are used because the CSP forbids inline style.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from tasks.site.views import tag_label

WIDTH = 640


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    value: int
    label: str  # x-axis label (day number) or the topic name
    title: str  # tooltip / accessible text
    href: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    baseline: float
    label_x: float = 0  # horizontal chart: where topic labels end


def days_chart(month: str, per_day: list[tuple[str, int]], root: str, height: int = 170) -> Chart:
    """Vertical bars over every calendar day of the month; stored days get a bar and a label."""
    year, mon = int(month[:4]), int(month[5:7])
    slots = calendar.monthrange(year, mon)[1]
    top, bottom = 18, 22  # room for value labels above, day numbers below
    plot_h = height - top - bottom
    slot_w = WIDTH / slots
    peak = max((n for _, n in per_day), default=0) or 1
    bars = []
    for iso, n in per_day:
        day = int(iso[8:10])
        h = plot_h * n / peak
        bars.append(Bar(
            x=round((day - 1) * slot_w + slot_w * 0.15, 2), y=round(top + plot_h - h, 2),
            w=round(slot_w * 0.7, 2), h=round(h, 2), value=n, label=str(day), title=f"{iso}: {n}",
            href=f"{root}d/{iso}.html",
        ))
    return Chart(WIDTH, height, bars, baseline=top + plot_h)


def _clip(label: str, size: int = 22) -> str:
    """Keep a topic label inside the chart's label column (the full name stays in the tooltip)."""
    return label if len(label) <= size else label[: size - 1] + "…"


def tags_chart(tags: list[tuple[str, int]], limit: int = 10, row: int = 22) -> Chart:
    """Horizontal bars of the most frequent topics."""
    shown = tags[:limit]
    label_w, value_w = 150, 40
    peak = max((n for _, n in shown), default=0) or 1
    bars = [
        Bar(x=label_w, y=i * row + 3, w=round(max(2.0, (WIDTH - label_w - value_w) * n / peak), 2),
            h=row - 6, value=n, label=_clip(tag_label(tag)), title=f"{tag_label(tag)}: {n}")
        for i, (tag, n) in enumerate(shown)
    ]
    return Chart(WIDTH, max(row, row * len(shown)), bars, baseline=0, label_x=label_w - 8)
