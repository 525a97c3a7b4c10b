"""A small IMAP4rev1 server on 127.0.0.1 for the IMAP poller's tests.

It speaks the commands the poller uses (CAPABILITY, LOGIN, CREATE, SELECT, UID SEARCH/FETCH/
COPY/STORE/MOVE/EXPUNGE, EXPUNGE, LOGOUT) over asyncio, keeps folders in memory, and records the
commands it was sent, so a test can check what the client really did to the mailbox. Given a
server TLS context, it speaks TLS from the start (port 993 style) or, with STARTTLS among its
capabilities, upgrades the connection when asked.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field


@dataclass
class Stored:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class FakeImap:
    user: str = "inbound"
    password: str = 'p"ss word'
    capabilities: tuple[str, ...] = ("IMAP4rev1", "UIDPLUS")
    folders: dict[str, list[Stored]] = field(default_factory=lambda: {"INBOX": []})
    commands: list[str] = field(default_factory=list)
    _next_uid: int = 1
    server: asyncio.Server | None = None
    tls: ssl.SSLContext | None = None  # the server's certificate, for TLS or STARTTLS
    implicit_tls: bool = False  # TLS from the first byte, else only after STARTTLS

    def deliver(self, raw: bytes, folder: str = "INBOX") -> int:
        uid, self._next_uid = self._next_uid, self._next_uid + 1
        self.folders.setdefault(folder, []).append(Stored(uid, raw))
        return uid

    async def start(self) -> int:
        self.server = await asyncio.start_server(
            self._session, "127.0.0.1", 0, ssl=self.tls if self.implicit_tls else None
        )
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        selected: str | None = None
        writer.write(b"* OK fake IMAP ready\r\n")
        try:
            while line := await reader.readline():
                text = line.decode().rstrip("\r\n")
                tag, _, rest = text.partition(" ")
                command, _, args = rest.partition(" ")
                command = command.upper()
                if command == "UID":
                    sub, _, args = args.partition(" ")
                    command = f"UID {sub.upper()}"
                self.commands.append(command if command != "LOGIN" else "LOGIN")
                ok = f"{tag} OK {command} done\r\n".encode()
                if command == "STARTTLS" and self.tls is not None and not self.implicit_tls:
                    writer.write(ok)
                    await writer.drain()
                    await writer.start_tls(self.tls)
                    continue
                if command == "CAPABILITY":
                    writer.write(f"* CAPABILITY {' '.join(self.capabilities)}\r\n".encode() + ok)
                elif command == "LOGIN":
                    user, password = _words(args)
                    good = (user, password) == (self.user, self.password)
                    writer.write(ok if good else f"{tag} NO wrong password\r\n".encode())
                elif command == "CREATE":
                    [name] = _words(args)
                    if name in self.folders:
                        writer.write(f"{tag} NO [ALREADYEXISTS] exists\r\n".encode())
                    else:
                        self.folders[name] = []
                        writer.write(ok)
                elif command == "SELECT":
                    [selected] = _words(args)
                    count = len(self.folders.get(selected, []))
                    writer.write(f"* {count} EXISTS\r\n".encode() + ok)
                elif command == "UID SEARCH" and selected:
                    uids = " ".join(str(m.uid) for m in self.folders[selected])
                    writer.write(f"* SEARCH {uids}\r\n".encode() + ok)
                elif command == "UID FETCH" and selected:
                    writer.write(self._fetch(selected, args) + ok)
                elif command in ("UID COPY", "UID MOVE") and selected:
                    uid, folder = _words(args)
                    message = self._find(selected, int(uid))
                    if message is None or folder not in self.folders:
                        writer.write(f"{tag} NO no such message or folder\r\n".encode())
                        continue
                    self.folders[folder].append(Stored(self._next_uid, message.raw))
                    self._next_uid += 1
                    if command == "UID MOVE":
                        self.folders[selected].remove(message)
                    writer.write(ok)
                elif command == "UID STORE" and selected:
                    uid, _, flags = args.partition(" ")
                    message = self._find(selected, int(uid))
                    if message is not None and "\\Deleted" in flags:
                        message.flags.add("\\Deleted")
                    writer.write(ok)
                elif command in ("EXPUNGE", "UID EXPUNGE") and selected:
                    only = int(args) if command == "UID EXPUNGE" else None
                    self.folders[selected] = [
                        m
                        for m in self.folders[selected]
                        if "\\Deleted" not in m.flags or (only is not None and m.uid != only)
                    ]
                    writer.write(ok)
                elif command == "LOGOUT":
                    writer.write(b"* BYE\r\n" + ok)
                    await writer.drain()
                    break
                else:
                    writer.write(f"{tag} BAD unknown command\r\n".encode())
                await writer.drain()
        finally:
            writer.close()

    def _find(self, folder: str, uid: int) -> Stored | None:
        return next((m for m in self.folders[folder] if m.uid == uid), None)

    def _fetch(self, folder: str, args: str) -> bytes:
        uid, _, items = args.partition(" ")
        message = self._find(folder, int(uid))
        if message is None:
            return b""
        seq = self.folders[folder].index(message) + 1
        if "RFC822.SIZE" in items:
            return f"* {seq} FETCH (UID {uid} RFC822.SIZE {len(message.raw)})\r\n".encode()
        partial = re.search(r"BODY\.PEEK\[\]<0\.(\d+)>", items)
        data = message.raw[: int(partial.group(1))] if partial else message.raw
        name = "BODY[]<0>" if partial else "BODY[]"
        return f"* {seq} FETCH (UID {uid} {name} {{{len(data)}}}\r\n".encode() + data + b")\r\n"


def _words(args: str) -> list[str]:
    """IMAP atoms and quoted strings."""
    found = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', args)
    return [re.sub(r"\\(.)", r"\1", q) if q else a for q, a in found]
