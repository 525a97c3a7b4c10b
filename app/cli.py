"""The `appeals` command line: thin commands that call the services.

Each command opens its own engine and one session, commits when the command succeeds, and exits
non-zero when something needs a person's attention (so scripts can gate on it).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.models import CampaignStatus
from app.campaigns.schemas import CampaignCreate, CampaignUpdate, Pacing, Selector, Targets
from app.cases import service as cases_service
from app.cases.files import Category, Status
from app.cases.schemas import CaseRead, CaseSummary
from app.config import Settings, get_settings
from app.console import demo_token_secret, require_token_secret, run_in_session, run_with_engine
from app.dataset import service as dataset_service
from app.dataset.service import ImportReport
from app.db import make_sessionmaker, utcnow
from app.delivery import service as delivery_service
from app.delivery.commands import post_app
from app.delivery.email import make_transport
from app.errors import AppError
from app.letters import service as letters_service
from app.letters.commands import templates_app
from app.letters.schemas import SenderIn
from app.letters.service import LetterKit
from app.logs import log_config
from app.migrations import downgrade, make_revision, pending_changes, upgrade
from app.recipients import service as recipients_service
from app.recipients.files import ChannelKind
from app.recipients.health import DirectoryHealth, OfficeStatus, directory_health
from app.recipients.schemas import OfficeHealthRead
from app.responses.commands import inbound_app
from app.staff import service as staff_service
from app.staff.models import Role
from app.workers import build_worker, make_printmail_if_used

T = TypeVar("T")

app = typer.Typer(help="Appeals: letter campaigns for people prosecuted for their civic work.")
db_app = typer.Typer(help="The database schema (Alembic migrations).")
directory_app = typer.Typer(help="The directory of offices.")
cases_app = typer.Typer(help="Browse the cases.")
recipients_app = typer.Typer(help="Browse the directory.")
users_app = typer.Typer(help="Staff accounts and API tokens.")
for sub, name in (
    (templates_app, "templates"),
    (post_app, "post"),
    (inbound_app, "inbound"),
    (db_app, "db"),
    (directory_app, "directory"),
    (cases_app, "cases"),
    (recipients_app, "recipients"),
    (users_app, "users"),
):
    app.add_typer(sub, name=name)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
CLI_ACTOR = "cli"


def _run(work: Callable[[AsyncSession], Awaitable[T]], *, settings: Settings | None = None) -> T:
    return run_in_session(settings or get_settings(), work)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _migrate(settings: Settings) -> None:
    run_with_engine(settings, lambda engine: upgrade(engine, settings.alembic_dir))


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


# --- import -------------------------------------------------------------------------------


def _print_report(report: ImportReport) -> None:
    counts = (
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged"
    )
    if report.kept_edits:
        counts += f", {len(report.kept_edits)} kept staff edits"
    if report.conflicts:
        counts += f", {len(report.conflicts)} conflicts"
    errors = len(report.errors)
    notices = len(report.problems) - errors
    typer.echo(f"{report.kind}s: {counts}; {errors} problems, {notices} notices")
    for problem in report.problems:
        colour = "red" if problem.severity == "error" else "yellow"
        typer.secho(f"  {problem}", fg=colour)
    for ident in report.missing_files:
        typer.secho(
            f"  notice: {report.kind} {ident!r} is in the database but has no file", fg="yellow"
        )


def _import(settings: Settings, cases: Path, recipients: Path, force: bool) -> list[ImportReport]:
    async def work(session: AsyncSession) -> list[ImportReport]:
        # Offices first: cases may come to refer to them.
        return [
            await dataset_service.import_recipients(session, folder=recipients, force=force),
            await dataset_service.import_cases(session, folder=cases, force=force),
        ]

    return _run(work, settings=settings)


@app.command("import")
def import_data(
    cases: Annotated[Path | None, typer.Option(help="Folder of case files")] = None,
    recipients: Annotated[Path | None, typer.Option(help="Folder of office files")] = None,
    force: Annotated[bool, typer.Option(help="Let files overwrite staff edits")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import cases and offices from their YAML folders. Idempotent; exit 1 on any problem."""
    settings = get_settings()
    reports = _import(
        settings, cases or settings.cases_dir, recipients or settings.recipients_dir, force
    )
    if as_json:
        _print_json([r.as_dict() for r in reports])
    else:
        for report in reports:
            _print_report(report)
    if any(r.errors for r in reports):
        raise typer.Exit(1)


