"""Where signing meets the letters and the queue: confirm, withdraw, erase.

Confirming a signature writes the supporter's letters and queues their deliveries (individual
campaigns) or adds them to the next digest, in the caller's one transaction, so a confirmed
signature never lacks its letters. The letter identity is keyed by the supporter, so a second
click, a second signature or a retried request finds the letters already written. Letters and
delivery know nothing of signatures: this module calls them, never the other way round.

Erasing leaves nothing that names the supporter: their letters are scrubbed unless one really
reached an office (a rehearsal's e-mail to the staff test address or a TEST print batch did
not), the outbox loses its copies of their mails, and on SQLite the write-ahead log, which
still holds the pages as they were, is checkpointed and truncated once the erasure commits.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, exists, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign, CampaignMode, CampaignStatus
from app.delivery import service as delivery_service
from app.delivery.email import erase_from_outbox, evidence
from app.delivery.models import Delivery, DeliveryStatus, PrintBatch
from app.delivery.queue.schedule import campaign_schedule
from app.digests import service as digests
from app.letters import service as letters_service
from app.letters.models import Letter
from app.letters.schemas import SenderIn
from app.letters.service import StoredLetter
from app.recipients.channels import ChannelKind
from app.signatures import service
from app.signatures.models import Signature, SignatureStatus, Supporter, TokenPurpose
from app.templating.kit import LetterKit

log = logging.getLogger(__name__)

ACTOR = "supporter"
ERASED_TEXT = "(erased at the supporter's request)"
# Deliveries that have not gone anywhere yet, and what withdrawing makes of them.
_STOPPABLE = {
    DeliveryStatus.queued: DeliveryStatus.cancelled,
    DeliveryStatus.open: DeliveryStatus.skipped,
}
# A letter counts as delivered (and is kept as sent) once any of its deliveries got this far.
_WENT_OUT = (
    DeliveryStatus.sending,
    DeliveryStatus.sent,
    DeliveryStatus.delivered,
    DeliveryStatus.bounced,
    DeliveryStatus.printed,
    DeliveryStatus.posted,
    DeliveryStatus.returned,
    DeliveryStatus.done,
)
# ...unless all it did was rehearse: a printed TEST batch (its pages say DO NOT POST), or an
# e-mail of a campaign in test mode, which went to the staff test address. A delivery does not
# record that it was diverted, so the campaign's mode now stands for its mode when it went: a
# campaign taken out of test mode keeps its rehearsed letters, one put into it scrubs them.
_REHEARSAL = Delivery.batch_id.in_(select(PrintBatch.id).where(PrintBatch.test_mode)) | (
    (Delivery.channel == ChannelKind.email)
    & exists().where(
        Campaign.id == Letter.campaign_id,
        Campaign.test_mode,
        Campaign.test_address.is_not(None),
    )
)


def sender_of(signature: Signature) -> SenderIn:
    return SenderIn(
        name=signature.name,
        city=signature.city,
        country=signature.country,
        message=signature.message,
    )


async def campaign_of(session: AsyncSession, signature: Signature) -> Campaign:
    slug = await session.scalar(select(Campaign.slug).where(Campaign.id == signature.campaign_id))
    assert slug is not None  # a foreign key
    return await campaigns_service.get_campaign(session, slug=slug)


async def confirm(
    session: AsyncSession, *, token: str, kit: LetterKit, now: datetime
) -> tuple[Signature, str]:
    """Confirm by the e-mail link, write (or co-sign) the letters; returns the signature and a
    new status-page token."""
    signature = await service.confirm(session, token=token, now=now)
    campaign = await campaign_of(session, signature)
    if campaign.status is CampaignStatus.closed:
        raise service.NotAccepting("this campaign has ended; nothing more is sent")
    key = signature.supporter.email_key
    assert key is not None  # erasure deletes every link, so an erased supporter cannot confirm
    sender = sender_of(signature)
    if campaign.mode is CampaignMode.digest:
        await digests.add_cosigner(session, campaign=campaign, sender=sender, supporter_key=key)
    else:

        async def queue(stored: Sequence[StoredLetter]) -> int:
            return await delivery_service.queue(session, stored, actor=ACTOR)

        result = await letters_service.create_letters(
            session,
            campaign=campaign,
            sender=sender,
            kit=kit,
            today=now.date(),
            on_stored=queue,
            supporter_key=key,
        )
        for letter in result.created:
            letter.signature_id = signature.id
        await session.flush()
    return signature, service.issue_token(session, signature, TokenPurpose.status, now=now)


async def sending_by(
    session: AsyncSession, *, campaign: Campaign, now: datetime
) -> datetime | None:
    """When the campaign's waiting e-mails (a newly confirmed supporter's among them, at the
    back of each office's queue) should all have gone, from the pacing; None if none wait."""
    schedule = await campaign_schedule(session, campaign=campaign, now=now)
    return max((s.drains_by for s in schedule if s.drains_by is not None), default=None)


async def _stop_deliveries(session: AsyncSession, signature_ids: Sequence[int]) -> int:
    """Cancel the signatures' deliveries that have not started; returns how many."""
    waiting = await session.scalars(
        select(Delivery)
        .join(Letter, Letter.id == Delivery.letter_id)
        .where(Letter.signature_id.in_(signature_ids), Delivery.status.in_(list(_STOPPABLE)))
        .with_for_update(of=Delivery)
    )
    stopped = 0
    for delivery in waiting:
        delivery_service.transition(
            session,
            delivery,
            _STOPPABLE[delivery.status],
            actor=ACTOR,
            detail="the supporter withdrew their signature",
        )
        stopped += 1
    await session.flush()
    return stopped


