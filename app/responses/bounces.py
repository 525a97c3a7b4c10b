"""Is an inbound message a bounce, and for which addresses, permanently or for now.

Bounces are read first as RFC 3464 delivery status notifications (the `message/delivery-status`
part: per recipient its `Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`), which is what
Postfix, Exim, Exchange and Gmail send. Bounces in older, non-standard formats (qmail, Yahoo, old
Exchange, ...) fall back to `flufl.bounce`, Mailman's maintained set of bounce detectors, which
names the failed addresses but not the status code: that is then read from the text when it gives
one. `detect(raw, message, text)` is the entry point.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import parseaddr

from flufl.bounce import all_failures

from app.responses.mime import header, message_ids, part_text


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    """One recipient's block of a delivery status notification (RFC 3464 §2.3)."""

    recipient: str  # the Final-Recipient address (or the one a heuristic detector found)
    action: str  # failed, delayed, delivered, relayed, expanded
    status: str | None  # RFC 3463: "5.1.1"
    diagnostic: str | None  # e.g. "smtp; 550 5.1.1 <x@example.org>: User unknown"
    remote_mta: str | None = None
    original_recipient: str | None = None

    @property
    def hard(self) -> bool:
        """A permanent failure: the letter will never arrive at this address."""
        return self.action == "failed" and (self.status is None or self.status.startswith("5"))

    @property
    def smtp_code(self) -> int | None:
        """The SMTP reply code in the diagnostic (550), if it has one."""
        if self.diagnostic:
            found = re.search(r"(?:^|[;\s])([245]\d\d)(?:[\s-]|$)", self.diagnostic)
            if found:
                return int(found.group(1))
        return None


@dataclass(frozen=True, slots=True)
class Bounce:
    recipients: tuple[DsnRecipient, ...]
    reporting_mta: str | None
    standard: bool  # an RFC 3464 report, or a format a heuristic detector recognised
    original_message_id: str | None  # of our letter, from the returned message or its headers

    @property
    def failures(self) -> tuple[DsnRecipient, ...]:
        return tuple(r for r in self.recipients if r.action in ("failed", "delayed"))


# --- detectors --------------------------------------------------------------------------------

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


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


def _returned_message_id(message: Message) -> str | None:
    """The Message-ID of the returned original (message/rfc822 or text/rfc822-headers part)."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found = message_ids(header(inner, "Message-ID"))
                if found:
                    return found[0]
        elif content_type == "text/rfc822-headers":
            headers = HeaderParser(policy=policy.default).parsestr(part_text(part))
            found = message_ids(header(headers, "Message-ID"))
            if found:
                return found[0]
    return None


def _rfc3464(message: Message) -> Bounce | None:
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
        address = _typed_address(_field(block, "Final-Recipient")) or _typed_address(
            _field(block, "Original-Recipient")
        )
        if not address:
            continue
        status = _field(block, "Status")
        code = _STATUS.search(status or "")
        recipients.append(
            DsnRecipient(
                recipient=address,
                action=(_field(block, "Action") or "").split()[0].lower()
                if _field(block, "Action")
                else "failed",
                status=".".join(code.groups()) if code else None,
                diagnostic=_field(block, "Diagnostic-Code"),
                remote_mta=_typed_address(_field(block, "Remote-MTA")),
                original_recipient=_typed_address(_field(block, "Original-Recipient")),
            )
        )
    if not recipients:
        return None
    return Bounce(
        recipients=tuple(recipients),
        reporting_mta=_typed_address(_field(per_message, "Reporting-MTA")),
        standard=True,
        original_message_id=_returned_message_id(message),
    )


_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|bounces?)@", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status )?notification|delivery fail|failure notice|"
    r"returned mail|mail delivery (?:failed|system|subsystem)|could not be delivered|"
    r"non[- ]?remis|unzustellbar|nicht zustellbar",
    re.IGNORECASE,
)


def _looks_like_bounce(message: Message) -> bool:
    """Worth asking the heuristic detectors: they must not read a person's reply as a bounce."""
    _name, sender = parseaddr(header(message, "From") or "")
    null_sender = (header(message, "Return-Path") or "").strip() == "<>"
    return bool(
        null_sender
        or _BOUNCE_SENDER.match(sender)
        or header(message, "X-Failed-Recipients")
        or _BOUNCE_SUBJECT.search(header(message, "Subject") or "")
    )


def _heuristic(raw: bytes, message: EmailMessage, text: str) -> Bounce | None:
    if not _looks_like_bounce(message):
        return None
    # flufl.bounce reads a compat32 message, as Mailman parses it.
    legacy = email.message_from_bytes(raw)
    try:
        temporary, permanent = all_failures(legacy)
    except Exception:  # a heuristic detector choking on odd input must not lose the message
        return None
    if not temporary and not permanent:
        return None
    status = _STATUS.search(text)
    recipients = [
        DsnRecipient(
            recipient=address.decode("utf-8", "replace").lower(),
            action="failed" if address in permanent else "delayed",
            status=".".join(status.groups()) if status else None,
            diagnostic=_diagnostic_line(text),
        )
        for address in sorted(permanent | temporary)
    ]
    return Bounce(
        recipients=tuple(recipients),
        reporting_mta=None,
        standard=False,
        original_message_id=_returned_message_id(message),
    )


def _diagnostic_line(text: str) -> str | None:
    """The line of a free-text bounce that gives the server's answer, if one does."""
    for line in text.split("\n"):
        if _STATUS.search(line) or re.search(r"\b[45]\d\d\b", line):
            return line.strip()[:500]
    return None


def detect(raw: bytes, message: EmailMessage, text: str) -> Bounce | None:
    """The bounce `message` (whose raw bytes are `raw`, readable body `text`) reports, or None."""
    return _rfc3464(message) or _heuristic(raw, message, text)
