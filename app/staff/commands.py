"""`appeals users`: staff accounts, passwords and API tokens."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.console import (
    CLI_ACTOR,
    in_session,
)
from app.staff import service as staff_service
from app.staff.models import Role

users_app = typer.Typer(help="Staff accounts and API tokens.")


# --- users --------------------------------------------------------------------------------


def _read_password(from_stdin: bool) -> str:
    """One line of standard input, or asked twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("Password (at least 12 characters)", hide_input=True)
    if typer.prompt("The same again", hide_input=True) != first:
        raise typer.BadParameter("the two passwords differ")
    return str(first)


PasswordPrompt = Annotated[
    bool, typer.Option("--password", help="Ask for a password to sign in to the staff pages.")
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


@users_app.command("create")
def users_create(
    email: str,
    role: Annotated[Role, typer.Option(help="admin, campaigner or organiser")],
    password: PasswordPrompt = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a staff account and print its API token (shown once, only its hash is kept).

    With --password or --password-stdin the account also gets a password (argon2id) for the
    staff pages. There is no default account: the first admin is made here."""
    secret = _read_password(password_stdin) if password or password_stdin else None

    async def work(session: AsyncSession) -> str:
        user, token = await staff_service.create_user(
            session, email=email, role=role, actor=CLI_ACTOR
        )
        if secret is not None:
            await staff_service.set_password(session, user=user, password=secret, actor=CLI_ACTOR)
        return token

    token = in_session(work)
    if secret is None:
        typer.echo(f"(no password yet: `appeals users password {email}` sets one)", err=True)
    typer.echo(f"created {email} ({role.value}). API token, shown once:\n{token}")


@users_app.command("password")
def users_password(email: str, password_stdin: PasswordStdin = False) -> None:
    """Set or change a staff password; the account's signed-in sessions end."""
    secret = _read_password(password_stdin)

    async def work(session: AsyncSession) -> None:
        user = await staff_service.get_user(session, email=email)
        await staff_service.set_password(session, user=user, password=secret, actor=CLI_ACTOR)

    in_session(work)
    typer.echo(f"password set for {email}; their sessions have ended")


@users_app.command("token")
def users_token(email: str, label: Annotated[str | None, typer.Option()] = None) -> None:
    """Issue another API token for an existing account."""

    async def work(session: AsyncSession) -> str:
        user = await staff_service.get_user(session, email=email)
        return staff_service.issue_token(session, user=user, label=label)

    typer.echo(in_session(work))


@users_app.command("revoke")
def users_revoke(email: str) -> None:
    """Revoke every API token of an account."""

    async def work(session: AsyncSession) -> int:
        user = await staff_service.get_user(session, email=email)
        return await staff_service.revoke_tokens(session, user=user, actor=CLI_ACTOR)

    typer.echo(f"revoked {_count(in_session(work), 'token')} of {email}")


@users_app.command("disable")
def users_disable(email: str) -> None:
    """Disable an account: its tokens stop working."""

    async def work(session: AsyncSession) -> None:
        user = await staff_service.get_user(session, email=email)
        await staff_service.set_active(session, user=user, active=False, actor=CLI_ACTOR)

    in_session(work)
    typer.echo(f"disabled {email}")


@users_app.command("list")
def users_list() -> None:
    """List staff accounts."""

    async def work(session: AsyncSession) -> list[str]:
        return [
            f"{u.email:<40} {u.role.value:<11} {'active' if u.active else 'disabled':<9} "
            f"{_count(sum(1 for t in u.tokens if t.revoked_at is None), 'live token')}"
            for u in await staff_service.list_users(session)
        ]

    for line in in_session(work):
        typer.echo(line)


def _count(n: int, noun: str) -> str:
    """ "1 live token", "2 live tokens" (the CLI speaks English; pages go through gettext)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
