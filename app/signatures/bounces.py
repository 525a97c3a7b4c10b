"""The bounce token of a confirmation mail, and what a bounce of one does to its signature.

Every confirmation (or reminder) mail carries a token naming the signature and which of its
mails it is, in its VERP envelope sender (`bounce+TOKEN@domain`) and its Message-ID
(`<confirm-TOKEN@domain>`): the delivery token's scheme (`app/delivery/email/tokens.py`) under
a label of its own, so it is unforgeable, shows no counter, and can never be read as a
delivery's token (nor a delivery's as this). The inbound side (`app/responses/matching.py`)
reads it back from a bounce; `record_bounce` then marks the mail bounced: no reminder follows,
and the signature's history says so. Nothing here logs or stores the supporter's address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.email.tokens import seal, unseal
from app.signatures import service
from app.signatures.models import Signature, SignatureStatus

_LABEL = b"confirmation mail v1"  # the token's key label: never the delivery token's
_NUMBER_BITS = 4  # the mail's number (1, 2) in the token's low bits, the signature id above


@dataclass(frozen=True, slots=True)
class MailRef:
    """One confirmation mail: the signature's id and which of its mails (1: the first)."""

    signature_id: int
    number: int


def mail_token(mail: MailRef, secret: str) -> str:
    return seal(mail.signature_id << _NUMBER_BITS | mail.number, secret, label=_LABEL)


def read_mail_token(token: str, secret: str, previous: Sequence[str] = ()) -> MailRef | None:
    """The mail `token` names if it is a genuine confirmation-mail token, else None."""
    ident = unseal(token.lower(), secret, previous, label=_LABEL)
    if ident is None:
        return None
    return MailRef(ident >> _NUMBER_BITS, ident & ((1 << _NUMBER_BITS) - 1))


def envelope_sender(mail: MailRef, *, secret: str, domain: str) -> str:
    return f"bounce+{mail_token(mail, secret)}@{domain}"


def message_id(mail: MailRef, *, secret: str, domain: str) -> str:
    return f"<confirm-{mail_token(mail, secret)}@{domain}>"


def record_bounce(
    session: AsyncSession,
    signature: Signature,
    *,
    number: int,
    hard: bool,
    status: str | None,
    source: str,
    now: datetime,
) -> None:
    """A bounce of `signature`'s confirmation mail `number` arrived (`source` says where it is
    kept). A permanent one marks the mail bounced: no reminder goes to an address that does not
    take mail; a delay or a report of delivery is only noted. The DSN's status is kept, never
    its diagnostic, which names the address."""
    said = status or "no status"
    if not hard:
        detail = f"report on confirmation mail {number} ({source}): {said}; nothing changes"
    else:
        detail = f"confirmation mail {number} bounced ({source}): {said}"
        signature.last_mail_error = f"confirmation mail {number} bounced ({said})"
        if signature.status is SignatureStatus.pending:
            signature.mail_due_at = None  # the reminder would bounce too
    current = signature.status.value
    service.record(session, signature, from_status=current, to=current, now=now, detail=detail)
