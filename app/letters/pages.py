"""The staff's HTML letter preview: the same letter the API previews, for any target office."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign
from app.db import SessionDep, utcnow
from app.errors import AppError
from app.letters import service as letters_service
from app.letters.schemas import SenderIn
from app.staff.guards import StaffPage
from app.templating.kit import KitDep
from app.web.pages import render

router = APIRouter(prefix="/staff/campaigns", include_in_schema=False)


@router.get("/{slug}/preview", response_class=HTMLResponse)
async def preview_page(
    request: Request,
    session: SessionDep,
    staff: StaffPage,
    kit: KitDep,
    slug: str,
    recipient: Annotated[str | None, Query(max_length=80)] = None,
    case: Annotated[str | None, Query(max_length=80)] = None,
    supporter_name: Annotated[str, Query(max_length=200)] = "A. Supporter",
    supporter_city: Annotated[str, Query(max_length=200)] = "",
    supporter_country: Annotated[str, Query(max_length=200)] = "",
    message: Annotated[str, Query(max_length=4000)] = "",
) -> Response:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    targets = await campaigns_service.resolve_targets(
        session, campaign=campaign, library=kit.library
    )
    cases = await letters_service.campaign_cases(session, campaign)
    chosen = recipient or next((t.recipient.id for t in targets if t.reachable), None)
    form: dict[str, str | None] = {
        "recipient": chosen,
        "case": case,
        "supporter_name": supporter_name,
        "supporter_city": supporter_city,
        "supporter_country": supporter_country,
        "message": message,
    }
    context: dict[str, object] = {
        **staff.page(),
        "campaign": campaign,
        "targets": targets,
        "cases": cases,
        "form": form,
    }
    status = 200
    if chosen is not None:
        status = await _preview_into(context, session, kit, campaign, chosen, form)
    return render(request, "campaigns/preview.html", context, status=status)


async def _preview_into(
    context: dict[str, object],
    session: SessionDep,
    kit: KitDep,
    campaign: Campaign,
    recipient_id: str,
    form: dict[str, str | None],
) -> int:
    """Put the previewed letter (or why there is none) into `context`; the page's status."""
    try:
        sender = SenderIn(
            name=form["supporter_name"] or "",
            city=form["supporter_city"] or "",
            country=form["supporter_country"] or "",
            message=form["message"] or "",
        )
        composed = await letters_service.preview(
            session,
            campaign=campaign,
            recipient_id=recipient_id,
            case_id=form["case"],
            sender=sender,
            kit=kit,
            today=utcnow().date(),
        )
    except ValidationError as exc:
        context["error"] = "; ".join(str(e["msg"]) for e in exc.errors())
        return 422
    except AppError as exc:
        context["error"] = exc.detail
        return exc.status
    context.update(letter=composed.letter, target=composed.target)
    return 200
