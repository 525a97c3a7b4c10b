import random
from datetime import UTC, datetime, timedelta

from app.campaigns.schemas import Pacing
from app.delivery.queue.pacing import Recent, next_slot

WEDNESDAY_10_PARIS = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 10:00 in Paris
FRIDAY_19_PARIS = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
NONE = Recent(0, 0)


def slot(now: datetime, recent: Recent = NONE, **pacing: object) -> datetime | None:
    return next_slot(
        now,
        timezone="Europe/Paris",
        pacing=Pacing.model_validate({"jitter_seconds": 0, **pacing}),
        recent=recent,
        rng=random.Random(1),
    )


class TestNextSlot:
    def test_within_office_hours_and_caps_a_letter_goes_now(self) -> None:
        assert slot(WEDNESDAY_10_PARIS) is None

    def test_after_hours_on_friday_waits_for_monday_morning_local_time(self) -> None:
        assert slot(FRIDAY_19_PARIS) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 08:00 Paris

    def test_the_hourly_cap_spreads_letters_over_the_hour(self) -> None:
        assert slot(
            WEDNESDAY_10_PARIS, Recent(4, 4), per_office_per_hour=4
        ) == WEDNESDAY_10_PARIS + timedelta(minutes=15)

    def test_the_daily_cap_waits_for_the_next_working_day(self) -> None:
        later = slot(WEDNESDAY_10_PARIS, Recent(1, 100), per_office_per_day=100)
        assert later == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)

    def test_jitter_only_delays(self) -> None:
        jittered = next_slot(
            FRIDAY_19_PARIS,
            timezone="Europe/Paris",
            pacing=Pacing(jitter_seconds=600),
            recent=NONE,
            rng=random.Random(3),
        )
        assert jittered is not None
        base = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
        assert base <= jittered <= base + timedelta(seconds=600)
