"""The delivery events' one writer: the fast outcome path writes what the ORM path writes.

`leases.accepted` records a worker's outcome without the ORM (on PostgreSQL one CTE run by
asyncpg itself, on SQLite two statements); the postal round records the same outcome through the
ORM (`leases.release`, then `service.transition`). Two letters to the same office, leased by the
same worker with the same history, get the same outcome by each path: their deliveries and their
events must come out the same, on both engines.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.delivery import service
from app.delivery.models import Delivery, DeliveryEvent, DeliveryStatus
from app.delivery.queue import events, leases
from app.recipients.channels import ChannelKind
from tests.factories import bearer

S = DeliveryStatus
OWNER = "worker-1"
ANSWER = "250 2.0.0 Ok: queued as 4F2A"
# What an outcome writes on its delivery (the rest is the letter's own).
OUTCOME_FIELDS = (
    "status",
    "status_changed_at",
    "attempts",
    "lease_owner",
    "lease_expires_at",
    "external_id",
    "last_error",
    "last_error_code",
    "retrying_since",
)
NOW = utcnow().replace(microsecond=0)


async def two_leased(
    client: httpx.AsyncClient, session: AsyncSession, queued: dict[str, Any]
) -> tuple[Delivery, Delivery]:
    """Two deliveries to PACE with an earlier error on record, each leased by `OWNER`."""
    second = await client.post(
        "/api/v1/campaigns/mail-test/letters",
        json={"name": "Grace Hopper", "city": "New York"},
        headers=bearer(queued["token"]),
    )
    assert second.status_code == 201
    session.expire_all()
    deliveries = list(
        await session.scalars(
            select(Delivery).where(Delivery.recipient_id == "pace-president").order_by(Delivery.id)
        )
    )
    assert len(deliveries) == 2
    for delivery in deliveries:
        delivery.last_error, delivery.last_error_code = "421 try again later", 421
        delivery.retrying_since = NOW - timedelta(hours=1)
        leases.take(session, delivery, owner=OWNER, now=NOW - timedelta(minutes=1), seconds=600)
    await session.commit()
    return deliveries[0], deliveries[1]


async def orm_outcome(session: AsyncSession, leased: Delivery) -> None:
    """The outcome `sent` the way the postal round writes its outcomes, through the ORM."""
    delivery = await leases.release(
        session, delivery_id=leased.id, attempt=leased.attempts, owner=OWNER
    )
    assert delivery is not None
    delivery.external_id = "<same@appeals.example>"
    delivery.last_error, delivery.last_error_code, delivery.retrying_since = None, None, None
    service.transition(session, delivery, S.sent, actor=OWNER, code=250, detail=ANSWER, now=NOW)
    await session.commit()


async def fast_outcome(session: AsyncSession, leased: Delivery, *, owner: str = OWNER) -> bool:
    """The same outcome through the worker's hot path, on the session's own connection."""
    found = await leases.accepted(
        await session.connection(),
        channel=ChannelKind.email,
        delivery_id=leased.id,
        attempt=leased.attempts,
        owner=owner,
        to=S.sent,
        external_id="<same@appeals.example>",
        code=250,
        detail=ANSWER,
        now=NOW,
    )
    await session.commit()
    return found


async def last_event(session: AsyncSession, delivery_id: int) -> dict[str, Any]:
    """The delivery's last event, every column but the ids that tell the rows apart."""
    row = (
        await session.execute(
            select(DeliveryEvent)
            .where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id.desc())
            .limit(1)
        )
    ).scalar_one()
    return {name: getattr(row, name) for name in events.COLUMNS if name != "delivery_id"}


async def outcome_of(session: AsyncSession, delivery_id: int) -> dict[str, Any]:
    session.expire_all()
    delivery = await session.get(Delivery, delivery_id)
    assert delivery is not None
    return {name: getattr(delivery, name) for name in OUTCOME_FIELDS}


class TestAccepted:
    async def test_the_fast_path_writes_the_event_and_the_delivery_the_orm_path_writes(
        self, client: httpx.AsyncClient, session: AsyncSession, queued: dict[str, Any]
    ) -> None:
        by_orm, by_fast_path = await two_leased(client, session, queued)
        orm_id, fast_id = by_orm.id, by_fast_path.id
        await orm_outcome(session, by_orm)
        assert await fast_outcome(session, by_fast_path)

        session.expire_all()
        expected = await last_event(session, orm_id)
        assert expected == {
            "at": NOW,
            "from_status": "sending",
            "to_status": "sent",
            "attempt": 1,
            "code": 250,
            "detail": ANSWER,
            "actor": OWNER,
        }
        assert await last_event(session, fast_id) == expected
        assert await outcome_of(session, fast_id) == await outcome_of(session, orm_id)
        assert (await outcome_of(session, orm_id))["last_error"] is None

    async def test_a_lost_lease_writes_nothing_on_the_fast_path(
        self, client: httpx.AsyncClient, session: AsyncSession, queued: dict[str, Any]
    ) -> None:
        leased, _ = await two_leased(client, session, queued)
        leased_id = leased.id
        before = await last_event(session, leased_id)
        assert not await fast_outcome(session, leased, owner="another-worker")
        session.expire_all()
        assert await last_event(session, leased_id) == before
        assert (await outcome_of(session, leased_id))["status"] is S.sending


class TestColumns:
    async def test_the_event_row_has_every_column_of_the_table_but_its_id(
        self, session: AsyncSession
    ) -> None:
        # Read from the migrated database, not the model: a column added by a migration alone
        # would be missed by every writer.
        result = await session.execute(text("SELECT * FROM delivery_events WHERE 1 = 0"))
        assert set(result.keys()) - {"id"} == set(events.COLUMNS)

    def test_a_statement_that_leaves_out_a_column_is_refused(self) -> None:
        source = table("released", column("id"))
        with pytest.raises(ValueError, match="the event's columns: \\['actor'"):
            events.insert_from(source, delivery_id=source.c.id)


class TestMarkBounced:
    async def test_a_sent_letter_bounces_with_the_answer_kept_as_its_last_error(
        self, client: httpx.AsyncClient, session: AsyncSession, queued: dict[str, Any]
    ) -> None:
        leased, _ = await two_leased(client, session, queued)
        leased_id = leased.id
        assert await fast_outcome(session, leased)
        session.expire_all()
        delivery = await session.get(Delivery, leased_id)
        assert delivery is not None
        detail = "bounced (inbound message 7): 5.1.1 for president@pace.example"
        moved = service.mark_bounced(session, delivery, code=550, detail=detail, actor="inbound")
        await session.commit()
        assert moved
        assert (delivery.status, delivery.last_error_code, delivery.last_error) == (
            S.bounced,
            550,
            detail,
        )
        logged = await last_event(session, leased_id)
        assert (logged["from_status"], logged["to_status"], logged["code"]) == (
            "sent",
            "bounced",
            550,
        )

    async def test_a_bounce_its_machine_does_not_allow_now_is_only_noted(
        self, session: AsyncSession, queued: dict[str, Any]
    ) -> None:
        delivery = await session.scalar(select(Delivery).where(Delivery.status == S.queued))
        assert delivery is not None
        moved = service.mark_bounced(session, delivery, code=550, detail="bounced", actor="inbound")
        await session.commit()
        assert not moved
        assert (delivery.status, delivery.last_error) == (S.queued, None)
        logged = await last_event(session, delivery.id)
        assert (logged["from_status"], logged["to_status"]) == ("queued", "queued")
        assert logged["detail"] == "bounced (delivery was queued)"
