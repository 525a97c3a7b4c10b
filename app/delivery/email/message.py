"""A letter's e-mail: headers encoded once for the wire (line breaks and controls refused), its
text and HTML parts, and the `Outgoing` that both transports carry."""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP, EmailPolicy, Policy
from email.utils import format_datetime

from app.config import Settings
from app.db import utcnow
from app.delivery.email.tokens import delivery_token


class Outgoing:
    """A message ready to go: its envelope, its Message-ID and, once built, its bytes.

    `build()` writes the bytes itself and makes the `EmailMessage` only when something asks
    for it (an attachment, a test): sending needs only the bytes, and making the object cost
    more than writing them."""

    __slots__ = ("_make", "_message", "envelope_from", "envelope_to", "message_id", "wire")

    def __init__(
        self,
        message: EmailMessage,
        envelope_from: str,
        envelope_to: str,
        *,
        wire: bytes | None = None,
    ) -> None:
        self.envelope_from, self.envelope_to = envelope_from, envelope_to
        self.message_id = str(message["Message-ID"])
        # The bytes as sent; None once the message was changed (the generator writes them).
        self.wire = wire
        self._message: EmailMessage | None = message
        self._make: Callable[[], EmailMessage] | None = None

    @classmethod
    def lazy(
        cls,
        make: Callable[[], EmailMessage],
        envelope_from: str,
        envelope_to: str,
        *,
        message_id: str,
        wire: bytes,
    ) -> Outgoing:
        """An Outgoing whose bytes are written and whose `EmailMessage` is made when asked."""
        outgoing = cls.__new__(cls)
        outgoing.envelope_from, outgoing.envelope_to = envelope_from, envelope_to
        outgoing.message_id, outgoing.wire = message_id, wire
        outgoing._message, outgoing._make = None, make
        return outgoing

    @property
    def message(self) -> EmailMessage:
        if self._message is None:
            assert self._make is not None
            self._message = self._make()
        return self._message

    def as_bytes(self) -> bytes:
        """The message as sent: CRLF line ends, every header encoded and folded."""
        return self.wire if self.wire is not None else self.message.as_bytes()


# Every character `str.splitlines` breaks on, and the other controls but tab: none may reach a
# header, where a line break would start a header (or the body) of the supporter's choosing.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')  # a display name with one of these is quoted
_LOOKALIKE = re.compile(r'[<>"]')  # what makes a display name look like an address
ADDR_SPEC = re.compile(
    r"[\w!#$%&'*+/=?^`{|}~-]+(\.[\w!#$%&'*+/=?^`{|}~-]+)*@[\w-]+(\.[\w-]+)*", re.ASCII
)
_WORD_BYTES = 42  # of UTF-8 per encoded word: "Subject: " + one word stays within 78 characters
_LINE = 78


class _SmtpPolicy(EmailPolicy):
    """The SMTP policy, except that it looks up how many of a header a message may have once
    per name: the header registry builds a new class at every lookup (a third of `build()`)."""

    def header_max_count(self, name: str) -> int | None:
        return _max_count(name.lower())


@functools.cache
def _max_count(name: str) -> int | None:
    return SMTP.header_max_count(name)


POLICY = _SmtpPolicy(linesep="\r\n")  # what email.policy.SMTP is: the default, CRLF


class Encoded(str):
    """A header value already encoded for the wire: ASCII, folded, and checked for line breaks.

    `EmailPolicy` takes a value with a `name` for a header object and asks it to fold itself
    (its documented protocol), so flattening costs a join instead of a parse and a refold. As
    with the `email` package's own header objects, `str()` gives the readable value.
    """

    name: str
    lines: tuple[str, ...]

    def __new__(cls, name: str, readable: str, wire: str) -> Encoded:
        for value in (readable, wire):
            if _UNSAFE.search(value):
                raise ValueError(f"{name}: a header value may not contain a line break: {value!r}")
        if not wire.isascii():
            raise ValueError(f"{name}: not encoded for the wire: {wire!r}")
        header = super().__new__(cls, readable)
        header.name, header.lines = name, _fold(f"{name}: {wire}", start=len(name) + 2)
        return header

    def fold(self, *, policy: Policy) -> str:
        return policy.linesep.join(self.lines) + policy.linesep


