"""The delivery log and its exports: each delivery's campaign, cursor pages, the API list, the CSV.

Every page walk must give each of the campaign's deliveries exactly once, also when many share
one status_changed_at (the letters of one sender are queued at the same instant).
"""

from __future__ import annotations

import csv
import html
import io
import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.delivery import pages, records
from app.delivery.models import Delivery
from app.letters.models import Letter
from app.staff.models import Role
from tests.factories import bearer
from tests.staff.data import SLUG, Mailing, mailing
from tests.staff.signin import signed_in

SENDERS = 4  # besides the mailing's own: each writes to its three offices


async def _more_letters(client: httpx.AsyncClient, m: Mailing) -> None:
    for i in range(SENDERS):
        letters = await client.post(
            f"/api/v1/campaigns/{SLUG}/letters",
            json={"name": f"Supporter {i}", "city": "Oslo"},
            headers=bearer(m.token),
        )
        assert letters.status_code == 201, letters.text


async def _campaign(session: AsyncSession) -> Campaign:
    return (await session.scalars(select(Campaign).where(Campaign.slug == SLUG))).one()


async def _all_ids(session: AsyncSession, campaign: Campaign) -> list[int]:
    ids = await session.scalars(
        select(Delivery.id)
        .join(Letter, Letter.id == Delivery.letter_id)
        .where(Letter.campaign_id == campaign.id)
    )
    return sorted(ids)


class TestCampaignOfADelivery:
    async def test_every_new_delivery_carries_its_letters_campaign(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await _more_letters(client, m)
        rows = (
            await session.execute(
                select(Delivery.campaign_id, Letter.campaign_id).join(
                    Letter, Letter.id == Delivery.letter_id
                )
            )
        ).all()
        assert len(rows) == 3 * (SENDERS + 1)
        assert all(delivery == letter for delivery, letter in rows)


class TestDeliveryLog:
    async def test_older_pages_give_every_delivery_once_and_newer_pages_go_back(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await _more_letters(client, m)
        campaign = await _campaign(session)
        every = records.LogFilter()
        newest = await records.delivery_log(session, campaign=campaign, filters=every, limit=4)
        assert newest.newer is None and newest.total == 3 * (SENDERS + 1)
        walked = [newest]
        while walked[-1].older is not None:
            walked.append(
                await records.delivery_log(
                    session, campaign=campaign, filters=every, limit=4, before=walked[-1].older
                )
            )
        seen = [row.delivery.id for page in walked for row in page.rows]
        assert sorted(seen) == await _all_ids(session, campaign)
        assert len(seen) == len(set(seen))
        places = [(r.delivery.status_changed_at, r.delivery.id) for p in walked for r in p.rows]
        assert places == sorted(places, reverse=True)  # last changed first, then highest id
        # Back from the oldest page, each newer page is the one walked before it.
        page = walked[-1]
        for expected in reversed(walked[:-1]):
            assert page.newer is not None
            page = await records.delivery_log(
                session, campaign=campaign, filters=every, limit=4, after=page.newer
            )
            assert [r.delivery.id for r in page.rows] == [r.delivery.id for r in expected.rows]
        assert page.newer is None

    async def test_the_count_stops_at_its_limit(
        self, client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        m = await mailing(client, session)
        await _more_letters(client, m)
        monkeypatch.setattr(records, "COUNT_LIMIT", 5)
        page = await records.delivery_log(
            session, campaign=await _campaign(session), filters=records.LogFilter(), limit=2
        )
        assert (page.total, page.more) == (5, True)
        await signed_in(client, session, Role.organiser)
        html = (await client.get(f"/staff/campaigns/{SLUG}/deliveries")).text
        assert "More than 5 deliveries" in html

    async def test_the_staff_pages_older_links_reach_every_delivery_once(
        self, client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        m = await mailing(client, session)
        await _more_letters(client, m)
        await signed_in(client, session, Role.organiser)
        monkeypatch.setattr(pages, "PAGE_SIZE", 4)
        link: str | None = f"/staff/campaigns/{SLUG}/deliveries?channel=&status="
        seen: list[int] = []
        while link is not None:
            page = await client.get(link)
            assert page.status_code == 200, page.text[:300]
            seen += [int(i) for i in re.findall(r'href="/staff/deliveries/(\d+)"', page.text)]
            older = re.search(r'<a rel="next" href="\?([^"]+)"', page.text)
            link = (
                f"/staff/campaigns/{SLUG}/deliveries?{html.unescape(older[1])}" if older else None
            )
        assert sorted(seen) == await _all_ids(session, await _campaign(session))
        assert len(seen) == len(set(seen))

    async def test_a_cursor_that_is_not_one_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.organiser)
        for cursor in ("x_1", f"0_{2**31}", f"{10**30}_1", f"0_{2**70}"):
            page = await client.get(
                f"/staff/campaigns/{SLUG}/deliveries", params={"before": cursor}
            )
            assert page.status_code == 422, cursor
        listed = await client.get(
            f"/api/v1/campaigns/{SLUG}/deliveries",
            params={"after": str(2**31)},
            headers=bearer(m.token),
        )
        assert listed.status_code == 422


class TestDeliveryList:
    async def test_the_next_links_give_every_delivery_once_and_offset_still_works(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await _more_letters(client, m)
        url: str | None = f"/api/v1/campaigns/{SLUG}/deliveries?limit=4"
        pages_seen: list[list[int]] = []
        while url is not None:
            response = await client.get(url, headers=bearer(m.token))
            assert response.status_code == 200, response.text
            pages_seen.append([d["id"] for d in response.json()])
            url = response.links.get("next", {}).get("url")
        seen = [i for page in pages_seen for i in page]
        assert seen == await _all_ids(session, await _campaign(session))
        by_offset = await client.get(
            f"/api/v1/campaigns/{SLUG}/deliveries",
            params={"limit": 4, "offset": 4},
            headers=bearer(m.token),
        )
        assert [d["id"] for d in by_offset.json()] == pages_seen[1]

    async def test_after_and_filters_go_together(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await _more_letters(client, m)
        response = await client.get(
            f"/api/v1/campaigns/{SLUG}/deliveries",
            params={"channel": "postal", "after": m.postal},
            headers=bearer(m.token),
        )
        listed = response.json()
        assert len(listed) == SENDERS
        assert all(d["channel"] == "postal" and d["id"] > m.postal for d in listed)


class TestDeliveriesCsv:
    async def test_has_every_delivery_of_the_campaign_once(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await _more_letters(client, m)
        response = await client.get(
            f"/api/v1/campaigns/{SLUG}/deliveries.csv", headers=bearer(m.token)
        )
        assert response.status_code == 200
        table = list(csv.reader(io.StringIO(response.text)))
        assert tuple(table[0]) == records.CSV_HEADER
        ids = [int(row[0]) for row in table[1:]]
        assert sorted(ids) == await _all_ids(session, await _campaign(session))
        assert len(ids) == len(set(ids))
