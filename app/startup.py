"""What went wrong when a command started, in one line a person can act on.

The common mistakes of a new installation (no database server, a database that does not exist,
a login refused, migrations not applied, an SQLite file that cannot be opened, a port in use)
surface as exceptions from deep inside asyncpg, aiosqlite or uvicorn, hundreds of lines long.
`explain` reads the chain of causes and names the problem and its fix; the command then exits
with status 2. Anything it does not recognise is left alone: a bug keeps its traceback. The
database URL is described by host, port and name only, never with its password.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
from collections.abc import Iterator

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

UPGRADE = "run `appeals db upgrade`"


class SetupError(Exception):
    """A setting that cannot work, found when it is first used (a key file that cannot be
    read): its text is the one line to show."""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, what it was raised from, and so on (SQLAlchemy's wrapped driver error too)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nxt in (current.__cause__, current.__context__, getattr(current, "orig", None)):
            if isinstance(nxt, BaseException):
                pending.append(nxt)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)


def where(url: str) -> str:
    """`host:port/database` of a PostgreSQL URL, or the file of an SQLite one; no password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an unreadable APPEALS_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database}"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _database(url: str, exc: BaseException) -> str | None:
    name = type(exc).__name__
    text = str(exc)
    if name == "InvalidCatalogNameError" or ("database" in text and "does not exist" in text):
        parsed = make_url(url)
        return (
            f"the database {parsed.database!r} does not exist on {parsed.host or 'localhost'}:"
            f"{parsed.port or 5432}: create it (createdb {parsed.database}) or fix "
            "APPEALS_DATABASE_URL"
        )
    if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
        return (
            f"the database server at {where(url)} refused the login: check the user and "
            "password in APPEALS_DATABASE_URL"
        )
    if name == "UndefinedTableError" or "no such table" in text:
        return f"the database at {where(url)} has no tables yet (migrations not applied): {UPGRADE}"
    if name == "UndefinedColumnError" or "no such column" in text:
        return f"the database at {where(url)} is older than this version of Appeals: {UPGRADE}"
    if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
        return (
            f"cannot open {where(url)}: check that its folder exists and can be written "
            "(APPEALS_VAR_DIR or APPEALS_DATABASE_URL)"
        )
    return None


def _network(url: str, exc: BaseException) -> str | None:
    refused = isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED
    )
    if refused or "Connect call failed" in str(exc):
        return (
            f"nothing answers at {where(url)}: is PostgreSQL running there? "
            "Check the host and port in APPEALS_DATABASE_URL"
        )
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the database host of {where(url)}: check APPEALS_DATABASE_URL"
    return None


def explain(exc: BaseException, *, database_url: str) -> str | None:
    """One line saying what is wrong and how to fix it, or None if `exc` is not a known
    mistake of set-up."""
    for cause in causes(exc):
        if isinstance(cause, SetupError):
            return str(cause)
        message = _database(database_url, cause) or _network(database_url, cause)
        if message is not None:
            return message
    return None


def port_problem(host: str, port: int) -> str | None:
    """Why a server cannot listen on host:port (in use, not ours to take), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} on {host} is in use: stop what listens there, or set "
                    "APPEALS_PORT (or --port)"
                )
            return f"cannot listen on {host}:{port} ({exc.strerror}): set APPEALS_HOST/APPEALS_PORT"
    return None
