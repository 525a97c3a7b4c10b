"""`appeals inbound imap` against Debian's Dovecot, started by the test on 127.0.0.1.

The fake server of test_imap.py checks the exact commands; this checks that the poller gets
along with a real server: its capabilities (MOVE only after login), its TLS, its refusals, and
a connection dropped by a proxy in the middle of a command.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.delivery.models import Delivery, DeliveryStatus
from app.responses import imap
from app.responses.models import InboundMessage, InboundStatus
from tests.delivery.test_worker import the_delivery
from tests.responses.conftest import sample
from tests.responses.mailservers import Dovecot, dovecot, scratch
from tests.test_cli import Appeals, appeals, cli_env

__all__ = ["appeals", "cli_env", "dovecot", "scratch"]


def crlf(raw: bytes) -> bytes:
    """The message as an MTA hands it to the mailbox: CRLF line ends (IMAP's own)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def imap_settings(settings: Settings, server: Dovecot, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "imap_host": "127.0.0.1",
            "imap_port": server.imap_port,
            "imap_tls": False,
            "imap_username": server.user,
            "imap_password": server.password,
            "imap_timeout_seconds": 10,
            **extra,
        }
    )


async def sent_delivery(session: AsyncSession) -> Delivery:
    delivery = await the_delivery(session)
    delivery.status = DeliveryStatus.sent  # as if the worker had sent it
    await session.commit()
    return delivery


def three_messages(delivery_id: int) -> list[bytes]:
    """A bounce, a reply and an auto-reply to one delivery."""
    return [
        crlf(sample(name, delivery_id=delivery_id))
        for name in ("postfix-hard-bounce.eml", "reply-quoting-letter.eml", "gmail-vacation.eml")
    ]


