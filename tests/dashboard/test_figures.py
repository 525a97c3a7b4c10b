"""The dashboard's delivery figures reconcile with the deliveries table and the delivery log.

A mailing is driven through every delivery status (the channels' own transitions, as workers
and staff make them); the page must count each delivery once, under its status now.
"""

from __future__ import annotations

import re
from collections import Counter

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign
from app.dashboard import figures
from app.db import utcnow
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryStatus
from app.letters.models import Letter
from app.recipients.channels import ChannelKind
from app.signatures.models import Signature, SignatureStatus, Supporter
from app.staff.models import Role
from tests.factories import bearer, make_staff
from tests.staff.data import OFFICES, SLUG, mailing
from tests.staff.signin import signed_in

S = DeliveryStatus
# Each delivery of a channel, in turn, is taken along one of these paths from its first status.
PATHS: dict[ChannelKind, list[list[DeliveryStatus]]] = {
    ChannelKind.email: [
        [],
        [],
        [S.sending],
        [S.sending, S.sent],
        [S.sending, S.sent, S.delivered],
        [S.sending, S.sent, S.bounced],
        [S.sending, S.failed],
        [S.cancelled],  # a supporter withdrew
    ],
    ChannelKind.web_form: [[], [], [S.done], [S.skipped], [S.skipped], [], [S.done], []],
    ChannelKind.postal: [
        [],
        [S.printed],
        [S.printed, S.posted],
        [S.printed, S.posted, S.delivered],
        [S.printed, S.posted, S.returned],
        [S.sending],
        [S.cancelled],
        [S.cancelled],
    ],
}
SENDERS = len(PATHS[ChannelKind.email])


async def _campaign_id(session: AsyncSession, slug: str) -> int:
    campaign_id = await session.scalar(select(Campaign.id).where(Campaign.slug == slug))
    assert campaign_id is not None
    return campaign_id


async def _many_states(client: httpx.AsyncClient, session: AsyncSession) -> Counter[S]:
    """The staff test mailing with SENDERS senders, every delivery moved along PATHS."""
    m = await mailing(client, session, fail=False)
    for n in range(1, SENDERS):
        more = await client.post(
            f"/api/v1/campaigns/{SLUG}/letters",
            json={"name": f"Supporter {n}", "city": "Almaty"},
            headers=bearer(m.token),
        )
        assert more.status_code == 201, more.text
    await _other_campaign(client, session, m.token)
    campaign_id = await _campaign_id(session, SLUG)
    deliveries = await session.scalars(
        select(Delivery)
        .join(Letter, Letter.id == Delivery.letter_id)
        .where(Letter.campaign_id == campaign_id)
        .order_by(Delivery.id)
    )
    taken: dict[ChannelKind, int] = Counter()
    for delivery in deliveries:
        for to in PATHS[delivery.channel][taken[delivery.channel]]:
            delivery_service.transition(session, delivery, to, actor="test")
        taken[delivery.channel] += 1
    await session.commit()
    assert taken == dict.fromkeys(PATHS, SENDERS)
    return Counter(
        paths[-1] if paths else (S.open if channel is ChannelKind.web_form else S.queued)
        for channel, all_paths in PATHS.items()
        for paths in all_paths
    )


async def _other_campaign(client: httpx.AsyncClient, session: AsyncSession, token: str) -> None:
    """Letters of another campaign, which this one's figures must leave out."""
    created = await client.post(
        "/api/v1/campaigns",
        json={
            "slug": "other",
            "title": "Another appeal",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": list(OFFICES)},
            "template": "individual-appeal",
            "channel_preference": ["email", "web_form", "postal"],
        },
        headers=bearer(token),
    )
    assert created.status_code == 201, created.text
    letters = await client.post(
        "/api/v1/campaigns/other/letters", json={"name": "Someone Else"}, headers=bearer(token)
    )
    assert letters.status_code == 201, letters.text


async def _table_counts(session: AsyncSession) -> Counter[S]:
    """The deliveries table read directly, one delivery at a time."""
    campaign_id = await _campaign_id(session, SLUG)
    letters = select(Letter.id).where(Letter.campaign_id == campaign_id)
    return Counter(
        await session.scalars(select(Delivery.status).where(Delivery.letter_id.in_(letters)))
    )


def _log_total(html: str) -> int:
    found = re.search(r"<p role=\"status\">(\d+) deliveries", html)
    assert found, html[:500]
    return int(found.group(1))


class TestStateGroups:
    def test_hold_every_status_exactly_once(self) -> None:
        members = [s for _, group in figures.STATE_GROUPS for s in group]
        assert sorted(members) == sorted(DeliveryStatus)


