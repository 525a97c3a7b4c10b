"""JSON routes of inbound mail and the response log.

`POST /api/v1/inbound/email` takes one raw RFC 822 message from an MTA pipe or a provider's
inbound webhook, authenticated by the shared secret `APPEALS_INBOUND_SECRET` (not a staff token).
The other routes are for staff: organisers, campaigners and admins all read and record responses.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.config import SettingsDep
from app.db import SessionDep
from app.delivery import service as delivery_service
from app.errors import AppError, InvalidInput, Unauthorized
from app.params import Id, Offset
from app.responses import records, service
from app.responses.mime import readable_text
from app.responses.models import InboundStatus, ResponseKind
from app.responses.schemas import (
    InboundDetail,
    InboundMatch,
    InboundRead,
    InboundResult,
    InboundReview,
    ResponseCreate,
    ResponseRead,
    ResponseUpdate,
)
from app.schemas import ERROR_RESPONSES, Page, file_response
from app.staff.auth import CurrentStaff

router = APIRouter(prefix="/api/v1", tags=["responses"], responses=ERROR_RESPONSES)

RAW_TYPES = ("message/rfc822", "application/octet-stream", "text/plain")
CSV = file_response("text/csv", "CSV, one response a row")
RAW_BODY = {
    "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in RAW_TYPES},
    "required": True,
    "description": "The message exactly as received (RFC 822 / RFC 5322 bytes).",
}


class InboundNotConfigured(AppError):
    status = 503
    kind = "ServiceUnavailable"


class PayloadTooLarge(AppError):
    status = 413
    kind = "PayloadTooLarge"


class UnsupportedMediaType(AppError):
    status = 415
    kind = "UnsupportedMediaType"


def _authorise(request: Request, secret: str | None) -> None:
    if not secret:
        raise InboundNotConfigured("inbound mail not configured: set APPEALS_INBOUND_SECRET")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), secret.encode()
    ):
        raise Unauthorized("this route needs the inbound secret: Authorization: Bearer <secret>")


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the message is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the message is larger than {limit} bytes")
    return bytes(body)


@router.post(
    "/inbound/email",
    summary="Take one inbound e-mail (raw RFC 822) from the MTA or a provider's webhook",
    tags=["inbound"],
    openapi_extra={"requestBody": RAW_BODY},
    responses={
        413: {"description": "Larger than APPEALS_INBOUND_MAX_BYTES"},
        503: {"description": "APPEALS_INBOUND_SECRET is not set"},
    },
)
async def receive_email(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    envelope_to: Annotated[
        str | None,
        Query(max_length=320, description="The envelope recipient, when the MTA passes it on."),
    ] = None,
) -> InboundResult:
    _authorise(request, settings.inbound_secret)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in RAW_TYPES:
        raise UnsupportedMediaType(f"send the raw message as one of: {', '.join(RAW_TYPES)}")
    raw = await _read_capped(request, settings.inbound_max_bytes)
    if not raw.strip():
        raise InvalidInput("the message is empty")
    message, _created = await service.store(
        session,
        raw=raw,
        source="api",
        envelope_to=envelope_to,
        max_bytes=settings.inbound_max_bytes,
    )
    # The bytes are kept whatever processing does: a failure leaves the message `received`,
    # and the MTA's retry (the same bytes) processes it again. A message that cannot be read is
    # no failure: it is stored `failed` with the reason, and answered 200 like any other.
    await session.commit()
    outcome = await service.process(session, message=message, settings=settings)
    return InboundResult(
        **InboundRead.model_validate(outcome.message).model_dump(),
        response_id=outcome.response.id if outcome.response else None,
        duplicate=outcome.duplicate,
    )


@router.get(
    "/inbound", summary="Inbound messages; ?status=unmatched is the review inbox", tags=["inbound"]
)
async def list_inbound(
    session: SessionDep,
    _user: CurrentStaff,
    status: InboundStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Page[InboundRead]:
    rows, total = await service.list_messages(session, status=status, limit=limit, offset=offset)
    return Page(
        items=[InboundRead.model_validate(m) for m in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/inbound/{message_id:int}", summary="One inbound message, with its text", tags=["inbound"]
)
async def get_inbound(session: SessionDep, _user: CurrentStaff, message_id: Id) -> InboundDetail:
    message = await service.get_message(session, message_id=message_id)
    text, unreadable = readable_text(message.raw)
    return InboundDetail(
        **InboundRead.model_validate(message).model_dump(),
        text=text,
        unreadable=unreadable.reason if unreadable else None,
    )


@router.get(
    "/inbound/{message_id:int}.eml",
    summary="One inbound message exactly as received",
    tags=["inbound"],
    responses={200: {"content": {"message/rfc822": {}}}},
)
async def get_inbound_raw(session: SessionDep, _user: CurrentStaff, message_id: Id) -> Response:
    message = await service.get_message(session, message_id=message_id)
    return Response(
        message.raw,
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="inbound-{message_id}.eml"'},
    )


@router.post(
    "/inbound/{message_id:int}/match",
    summary="Match an unmatched message to a delivery by hand; it is then applied",
    tags=["inbound"],
)
async def match_inbound(
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentStaff,
    message_id: Id,
    body: InboundMatch,
) -> InboundResult:
    message = await service.get_message(session, message_id=message_id, for_update=True)
    delivery = await delivery_service.get_delivery(session, delivery_id=body.delivery_id)
    outcome = await service.match_by_hand(
        session, message=message, delivery=delivery, actor=user, settings=settings
    )
    return InboundResult(
        **InboundRead.model_validate(outcome.message).model_dump(),
        response_id=outcome.response.id if outcome.response else None,
        duplicate=False,
    )


@router.post(
    "/inbound/{message_id:int}/review",
    summary="Ignore an unmatched message, or bring an ignored one back for review",
    tags=["inbound"],
)
async def review_inbound(
    session: SessionDep, user: CurrentStaff, message_id: Id, body: InboundReview
) -> InboundRead:
    message = await service.get_message(session, message_id=message_id)
    await service.set_ignored(session, message=message, ignored=body.ignored, actor=user)
    return InboundRead.model_validate(message)


Campaign = Annotated[str | None, Query(max_length=80, description="A campaign's slug")]
Office = Annotated[str | None, Query(max_length=80, description="An office (recipient id)")]


@router.get("/responses", summary="The response log, newest first")
async def list_responses(
    session: SessionDep,
    _user: CurrentStaff,
    campaign: Campaign = None,
    office: Office = None,
    kind: ResponseKind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> Page[ResponseRead]:
    filters = records.Filters(campaign=campaign, office=office, kind=kind)
    items, total = await records.list_responses(
        session, filters=filters, limit=limit, offset=offset
    )
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.get("/responses.csv", summary="The response log as CSV (same filters)", responses=CSV)
async def responses_csv(
    session: SessionDep,
    _user: CurrentStaff,
    campaign: Campaign = None,
    office: Office = None,
    kind: ResponseKind | None = None,
) -> Response:
    filters = records.Filters(campaign=campaign, office=office, kind=kind)
    items, _total = await records.list_responses(
        session, filters=filters, limit=1_000_000, offset=0
    )
    return Response(
        records.csv_of(items),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="responses.csv"'},
    )


@router.get("/responses/{response_id:int}", summary="One response")
async def get_response(session: SessionDep, _user: CurrentStaff, response_id: Id) -> ResponseRead:
    response = await records.get_response(session, response_id=response_id)
    return await records.read(session, response)


@router.patch("/responses/{response_id:int}", summary="Classify a response, or edit its notes")
async def update_response(
    session: SessionDep, user: CurrentStaff, response_id: Id, changes: ResponseUpdate
) -> ResponseRead:
    response = await records.get_response(session, response_id=response_id)
    await records.update_response(session, response=response, changes=changes, actor=user)
    return await records.read(session, response)


@router.post(
    "/responses",
    status_code=status.HTTP_201_CREATED,
    summary="Record an answer that came by post (or by phone) by hand",
)
async def record_response(
    session: SessionDep, user: CurrentStaff, data: ResponseCreate
) -> ResponseRead:
    response = await records.record_response(session, data=data, actor=user)
    return await records.read(session, response)
