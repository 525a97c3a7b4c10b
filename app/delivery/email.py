"""Building a letter's e-mail, and the transports that carry it.

From is the campaign's own address with the supporter's name in the display name ("Ada via
Free Bokayev"): never the supporter's address, which DMARC would reject. Reply-To, Message-ID
and the VERP envelope sender carry an unforgeable token of the delivery that hides its number,
so replies and bounces map back to it. The message is an `EmailMessage` (SMTP policy), but its
headers and parts are encoded here once, for the wire: the policy would parse every header when
set and re-fold it at each send (≈1 ms a message, most of a worker's CPU). So this module does
the policy's job of refusing any line break or control character in a header value (supporter
names, subjects), which is what keeps them from adding headers; tests/delivery/test_email.py
holds it to that.
The outbox transport (the default) writes .eml files and never contacts a server.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import html
import os
import re
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.parser import BytesHeaderParser
from email.policy import SMTP, EmailPolicy, Policy
from email.policy import default as default_policy
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Protocol

import aiosmtplib

from app.config import Settings, tls_context
from app.db import utcnow
from app.keys import Purpose, derive

# The token names its delivery without showing its number: a Message-ID or reply address with
# the row id in clear told every recipient how many letters the campaign had sent. It is a
# deterministic authenticated encryption of the id (SIV style), so a retry keeps its
# Message-ID and matching needs no lookup table:
#   tag = HMAC(k_tag, id)[:10]   pad = HMAC(k_pad, tag)[:8]   token = hex(tag ‖ id XOR pad)
# Reading it back recovers the id from the pad and accepts it only if the tag recomputes.
TOKEN_LENGTH = 36  # hex digits: an 80-bit tag and the 64-bit id, encrypted
_TAG_BYTES, _ID_BYTES = 10, 8
_TOKEN = re.compile(f"[0-9a-f]{{{TOKEN_LENGTH}}}", re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _token_key(secret: str, label: bytes) -> bytes:
    # Sub-keys of the delivery-token key; their labels contain letters, so they never collide
    # with the legacy MACs of all-digit ids made with the same key.
    return hmac.new(derive(secret, Purpose.delivery_token), label, hashlib.sha256).digest()


def _pad(secret: str, tag: bytes) -> bytes:
    return hmac.new(_token_key(secret, b"v2 pad"), tag, hashlib.sha256).digest()[:_ID_BYTES]


def _tag(secret: str, ident: bytes) -> bytes:
    return hmac.new(_token_key(secret, b"v2 tag"), ident, hashlib.sha256).digest()[:_TAG_BYTES]


def delivery_token(delivery_id: int, secret: str) -> str:
    """36 hex digits naming the delivery to us alone: unforgeable, and no counter shows."""
    ident = delivery_id.to_bytes(_ID_BYTES, "big")
    tag = _tag(secret, ident)
    return (tag + bytes(a ^ b for a, b in zip(ident, _pad(secret, tag), strict=True))).hex()


def legacy_delivery_token(delivery_id: int, secret: str) -> str:
    """`<id>.<signature>`: the form sent before the ids were hidden, still read, never issued."""
    key = derive(secret, Purpose.delivery_token)
    mac = hmac.new(key, str(delivery_id).encode(), hashlib.sha256).hexdigest()
    return f"{delivery_id}.{mac[:20]}"


def parse_token(token: str, secret: str, previous: Sequence[str] = ()) -> int | None:
    """The delivery id `token` names if it was made with `secret` or one of `previous`; either
    form, so replies to letters sent before the change still match."""
    if "." in token:
        return _parse_legacy(token, secret, previous)
    if not _TOKEN.fullmatch(token):
        return None
    raw = bytes.fromhex(token)
    tag, sealed = raw[:_TAG_BYTES], raw[_TAG_BYTES:]
    for key in (secret, *previous):
        ident = bytes(a ^ b for a, b in zip(sealed, _pad(key, tag), strict=True))
        if hmac.compare_digest(_tag(key, ident), tag):
            return int.from_bytes(ident, "big")
    return None


def _parse_legacy(token: str, secret: str, previous: Sequence[str]) -> int | None:
    ident, _, _sig = token.partition(".")
    if not ident.isdigit() or len(ident) > 19:
        return None
    for key in (secret, *previous):
        if hmac.compare_digest(legacy_delivery_token(int(ident), key), token):
            return int(ident)
    return None


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
_ADDR_SPEC = re.compile(
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
    if not _ADDR_SPEC.fullmatch(addr_spec):
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


class SendError(Exception):
    """A failed attempt; `temporary` decides between a retry and a permanent failure."""

    def __init__(self, detail: str, *, code: int | None, temporary: bool) -> None:
        super().__init__(detail)
        self.detail, self.code, self.temporary = detail, code, temporary


class ChannelFault(SendError):
    """Our side is misconfigured (credentials, TLS): no letter is at fault, so the worker pauses
    the channel instead of spending the letters' attempts."""

    def __init__(self, detail: str, *, code: int | None = None) -> None:
        super().__init__(detail, code=code, temporary=True)


