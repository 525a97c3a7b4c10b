"""Several workers claiming at the same moment on PostgreSQL: each letter goes to one of them,
and together they keep every office within its caps (each counts what the others took)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from app.campaigns.schemas import Pacing
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.delivery.email import OutboxTransport
from app.delivery.email.round import EmailRound
from tests.conftest import fresh_database, require_backend
from tests.delivery.helpers import OFFICES, prepare_mailing, status_counts

CAP = 3


async def test_workers_claiming_at_once_keep_each_office_within_its_hourly_cap(
    tmp_path: Path,
) -> None:
    await require_backend("postgresql")
    async with fresh_database("postgresql", tmp_path) as url:
        pacing = Pacing(
            per_office_per_hour=CAP,
            office_hours_start=0,
            office_hours_end=24,
            office_days=list(range(7)),
            jitter_seconds=0,
        )
        await prepare_mailing(url, letters=10 * len(OFFICES), pacing=pacing)
        engine = make_engine(url)
        settings = Settings(database_url=url)
        sessionmaker = make_sessionmaker(engine)
        workers = [
            EmailRound(sessionmaker, settings, OutboxTransport(tmp_path / "outbox"), name=f"w{i}")
            for i in range(4)
        ]
        try:
            # Each claims a few letters of every office at once, in its own transaction.
            claims = await asyncio.gather(*(worker._claim(2 * len(OFFICES)) for worker in workers))
        finally:
            await engine.dispose()
        taken = Counter(item.outgoing.envelope_to for claim in claims for item in claim)
        assert sum(len(claim) for claim in claims) == sum(taken.values())
        assert taken == Counter({f"{office}@kill.example": CAP for office in OFFICES})
        counts = await status_counts(url)
        assert counts == {"sending": CAP * len(OFFICES), "queued": 7 * len(OFFICES)}
