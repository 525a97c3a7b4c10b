"""The standard library's `email` package, read safely: headers, addresses, dates and the body.

Everything inbound mail is read through: a header that does not decode gives None instead of an
exception, a body is the text/plain part (or the HTML one, as text), and the part of a reply that
quotes our letter can be cut off. `parsing` and `bounces` build on these.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterable
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser

EXCERPT_CHARS = 2000

# --- headers --------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
ADDRESSED_HEADERS = (
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


def addresses(values: Iterable[str]) -> tuple[str, ...]:
    found = []
    for _name, address in getaddresses(list(values)):
        if "@" in address:
            found.append(address.strip().lower())
    return tuple(dict.fromkeys(found))


def date(message: Message) -> datetime | None:
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


def part_text(part: Message) -> str:
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
    text = part_text(part)
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


# --- the whole message ----------------------------------------------------------------------


def as_email(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default makes
    return message


def headers_only(raw: bytes) -> Message:
    """Just the headers of `raw` (for listing messages without parsing their bodies)."""
    return BytesHeaderParser(policy=policy.default).parsebytes(raw)
