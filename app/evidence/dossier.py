"""A letter's dossier: the letter, each delivery and its send evidence, the delivery log, and
what came back (bounces, auto-replies, responses), as JSON with the SHA-256 of every item and of
the whole (`hashing`).

Supporter personal data (their name, e-mail, city, message, and the letter's text and the bytes
sent, which contain them) is left out unless staff ask for it (`include_personal`), and the
dossier says which it is. A supporter who was erased stays out either way: their letter's text
is gone from the record, and the bytes kept of its e-mails are emptied (the hash stays).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.delivery.email import evidence as sends
from app.delivery.models import Delivery, DeliveryEvent
from app.evidence import hashing
from app.letters import service as letters_service
from app.letters.models import Letter
from app.recipients.models import Recipient
from app.responses.models import InboundMessage, Response
from app.signatures.models import Signature, Supporter

OMITTED = "omitted (ask with include_personal=true)"
INCLUDED = "included at staff request"
ERASED = "erased on the supporter's request"


def _at(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


async def build(
    session: AsyncSession, *, letter_id: int, include_personal: bool, now: datetime
) -> dict[str, Any]:
    """The sealed dossier of `letter_id` (NotFound if there is no such letter)."""
    letter = await letters_service.get_letter(session, letter_id=letter_id)
    supporter = await _supporter(session, letter)
    erased = supporter is not None and supporter.erased_at is not None
    personal = include_personal and not erased
    deliveries = (
        await session.scalars(
            select(Delivery).where(Delivery.letter_id == letter.id).order_by(Delivery.id)
        )
    ).all()
    ids = [d.id for d in deliveries]
    items = [await _letter_item(session, letter, supporter, personal=personal)]
    items += [_delivery_item(d) for d in deliveries]
    items += [
        _send_item(e, personal=personal)
        for e in await sends.of_deliveries(session, delivery_ids=ids)
    ]
    items += await _events(session, ids)
    items += await _inbound(session, ids, personal=personal)
    items += await _responses(session, letter.id, ids, personal=personal)
    status = ERASED if erased else INCLUDED if personal else OMITTED
    return hashing.seal(
        {
            "format": hashing.FORMAT,
            "letter_id": letter.id,
            "generated_at": now.isoformat(),
            "personal_data": status,
            "items": items,
        }
    )


async def _supporter(session: AsyncSession, letter: Letter) -> Supporter | None:
    if letter.signature_id is None:
        return None  # a digest's letter, or one staff wrote
    return await session.scalar(
        select(Supporter)
        .join(Signature, Signature.supporter_id == Supporter.id)
        .where(Signature.id == letter.signature_id)
    )


async def _letter_item(
    session: AsyncSession, letter: Letter, supporter: Supporter | None, *, personal: bool
) -> dict[str, Any]:
    campaign = await session.get_one(Campaign, letter.campaign_id)
    office = await session.get_one(Recipient, letter.recipient_id)
    content: dict[str, Any] = {
        "letter_id": letter.id,
        "reference": letter.identity,
        "campaign": {"slug": campaign.slug, "title": campaign.title},
        "office": {
            "id": office.id,
            "office": office.office,
            "organisation": office.organisation,
        },
        "case_id": letter.case_id,
        "channel": letter.channel.value,
        "language": letter.language,
        "template": {"name": letter.template_name, "version": letter.template_version},
        "subject": letter.subject,
        "created_at": _at(letter.created_at),
    }
    if personal:
        content["sender"] = {
            "name": letter.sender_name,
            "city": letter.sender_city,
            "country": letter.sender_country,
            "message": letter.personal_message,
            "email": supporter.email if supporter is not None else None,
        }
        content["body"] = letter.body
    return hashing.item("letter", str(letter.id), content)


def _delivery_item(delivery: Delivery) -> dict[str, Any]:
    content = {
        "delivery_id": delivery.id,
        "channel": delivery.channel.value,
        "address": delivery.address,  # the office's, never the supporter's
        "status": delivery.status.value,
        "status_changed_at": _at(delivery.status_changed_at),
        "attempts": delivery.attempts,
        "external_id": delivery.external_id,
        "created_at": _at(delivery.created_at),
    }
    return hashing.item("delivery", str(delivery.id), content)


def _send_item(evidence: sends.SendEvidence, *, personal: bool) -> dict[str, Any]:
    content: dict[str, Any] = {
        "delivery_id": evidence.delivery_id,
        "attempt": evidence.attempt,
        "sent_at": _at(evidence.sent_at),
        "sha256": evidence.sha256,
        "size": evidence.size,
        "server": evidence.server,
        "peer": evidence.peer,
        "transcript": evidence.transcript,
        "final_reply": {"code": evidence.code, "text": evidence.answer},
        "dkim_signature": evidence.dkim_signature,
        "outbox_file": evidence.outbox_file,
        "content_note": evidence.content_note,
    }
    data = sends.content_of(evidence)
    if personal and data is not None:
        content["bytes_base64"] = base64.b64encode(data).decode("ascii")
    return hashing.item("send", str(evidence.id), content)


async def _events(session: AsyncSession, delivery_ids: Sequence[int]) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(DeliveryEvent)
        .where(DeliveryEvent.delivery_id.in_(delivery_ids))
        .order_by(DeliveryEvent.at, DeliveryEvent.id)
    )
    return [
        hashing.item(
            "delivery_event",
            str(e.id),
            {
                "delivery_id": e.delivery_id,
                "at": _at(e.at),
                "from_status": e.from_status,
                "to_status": e.to_status,
                "attempt": e.attempt,
                "code": e.code,
                "detail": e.detail,
                "actor": e.actor,
            },
        )
        for e in rows
    ]


async def _inbound(
    session: AsyncSession, delivery_ids: Sequence[int], *, personal: bool
) -> list[dict[str, Any]]:
    """The mail that came back about these deliveries: bounces, auto-replies, replies. Its
    raw bytes often quote the letter, so only its hash unless personal data is asked for."""
    rows = await session.scalars(
        select(InboundMessage)
        .where(InboundMessage.delivery_id.in_(delivery_ids))
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    items = []
    for m in rows:
        content: dict[str, Any] = {
            "delivery_id": m.delivery_id,
            "received_at": _at(m.received_at),
            "kind": None if m.kind is None else m.kind.value,
            "status": m.status.value,
            "message_id": m.message_id,
            "from_address": m.from_address,
            "subject": m.subject,
            "dsn_recipient": m.dsn_recipient,
            "dsn_status": m.dsn_status,
            "hard_bounce": m.hard_bounce,
            "detail": m.detail,
            "sha256": m.sha256,
            "size": m.size,
            "truncated": m.truncated,
        }
        if personal:
            content["raw_base64"] = base64.b64encode(m.raw).decode("ascii")
        items.append(hashing.item("inbound", str(m.id), content))
    return items


async def _responses(
    session: AsyncSession, letter_id: int, delivery_ids: Sequence[int], *, personal: bool
) -> list[dict[str, Any]]:
    """The responses linked to the letter or its deliveries. An answer's excerpt often greets
    the supporter by name, so it is personal data."""
    rows = await session.scalars(
        select(Response)
        .where(or_(Response.letter_id == letter_id, Response.delivery_id.in_(delivery_ids)))
        .order_by(Response.received_at, Response.id)
    )
    items = []
    for r in rows:
        content: dict[str, Any] = {
            "letter_id": r.letter_id,
            "delivery_id": r.delivery_id,
            "inbound_message_id": r.inbound_message_id,
            "medium": r.medium.value,
            "kind": r.kind.value,
            "received_at": _at(r.received_at),
            "from_name": r.from_name,
            "from_address": r.from_address,
            "subject": r.subject,
            "notes": r.notes,
            "recorded_by": r.recorded_by,
        }
        if personal:
            content["excerpt"] = r.excerpt
        items.append(hashing.item("response", str(r.id), content))
    return items
