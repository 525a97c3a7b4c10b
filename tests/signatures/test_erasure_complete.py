"""Erasure leaves nothing naming the supporter: database, outbox, TEST print batches, WAL.

A campaign in test mode rehearses: its e-mail goes to the staff test address and its post into
a TEST batch, so none of its letters reached an office and none may keep the supporter's name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import models
from app.config import Settings
from app.dataset import service as dataset_service
from app.db import make_engine, make_sessionmaker, utcnow
from app.delivery.email import OutboxTransport, outbox_folder
from app.delivery.models import Delivery, DeliveryStatus, PrintBatch
from app.delivery.post import batches
from app.delivery.worker import Worker
from app.migrations import upgrade
from app.signatures import flows
from app.signatures.models import Supporter
from app.staff.models import Role
from tests.conftest import ALEMBIC_DIR, CASES_DIR, RECIPIENTS_DIR, fresh_database
from tests.factories import bearer, make_staff
from tests.signatures.conftest import Mail, Outbox, make_client, open_campaign, sign

ADDRESS = "zenobia.q@example.org"
NAME = "Zenobia Quartermain"
CITY = "Quillhaven"
MESSAGE = "Xyzzy plover: free them."
PERSONAL = (ADDRESS, NAME, "Quartermain", CITY, "Xyzzy")
STAFF_ADDRESS = "staff-test@example.org"


def _supporter() -> dict[str, str]:
    return {"name": NAME, "email": ADDRESS, "city": CITY, "message": MESSAGE}


async def _everything_in_the_database(session: AsyncSession) -> str:
    """Every row of every table, as text (Core queries: what is in the database, not cached)."""
    rows = []
    for table in models.Base.metadata.sorted_tables:
        rows += [repr(tuple(row)) for row in await session.execute(select(table))]
    return "\n".join(rows)


def _everything_in(folder: Path) -> str:
    files = sorted(folder.glob("*")) if folder.exists() else []
    return "\n".join(path.read_bytes().decode("utf-8", "replace") for path in files)


def _named(text: str) -> list[str]:
    return [needle for needle in PERSONAL if needle.casefold() in text.casefold()]


async def _signed_and_confirmed(client: httpx.AsyncClient, outbox: Outbox) -> Mail:
    assert (await sign(client, **_supporter())).status_code == 202
    [mail] = await outbox.round()
    assert (await client.post(mail.link("confirm"))).status_code == 303
    return mail


class TestErasingARehearsal:
    async def test_nothing_names_the_supporter_in_database_outbox_or_test_batch(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        await open_campaign(client, token, test_mode=True, test_address=STAFF_ADDRESS)
        folder = outbox_folder(settings)  # where both the mailer and the worker write
        await _signed_and_confirmed(client, Outbox(folder, sessionmaker, settings))
        worker = Worker(sessionmaker, settings, OutboxTransport(folder), name="w")
        assert await worker.run_once() == 1  # the e-mail letter, to the staff test address
        made = await client.post(
            "/api/v1/campaigns/free-bokayev-ayan/print-batches", headers=bearer(token)
        )
        assert made.status_code == 201, made.text
        batch = await session.get(PrintBatch, made.json()["id"])
        assert batch is not None and batch.test_mode
        statuses = {d.channel.value: d.status for d in await session.scalars(select(Delivery))}
        assert statuses == {"email": DeliveryStatus.sent, "postal": DeliveryStatus.printed}
        # Before: the supporter is everywhere this test looks.
        assert _named(await _everything_in_the_database(session)) == list(PERSONAL)
        assert ADDRESS in _everything_in(folder) and NAME in _everything_in(folder)
        printed = await batches.batch_letters(session, batch=batch)
        assert NAME in "".join(letter.body for letter, _ in printed)

        supporter = await session.scalar(select(Supporter).where(Supporter.email == ADDRESS))
        assert supporter is not None
        await flows.erase(session, supporter=supporter, now=utcnow(), outbox=folder)
        await session.commit()
        session.expire_all()  # the letters were updated in bulk, behind the identity map

        assert _named(await _everything_in_the_database(session)) == []
        assert _named(_everything_in(folder)) == []
        batch = await session.get(PrintBatch, made.json()["id"])
        assert batch is not None
        rendered = await batches.render(session, batch=batch, settings=settings)
        assert _named(rendered.manifest_csv) == []
        for letter, _office in await batches.batch_letters(session, batch=batch):
            assert _named(f"{letter.sender_name} {letter.body}") == []
        # The rehearsal stays a rehearsal: its deliveries and counts are untouched.
        statuses = {d.channel.value: d.status for d in await session.scalars(select(Delivery))}
        assert statuses == {"email": DeliveryStatus.sent, "postal": DeliveryStatus.printed}

    async def test_other_peoples_mails_stay_in_the_outbox(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        await open_campaign(client, token, test_mode=True, test_address=STAFF_ADDRESS)
        folder = outbox_folder(settings)
        outbox = Outbox(folder, sessionmaker, settings)
        await _signed_and_confirmed(client, outbox)
        other = {"name": "Otto Other", "email": "otto@example.org", "city": "Elsewhere"}
        assert (await sign(client, **other)).status_code == 202
        [other_mail] = await outbox.round()
        assert (await client.post(other_mail.link("confirm"))).status_code == 303
        worker = Worker(sessionmaker, settings, OutboxTransport(folder), name="w")
        assert await worker.run_once() == 2
        before = {path.name for path in folder.glob("*.eml")}

        supporter = await session.scalar(select(Supporter).where(Supporter.email == ADDRESS))
        assert supporter is not None
        await flows.erase(session, supporter=supporter, now=utcnow(), outbox=folder)

        left = {path.name for path in folder.glob("*.eml")}
        assert len(before - left) == 2  # their confirmation and their letter's e-mail
        assert "Otto Other" in _everything_in(folder)
        assert "otto@example.org" in _everything_in(folder)
        assert _named(_everything_in(folder)) == []


@pytest.fixture
async def committing(tmp_path: Path) -> AsyncIterator[tuple[Path, AsyncEngine]]:
    """A SQLite database of its own whose requests really commit, so the WAL is on disk."""
    async with fresh_database("sqlite", tmp_path) as url:
        engine = make_engine(url)
        await upgrade(engine, ALEMBIC_DIR)
        async with AsyncSession(engine) as session:
            await dataset_service.import_recipients(session, folder=RECIPIENTS_DIR)
            await dataset_service.import_cases(session, folder=CASES_DIR)
            await session.commit()
        try:
            yield Path(url.removeprefix("sqlite+aiosqlite:///")), engine
        finally:
            await engine.dispose()


class TestSqliteFiles:
    async def test_after_an_erasure_the_wal_and_the_database_file_lack_the_address(
        self, committing: tuple[Path, AsyncEngine], tmp_path: Path
    ) -> None:
        path, engine = committing
        settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", var_dir=tmp_path / "var")
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session:
            _, token = await make_staff(session, Role.campaigner)
            await session.commit()
        wal = path.with_name(path.name + "-wal")
        async with make_client(settings, sessionmaker) as client:
            await open_campaign(client, token, test_mode=True, test_address=STAFF_ADDRESS)
            outbox = Outbox(outbox_folder(settings), sessionmaker, settings)
            mail = await _signed_and_confirmed(client, outbox)
            assert ADDRESS.encode() in wal.read_bytes()  # the signing's pages, not yet copied

            spool = outbox_folder(settings)
            assert any(ADDRESS in f.read_text("utf-8", "replace") for f in spool.rglob("*.eml"))
            erased = await client.post(mail.link("s") + "/erase", data={"really": "yes"})
            assert erased.status_code == 303, erased.text
            # The erase page, not just the service, empties the outbox of the supporter's mail.
            assert not any(ADDRESS in f.read_text("utf-8", "replace") for f in spool.rglob("*.eml"))

        # The pool still holds its connections open: SQLite has not checkpointed on close.
        assert engine.sync_engine.pool.checkedin() > 0
        for name in (wal, path):
            if name.exists():
                content = name.read_bytes()
                assert ADDRESS.encode() not in content, name
                assert NAME.encode() not in content, name
