"""`appeals db`: the database schema, through Alembic migrations (app/migrations.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.config import get_settings
from app.console import (
    run_with_engine,
)
from app.migrations import downgrade, make_revision, pending_changes, upgrade

db_app = typer.Typer(help="The database schema (Alembic migrations).")


# --- db -----------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = get_settings()
    run_with_engine(settings, lambda engine: upgrade(engine, settings.alembic_dir, revision))
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ("base" empties the database)."""
    settings = get_settings()
    run_with_engine(settings, lambda engine: downgrade(engine, settings.alembic_dir, revision))
    typer.echo(f"database at {revision}")


@db_app.command("check")
def db_check() -> None:
    """Exit 1 if the models declare changes no migration makes (like `alembic check`)."""
    settings = get_settings()
    diffs = run_with_engine(settings, lambda engine: pending_changes(engine, settings.alembic_dir))
    if diffs:
        typer.secho(f"models and migrations differ: {diffs}", err=True, fg="red")
        raise typer.Exit(1)
    typer.echo("models and migrations agree")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from the models (for developers; database must be current)."""
    settings = get_settings()
    run_with_engine(settings, lambda engine: make_revision(engine, settings.alembic_dir, message))