class Transport(Protocol):
    # Returns the server's answer; gives up (SendError) after `within` seconds if given.
    async def send(self, outgoing: Outgoing, *, within: float | None = None) -> str: ...

    async def close(self) -> None: ...


class OutboxTransport:
    """Writes each message to <folder>/<message id>.eml (atomically): the default, sends nothing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, outgoing: Outgoing, *, within: float | None = None) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = outbox_name(outgoing.message_id)
        temporary = self.folder / f".{name}.tmp"
        temporary.write_bytes(
            f"X-Envelope-From: {outgoing.envelope_from}\r\n".encode() + outgoing.as_bytes()
        )
        os.replace(temporary, self.folder / name)
        return f"written to {self.folder / name}"

    async def close(self) -> None:
        return None


def outbox_name(message_id: str) -> str:
    """The file the outbox writes a message to: its Message-ID's local part, `.eml`."""
    return message_id.strip("<>").split("@")[0] + ".eml"


_OUTBOX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*\.eml")


def erase_from_outbox(folder: Path, *, message_ids: Iterable[str], addresses: Iterable[str]) -> int:
    """Delete the outbox's copies of these messages and every mail to or from these addresses
    (a supporter's confirmations and reminders); returns how many files went.

    The outbox is a spool for looking at, never the record (the letters table is): a supporter
    who is erased must not stay readable in it. Blocking file I/O: call it in a thread."""
    if not folder.is_dir():
        return 0
    doomed = {folder / outbox_name(m) for m in message_ids}
    wanted = {a.casefold() for a in addresses if a}
    if wanted:
        for path in folder.glob("*.eml"):
            if path not in doomed and wanted & _addresses_of(path):
                doomed.add(path)
    removed = 0
    for path in doomed:
        # Only plain names inside the folder: a Message-ID is text from a database row.
        if _OUTBOX_NAME.fullmatch(path.name) and path.parent == folder:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


def _addresses_of(path: Path) -> set[str]:
    """The addresses in a stored message's To, Cc and From headers, casefolded."""
    with path.open("rb") as file:
        headers = BytesHeaderParser(policy=default_policy).parse(file)
    fields = [str(v) for name in ("To", "Cc", "From") for v in headers.get_all(name, [])]
    return {address.casefold() for _name, address in getaddresses(fields) if address}


