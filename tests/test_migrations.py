from pathlib import Path

import pytest
from sqlalchemy import inspect

from app.db import make_engine
from app.migrations import downgrade, pending_changes, upgrade
from tests.conftest import ALEMBIC_DIR, BACKENDS, fresh_database, require_backend


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
