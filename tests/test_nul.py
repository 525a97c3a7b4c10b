"""A NUL character (U+0000) is refused with 422 wherever it could reach a text column.

PostgreSQL cannot store NUL in text: before this, `?entity_id=%00` or a JSON field holding
`\\u0000` answered 500 (found by fuzzing). Both engines refuse it the same way now.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.staff.models import Role
from tests.factories import bearer, make_staff
from tests.staff.signin import form_token, signed_in


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/audit?entity_id=a%00b",
        "/api/v1/cases?q=%00",
        "/api/v1/recipients?q=x%00",
        "/api/v1/cases/sychev%00",
    ],
)
async def test_a_nul_in_the_url_is_a_422(
    client: httpx.AsyncClient, session: AsyncSession, url: str
) -> None:
    _, token = await make_staff(session, Role.admin)
    response = await client.get(url, headers=bearer(token))
    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("escape", ["\\u0000", "\\U0000"])
async def test_a_nul_in_a_json_body_is_a_422(
    client: httpx.AsyncClient, session: AsyncSession, escape: str
) -> None:
    _, token = await make_staff(session, Role.campaigner)
    body = (
        '{"campaign": "x", "office": "pace-president", "received_on": "2026-12-01", '
        f'"text": "a{escape}b"}}'
    )
    response = await client.post(
        "/api/v1/responses",
        content=body,
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["fields"] == [
        {"field": "body", "message": "must not contain NUL characters (U+0000)"}
    ]


async def test_a_nul_in_a_staff_form_is_a_422_page(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await signed_in(client, session, Role.campaigner)
    page = await client.get("/staff/directory/pace-president")
    response = await client.post(
        "/staff/directory/pace-president",
        content=f"csrf_token={form_token(page.text)}&holder=A%00B&salutation=Sir",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert "NUL" in response.text


async def test_other_requests_pass_untouched(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, token = await make_staff(session, Role.campaigner)
    notes = "Appeal heard: 100% attendance, room %00 (as written in JSON, not a NUL)."
    response = await client.patch(
        "/api/v1/cases/sychev", json={"notes": notes}, headers=bearer(token)
    )
    assert response.status_code == 200, response.text
    assert response.json()["notes"] == notes
