"""`appeals cases`: browse the cases."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases import service as cases_service
from app.cases.files import Category, Status
from app.cases.schemas import CaseRead, CaseSummary
from app.console import (
    JsonFlag,
    in_session,
    print_json,
)

cases_app = typer.Typer(help="Browse the cases.")


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

    cases = in_session(work)
    if as_json:
        print_json(cases)
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

    print_json(in_session(work))
