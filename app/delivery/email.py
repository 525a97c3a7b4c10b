"""Building a letter's e-mail, and the transports that carry it.

From is the campaign's own address with the supporter's name in the display name ("Ada via
Free Bokayev"): never the supporter's address, which DMARC would reject. Reply-To and the VERP
envelope sender carry an HMAC-signed token of the delivery, so replies and bounces map back to
it. Headers are built with the `email` package's SMTP policy, which refuses CR/LF in any field.
The outbox transport (the default) writes .eml files and never contacts a server.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import html
import os
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib

from app.config import Settings
from app.db import utcnow


def delivery_token(delivery_id: int, secret: str) -> str:
    """`<id>.<signature>`: a reply or bounce address names its delivery and cannot be forged."""
    mac = hmac.new(secret.encode(), str(delivery_id).encode(), hashlib.sha256).hexdigest()
    return f"{delivery_id}.{mac[:20]}"


def parse_token(token: str, secret: str) -> int | None:
    ident, _, _sig = token.partition(".")
    if not ident.isdigit():
        return None
    expected = delivery_token(int(ident), secret)
    return int(ident) if hmac.compare_digest(expected, token) else None


@dataclass(frozen=True, slots=True)
class Outgoing:
    message: EmailMessage
    envelope_from: str
    envelope_to: str


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
    token = delivery_token(delivery_id, settings.token_secret)
    domain = settings.mail_domain
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(
        display_name=f"{sender_name} via {campaign_title}",
        addr_spec=f"{settings.campaign_mailbox}@{domain}",
    )
    message["To"] = Address(display_name=to_name, addr_spec=to_address)
    message["Reply-To"] = Address(addr_spec=f"reply+{token}@{domain}")
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = f"<delivery-{token}@{domain}>"
    message["Content-Language"] = language
    message["Auto-Submitted"] = "no"  # written by a person, not an auto-reply
    message.set_content(body)
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in body.split("\n\n")
    )
    message.add_alternative(
        f'<!doctype html><html lang="{html.escape(language)}"><body>{paragraphs}</body></html>',
        subtype="html",
    )
    return Outgoing(message, f"bounce+{token}@{domain}", to_address)


class SendError(Exception):
    """A failed attempt; `temporary` decides between a retry and a permanent failure."""

    def __init__(self, detail: str, *, code: int | None, temporary: bool) -> None:
        super().__init__(detail)
        self.detail, self.code, self.temporary = detail, code, temporary


class Transport(Protocol):
    async def send(self, outgoing: Outgoing) -> str: ...  # returns the server's answer

    async def close(self) -> None: ...


class OutboxTransport:
    """Writes each message to <folder>/<message id>.eml (atomically): the default, sends nothing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, outgoing: Outgoing) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(outgoing.message["Message-ID"]).strip("<>").split("@")[0] + ".eml"
        temporary = self.folder / f".{name}.tmp"
        temporary.write_bytes(
            f"X-Envelope-From: {outgoing.envelope_from}\r\n".encode() + outgoing.message.as_bytes()
        )
        os.replace(temporary, self.folder / name)
        return f"written to {self.folder / name}"

    async def close(self) -> None:
        return None


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
            tls_context=ssl.create_default_context() if (s.smtp_tls or s.smtp_starttls) else None,
        )
        await client.connect()
        if s.smtp_username and s.smtp_password:
            await client.login(s.smtp_username, s.smtp_password)
        self._client = client
        return client

    async def send(self, outgoing: Outgoing) -> str:
        try:
            client = await self._connected()
            errors, answer = await client.send_message(
                outgoing.message,
                sender=outgoing.envelope_from,
                recipients=[outgoing.envelope_to],
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            raise SendError(
                refusal.message, code=refusal.code, temporary=refusal.code < 500
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self._drop()
            raise SendError(exc.message, code=exc.code, temporary=exc.code < 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._drop()
            raise SendError(f"{type(exc).__name__}: {exc}", code=None, temporary=True) from exc
        if errors:
            code, text = next(iter(errors.values()))
            raise SendError(text, code=code, temporary=code < 500)
        return answer

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


def make_transport(settings: Settings) -> Transport:
    if settings.mail_transport == "smtp":
        return SmtpTransport(settings)
    return OutboxTransport(settings.var_dir / "outbox")
