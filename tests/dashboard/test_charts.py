"""The dashboard's charts: the days they span (the campaign's life, a month at most), at most
four series a chart (small multiples), and the SVG numbers app/web/charts.py gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.dashboard import figures
from app.web import charts

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
TODAY = date(2026, 12, 4)


class TestChartDays:
    def test_a_campaign_made_today_spans_one_day_not_thirty(self) -> None:
        assert figures.chart_days(started=NOW - timedelta(hours=2), now=NOW) == [TODAY]

    def test_spans_the_campaigns_life_from_the_day_it_was_made(self) -> None:
        days = figures.chart_days(started=datetime(2026, 11, 28, 23, 0, tzinfo=UTC), now=NOW)
        assert days == [date(2026, 11, 28) + timedelta(days=i) for i in range(7)]

    def test_an_old_campaign_shows_its_last_thirty_days(self) -> None:
        days = figures.chart_days(started=datetime(2025, 1, 1, tzinfo=UTC), now=NOW)
        assert len(days) == 30 and days[-1] == TODAY and days[0] == TODAY - timedelta(days=29)

    def test_a_clock_behind_the_campaign_still_gives_today(self) -> None:
        assert figures.chart_days(started=NOW + timedelta(days=2), now=NOW) == [TODAY]

    def test_days_are_utc_days(self) -> None:
        almaty = datetime(2026, 12, 5, 1, 0, tzinfo=UTC).astimezone()  # any zone, same instant
        assert figures.chart_days(started=NOW, now=almaty) == [TODAY, date(2026, 12, 5)]


class TestSmallMultiples:
    def test_every_daily_step_is_drawn_once_and_no_chart_has_more_than_four(self) -> None:
        drawn = [step for _, steps in figures.CHARTS for step in steps]
        assert sorted(drawn) == sorted(s for s in figures.STEPS if s != "responded")
        assert all(len(steps) <= charts.MAX_SERIES for _, steps in figures.CHARTS)

    def test_a_chart_refuses_a_fifth_series(self) -> None:
        series = {f"s{i}": [1, 2] for i in range(5)}
        with pytest.raises(ValueError, match="at most 4"):
            charts.line_chart([TODAY - timedelta(days=1), TODAY], series)


class TestLineChart:
    def test_lines_run_edge_to_edge_and_scale_to_a_round_top(self) -> None:
        days = [TODAY - timedelta(days=2), TODAY - timedelta(days=1), TODAY]
        chart = charts.line_chart(days, {"signed": [0, 3, 7]})
        (line,) = chart.lines
        assert line.total == 10
        h = chart.plot_height
        assert line.points == f"0.0,{h}.0 500.0,{h - 3 / 10 * h} 1000.0,{h - 7 / 10 * h}"
        assert [t.label for t in chart.y_ticks] == ["0", "5", "10"]

    def test_one_day_draws_a_level_stroke_across(self) -> None:
        chart = charts.line_chart([TODAY], {"letters": [6], "sent": [0]})
        letters, sent = chart.lines
        y = round(chart.plot_height - 6 / 10 * chart.plot_height, 1)
        assert letters.points == f"0.0,{y} 1000.0,{y}"
        assert sent.points == f"0.0,{chart.plot_height}.0 1000.0,{chart.plot_height}.0"
        assert [(t.label, t.at, t.anchor) for t in chart.x_ticks] == [("04 Dec", 0.0, "start")]

    def test_at_most_six_dates_with_the_first_and_last_at_the_edges(self) -> None:
        days = [TODAY - timedelta(days=29 - i) for i in range(30)]
        ticks = charts.line_chart(days, {"sent": [0] * 30}).x_ticks
        assert len(ticks) <= charts.MAX_X_TICKS
        assert (ticks[0].at, ticks[0].anchor) == (0.0, "start")
        assert (ticks[-1].at, ticks[-1].anchor, ticks[-1].label) == (100.0, "end", "04 Dec")
        assert [t.at for t in ticks] == sorted(t.at for t in ticks)

    def test_y_labels_sit_above_their_grid_lines_inside_the_chart(self) -> None:
        chart = charts.line_chart([TODAY], {"sent": [0]})
        for tick, grid in zip(chart.y_ticks, chart.grid, strict=True):
            assert tick.at == round(chart.plot_top + grid - 3, 1)
            assert 12 <= tick.at <= chart.height  # a 12 px label's top stays in the chart
