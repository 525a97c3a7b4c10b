"""The delivery staff pages: the log, a letter's page and its actions, tasks and batches."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.delivery import pages
from app.delivery.models import Delivery, DeliveryStatus, PrintBatch
from app.staff.models import Role
from tests.staff.data import SLUG, SUPPORTER, mailing
from tests.staff.signin import form_token, signed_in


async def _status(session: AsyncSession, delivery_id: int) -> DeliveryStatus:
    status = await session.scalar(select(Delivery.status).where(Delivery.id == delivery_id))
    assert status is not None
    return status


class TestDeliveryLog:
    async def test_filters_and_says_why_a_letter_failed(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.organiser)
        everything = await client.get(f"/staff/campaigns/{SLUG}/deliveries")
        assert "3 deliveries" in everything.text
        # A browser sends every field of the form; the empty ones mean "any".
        failed = await client.get(
            f"/staff/campaigns/{SLUG}/deliveries",
            params={"status": "failed", "channel": "", "office": "", "since": "", "until": ""},
        )
        assert failed.status_code == 200
        assert "1 deliveries match" in failed.text
        assert f'href="/staff/deliveries/{m.email}"' in failed.text
        assert "550" in failed.text and "user unknown" in failed.text
        by_office = await client.get(
            f"/staff/campaigns/{SLUG}/deliveries", params={"office": "uk-prime-minister"}
        )
        assert "1 deliveries match" in by_office.text
        future = await client.get(
            f"/staff/campaigns/{SLUG}/deliveries", params={"since": "2999-01-01"}
        )
        assert "0 deliveries match" in future.text
        bad = await client.get(f"/staff/campaigns/{SLUG}/deliveries", params={"status": "lost"})
        assert bad.status_code == 422

    async def test_pages_through_long_logs(
        self, client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.organiser)
        monkeypatch.setattr(pages, "PAGE_SIZE", 2)
        first = await client.get(f"/staff/campaigns/{SLUG}/deliveries")
        older = re.search(r'<a rel="next" href="\?([^"]+)"', first.text)
        assert older is not None and 'rel="prev"' not in first.text
        second = await client.get(f"/staff/campaigns/{SLUG}/deliveries?{html.unescape(older[1])}")
        assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
        ids = {m.email, m.web_form, m.postal}
        shown = [i for i in ids if f'href="/staff/deliveries/{i}"' in first.text]
        shown += [i for i in ids if f'href="/staff/deliveries/{i}"' in second.text]
        assert sorted(shown) == sorted(ids)
        # A link of the numbered pages the log had before its cursors still finds its page.
        numbered = await client.get(f"/staff/campaigns/{SLUG}/deliveries?page=2")
        assert [i for i in ids if f'href="/staff/deliveries/{i}"' in numbered.text] == [
            i for i in ids if f'href="/staff/deliveries/{i}"' in second.text
        ]


class TestLetterPage:
    async def test_shows_the_letter_and_its_timeline_and_retries(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.campaigner)
        page = await client.get(f"/staff/deliveries/{m.email}")
        assert page.status_code == 200
        assert SUPPORTER in page.text  # signed by, and in the letter
        assert "550 5.1.1 user unknown" in page.text
        assert ">Retry</button>" in page.text and ">Cancel</button>" not in page.text
        retried = await client.post(
            f"/staff/deliveries/{m.email}/action",
            data={"csrf_token": form_token(page.text), "to": "queued", "note": "address fixed"},
        )
        assert retried.status_code == 303
        assert await _status(session, m.email) is DeliveryStatus.queued
        again = await client.get(f"/staff/deliveries/{m.email}")
        assert "address fixed" in again.text  # in the timeline
        assert ">Cancel</button>" in again.text

    async def test_an_illegal_action_is_explained(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.campaigner)
        page = await client.get(f"/staff/deliveries/{m.web_form}")
        refused = await client.post(
            f"/staff/deliveries/{m.web_form}/action",
            data={"csrf_token": form_token(page.text), "to": "cancelled"},
        )
        assert refused.status_code == 409
        assert "cannot go from open to cancelled" in refused.text
        assert await _status(session, m.web_form) is DeliveryStatus.open


class TestWork:
    async def test_a_manual_task_is_done_from_the_task_list(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.campaigner)
        tasks = await client.get("/staff/tasks")
        assert "https://register.state.gov/contactus/contactusform" in tasks.text
        done = await client.post(
            f"/staff/deliveries/{m.web_form}/action",
            data={"csrf_token": form_token(tasks.text), "to": "done", "back": "/staff/tasks"},
        )
        assert done.headers["location"] == "/staff/tasks"
        assert await _status(session, m.web_form) is DeliveryStatus.done
        assert "Nothing to do by hand." in (await client.get("/staff/tasks")).text

    async def test_print_a_batch_then_mark_it_posted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.campaigner)
        page = await client.get("/staff/batches")
        assert "Make a print batch of 1" in page.text
        made = await client.post(
            f"/staff/campaigns/{SLUG}/batches", data={"csrf_token": form_token(page.text)}
        )
        assert made.status_code == 303
        assert await _status(session, m.postal) is DeliveryStatus.printed
        batch_id = await session.scalar(select(PrintBatch.id))
        pdf = await client.get(f"/staff/batches/{batch_id}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        page = await client.get("/staff/batches")
        assert "TEST, not to be posted" not in page.text  # a real campaign's batch
        posted = await client.post(
            f"/staff/batches/{batch_id}/posted", data={"csrf_token": form_token(page.text)}
        )
        assert posted.status_code == 303
        assert await _status(session, m.postal) is DeliveryStatus.posted

    async def test_a_batch_made_in_test_mode_is_marked_on_the_page(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session)
        campaign = await session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert campaign is not None
        campaign.test_mode, campaign.test_address = True, "staff@ngo.example"
        await session.commit()
        await signed_in(client, session, Role.campaigner)
        page = await client.get("/staff/batches")
        made = await client.post(
            f"/staff/campaigns/{SLUG}/batches", data={"csrf_token": form_token(page.text)}
        )
        assert made.status_code == 303
        assert "TEST, not to be posted" in (await client.get("/staff/batches")).text