def _fold(text: str, *, start: int) -> tuple[str, ...]:
    """`text` in lines of at most 78 characters where spaces allow, each break made before a
    space, so that unfolding (removing the line breaks) gives `text` back exactly."""
    lines = []
    while len(text) > _LINE:
        cut = text.rfind(" ", start, _LINE + 1)
        if cut < 0:
            cut = text.find(" ", max(start, _LINE + 1))
            if cut < 0:
                break
        lines.append(text[:cut])
        text = text[cut:]
        start = len(text) - len(text.lstrip(" ")) + 1  # no line of spaces alone
    lines.append(text)
    return tuple(lines)


def _encoded_words(text: str) -> str:
    """RFC 2047: `text` as UTF-8, base64, in words of whole characters that each fit a line."""
    data, words = text.encode(), []
    while data:
        cut = min(_WORD_BYTES, len(data))
        while cut < len(data) and data[cut] & 0xC0 == 0x80:  # not inside a character
            cut -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[:cut]).decode()}?=")
        data = data[cut:]
    return " ".join(words)


def _plain(text: str) -> bool:
    """Whether `text` can go into a header as it is: ASCII without tabs or encoded-word
    look-alikes, and no word too long to fold."""
    return (
        text.isascii()
        and "=?" not in text
        and "\t" not in text
        and all(len(word) < _LINE - 10 for word in text.split(" "))
    )


def verbatim(name: str, value: str) -> Encoded:
    """A header of our own making (Date, Message-ID, MIME headers), already in wire form."""
    return Encoded(name, value, value)


def unstructured(name: str, text: str) -> Encoded:
    """A free-text header (Subject): as it is when it can be, else RFC 2047 encoded words."""
    return Encoded(name, text, text if _plain(text) else _encoded_words(text))


def shown_name(text: str) -> str:
    """`text` fit to show before one of our addresses: a supporter named `Minister
    <minister@gov.example>` must not make the From look like the minister's. So no `<`, `>` or
    `"`, an `@` reads " at ", and runs of spaces are one."""
    text = _LOOKALIKE.sub(" ", text.replace("@", " at "))
    return re.sub(" {2,}", " ", text).strip(" ")  # other whitespace is for `Encoded` to refuse


def mailbox(name: str, display_name: str, addr_spec: str) -> Encoded:
    """An address header: `Display Name <addr@domain>`, the name quoted or encoded as needed."""
    if not addr_spec or _UNSAFE.search(addr_spec) or not addr_spec.isascii():
        raise ValueError(f"{name}: not a usable e-mail address: {addr_spec!r}")
    if not ADDR_SPEC.fullmatch(addr_spec):
        try:  # the rarer forms (a quoted local part): the email package's own parser decides
            addr_spec = Address(addr_spec=addr_spec).addr_spec
        except (ValueError, MessageError) as exc:
            raise ValueError(f"{name}: not a usable e-mail address: {addr_spec!r}") from exc
    if not display_name:
        return Encoded(name, addr_spec, addr_spec)
    if not _plain(display_name):
        phrase = _encoded_words(display_name)
    elif _SPECIALS.search(display_name):
        phrase = '"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = display_name
    shown = phrase if phrase.startswith('"') else display_name
    return Encoded(name, f"{shown} <{addr_spec}>", f"{phrase} <{addr_spec}>")


@dataclass(frozen=True, slots=True)
class Part:
    """One text part of a message: its headers and its payload, encoded for the wire."""

    headers: tuple[Encoded, ...]
    payload: str  # ASCII, "\n" line ends, ending with one

    def mime(self) -> MIMEPart:
        part = MIMEPart(policy=POLICY)
        for header in self.headers:
            part[header.name] = header
        part.set_payload(self.payload)
        return part


@functools.cache
def _part_headers(subtype: str, cte: str) -> tuple[Encoded, ...]:
    return (
        verbatim("Content-Type", f'text/{subtype}; charset="utf-8"'),
        verbatim("Content-Transfer-Encoding", cte),
    )


