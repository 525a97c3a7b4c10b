from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import make_engine
from app.migrations import downgrade, pending_changes, upgrade
from tests.conftest import ALEMBIC_DIR, BACKENDS, fresh_database, require_backend
from tests.delivery.helpers import prepare_mailing


@pytest.mark.parametrize("backend", BACKENDS)
class TestMigrations:
    async def test_upgrade_check_downgrade_upgrade(self, backend: str, tmp_path: Path) -> None:
        await require_backend(backend)
        async with fresh_database(backend, tmp_path) as url:
            engine = make_engine(url)
            try:
                await upgrade(engine, ALEMBIC_DIR)
                assert await pending_changes(engine, ALEMBIC_DIR) is None  # `alembic check`
                async with engine.connect() as conn:
                    tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
                assert {
                    "cases",
                    "case_people",
                    "recipients",
                    "recipient_channels",
                    "audit_log",
                } <= tables
                await downgrade(engine, ALEMBIC_DIR, "base")
                async with engine.connect() as conn:
                    left = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
                assert left <= {"alembic_version"}
                await upgrade(engine, ALEMBIC_DIR)
            finally:
                await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
class TestDeliveriesCampaign:
    async def test_0011_fills_each_deliverys_campaign_from_its_letter(
        self, backend: str, tmp_path: Path
    ) -> None:
        await require_backend(backend)
        async with fresh_database(backend, tmp_path) as url:
            await prepare_mailing(url, letters=8)  # at head: the deliveries carry their campaign
            engine = make_engine(url)
            try:
                events = await _count(engine, "delivery_events")
                assert events == 8
                await downgrade(engine, ALEMBIC_DIR, "0010")
                async with engine.connect() as conn:
                    columns = await conn.run_sync(
                        lambda c: {col["name"] for col in inspect(c).get_columns("deliveries")}
                    )
                assert "campaign_id" not in columns
                await upgrade(engine, ALEMBIC_DIR)
                async with engine.connect() as conn:
                    rows = (await conn.execute(text(_CAMPAIGNS))).all()
                    nullable = await conn.run_sync(
                        lambda c: {
                            col["name"]: col["nullable"]
                            for col in inspect(c).get_columns("deliveries")
                        }
                    )
                assert len(rows) == 8
                assert all(delivery == letter for delivery, letter in rows)
                assert nullable["campaign_id"] is False
                # SQLite rebuilt deliveries twice: the rows referring to them are all still there.
                assert await _count(engine, "delivery_events") == events
            finally:
                await engine.dispose()


_CAMPAIGNS = (
    "SELECT deliveries.campaign_id, letters.campaign_id FROM deliveries "
    "JOIN letters ON letters.id = deliveries.letter_id"
)


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())  # noqa: S608
