"""Charts drawn on the server as SVG: no script, no external asset, readable without colour.

`line_chart` turns daily series into the numbers an SVG needs (polyline points, axis ticks);
the template `staff/_chart.html` draws them, with a title, a description and the same data as a
table for screen readers and for anyone who wants the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 30


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    points: str  # "x,y x,y ..." for <polyline points>
    total: int


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class LineChart:
    width: int
    height: int
    lines: list[Line]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int


def _nice_max(value: int) -> int:
    """A round ceiling for the y axis: 1, 2, 5 × a power of ten."""
    if value <= 0:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if value <= step * scale:
                return step * scale
        scale *= 10


def line_chart(days: Sequence[date], series: Mapping[str, Sequence[int]]) -> LineChart:
    top = _nice_max(max((max(v, default=0) for v in series.values()), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(v: int) -> float:
        return round(TOP + plot_h - v / top * plot_h, 1)

    lines = [
        Line(name, " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)), sum(values))
        for name, values in series.items()
    ]
    y_ticks = [Tick(y(v), str(v)) for v in (0, top // 2, top) if v or top]
    every = max(1, len(days) // 6)
    x_ticks = [Tick(x(i), d.strftime("%d %b")) for i, d in enumerate(days) if i % every == 0]
    return LineChart(
        WIDTH, HEIGHT, lines, y_ticks, x_ticks, LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    )
