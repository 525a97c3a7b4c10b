"""RFC 3464 delivery status notifications: the `message/delivery-status` part, per recipient."""

from __future__ import annotations

import re
from email import policy
from email.message import Message
from email.parser import HeaderParser

from app.responses.bounces.report import Bounce, DsnRecipient, imcea_address, is_internet, status_in
from app.responses.bounces.returned import returned_message_id
from app.responses.mime import header

# --- RFC 3464 reports -------------------------------------------------------------------------


def _field(block: Message, name: str) -> str | None:
    value = header(block, name)
    return re.sub(r"\s+", " ", value).strip() or None if value else None


def _typed_address(value: str | None) -> str | None:
    """`rfc822; x@example.org` → `x@example.org` (RFC 3464 address-type; address)."""
    if not value:
        return None
    _type, _, address = value.partition(";")
    address = (address or _type).strip().strip("<>").strip()
    return address.lower() or None


def _status_blocks(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status part: per message, then per recipient.

    The email package parses the part into blocks; an MTA that base64-encoded the part (some do,
    against RFC 3464) leaves a string, which is split at blank lines here."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [p for p in payload if isinstance(p, Message)]
        if any(b.keys() for b in blocks):
            return blocks
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(payload)
    chunks = re.split(r"\r?\n[ \t]*\r?\n", text.replace("\r\n", "\n"))
    parser = HeaderParser(policy=policy.default)
    return [parser.parsestr(chunk.strip() + "\n") for chunk in chunks if chunk.strip()]


def _block_address(block: Message) -> str | None:
    """The Internet address a recipient block is about, whatever the Final-Recipient says."""
    final = _typed_address(_field(block, "Final-Recipient"))
    original = _typed_address(_field(block, "Original-Recipient"))
    actual = _typed_address(_field(block, "X-Actual-Recipient"))
    for candidate in (final, original, actual):
        if candidate and is_internet(candidate) and not candidate.startswith("imcea"):
            return candidate
    encapsulated = next(
        (imcea_address(a) for a in (final, original) if a and imcea_address(a)), None
    )
    return encapsulated or final or original


def _block_status(block: Message) -> str | None:
    status = status_in(_field(block, "Status") or "")
    diagnostic = status_in(_field(block, "Diagnostic-Code") or "")
    # 5.0.0 / 4.0.0 say only "failed"; the remote server's own code says why.
    generic = status is None or status.endswith(".0.0")
    if generic and diagnostic and (status is None or not diagnostic.endswith(".0.0")):
        return diagnostic
    return status


def read_report(message: Message, returned: tuple[str, ...]) -> Bounce | None:
    part = next(
        (p for p in message.walk() if p.get_content_type() == "message/delivery-status"), None
    )
    if part is None:
        return None
    blocks = _status_blocks(part)
    if not blocks:
        return None
    per_message, *per_recipient = blocks
    if _field(per_message, "Final-Recipient"):  # no per-message block given
        per_message, per_recipient = Message(), blocks
    recipients = []
    for block in per_recipient:
        address = _block_address(block)
        if not address:
            continue
        action = (_field(block, "Action") or "failed").split()[0].lower()
        recipients.append(
            DsnRecipient(
                recipient=address,
                action="failed" if action.startswith(("fail", "error")) else action,
                status=_block_status(block),
                diagnostic=_field(block, "Diagnostic-Code"),
                remote_mta=_typed_address(_field(block, "Remote-MTA")),
                original_recipient=_typed_address(_field(block, "Original-Recipient")),
            )
        )
    if not recipients:
        return None
    return Bounce(
        recipients=_named_by_the_letter(tuple(recipients), returned),
        reporting_mta=_typed_address(_field(per_message, "Reporting-MTA")),
        standard=True,
        original_message_id=returned_message_id(message),
    )


def _named_by_the_letter(
    recipients: tuple[DsnRecipient, ...], returned: tuple[str, ...]
) -> tuple[DsnRecipient, ...]:
    """A failure named only by an X.400 name or the like is the returned letter's one recipient."""
    if len(returned) != 1 or not is_internet(returned[0]):
        return recipients
    if any(r.recipient == returned[0] for r in recipients):
        return recipients
    odd = [r for r in recipients if not is_internet(r.recipient)]
    if len(odd) != 1:
        return recipients
    return tuple(
        DsnRecipient(
            recipient=returned[0],
            action=r.action,
            status=r.status,
            diagnostic=r.diagnostic,
            remote_mta=r.remote_mta,
            original_recipient=r.original_recipient or r.recipient,
        )
        if r is odd[0]
        else r
        for r in recipients
    )