def text_part(text: str, subtype: str, *, boundary: str) -> Part:
    """A UTF-8 text part: 7bit when it is short-lined ASCII, else quoted-printable or base64,
    whichever is shorter. Neither encoding can produce `boundary` (it starts with "=_")."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode()
    if not data.endswith(b"\n"):
        data += b"\n"
    lines = data.split(b"\n")
    if data.isascii() and max(map(len, lines)) <= _LINE and boundary.encode() not in data:
        cte, payload = "7bit", data
    else:
        cte, payload = "quoted-printable", binascii.b2a_qp(data, istext=True)
        if len(payload) > len(data) * 4 // 3 + len(data) // 57:
            cte, payload = "base64", base64.encodebytes(data)
    return Part(_part_headers(subtype, cte), payload.decode("ascii"))


_STATIC = (
    verbatim("Auto-Submitted", "no"),  # written by a person, not an auto-reply
    verbatim("MIME-Version", "1.0"),
)


def build(
    *,
    delivery_id: int,
    to_address: str,
    to_name: str,
    sender_name: str,
    campaign_title: str,
    subject: str,
    body: str,
    language: str,
    settings: Settings,
) -> Outgoing:
    """The letter's e-mail, text and HTML; ValueError if a field could break the headers."""
    token = delivery_token(delivery_id, settings.token_secret)
    domain = settings.mail_domain
    boundary = f"=_{token}"
    message_id = f"<delivery-{token}@{domain}>"
    # A paragraph per blank line, a <br> per other line break (escaping leaves them be).
    paragraphs = html.escape(body).replace("\n\n", "</p><p>").replace("\n", "<br>")
    page = (
        f'<!doctype html><html lang="{html.escape(language)}"><body><p>{paragraphs}</p>'
        "</body></html>"
    )
    headers = (
        mailbox(
            "From",
            shown_name(f"{sender_name} via {campaign_title}"),
            f"{settings.campaign_mailbox}@{domain}",
        ),
        mailbox("To", shown_name(to_name), to_address),
        mailbox("Reply-To", "", f"reply+{token}@{domain}"),
        unstructured("Subject", subject),
        verbatim("Date", format_datetime(utcnow())),
        verbatim("Message-ID", message_id),
        verbatim("Content-Language", language),
        *_STATIC,
        verbatim("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    )
    parts = (
        text_part(body, "plain", boundary=boundary),
        text_part(page, "html", boundary=boundary),
    )
    return Outgoing.lazy(
        functools.partial(_message, headers, parts),
        f"bounce+{token}@{domain}",
        to_address,
        message_id=message_id,
        wire=_wire(headers, parts, boundary),
    )


def _message(headers: Sequence[Encoded], parts: Sequence[Part]) -> EmailMessage:
    """The `EmailMessage` of what `build()` wrote (for attachments, and for tests to compare)."""
    message = EmailMessage(policy=POLICY)
    for header in headers:
        message[header.name] = header
    message.set_payload([part.mime() for part in parts])
    return message


def _wire(headers: Sequence[Encoded], parts: Sequence[Part], boundary: str) -> bytes:
    """What the email package's generator makes of such a message (tests/delivery/test_email.py
    compares the two), written directly: every header is already in wire form and every part's
    payload already encoded, so it is a join."""
    out = [_lines(headers), "", f"--{boundary}"]
    for index, part in enumerate(parts):
        if index:
            out.append(f"--{boundary}")
        out += [_lines(part.headers), "", part.payload[:-1].replace("\n", "\r\n"), ""]
    out.append(f"--{boundary}--\r\n")
    return "\r\n".join(out).encode("ascii")


def _lines(headers: Sequence[Encoded]) -> str:
    return "\r\n".join(line for header in headers for line in header.lines)


def attach(outgoing: Outgoing, *, filename: str, content: str, subtype: str = "csv") -> None:
    """Add a text attachment (a digest's list of co-signers) to a built message."""
    outgoing.message.add_attachment(content, subtype=subtype, filename=filename, charset="utf-8")
    outgoing.wire = None  # the generator writes the new structure
