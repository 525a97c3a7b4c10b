"""Reading inbound mail: is it a bounce, an auto-reply or a person's reply, and what does it say.

Parsing is the standard library's `email` package (`policy.default`). Bounces are read first as
RFC 3464 delivery status notifications (the `message/delivery-status` part: per recipient its
`Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`), which is what Postfix, Exim, Exchange
and Gmail send. Bounces in older, non-standard formats (qmail, Yahoo, old Exchange, ...) fall back
to `flufl.bounce`, Mailman's maintained set of bounce detectors, which names the failed addresses
but not the status code: that is then read from the text when it gives one. Auto-replies follow
RFC 3834 (`Auto-Submitted` other than `no`) and the headers and subjects that Exchange, Gmail
and vacation programs use instead. Everything else is a reply written by a person.

Nothing here touches the database: `parse(raw)` gives a `Parsed` that matching and the service
use.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser, HeaderParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

from flufl.bounce import all_failures

from app.responses.models import InboundKind as Kind

EXCERPT_CHARS = 2000


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


@dataclass(frozen=True, slots=True)
class Parsed:
    kind: Kind
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    from_name: str | None
    from_address: str | None
    subject: str | None
    date: datetime | None
    # Where the message was addressed: To, Cc and what MTAs add (Delivered-To, X-Original-To...).
    addressed_to: tuple[str, ...]
    text: str  # the readable body
    excerpt: str  # what the sender wrote, without the quoted letter, capped
    bounce: Bounce | None = None
    auto_reason: str | None = None  # why it counts as an auto-reply
    defects: tuple[str, ...] = field(default_factory=tuple)


# --- headers --------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_ADDRESSED_HEADERS = (
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
    "Original-Recipient",
    "To",
    "Cc",
)


def header(message: Message, name: str) -> str | None:
    """A header's value as text, unfolded; None when absent.

    With `policy.default` a header is parsed when read, and a hostile header can make the parser
    raise instead of recording a defect; then the raw value is used as it is."""
    try:
        value = message.get(name)
    except Exception:  # the stdlib header parser raises assorted errors on malformed input
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    if value is None:
        return None
    return re.sub(r"\s*[\r\n]+\s*", " ", str(value)).strip()


def header_all(message: Message, name: str) -> list[str]:
    values = [v for k, v in message.raw_items() if k.lower() == name.lower()]
    return [re.sub(r"\s*[\r\n]+\s*", " ", str(v)).strip() for v in values]


def message_ids(value: str | None) -> tuple[str, ...]:
    return tuple(_MESSAGE_ID.findall(value or ""))


def _addresses(values: Iterable[str]) -> tuple[str, ...]:
    found = []
    for _name, address in getaddresses(list(values)):
        if "@" in address:
            found.append(address.strip().lower())
    return tuple(dict.fromkeys(found))


def _date(message: Message) -> datetime | None:
    value = header(message, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


# --- bodies ---------------------------------------------------------------------------------


class _Text(HTMLParser):
    """The text of an HTML body: tags dropped, blocks on their own lines, scripts ignored."""

    _BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "blockquote", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = (re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _content(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, ValueError, AssertionError):
        # An unknown charset or a broken transfer encoding: decode what can be decoded.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return content if isinstance(content, str) else ""


def body_text(message: EmailMessage) -> str:
    """The message's readable text: its text/plain body, else its HTML body as text."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, IndexError, ValueError):
        part = None
    if part is None:
        return ""
    text = _content(part)
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


# Where a reply starts quoting the letter it answers (English, French, German, Russian, Outlook).
_QUOTE_START = re.compile(
    r"^(?:"
    r"On .{3,200}wrote:?"
    r"|Le .{3,200}a écrit\s?:?"
    r"|Am .{3,200}schrieb .{0,200}:?"
    r"|.{0,200}написал(?:а)?\s?:?"
    r"|-{2,}\s*(?:Original Message|Message d'origine|Ursprüngliche Nachricht|"
    r"Исходное сообщение)\s*-{2,}"
    r"|_{10,}"
    r"|(?:From|De|Von|От)\s?:\s.+"
    r")\s*$",
    re.IGNORECASE,
)


def new_text(text: str) -> str:
    """What the sender wrote above the quoted letter: lines up to the first quote marker,
    without `>` lines; the whole text when it starts by quoting (an inline answer)."""
    kept: list[str] = []
    lines = text.split("\n")
    for index, line in enumerate(lines):
        stripped = line.strip()
        # A mail program may wrap a long attribution line ("On ..., X\nwrote:").
        joined = f"{stripped} {lines[index + 1].strip()}" if index + 1 < len(lines) else stripped
        starts_quote = _QUOTE_START.match(stripped) or _QUOTE_START.match(joined)
        if starts_quote and any(k.strip() for k in kept):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    result = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return result or text.strip()


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = new_text(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- bounces --------------------------------------------------------------------------------

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
            headers = HeaderParser(policy=policy.default).parsestr(_content(part))
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


# --- auto-replies ---------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response)|autoreply|auto:|"
    r"out of (?:the )?office|abwesenheitsnotiz|automatische antwort|réponse automatique|"
    r"absence du bureau|respuesta automática|risposta automatica|автоответ|"
    r"автоматический ответ)",
    re.IGNORECASE,
)


def auto_reply_reason(message: Message) -> str | None:
    """Why `message` is an automatic reply (RFC 3834 and the vendors' own signals), or None."""
    submitted = header(message, "Auto-Submitted")
    if submitted and submitted.split(";")[0].strip().lower() != "no":
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"):
        value = header(message, name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return f"{name}: {value}"
    precedence = (header(message, "Precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return f"Precedence: {precedence}"
    if header(message, "X-MS-Exchange-Inbox-Rules-Loop") is not None:
        return "X-MS-Exchange-Inbox-Rules-Loop (an Exchange inbox rule answered)"
    if header(message, "X-Autogenerated") is not None or header(message, "X-AutoGenerated"):
        return "X-Autogenerated"
    subject = header(message, "Subject") or ""
    if _AUTO_SUBJECT.match(subject):
        return f"subject {subject[:80]!r}"
    return None


# --- the whole message ----------------------------------------------------------------------


def as_email(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default makes
    return message


def parse(raw: bytes) -> Parsed:
    """Classify and read `raw` (an RFC 822 message). Never raises on malformed mail."""
    message = as_email(raw)
    text = body_text(message)
    bounce = _rfc3464(message) or _heuristic(raw, message, text)
    auto = None if bounce else auto_reply_reason(message)
    kind = Kind.bounce if bounce else Kind.auto_reply if auto else Kind.reply
    from_name, from_address = parseaddr(header(message, "From") or "")
    addressed: list[str] = []
    for name in _ADDRESSED_HEADERS:
        addressed.extend(header_all(message, name))
    return Parsed(
        kind=kind,
        message_id=next(iter(message_ids(header(message, "Message-ID"))), None),
        in_reply_to=message_ids(header(message, "In-Reply-To")),
        references=message_ids(header(message, "References")),
        from_name=from_name or None,
        from_address=from_address.lower() or None,
        subject=header(message, "Subject"),
        date=_date(message),
        addressed_to=_addresses(addressed),
        text=text,
        excerpt=excerpt(text),
        bounce=bounce,
        auto_reason=auto,
        defects=tuple(type(d).__name__ for d in message.defects),
    )


def headers_only(raw: bytes) -> Message:
    """Just the headers of `raw` (for listing messages without parsing their bodies)."""
    return BytesHeaderParser(policy=policy.default).parsebytes(raw)
