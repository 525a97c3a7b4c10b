"""Assembling a delivery worker with every queue it serves (the composition root for workers).

The worker itself knows only its letter e-mail round; the other queues' rounds (closing digest
periods, supporters' confirmation mails, answer clocks of delivered letters, letters to a
print-and-mail provider) and the digest CSV its e-mails carry are handed to it from here, so
the delivery domain never imports the domains that depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accountability import round as clocks
from app.config import Settings
from app.db import utcnow
from app.delivery.email import Transport
from app.delivery.worker import Scheduled, Worker, worker_name
from app.digests import round as digests
from app.signatures.mailer import run_mail_round
from app.templating.kit import LetterKit

if TYPE_CHECKING:
    from app.delivery.post.provider import PrintMailClient


def build_worker(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    transport: Transport,
    *,
    kit: LetterKit,
    name: str | None = None,
    printmail: PrintMailClient | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Worker:
    """A worker for digests, e-mail and confirmation mails; with `printmail` (post_transport
    "provider"), also for letters sent through the print-and-mail provider."""
    name = name or worker_name()

    async def close_digests(now: datetime) -> int:
        return await digests.close_due_digests(sessionmaker, kit=kit, now=now, actor=name)

    async def confirmation_mails(now: datetime) -> int:
        return await run_mail_round(sessionmaker, transport, settings, now=now)

    async def answer_clocks(now: datetime) -> int:
        return await clocks.run_clock_round(sessionmaker, now=now)

    rounds = [
        Scheduled("digests", close_digests, every=digests.EVERY),
        Scheduled("confirmation mails", confirmation_mails),
        Scheduled("answer clocks", answer_clocks, every=clocks.EVERY),
    ]
    if printmail is not None:
        # Imported here: the postal round (PDF typesetting, the provider's HTTP client) is
        # needed only where letters go to a provider, and a starting worker should not wait for it.
        from app.delivery.post.round import run_postal_round

        client = printmail

        async def post(now: datetime) -> int:
            return await run_postal_round(sessionmaker, settings, client, worker_name=name, now=now)

        rounds.append(Scheduled("post", post))
    return Worker(
        sessionmaker,
        settings,
        transport,
        name=name,
        clock=clock,
        rounds=rounds,
        digest_attachment=digests.cosigners_attachment,
    )


def make_printmail_if_used(settings: Settings) -> PrintMailClient | None:
    if settings.post_transport != "provider":
        return None
    from app.delivery.post.provider import make_printmail

    return make_printmail(settings)
