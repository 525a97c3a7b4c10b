"""Test fixtures: a real database per backend, migrated by Alembic, each test rolled back.

Every database test runs on SQLite and on PostgreSQL (127.0.0.1:5432, user postgres). Without a
reachable PostgreSQL the PostgreSQL half is skipped with a reason, unless
APPEALS_TEST_POSTGRES=required (CI sets it), which turns that into a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.config import PROJECT_ROOT, Settings
from app.dataset import service as dataset_service
from app.db import make_engine
from app.main import create_app
from app.migrations import upgrade

ALEMBIC_DIR = PROJECT_ROOT / "alembic"
CASES_DIR = PROJECT_ROOT / "cases"
RECIPIENTS_DIR = PROJECT_ROOT / "recipients"
PG_DSN = os.environ.get("APPEALS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_REQUIRED = os.environ.get("APPEALS_TEST_POSTGRES", "").lower() == "required"
BACKENDS = ("sqlite", "postgresql")
# Every Settings() and every `appeals` subprocess of the tests signs with a fresh random secret:
# the commands refuse to run without one (app/keys.py).
os.environ.setdefault("APPEALS_TOKEN_SECRET", secrets.token_urlsafe(32))

_pg_reachable: bool | None = None


async def _postgres_reachable() -> bool:
    global _pg_reachable
    if _pg_reachable is None:
        try:
            conn = await asyncpg.connect(PG_DSN, timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            _pg_reachable = False
        else:
            await conn.close()
            _pg_reachable = True
    return _pg_reachable


async def require_backend(backend: str) -> None:
    """Skip (or, in CI, fail) when `backend` cannot be reached here."""
    if backend == "postgresql" and not await _postgres_reachable():
        message = f"PostgreSQL is not reachable at {PG_DSN}"
        if PG_REQUIRED:
            pytest.fail(message + " and APPEALS_TEST_POSTGRES=required")
        pytest.skip(message)


@asynccontextmanager
async def fresh_database(backend: str, folder: Path) -> AsyncIterator[str]:
    """An empty throwaway database; yields its SQLAlchemy URL and drops it afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / f'test-{secrets.token_hex(4)}.db'}"
        return
    name = f"appeals_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A database migrated to head with the shipped cases and offices imported."""
    backend: str = request.param
    await require_backend(backend)
    async with fresh_database(backend, tmp_path_factory.mktemp(backend)) as url:
        engine = make_engine(url)
        await upgrade(engine, ALEMBIC_DIR)
        async with AsyncSession(engine) as session:
            await dataset_service.import_recipients(session, folder=RECIPIENTS_DIR)
            await dataset_service.import_cases(session, folder=CASES_DIR)
            await session.commit()
        await engine.dispose()
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions whose commits become savepoints of the test's transaction."""
    return async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
async def session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, var_dir=tmp_path / "var")


@pytest.fixture
async def client(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[httpx.AsyncClient]:
    """The real application, its requests running in the test's transaction."""
    app = create_app(settings)
    app.state.sessionmaker = sessionmaker
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
