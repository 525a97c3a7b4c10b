"""Staff pages of print batches: the campaign's postal letters collected, printed and posted.

Postal letters are collected into print batches (one PDF and a manifest), printed, and marked
posted, with the same services as the API (`batches.create_batch`, `batches.mark_posted`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign
from app.db import SessionDep
from app.delivery.models import Delivery, DeliveryStatus, PrintBatch
from app.delivery.post import batches
from app.errors import NotFound
from app.letters.models import Letter
from app.params import Id
from app.recipients.channels import ChannelKind
from app.staff.guards import EditorForm, StaffPage
from app.templating.kit import KitDep
from app.web.pages import render

router = APIRouter(prefix="/staff", include_in_schema=False)


@router.get("/batches", response_class=HTMLResponse)
async def batches_page(request: Request, session: SessionDep, staff: StaffPage) -> Response:
    to_print = await session.execute(
        select(Campaign.slug, Campaign.title, func.count(Delivery.id))
        .join(Letter, Letter.campaign_id == Campaign.id)
        .join(Delivery, Delivery.letter_id == Letter.id)
        .where(Delivery.channel == ChannelKind.postal, Delivery.status == DeliveryStatus.queued)
        .group_by(Campaign.slug, Campaign.title)
        .order_by(Campaign.title)
    )
    printed = await session.execute(
        select(PrintBatch, Campaign.title, func.count(Delivery.id))
        .join(Campaign, Campaign.id == PrintBatch.campaign_id)
        .outerjoin(Delivery, Delivery.batch_id == PrintBatch.id)
        .group_by(PrintBatch.id, Campaign.title)
        .order_by(PrintBatch.id.desc())
        .limit(100)
    )
    context = {
        **staff.page(),
        "section": "batches",
        "to_print": to_print.all(),
        "batches": printed.all(),
    }
    return render(request, "staff/batches.html", context)


@router.post("/campaigns/{slug}/batches")
async def create_batch(session: SessionDep, staff: EditorForm, slug: str) -> Response:
    campaign = await campaigns_service.get_campaign(session, slug=slug)
    batch = await batches.create_batch(session, campaign=campaign, actor=staff.user.email)
    return RedirectResponse(f"/staff/batches?created={batch.id}", status_code=303)


@router.post("/batches/{batch_id:int}/posted")
async def mark_posted(session: SessionDep, staff: EditorForm, batch_id: Id) -> Response:
    batch = await batches.get_batch(session, batch_id=batch_id)
    await batches.mark_posted(session, batch=batch, actor=staff.user.email)
    return RedirectResponse("/staff/batches", status_code=303)


@router.get("/batches/{batch_id:int}.{kind}")
async def batch_file(
    session: SessionDep, _staff: StaffPage, kit: KitDep, batch_id: Id, kind: str
) -> Response:
    if kind not in ("pdf", "csv"):
        raise NotFound(f"no such file of print batch {batch_id}")
    batch = await batches.get_batch(session, batch_id=batch_id)
    rendered = await batches.render(session, batch=batch, settings=kit.settings)
    body, media = (
        (rendered.pdf, "application/pdf")
        if kind == "pdf"
        else (rendered.manifest_csv.encode(), "text/csv; charset=utf-8")
    )
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.{kind}"'},
    )
