"""Due dates: a response term's days counted from a start date, in calendar or working days.

A term (`app.recipients.files.ResponseTerm`) counts from the day after its start: 30 calendar
days from 1 March end on 31 March; 15 working days skip Saturdays, Sundays and the public
holidays of the term's country, as the `holidays` package knows them (Kazakhstan's Nauryz,
Russia's New Year holidays and the days off moved onto weekdays). A due date is the last day on
which an answer is still on time; a calendar term's last day is not moved off a weekend.

What the package does not know: a Saturday made a working day by a transfer (Russia, Kazakhstan)
still counts as a weekend, so a working-day due date may come a day later than the official
count: in the office's favour, never early. A country without a holiday calendar in the package
counts weekends only; directory files refuse that for working-day terms.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from app.recipients.files import ResponseTerm, TermBasis, has_holiday_calendar

WEEKEND = frozenset({5, 6})  # Saturday, Sunday: the weekend of every country we write to


@cache
def _holidays(country: str, year: int) -> frozenset[date]:
    if not has_holiday_calendar(country):
        return frozenset()
    import holidays  # on first use: see app/recipients/files.py

    return frozenset(holidays.country_holidays(country, years=year))


def is_working_day(day: date, *, country: str) -> bool:
    """Not a weekend and not one of `country`'s public holidays (or days off in lieu)."""
    return day.weekday() not in WEEKEND and day not in _holidays(country, day.year)


def add_working_days(start: date, days: int, *, country: str) -> date:
    """The `days`-th working day after `start` (`start` itself never counts)."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day, country=country):
            counted += 1
    return day


def due_on(start: date, term: ResponseTerm, *, country: str) -> date:
    """The last day an answer to a letter delivered on `start` is on time under `term`;
    `country` is the office's, used when the term names none."""
    if term.basis is TermBasis.working:
        return add_working_days(start, term.days, country=term.country or country)
    return start + timedelta(days=term.days)