class SmtpTransport:
    """One SMTP connection per worker, reused across messages and reopened when it drops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls,
            timeout=s.smtp_timeout_seconds,
            tls_context=tls_context(s) if (s.smtp_tls or s.smtp_starttls) else None,
        )
        try:
            await client.connect()
            await _greet(client)
            if s.smtp_username and s.smtp_password:
                await client.login(s.smtp_username, s.smtp_password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise ChannelFault(f"SMTP login refused: {exc.message}", code=exc.code) from exc
        except (ssl.SSLError, aiosmtplib.SMTPNotSupported) as exc:
            client.close()
            raise ChannelFault(f"SMTP TLS settings do not work: {exc}") from exc
        self._client = client
        return client

    async def send(self, outgoing: Outgoing, *, within: float | None = None) -> str:
        """MAIL, RCPT and DATA on the worker's connection, all within `within` seconds."""
        sent = False  # whether the message may have reached the server
        try:
            async with asyncio.timeout(within):
                client = await self._connected()
                await _envelope(client, outgoing)
                sent = True
                response = await client.data(outgoing.as_bytes())
        except aiosmtplib.SMTPResponseException as exc:
            # The server answered: whatever it said, it did not take the message.
            if exc.code == 421:  # and it is closing the connection (RFC 5321 3.8)
                await self._drop()
            else:
                await self._reset()  # the envelope, so the connection can go on
            raise SendError(exc.message, code=exc.code, temporary=exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._drop()
            detail = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, TimeoutError) and not str(exc) and within is not None:
                detail = f"no answer within the {within:.0f} s left of the worker's lease"
            if sent:  # the server may have the message: its log says the retry may duplicate it
                detail = (
                    "outcome unknown (the connection failed during DATA: the server may have "
                    f"accepted the message, and the retry keeps its Message-ID): {detail}"
                )
            raise SendError(detail, code=None, temporary=True) from exc
        return response.message

    async def _reset(self) -> None:
        try:
            if self._client is not None and self._client.is_connected:
                await self._client.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            await self._drop()

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(OSError, aiosmtplib.SMTPException):
                client.close()  # a broken connection: nothing more to say to it

    async def close(self) -> None:
        if self._client is not None and self._client.is_connected:
            try:
                await self._client.quit()
            except aiosmtplib.SMTPException:
                self._client.close()
        self._client = None


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO (HELO for an old server) once per connection, as `SMTP.mail` would before MAIL."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            await client.helo()


async def _envelope(client: aiosmtplib.SMTP, outgoing: Outgoing) -> None:
    """MAIL FROM and RCPT TO. `SMTP.mail` and `rcpt` parse each address again with the email
    package (a tenth of a worker's CPU); ours are already checked, and `_path` says so."""
    reverse_path, forward_path = _path(outgoing.envelope_from), _path(outgoing.envelope_to)
    sender = await client.execute_command(b"MAIL", b"FROM:" + reverse_path)
    if sender.code != 250:
        raise aiosmtplib.SMTPSenderRefused(sender.code, sender.message, outgoing.envelope_from)
    recipient = await client.execute_command(b"RCPT", b"TO:" + forward_path)
    if recipient.code not in (250, 251):
        raise aiosmtplib.SMTPRecipientRefused(
            recipient.code, recipient.message, outgoing.envelope_to
        )


@functools.lru_cache(maxsize=4096)
def _path(address: str) -> bytes:
    """`<address>` for MAIL and RCPT; SendError for anything no server should see there (an
    address is built or checked before it gets here, so this is the last guard, not a parser)."""
    if not _ADDR_SPEC.fullmatch(address) and not _quoted_ascii(address):
        raise SendError(f"not an address SMTP can carry: {address!r}", code=None, temporary=False)
    return f"<{address}>".encode("ascii")


def _quoted_ascii(address: str) -> bool:
    """A rarer but valid form (a quoted local part): printable ASCII, no angle brackets."""
    return address.isascii() and address.isprintable() and "<" not in address and ">" not in address


def make_transport(settings: Settings) -> Transport:
    if settings.mail_transport == "smtp":
        return SmtpTransport(settings)
    return OutboxTransport(outbox_folder(settings))


def outbox_folder(settings: Settings) -> Path:
    """Where the outbox transport writes (and erasure looks for a supporter's mails)."""
    return settings.var_dir / "outbox"


def attach(outgoing: Outgoing, *, filename: str, content: str, subtype: str = "csv") -> None:
    """Add a text attachment (a digest's list of co-signers) to a built message."""
    outgoing.message.add_attachment(content, subtype=subtype, filename=filename, charset="utf-8")
    outgoing.wire = None  # the generator writes the new structure
