"""Database plumbing: the declarative base, engine construction and the request session.

The engine is built in the application's lifespan (never at import time). A request gets one
session; the request commits when the route returns without error. Services never commit.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, Select, event, func, select
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import PoolResetState, QueuePool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# PostgreSQL connections per process: enough for the dozens of concurrent requests one
# process serves without opening and closing overflow connections all the time.
DEFAULT_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 10


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _prepare_sqlite(engine: AsyncEngine) -> None:
    """SQLite: foreign keys on, WAL, a busy timeout, and transactions SQLAlchemy really controls.

    pysqlite/aiosqlite otherwise begin transactions lazily on their own, which breaks SAVEPOINTs
    and lets two writers interleave; we disable that and emit BEGIN IMMEDIATE ourselves, so
    transactions queue for the one writer's lock instead of failing.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
        # In place of the pool's unconditional ROLLBACK on return (`pool_reset_on_return=None`
        # below), which costs aiosqlite a trip to its thread after every commit: roll back
        # only a transaction that is really open.
        if not state.terminate_only and dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE: take the write lock at the start, waiting up to the busy timeout. A plain
        # BEGIN that reads, then writes after another writer committed, fails at once with
        # "database is locked" (busy_timeout cannot help a read lock upgrading): under load
        # that turned concurrent signatures into errors.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _drop_closed_connections(engine: AsyncEngine) -> None:
    """Replace a pooled connection the server has closed (a restart, an idle timeout) at
    checkout, without a round trip.

    `pool_pre_ping` costs three round trips per checkout with asyncpg (BEGIN, a ping, ROLLBACK)
    — more than the signing route's own statements. asyncpg's protocol sees the server close
    the socket while the connection sits in the pool, so asking it is enough for the common
    cases; a connection lost silently still fails its first statement, as it would after a ping.
    """

    @event.listens_for(engine.sync_engine.pool, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the server closed this connection")  # the pool retries


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = DEFAULT_POOL_SIZE,
    max_overflow: int = DEFAULT_MAX_OVERFLOW,
    application_name: str | None = None,
) -> AsyncEngine:
    """Build an async engine for `url`; for SQLite, create the file's folder first.

    PostgreSQL: `pool_size` connections kept open per process, `max_overflow` more opened under
    load (requests beyond that wait for one). `application_name` names the connections in
    `pg_stat_activity` (a worker's name, host:pid), so an operator sees who holds what."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, pool_reset_on_return=None)
        _prepare_sqlite(engine)
        return engine
    asyncpg = parsed.get_driver_name() == "asyncpg"
    # PostgreSQL keeps 63 bytes of a name.
    named = {"server_settings": {"application_name": (application_name or "")[:63]}}
    engine = create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=not asyncpg,  # asyncpg: the cheaper check below
        connect_args=named if asyncpg and application_name else {},
    )
    if asyncpg:
        _drop_closed_connections(engine)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def statement_connection(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncConnection]:
    """A connection for a single statement that is atomic on its own, committed on exit.

    PostgreSQL: from the factory's pool in autocommit, so the statement is its own transaction
    (no BEGIN and COMMIT round trips). SQLite keeps a transaction: its BEGIN IMMEDIATE is what
    queues writers. A factory bound to one connection (the tests' rolled-back transaction) gets
    a savepoint on it."""
    bind = factory.kw.get("bind")
    if isinstance(bind, AsyncConnection):
        async with bind.begin_nested():
            yield bind
        return
    if not isinstance(bind, AsyncEngine):
        raise TypeError("this session factory is bound to neither an engine nor a connection")
    if bind.dialect.name == "postgresql":
        bind = _autocommit(bind)
    async with bind.begin() as connection:
        yield connection


Statement = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@asynccontextmanager
async def statement_connections(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Statement]:
    """For a run of single statements, each atomic on its own: `async with statement() as c`.

    PostgreSQL: one autocommit connection, held for the whole run (a worker's outcomes of one
    batch): a pool checkout and check-in per statement cost the worker about as much CPU as the
    statement itself. Elsewhere each statement gets what `statement_connection` gives, so no
    SQLite write lock is held between them."""
    bind = factory.kw.get("bind")
    if not (isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql"):
        yield functools.partial(statement_connection, factory)
        return
    async with _autocommit(bind).connect() as held:

        @asynccontextmanager
        async def statement() -> AsyncIterator[AsyncConnection]:
            yield held

        yield statement


@functools.lru_cache(maxsize=16)
def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    return engine.execution_options(isolation_level="AUTOCOMMIT")  # the same pool


def _request_turns(state: Any, factory: async_sessionmaker[AsyncSession]) -> Any:
    """PostgreSQL: requests get the pool's connections in the order they asked.

    With every pooled connection busy, SQLAlchemy's async pool lets a request that has just
    arrived take a connection handed back for one already waiting (its asyncio queue lets
    getters barge), so under load a few requests waited seconds: the signing route's p99 was
    about 15 times its median. asyncio's semaphore wakes its waiters in order; sized to the
    pool it queues requests fairly before they reach it, and requests never need the overflow,
    which is left for work outside requests instead of being opened and closed per burst."""
    turns = getattr(state, "request_turns", None)
    if turns is None:
        turns = nullcontext()
        bind = factory.kw.get("bind")
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
            pool = bind.sync_engine.pool
            if isinstance(pool, QueuePool):
                turns = asyncio.Semaphore(pool.size())
        state.request_turns = turns
    return turns


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed when the route succeeds and rolled back otherwise."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with _request_turns(request.app.state, factory), factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


SessionDep = Annotated[AsyncSession, Depends(get_session)]

M = TypeVar("M")


async def page_of(
    session: AsyncSession,
    query: Select[M],
    *,
    order: Select[M],
    limit: int,
    offset: int,
) -> tuple[Sequence[M], int]:
    """One page of `order` (the query with its ordering and loading) and the total of `query`."""
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(order.limit(limit).offset(offset))
    return rows.all(), total or 0
