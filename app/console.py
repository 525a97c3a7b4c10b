"""Running command-line work: a fresh engine (and session) per command, errors as exit codes.

A user's mistake (an unknown id, a duplicate account) prints one line and exits 2; nothing is
committed unless the work returns.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import keys
from app.config import Settings, get_settings
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


def run_with_engine(
    settings: Settings,
    work: Callable[[AsyncEngine], Awaitable[T]],
    *,
    application_name: str | None = None,
) -> T:
    """Run `work` with an engine that is disposed of afterwards; its PostgreSQL connections
    carry `application_name`."""

    async def main() -> T:
        engine = make_engine(settings.effective_database_url, application_name=application_name)
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


def require_token_secret(settings: Settings) -> None:
    """Refuse to run a command that signs or verifies tokens with no secret, or a known one:
    with the published default anybody could forge an office's reply. One line, exit 2."""
    problem = keys.secret_problem(settings.token_secret)
    if problem is not None:
        typer.secho(
            f"error: {problem}; set it to a long random value, e.g. "
            f"APPEALS_TOKEN_SECRET=$({keys.HOW_TO_MAKE_ONE})",
            err=True,
            fg="red",
        )
        raise typer.Exit(2)


def demo_token_secret(settings: Settings) -> Settings:
    """`appeals demo` alone may run without a secret: it makes a random one once and keeps it
    in <var_dir>/token_secret (mode 0600), so links in its outbox stay valid across restarts."""
    if keys.secret_problem(settings.token_secret) is None:
        return settings
    path = settings.var_dir / "token_secret"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(32))
    os.chmod(path, 0o600)
    return settings.model_copy(update={"token_secret": path.read_text().strip()})


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
CLI_ACTOR = "cli"  # the actor the audit log records for command-line changes


def in_session(
    work: Callable[[AsyncSession], Awaitable[T]], *, settings: Settings | None = None
) -> T:
    """`run_in_session` with the environment's settings unless others are given."""
    return run_in_session(settings or get_settings(), work)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def migrate(settings: Settings) -> None:
    from app.migrations import upgrade  # Alembic: only for the commands that migrate

    run_with_engine(settings, lambda engine: upgrade(engine, settings.alembic_dir))
