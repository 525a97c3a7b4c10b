from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.staff.models import Role
from tests.factories import bearer, make_staff

ALL_OFFICES = {"selectors": [{"tag": "international"}, {"tag": "national"}, {"tag": "us"}]}
UNREACHABLE = {
    "pace-president",
    "osce-pa-president",
    "coe-secretary-general",
    "osce-pa-human-rights-committee-chair",
    "eusr-human-rights",
}


@pytest.fixture
async def token(session: AsyncSession) -> str:
    _, token = await make_staff(session, Role.campaigner)
    return token


async def create(client: httpx.AsyncClient, token: str, **overrides: Any) -> httpx.Response:
    body = {
        "slug": "free-bokayev-ayan",
        "title": "Free Maks Bokayev and Talgat Ayan",
        "cases": ["bokayev-ayan"],
        "targets": ALL_OFFICES,
        "template": "individual-appeal",
        **overrides,
    }
    return await client.post("/api/v1/campaigns", json=body, headers=bearer(token))


class TestCreateCampaign:
    async def test_a_campaign_starts_as_a_draft(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        response = await create(client, token)
        assert response.status_code == 201, response.text
        campaign = response.json()
        assert campaign["status"] == "draft"
        assert campaign["allowed_transitions"] == ["closed", "open"]
        assert campaign["channel_preference"] == ["email", "postal", "web_form"]
        assert campaign["pacing"]["per_office_per_hour"] > 0

    async def test_bad_references_and_bodies_are_422(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        for overrides, reason in (
            ({"cases": ["nobody"]}, "unknown cases: nobody"),
            ({"targets": {"recipients": ["nowhere"]}}, "unknown offices: nowhere"),
            ({"template": "no-such-template"}, "no letter template"),
            ({"slug": "Not A Slug"}, "slug"),
            ({"targets": {"selectors": [{}]}}, "selector"),
            ({"pacing": {"office_hours_start": 18, "office_hours_end": 8}}, "office_hours"),
            ({"channel_preference": ["pigeon"]}, "channel_preference"),
        ):
            response = await create(client, token, **overrides)
            assert response.status_code == 422, overrides
            assert reason in response.json()["detail"], response.json()

    async def test_slugs_are_unique(self, client: httpx.AsyncClient, token: str) -> None:
        assert (await create(client, token)).status_code == 201
        again = await create(client, token)
        assert again.status_code == 409

    async def test_organisers_may_not_create(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, organiser = await make_staff(session, Role.organiser)
        assert (await create(client, organiser)).status_code == 403


class TestTargets:
    async def test_unreachable_offices_are_reported_before_launch(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token)
        response = await client.get(
            "/api/v1/campaigns/free-bokayev-ayan/targets", headers=bearer(token)
        )
        body = response.json()
        assert len(body["reachable"]) + len(body["unreachable"]) == 21
        assert {t["recipient_id"] for t in body["unreachable"]} == UNREACHABLE
        assert all("obfuscated" in t["reason"] for t in body["unreachable"])
        channels = {t["recipient_id"]: t["channel"] for t in body["reachable"]}
        assert channels["uk-prime-minister"] == "postal"
        assert channels["us-secretary-of-state"] == "web_form"

    async def test_selectors_exclusions_and_channel_overrides(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(
            client,
            token,
            targets={
                "selectors": [{"tag": "eu"}],
                "recipients": ["uk-prime-minister"],
                "exclude": ["eusr-human-rights"],
            },
            channel_overrides={"nato-pa-president": ["web_form"]},
            channel_preference=["postal"],
        )
        body = (
            await client.get("/api/v1/campaigns/free-bokayev-ayan/targets", headers=bearer(token))
        ).json()
        ids = {t["recipient_id"] for t in body["reachable"] + body["unreachable"]}
        assert "uk-prime-minister" in ids
        assert "eusr-human-rights" not in ids
        assert "european-commission-president" in ids
        assert "france-prime-minister" not in ids


class TestStatus:
    async def test_the_allowed_transitions_and_no_others(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token)
        url = "/api/v1/campaigns/free-bokayev-ayan"

        async def move(status: str) -> httpx.Response:
            return await client.patch(url, json={"status": status}, headers=bearer(token))

        assert (await move("paused")).status_code == 409  # draft cannot pause
        assert (await move("open")).json()["status"] == "open"
        edit = await client.patch(url, json={"title": "New title"}, headers=bearer(token))
        assert edit.status_code == 409  # an open campaign is paused before it is changed
        assert (await move("paused")).json()["status"] == "paused"
        assert (
            await client.patch(url, json={"title": "New title"}, headers=bearer(token))
        ).status_code == 200
        assert (await move("open")).status_code == 200
        closed = await move("closed")
        assert closed.json()["allowed_transitions"] == []
        reopened = await move("open")
        assert reopened.status_code == 409
        assert reopened.json()["error"] == "CampaignClosed"

    async def test_a_campaign_that_reaches_no_one_cannot_open(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        await create(client, token, targets={"recipients": sorted(UNREACHABLE)})
        response = await client.patch(
            "/api/v1/campaigns/free-bokayev-ayan", json={"status": "open"}, headers=bearer(token)
        )
        assert response.status_code == 409
        assert "no reachable target office" in response.json()["detail"]

    async def test_test_mode_needs_an_address(self, client: httpx.AsyncClient, token: str) -> None:
        await create(client, token, test_mode=True)
        response = await client.patch(
            "/api/v1/campaigns/free-bokayev-ayan", json={"status": "open"}, headers=bearer(token)
        )
        assert response.status_code == 409
        assert "test_address" in response.json()["detail"]
