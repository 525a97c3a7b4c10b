"""The campaign staff pages: the dashboard, and launching / pausing with a confirmation step."""

from __future__ import annotations

import csv
import io
import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignEvent, CampaignStatus
from app.staff.models import Role
from tests.factories import bearer, make_staff
from tests.staff.data import SLUG, SUPPORTER, mailing
from tests.staff.signin import form_token, signed_in


async def _status(session: AsyncSession) -> CampaignStatus:
    status = await session.scalar(select(Campaign.status).where(Campaign.slug == SLUG))
    assert status is not None
    return status


class TestDashboard:
    async def test_counts_the_funnel_and_each_office(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session)
        await signed_in(client, session, Role.organiser)
        page = await client.get(f"/staff/campaigns/{SLUG}")
        assert page.status_code == 200
        html = page.text
        assert '<svg class="plot" role="img"' in html and "<polyline" in html  # drawn here
        assert html.count('<figure class="chart"') == 2  # small multiples, four series each
        assert "<script" not in html
        for step, count in (("letters", 3), ("deliveries", 3)):
            assert f'<span class="step">{step}</span> <span class="n">{count}</span>' in html
        assert (
            '<tr class="group group-failed"><th scope="rowgroup">Failed</th><td class="n">1</td>'
            in html
        )
        assert f"/staff/campaigns/{SLUG}/deliveries?office=pace-president&amp;status=failed" in html
        assert "Launch…" not in html  # an organiser is not offered what it may not do

    async def test_the_json_route_gives_the_same_numbers(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        _, organiser = await make_staff(session, Role.organiser)
        response = await client.get(
            f"/api/v1/campaigns/{SLUG}/dashboard", headers=bearer(organiser)
        )
        assert response.status_code == 200
        body = response.json()
        funnel = body["funnel"]
        assert (funnel["letters"], funnel["deliveries"], funnel["failed"], funnel["sent"]) == (
            3,
            3,
            1,
            0,
        )
        assert funnel["responded"] == 0  # no answer recorded yet
        offices = {o["recipient_id"]: o for o in body["offices"]}
        assert offices["pace-president"]["failed"] == 1
        assert offices["pace-president"]["channels"] == ["email"]
        assert offices["us-secretary-of-state"]["waiting"] == 1  # a manual task
        assert offices["uk-prime-minister"]["waiting"] == 1  # post to print
        assert offices["uk-prime-minister"]["next_send_at"] is None  # post waits for people
        assert body["timeline"]["series"]["failed"][-1] == 1  # failed today
        assert body["timeline"]["series"]["letters"][-1] == 3
        assert len(body["timeline"]["days"]) == 1  # the campaign's life: made today
        assert m.email  # the failed one

    async def test_the_next_send_time_is_shown_for_paced_email(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session, fail=False)
        _, organiser = await make_staff(session, Role.organiser)
        body = (
            await client.get(f"/api/v1/campaigns/{SLUG}/dashboard", headers=bearer(organiser))
        ).json()
        offices = {o["recipient_id"]: o for o in body["offices"]}
        assert offices["pace-president"]["next_send_at"] is not None
        assert offices["pace-president"]["drains_by"] is not None
        assert offices["uk-prime-minister"]["drains_by"] is None

    async def test_the_csv_export_is_formula_safe_and_filtered(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        await mailing(client, session)
        # A supporter whose name would run as a formula in a spreadsheet.
        letters = await client.post(
            f"/api/v1/campaigns/{SLUG}/letters",
            json={"name": '=HYPERLINK("http://x")'},
            headers=bearer(token),
        )
        assert letters.status_code == 201
        response = await client.get(
            f"/api/v1/campaigns/{SLUG}/deliveries.csv", headers=bearer(token)
        )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 6
        names = {r["sender_name"] for r in rows}
        assert names == {SUPPORTER, '\'=HYPERLINK("http://x")'}
        failed = await client.get(
            f"/api/v1/campaigns/{SLUG}/deliveries.csv?status=failed", headers=bearer(token)
        )
        [row] = list(csv.DictReader(io.StringIO(failed.text)))
        assert (row["office_id"], row["last_error_code"]) == ("pace-president", "550")
        # The staff page's export is the same file, for a signed-in browser.
        await signed_in(client, session, Role.organiser)
        page_csv = await client.get(f"/staff/campaigns/{SLUG}/deliveries.csv?status=failed")
        assert page_csv.text == failed.text


class TestStatusChange:
    async def test_launch_shows_what_will_happen_then_launches(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session, fail=False)
        await signed_in(client, session, Role.campaigner)
        confirm = await client.get(f"/staff/campaigns/{SLUG}/status/launch")
        assert confirm.status_code == 200
        html = confirm.text
        assert "What will happen" in html
        assert "Letters waiting in the queue now: <strong>3</strong>" in html
        for channel in ("e-mail", "web form", "post"):  # in words, not web_form
            assert f"<strong>{channel}</strong>" in html
        pace = re.search(r"at most (\d+) (letters?) an hour", html)
        assert pace is not None
        assert pace[2] == ("letter" if pace[1] == "1" else "letters")  # "1 letters" no more
        assert await _status(session) is CampaignStatus.draft  # nothing happened yet
        done = await client.post(
            f"/staff/campaigns/{SLUG}/status/launch",
            data={"csrf_token": form_token(html), "note": "going live"},
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"/staff/campaigns/{SLUG}?done=launch"
        assert await _status(session) is CampaignStatus.open
        notes = await session.scalars(select(CampaignEvent.note).order_by(CampaignEvent.id))
        assert notes.all()[-1] == "going live"

    async def test_pause_then_resume(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session, fail=False)
        await signed_in(client, session, Role.campaigner)
        for action, expected in (
            ("launch", CampaignStatus.open),
            ("pause", CampaignStatus.paused),
            ("resume", CampaignStatus.open),
        ):
            confirm = await client.get(f"/staff/campaigns/{SLUG}/status/{action}")
            assert confirm.status_code == 200, action
            done = await client.post(
                f"/staff/campaigns/{SLUG}/status/{action}",
                data={"csrf_token": form_token(confirm.text)},
            )
            assert done.status_code == 303, action
            assert await _status(session) is expected

    async def test_an_impossible_change_is_explained_not_done(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session, fail=False)
        await signed_in(client, session, Role.campaigner)
        confirm = await client.get(f"/staff/campaigns/{SLUG}/status/pause")
        assert "A draft campaign cannot pause." in confirm.text
        refused = await client.post(
            f"/staff/campaigns/{SLUG}/status/pause",
            data={"csrf_token": form_token(confirm.text)},
        )
        assert refused.status_code == 409
        assert "cannot become paused" in refused.text
        assert await _status(session) is CampaignStatus.draft
