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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.audit import service as audit
from app.campaigns.models import Campaign
from app.config import Settings
from app.db import utcnow
from app.delivery import service as delivery_service
from app.delivery.models import TRANSITIONS, Delivery, DeliveryStatus
from app.errors import Conflict, NotFound
from app.letters.models import Letter
from app.recipients.channels import ChannelKind
from app.recipients.models import RecipientChannel
from app.responses import matching, mime, parsing
from app.responses.bounces import Bounce, DsnRecipient
from app.responses.limits import Unparseable
from app.responses.models import (
    INBOUND_TRANSITIONS,
    InboundKind,
    InboundMessage,
    InboundStatus,
    Response,
    ResponseKind,
    ResponseMedium,
)
from app.responses.parsing import Parsed
from app.responses.suggest import suggest_kind
from app.staff.models import StaffUser

PIPELINE = "inbound mail"  # the actor of what the pipeline does on its own


class IllegalInboundMove(Conflict):
    kind = "IllegalTransition"


@dataclass(frozen=True, slots=True)
class Outcome:
    message: InboundMessage
    response: Response | None
    duplicate: bool


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


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
        envelope_to=_clip(envelope_to, 320),
        message_id=_clip(
            next(iter(mime.message_ids(mime.header(headers, "Message-ID"))), None), 500
        ),
        from_address=_clip(sender.lower(), 320),
        subject=_clip(mime.header(headers, "Subject"), 500),
        status=InboundStatus.received,
    )
    session.add(row)
    await session.flush()
    return row, True