async def stored(session: AsyncSession) -> list[tuple[str, InboundStatus, str | None]]:
    session.expire_all()
    rows = (await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all()
    return [(m.source, m.status, m.kind) for m in rows]


ALL_THREE = [
    ("imap", InboundStatus.matched, "bounce"),
    ("imap", InboundStatus.matched, "reply"),
    ("imap", InboundStatus.matched, "auto_reply"),
]


@dataclass
class Proxy:
    """A loopback TCP proxy between the poller and Dovecot. It records the poller's commands
    and, given `cut`, drops the connection once: after forwarding the first command matching
    `cut` and receiving the server's whole answer, it hands the poller only the first `share`
    of that answer (0: none of it) and closes both sides."""

    upstream: int
    cut: bytes | None = None
    share: float = 0.0
    commands: list[str] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        cutting: list[bytes] = []  # the tag of the command after which to cut, once sent

        async def up() -> None:
            while line := await reader.readline():
                tag, _, command = line.decode(errors="replace").rstrip("\r\n").partition(" ")
                self.commands.append(command)
                if self.cut is not None and re.search(self.cut, line):
                    self.cut = None
                    cutting.append(tag.encode())
                up_writer.write(line)
                await up_writer.drain()

        async def down() -> None:
            answer = b""
            while chunk := await up_reader.read(65536):
                if not cutting:
                    writer.write(chunk)
                    await writer.drain()
                    continue
                answer += chunk
                if re.search(rb"(?:^|\r\n)" + re.escape(cutting[0]) + rb" ", answer):
                    writer.write(answer[: int(len(answer) * self.share)])
                    await writer.drain()
                    return

        tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for w in (writer, up_writer):
                w.close()


@pytest.fixture
async def proxy(dovecot: Dovecot) -> AsyncIterator[Proxy]:
    relay = Proxy(upstream=dovecot.imap_port)
    yield relay
    await relay.stop()


class TestPlainLogin:
    async def test_three_messages_are_stored_and_moved_to_processed(
        self,
        queued: dict[str, Any],
        dovecot: Dovecot,
        proxy: Proxy,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        delivery = await sent_delivery(session)
        messages = three_messages(delivery.id)
        dovecot.append(*messages)
        config = imap_settings(settings, dovecot, imap_port=await proxy.start())

        result = await imap.poll_once(sessionmaker, config)

        assert (result.moved, result.failed) == (3, [])
        assert dovecot.messages("INBOX") == []
        assert dovecot.messages("Processed") == messages
        assert await stored(session) == ALL_THREE
        assert (await the_delivery(session)).status is DeliveryStatus.bounced
        # Dovecot names MOVE only once logged in: the poller asked again and used it.
        assert sum(c.startswith("UID MOVE") for c in proxy.commands) == 3
        assert not any(c.startswith(("UID COPY", "EXPUNGE")) for c in proxy.commands)

    async def test_an_empty_inbox_is_a_pass_with_nothing_to_do(
        self,
        dovecot: Dovecot,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        result = await imap.poll_once(sessionmaker, imap_settings(settings, dovecot))
        assert (result.moved, result.failed) == (0, [])
        assert await stored(session) == []


class TestTls:
    """Dovecot's certificate is signed by a CA made by the test, trusted through tls_ca_file."""

    @pytest.mark.parametrize("implicit", [True, False], ids=["imaps", "starttls"])
    async def test_mail_is_read_over_tls_from_a_server_our_ca_signed(
        self,
        implicit: bool,
        queued: dict[str, Any],
        dovecot: Dovecot,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        delivery = await sent_delivery(session)
        messages = three_messages(delivery.id)
        dovecot.append(*messages)
        config = imap_settings(
            settings,
            dovecot,
            imap_port=dovecot.imaps_port if implicit else dovecot.imap_port,
            imap_tls=implicit,
            imap_starttls=not implicit,
            tls_ca_file=dovecot.tls.ca,
        )

        result = await imap.poll_once(sessionmaker, config)

        assert (result.moved, result.failed) == (3, [])
        assert dovecot.messages("Processed") == messages
        assert await stored(session) == ALL_THREE
        logins = [line for line in dovecot.log.read_text().splitlines() if "Login: " in line]
        # The test's own sessions log in in plain text; the poller's one login went over TLS.
        assert [line for line in logins if ", TLS," in line] == [logins[1]]

    @pytest.mark.parametrize("implicit", [True, False], ids=["imaps", "starttls"])
    async def test_without_our_ca_the_certificate_is_refused_before_login(
        self,
        implicit: bool,
        dovecot: Dovecot,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        dovecot.append(crlf(sample("gmail-vacation.eml")))
        config = imap_settings(
            settings,
            dovecot,
            imap_port=dovecot.imaps_port if implicit else dovecot.imap_port,
            imap_tls=implicit,
            imap_starttls=not implicit,
        )
        with pytest.raises(imap.MailboxError, match="certificate verify failed"):
            await imap.poll_once(sessionmaker, config)
        assert len(dovecot.messages("INBOX")) == 1
        assert await stored(session) == []


class TestRefusedLogin:
    async def test_a_wrong_password_is_an_error_and_nothing_is_lost(
        self,
        dovecot: Dovecot,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        messages = three_messages(4242)
        dovecot.append(*messages)
        config = imap_settings(settings, dovecot, imap_password="wrong")
        with pytest.raises(imap.MailboxError, match=r"LOGIN refused.*AUTHENTICATIONFAILED"):
            await imap.poll_once(sessionmaker, config)
        assert dovecot.messages("INBOX") == messages
        assert dovecot.messages("Processed") == []
        assert await stored(session) == []

    def test_the_command_says_so_in_one_line_and_exits_non_zero(
        self, dovecot: Dovecot, appeals: Appeals, cli_env: dict[str, str]
    ) -> None:
        messages = three_messages(4242)
        dovecot.append(*messages)
        cli_env.update(
            APPEALS_IMAP_HOST="127.0.0.1",
            APPEALS_IMAP_PORT=str(dovecot.imap_port),
            APPEALS_IMAP_TLS="false",
            APPEALS_IMAP_USERNAME=dovecot.user,
            APPEALS_IMAP_PASSWORD="wrong",
        )
        result = appeals("inbound", "imap", "--once")
        assert result.returncode == 2
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: IMAP LOGIN refused")
        assert "AUTHENTICATIONFAILED" in line
        assert dovecot.messages("INBOX") == messages


class TestDroppedConnection:
    """The connection drops in the middle of the second message: the first stays processed,
    the rest stay in the INBOX, and the next pass takes them, each stored once."""

    @pytest.mark.parametrize(
        ("cut", "share", "processed_first"),
        [
            (rb"UID FETCH 2 \(BODY", 0.5, 1),  # half of the message's bytes, then nothing
            (rb"UID MOVE 2 ", 0.0, 2),  # Dovecot moved it; the poller never heard
        ],
        ids=["mid-fetch", "after-move"],
    )
    async def test_the_next_pass_takes_the_rest_and_nothing_is_duplicated(
        self,
        cut: bytes,
        share: float,
        processed_first: int,
        queued: dict[str, Any],
        dovecot: Dovecot,
        proxy: Proxy,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        delivery = await sent_delivery(session)
        messages = three_messages(delivery.id)
        dovecot.append(*messages)
        proxy.cut, proxy.share = cut, share
        config = imap_settings(settings, dovecot, imap_port=await proxy.start())

        command = cut.decode().split(" 2 ")[0]
        with pytest.raises(imap.MailboxError, match=rf"IMAP {command} failed: .*socket error: EOF"):
            await imap.poll_once(sessionmaker, config)
        assert dovecot.messages("Processed") == messages[:processed_first]
        assert dovecot.messages("INBOX") == messages[processed_first:]
        assert await stored(session) == ALL_THREE[:processed_first]

        result = await imap.poll_once(sessionmaker, config)

        assert (result.moved, result.failed) == (3 - processed_first, [])
        assert dovecot.messages("INBOX") == []
        assert dovecot.messages("Processed") == messages
        assert await stored(session) == ALL_THREE


class TestTheLongRunningPoller:
    async def test_a_dropped_pass_is_reported_and_the_next_one_takes_the_rest(
        self, dovecot: Dovecot, proxy: Proxy, cli_env: dict[str, str], tmp_path: Any
    ) -> None:
        """`appeals inbound imap` without --once: after a pass that worked, a lost connection
        is one line on stderr and the next pass, at the interval, reads what was left."""
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "db", "upgrade", env=cli_env, cwd=tmp_path
        )
        assert await migrate.wait() == 0
        port = await proxy.start()
        env = {
            **cli_env,
            "APPEALS_IMAP_HOST": "127.0.0.1",
            "APPEALS_IMAP_PORT": str(port),
            "APPEALS_IMAP_TLS": "false",
            "APPEALS_IMAP_USERNAME": dovecot.user,
            "APPEALS_IMAP_PASSWORD": dovecot.password,
            "APPEALS_IMAP_POLL_SECONDS": "5",
        }
        poller = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "inbound", "imap",
            env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert poller.stderr is not None
        lines: list[str] = []

        async def line() -> str:
            assert poller.stderr is not None
            text = (await asyncio.wait_for(poller.stderr.readline(), 60)).decode()
            if not text:
                raise AssertionError("the poller stopped; it said:\n" + "".join(lines))
            lines.append(text)
            return text

        try:
            assert await line() == "0 messages processed and moved\n"  # the first pass works
            proxy.cut, proxy.share = rb"UID FETCH 2 \(BODY", 0.5
            dovecot.append(*three_messages(4242))
            while not lines[-1].startswith("error: "):
                await line()
            assert lines[-1].rstrip().endswith("next pass in 5 s")
            while dovecot.messages("INBOX"):
                await line()
            assert len(dovecot.messages("Processed")) == 3
            assert poller.returncode is None  # still polling
        finally:
            poller.terminate()
            await poller.wait()
