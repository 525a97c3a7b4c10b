"""The audit log as a staff page (admins only): who changed what, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.audit import service
from app.db import SessionDep
from app.staff.guards import AdminPage
from app.web.pages import render

router = APIRouter(prefix="/staff/audit", include_in_schema=False)

PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    session: SessionDep,
    staff: AdminPage,
    entity_type: Annotated[str | None, Query(max_length=40)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    rows, total = await service.list_entries(
        session, entity_type=entity_type or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    context = {
        **staff.page(),
        "section": "audit",
        "entries": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "entity_type": entity_type or "",
    }
    return render(request, "staff/audit.html", context)
