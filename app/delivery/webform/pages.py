"""Staff pages of the web-form (and telephone) channel: the work people do by hand.

Web-form offices get a task per letter: the page shows the prefilled text and the form's
address; a campaigner sends it and marks it done (or skips it) with the same service as the API
(`service.act`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from app.campaigns.models import Campaign
from app.db import SessionDep
from app.delivery.models import Delivery, DeliveryStatus
from app.letters.models import Letter
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient
from app.staff.guards import StaffPage
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)

PAGE_SIZE = 25


@router.get("/tasks", response_class=HTMLResponse)
async def tasks(
    request: Request,
    session: SessionDep,
    staff: StaffPage,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    waiting = (
        select(Delivery, Letter, Recipient.office, Campaign.title)
        .join(Letter, Letter.id == Delivery.letter_id)
        .join(Recipient, Recipient.id == Delivery.recipient_id)
        .join(Campaign, Campaign.id == Letter.campaign_id)
        .where(Delivery.channel == ChannelKind.web_form, Delivery.status == DeliveryStatus.open)
    )
    total = await session.scalar(select(func.count()).select_from(waiting.subquery())) or 0
    rows = await session.execute(
        waiting.order_by(Delivery.created_at, Delivery.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    context = {
        **staff.page(),
        "section": "tasks",
        "tasks": rows.all(),
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
    }
    return render(request, "staff/tasks.html", context)
