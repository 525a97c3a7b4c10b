"""The directory staff pages: the health report, verifying a channel, editing an office."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient, RecipientChannel
from app.staff.models import Role
from tests.staff.signin import form_token, signed_in


class TestDirectoryPages:
    @pytest.mark.parametrize("role", list(Role))
    async def test_every_imported_office_page_opens(
        self, client: httpx.AsyncClient, session: AsyncSession, role: Role
    ) -> None:
        # Phones have no health row: an office with one used to answer 500.
        ids = (await session.scalars(select(Recipient.id).order_by(Recipient.id))).all()
        assert len(ids) >= 21  # the offices of the source report
        await signed_in(client, session, role)
        for recipient_id in ids:
            page = await client.get(f"/staff/directory/{recipient_id}")
            assert page.status_code == 200, recipient_id
            assert "<h2>Channels</h2>" in page.text

    async def test_a_phone_shows_why_it_carries_no_letter(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        phone = await session.scalar(
            select(RecipientChannel).where(RecipientChannel.kind == ChannelKind.phone).limit(1)
        )
        assert phone is not None
        await signed_in(client, session, Role.organiser)
        page = await client.get(f"/staff/directory/{phone.recipient_id}")
        assert "a phone number carries no letter" in page.text

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
