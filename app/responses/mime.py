"""The standard library's `email` package, read safely: headers, addresses, dates and the body.

Everything inbound mail is read through: a header that does not decode gives None instead of an
exception, a body is the text/plain part (or the HTML one, as text), and the part of a reply that
quotes our letter can be cut off. `parsing` and `bounces` build on these.

Nothing reaches the stdlib parser before `structure.measure` has counted, in one linear pass
over the bytes, what the parser would build from them: how deep it nests, how many parts and
header fields it has, how long its MIME fields are, how many boundary tests its lines cost. Past
a limit (`limits`), or when the parser fails all the same, `as_email` raises `Unparseable` with
the reason in English and Russian. Within the limits a message is read in about a second on
these machines.
"""

from __future__ import annotations

import email
import html
import re
from collections.abc import Iterable
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from app.responses.limits import HEADER_CHARS, MAX_HEADERS, PARSED_HEADER_CHARS, Unparseable
from app.responses.structure import NOT_HEADER, ParseOnce, measure, normalised

EXCERPT_CHARS = 2000


# --- headers --------------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def storable(text: str) -> str:
    """`text` as a database column can hold it: bytes the parser could not decode (surrogates)
    read as UTF-8 where they are, else U+FFFD, as the stdlib's header objects do, and without
    NUL, which PostgreSQL refuses. Every text read here goes through it."""
    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.replace("\x00", "")


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
    raise instead of recording a defect (or, long enough, take minutes); then, and for a value
    longer than PARSED_HEADER_CHARS, the raw value is used as it is (its first HEADER_CHARS)."""
    wanted = name.lower()
    raw = next((v for k, v in message.raw_items() if k.lower() == wanted), None)
    if raw is None:
        return None
    value: object = raw[:HEADER_CHARS]
    if len(raw) <= PARSED_HEADER_CHARS:
        try:
            value = message.get(name)
        except Exception:  # the stdlib header parser raises assorted errors on malformed input
            value = raw
    return storable(re.sub(r"\s*[\r\n]+\s*", " ", str(value)).strip())


def header_all(message: Message, name: str) -> list[str]:
    """Every value of a header, raw and unfolded (each its first HEADER_CHARS)."""
    values = [str(v)[:HEADER_CHARS] for k, v in message.raw_items() if k.lower() == name.lower()]
    return [storable(re.sub(r"\s*[\r\n]+\s*", " ", v).strip()) for v in values]


def message_ids(value: str | None) -> tuple[str, ...]:
    return tuple(_MESSAGE_ID.findall(value or ""))


def addresses(values: Iterable[str]) -> tuple[str, ...]:
    try:
        pairs = getaddresses(list(values))
    except RecursionError:  # comments nested a thousand deep
        return ()
    found = []
    for _name, address in pairs:
        if "@" in address:
            found.append(address.strip().lower())
    return tuple(dict.fromkeys(found))


def sender(message: Message) -> tuple[str, str]:
    """The From header's (display name, address), ("", "") when it cannot be read."""
    try:
        name, address = parseaddr(header(message, "From") or "")
    except RecursionError:  # comments nested a thousand deep
        return "", ""
    return name, address


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

# The stdlib's HTMLParser takes minutes on 100 KB of unclosed tags or comments ("<a <a <a",
# "<!--x>" repeated): it looks for the end of each from its start. This reading only goes
# forward: comments and the content of script, style and head dropped, block tags made line
# breaks, other tags (whose quoted values may hold ">") removed, entities decoded.
_UNREAD = re.compile(r"<!--|<(script|style|head)(?=[\s/>])", re.IGNORECASE)
_UNREAD_END = {
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "head")
}
_TAG = re.compile(
    r"<(?:/?(?P<name>[a-zA-Z][^\s/<>]*)|[!?])(?>[^<>\"']+|\"[^\"<]*\"|'[^'<]*'|[\"'])*>"
)
_BLOCKS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "blockquote", "hr"})
# A decimal reference this long is no character; html.unescape would raise on 4,300 digits.
_LONG_CHARREF = re.compile(r"&#[0-9]{8,};?")


def _readable_markup(markup: str) -> str:
    kept, at = [], 0
    while (found := _UNREAD.search(markup, at)) is not None:
        kept.append(markup[at : found.start()])
        element = found.group(1)
        if element is None:
            end = markup.find("-->", found.end())
            at = len(markup) if end < 0 else end + 3
        else:
            closing = _UNREAD_END[element.lower()].search(markup, found.end())
            at = len(markup) if closing is None else closing.end()
    kept.append(markup[at:])
    return "".join(kept)


def _tag(found: re.Match[str]) -> str:
    return "\n" if (found.group("name") or "").lower() in _BLOCKS else ""


def html_to_text(markup: str) -> str:
    text = _TAG.sub(_tag, _readable_markup(markup))
    text = html.unescape(_LONG_CHARREF.sub("\ufffd", text))
    lines = (re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n"))
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
    return storable(content) if isinstance(content, str) else ""


def body_text(message: EmailMessage) -> str:
    """The message's readable text: its text/plain body, else its HTML body as text."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    # AttributeError: get_body() takes a multipart/related part that never got its parts for one
    # with parts (a stdlib bug); RecursionError: a Content-Disposition of nested comments.
    except (KeyError, IndexError, ValueError, AttributeError, RecursionError):
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
    """`raw` parsed, once `measure` found it within every limit; else Unparseable, as when the
    parser fails all the same (RecursionError, or a stdlib bug on odd input)."""
    parse_policy = ParseOnce()
    try:
        measure(raw, parse_policy)
        message = email.message_from_bytes(raw, policy=parse_policy)
    except Unparseable:
        raise
    except Exception as exc:
        raise Unparseable.failed(exc) from exc
    assert isinstance(message, EmailMessage)  # what an EmailPolicy makes
    return message


def headers_only(raw: bytes) -> Message:
    """The headers of `raw`, its first MAX_HEADERS fields, as the parser splits them: for storing
    a message before anything is made of it, so nothing is measured or parsed (not even the
    Content-Type that the stdlib's parser reads when it closes, however long) until it is read."""
    data = normalised(raw)
    after = NOT_HEADER.search(data)
    message = EmailMessage(policy=ParseOnce())
    fields: list[list[str]] = []
    current: list[str] | None = None
    lines = data[: after.start() if after is not None else len(data)].decode(
        "ascii", "surrogateescape"
    )
    for line in lines.split("\n"):
        if line[:1] in (" ", "\t"):
            if current is not None:
                current.append(line + "\n")
        elif line.startswith("From ") or line[:1] in ("", ":"):
            current = None  # a Unix From line, no name: no field, nor for what follows
        elif len(fields) < MAX_HEADERS:
            current = [line + "\n"]
            fields.append(current)
        else:
            break
    for source in fields:
        message.set_raw(*message.policy.header_source_parse(source))
    return message


def readable_text(raw: bytes) -> tuple[str, Unparseable | None]:
    """The text of `raw` for staff to read, or "" and why it cannot be read."""
    try:
        return body_text(as_email(raw)), None
    except Unparseable as exc:
        return "", exc
    except Exception as exc:  # reading a parsed message failed: a stdlib or a mime.py bug
        return "", Unparseable.failed(exc)
