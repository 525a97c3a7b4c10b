"""Running the service: `appeals serve`, `appeals demo` and `appeals start` (the worker is
`app.working`).

The composition root of the command line: it builds the app, the transports and the worker
from settings, as `app.main` does for the web app.
"""

from __future__ import annotations

import logging
import logging.config
from enum import StrEnum
from functools import partial
from typing import Annotated

import typer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.models import CampaignStatus
from app.campaigns.schemas import CampaignCreate, CampaignUpdate, Pacing, Selector, Targets
from app.config import Settings, get_settings
from app.console import (
    CLI_ACTOR,
    demo_token_secret,
    in_session,
    require_token_secret,
    run_with_engine,
)
from app.console import migrate as apply_migrations
from app.dataset import service as dataset_service
from app.dataset.commands import import_folders, print_report
from app.dataset.service import ImportReport
from app.db import make_sessionmaker, utcnow
from app.delivery import service as delivery_service
from app.errors import AppError
from app.letters import service as letters_service
from app.letters.schemas import SenderIn
from app.logs import log_config
from app.migrations import upgrade
from app.staff import service as staff_service
from app.staff.models import Role, StaffUser
from app.startup import port_problem
from app.templating.kit import LetterKit
from app.working import worker

# --- serve and demo -----------------------------------------------------------------------


log = logging.getLogger(__name__)


def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first")] = False,
) -> None:
    """Serve the web app and API."""
    settings = get_settings()
    require_token_secret(settings)
    if migrate:
        apply_migrations(settings)
    _serve(settings, host, port)


class ServiceRole(StrEnum):
    serve = "serve"
    worker = "worker"


# The advisory lock containers take in turn to bring the database to their version.
_PREPARE_LOCK = 0x41505046  # "APPF"


def start(
    role: Annotated[
        ServiceRole, typer.Argument(help="serve: the web app and API; worker: delivery")
    ],
    once: Annotated[bool, typer.Option(help="worker: one round, then exit")] = False,
) -> None:
    """What a container runs: check the secret, migrate and import, then serve or work.

    A missing or published secret is refused; the database is brought to this version
    (migrations, then the shipped cases and offices; both idempotent, one container at a time).
    The same image runs the API and any number of workers."""
    settings = get_settings()
    require_token_secret(settings)
    for report in run_with_engine(settings, partial(_prepare_database, settings=settings)):
        print_report(report)
    if role is ServiceRole.serve:
        _serve(settings, None, None)
    else:
        worker(once=once, batch=None)


async def _prepare_database(engine: AsyncEngine, *, settings: Settings) -> list[ImportReport]:
    """Migrate and import under a PostgreSQL advisory lock, so containers starting together
    take turns (SQLite has one writer: they take turns anyway)."""
    async with engine.connect() as holder:
        postgres = holder.dialect.name == "postgresql"
        if postgres:
            await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PREPARE_LOCK})
        try:
            await upgrade(engine, settings.alembic_dir)
            async with make_sessionmaker(engine)() as session, session.begin():
                return [
                    await dataset_service.import_recipients(
                        session, folder=settings.recipients_dir
                    ),
                    await dataset_service.import_cases(session, folder=settings.cases_dir),
                ]
        finally:
            if postgres:
                await holder.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _PREPARE_LOCK}
                )


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    import uvicorn

    from app.main import create_app

    settings = settings.served_at(host, port)
    host, port = settings.host, settings.port
    if (problem := port_problem(host, port)) is not None:
        typer.secho(f"error: {problem}", err=True, fg="red")
        raise typer.Exit(2)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        proxy_headers=False,
        log_level=settings.log_level.lower(),
        # Every handler redacts link tokens: the access log would otherwise write each
        # supporter's /confirm/ and /s/ link (app/logs.py).
        log_config=log_config(settings.log_level, settings.log_format),
    )


