"""JSON routes of cases: browse and search (public, cacheable: app/web/caching.py), edits
(campaigner, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.cases import service
from app.cases.files import Category, Status
from app.cases.schemas import CaseRead, CaseSummary, CaseUpdate, PersonRead, PersonUpdate
from app.db import SessionDep
from app.params import Id, Offset
from app.schemas import ERROR_RESPONSES, Page
from app.staff.auth import Editor
from app.web import caching

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=ERROR_RESPONSES)


@router.get("", summary="List and search cases", response_model=Page[CaseSummary])
async def list_cases(
    request: Request,
    session: SessionDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Any spelling of a name, Latin or Cyrillic"),
    ] = None,
    status: Annotated[Status | None, Query(description="Someone in the case has it")] = None,
    category: Category | None = None,
    article: Annotated[
        str | None, Query(pattern=r"^\d+(\.\d+)?$", description="Criminal Code article")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Response:
    rows, total = await service.list_cases(
        session,
        q=q,
        status=status,
        category=category,
        article=article,
        limit=limit,
        offset=offset,
    )
    items = [CaseSummary.model_validate(c) for c in rows]
    page = Page[CaseSummary](items=items, total=total, limit=limit, offset=offset)
    return caching.shared_json(request, page)


@router.get("/{case_id}", summary="One case in full", response_model=CaseRead)
async def get_case(request: Request, session: SessionDep, case_id: str) -> Response:
    case = CaseRead.model_validate(await service.get_case(session, case_id=case_id))
    return caching.shared_json(request, case)


@router.patch("/{case_id}", summary="Edit a case (campaigner, admin)")
async def update_case(
    session: SessionDep, user: Editor, case_id: str, changes: CaseUpdate
) -> CaseRead:
    case = await service.get_case(session, case_id=case_id)
    await service.update_case(session, case=case, changes=changes, actor=user)
    return CaseRead.model_validate(case)


@router.patch("/{case_id}/people/{person_id}", summary="Update a person's situation")
async def update_person(
    session: SessionDep, user: Editor, case_id: str, person_id: Id, changes: PersonUpdate
) -> PersonRead:
    case = await service.get_case(session, case_id=case_id)
    person = await service.update_person(
        session, case=case, person_id=person_id, changes=changes, actor=user
    )
    return PersonRead.model_validate(person)
