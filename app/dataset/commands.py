"""`appeals import`: cases and offices from their YAML folders into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings, get_settings
from app.console import (
    JsonFlag,
    in_session,
    print_json,
)
from app.dataset import service as dataset_service
from app.dataset.service import ImportReport
from app.progress import progress

# --- import -------------------------------------------------------------------------------


def print_report(report: ImportReport) -> None:
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


def import_folders(
    settings: Settings, cases: Path, recipients: Path, force: bool
) -> list[ImportReport]:
    async def work(session: AsyncSession) -> list[ImportReport]:
        # Offices first: cases may come to refer to them.
        with progress("importing offices") as offices:
            first = await dataset_service.import_recipients(
                session, folder=recipients, force=force, progress=offices
            )
        with progress("importing cases") as each_case:
            second = await dataset_service.import_cases(
                session, folder=cases, force=force, progress=each_case
            )
        return [first, second]

    return in_session(work, settings=settings)


def import_data(
    cases: Annotated[Path | None, typer.Option(help="Folder of case files")] = None,
    recipients: Annotated[Path | None, typer.Option(help="Folder of office files")] = None,
    force: Annotated[bool, typer.Option(help="Let files overwrite staff edits")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import cases and offices from their YAML folders. Idempotent; exit 1 on any problem."""
    settings = get_settings()
    reports = import_folders(
        settings, cases or settings.cases_dir, recipients or settings.recipients_dir, force
    )
    if as_json:
        print_json([r.as_dict() for r in reports])
    else:
        for report in reports:
            print_report(report)
    if any(r.errors for r in reports):
        raise typer.Exit(1)
