"""The response log: listing, classifying and annotating responses, recording postal ones by hand.

Every change staff make to a response is written to the audit log with the values before and
after; the pipeline (app/responses/service.py) writes the e-mail ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign
from app.db import utcnow
from app.delivery.models import Delivery
from app.errors import InvalidInput, NotFound
from app.letters.models import Letter
from app.recipients import service as recipients_service
from app.recipients.models import Recipient
from app.responses.models import Response, ResponseKind
from app.responses.schemas import ResponseCreate, ResponseRead, ResponseUpdate
from app.responses.suggest import suggest_kind
from app.spreadsheet import to_csv
from app.staff.models import StaffUser


@dataclass(frozen=True, slots=True)
class Filters:
    campaign: str | None = None  # slug
    office: str | None = None  # recipient id
    kind: ResponseKind | None = None


def _query(filters: Filters) -> Select[Response, str, str]:
    query = (
        select(Response, Campaign.slug, Recipient.office)
        .join(Campaign, Campaign.id == Response.campaign_id)
        .join(Recipient, Recipient.id == Response.recipient_id)
    )
    if filters.campaign:
        query = query.where(Campaign.slug == filters.campaign)
    if filters.office:
        query = query.where(Response.recipient_id == filters.office)
    if filters.kind:
        query = query.where(Response.kind == filters.kind)
    return query


def to_read(response: Response, campaign: str | None, office: str | None) -> ResponseRead:
    return ResponseRead.model_validate(response).model_copy(
        update={"campaign": campaign, "office": office}
    )


async def list_responses(
    session: AsyncSession, *, filters: Filters, limit: int, offset: int
) -> tuple[list[ResponseRead], int]:
    """Newest first."""
    query = _query(filters)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(Response.received_at.desc(), Response.id.desc()).limit(limit).offset(offset)
    )
    return [to_read(r, slug, office) for r, slug, office in rows.all()], total or 0


async def get_response(session: AsyncSession, *, response_id: int) -> Response:
    response = await session.get(Response, response_id)
    if response is None:
        raise NotFound(f"no response {response_id}")
    return response


async def read(session: AsyncSession, response: Response) -> ResponseRead:
    slug = await session.scalar(select(Campaign.slug).where(Campaign.id == response.campaign_id))
    office = await session.scalar(
        select(Recipient.office).where(Recipient.id == response.recipient_id)
    )
    return to_read(response, slug, office)


def _snapshot(response: Response) -> dict[str, object]:
    return {"kind": response.kind.value, "notes": response.notes}


async def update_response(
    session: AsyncSession, *, response: Response, changes: ResponseUpdate, actor: StaffUser
) -> Response:
    """Classify a response or change its notes; audited."""
    before = _snapshot(response)
    if changes.kind is not None and changes.kind is not response.kind:
        response.kind = changes.kind
        response.classified_by, response.classified_at = actor.email, utcnow()
    if changes.notes is not None:
        response.notes = changes.notes
    audit.record_change(
        session,
        actor=actor,
        action="response.update",
        entity_type="response",
        entity_id=str(response.id),
        before=before,
        after=_snapshot(response),
    )
    await session.flush()
    return response


async def record_response(
    session: AsyncSession, *, data: ResponseCreate, actor: StaffUser
) -> Response:
    """A postal (or other) answer, entered by hand; linked to its letter when one is named."""
    campaign = await campaigns_service.get_campaign(session, slug=data.campaign)
    recipient = await recipients_service.get_recipient(session, recipient_id=data.office)
    letter, delivery_id, case_id = None, None, data.case
    if data.letter_id is not None:
        letter = await session.get(Letter, data.letter_id)
        if (
            letter is None
            or letter.campaign_id != campaign.id
            or letter.recipient_id != recipient.id
        ):
            raise InvalidInput(
                f"letter {data.letter_id} is not a letter of campaign {campaign.slug!r} to "
                f"office {recipient.id!r}"
            )
        case_id = case_id or letter.case_id
        delivery_id = await session.scalar(
            select(Delivery.id).where(Delivery.letter_id == letter.id).order_by(Delivery.id)
        )
    classified = data.kind is not ResponseKind.unclassified
    now = utcnow()
    response = Response(
        campaign_id=campaign.id,
        recipient_id=recipient.id,
        case_id=case_id,
        letter_id=letter.id if letter else None,
        delivery_id=delivery_id,
        medium=data.medium,
        kind=data.kind,
        suggested_kind=suggest_kind(data.text),
        received_at=datetime.combine(data.received_on, time(12), tzinfo=UTC),
        from_name=data.from_name,
        subject=data.subject,
        excerpt=data.text,
        notes=data.notes,
        recorded_by=actor.email,
        classified_by=actor.email if classified else None,
        classified_at=now if classified else None,
    )
    session.add(response)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="response.record",
        entity_type="response",
        entity_id=str(response.id),
        after={
            "campaign": campaign.slug,
            "office": recipient.id,
            "letter_id": response.letter_id,
            "medium": response.medium.value,
            "kind": response.kind.value,
        },
    )
    return response


CSV_HEADER = (
    "id",
    "received_at",
    "campaign",
    "office_id",
    "office",
    "case",
    "letter_id",
    "delivery_id",
    "medium",
    "kind",
    "suggested_kind",
    "from_name",
    "from_address",
    "subject",
    "excerpt",
    "notes",
    "recorded_by",
    "classified_by",
)


def csv_of(rows: Sequence[ResponseRead]) -> str:
    """The responses as CSV; a cell a spreadsheet would run as a formula gets a leading '."""
    return to_csv(
        CSV_HEADER,
        (
            (
                r.id,
                r.received_at.isoformat(),
                r.campaign,
                r.recipient_id,
                r.office,
                r.case_id,
                r.letter_id,
                r.delivery_id,
                r.medium.value,
                r.kind.value,
                r.suggested_kind.value if r.suggested_kind else "",
                r.from_name,
                r.from_address,
                r.subject,
                r.excerpt,
                r.notes,
                r.recorded_by,
                r.classified_by,
            )
            for r in rows
        ),
    )
