"""Charts drawn on the server as SVG: no script, no external asset, readable without colour.

`line_chart` turns daily series into the numbers an SVG needs (polyline points, axis ticks);
the template `staff/_chart.html` draws them, with a title, a description and the same data as a
table for screen readers and for anyone who wants the numbers.

The chart is as wide as the page and a fixed height. Its outer SVG has no viewBox, so its user
units are CSS pixels and its labels keep their font size on a phone (a scaled viewBox shrank
them to 5 px at 390 px); tick labels are placed across by percentage. The lines are drawn in an
inner SVG stretched across only (`preserveAspectRatio="none"`, strokes that do not scale). At
most four series share a chart: more overlap into a tangle, so callers draw small multiples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

MAX_SERIES = 4
MAX_X_TICKS = 6  # "04 Dec" at 12 px is ≈ 40 px wide: six fit on a 320 px phone
SPAN = 1000  # the inner SVG's width in its own units, stretched to the chart's width
PLOT_TOP, PLOT_HEIGHT, AXIS_HEIGHT = 18, 160, 26


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    points: str  # "x,y x,y ..." for <polyline points>, in the inner SVG's units
    total: int


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # y ticks: pixels from the chart's top; x ticks: percent of its width
    label: str
    anchor: str = "middle"


@dataclass(frozen=True, slots=True)
class LineChart:
    height: int  # pixels
    span: int
    plot_top: int
    plot_height: int
    lines: list[Line]
    grid: list[float]  # y of each grid line in the inner SVG
    y_ticks: list[Tick]
    x_ticks: list[Tick]


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


def _x_ticks(days: Sequence[date]) -> list[Tick]:
    """At most MAX_X_TICKS dates, the first and the last always among them."""
    last = len(days) - 1
    every = max(1, -(-last // (MAX_X_TICKS - 1))) if last else 1
    chosen = sorted({*range(0, last + 1, every), last})
    if len(chosen) > 2 and chosen[-1] - chosen[-2] < every:
        del chosen[-2]  # too close to the last one to have room for both labels
    ticks = []
    for i in chosen:
        anchor = "start" if i == 0 else "end" if i == last else "middle"
        at = round(100 * i / last, 2) if last else 0.0
        ticks.append(Tick(at, days[i].strftime("%d %b"), anchor))
    return ticks


def line_chart(days: Sequence[date], series: Mapping[str, Sequence[int]]) -> LineChart:
    """A chart of up to four daily series over `days` (at least one day)."""
    if len(series) > MAX_SERIES:
        raise ValueError(f"at most {MAX_SERIES} series in one chart, not {len(series)}")
    if not days:
        raise ValueError("a chart needs at least one day")
    top = _nice_max(max((max(v, default=0) for v in series.values()), default=0))
    step = SPAN / max(len(days) - 1, 1)

    def y(v: int) -> float:
        return round(PLOT_HEIGHT - v / top * PLOT_HEIGHT, 1)

    def points(values: Sequence[int]) -> str:
        xy = [(round(i * step, 1), y(v)) for i, v in enumerate(values)]
        if len(xy) == 1:  # one day: a short level stroke, so that it shows
            xy = [(0.0, xy[0][1]), (float(SPAN), xy[0][1])]
        return " ".join(f"{px},{py}" for px, py in xy)

    lines = [Line(name, points(values), sum(values)) for name, values in series.items()]
    levels = sorted({0, top // 2, top}) if top > 1 else [0, top]
    grid = [y(v) for v in levels]
    # A y label sits just above its grid line, at the left edge.
    y_ticks = [Tick(round(PLOT_TOP + y(v) - 3, 1), str(v), "start") for v in levels]
    return LineChart(
        height=PLOT_TOP + PLOT_HEIGHT + AXIS_HEIGHT,
        span=SPAN,
        plot_top=PLOT_TOP,
        plot_height=PLOT_HEIGHT,
        lines=lines,
        grid=grid,
        y_ticks=y_ticks,
        x_ticks=_x_ticks(days),
    )
