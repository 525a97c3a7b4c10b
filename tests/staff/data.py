"""A campaign with letters on all three channels, for the staff page tests.

PACE's e-mail address is verified (so its letter goes by e-mail), the US Secretary of State has
only a web form (a manual task) and the UK Prime Minister only a postal address. One e-mail
delivery is then failed by hand with an SMTP 550, as a worker would record it.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryStatus
from app.recipients.channels import ChannelKind
from app.staff.models import Role
from tests.factories import bearer, make_staff

SLUG = "watch"
OFFICES = ("pace-president", "us-secretary-of-state", "uk-prime-minister")
SUPPORTER = "Zhanar Secret-Supporter"


@dataclass(frozen=True, slots=True)
class Mailing:
    token: str
    email: int  # delivery ids
    web_form: int
    postal: int


async def mailing(
    client: httpx.AsyncClient, session: AsyncSession, *, fail: bool = True
) -> Mailing:
    _, token = await make_staff(session, Role.campaigner)
    office = (await client.get("/api/v1/recipients/pace-president")).json()
    channel = next(c for c in office["channels"] if c["kind"] == "email")
    verified = await client.patch(
        f"/api/v1/recipients/pace-president/channels/{channel['id']}",
        json={"address": "president@pace.example", "source": "test"},
        headers=bearer(token),
    )
    assert verified.status_code == 200, verified.text
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "slug": SLUG,
            "title": "Free Maks Bokayev and Talgat Ayan",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": list(OFFICES)},
            "template": "individual-appeal",
            "channel_preference": ["email", "web_form", "postal"],
        },
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    letters = await client.post(
        f"/api/v1/campaigns/{SLUG}/letters",
        json={"name": SUPPORTER, "city": "Almaty"},
        headers=bearer(token),
    )
    assert letters.status_code == 201, letters.text
    rows = {
        d.channel: d
        for d in await session.scalars(select(Delivery).where(Delivery.recipient_id.in_(OFFICES)))
    }
    email = rows[ChannelKind.email]
    if fail:
        delivery_service.transition(session, email, DeliveryStatus.sending, actor="worker")
        delivery_service.transition(
            session,
            email,
            DeliveryStatus.failed,
            actor="worker",
            code=550,
            detail="550 5.1.1 user unknown",
        )
        email.last_error_code, email.last_error = 550, "550 5.1.1 user unknown"
        await session.commit()
    return Mailing(token, email.id, rows[ChannelKind.web_form].id, rows[ChannelKind.postal].id)
