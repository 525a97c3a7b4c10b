"""Bounces from an MTA: Debian's Postfix pipes them into `appeals inbound eml -`.

The letter is sent by the worker to a real SMTP server (aiosmtpd) as in test_inbound.py; its
bounce then arrives over SMTP at a Postfix instance of the test's own, whose transport_maps
route the bounce domain to a `pipe` service running `appeals inbound eml` as an unprivileged
user. The database is a throwaway one of this test that the pipe's process writes too, so here
what the test writes is committed for real rather than rolled back.
"""

from __future__ import annotations

import asyncio
import functools
import os
import pwd
import smtplib
import subprocess
import sys
import sysconfig
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import PROJECT_ROOT, Settings
from app.dataset import service as dataset_service
from app.db import make_engine
from app.delivery.models import DeliveryStatus
from app.migrations import upgrade
from app.responses.models import InboundMessage, InboundStatus
from tests.conftest import (
    ALEMBIC_DIR,
    BACKENDS,
    CASES_DIR,
    RECIPIENTS_DIR,
    fresh_database,
    require_backend,
)
from tests.delivery.test_worker import Sink, the_delivery, timeline
from tests.responses.conftest import sample
from tests.responses.mailservers import (
    REQUIRED,
    Postfix,
    PostfixStarter,
    give_to,
    postfix,
    scratch,
    wait_until,
)
from tests.responses.test_inbound import send_the_letter

__all__ = ["postfix", "scratch"]

PIPE_USER = "nobody"
DELIVERED_TIMEOUT = 90.0


@pytest.fixture(params=BACKENDS)
async def committed_url(request: pytest.FixtureRequest, scratch: Path) -> AsyncIterator[str]:
    """A database of this test's, migrated, with the report's data, that the pipe's user may
    write (SQLite: its file and folder are that user's; SQLite gives the files it makes under
    root the database file's owner)."""
    await require_backend(request.param)
    folder = scratch / "db"
    folder.mkdir()
    async with fresh_database(request.param, folder) as url:
        engine = make_engine(url)
        await upgrade(engine, ALEMBIC_DIR)
        async with AsyncSession(engine) as session:
            await dataset_service.import_recipients(session, folder=RECIPIENTS_DIR)
            await dataset_service.import_cases(session, folder=CASES_DIR)
            await session.commit()
        await engine.dispose()
        give_to(pwd.getpwnam(PIPE_USER), folder, *folder.iterdir())
        yield url


