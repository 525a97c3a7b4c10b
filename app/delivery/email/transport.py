"""The transports that carry a letter's e-mail: the outbox (files, the default) and SMTP; the
outbox's own housekeeping (names, erasure of a supporter's mails)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import re
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses
from pathlib import Path
from typing import Protocol

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from app.config import Settings, tls_context
from app.delivery.email.dkim import signer_from
from app.delivery.email.message import ADDR_SPEC, Outgoing


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


@dataclass(frozen=True, slots=True)
class Reply:
    """One command of the SMTP transaction and the server's reply to it, when it came (UTC)."""

    command: str  # MAIL, RCPT, DATA
    code: int
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a transport can show for a message it handed over: the final reply (its `250`
    text carries the relay's queue id), where it went, each reply of the transaction, and the
    exact bytes sent with their SHA-256 and DKIM signature (the proof of delivery keeps these)."""

    code: int
    answer: str
    data: bytes = field(repr=False)  # exactly what went after DATA (or into the outbox file)
    sha256: str
    server: str | None = None  # host:port as configured
    peer: str | None = None  # the address actually connected to
    transcript: tuple[Reply, ...] = ()
    dkim_signature: str | None = None
    file: str | None = None  # the outbox's file


def receipt_for(
    data: bytes,
    *,
    code: int,
    answer: str,
    server: str | None = None,
    peer: str | None = None,
    transcript: tuple[Reply, ...] = (),
    file: str | None = None,
) -> Receipt:
    """A receipt for `data`, its hash and DKIM signature (if it carries one) read from it."""
    return Receipt(
        code=code,
        answer=answer,
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        server=server,
        peer=peer,
        transcript=transcript,
        dkim_signature=dkim_signature(data),
        file=file,
    )


def dkim_signature(data: bytes) -> str | None:
    """The value of the message's first DKIM-Signature header (unfolded), or None."""
    head = data.split(b"\r\n\r\n", 1)[0]
    lines = head.split(b"\r\n")
    for index, line in enumerate(lines):
        if line[:15].lower() == b"dkim-signature:":
            value = [line[15:]]
            for more in lines[index + 1 :]:
                if more[:1] not in (b" ", b"\t"):
                    break
                value.append(more)
            return b"".join(value).decode("ascii", "replace").strip()
    return None


class Transport(Protocol):
    # Returns the receipt; gives up (SendError) after `within` seconds if given.
    async def send(self, outgoing: Outgoing, *, within: float | None = None) -> Receipt: ...

    async def close(self) -> None: ...


class OutboxTransport:
    """Writes each message to <folder>/<message id>.eml (atomically): the default, sends nothing."""

    def __init__(self, folder: Path, *, sign: Callable[[bytes], bytes] | None = None) -> None:
        self.folder = folder
        self.sign = sign or _unsigned

    async def send(self, outgoing: Outgoing, *, within: float | None = None) -> Receipt:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = outbox_name(outgoing.message_id)
        temporary = self.folder / f".{name}.tmp"
        data = self.sign(outgoing.as_bytes())
        temporary.write_bytes(f"X-Envelope-From: {outgoing.envelope_from}\r\n".encode() + data)
        os.replace(temporary, self.folder / name)
        written = self.folder / name
        return receipt_for(data, code=250, answer=f"written to {written}", file=str(written))

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

    def __init__(self, settings: Settings, *, sign: Callable[[bytes], bytes] | None = None) -> None:
        self.settings = settings
        self.sign = sign or _unsigned
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

    async def send(self, outgoing: Outgoing, *, within: float | None = None) -> Receipt:
        """MAIL, RCPT and DATA on the worker's connection, all within `within` seconds."""
        sent = False  # whether the message may have reached the server
        try:
            async with asyncio.timeout(within):
                client = await self._connected()
                replies = await _envelope(client, outgoing)
                sent = True
                # As aiosmtplib puts them on the wire (CRLF, a final one), so the hash kept
                # is of the bytes the server received.
                data = normalize_message_line_endings(self.sign(outgoing.as_bytes()))
                response = await client.data(data)
                replies.append(_reply("DATA", response))
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
        return receipt_for(
            data,
            code=response.code,
            answer=response.message,
            server=f"{self.settings.smtp_host}:{self.settings.smtp_port}",
            peer=_peer(client),
            transcript=tuple(replies),
        )

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


def _reply(command: str, response: aiosmtplib.SMTPResponse) -> Reply:
    return Reply(command, response.code, response.message, datetime.now(UTC))


def _peer(client: aiosmtplib.SMTP) -> str | None:
    """The address and port the connection actually reached (after DNS, behind any name)."""
    transport = client.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return None


async def _envelope(client: aiosmtplib.SMTP, outgoing: Outgoing) -> list[Reply]:
    """MAIL FROM and RCPT TO, their replies. `SMTP.mail` and `rcpt` parse each address again
    with the email package (a tenth of a worker's CPU); ours are already checked, and `_path`
    says so."""
    reverse_path, forward_path = _path(outgoing.envelope_from), _path(outgoing.envelope_to)
    sender = await client.execute_command(b"MAIL", b"FROM:" + reverse_path)
    if sender.code != 250:
        raise aiosmtplib.SMTPSenderRefused(sender.code, sender.message, outgoing.envelope_from)
    recipient = await client.execute_command(b"RCPT", b"TO:" + forward_path)
    if recipient.code not in (250, 251):
        raise aiosmtplib.SMTPRecipientRefused(
            recipient.code, recipient.message, outgoing.envelope_to
        )
    return [_reply("MAIL", sender), _reply("RCPT", recipient)]


@functools.lru_cache(maxsize=4096)
def _path(address: str) -> bytes:
    """`<address>` for MAIL and RCPT; SendError for anything no server should see there (an
    address is built or checked before it gets here, so this is the last guard, not a parser)."""
    if not ADDR_SPEC.fullmatch(address) and not _quoted_ascii(address):
        raise SendError(f"not an address SMTP can carry: {address!r}", code=None, temporary=False)
    return f"<{address}>".encode("ascii")


def _quoted_ascii(address: str) -> bool:
    """A rarer but valid form (a quoted local part): printable ASCII, no angle brackets."""
    return address.isascii() and address.isprintable() and "<" not in address and ">" not in address


def make_transport(
    settings: Settings, *, sign: Callable[[bytes], bytes] | None = None
) -> Transport:
    """The configured transport; `sign` (by default the configured DKIM key's) is applied to
    every message's bytes."""
    if sign is None and (signer := signer_from(settings)) is not None:
        sign = signer.sign
    if settings.mail_transport == "smtp":
        return SmtpTransport(settings, sign=sign)
    return OutboxTransport(outbox_folder(settings), sign=sign)


def _unsigned(message: bytes) -> bytes:
    return message


def outbox_folder(settings: Settings) -> Path:
    """Where the outbox transport writes (and erasure looks for a supporter's mails)."""
    return settings.var_dir / "outbox"
