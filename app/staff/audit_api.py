"""JSON route of the audit log (admin only): the staff area reads what `app.audit` records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from app.audit import service
from app.db import SessionDep
from app.params import Offset
from app.schemas import ERROR_RESPONSES, Page
from app.staff.auth import Admin

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get("", summary="The audit log, newest first")
async def list_audit(
    session: SessionDep,
    _admin: Admin,
    entity_type: Annotated[str | None, Query(max_length=40)] = None,
    entity_id: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Page[AuditRead]:
    rows, total = await service.list_entries(
        session, entity_type=entity_type, entity_id=entity_id, limit=limit, offset=offset
    )
    return Page(
        items=[AuditRead.model_validate(r) for r in rows], total=total, limit=limit, offset=offset
    )
