"""`appeals inbound imap`: the poller against a small IMAP server on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.delivery.models import DeliveryStatus
from app.responses import imap
from app.responses.models import InboundMessage, InboundStatus
from tests.delivery.test_worker import the_delivery
from tests.factories import bearer
from tests.responses.conftest import sample
from tests.responses.fake_imap import FakeImap


@pytest.fixture(
    params=[("IMAP4rev1",), ("IMAP4rev1", "UIDPLUS"), ("IMAP4rev1", "MOVE")],
    ids=["copy-expunge", "copy-uid-expunge", "move"],
)
async def server(request: pytest.FixtureRequest) -> AsyncIterator[FakeImap]:
    fake = FakeImap(capabilities=request.param)
    yield fake
    await fake.stop()


async def imap_settings(settings: Settings, server: FakeImap) -> Settings:
    port = await server.start()
    return settings.model_copy(
        update={
            "imap_host": "127.0.0.1",
            "imap_port": port,
            "imap_tls": False,
            "imap_username": server.user,
            "imap_password": server.password,
            "imap_timeout_seconds": 5,
        }
    )


class TestPoll:
    async def test_mail_is_processed_then_moved_never_deleted(
        self,
        queued: dict[str, Any],
        server: FakeImap,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
    ) -> None:
        delivery = await the_delivery(session)
        delivery.status = DeliveryStatus.sent  # as if the worker had sent it
        await session.commit()
        bounce = sample("postfix-hard-bounce.eml", delivery_id=delivery.id)
        reply = sample("reply-quoting-letter.eml", delivery_id=delivery.id)
        server.deliver(bounce)
        server.deliver(reply)
        config = await imap_settings(settings, server)

        result = await imap.poll_once(sessionmaker, config)

        assert (result.moved, result.failed) == (2, [])
        assert server.folders["INBOX"] == []
        assert [m.raw for m in server.folders["Processed"]] == [bounce, reply]
        if "MOVE" in server.capabilities:
            assert "UID MOVE" in server.commands and "UID COPY" not in server.commands
        else:
            assert server.commands.index("UID COPY") < server.commands.index("UID STORE")
            expunge = "UID EXPUNGE" if "UIDPLUS" in server.capabilities else "EXPUNGE"
            assert server.commands.index("UID STORE") < server.commands.index(expunge)
        session.expire_all()
        assert (await the_delivery(session)).status is DeliveryStatus.bounced
        stored = (await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all()
        assert [(m.source, m.status, m.kind) for m in stored] == [
            ("imap", InboundStatus.matched, "bounce"),
            ("imap", InboundStatus.matched, "reply"),
        ]
        log = await client.get("/api/v1/responses", headers=bearer(queued["token"]))
        assert log.json()["total"] == 1

    async def test_a_message_that_fails_stays_in_the_inbox(
        self,
        queued: dict[str, Any],
        server: FakeImap,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        delivery = await the_delivery(session)
        uid = server.deliver(sample("reply-quoting-letter.eml", delivery_id=delivery.id))
        config = await imap_settings(settings, server)

        async def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("a bug while matching")

        with monkeypatch.context() as patch:
            patch.setattr(imap.service.matching, "find_delivery", broken)
            result = await imap.poll_once(sessionmaker, config)
        assert (result.moved, result.failed) == (0, [str(uid)])
        assert [m.uid for m in server.folders["INBOX"]] == [uid]
        assert server.folders["Processed"] == []

        result = await imap.poll_once(sessionmaker, config)  # fixed: the next pass takes it
        assert result.moved == 1
        session.expire_all()
        [stored] = (await session.scalars(select(InboundMessage))).all()
        assert stored.status is InboundStatus.matched

    async def test_a_large_message_is_kept_truncated(
        self,
        server: FakeImap,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
    ) -> None:
        raw = b"From: x@pace.example\r\nSubject: huge\r\n\r\n" + b"y" * 5000
        server.deliver(raw)
        config = (await imap_settings(settings, server)).model_copy(
            update={"inbound_max_bytes": 1024}
        )
        assert (await imap.poll_once(sessionmaker, config)).moved == 1
        stored = await session.scalar(select(InboundMessage))
        assert stored is not None and stored.truncated
        assert (stored.size, len(stored.raw)) == (len(raw), 1024)
        assert server.folders["Processed"][0].raw == raw  # the mailbox keeps it whole

    async def test_a_refused_login_is_an_error(
        self,
        server: FakeImap,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        config = (await imap_settings(settings, server)).model_copy(
            update={"imap_password": "wrong"}
        )
        with pytest.raises(imap.MailboxError, match="LOGIN refused"):
            await imap.poll_once(sessionmaker, config)


class TestTls:
    """The poller checks the server's certificate, trusting an organisation's own CA when
    `tls_ca_file` names it; nothing is sent in clear before STARTTLS."""

    @pytest.fixture
    def ca(self) -> trustme.CA:
        return trustme.CA()

    def server_with(self, ca: trustme.CA, *, implicit: bool) -> FakeImap:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        capabilities = ("IMAP4rev1", "UIDPLUS") if implicit else ("IMAP4rev1", "STARTTLS")
        return FakeImap(capabilities=capabilities, tls=context, implicit_tls=implicit)

    @pytest.mark.parametrize("implicit", [True, False], ids=["tls", "starttls"])
    async def test_mail_is_read_over_tls_from_a_server_our_ca_signed(
        self,
        implicit: bool,
        ca: trustme.CA,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        tmp_path: Path,
    ) -> None:
        server = self.server_with(ca, implicit=implicit)
        server.deliver(sample("gmail-vacation.eml"))
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        try:
            config = (await imap_settings(settings, server)).model_copy(
                update={
                    "imap_tls": implicit,
                    "imap_starttls": not implicit,
                    "tls_ca_file": tmp_path / "ca.pem",
                }
            )
            result = await imap.poll_once(sessionmaker, config)
        finally:
            await server.stop()
        assert (result.moved, result.failed) == (1, [])
        assert server.folders["INBOX"] == []
        if not implicit:
            assert server.commands.index("STARTTLS") < server.commands.index("LOGIN")

    @pytest.mark.parametrize("implicit", [True, False], ids=["tls", "starttls"])
    async def test_a_certificate_we_do_not_trust_is_refused_before_login(
        self,
        implicit: bool,
        ca: trustme.CA,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        server = self.server_with(ca, implicit=implicit)
        server.deliver(sample("gmail-vacation.eml"))
        try:
            config = (await imap_settings(settings, server)).model_copy(
                update={"imap_tls": implicit, "imap_starttls": not implicit}
            )
            with pytest.raises(imap.MailboxError, match="certificate verify failed"):
                await imap.poll_once(sessionmaker, config)
        finally:
            await server.stop()
        assert "LOGIN" not in server.commands
        assert len(server.folders["INBOX"]) == 1
