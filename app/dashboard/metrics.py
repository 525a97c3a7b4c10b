"""`/metrics` in Prometheus's text format: the queue and the inbox as they stand, and the HTTP
requests this process answered.

The queue's figures are read at each scrape with two GROUP BY queries (deliveries by status and
channel; the age of the oldest letter due on each channel) and the inbox's with one; nothing is
kept between scrapes, so any number of API processes give the same figures. Only staff may read
it (a staff token, as for the API): the counts say how a campaign is going.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import SessionDep, utcnow
from app.delivery.models import Delivery, DeliveryStatus
from app.responses.models import InboundMessage
from app.staff.auth import CurrentStaff
from app.web.metrics import RequestMetrics

router = APIRouter(include_in_schema=False)

# Waiting to be sent by a worker: what "the oldest due letter" is about.
_DUE = (DeliveryStatus.queued, DeliveryStatus.sending)


async def queue_registry(session: AsyncSession, *, now: datetime) -> CollectorRegistry:
    """The queue's and the inbox's figures now, in a registry of their own."""
    registry = CollectorRegistry(auto_describe=True)
    deliveries = Gauge(
        "appeals_deliveries",
        "Deliveries by status and channel",
        ["status", "channel"],
        registry=registry,
    )
    rows = await session.execute(
        select(Delivery.status, Delivery.channel, func.count()).group_by(
            Delivery.status, Delivery.channel
        )
    )
    for status, channel, count in rows:
        deliveries.labels(status.value, channel.value).set(count)
    oldest = Gauge(
        "appeals_oldest_due_seconds",
        "How long the oldest letter due now has been waiting, by channel",
        ["channel"],
        registry=registry,
    )
    due = await session.execute(
        select(Delivery.channel, func.min(Delivery.next_attempt_at))
        .where(Delivery.status.in_(_DUE), Delivery.next_attempt_at <= now)
        .group_by(Delivery.channel)
    )
    for channel, since in due:
        oldest.labels(channel.value).set(max(0.0, (now - since).total_seconds()))
    inbound = Gauge(
        "appeals_inbound_messages", "Inbound messages by result", ["status"], registry=registry
    )
    for result, count in await session.execute(
        select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
    ):
        inbound.labels(result.value).set(count)
    return registry


@router.get("/metrics")
async def metrics(request: Request, session: SessionDep, _user: CurrentStaff) -> Response:
    requests: RequestMetrics = request.app.state.request_metrics
    body = generate_latest(await queue_registry(session, now=utcnow()))
    body += generate_latest(requests.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
