"""Running command-line work: a fresh engine (and session) per command, errors as exit codes.

A user's mistake (an unknown id, a duplicate account) prints one line and exits 2; nothing is
committed unless the work returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.errors import AppError

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop where it is installed (not on Windows), as uvicorn does for the
    server. A worker's CPU per letter, most of it socket round trips to the SMTP server and the
    database, fell by about an eighth with it (bench/dispatch.py: 3.3 ms to 2.9 ms)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` with an engine that is disposed of afterwards."""

    async def main() -> T:
        engine = make_engine(settings.effective_database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return run_loop(main())
    except AppError as exc:
        typer.secho(f"error: {exc.detail}", err=True, fg="red")
        raise typer.Exit(2) from exc


def run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one session; commit if it returns, roll back if it raises."""

    async def in_session(engine: AsyncEngine) -> T:
        async with make_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result

    return run_with_engine(settings, in_session)
