"""`appeals templates ...`: check that every letter template renders for every case and office."""

from __future__ import annotations

from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.cases import service as cases_service
from app.config import Settings, get_settings
from app.console import run_in_session
from app.db import utcnow
from app.letters.context import base_context, with_sender
from app.letters.schemas import SenderIn
from app.progress import progress
from app.recipients import service as recipients_service
from app.templating.kit import LetterKit
from app.templating.library import Purpose
from app.templating.rendering import RenderError, letter_seed

T = TypeVar("T")

templates_app = typer.Typer(help="Letter templates.")


@templates_app.command("check")
def templates_check() -> None:
    """Render every template for every case and office; exit 1 on any error, or when nothing
    was rendered at all (no templates found, or no data imported)."""
    settings = get_settings()
    kit = LetterKit.from_settings(settings)
    sender = SenderIn(name="Template Check", city="Geneva", country="Switzerland", message="Hi.")
    check_campaign = Campaign(slug="template-check", title="Template check")  # never stored

    async def work(session: AsyncSession) -> list[str]:
        cases, _ = await cases_service.list_cases(session, limit=10_000)
        full = [await cases_service.get_case(session, case_id=c.id) for c in cases]
        offices = await recipients_service.all_recipients(session)
        errors: list[str] = []
        count = 0
        combinations = [
            (template, office, case)
            for template in kit.library.all()
            for office in offices
            for case in (full if template.purpose is Purpose.individual else [None])
        ]
        with progress("rendering letters") as report:
            for done, (template, office, case) in enumerate(combinations):
                report(done, len(combinations))
                base = base_context(
                    campaign=check_campaign,
                    cases=full,
                    case=case,
                    recipient=office,
                    language=template.language,
                    today=utcnow().date(),
                    max_age_days=settings.holder_max_age_days,
                    organisation=settings.organisation_name,
                )
                seed = letter_seed(template.name, office.id, case.id if case else "*")
                try:
                    kit.renderer.render(template, with_sender(base, sender), seed=seed)
                    count += 1
                except RenderError as exc:
                    case_id = case.id if case else "all cases"
                    errors.append(f"{template.path.name} × {office.id} × {case_id}: {exc}")
            report(len(combinations), len(combinations))
        templates = len(kit.library.all())
        typer.echo(f"{count} letters rendered from {templates} templates")
        if count == 0:
            errors.append(_nothing_rendered(templates, settings, offices=len(offices)))
        return errors

    problems = [str(p) for p in kit.library.problems]
    problems += run_in_session(settings, work)
    for problem in problems:
        typer.secho(problem, fg="red")
    if problems:
        raise typer.Exit(1)


def _nothing_rendered(templates: int, settings: Settings, *, offices: int) -> str:
    """Why a check that rendered no letter proves nothing, and what to do about it."""
    if templates == 0:
        return (
            f"no letter templates found in {settings.templates_dir}: set APPEALS_TEMPLATES_DIR "
            "to the folder of letter templates (*.j2)"
        )
    if offices == 0:
        return "no offices in the database: run `appeals import` first"
    return "no letter could be rendered: check the templates and the imported data"
