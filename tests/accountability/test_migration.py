"""Migration 0012: existing campaigns get the documented default term; down and up again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from app.campaigns.schemas import DEFAULT_RESPONSE_TERM
from app.db import make_engine
from app.migrations import downgrade, upgrade
from tests.conftest import ALEMBIC_DIR, BACKENDS, fresh_database, require_backend
from tests.delivery.helpers import prepare_mailing


@pytest.mark.parametrize("backend", BACKENDS)
class TestAnswerClocksMigration:
    async def test_0012_gives_existing_campaigns_the_default_term(
        self, backend: str, tmp_path: Path
    ) -> None:
        await require_backend(backend)
        async with fresh_database(backend, tmp_path) as url:
            await prepare_mailing(url, letters=4)  # a campaign, at head
            engine = make_engine(url)
            try:
                await downgrade(engine, ALEMBIC_DIR, "0011")
                async with engine.connect() as conn:
                    tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
                assert "answer_clocks" not in tables
                await upgrade(engine, ALEMBIC_DIR)
                async with engine.connect() as conn:
                    [stored] = (await conn.execute(text(_TERMS))).scalars().all()
                    tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
                term = stored if isinstance(stored, dict) else json.loads(stored)
                assert term == DEFAULT_RESPONSE_TERM.model_dump(mode="json")
                assert "answer_clocks" in tables
            finally:
                await engine.dispose()


_TERMS = "SELECT response_term FROM campaigns"
