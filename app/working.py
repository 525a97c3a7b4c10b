"""Running the delivery worker: `appeals worker`.

Apart from `app.runtime` (serve, demo, start), so that a worker starting — after a crash, in a
storm of restarts — imports what delivering needs and not the campaign, import and migration
code the other commands use.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
import signal
from typing import Annotated

import prometheus_client
import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings, get_settings
from app.console import require_token_secret, run_with_engine
from app.db import make_sessionmaker
from app.delivery.email import make_transport
from app.delivery.worker import worker_name
from app.logs import worker_log_config
from app.startup import port_problem, where
from app.templating.kit import LetterKit
from app.workers import build_worker, make_printmail_if_used

log = logging.getLogger(__name__)


def worker(
    once: Annotated[bool, typer.Option(help="One round, then exit")] = False,
    batch: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=1000,
            # Parentheses, not brackets: typer's rich help would read [..] as markup and drop it.
            help="E-mails per claim (default: APPEALS_WORKER_BATCH, "
            f"{Settings.model_fields['worker_batch'].default})",
        ),
    ] = None,
) -> None:
    """Deliver due letters until stopped (SIGTERM/SIGINT finish the current round)."""
    settings = get_settings()
    require_token_secret(settings)
    logging.config.dictConfig(worker_log_config(settings.log_level, settings.log_format))
    name = worker_name()
    log.info("worker %s starting: %s", name, settings_summary(settings, batch=batch))
    if settings.worker_metrics_port is not None and not once:
        host, port = settings.worker_metrics_host, settings.worker_metrics_port
        if (problem := port_problem(host, port)) is not None:
            typer.secho(
                f"error: {problem.replace('APPEALS_PORT', 'APPEALS_WORKER_METRICS_PORT')}",
                err=True,
                fg="red",
            )
            raise typer.Exit(2)
        prometheus_client.start_http_server(port, addr=host)
        log.info("worker %s: metrics on http://%s:%d/metrics", name, host, port)

    async def work(engine: AsyncEngine) -> int:
        transport = make_transport(settings)
        printmail = make_printmail_if_used(settings)
        runner = build_worker(
            make_sessionmaker(engine),
            settings,
            transport,
            kit=LetterKit.from_settings(settings),
            name=name,
            printmail=printmail,
        )
        try:
            if once:
                return await runner.run_once(batch)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await runner.run_forever(stop, batch=batch)
            return 0
        finally:
            await transport.close()
            if printmail is not None:
                await printmail.aclose()

    done = run_with_engine(settings, work, application_name=name)
    log.info("worker %s stopped", name)
    if once:
        typer.echo(f"{done} deliveries tried")


def settings_summary(settings: Settings, *, batch: int | None = None) -> str:
    """What a worker runs with, for its first log line: no secret, user name or address."""
    mail = (
        f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        + (" (TLS)" if settings.smtp_tls else " (STARTTLS)" if settings.smtp_starttls else "")
        if settings.mail_transport == "smtp"
        else f"outbox folder {settings.var_dir / 'outbox'}"
    )
    return (
        f"database {where(settings.effective_database_url)}; mail by {mail}; post by "
        f"{settings.post_transport}; {batch or settings.worker_batch} e-mails a claim, leases "
        f"of {settings.lease_seconds} s; DKIM "
        f"{'selector ' + settings.dkim_selector if settings.dkim_selector else 'off (unsigned)'}; "
        f"log level {settings.log_level}"
    )
