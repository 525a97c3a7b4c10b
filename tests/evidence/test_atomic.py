"""The outcome and its evidence commit together, also on the worker's PostgreSQL connection,
which runs in autocommit: a failure after the first statement leaves neither."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from app.db import Statement, make_engine, make_sessionmaker, statement_connections
from app.delivery.email import evidence
from tests.conftest import fresh_database, require_backend


class Boom(Exception):
    pass


async def fail_after_one(statement: Statement) -> None:
    async with statement() as connection, evidence.atomic(connection):
        await connection.execute(text("INSERT INTO outcome VALUES (1)"))
        raise Boom


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_both_statements_or_neither(backend: str, tmp_path: Path) -> None:
    await require_backend(backend)
    async with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            async with engine.begin() as setup:
                await setup.execute(text("CREATE TABLE outcome (n INTEGER)"))
            async with statement_connections(make_sessionmaker(engine)) as statement:
                with pytest.raises(Boom):
                    await fail_after_one(statement)
                async with statement() as connection, evidence.atomic(connection):
                    await connection.execute(text("INSERT INTO outcome VALUES (2)"))
                    await connection.execute(text("INSERT INTO outcome VALUES (3)"))
            async with engine.connect() as check:
                kept = (await check.execute(text("SELECT n FROM outcome ORDER BY n"))).scalars()
                assert list(kept) == [2, 3]
        finally:
            await engine.dispose()