# --- directory ----------------------------------------------------------------------------


def _print_health(health: DirectoryHealth) -> None:
    marks = {OfficeStatus.ok: "ok", OfficeStatus.warning: "WARN", OfficeStatus.unreachable: "FAIL"}
    for office in health.offices:
        typer.secho(
            f"{marks[office.status]:<4} {office.recipient_id} — {office.office}",
            bold=True,
            fg={"ok": "green", "WARN": "yellow", "FAIL": "red"}[marks[office.status]],
        )
        for channel in office.usable:
            typer.echo(f"     usable:   {channel.kind.value}: {channel.value}")
        for channel in office.unusable:
            typer.echo(f"     unusable: {channel.kind.value}: {channel.problem}")
        for warning in office.warnings:
            typer.echo(f"     warning:  {warning}")
    typer.echo(
        f"\n{len(health.offices)} offices: {health.count(OfficeStatus.ok)} ok, "
        f"{health.count(OfficeStatus.warning)} with warnings, "
        f"{health.count(OfficeStatus.unreachable)} unreachable"
    )


@directory_app.command("check")
def directory_check(
    max_age_days: Annotated[
        int | None, typer.Option(help="Holder verification age limit (days)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per office: usable and unusable channels, stale holders. Exit 1 if any is unreachable."""
    settings = get_settings()

    async def work(session: AsyncSession) -> DirectoryHealth:
        return directory_health(
            await recipients_service.all_recipients(session),
            now=utcnow(),
            max_age_days=max_age_days or settings.holder_max_age_days,
        )

    health = _run(work, settings=settings)
    if as_json:
        _print_json(
            {
                "checked_at": health.checked_at.isoformat(),
                "holder_max_age_days": health.holder_max_age_days,
                "reachable": health.reachable,
                "counts": {s.value: health.count(s) for s in OfficeStatus},
                "offices": [
                    OfficeHealthRead.model_validate(o).model_dump(mode="json")
                    for o in health.offices
                ],
            }
        )
    else:
        _print_health(health)
    if not health.reachable:
        raise typer.Exit(1)


# --- cases and recipients -----------------------------------------------------------------


@cases_app.command("list")
def cases_list(
    q: Annotated[str | None, typer.Option(help="Any spelling of a name")] = None,
    status: Status | None = None,
    category: Category | None = None,
    article: Annotated[str | None, typer.Option(help="Criminal Code article")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List cases, optionally searched and filtered."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        rows, _ = await cases_service.list_cases(
            session, q=q, status=status, category=category, article=article, limit=1000
        )
        return [CaseSummary.model_validate(c).model_dump(mode="json") for c in rows]

    cases = _run(work)
    if as_json:
        _print_json(cases)
        return
    for case in cases:
        people = "; ".join(f"{p['name']} ({p['status']})" for p in case["people"])
        typer.echo(f"{case['id']:<24} {case['category']:<24} {people}")
    typer.echo(f"{len(cases)} cases")


@cases_app.command("show")
def cases_show(case_id: str) -> None:
    """Print one case as JSON."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        case = await cases_service.get_case(session, case_id=case_id)
        return CaseRead.model_validate(case).model_dump(mode="json")

    _print_json(_run(work))


@recipients_app.command("list")
def recipients_list(
    q: Annotated[str | None, typer.Option(help="Office, holder or body")] = None,
    tag: str | None = None,
    country: str | None = None,
    channel: ChannelKind | None = None,
    as_json: JsonFlag = False,
) -> None:
    """List offices, optionally filtered."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        rows, _ = await recipients_service.list_recipients(
            session, q=q, tag=tag, country=country, channel=channel, limit=1000
        )
        return [recipients_service.to_read(r).model_dump(mode="json") for r in rows]

    offices = _run(work)
    if as_json:
        _print_json(offices)
        return
    for office in offices:
        kinds = ",".join(c["kind"] for c in office["channels"] if c["usable"]) or "-"
        typer.echo(f"{office['id']:<40} {office['country']}  usable: {kinds}")
    typer.echo(f"{len(offices)} offices")


@recipients_app.command("show")
def recipients_show(recipient_id: str) -> None:
    """Print one office as JSON."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        recipient = await recipients_service.get_recipient(session, recipient_id=recipient_id)
        return recipients_service.to_read(recipient).model_dump(mode="json")

    _print_json(_run(work))


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

    token = _run(work)
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

    _run(work)
    typer.echo(f"password set for {email}; their sessions have ended")


@users_app.command("token")
def users_token(email: str, label: Annotated[str | None, typer.Option()] = None) -> None:
    """Issue another API token for an existing account."""

    async def work(session: AsyncSession) -> str:
        user = await staff_service.get_user(session, email=email)
        return staff_service.issue_token(session, user=user, label=label)

    typer.echo(_run(work))


@users_app.command("revoke")
def users_revoke(email: str) -> None:
    """Revoke every API token of an account."""

    async def work(session: AsyncSession) -> int:
        user = await staff_service.get_user(session, email=email)
        return await staff_service.revoke_tokens(session, user=user, actor=CLI_ACTOR)

    typer.echo(f"revoked {_run(work)} tokens of {email}")


@users_app.command("disable")
def users_disable(email: str) -> None:
    """Disable an account: its tokens stop working."""

    async def work(session: AsyncSession) -> None:
        user = await staff_service.get_user(session, email=email)
        await staff_service.set_active(session, user=user, active=False, actor=CLI_ACTOR)

    _run(work)
    typer.echo(f"disabled {email}")


@users_app.command("list")
def users_list() -> None:
    """List staff accounts."""

    async def work(session: AsyncSession) -> list[str]:
        return [
            f"{u.email:<40} {u.role.value:<11} {'active' if u.active else 'disabled':<9} "
            f"{sum(1 for t in u.tokens if t.revoked_at is None)} live tokens"
            for u in await staff_service.list_users(session)
        ]

    for line in _run(work):
        typer.echo(line)


# --- serve and demo -----------------------------------------------------------------------


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    migrate: Annotated[bool, typer.Option(help="Apply migrations first")] = False,
) -> None:
    """Serve the web app and API."""
    settings = get_settings()
    require_token_secret(settings)
    if migrate:
        _migrate(settings)
    _serve(settings, host, port)


@app.command("worker")
def worker(
    once: Annotated[bool, typer.Option(help="One round, then exit")] = False,
    batch: Annotated[
        int | None,
        typer.Option(min=1, max=1000, help="E-mails per claim [default: APPEALS_WORKER_BATCH]"),
    ] = None,
) -> None:
    """Deliver due letters until stopped (SIGTERM/SIGINT finish the current round)."""
    settings = get_settings()
    require_token_secret(settings)

    async def work(engine: AsyncEngine) -> int:
        transport = make_transport(settings)
        printmail = make_printmail_if_used(settings)
        runner = build_worker(
            make_sessionmaker(engine),
            settings,
            transport,
            kit=LetterKit.from_settings(settings),
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

    done = run_with_engine(settings, work)
    if once:
        typer.echo(f"{done} deliveries tried")


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    import uvicorn

    from app.main import create_app

    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        proxy_headers=False,
        log_level="info",
        # Every handler redacts link tokens: the access log would otherwise write each
        # supporter's /confirm/ and /s/ link (app/logs.py).
        log_config=log_config(),
    )


DEMO_STAFF = "demo-campaigner@appeals.invalid"
DEMO_CAMPAIGN = CampaignCreate(
    slug="free-bokayev-ayan",
    title="Free Maks Bokayev and Talgat Ayan",
    description=(
        "Made by `appeals demo`, in test mode: every e-mail goes to the demo's own address "
        "(as a file in the outbox), so the whole mailing can be watched before any office's "
        "address is verified. At most one letter per office per hour, to show the pacing."
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
# Two signers, so each office's second letter waits its turn (visible in the schedule).
DEMO_SIGNERS = [
    SenderIn(name="Demo supporter 1", city="Demo town"),
    SenderIn(name="Demo supporter 2", city="Demo town"),
]


@app.command("demo")
def demo(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """The embedded setup in one go: SQLite under ./var, migrations, the report's data, a server."""
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    settings = demo_token_secret(settings)
    typer.echo(f"database: {settings.effective_database_url}")
    _migrate(settings)
    for report in _import(settings, settings.cases_dir, settings.recipients_dir, force=False):
        _print_report(report)

    async def staff_token(session: AsyncSession) -> str:
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
            # One case, every office of the report, open in test mode with letters queued.
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
        return token

    token = _run(staff_token, settings=settings)
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


def main() -> None:
    app(prog_name="appeals")


if __name__ == "__main__":
    main()