def _move(message: InboundMessage, to: InboundStatus, *, now: datetime) -> None:
    if to not in INBOUND_TRANSITIONS[message.status]:
        raise IllegalInboundMove(
            f"inbound message {message.id} is {message.status.value}: it cannot become {to.value}"
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
    if match is None:
        _move(message, InboundStatus.unmatched, now=now)
        message.detail = f"{_describe(parsed)}; no delivery matched: waiting for review"
        _record_bounce_fields(message, parsed, None)
        return Outcome(message, None, duplicate=False)
    response = await _apply(
        session, message=message, parsed=parsed, delivery=match.delivery, settings=settings
    )
    message.matched_by = match.by
    _move(message, InboundStatus.matched, now=now)
    return Outcome(message, response, duplicate=False)


def _describe(parsed: Parsed) -> str:
    if parsed.bounce:
        parts = [
            f"{r.action} {r.status or '(no status)'} for {r.recipient}"
            for r in parsed.bounce.recipients
        ]
        # A clear bounce can name no address we can read (a mailer daemon's bare notice).
        return "bounce: " + "; ".join(parts) if parts else "bounce naming no recipient"
    if parsed.kind is InboundKind.auto_reply:
        return f"auto-reply ({parsed.auto_reason})"
    return "reply"


def _pick(bounce: Bounce, address: str | None) -> DsnRecipient | None:
    """The DSN block about the delivery's address, else the first failure reported."""
    wanted = (address or "").lower()
    blocks = bounce.recipients
    return next((r for r in blocks if wanted and r.recipient == wanted), None) or next(
        iter(bounce.failures or blocks), None
    )


def _record_bounce_fields(
    message: InboundMessage, parsed: Parsed, delivery: Delivery | None
) -> DsnRecipient | None:
    if parsed.bounce is None:
        return None
    block = _pick(parsed.bounce, delivery.address if delivery else None)
    if block is not None:
        message.dsn_recipient = _clip(block.recipient, 320)
        message.dsn_status = block.status
        message.hard_bounce = block.hard
    return block


async def _apply(
    session: AsyncSession,
    *,
    message: InboundMessage,
    parsed: Parsed,
    delivery: Delivery,
    settings: Settings,
    actor: str = PIPELINE,
) -> Response | None:
    message.delivery_id = delivery.id
    if parsed.bounce is not None:
        block = _record_bounce_fields(message, parsed, delivery)
        message.detail = _describe(parsed)
        await _apply_bounce(session, message, delivery, block, settings=settings, actor=actor)
        return None
    letter = await session.get(Letter, delivery.letter_id)
    if letter is None:  # a foreign key holds it: cannot happen
        raise NotFound(f"delivery {delivery.id} has no letter")
    auto = parsed.kind is InboundKind.auto_reply
    response = Response(
        campaign_id=letter.campaign_id,
        recipient_id=delivery.recipient_id,
        case_id=letter.case_id,
        letter_id=letter.id,
        delivery_id=delivery.id,
        inbound_message_id=message.id,
        medium=ResponseMedium.email,
        kind=ResponseKind.auto_reply if auto else ResponseKind.unclassified,
        suggested_kind=ResponseKind.auto_reply if auto else suggest_kind(parsed.excerpt),
        received_at=parsed.date or message.received_at,
        from_name=_clip(parsed.from_name, 300),
        from_address=_clip(parsed.from_address, 320),
        subject=_clip(parsed.subject, 500),
        excerpt=parsed.excerpt,
        recorded_by=actor,
    )
    session.add(response)
    await session.flush()
    what = "auto-reply" if auto else "reply"
    message.detail = _describe(parsed) + f": response {response.id}"
    delivery_service.note(
        session,
        delivery,
        actor=actor,
        detail=f"{what} received from {parsed.from_address or 'unknown sender'} "
        f"(inbound message {message.id}, response {response.id})",
    )
    return response


async def _apply_bounce(
    session: AsyncSession,
    message: InboundMessage,
    delivery: Delivery,
    block: DsnRecipient | None,
    *,
    settings: Settings,
    actor: str,
) -> None:
    source = f"inbound message {message.id}"
    if block is None:
        delivery_service.note(
            session, delivery, actor=actor, detail=f"bounce ({source}) names no recipient"
        )
        return
    said = f"{block.status or 'no status'} for {block.recipient}" + (
        f": {block.diagnostic}" if block.diagnostic else ""
    )
    if block.action == "delivered" and _allowed(delivery, DeliveryStatus.delivered):
        delivery_service.transition(
            session,
            delivery,
            DeliveryStatus.delivered,
            actor=actor,
            detail=f"delivery reported ({source}): {said}",
        )
        return
    if not block.hard:
        what = block.action
        if block.action == "failed":  # a 4.x.x the remote side gave up on: not the address
            what = "gave up after temporary failures (not counted as a bounce)"
        delivery_service.note(session, delivery, actor=actor, detail=f"{what} ({source}): {said}")
        return
    detail = f"bounced ({source}): {said}"
    if _allowed(delivery, DeliveryStatus.bounced):
        delivery_service.transition(
            session,
            delivery,
            DeliveryStatus.bounced,
            actor=actor,
            code=block.smtp_code,
            detail=detail,
        )
        delivery.last_error_code = block.smtp_code
        delivery.last_error = detail
    else:
        delivery_service.note(
            session,
            delivery,
            actor=actor,
            detail=f"{detail} (delivery was {delivery.status.value})",
        )
    await session.flush()
    await _maybe_suspect(session, delivery, block, settings=settings, actor=actor)


def _allowed(delivery: Delivery, to: DeliveryStatus) -> bool:
    return to in TRANSITIONS[delivery.channel].get(delivery.status, frozenset())


async def _maybe_suspect(
    session: AsyncSession,
    delivery: Delivery,
    block: DsnRecipient,
    *,
    settings: Settings,
    actor: str,
) -> None:
    """Mark the office's e-mail channel suspect once enough of its letters bounced for good.

    Only bounces from the office's own address count: a rehearsal's bounces come from the
    staff test address, and a forwarding address's bounces name the forward."""
    address = block.recipient
    if delivery.channel is not ChannelKind.email or address != (delivery.address or "").lower():
        return
    channel = await session.scalar(
        select(RecipientChannel).where(
            RecipientChannel.recipient_id == delivery.recipient_id,
            RecipientChannel.kind == ChannelKind.email,
            func.lower(RecipientChannel.value) == address,
        )
    )
    if channel is None or channel.suspect_since is not None:
        return
    bounced = await session.scalar(
        select(func.count(distinct(InboundMessage.delivery_id)))
        .join(Delivery, Delivery.id == InboundMessage.delivery_id)
        .where(
            Delivery.recipient_id == delivery.recipient_id,
            InboundMessage.hard_bounce.is_(True),
            func.lower(InboundMessage.dsn_recipient) == address,
        )
    )
    if (bounced or 0) < settings.hard_bounces_before_suspect:
        return
    channel.suspect_since = utcnow()
    channel.suspect_reason = (
        f"{bounced} letters bounced for good at {address} (last: {block.status or 'no status'})"
    )[:300]
    audit.record(
        session,
        actor=actor,
        action="recipient.channel.suspect",
        entity_type="recipient",
        entity_id=delivery.recipient_id,
        after={"channel_id": channel.id, "suspect_reason": channel.suspect_reason},
    )


# --- the review inbox -----------------------------------------------------------------------


async def get_message(session: AsyncSession, *, message_id: int) -> InboundMessage:
    message = await session.get(InboundMessage, message_id)
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
        raise IllegalInboundMove(
            f"inbound message {message.id} is {message.status.value}; only an unmatched one "
            "can be matched by hand"
        )
    parsed = parsing.parse(message.raw)
    response = await _apply(
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
