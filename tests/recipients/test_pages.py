"""The directory staff pages: the health report, verifying a channel, editing an office."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.recipients.files import ChannelKind
from app.recipients.models import Recipient, RecipientChannel
from app.staff.models import Role
from tests.staff.signin import form_token, signed_in


class TestDirectoryPages:
    async def test_the_report_lists_unreachable_offices_first(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.organiser)
        page = await client.get("/staff/directory")
        assert page.status_code == 200
        first = page.text.index("health-unreachable")
        assert first < page.text.index("health-warning")
        office = await client.get("/staff/directory/pace-president")
        assert "Verified today" not in office.text  # organisers read only

    async def test_verifying_an_obfuscated_email_makes_it_usable(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.campaigner)
        channel = await session.scalar(
            select(RecipientChannel).where(
                RecipientChannel.recipient_id == "pace-president",
                RecipientChannel.kind == ChannelKind.email,
            )
        )
        assert channel is not None and channel.obfuscated
        page = await client.get("/staff/directory/pace-president")
        url = f"/staff/directory/pace-president/channels/{channel.id}/verify"
        missing = await client.post(
            url, data={"csrf_token": form_token(page.text), "address": "president@pace.example"}
        )
        assert missing.status_code == 422
        assert "Say how you verified it" in missing.text
        done = await client.post(
            url,
            data={
                "csrf_token": form_token(page.text),
                "address": "president@pace.example",
                "source": "phoned the secretariat",
            },
        )
        assert done.status_code == 303
        await session.refresh(channel)
        assert (channel.value, channel.obfuscated) == ("president@pace.example", False)
        actions = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_id == "pace-president")
        )
        assert "recipient.channel.update" in actions.all()

    async def test_editing_the_holder(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.campaigner)
        recipient = await session.get(Recipient, "pace-president")
        assert recipient is not None
        page = await client.get("/staff/directory/pace-president")
        saved = await client.post(
            "/staff/directory/pace-president",
            data={
                "csrf_token": form_token(page.text),
                "holder": "Theodoros Rousopoulos",
                "salutation": recipient.salutation,
                "notes": recipient.notes or "",
            },
        )
        assert saved.status_code == 303
        await session.refresh(recipient)
        assert recipient.holder == "Theodoros Rousopoulos"
