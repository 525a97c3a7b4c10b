"""Kill test: workers SIGKILLed at random moments while a mailing goes out lose nothing.

A real aiosmtpd server on 127.0.0.1 receives a 2,000-letter mailing sent by `appeals worker`
subprocesses (1 on SQLite, 4 on PostgreSQL). At least 10 times, a random worker is killed and
a new one started. Every letter must end sent; the server may see a letter twice only for a
kill, and each such letter's log says its first outcome is unknown.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.schemas import CampaignCreate, Pacing, Targets
from app.config import Settings
from app.dataset import service as dataset_service
from app.db import make_engine, utcnow
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryEvent
from app.letters import service as letters_service
from app.letters.schemas import SenderIn
from app.migrations import upgrade
from app.recipients.files import ChannelKind
from app.recipients.models import RecipientChannel
from app.staff.models import Role, StaffUser
from tests.conftest import (
    ALEMBIC_DIR,
    CASES_DIR,
    RECIPIENTS_DIR,
    fresh_database,
    require_backend,
)
from tests.delivery.test_worker import _free_port

LETTERS = 2000
KILLS = 10
WORKERS = {"sqlite": 1, "postgresql": 4}


class CountingSink:
    def __init__(self) -> None:
        self.message_ids: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.message_ids[line.split(b":", 1)[1].strip().decode()] += 1
                break
        return "250 OK"


async def _prepare(url: str) -> None:
    engine = make_engine(url)
    settings = Settings(database_url=url)
    await upgrade(engine, ALEMBIC_DIR)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await dataset_service.import_recipients(session, folder=RECIPIENTS_DIR)
        await dataset_service.import_cases(session, folder=CASES_DIR)
        offices = [
            "pace-president",
            "coe-secretary-general",
            "osce-pa-president",
            "eusr-human-rights",
        ]
        for office in offices:
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
        kit = letters_service.LetterKit.from_settings(settings)
        campaign = await campaigns_service.create_campaign(
            session,
            data=CampaignCreate(
                slug="kill",
                title="Kill test",
                cases=["bokayev-ayan"],
                targets=Targets(recipients=offices),
                template="individual-appeal",
                channel_preference=[ChannelKind.email],
                pacing=Pacing(
                    per_office_per_hour=10_000,
                    per_office_per_day=100_000,
                    office_hours_start=0,
                    office_hours_end=24,
                    office_days=list(range(7)),
                    jitter_seconds=0,
                ),
            ),
            actor=user,
            library=kit.library,
        )

        async def queue(stored: Any) -> int:
            return await delivery_service.queue(session, stored, actor="test")

        senders = (SenderIn(name=f"Supporter {i}") for i in range(LETTERS // len(offices)))
        created = await letters_service.render_many(
            session,
            campaign=campaign,
            senders=senders,
            kit=kit,
            today=utcnow().date(),
            on_stored=queue,
        )
        assert created == LETTERS
        await session.commit()
    await engine.dispose()


async def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        counts = {status.value: n for status, n in rows}
    await engine.dispose()
    return counts


@pytest.mark.parametrize(
    ("backend", "planned_kills"),
    [("sqlite", KILLS), ("postgresql", KILLS), ("postgresql", 0)],
    ids=["sqlite-1-worker-killed", "postgresql-4-workers-killed", "postgresql-4-workers-no-kill"],
)
async def test_killed_workers_lose_no_letter(
    backend: str, planned_kills: int, tmp_path: Path
) -> None:
    """With no kill, several workers must never send one letter twice (SKIP LOCKED claims)."""
    await require_backend(backend)
    sink = CountingSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    rng = random.Random(20261125)
    async with fresh_database(backend, tmp_path) as url:
        await _prepare(url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPEALS_")}
        env.update(
            APPEALS_DATABASE_URL=url,
            APPEALS_MAIL_TRANSPORT="smtp",
            APPEALS_SMTP_PORT=str(port),
            APPEALS_LEASE_SECONDS="10",
            APPEALS_VAR_DIR=str(tmp_path / "var"),
        )

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "app", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        workers = [start() for _ in range(WORKERS[backend])]
        kills = 0
        try:
            while kills < planned_kills:
                await asyncio.sleep(rng.uniform(0.3, 1.2))
                victim = rng.randrange(len(workers))
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                kills += 1
                workers[victim] = start()
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:  # killed workers' leases expire after 10 s
                if (await _counts(url)).get("sent", 0) == LETTERS:
                    break
                await asyncio.sleep(1)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
            controller.stop()

        counts = await _counts(url)
        assert counts == {"sent": LETTERS}, counts
        assert len(sink.message_ids) == LETTERS  # every letter reached the server
        duplicates = {mid: n for mid, n in sink.message_ids.items() if n > 1}
        assert sum(n - 1 for n in duplicates.values()) <= kills
        engine = make_engine(url)
        async with AsyncSession(engine) as session:
            unknown = await session.scalar(
                select(func.count(DeliveryEvent.id)).where(
                    DeliveryEvent.detail.like("%is unknown%")
                )
            )
        await engine.dispose()
        assert (unknown or 0) >= len(duplicates)  # each duplicate is explained in the log
        if planned_kills == 0:
            assert duplicates == {}
            assert unknown == 0
        print(
            f"[{backend}] {kills} kills, {len(duplicates)} duplicates, "
            f"{unknown} outcome-unknown events"
        )
