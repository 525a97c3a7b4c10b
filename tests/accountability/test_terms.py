"""Due-date arithmetic: calendar and working days on Kazakh and Russian holiday calendars."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from app.accountability.terms import add_working_days, due_on, is_working_day
from app.recipients.files import OnAcknowledgement, ResponseTerm, TermBasis

KZ_APPEALS = ResponseTerm(
    days=15,
    basis=TermBasis.working,
    country="KZ",
    source="Administrative Procedural Code of Kazakhstan: 15 working days",
)
RU_59FZ = ResponseTerm(days=30, basis=TermBasis.calendar, source="Russia, 59-FZ: 30 days")


class TestWorkingDays:
    @pytest.mark.parametrize(
        "day",
        [
            date(2026, 3, 23),  # Nauryz (Monday)
            date(2026, 3, 24),  # Nauryz: days off in lieu of its weekend days
            date(2026, 3, 25),
            date(2026, 12, 16),  # Independence Day
            date(2026, 1, 7),  # Orthodox Christmas
        ],
    )
    def test_kazakh_public_holidays_are_not_working_days(self, day: date) -> None:
        assert not is_working_day(day, country="KZ")

    @pytest.mark.parametrize(
        "day",
        [
            date(2026, 1, 5),  # the New Year holidays run to 8 January
            date(2026, 1, 9),  # a day off moved from Saturday 3 January
            date(2026, 6, 12),  # Russia Day
            date(2026, 11, 4),  # Unity Day
        ],
    )
    def test_russian_public_holidays_are_not_working_days(self, day: date) -> None:
        assert not is_working_day(day, country="RU")

    def test_weekends_never_count_and_an_ordinary_weekday_does(self) -> None:
        assert not is_working_day(date(2026, 3, 28), country="KZ")  # Saturday
        assert not is_working_day(date(2026, 3, 29), country="RU")  # Sunday
        assert is_working_day(date(2026, 3, 26), country="KZ")
        assert is_working_day(date(2026, 1, 12), country="RU")

    def test_the_start_day_itself_never_counts(self) -> None:
        assert add_working_days(date(2026, 3, 2), 1, country="KZ") == date(2026, 3, 3)
        assert add_working_days(date(2026, 3, 6), 1, country="KZ") == date(2026, 3, 10)  # 9th off


class TestDueOn:
    def test_fifteen_kazakh_working_days_skip_nauryz(self) -> None:
        # From Friday 20 March 2026: 23–25 March are Nauryz, so the 15th working day is 15 April
        # (without the holidays it would be 10 April).
        assert due_on(date(2026, 3, 20), KZ_APPEALS, country="FR") == date(2026, 4, 15)

    def test_working_days_use_the_offices_country_when_the_term_names_none(self) -> None:
        term = KZ_APPEALS.model_copy(update={"country": None, "days": 5})
        # Russia: 1–9 January 2026 are days off, so five working days from 30 December 2025
        # end on Friday 16 January.
        assert due_on(date(2025, 12, 30), term, country="RU") == date(2026, 1, 16)
        assert due_on(date(2025, 12, 30), term, country="KZ") == date(2026, 1, 9)

    def test_thirty_calendar_days_are_thirty_days_whatever_the_holidays(self) -> None:
        assert due_on(date(2026, 1, 1), RU_59FZ, country="RU") == date(2026, 1, 31)
        assert due_on(date(2026, 3, 1), RU_59FZ, country="RU") == date(2026, 3, 31)


class TestResponseTerm:
    def test_defaults_calendar_days_and_an_acknowledgement_that_changes_nothing(self) -> None:
        term = ResponseTerm(days=30, source="organisation's own target")
        assert term.basis is TermBasis.calendar
        assert term.on_acknowledgement is OnAcknowledgement.nothing

    def test_a_working_day_term_needs_a_country_with_a_holiday_calendar(self) -> None:
        with pytest.raises(ValidationError, match="no holiday calendar for XX"):
            ResponseTerm(days=5, basis=TermBasis.working, country="XX", source="x")

    @pytest.mark.parametrize("days", [0, 367])
    def test_days_are_bounded(self, days: int) -> None:
        with pytest.raises(ValidationError):
            ResponseTerm(days=days, source="x")

    def test_a_source_is_required(self) -> None:
        with pytest.raises(ValidationError):
            ResponseTerm(days=5, source=" ")
