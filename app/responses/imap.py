"""Reading inbound mail from an IMAP mailbox into the same pipeline as the HTTP endpoint.

The client is the standard library's `imaplib`, run in a thread (it blocks): the few commands
used need nothing more, and it is one dependency fewer. Each message in the folder is fetched
without marking it seen, stored (and committed) and processed; only then is it moved to the
processed folder: with MOVE (RFC 6851) when the server has it, else COPY to the processed folder,
then flag the original `\\Deleted` and expunge it (UID EXPUNGE with UIDPLUS; a plain EXPUNGE
otherwise). Mail is never deleted without its copy in the processed folder. A message whose
storing or processing fails stays in the folder and is tried again at the next poll (the bytes
are stored once).
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings, tls_context
from app.responses import service

log = logging.getLogger(__name__)


class MailboxError(Exception):
    """The IMAP server refused something we need (login, the folder, a move)."""


class Mailbox(Protocol):
    def connect(self) -> None: ...
    def uids(self) -> list[str]: ...
    def fetch(self, uid: str, max_bytes: int) -> tuple[bytes, int]: ...
    def move(self, uid: str) -> None: ...
    def close(self) -> None: ...


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapMailbox:
    """Blocking IMAP operations on one folder (call them from a thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: imaplib.IMAP4 | None = None
        self._capabilities: frozenset[str] = frozenset()

    @property
    def client(self) -> imaplib.IMAP4:
        if self._client is None:
            raise MailboxError("not connected")
        return self._client

    def _call(
        self, what: str, command: Callable[..., tuple[str, Sequence[object]]], *args: str
    ) -> Sequence[object]:
        """Run one IMAP command: a refusal, or the connection lost on the way, is a
        MailboxError (imaplib raises `IMAP4.abort` or an OSError for the latter)."""
        try:
            status, data = command(*args)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP {what} failed: {exc}") from exc
        if status != "OK":
            raise MailboxError(f"IMAP {what} refused: {data!r}")
        return data

    def connect(self) -> None:
        s = self.settings
        if not s.imap_host:
            raise MailboxError("no IMAP server configured (APPEALS_IMAP_HOST)")
        try:
            if s.imap_tls:
                self._client = imaplib.IMAP4_SSL(
                    s.imap_host,
                    s.imap_port,
                    ssl_context=tls_context(s),
                    timeout=s.imap_timeout_seconds,
                )
            else:
                self._client = imaplib.IMAP4(
                    s.imap_host, s.imap_port, timeout=s.imap_timeout_seconds
                )
                if s.imap_starttls:
                    self._client.starttls(tls_context(s))
        except (OSError, imaplib.IMAP4.error) as exc:  # ssl.SSLError is an OSError
            raise MailboxError(
                f"cannot open the IMAP connection to {s.imap_host}:{s.imap_port}: {exc}"
            ) from exc
        try:
            self.client.login(s.imap_username or "", s.imap_password or "")
        except imaplib.IMAP4.error as exc:  # imaplib raises on NO for LOGIN
            raise MailboxError(f"IMAP LOGIN refused: {exc}") from exc
        # Asked again: servers (Dovecot among them) name MOVE and UIDPLUS only once logged in,
        # and imaplib keeps the list it was given before.
        listed = self._call("CAPABILITY", self.client.capability)
        first = listed[0] if listed else b""
        names = first.decode().split() if isinstance(first, bytes) else []
        self._capabilities = frozenset(c.upper() for c in names or self.client.capabilities)
        # The processed folder may exist already: a refused CREATE is fine, a missing one is not.
        try:
            self.client.create(_quote(s.imap_processed_folder))
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP CREATE failed: {exc}") from exc
        self._call(f"SELECT {s.imap_folder}", self.client.select, _quote(s.imap_folder))

    def uids(self) -> list[str]:
        data = self._call("UID SEARCH", self.client.uid, "SEARCH", "ALL")
        first = data[0] if data else b""
        return first.decode().split() if isinstance(first, bytes) else []

    def fetch(self, uid: str, max_bytes: int) -> tuple[bytes, int]:
        """The message's bytes (its first `max_bytes` if larger) and its full size."""
        data = self._call("UID FETCH size", self.client.uid, "FETCH", uid, "(RFC822.SIZE)")
        head = data[0] if data else b""
        found = re.search(rb"RFC822\.SIZE (\d+)", head if isinstance(head, bytes) else b"")
        size = int(found.group(1)) if found else 0
        part = "BODY.PEEK[]" if size <= max_bytes else f"BODY.PEEK[]<0.{max_bytes}>"
        data = self._call("UID FETCH", self.client.uid, "FETCH", uid, f"({part})")
        for item in data:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
                return item[1], size or len(item[1])
        raise MailboxError(f"IMAP UID FETCH {uid} returned no message")

    def move(self, uid: str) -> None:
        folder = _quote(self.settings.imap_processed_folder)
        if "MOVE" in self._capabilities:
            self._call("UID MOVE", self.client.uid, "MOVE", uid, folder)
            return
        self._call("UID COPY", self.client.uid, "COPY", uid, folder)
        self._call("UID STORE", self.client.uid, "STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
        if "UIDPLUS" in self._capabilities:
            self._call("UID EXPUNGE", self.client.uid, "EXPUNGE", uid)
        else:
            self._call("EXPUNGE", self.client.expunge)

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.logout()
            except (imaplib.IMAP4.error, OSError):
                log.warning("IMAP logout failed", exc_info=True)
            self._client = None


@dataclass(slots=True)
class PollResult:
    moved: int = 0
    failed: list[str] = field(default_factory=list)  # UIDs left in the folder for next time


async def poll_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    mailbox: Mailbox | None = None,
) -> PollResult:
    """Read every message in the folder once: store, process, then move it."""
    box = mailbox or ImapMailbox(settings)
    result = PollResult()
    await asyncio.to_thread(box.connect)
    try:
        for uid in await asyncio.to_thread(box.uids):
            raw, size = await asyncio.to_thread(box.fetch, uid, settings.inbound_max_bytes)
            try:
                async with sessionmaker() as session:
                    message, _ = await service.store(
                        session,
                        raw=raw,
                        source="imap",
                        envelope_to=None,
                        max_bytes=settings.inbound_max_bytes,
                        size=size,
                    )
                    await session.commit()  # kept before anything is made of it
                    await service.process(session, message=message, settings=settings)
                    await session.commit()
            except Exception:  # one bad message must not stop the rest; it stays for next time
                log.exception("inbound IMAP message %s could not be processed", uid)
                result.failed.append(uid)
                continue
            await asyncio.to_thread(box.move, uid)
            result.moved += 1
    finally:
        await asyncio.to_thread(box.close)
    return result
