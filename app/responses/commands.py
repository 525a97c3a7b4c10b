"""`appeals inbound ...`: inbound mail from an IMAP mailbox, or from an MTA's pipe.

`appeals inbound imap` polls the mailbox (APPEALS_IMAP_*) and moves what it processed to the
processed folder. `appeals inbound eml -` reads one message on standard input, for an MTA pipe
transport (e.g. Postfix `pipe` with `flags=R`); it exits 75 (EX_TEMPFAIL) when the message could
not be stored, so the MTA keeps it and tries again.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.console import require_token_secret, run_in_session, run_loop
from app.db import make_engine, make_sessionmaker
from app.responses import imap, service

inbound_app = typer.Typer(help="Inbound mail: replies, auto-replies and bounces.")
EX_TEMPFAIL = 75


@inbound_app.command("imap")
def inbound_imap(
    once: Annotated[bool, typer.Option(help="One pass over the mailbox, then exit")] = False,
) -> None:
    """Poll the IMAP mailbox; processed mail is moved to APPEALS_IMAP_PROCESSED_FOLDER.

    A failure of the first pass (the server refuses us, the settings are wrong) stops the
    command with exit status 2; once a pass has worked, a failed one (the server restarting, a
    dropped connection) is reported and the next pass comes at the usual interval."""
    settings = get_settings()
    require_token_secret(settings)

    async def main() -> int:
        engine = make_engine(settings.effective_database_url)
        sessionmaker = make_sessionmaker(engine)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        failures, passes = 0, 0
        try:
            while True:
                try:
                    result = await imap.poll_once(sessionmaker, settings)
                except imap.MailboxError as exc:
                    if once or not passes:
                        raise
                    typer.echo(
                        f"error: {exc}; next pass in {settings.imap_poll_seconds:.0f} s", err=True
                    )
                else:
                    passes += 1
                    typer.echo(f"{result.moved} messages processed and moved", err=True)
                    if result.failed:
                        left = ", ".join(result.failed)
                        typer.echo(f"left for the next pass: UIDs {left}", err=True)
                    failures = len(result.failed)
                if once:
                    break
                try:
                    await asyncio.wait_for(stop.wait(), timeout=settings.imap_poll_seconds)
                    break
                except TimeoutError:
                    continue
        finally:
            await engine.dispose()
        return failures

    try:
        failures = run_loop(main())
    except imap.MailboxError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    if failures:
        raise typer.Exit(1)


@inbound_app.command("eml")
def inbound_eml(
    path: Annotated[str, typer.Argument(help="An .eml file, or - for standard input")],
    envelope_to: Annotated[str | None, typer.Option(help="The envelope recipient")] = None,
) -> None:
    """Feed one raw message into the inbound pipeline."""
    settings = get_settings()
    require_token_secret(settings)
    raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()

    async def work(session: AsyncSession) -> str:
        message, _ = await service.store(
            session,
            raw=raw,
            source="cli",
            envelope_to=envelope_to,
            max_bytes=settings.inbound_max_bytes,
        )
        await session.commit()
        outcome = await service.process(session, message=message, settings=settings)
        m = outcome.message
        return f"message {m.id}: {m.kind.value if m.kind else '?'}, {m.status.value}"

    try:
        typer.echo(run_in_session(settings, work))
    except typer.Exit:
        raise
    except Exception as exc:  # the MTA keeps the message and retries on EX_TEMPFAIL
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(EX_TEMPFAIL) from exc
