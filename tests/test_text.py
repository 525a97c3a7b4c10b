"""Text at the API boundary: no control characters in one-line fields, nothing over its column.

A line break in a campaign title reached the Subject of every confirmation mail and stopped the
mail round; a web-form URL over 500 characters answered 500 on PostgreSQL. Both are refused
with 422 now, and a walk of the OpenAPI schema keeps every request string capped.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.staff.models import Role
from tests.factories import bearer, make_staff

BAD = {
    "crlf": "Free them\r\nBcc: everyone@example.org",
    "lf": "Free them\nnow",
    "unit separator": "Free\x1fthem",  # NUL itself: tests/test_nul.py
    "bidi": "Free \u202ethem",
    "line separator": "Free\u2028them",
    "tab": "Free\tthem",
}

CAMPAIGN = {
    "slug": "text-checks",
    "title": "Free them",
    "cases": ["bokayev-ayan"],
    "targets": {"recipients": ["pace-president"]},
    "template": "individual-appeal",
}


async def _token(session: AsyncSession) -> dict[str, str]:
    _, token = await make_staff(session, Role.campaigner)
    return bearer(token)


async def _channel_id(client: httpx.AsyncClient, kind: str) -> int:
    office = (await client.get("/api/v1/recipients/pace-president")).json()
    return int(next(c["id"] for c in office["channels"] if c["kind"] == kind))


@pytest.mark.parametrize("value", list(BAD.values()), ids=list(BAD))
class TestOneLineFields:
    async def test_a_campaign_title(
        self, client: httpx.AsyncClient, session: AsyncSession, value: str
    ) -> None:
        headers = await _token(session)
        created = await client.post(
            "/api/v1/campaigns", json={**CAMPAIGN, "title": value}, headers=headers
        )
        assert created.status_code == 422, created.text
        assert created.json()["fields"][0]["field"] == "title"
        good = await client.post("/api/v1/campaigns", json=CAMPAIGN, headers=headers)
        assert good.status_code == 201
        patched = await client.patch(
            "/api/v1/campaigns/text-checks", json={"title": value}, headers=headers
        )
        assert patched.status_code == 422

    @pytest.mark.parametrize("field", ["holder", "salutation", "office", "organisation"])
    async def test_an_office(
        self, client: httpx.AsyncClient, session: AsyncSession, value: str, field: str
    ) -> None:
        response = await client.patch(
            "/api/v1/recipients/pace-president",
            json={field: value},
            headers=await _token(session),
        )
        assert response.status_code == 422, response.text

    @pytest.mark.parametrize("field", ["label", "source"])
    async def test_a_channel(
        self, client: httpx.AsyncClient, session: AsyncSession, value: str, field: str
    ) -> None:
        channel = await _channel_id(client, "email")
        response = await client.patch(
            f"/api/v1/recipients/pace-president/channels/{channel}",
            json={field: value},
            headers=await _token(session),
        )
        assert response.status_code == 422, response.text

    async def test_a_case(
        self, client: httpx.AsyncClient, session: AsyncSession, value: str
    ) -> None:
        response = await client.patch(
            "/api/v1/cases/bokayev-ayan", json={"title": value}, headers=await _token(session)
        )
        assert response.status_code == 422, response.text


class TestParagraphs:
    async def test_keep_their_line_breaks(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _token(session)
        body = {**CAMPAIGN, "description": "First paragraph.\r\n\r\nSecond\tone."}
        created = await client.post("/api/v1/campaigns", json=body, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["description"] == "First paragraph.\n\nSecond\tone."

    async def test_refuse_other_controls(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        body = {**CAMPAIGN, "description": "First\x1b[31m red"}
        response = await client.post("/api/v1/campaigns", json=body, headers=await _token(session))
        assert response.status_code == 422


class TestColumnSizes:
    async def test_a_web_form_url_longer_than_its_column_is_a_422(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        url = "https://example.org/" + "a" * 600
        response = await client.post(
            "/api/v1/recipients/pace-president/channels",
            json={"kind": "web_form", "url": url, "source": "test"},
            headers=await _token(session),
        )
        assert response.status_code == 422, response.text
        fits = await client.post(
            "/api/v1/recipients/pace-president/channels",
            json={"kind": "web_form", "url": "https://example.org/" + "a" * 450, "source": "t"},
            headers=await _token(session),
        )
        assert fits.status_code == 201, fits.text

    async def test_a_url_that_normalising_makes_too_long_is_a_422(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        host = ".".join(["a" * 60] * 8)
        url = f"https://{host}.{'o' * (500 - len(host) - 9)}"
        assert len(url) == 500  # fits, until the parser adds the path's "/"
        response = await client.post(
            "/api/v1/recipients/pace-president/channels",
            json={"kind": "web_form", "url": url, "source": "test"},
            headers=await _token(session),
        )
        assert response.status_code == 422, response.text
        assert "longer than 500 characters" in response.json()["detail"]

    async def test_every_request_string_and_integer_is_capped(
        self, client: httpx.AsyncClient
    ) -> None:
        schema = (await client.get("/openapi.json")).json()
        components = schema["components"]["schemas"]
        bodies = {
            ref.rsplit("/", 1)[1]
            for path in schema["paths"].values()
            for operation in path.values()
            for content in operation.get("requestBody", {}).get("content", {}).values()
            for ref in _refs(content["schema"])
        }
        uncapped = []
        seen: set[str] = set()
        while bodies:
            name = bodies.pop()
            seen.add(name)
            for field, spec in components[name].get("properties", {}).items():
                for leaf in _leaves(spec):
                    if "$ref" in leaf:
                        ref = leaf["$ref"].rsplit("/", 1)[1]
                        if ref not in seen:
                            bodies.add(ref)
                    elif leaf.get("type") in ("string", "integer") and not _capped(leaf):
                        uncapped.append(f"{name}.{field}")
        assert sorted(uncapped) == [], "\n".join(sorted(uncapped))


def _refs(spec: dict[str, Any]) -> list[str]:
    return [leaf["$ref"] for leaf in _leaves(spec) if "$ref" in leaf]


def _leaves(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a property, with list items and map values opened up."""
    out = []
    for alternative in spec.get("anyOf", spec.get("oneOf", [spec])):
        if alternative.get("type") == "array":
            out += _leaves(alternative.get("items", {}))
        elif alternative.get("type") == "object" and "additionalProperties" in alternative:
            out += _leaves(alternative["additionalProperties"])
        else:
            out.append(alternative)
    return out


def _capped(leaf: dict[str, Any]) -> bool:
    if leaf.get("type") == "integer":  # a body's ids too: 2**63 is no id of ours
        return "maximum" in leaf or "exclusiveMaximum" in leaf or "enum" in leaf
    return "maxLength" in leaf or "enum" in leaf or "const" in leaf or leaf.get("format") == "date"
