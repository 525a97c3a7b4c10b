import random
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.schemas import Pacing
from app.db import utcnow
from app.delivery.models import Delivery, DeliveryStatus
from app.delivery.queue import pacing
from app.delivery.queue.pacing import Recent, next_slot
from app.recipients.channels import ChannelKind
from tests.factories import bearer
from tests.staff.data import OFFICES, SLUG, mailing

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


S = DeliveryStatus
# (status, how long ago it changed) of the e-mails to one office
HISTORY = [
    (S.sent, timedelta(minutes=10)),
    (S.sending, timedelta(minutes=30)),
    (S.delivered, timedelta(hours=3)),
    (S.bounced, timedelta(hours=23)),
    (S.queued, timedelta(minutes=5)),  # not sent: not counted
    (S.failed, timedelta(minutes=5)),  # likewise
    (S.sent, timedelta(days=2)),  # too long ago
]


def _counted_one_by_one(rows: list[Delivery], now: datetime) -> dict[str, list[int]]:
    """What the pacing count means, row by row over the whole table (as the old query read)."""
    counts: dict[str, list[int]] = {}
    for d in rows:
        in_day = d.status_changed_at >= now - timedelta(days=1)
        if d.channel is ChannelKind.email and d.status in pacing.COUNTED and in_day:
            office = counts.setdefault(d.recipient_id, [0, 0])
            office[0] += d.status_changed_at >= now - timedelta(hours=1)
            office[1] += 1
    return counts


class TestRecentSends:
    async def test_counts_what_the_table_row_by_row_says(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session, fail=False)
        for i in range(len(HISTORY) - 1):
            letters = await client.post(
                f"/api/v1/campaigns/{SLUG}/letters",
                json={"name": f"Supporter {i}"},
                headers=bearer(m.token),
            )
            assert letters.status_code == 201, letters.text
        now = utcnow()
        rows = list(await session.scalars(select(Delivery).order_by(Delivery.id)))
        emails = [d for d in rows if d.channel is ChannelKind.email]
        assert len(emails) == len(HISTORY)
        for delivery, (status, ago) in zip(emails, HISTORY, strict=True):
            delivery.status, delivery.status_changed_at = status, now - ago
        # The other channels' rows changed just now too: they never count.
        for delivery in rows:
            if delivery.channel is not ChannelKind.email:
                delivery.status_changed_at = now - timedelta(minutes=1)
        await session.flush()
        counted = await pacing.recent_sends(session, offices=list(OFFICES), now=now)
        assert counted == _counted_one_by_one(rows, now)
        assert counted == {"pace-president": [2, 4]}

    async def test_no_office_no_query(self, session: AsyncSession) -> None:
        assert await pacing.recent_sends(session, offices=[], now=utcnow()) == {}
