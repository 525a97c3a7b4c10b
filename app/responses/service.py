"""The inbound pipeline: store the raw message, classify it, match it, apply it.

`store` keeps the bytes first (the caller commits them on their own), so whatever happens next
the message is not lost: a message whose processing failed stays `received` and is processed
again when it arrives again (the same bytes are stored once) or by hand. `process` then:

- a message that cannot be read (`limits.Unparseable`: nested too deep, too many parts or header
  fields, or the parser failed on it) becomes `failed` with the reason in `detail`; it is never
  read again by the pipeline, so the MTA's or the IMAP poller's next try finds it done;
- a bounce: a permanent failure (5.x.x) moves the e-mail delivery to `bounced`, with the SMTP
  code and the DSN's status and diagnostic in the event; a delay (4.x.x) is noted on the
  delivery's timeline; after `hard_bounces_before_suspect` letters bounced for good at an
  office's address, that e-mail channel is marked suspect (the health report shows it);
- an auto-reply becomes a response of kind `auto_reply`, the delivery unchanged;
- a reply becomes a response (unclassified, with a suggested kind for staff to confirm),
  linked to the letter, office, case and campaign;
- anything that matches no delivery waits in the review inbox (`unmatched`).

Applying a matched message to its letter is `applying`'s; the review inbox (matching by hand,
ignoring, listing) is here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.audit import service as audit
from app.campaigns.models import Campaign
from app.config import Settings
from app.db import utcnow
from app.delivery.models import Delivery
from app.errors import NotFound
from app.letters.models import Letter
from app.responses import matching, mime, parsing
from app.responses.applying import apply, clip, describe, record_bounce_fields
from app.responses.limits import Unparseable
from app.responses.models import (
    INBOUND_MACHINE,
    InboundKind,
    InboundMessage,
    InboundStatus,
    Response,
)
from app.responses.parsing import Parsed
from app.signatures import bounces
from app.staff.models import StaffUser
from app.states import IllegalTransition


@dataclass(frozen=True, slots=True)
class Outcome:
    message: InboundMessage
    response: Response | None
    duplicate: bool


async def store(
    session: AsyncSession,
    *,
    raw: bytes,
    source: str,
    envelope_to: str | None,
    max_bytes: int,
    size: int | None = None,
) -> tuple[InboundMessage, bool]:
    """Keep `raw` (its first `max_bytes` if longer); returns (row, True if new).

    `size` is the whole message's, when only its start was fetched (a large IMAP message). The
    same bytes arriving twice (an MTA retrying, a mailbox read again) are stored once."""
    digest = hashlib.sha256(raw).hexdigest()
    existing = await session.scalar(select(InboundMessage).where(InboundMessage.sha256 == digest))
    if existing is not None:
        return existing, False
    headers = mime.headers_only(raw[:max_bytes])
    _name, sender = mime.sender(headers)
    row = InboundMessage(
        source=source,
        sha256=digest,
        raw=raw[:max_bytes],
        size=max(size or 0, len(raw)),
        truncated=max(size or 0, len(raw)) > max_bytes,
        envelope_to=clip(envelope_to, 320),
        message_id=clip(
            next(iter(mime.message_ids(mime.header(headers, "Message-ID"))), None), 500
        ),
        from_address=clip(sender.lower(), 320),
        subject=clip(mime.header(headers, "Subject"), 500),
        status=InboundStatus.received,
    )
    session.add(row)
    await session.flush()
    return row, True


def _move(message: InboundMessage, to: InboundStatus, *, now: datetime) -> None:
    INBOUND_MACHINE.check(
        message.status,
        to,
        what=f"inbound message {message.id} is {message.status.value}: it cannot become {to.value}",
    )
    message.status, message.status_changed_at = to, now


async def process(session: AsyncSession, *, message: InboundMessage, settings: Settings) -> Outcome:
    """Classify, match and apply a stored message; a processed one is left as it is."""
    if message.status is not InboundStatus.received:
        response = await session.scalar(
            select(Response).where(Response.inbound_message_id == message.id)
        )
        return Outcome(message, response, duplicate=True)
    now = utcnow()
    try:
        parsed = parsing.parse(message.raw)
    except Unparseable as exc:
        message.processed_at = now
        message.detail = f"could not be read: {exc.reason}"
        _move(message, InboundStatus.failed, now=now)
        return Outcome(message, None, duplicate=False)
    message.kind = InboundKind(parsed.kind)
    message.processed_at = now
    match = await matching.find_delivery(
        session,
        parsed,
        envelope_to=message.envelope_to,
        secret=settings.token_secret,
        previous=settings.token_secret_previous,
    )
    if match is None and await _confirmation_bounce(session, message, parsed, settings, now=now):
        return Outcome(message, None, duplicate=False)
    if match is None:
        _move(message, InboundStatus.unmatched, now=now)
        message.detail = f"{describe(parsed)}; no delivery matched: waiting for review"
        record_bounce_fields(message, parsed, None)
        return Outcome(message, None, duplicate=False)
    response = await apply(
        session, message=message, parsed=parsed, delivery=match.delivery, settings=settings
    )
    message.matched_by = match.by
    _move(message, InboundStatus.matched, now=now)
    return Outcome(message, response, duplicate=False)


async def _confirmation_bounce(
    session: AsyncSession,
    message: InboundMessage,
    parsed: Parsed,
    settings: Settings,
    *,
    now: datetime,
) -> bool:
    """A bounce of a supporter's confirmation mail, recorded on its signature; False if the
    message is not one."""
    mail = await matching.find_confirmation_mail(
        session,
        parsed,
        envelope_to=message.envelope_to,
        secret=settings.token_secret,
        previous=settings.token_secret_previous,
    )
    if mail is None:
        return False
    block = record_bounce_fields(message, parsed, None)
    bounces.record_bounce(
        session,
        mail.signature,
        number=mail.number,
        hard=block is not None and block.hard,
        status=block.status if block else None,
        source=f"inbound message {message.id}",
        now=now,
    )
    message.detail = f"bounce of confirmation mail {mail.number} of signature {mail.signature.id}"
    message.matched_by = mail.by
    _move(message, InboundStatus.matched, now=now)
    return True


# --- the review inbox -----------------------------------------------------------------------


async def get_message(
    session: AsyncSession, *, message_id: int, for_update: bool = False
) -> InboundMessage:
    """The message; `for_update` locks its row (PostgreSQL) so that of two staff matching it at
    once, the second finds it matched (a 409) instead of writing a second response."""
    message = await session.get(InboundMessage, message_id, with_for_update=for_update)
    if message is None:
        raise NotFound(f"no inbound message {message_id}")
    return message


async def match_by_hand(
    session: AsyncSession,
    *,
    message: InboundMessage,
    delivery: Delivery,
    actor: StaffUser,
    settings: Settings,
) -> Outcome:
    """Staff say which delivery an unmatched message is about; it is then applied as usual."""
    if message.status is not InboundStatus.unmatched:
        raise IllegalTransition(
            f"inbound message {message.id} is {message.status.value}; only an unmatched one "
            "can be matched by hand"
        )
    parsed = parsing.parse(message.raw)
    response = await apply(
        session,
        message=message,
        parsed=parsed,
        delivery=delivery,
        settings=settings,
        actor=actor.email,
    )
    message.matched_by, message.handled_by = "staff", actor.email
    _move(message, InboundStatus.matched, now=utcnow())
    audit.record(
        session,
        actor=actor,
        action="inbound.match",
        entity_type="inbound_message",
        entity_id=str(message.id),
        after={"delivery_id": delivery.id, "response_id": response.id if response else None},
    )
    await session.flush()
    return Outcome(message, response, duplicate=False)


async def set_ignored(
    session: AsyncSession, *, message: InboundMessage, ignored: bool, actor: StaffUser
) -> None:
    """Staff dismiss an unmatched message (spam, a newsletter), or bring it back for review."""
    before = message.status
    _move(message, InboundStatus.ignored if ignored else InboundStatus.unmatched, now=utcnow())
    message.handled_by = actor.email
    audit.record(
        session,
        actor=actor,
        action="inbound.ignore" if ignored else "inbound.review",
        entity_type="inbound_message",
        entity_id=str(message.id),
        before={"status": before.value},
        after={"status": message.status.value},
    )
    await session.flush()


async def list_messages(
    session: AsyncSession,
    *,
    status: InboundStatus | None,
    limit: int,
    offset: int,
    with_raw: bool = False,
) -> tuple[list[InboundMessage], int]:
    """Newest first; without the raw bytes unless asked."""
    query = select(InboundMessage)
    if status is not None:
        query = query.where(InboundMessage.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    if not with_raw:
        query = query.options(defer(InboundMessage.raw))
    rows = await session.scalars(
        query.order_by(InboundMessage.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total or 0


async def recent_bounces(
    session: AsyncSession, *, campaign: str | None, office: str | None, limit: int = 20
) -> list[InboundMessage]:
    """The latest bounces matched to deliveries (of a campaign, an office), newest first."""
    query = (
        select(InboundMessage)
        .options(defer(InboundMessage.raw))
        .join(Delivery, Delivery.id == InboundMessage.delivery_id)
        .where(InboundMessage.kind == InboundKind.bounce)
    )
    if campaign:
        query = (
            query.join(Letter, Letter.id == Delivery.letter_id)
            .join(Campaign, Campaign.id == Letter.campaign_id)
            .where(Campaign.slug == campaign)
        )
    if office:
        query = query.where(Delivery.recipient_id == office)
    rows = await session.scalars(query.order_by(InboundMessage.id.desc()).limit(limit))
    return list(rows)
