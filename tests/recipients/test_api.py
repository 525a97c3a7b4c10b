from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import utcnow
from app.staff.models import Role
from tests.factories import bearer, make_staff


def _channel(office: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in office["channels"] if c["kind"] == kind)


async def _health(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get("/api/v1/directory/health", headers=bearer(token))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def _office(health: dict[str, Any], recipient_id: str) -> dict[str, Any]:
    return next(o for o in health["offices"] if o["recipient_id"] == recipient_id)


class TestListRecipients:
    async def test_lists_all_21_offices(self, client: httpx.AsyncClient) -> None:
        body = (await client.get("/api/v1/recipients", params={"limit": 200})).json()
        assert body["total"] == 21
        assert len(body["items"]) == 21

    async def test_filters_by_tag_country_and_channel(self, client: httpx.AsyncClient) -> None:
        async def ids(**params: str) -> set[str]:
            response = await client.get("/api/v1/recipients", params={**params, "limit": "200"})
            assert response.status_code == 200
            return {r["id"] for r in response.json()["items"]}

        assert await ids(tag="oecd") == {"oecd-secretary-general"}
        assert {"pace-president", "coe-secretary-general"} <= await ids(tag="coe")
        assert await ids(country="gb") == {"uk-prime-minister"}
        web_forms = await ids(channel="web_form")
        assert web_forms == {
            "us-secretary-of-state",
            "nato-pa-president",
            "us-house-of-representatives",
        }
        assert await ids(tag="eu", country="FR") == set()
        assert "france-prime-minister" in await ids(q="Édouard")

    async def test_an_obfuscated_email_is_shown_as_unusable(
        self, client: httpx.AsyncClient
    ) -> None:
        office = (await client.get("/api/v1/recipients/pace-president")).json()
        email = _channel(office, "email")
        assert email["value"] is None
        assert email["obfuscated"] is True
        assert email["as_printed"] == "[email protected]"
        assert email["usable"] is False
        assert "obfuscated" in email["problem"]

    async def test_unknown_office_and_bad_filter(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/recipients/nobody")).status_code == 404
        bad = await client.get("/api/v1/recipients", params={"channel": "pigeon"})
        assert bad.status_code == 422


class TestDirectoryHealth:
    async def test_tells_the_truth_about_the_reports_directory(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.organiser)
        health = await _health(client, token)
        assert health["reachable"] is False
        unreachable = {o["recipient_id"] for o in health["offices"] if o["status"] == "unreachable"}
        assert unreachable == {
            "pace-president",
            "osce-pa-president",
            "coe-secretary-general",
            "osce-pa-human-rights-committee-chair",
            "eusr-human-rights",
        }
        assert all(o["holder_stale"] for o in health["offices"])  # the report is from 2017
        state = _office(health, "us-secretary-of-state")
        assert any("web form only" in w for w in state["warnings"])

    async def test_needs_a_staff_token(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/directory/health")).status_code == 401


class TestFixingTheDirectory:
    async def test_verifying_an_email_address_makes_an_office_reachable(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        office = (await client.get("/api/v1/recipients/pace-president")).json()
        email = _channel(office, "email")
        response = await client.patch(
            f"/api/v1/recipients/pace-president/channels/{email['id']}",
            json={"address": "president@pace.example", "source": "phoned the PACE secretariat"},
            headers=bearer(token),
        )
        assert response.status_code == 200, response.text
        channel = response.json()
        assert channel["usable"] is True
        assert channel["obfuscated"] is False
        assert channel["verified_on"] == utcnow().date().isoformat()
        health = await _health(client, token)
        assert _office(health, "pace-president")["status"] != "unreachable"

    async def test_recording_a_new_holder_clears_the_stale_warning(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        before = _office(await _health(client, token), "oecd-secretary-general")
        assert before["holder_stale"] is True
        response = await client.patch(
            "/api/v1/recipients/oecd-secretary-general",
            json={"holder": "A. N. Other"},
            headers=bearer(token),
        )
        assert response.status_code == 200
        assert response.json()["holder_verified_on"] == utcnow().date().isoformat()
        after = _office(await _health(client, token), "oecd-secretary-general")
        assert after["holder_stale"] is False
        assert after["holder"] == "A. N. Other"

    async def test_adding_and_removing_a_channel(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session)
        added = await client.post(
            "/api/v1/recipients/eusr-human-rights/channels",
            json={
                "kind": "postal",
                "lines": ["Rue de la Loi 175", "1048 Brussels"],
                "country": "BE",
                "source": "letter returned with this address",
            },
            headers=bearer(token),
        )
        assert added.status_code == 201, added.text
        assert added.json()["usable"] is True
        removed = await client.delete(
            f"/api/v1/recipients/eusr-human-rights/channels/{added.json()['id']}",
            headers=bearer(token),
        )
        assert removed.status_code == 204
        office = (await client.get("/api/v1/recipients/eusr-human-rights")).json()
        assert all(c["kind"] != "postal" for c in office["channels"])

    async def test_a_disabled_channel_is_unusable_until_re_enabled(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session)
        office = (await client.get("/api/v1/recipients/uk-prime-minister")).json()
        postal = _channel(office, "postal")
        url = f"/api/v1/recipients/uk-prime-minister/channels/{postal['id']}"
        disabled = await client.patch(
            url, json={"disabled_reason": "returned to sender"}, headers=bearer(token)
        )
        assert disabled.json()["usable"] is False
        assert _office(await _health(client, token), "uk-prime-minister")["status"] == "unreachable"
        enabled = await client.patch(url, json={"disabled_reason": None}, headers=bearer(token))
        assert enabled.json()["usable"] is True

    async def test_invalid_corrections_are_422_and_change_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session)
        before = (await client.get("/api/v1/recipients/uk-prime-minister")).json()
        postal = _channel(before, "postal")
        cases = [
            ("patch", "/api/v1/recipients/uk-prime-minister", {"timezone": "Mars/Olympus"}),
            ("patch", "/api/v1/recipients/uk-prime-minister", {"country": "United Kingdom"}),
            ("patch", "/api/v1/recipients/uk-prime-minister", {"office": None}),
            (
                "patch",
                f"/api/v1/recipients/uk-prime-minister/channels/{postal['id']}",
                {"address": "pm@gov.example"},
            ),
            (
                "post",
                "/api/v1/recipients/uk-prime-minister/channels",
                {"kind": "email", "address": "not-an-address", "source": "x"},
            ),
            (
                "post",
                "/api/v1/recipients/uk-prime-minister/channels",
                {"kind": "fax", "source": "x"},
            ),
        ]
        for method, url, body in cases:
            response = await client.request(method, url, json=body, headers=bearer(token))
            assert response.status_code == 422, (url, body, response.text)
            assert response.json()["error"] == "ValidationError"
        missing = await client.patch(
            "/api/v1/recipients/uk-prime-minister/channels/999999",
            json={"label": "x"},
            headers=bearer(token),
        )
        assert missing.status_code == 404
        after = (await client.get("/api/v1/recipients/uk-prime-minister")).json()
        assert after == before

    async def test_organisers_read_but_may_not_edit(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.organiser)
        response = await client.patch(
            "/api/v1/recipients/uk-prime-minister", json={"notes": "x"}, headers=bearer(token)
        )
        assert response.status_code == 403