@pytest.fixture
async def sessionmaker(committed_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's own database whose commits are real (the pipe must see them)."""
    engine = make_engine(committed_url)
    yield async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    await engine.dispose()


@pytest.fixture
def settings(committed_url: str, scratch: Path) -> Settings:
    return Settings(database_url=committed_url, var_dir=scratch / "var")


@functools.cache
def appeals_launcher() -> tuple[str, ...] | None:
    """A way to run `appeals` that the pipe's user can use: the venv's own script where that
    user may run it; where the venv's Python is out of its reach (a pyenv build under /root, as
    on these machines), the system's Python of the same version on the venv's packages and
    this checkout. None if neither works."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    paths = os.pathsep.join(
        dict.fromkeys(
            [str(PROJECT_ROOT), *(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))]
        )
    )
    candidates = [
        (str(Path(sys.prefix) / "bin" / "appeals"),),
        ("/usr/bin/env", f"PYTHONPATH={paths}", f"/usr/bin/python{version}", "-m", "app"),
    ]
    as_pipe_user = ["runuser", "-u", PIPE_USER, "--"]  # (setpriv can run what the user cannot)
    for launcher in candidates:
        if any(" " in word for word in launcher):
            continue  # master.cf splits argv on white space
        probe = subprocess.run(
            [*as_pipe_user, *launcher, "inbound", "eml", "--help"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if probe.returncode == 0:
            return launcher
    return None


def pipe_argv(settings: Settings, scratch: Path, *, database_url: str = "") -> str:
    """The start of the pipe's argv: the environment `appeals` needs, then `appeals`."""
    launcher = appeals_launcher()
    if launcher is None:
        message = f"the user {PIPE_USER!r} can run neither the venv's Python nor the system's"
        if REQUIRED:
            pytest.fail(message + " and APPEALS_TEST_MAILSERVERS=required")
        pytest.skip(message)
    var = scratch / "var"
    var.mkdir(exist_ok=True)
    give_to(pwd.getpwnam(PIPE_USER), var)
    env = [
        "/usr/bin/env",
        f"APPEALS_DATABASE_URL={database_url or settings.effective_database_url}",
        f"APPEALS_TOKEN_SECRET={settings.token_secret}",
        f"APPEALS_VAR_DIR={var}",
    ]
    if launcher[0] == "/usr/bin/env":
        launcher = launcher[1:]
    return " ".join([*env, *launcher])


async def wait_for_bounced(session: AsyncSession, *, log: Path) -> None:
    """Until the pipe's process has marked the delivery bounced (or fail, showing the log)."""
    deadline = time.monotonic() + DELIVERED_TIMEOUT
    while (await the_delivery(session)).status is not DeliveryStatus.bounced:
        await session.rollback()  # a fresh snapshot next time (SQLite keeps one per transaction)
        if time.monotonic() > deadline:
            shown = await asyncio.to_thread(log.read_text, errors="replace")
            raise AssertionError(f"no bounce recorded in {DELIVERED_TIMEOUT:.0f}s:\n{shown}")
        await asyncio.sleep(0.2)
    await session.rollback()


async def send_bounce(server: Postfix, verp: str, delivery_id: int) -> None:
    bounce = sample("postfix-hard-bounce.eml", delivery_id=delivery_id)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as mta:
        assert mta.sendmail("", [verp], bounce) == {}  # a bounce's null sender


async def logged_delivery(server: Postfix, verp: str, status: str) -> str:
    """Postfix's log line of the pipe's delivery attempt to `verp` ending in `status`; Postfix
    writes it once the command has exited, maybe after the database shows the result."""
    wanted = f"to=<{verp}>, relay=appeals, "

    def lines() -> list[str]:
        text = server.maillog.read_text()
        return [line for line in text.splitlines() if wanted in line and f"status={status}" in line]

    await asyncio.to_thread(
        wait_until,
        f"Postfix logged no {status} delivery through the pipe",
        lambda: bool(lines()),
        timeout=DELIVERED_TIMEOUT,
        log=server.maillog,
    )
    [line] = lines()
    return line


class TestPipeTransport:
    async def test_a_bounce_postfix_receives_marks_the_delivery_bounced(
        self,
        postfix: PostfixStarter,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        client: httpx.AsyncClient,
        scratch: Path,
    ) -> None:
        delivery, verp, _ = await send_the_letter(smtp, settings, sessionmaker, session)
        assert delivery.status is DeliveryStatus.sent
        domain = verp.rpartition("@")[2]
        assert verp.startswith("bounce+") and domain == settings.mail_domain
        server = postfix(argv=pipe_argv(settings, scratch), user=PIPE_USER, domain=domain)
        delivery_id = delivery.id  # the session's objects expire at each rollback below

        await send_bounce(server, verp, delivery_id)

        await wait_for_bounced(session, log=server.maillog)
        [stored] = (await session.scalars(select(InboundMessage))).all()
        assert (stored.source, stored.envelope_to, stored.kind) == ("cli", verp, "bounce")
        assert stored.status is InboundStatus.matched
        # pipe's flags=R: the null sender, as pipe names it (its null_sender= default)
        assert stored.raw.startswith(b"Return-Path: <MAILER-DAEMON>\n")
        stored_id = stored.id
        await session.rollback()  # SQLite: the request below needs the lock this session holds
        events = await timeline(client, queued["token"], delivery_id)
        bounced = next(e for e in events if e["to_status"] == "bounced")
        assert (bounced["from_status"], bounced["code"]) == ("sent", 550)
        line = await logged_delivery(server, verp, "sent")
        # pipe shows what the command printed: the message stored, a bounce, matched.
        assert line.endswith(
            f"status=sent (delivered via appeals service (message {stored_id}: bounce, matched))"
        )

    async def test_a_bounce_the_command_cannot_store_stays_queued_until_it_can(
        self,
        postfix: PostfixStarter,
        queued: dict[str, Any],
        smtp: tuple[int, Sink],
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        scratch: Path,
    ) -> None:
        delivery, verp, _ = await send_the_letter(smtp, settings, sessionmaker, session)
        delivery_id = delivery.id
        unreachable = f"sqlite+aiosqlite:///{scratch}/no-such-folder/appeals.db"
        server = postfix(
            argv=pipe_argv(settings, scratch, database_url=unreachable),
            user=PIPE_USER,
            domain=verp.rpartition("@")[2],
        )

        await send_bounce(server, verp, delivery_id)

        # The command exits 75 (EX_TEMPFAIL) with its one-line error: Postfix keeps the mail.
        line = await logged_delivery(server, verp, "deferred")
        assert "status=deferred (temporary failure. Command output: error: " in line
        assert (await the_delivery(session)).status is DeliveryStatus.sent
        assert (await session.scalars(select(InboundMessage))).all() == []
        await session.rollback()

        server.pipe_into(pipe_argv(settings, scratch))  # the database is back
        server.flush()

        await wait_for_bounced(session, log=server.maillog)
        [stored] = (await session.scalars(select(InboundMessage))).all()
        assert (stored.envelope_to, stored.kind, stored.status) == (
            verp,
            "bounce",
            InboundStatus.matched,
        )
        await session.rollback()
        assert "status=sent (delivered via appeals service" in await logged_delivery(
            server, verp, "sent"
        )
