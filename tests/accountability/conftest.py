"""Fixtures of the due-date tests: one letter to PACE, delivered on a known day by a test clock.

Time never passes here: a delivery's moves carry the moment they happened, the worker's round is
run with a `now`, and states are read `as_of` a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accountability.models import AnswerClock
from app.accountability.round import run_clock_round
from app.delivery import service as delivery_service
from app.delivery.models import DeliveryStatus
from tests.delivery.test_worker import queued, the_delivery
from tests.factories import bearer

__all__ = ["Letter", "deliver", "delivered", "queued"]

# Monday 2 March 2026, 09:00 UTC: 10:00 in Strasbourg (Europe/Paris), where PACE is.
SENT_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Letter:
    """The delivered letter of a test, and what its tests do with it."""

    client: httpx.AsyncClient
    session: AsyncSession
    sessionmaker: async_sessionmaker[AsyncSession]
    token: str
    letter_id: int
    delivery_id: int

    async def round(self, now: datetime = SENT_AT) -> int:
        return await run_clock_round(self.sessionmaker, now=now)

    async def clock(self) -> AnswerClock | None:
        self.session.expire_all()
        found: AnswerClock | None = await self.session.scalar(
            select(AnswerClock).where(AnswerClock.delivery_id == self.delivery_id)
        )
        return found

    async def respond(self, kind: str, received_on: date) -> int:
        """Staff record the office's answer to this letter, as the response log does."""
        answer = await self.client.post(
            "/api/v1/responses",
            json={
                "campaign": "mail-test",
                "office": "pace-president",
                "letter_id": self.letter_id,
                "kind": kind,
                "received_on": received_on.isoformat(),
                "text": "Thank you for your letter.",
            },
            headers=bearer(self.token),
        )
        assert answer.status_code == 201, answer.text
        response_id: int = answer.json()["id"]
        return response_id

    async def classify(self, response_id: int, kind: str) -> None:
        changed = await self.client.patch(
            f"/api/v1/responses/{response_id}", json={"kind": kind}, headers=bearer(self.token)
        )
        assert changed.status_code == 200, changed.text

    async def move(self, to: DeliveryStatus, at: datetime) -> None:
        delivery = await the_delivery(self.session)
        delivery_service.transition(self.session, delivery, to, actor="test", now=at)
        await self.session.commit()

    async def due_dates(self, path: str = "", **params: Any) -> Any:
        answer = await self.client.get(
            f"/api/v1/due-dates{path}", params=params, headers=bearer(self.token)
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


async def deliver(
    queued: dict[str, Any],
    client: httpx.AsyncClient,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    at: datetime,
) -> Letter:
    """The queued letter to PACE, accepted by its mail server `at` (no clock started yet)."""
    delivery = await the_delivery(session)
    letter = Letter(
        client, session, sessionmaker, queued["token"], queued["letter"]["id"], delivery.id
    )
    await letter.move(DeliveryStatus.sending, at)
    await letter.move(DeliveryStatus.sent, at)
    return letter


@pytest.fixture
async def delivered(
    queued: dict[str, Any],
    client: httpx.AsyncClient,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Letter:
    """The letter to PACE, accepted by its mail server at SENT_AT (no clock started yet)."""
    return await deliver(queued, client, session, sessionmaker, at=SENT_AT)
