"""JSON routes for staff: who am I."""

from __future__ import annotations

from fastapi import APIRouter

from app.schemas import ERROR_RESPONSES
from app.staff.auth import CurrentStaff
from app.staff.schemas import StaffRead

router = APIRouter(prefix="/api/v1", tags=["staff"], responses=ERROR_RESPONSES)


@router.get("/me", summary="The staff account of the token")
async def me(user: CurrentStaff) -> StaffRead:
    return StaffRead.model_validate(user)
