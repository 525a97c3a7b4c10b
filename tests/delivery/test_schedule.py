"""The 'paced out by' estimate (app/delivery/queue/schedule.py): when an office's last waiting
letter goes, at its hourly rate, in its hours, on its days, in its zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.campaigns.schemas import Pacing
from app.delivery.queue.schedule import drain_estimate

# Wednesday 2 December 2026, 10:00 UTC.
WEDNESDAY_10 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
HOURLY = Pacing(per_office_per_hour=1, office_hours_start=9, office_hours_end=17)


class TestDrainEstimate:
    def test_two_letters_at_one_an_hour_are_out_an_hour_after_the_first(self) -> None:
        assert drain_estimate(2, WEDNESDAY_10, HOURLY) == WEDNESDAY_10 + timedelta(hours=1)

    def test_one_letter_goes_at_once(self) -> None:
        assert drain_estimate(1, WEDNESDAY_10, HOURLY) == WEDNESDAY_10

    def test_a_letter_beyond_the_day_waits_for_the_next_opening(self) -> None:
        # 10:00 … 16:00 carry seven letters; the eighth goes at 09:00 on Thursday.
        assert drain_estimate(8, WEDNESDAY_10, HOURLY) == datetime(2026, 12, 3, 9, tzinfo=UTC)

    def test_the_weekend_is_skipped(self) -> None:
        friday_16 = datetime(2026, 12, 4, 16, tzinfo=UTC)
        assert drain_estimate(2, friday_16, HOURLY) == datetime(2026, 12, 7, 9, tzinfo=UTC)

    def test_outside_office_hours_the_first_letter_waits_for_the_opening(self) -> None:
        evening = datetime(2026, 12, 2, 20, tzinfo=UTC)
        assert drain_estimate(3, evening, HOURLY) == datetime(2026, 12, 3, 11, tzinfo=UTC)

    def test_the_daily_cap_bounds_a_day(self) -> None:
        pacing = Pacing(per_office_per_hour=10, per_office_per_day=12)
        monday_8 = datetime(2026, 11, 30, 8, tzinfo=UTC)
        # Twelve on Monday from 08:00, six minutes apart; the 13th at 08:00 on Tuesday.
        assert drain_estimate(12, monday_8, pacing) == monday_8 + 11 * timedelta(minutes=6)
        assert drain_estimate(13, monday_8, pacing) == monday_8 + timedelta(days=1)

    def test_a_long_queue_skips_whole_weeks_to_the_same_answer(self) -> None:
        # 8 a day, 5 days a week: 40 a week; the 200th of a queue starting on a Monday at the
        # opening goes in the fifth week's Friday at 16:00.
        monday_9 = datetime(2026, 11, 30, 9, tzinfo=UTC)
        expected = monday_9 + timedelta(weeks=4, days=4, hours=7)
        assert drain_estimate(200, monday_9, HOURLY) == expected
        assert drain_estimate(201, monday_9, HOURLY) == monday_9 + timedelta(weeks=5)

    def test_the_office_hours_are_its_own_zone(self) -> None:
        # 09:00 in Almaty is 04:00 UTC: the office is open at 06:00 UTC.
        start = datetime(2026, 12, 2, 6, tzinfo=UTC)
        got = drain_estimate(2, start, HOURLY, timezone="Asia/Almaty")
        assert got == start + timedelta(hours=1)
        assert got.tzinfo is UTC
