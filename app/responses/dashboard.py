"""The campaign dashboard with the officials' answers: the delivery figures plus, per office,
the last response and the response rate, and the funnel's last step (responded).

Responses sit above delivery, so they are added here to what `app.delivery.reports` counts;
auto-replies are not answers and count for nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.delivery import reports
from app.responses.models import Response, ResponseKind


async def dashboard(
    session: AsyncSession, *, campaign: Campaign, now: datetime
) -> reports.Dashboard:
    board = await reports.dashboard(session, campaign=campaign, now=now)
    answers = Response.kind != ResponseKind.auto_reply
    rows = await session.execute(
        select(
            Response.recipient_id,
            func.max(Response.received_at),
            func.count(func.distinct(Response.letter_id)),
        )
        .where(Response.campaign_id == campaign.id, answers)
        .group_by(Response.recipient_id)
    )
    per_office = {office: (last, int(letters)) for office, last, letters in rows}
    # The funnel counts letters: one answered (however often) is one responded.
    board.funnel.responded = sum(letters for _, letters in per_office.values())
    for row in board.offices:
        last, letters = per_office.get(row.recipient_id, (None, 0))
        row.last_response_at = last
        reached = row.sent + row.delivered
        row.response_rate = letters / reached if reached else None
    return board
