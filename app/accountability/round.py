"""The answer-clock round a worker runs: start clocks for delivered letters, settle answered ones.

Handed to the worker by the composition root (`app/workers.py`), once a minute (`EVERY`): due
dates are days long, and a response recorded by staff shows on the clock within a minute.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accountability import service

log = logging.getLogger(__name__)
EVERY = timedelta(minutes=1)


async def run_clock_round(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """One round in one transaction; returns how many clocks were started or changed."""
    async with sessionmaker() as session, session.begin():
        started = await service.start_clocks(session, now=now)
        settled = await service.settle_clocks(session)
    if started or settled:
        log.info("answer clocks: %s started, %s settled", started, settled)
    return started + settled