class TestDeliveryStates:
    async def test_counts_each_delivery_once_under_its_status_and_adds_up(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        planned = await _many_states(client, session)
        assert set(planned) == set(DeliveryStatus)  # the mailing reaches every status
        campaign = await session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert campaign is not None
        funnel, _ = await figures.funnel_and_offices(session, campaign=campaign, now=utcnow())
        table = await _table_counts(session)
        assert table == planned
        assert funnel.states == dict(table)
        assert funnel.deliveries == sum(table.values()) == 3 * SENDERS
        groups = funnel.groups()
        assert sum(g.total for g in groups) == funnel.deliveries
        for group in groups:
            assert group.total == sum(n for _, n in group.states)
        by_name = {g.name: g.total for g in groups}
        assert by_name == {"waiting": 10, "gone_out": 8, "failed": 1, "stopped": 5}

    async def test_the_json_dashboard_gives_the_same_states(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _many_states(client, session)
        table = await _table_counts(session)
        _, token = await make_staff(session, Role.organiser)
        board = await client.get(f"/api/v1/campaigns/{SLUG}/dashboard", headers=bearer(token))
        assert board.status_code == 200, board.text
        funnel = board.json()["funnel"]
        assert funnel["states"] == {s.value: n for s, n in table.items()}
        assert funnel["deliveries"] == sum(table.values())
        assert "queued" not in funnel


class TestDashboardPage:
    async def test_shows_the_figures_the_table_and_the_delivery_log_give(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await _many_states(client, session)
        table = await _table_counts(session)
        await signed_in(client, session, Role.organiser)
        page = await client.get(f"/staff/campaigns/{SLUG}")
        assert page.status_code == 200
        html = page.text
        total = sum(table.values())
        log = await client.get(f"/staff/campaigns/{SLUG}/deliveries")
        assert _log_total(log.text) == total
        assert f'<span class="step">deliveries</span> <span class="n">{total}</span>' in html
        assert f'<th scope="row">All deliveries</th><td class="n">{total}</td>' in html
        # Not "queued": every delivery ever made, whatever became of it, was shown as that.
        assert '<span class="step">queued</span>' not in html
        for status in DeliveryStatus:
            listed = await client.get(
                f"/staff/campaigns/{SLUG}/deliveries", params={"status": status.value}
            )
            assert _log_total(listed.text) == table[status], status
            link = f'<a href="/staff/campaigns/{SLUG}/deliveries?status={status.value}">'
            shown = re.search(re.escape(link) + r'[^<]+</a></th><td class="n">(\d+)</td>', html)
            assert (int(shown.group(1)) if shown else 0) == table[status], status
        for name, count in (("waiting", 10), ("gone_out", 8), ("failed", 1), ("stopped", 5)):
            assert re.search(
                rf'<tr class="group group-{name}"><th scope="rowgroup">[^<]+</th>'
                rf'<td class="n">{count}</td>',
                html,
            ), name


class TestEveryStateIsShown:
    async def test_cancelled_skipped_and_withdrawn_are_on_the_page_at_zero_and_when_counted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session, fail=False)
        await signed_in(client, session, Role.organiser)
        html = (await client.get(f"/staff/campaigns/{SLUG}")).text
        for status in DeliveryStatus:  # every state of the mailing, none hidden at 0
            link = f'<a href="/staff/campaigns/{SLUG}/deliveries?status={status.value}">'
            assert link in html, status
        for step in ("withdrawn", "cancelled or skipped", "gone out", "failed"):
            assert re.search(rf'<span class="step">{step}</span> <span class="n">0</span>', html)

        campaign = await session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert campaign is not None
        await _withdrawn_signature(session, campaign)
        funnel, _ = await figures.funnel_and_offices(session, campaign=campaign, now=utcnow())
        assert funnel.withdrawn == 1
        html = (await client.get(f"/staff/campaigns/{SLUG}")).text
        assert '<span class="step">withdrawn</span> <span class="n">1</span>' in html


async def _withdrawn_signature(session: AsyncSession, campaign: Campaign) -> None:
    """A supporter who signed, confirmed and then took the signature back."""
    now = utcnow()
    supporter = Supporter(email="ada@example.org", email_key="w" * 64)
    session.add(supporter)
    await session.flush()
    session.add(
        Signature(
            campaign_id=campaign.id,
            supporter_id=supporter.id,
            status=SignatureStatus.withdrawn,
            name="Ada Withdrawn",
            source="api",
            consent_version="test",
            consent_text="test",
            consented_at=now,
            confirmed_at=now,
            expires_at=now,
            withdrawn_at=now,
        )
    )
    await session.flush()
