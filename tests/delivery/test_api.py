from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.staff.models import Role
from tests.factories import bearer, make_staff


async def _campaign_with_letters(client: httpx.AsyncClient, token: str) -> list[dict[str, object]]:
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "slug": "tasks",
            "title": "Free Igor Sychev",
            "cases": ["sychev"],
            "targets": {"recipients": ["us-secretary-of-state", "uk-prime-minister"]},
            "template": "individual-appeal",
        },
        headers=bearer(token),
    )
    assert created.status_code == 201
    letters = await client.post(
        "/api/v1/campaigns/tasks/letters", json={"name": "Ada Lovelace"}, headers=bearer(token)
    )
    assert letters.status_code == 201
    deliveries = await client.get("/api/v1/campaigns/tasks/deliveries", headers=bearer(token))
    body: list[dict[str, object]] = deliveries.json()
    return body


class TestDeliveries:
    async def test_each_letter_is_queued_on_its_channel(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        deliveries = await _campaign_with_letters(client, token)
        by_office = {d["recipient_id"]: d for d in deliveries}
        assert by_office["us-secretary-of-state"]["channel"] == "web_form"
        assert by_office["us-secretary-of-state"]["status"] == "open"  # a task for a person
        assert (
            by_office["us-secretary-of-state"]["address"]
            == "https://register.state.gov/contactus/contactusform"
        )
        assert by_office["uk-prime-minister"]["channel"] == "postal"
        assert by_office["uk-prime-minister"]["status"] == "queued"

    async def test_the_list_filters_like_the_log_dates_included(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        await _campaign_with_letters(client, token)
        url = "/api/v1/campaigns/tasks/deliveries"
        today = utcnow().date()
        tomorrow = (today + timedelta(days=1)).isoformat()
        posted = (await client.get(f"{url}?channel=postal", headers=bearer(token))).json()
        assert [d["recipient_id"] for d in posted] == ["uk-prime-minister"]
        since_today = await client.get(f"{url}?since={today.isoformat()}", headers=bearer(token))
        assert len(since_today.json()) == 2
        later = await client.get(f"{url}?since={tomorrow}", headers=bearer(token))
        assert later.json() == []

    async def test_staff_close_a_manual_task_and_illegal_moves_are_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        deliveries = await _campaign_with_letters(client, token)
        task = next(d for d in deliveries if d["channel"] == "web_form")
        url = f"/api/v1/deliveries/{task['id']}/actions"
        sent = await client.post(url, json={"to": "sent"}, headers=bearer(token))
        assert sent.status_code == 409  # only a worker sends
        cancelled = await client.post(url, json={"to": "cancelled"}, headers=bearer(token))
        assert cancelled.status_code == 409  # not a state of a manual task
        done = await client.post(
            url, json={"to": "done", "note": "submitted the form"}, headers=bearer(token)
        )
        assert done.status_code == 200
        body = done.json()
        assert body["status"] == "done"
        assert [(e["to_status"], e["detail"]) for e in body["events"]][-1] == (
            "done",
            "submitted the form",
        )
        again = await client.post(url, json={"to": "skipped"}, headers=bearer(token))
        assert again.status_code == 409

    async def test_organisers_may_read_but_not_act(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        _, organiser = await make_staff(session, Role.organiser)
        deliveries = await _campaign_with_letters(client, token)
        detail = await client.get(
            f"/api/v1/deliveries/{deliveries[0]['id']}", headers=bearer(organiser)
        )
        assert detail.status_code == 200
        acted = await client.post(
            f"/api/v1/deliveries/{deliveries[0]['id']}/actions",
            json={"to": "cancelled"},
            headers=bearer(organiser),
        )
        assert acted.status_code == 403
        assert (
            await client.get("/api/v1/deliveries/999999", headers=bearer(token))
        ).status_code == 404
