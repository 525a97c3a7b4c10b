"""Shared by the delivery tests that run whole mailings through `appeals worker` subprocesses.

A database migrated and filled with a queued mailing to four offices whose e-mail addresses staff
have verified, a real SMTP server on 127.0.0.1 that counts what it receives, and the queries that
check the outcome (how many deliveries are in each status, how many outcomes were unknown).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.schemas import CampaignCreate, Pacing, Targets
from app.config import Settings
from app.dataset import service as dataset_service
from app.db import make_engine, utcnow
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryEvent, DeliveryStatus
from app.letters import service as letters_service
from app.letters.schemas import SenderIn
from app.migrations import upgrade
from app.recipients.channels import ChannelKind
from app.recipients.models import RecipientChannel
from app.staff.models import Role, StaffUser
from app.templating.kit import LetterKit
from tests.conftest import ALEMBIC_DIR, CASES_DIR, RECIPIENTS_DIR
from tests.delivery.test_worker import _free_port

OFFICES = ("pace-president", "coe-secretary-general", "osce-pa-president", "eusr-human-rights")
UNKNOWN_OUTCOME = "is unknown"  # how the worker logs an expired lease (app.delivery.worker)


def message_id(content: bytes) -> str:
    """The Message-ID header of a message as received, without parsing the whole message."""
    for line in content.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
        if not line:
            break  # the end of the headers
    raise AssertionError("a message without a Message-ID")


class CountingSink:
    """Accepts every message and counts each Message-ID it receives."""

    def __init__(self) -> None:
        self.message_ids: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.message_ids[message_id(envelope.content)] += 1
        return "250 OK"


@contextmanager
def serving(handler: object) -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 answering with `handler`; yields its port."""
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


OPEN = Pacing(
    per_office_per_hour=10_000,
    per_office_per_day=100_000,
    office_hours_start=0,
    office_hours_end=24,
    office_days=list(range(7)),
    jitter_seconds=0,
)  # holds nothing back


async def prepare_mailing(url: str, *, letters: int, pacing: Pacing = OPEN) -> None:
    """Migrate the empty database at `url` and queue `letters` e-mails, spread over OFFICES."""
    assert letters % len(OFFICES) == 0, "each office gets the same number of letters"
    engine = make_engine(url)
    settings = Settings(database_url=url)
    await upgrade(engine, ALEMBIC_DIR)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await dataset_service.import_recipients(session, folder=RECIPIENTS_DIR)
        await dataset_service.import_cases(session, folder=CASES_DIR)
        for office in OFFICES:
            session.add(
                RecipientChannel(
                    recipient_id=office,
                    kind=ChannelKind.email,
                    value=f"{office}@kill.example",
                    source="test",
                    obfuscated=False,
                    position=9,
                )
            )
        await session.commit()
        session.expire_all()  # the offices' channel lists were loaded before these were added
        user = StaffUser(email="kill@staff.example", role=Role.campaigner)
        session.add(user)
        await session.flush()
        kit = LetterKit.from_settings(settings)
        campaign = await campaigns_service.create_campaign(
            session,
            data=CampaignCreate(
                slug="kill",
                title="Kill test",
                cases=["bokayev-ayan"],
                targets=Targets(recipients=list(OFFICES)),
                template="individual-appeal",
                channel_preference=[ChannelKind.email],
                pacing=pacing,
            ),
            actor=user,
            library=kit.library,
        )

        async def queue(stored: Any) -> int:
            return await delivery_service.queue(session, stored, actor="test")

        senders = (SenderIn(name=f"Supporter {i}") for i in range(letters // len(OFFICES)))
        created = await letters_service.render_many(
            session,
            campaign=campaign,
            senders=senders,
            kit=kit,
            today=utcnow().date(),
            on_stored=queue,
        )
        assert created == letters
        await session.commit()
    await engine.dispose()


async def status_counts(url: str) -> dict[str, int]:
    """How many deliveries are in each status."""
    engine = make_engine(url)
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        counts = {status.value: n for status, n in rows}
    await engine.dispose()
    return counts


async def backends_of(url: str, name: str) -> int:
    """PostgreSQL: how many server processes still serve connections named `name` (a worker's
    application_name). A killed worker's backend may still be finishing a statement it had
    received; it exits when it finds the client gone."""
    engine = make_engine(url)
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": name},
        )
    await engine.dispose()
    return int(count or 0)


async def lease_holders(url: str) -> dict[str, int]:
    """Per worker name (host:pid), how many deliveries it holds under a lease now."""
    engine = make_engine(url)
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(Delivery.lease_owner, func.count())
            .where(Delivery.status == DeliveryStatus.sending)
            .group_by(Delivery.lease_owner)
        )
        holders = {str(owner): n for owner, n in rows}
    await engine.dispose()
    return holders


async def unknown_outcomes(url: str) -> int:
    """How many events say a lease expired, so that attempt's outcome is unknown."""
    engine = make_engine(url)
    async with AsyncSession(engine) as session:
        unknown = await session.scalar(
            select(func.count(DeliveryEvent.id)).where(
                DeliveryEvent.detail.contains(UNKNOWN_OUTCOME)
            )
        )
    await engine.dispose()
    return unknown or 0
