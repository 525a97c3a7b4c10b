"""The dashboard's "CSV of deliveries" link, followed by a signed-in browser.

The link is the staff page's export (/staff/campaigns/{slug}/deliveries.csv, session cookie);
it must give the same file as the API's export (API token), which stays token-only.
"""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery import records
from app.staff import sessions
from app.staff.models import Role
from tests.factories import bearer
from tests.staff.data import SLUG, mailing
from tests.staff.signin import signed_in

_LINK = re.compile(r'<a href="([^"]+)">CSV of deliveries</a>')


async def _csv_link(client: httpx.AsyncClient) -> str:
    page = await client.get(f"/staff/campaigns/{SLUG}")
    assert page.status_code == 200, page.text[:300]
    found = _LINK.search(page.text)
    assert found, "the dashboard has no CSV link"
    return found.group(1)


class TestDashboardCsvLink:
    @pytest.mark.parametrize("role", list(Role))
    async def test_gives_every_role_that_sees_the_dashboard_the_apis_file(
        self, client: httpx.AsyncClient, session: AsyncSession, role: Role
    ) -> None:
        m = await mailing(client, session)
        api = await client.get(f"/api/v1/campaigns/{SLUG}/deliveries.csv", headers=bearer(m.token))
        assert api.status_code == 200
        await signed_in(client, session, role)
        link = await _csv_link(client)
        response = await client.get(link)
        assert response.status_code == 200, (link, response.status_code)
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == (
            f'attachment; filename="deliveries-{SLUG}.csv"'
        )
        assert response.text == api.text  # the same file, column for column
        table = list(csv.reader(io.StringIO(response.text)))
        assert tuple(table[0]) == records.CSV_HEADER
        assert sorted(int(row[0]) for row in table[1:]) == sorted((m.email, m.web_form, m.postal))

    async def test_sends_a_browser_without_a_session_to_sign_in(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session)
        await signed_in(client, session, Role.organiser)
        link = await _csv_link(client)
        client.cookies.clear()
        response = await client.get(link)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/login?next=")
        assert "text/csv" not in response.headers.get("content-type", "")

    async def test_sends_a_disabled_account_to_sign_in(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        # No staff role is kept off the dashboard; a disabled account is the one that may not.
        await mailing(client, session)
        user, _ = await signed_in(client, session, Role.campaigner)
        link = await _csv_link(client)
        user.active = False
        await session.commit()
        response = await client.get(link)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/login?next=")


class TestApiCsv:
    async def test_still_takes_a_token_and_refuses_a_session_cookie_or_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        path = f"/api/v1/campaigns/{SLUG}/deliveries.csv"
        with_token = await client.get(path, headers=bearer(m.token))
        assert with_token.status_code == 200
        assert with_token.headers["content-type"].startswith("text/csv")
        assert (await client.get(path)).status_code == 401
        await signed_in(client, session, Role.admin)
        assert client.cookies.get(sessions.SESSION_COOKIE)
        assert (await client.get(path)).status_code == 401  # the API is for tokens only
