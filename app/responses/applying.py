"""What a matched inbound message does to the letter it is about.

A bounce changes its delivery through delivery's own actions: a report of delivery moves it to
`delivered`, a permanent failure (5.x.x) to `bounced` (`delivery.service.mark_bounced`, with the
SMTP code and the DSN's status and diagnostic in the event), a delay (4.x.x) is only noted; after
`hard_bounces_before_suspect` letters bounced for good at an office's address, that e-mail
channel is marked suspect by recipients (`recipients.health.mark_suspect`). A reply or an
auto-reply becomes a response linked to the letter, office, case and campaign.
"""

from __future__ import annotations

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import utcnow
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryStatus
from app.errors import NotFound
from app.letters.models import Letter
from app.recipients import health
from app.recipients.channels import ChannelKind
from app.responses.bounces import Bounce, DsnRecipient
from app.responses.models import (
    InboundKind,
    InboundMessage,
    Response,
    ResponseKind,
    ResponseMedium,
)
from app.responses.parsing import Parsed
from app.responses.suggest import suggest_kind

PIPELINE = "inbound mail"  # the actor of what the pipeline does on its own


def clip(value: str | None, length: int) -> str | None:
    """`value` cut to its column's `length` (None if empty)."""
    return value[:length] if value else None


def describe(parsed: Parsed) -> str:
    """What the message is, in the words the inbox shows."""
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


def record_bounce_fields(
    message: InboundMessage, parsed: Parsed, delivery: Delivery | None
) -> DsnRecipient | None:
    """Keep what a bounce says about the delivery's address on the message; that DSN block."""
    if parsed.bounce is None:
        return None
    block = _pick(parsed.bounce, delivery.address if delivery else None)
    if block is not None:
        message.dsn_recipient = clip(block.recipient, 320)
        message.dsn_status = block.status
        message.hard_bounce = block.hard
    return block


async def apply(
    session: AsyncSession,
    *,
    message: InboundMessage,
    parsed: Parsed,
    delivery: Delivery,
    settings: Settings,
    actor: str = PIPELINE,
) -> Response | None:
    """Apply `message` to `delivery`: a bounce changes it; a reply becomes a response."""
    message.delivery_id = delivery.id
    if parsed.bounce is not None:
        block = record_bounce_fields(message, parsed, delivery)
        message.detail = describe(parsed)
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
        from_name=clip(parsed.from_name, 300),
        from_address=clip(parsed.from_address, 320),
        subject=clip(parsed.subject, 500),
        excerpt=parsed.excerpt,
        recorded_by=actor,
    )
    session.add(response)
    await session.flush()
    what = "auto-reply" if auto else "reply"
    message.detail = describe(parsed) + f": response {response.id}"
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
    if block.action == "delivered" and delivery_service.allows(delivery, DeliveryStatus.delivered):
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
    delivery_service.mark_bounced(
        session, delivery, code=block.smtp_code, detail=detail, actor=actor
    )
    await session.flush()
    await _maybe_suspect(session, delivery, block, settings=settings, actor=actor)


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
    channel = await health.trusted_email_channel(
        session, recipient_id=delivery.recipient_id, address=address
    )
    if channel is None:
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
    health.mark_suspect(
        session,
        channel,
        reason=f"{bounced} letters bounced for good at {address} "
        f"(last: {block.status or 'no status'})",
        actor=actor,
        now=utcnow(),
    )
