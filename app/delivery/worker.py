"""The worker: each pass, run every round it is handed, then the letter e-mail round.

A round is one queue's work given the time (closing digest periods, supporters' confirmation
mails, letters through a print-and-mail provider), handed in by the composition root
(`app/workers.py`), so delivery never imports the domains above it; the worker itself knows only
its own queue's letter e-mail round (`app/delivery/email/round.py`). The handed rounds go first,
in the order given: letters one of them queues (a digest's) then go out in the same pass. A
round may ask to run at most every so often (digest periods are hours long). A round that fails
is logged and the others still run; the next pass tries it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import utcnow
from app.delivery.email import Transport
from app.delivery.email.round import DigestAttachment, EmailRound, worker_name
from app.startup import causes

__all__ = ["Round", "Scheduled", "Worker", "worker_name"]

log = logging.getLogger(__name__)

# Another queue's work done in a pass, given the time: returns how much it did.
Round = Callable[[datetime], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A round handed to the worker: its name (for the log), its work, how often at most."""

    name: str
    run: Round
    every: timedelta = timedelta(0)  # zero: every pass


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: Transport,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rounds: Sequence[Scheduled] = (),
        digest_attachment: DigestAttachment | None = None,
    ) -> None:
        self.name = name or worker_name()
        self.clock = clock
        self.transport = transport
        self.email = EmailRound(
            sessionmaker,
            settings,
            transport,
            name=self.name,
            clock=clock,
            digest_attachment=digest_attachment,
        )
        self.rounds = tuple(rounds)
        # Per failing round: since when (monotonic), how many failures, when last logged.
        self._failing: dict[str, tuple[float, int, float]] = {}
        self._next_run = [datetime.min.replace(tzinfo=UTC) for _ in self.rounds]

    async def run_once(self, limit: int | None = None) -> int:
        """One pass: every handed round that is due, then up to `limit` (the `worker_batch`
        setting) letter e-mails; returns how much was done (letters made or tried, mails)."""
        done = 0
        for index, scheduled in enumerate(self.rounds):
            now = self.clock()
            if now < self._next_run[index]:
                continue
            # Set before running: a round that failed waits its turn too.
            self._next_run[index] = now + scheduled.every
            done += await self._guarded(scheduled.name, scheduled.run(now))
        return done + await self._guarded("letter e-mail", self.email.run(limit))

    async def _guarded(self, name: str, work: Awaitable[int]) -> int:
        try:
            done = await work
        except Exception as exc:
            # The database gone for a moment, a provider down: the other rounds still run.
            self._failed(name, exc)
            return 0
        if name in self._failing:
            since, failures, _ = self._failing.pop(name)
            log.info(
                "worker %s: the %s round recovered after %.0f s (%d failed %s)",
                self.name,
                name,
                time.monotonic() - since,
                failures,
                "attempt" if failures == 1 else "attempts",
            )
        return done

    def _failed(self, name: str, exc: Exception) -> None:
        """One line when a round starts failing (its traceback once, at DEBUG), one a minute
        while it goes on; never the error's text, which may quote data (an address, a query's
        parameters): its kind and what caused it."""
        now = time.monotonic()
        kinds = " from ".join(type(e).__name__ for e in list(causes(exc))[:5])
        since, failures, logged = self._failing.get(name, (now, 0, 0.0))
        self._failing[name] = (since, failures + 1, logged)
        if failures == 0:
            log.error(
                "worker %s: a round failed (%s): %s; trying again with back-off",
                self.name,
                name,
                kinds,
            )
            log.debug("worker %s: %s round traceback", self.name, name, exc_info=exc)
            self._failing[name] = (since, 1, now)
        elif now - logged >= 60:
            log.warning(
                "worker %s: the %s round is still failing after %.0f s (%d attempts): %s",
                self.name,
                name,
                now - since,
                failures + 1,
                kinds,
            )
            self._failing[name] = (since, failures + 1, now)

    def _back_off(self, idle_seconds: float) -> float:
        """How long to wait after a pass: longer while a round keeps failing (2, 4, 8 s, at
        most 10), so an outage is not hammered; the usual idle otherwise."""
        failures = max((f for _, f, _ in self._failing.values()), default=0)
        return max(idle_seconds, min(10.0, 2.0**failures)) if failures else idle_seconds

    async def run_forever(
        self, stop: asyncio.Event, *, idle_seconds: float = 2.0, batch: int | None = None
    ) -> None:
        while not stop.is_set():
            done = await self.run_once(batch)
            if not done or self._failing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._back_off(idle_seconds))
