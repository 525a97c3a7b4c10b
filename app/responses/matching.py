"""Which delivery an inbound message is about.

First the signed token: every letter's e-mail has `Reply-To: reply+TOKEN@domain` and the VERP
envelope sender `bounce+TOKEN@domain`, so a reply is addressed to the one and a bounce to the
other (the MTA's `Delivered-To`/`X-Original-To`, the `To` header, or the envelope recipient a
provider's webhook passes on). The token is the delivery id encrypted and authenticated
(`parse_token`; older letters carry the id in clear with an HMAC), so it cannot be guessed or
forged. Then the thread: `In-Reply-To` and `References` (and, for a bounce, the returned
letter's own `Message-ID`) against the Message-IDs our deliveries were sent with.
A bounce that names no delivery may be of a supporter's confirmation mail: its VERP sender
and Message-ID carry a token of their own (`app/signatures/bounces.py`, a different key, so
neither kind of token can pass for the other), read by `find_confirmation_mail`.
Otherwise the message is unmatched and waits in the review inbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.email import TOKEN_LENGTH, parse_token
from app.delivery.models import Delivery
from app.responses.parsing import Parsed
from app.signatures import bounces
from app.signatures.models import Signature

# A token in either form: today's opaque one, or `<id>.<signature>` of letters sent before the
# ids were hidden (app/delivery/email.py); `parse_token` reads both.
_TOKEN = rf"(?:[0-9a-f]{{{TOKEN_LENGTH}}}|\d{{1,18}}\.[0-9a-f]{{20}})"
_TOKEN_ADDRESS = re.compile(rf"\b(?:bounce|reply)\+({_TOKEN})@", re.IGNORECASE)
_TOKEN_MESSAGE_ID = re.compile(rf"^<delivery-({_TOKEN})@", re.IGNORECASE)
_MAIL_MESSAGE_ID = re.compile(rf"^<confirm-([0-9a-f]{{{TOKEN_LENGTH}}})@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Match:
    delivery: Delivery
    by: str  # token, references


@dataclass(frozen=True, slots=True)
class MailMatch:
    """A bounce of a confirmation mail: its signature, which of its mails, and how we know."""

    signature: Signature
    number: int
    by: str  # token, references


def tokens_in(addresses: Iterable[str]) -> list[str]:
    """The delivery tokens in reply+/bounce+ addresses, in the order given."""
    found = []
    for address in addresses:
        for token in _TOKEN_ADDRESS.findall(address):
            found.append(token.lower())
    return list(dict.fromkeys(found))


def token_delivery_ids(
    addresses: Iterable[str], *, secret: str, previous: Sequence[str] = ()
) -> list[int]:
    """Delivery ids named by genuinely signed tokens (forged ones name nothing); tokens signed
    with a `previous` secret still count, so replies to letters sent before a rotation match."""
    ids = []
    for token in tokens_in(addresses):
        delivery_id = parse_token(token, secret, previous)
        if delivery_id is not None:
            ids.append(delivery_id)
    return ids


def thread_ids(parsed: Parsed) -> list[str]:
    """Message-IDs that may be one of our letters: replied to, referenced, or returned."""
    ids = [*parsed.in_reply_to, *reversed(parsed.references)]
    if parsed.bounce and parsed.bounce.original_message_id:
        ids.insert(0, parsed.bounce.original_message_id)
    return list(dict.fromkeys(ids))


async def find_delivery(
    session: AsyncSession,
    parsed: Parsed,
    *,
    envelope_to: str | None,
    secret: str,
    previous: Sequence[str] = (),
) -> Match | None:
    """The delivery `parsed` is about, or None (the review inbox)."""
    addresses = [*([envelope_to] if envelope_to else []), *parsed.addressed_to]
    for delivery_id in token_delivery_ids(addresses, secret=secret, previous=previous):
        delivery = await session.get(Delivery, delivery_id)
        if delivery is not None:
            return Match(delivery, "token")
    candidates = thread_ids(parsed)
    if not candidates:
        return None
    # A Message-ID we made carries the token too: trust it only when its signature holds.
    for message_id in candidates:
        found = _TOKEN_MESSAGE_ID.match(message_id)
        named = parse_token(found.group(1).lower(), secret, previous) if found else None
        if named is not None:
            delivery = await session.get(Delivery, named)
            if delivery is not None:
                return Match(delivery, "references")
    rows = await session.scalars(select(Delivery).where(Delivery.external_id.in_(candidates)))
    by_id = {d.external_id: d for d in rows}
    for message_id in candidates:
        if message_id in by_id:
            return Match(by_id[message_id], "references")
    return None


async def find_confirmation_mail(
    session: AsyncSession,
    parsed: Parsed,
    *,
    envelope_to: str | None,
    secret: str,
    previous: Sequence[str] = (),
) -> MailMatch | None:
    """The confirmation mail a bounce is about, by the token in its VERP address or in the
    returned mail's Message-ID; None for anything else (only bounces go to that address)."""
    if parsed.bounce is None:
        return None
    addresses = [*([envelope_to] if envelope_to else []), *parsed.addressed_to]
    named = [(bounces.read_mail_token(t, secret, previous), "token") for t in tokens_in(addresses)]
    for message_id in thread_ids(parsed):
        if found := _MAIL_MESSAGE_ID.match(message_id):
            named.append((bounces.read_mail_token(found.group(1), secret, previous), "references"))
    for mail, by in named:
        if mail is not None and (signature := await session.get(Signature, mail.signature_id)):
            return MailMatch(signature, mail.number, by)
    return None
