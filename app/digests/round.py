"""The digest round a worker runs: close every due digest period, and attach each digest's CSV.

When a digest campaign's period has ended, its waiting co-signers go into one digest, whose
letters are queued like any (`app.delivery.service.queue`, in the same transaction). Periods are
hours long, so the composition root (`app/workers.py`) runs this round once a minute
(`EVERY`). The e-mail round, which sits below digests, attaches each digest's CSV of co-signers
to its e-mails through `cosigners_attachment`, handed to it from there.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.delivery import service as delivery_service
from app.digests import service
from app.errors import NotFound
from app.templating.kit import LetterKit

log = logging.getLogger(__name__)
EVERY = timedelta(minutes=1)  # how often looking for an ended period is plenty


async def close_due_digests(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    kit: LetterKit,
    now: datetime,
    actor: str,
) -> int:
    """Every digest campaign whose period has ended gets its letters, queued like any; returns
    how many digests were made."""
    made = 0
    async with sessionmaker() as session, session.begin():
        queue = functools.partial(delivery_service.queue, session, actor=actor)
        for campaign in await service.due_campaigns(session, now=now):
            try:
                digest = await service.make_digest(
                    session, campaign=campaign, kit=kit, now=now, actor=actor, on_stored=queue
                )
            except NotFound:
                continue  # another worker closed this period first
            log.info("digest %s of %s: %s co-signers", digest.id, campaign.slug, digest.cosigners)
            made += 1
    return made


async def cosigners_attachment(session: AsyncSession, digest_id: int) -> tuple[str, str]:
    """The file attached to each e-mail of digest `digest_id`: its co-signers, as CSV."""
    return service.CSV_NAME, await service.digest_csv(session, digest_id=digest_id)