async def withdraw(session: AsyncSession, *, signature: Signature, now: datetime) -> int:
    """Withdraw a signature: letters not yet sent are cancelled; returns how many."""
    service.withdraw(session, signature=signature, now=now)
    campaign = await session.get(Campaign, signature.campaign_id)
    key = signature.supporter.email_key
    if campaign is not None and campaign.mode is CampaignMode.digest and key is not None:
        await digests.withdraw_cosigner(
            session, campaign_id=campaign.id, supporter_key=key, erase=False
        )
    return await _stop_deliveries(session, [signature.id])


async def erase(
    session: AsyncSession, *, supporter: Supporter, now: datetime, outbox: Path | None = None
) -> None:
    """Erase a supporter: letters not yet sent (or only rehearsed) are cancelled and scrubbed,
    co-signatures in digests scrubbed, their signatures and address emptied and their mails
    deleted from `outbox` (the mail transport's folder, if any). Counts stay as they were."""
    await _scrub_disk_on_commit(session)
    signatures = await service.signatures_of(session, supporter_id=supporter.id)
    ids = [s.id for s in signatures]
    address = supporter.email
    if supporter.email_key is not None:
        await _erase_cosignatures(session, signatures, key=supporter.email_key)
    for signature in signatures:
        if signature.status is SignatureStatus.pending:
            # Never confirmed: it cannot be confirmed any more, and it counts for nothing.
            service.withdraw(session, signature=signature, now=now)
    await _stop_deliveries(session, ids)
    await _scrub_unsent_letters(session, ids)
    # The bytes kept as proof of each e-mail carry the supporter's name: they go, the hash stays.
    await evidence.erase_content(session, signature_ids=ids)
    await service.erase(session, supporter=supporter, now=now)
    await session.flush()
    if outbox is not None:
        await _erase_mails(session, ids, outbox=outbox, address=address)


async def _erase_cosignatures(
    session: AsyncSession, signatures: Sequence[Signature], *, key: str
) -> None:
    """Scrub the supporter from the digests of every digest campaign they co-signed."""
    modes = dict(
        (
            await session.execute(
                select(Campaign.id, Campaign.mode).where(
                    Campaign.id.in_({s.campaign_id for s in signatures})
                )
            )
        ).all()
    )
    for signature in signatures:
        if modes.get(signature.campaign_id) is CampaignMode.digest:
            await digests.withdraw_cosigner(
                session, campaign_id=signature.campaign_id, supporter_key=key, erase=True
            )


async def _scrub_unsent_letters(session: AsyncSession, signature_ids: Sequence[int]) -> None:
    """Empty the letters that never went out (or only in a rehearsal): nothing of them is kept."""
    went_out = exists().where(
        Delivery.letter_id == Letter.id, Delivery.status.in_(_WENT_OUT), ~_REHEARSAL
    )
    await session.execute(
        update(Letter)
        .where(Letter.signature_id.in_(signature_ids), ~went_out)
        .values(
            sender_name="",
            sender_city="",
            sender_country="",
            personal_message="",
            body=ERASED_TEXT,
        )
        .execution_options(synchronize_session=False)
    )


async def _erase_mails(
    session: AsyncSession, signature_ids: Sequence[int], *, outbox: Path, address: str | None
) -> None:
    """Delete the supporter's letters and mails from the outbox folder."""
    sent = await session.scalars(
        select(Delivery.external_id)
        .join(Letter, Letter.id == Delivery.letter_id)
        .where(
            Letter.signature_id.in_(signature_ids),
            Delivery.channel == ChannelKind.email,
            Delivery.external_id.is_not(None),
        )
    )
    # Before the commit, not after: a crash in between leaves the data in the database,
    # where erasing again finds it, rather than files nothing points to any more.
    await asyncio.to_thread(
        erase_from_outbox,
        outbox,
        message_ids=[m for m in sent if m],
        addresses=[address] if address else [],
    )


async def _scrub_disk_on_commit(session: AsyncSession) -> None:
    """On SQLite: zero what this transaction frees, and once it commits copy the WAL into the
    database and truncate it.

    The WAL keeps every page as earlier transactions wrote it (the address, the name) until a
    checkpoint, and without `secure_delete` the database file keeps a rewritten row's old bytes
    in free space. PostgreSQL keeps dead rows until VACUUM, which is its operators' schedule."""
    sync_session = session.sync_session
    bind = sync_session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # The connection's setting from here on (this transaction's writes and later ones).
    await session.execute(text("PRAGMA secure_delete=ON"))
    if not isinstance(bind, Engine):
        return  # bound to an outer transaction (the tests'): nothing reaches the disk here

    def checkpoint(_session: Session) -> None:
        # A connection of its own, outside any transaction (a checkpoint cannot run inside
        # one); on the driver's cursor, since a statement through SQLAlchemy would begin one.
        try:
            with bind.connect() as connection:
                cursor: Any = connection.connection.cursor()
                try:
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    busy = cursor.fetchone()[0]
                finally:
                    cursor.close()
        except (SQLAlchemyError, sqlite3.Error):
            # The erasure is committed: report it done; SQLite's own checkpoints follow.
            log.exception("WAL checkpoint after an erasure failed")
            return
        if busy:
            log.warning("WAL checkpoint after an erasure was blocked by a reader")

    event.listen(sync_session, "after_commit", checkpoint, once=True)