DEMO_STAFF = "demo-campaigner@appeals.invalid"
DEMO_CAMPAIGN = CampaignCreate(
    slug="free-bokayev-ayan",
    title="Free Maks Bokayev and Talgat Ayan",
    description=(
        "Made by `appeals demo`, in test mode: every e-mail goes to the demo's own address "
        "(as a file in the outbox), so the whole mailing can be watched before any office's "
        "address is verified. At most one letter per office per hour, to show the pacing.\n\n"
        "The letters already queued were written by staff for two sample senders; they are "
        "not signatures, so the page counts only the people who sign it here."
    ),
    cases=["bokayev-ayan"],
    targets=Targets(selectors=[Selector(tag="international"), Selector(tag="national")]),
    template="individual-appeal",
    pacing=Pacing(
        per_office_per_hour=1, office_hours_start=0, office_hours_end=24, office_days=[*range(7)]
    ),
    test_mode=True,
    test_address="demo-outbox@example.org",  # the outbox transport writes it to a file
)
# Two sample senders whose letters staff queue (not signatures: the public count stays true),
# so each office's second letter waits its turn (visible in the schedule).
DEMO_SIGNERS = [
    SenderIn(name="Demo supporter 1", city="Demo town"),
    SenderIn(name="Demo supporter 2", city="Demo town"),
]


async def _demo_staff_and_campaign(session: AsyncSession, *, settings: Settings) -> str:
    """The demo campaigner (a fresh token each run) and, the first time, the demo campaign."""
    try:
        user = await staff_service.get_user(session, email=DEMO_STAFF)
    except AppError:
        user, token = await staff_service.create_user(
            session, email=DEMO_STAFF, role=Role.campaigner, actor=CLI_ACTOR
        )
    else:
        await staff_service.revoke_tokens(session, user=user, actor=CLI_ACTOR)
        token = staff_service.issue_token(session, user=user, label="demo")
    if not await campaigns_service.list_campaigns(session):
        await _demo_campaign(session, user, settings)
    return token


async def _demo_campaign(session: AsyncSession, user: StaffUser, settings: Settings) -> None:
    """One case, every office of the report, open in test mode with letters queued."""
    kit = LetterKit.from_settings(settings)
    campaign = await campaigns_service.create_campaign(
        session, data=DEMO_CAMPAIGN, actor=user, library=kit.library
    )
    await campaigns_service.update_campaign(
        session,
        campaign=campaign,
        changes=CampaignUpdate(status=CampaignStatus.open),
        actor=user,
        library=kit.library,
    )
    for signer in DEMO_SIGNERS:
        await letters_service.create_letters(
            session,
            campaign=campaign,
            sender=signer,
            kit=kit,
            today=utcnow().date(),
            on_stored=partial(delivery_service.queue, session, actor=DEMO_STAFF),
        )


def demo(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """The embedded setup in one go: SQLite under ./var, migrations, the report's data, a server."""
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings = demo_token_secret(settings)
    typer.echo(f"database: {settings.effective_database_url}")
    apply_migrations(settings)
    for report in import_folders(
        settings, settings.cases_dir, settings.recipients_dir, force=False
    ):
        print_report(report)

    token = in_session(partial(_demo_staff_and_campaign, settings=settings), settings=settings)
    url = f"http://{host or settings.host}:{port or settings.port}"
    typer.echo(
        f"\nAppeals demo on {url}  (API docs: {url}/docs)\n"
        f"campaigner token for this run: {token}\n"
        f"  curl -H 'Authorization: Bearer {token}' {url}/api/v1/directory/health\n"
        f"staff pages (sign in with the token): {url}/staff\n"
        f"a delivery worker runs inside the server; e-mails go to {settings.var_dir / 'outbox'}\n"
        f"the demo campaign (test mode, one letter per office per hour):\n"
        f"  waiting per office:  curl -H 'Authorization: Bearer {token}' "
        f"{url}/api/v1/campaigns/{DEMO_CAMPAIGN.slug}/schedule\n"
        f"  web-form tasks:      curl -H 'Authorization: Bearer {token}' "
        f"'{url}/api/v1/campaigns/{DEMO_CAMPAIGN.slug}/deliveries?channel=web_form'\n"
        f"  print the post:      curl -X POST -H 'Authorization: Bearer {token}' "
        f"{url}/api/v1/campaigns/{DEMO_CAMPAIGN.slug}/print-batches\n"
    )
    _serve(settings.model_copy(update={"run_worker": True}), host, port)
