"""Consent withdrawn is final: staff cannot retry or reopen a letter its supporter took back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import Delivery, DeliveryStatus
from app.staff.models import Role
from tests.factories import bearer
from tests.signatures.conftest import Outbox, letters_of, open_campaign, sign, the_signature
from tests.staff.signin import form_token, signed_in


async def take_back(
    client: httpx.AsyncClient, outbox: Outbox, session: AsyncSession, how: str
) -> int:
    """Sign, confirm, then withdraw or erase through the status page; the signature's id."""
    assert (await sign(client)).status_code == 202
    [mail] = await outbox.round()
    confirmed = await client.post(mail.link("confirm"))
    assert confirmed.status_code == 303
    signature_id = (await the_signature(session)).id
    data = {"really": "yes"} if how == "erase" else {}
    assert (await client.post(mail.link("s") + f"/{how}", data=data)).status_code == 303
    return signature_id


async def the_delivery(session: AsyncSession, signature_id: int, channel: str) -> Delivery:
    session.expire_all()
    letters = await letters_of(session, signature_id)
    delivery = await session.scalar(
        select(Delivery).where(
            Delivery.letter_id.in_([x.id for x in letters]), Delivery.channel == channel
        )
    )
    assert delivery is not None
    return delivery


@pytest.mark.parametrize("how", ["withdraw", "erase"])
class TestConsentIsFinal:
    async def test_a_cancelled_letter_cannot_be_retried(
        self,
        client: httpx.AsyncClient,
        campaign: dict[str, Any],
        outbox: Outbox,
        session: AsyncSession,
        staff_token: str,
        how: str,
    ) -> None:
        signature_id = await take_back(client, outbox, session, how)
        postal = await the_delivery(session, signature_id, "postal")
        assert postal.status is DeliveryStatus.cancelled

        refused = await client.post(
            f"/api/v1/deliveries/{postal.id}/actions",
            json={"to": "queued"},
            headers=bearer(staff_token),
        )
        assert refused.status_code == 409
        assert "consent withdrawn is final" in refused.json()["detail"]
        assert (
            await the_delivery(session, signature_id, "postal")
        ).status is DeliveryStatus.cancelled

    async def test_a_skipped_manual_task_offers_no_reopen_and_refuses_one(
        self,
        client: httpx.AsyncClient,
        outbox: Outbox,
        session: AsyncSession,
        staff_token: str,
        how: str,
    ) -> None:
        await open_campaign(
            client,
            staff_token,
            targets={"recipients": ["us-secretary-of-state"]},
            channel_preference=["web_form"],
        )
        signature_id = await take_back(client, outbox, session, how)
        task = await the_delivery(session, signature_id, "web_form")
        assert task.status is DeliveryStatus.skipped  # withdrawing skipped the open task

        await signed_in(client, session, Role.campaigner)
        page = await client.get(f"/staff/deliveries/{task.id}")
        assert page.status_code == 200
        assert "Not sent again" in page.text
        assert ">Reopen</button>" not in page.text
        refused = await client.post(
            f"/staff/deliveries/{task.id}/action",
            data={"csrf_token": form_token(page.text), "to": "open"},
        )
        assert refused.status_code == 409
        assert "consent withdrawn is final" in refused.text
        assert (
            await the_delivery(session, signature_id, "web_form")
        ).status is DeliveryStatus.skipped
        tasks = await client.get("/staff/tasks")
        assert f"/staff/deliveries/{task.id}" not in tasks.text


class TestConsentGiven:
    async def test_a_skipped_task_of_a_signing_supporter_can_be_reopened(
        self,
        client: httpx.AsyncClient,
        outbox: Outbox,
        session: AsyncSession,
        staff_token: str,
    ) -> None:
        await open_campaign(
            client,
            staff_token,
            targets={"recipients": ["us-secretary-of-state"]},
            channel_preference=["web_form"],
        )
        assert (await sign(client)).status_code == 202
        [mail] = await outbox.round()
        assert (await client.post(mail.link("confirm"))).status_code == 303
        task = await the_delivery(session, (await the_signature(session)).id, "web_form")
        headers = bearer(staff_token)
        url = f"/api/v1/deliveries/{task.id}/actions"
        assert (await client.post(url, json={"to": "skipped"}, headers=headers)).status_code == 200
        reopened = await client.post(url, json={"to": "open"}, headers=headers)
        assert reopened.status_code == 200, reopened.text
        assert reopened.json()["status"] == "open"
