"""Staff sign-in, sessions, CSRF and roles on the HTML staff area."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus
from app.db import utcnow
from app.staff import service as staff_service
from app.staff import sessions
from app.staff.models import Role
from tests.factories import make_staff
from tests.staff.data import SLUG, SUPPORTER, mailing
from tests.staff.signin import form_token, signed_in

PASSWORD = "correct horse battery staple"


async def _login(
    client: httpx.AsyncClient, email: str, password: str, *, next: str = "/staff"
) -> httpx.Response:
    page = await client.get("/staff/login")
    return await client.post(
        "/staff/login",
        data={
            "login_csrf": form_token(page.text),
            "email": email,
            "password": password,
            "next": next,
        },
    )


async def _with_password(session: AsyncSession, role: Role = Role.organiser) -> str:
    user, _ = await make_staff(session, role)
    await staff_service.set_password(session, user=user, password=PASSWORD, actor="test")
    await session.commit()
    return user.email


class TestPasswordSignIn:
    async def test_the_right_password_starts_a_session(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _with_password(session)
        response = await _login(client, email.upper(), PASSWORD, next="/staff/directory")
        assert response.status_code == 303
        assert response.headers["location"] == "/staff/directory"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        page = await client.get("/staff")
        assert page.status_code == 200
        assert email in page.text

    async def test_a_wrong_password_or_unknown_account_says_the_same(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _with_password(session)
        wrong = await _login(client, email, "not the password at all")
        unknown = await _login(client, "nobody@staff.invalid", PASSWORD)
        for response in (wrong, unknown):
            assert response.status_code == 401
            assert "Wrong e-mail address or password." in response.text
        assert (await client.get("/staff")).status_code == 303

    async def test_the_form_needs_its_csrf_token(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _with_password(session)
        await client.get("/staff/login")  # the cookie half, without the form half
        response = await client.post(
            "/staff/login", data={"email": email, "password": PASSWORD, "login_csrf": "forged"}
        )
        assert response.status_code == 403
        assert (await client.get("/staff")).status_code == 303

    async def test_api_tokens_still_sign_in(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.organiser)
        page = await client.get("/staff/login")
        response = await client.post(
            "/staff/login", data={"login_csrf": form_token(page.text), "token": token}
        )
        assert response.status_code == 303
        assert (await client.get("/staff")).status_code == 200

    async def test_next_never_leaves_the_staff_area(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _with_password(session)
        for target in ("//evil.example/staff", "https://evil.example", "/staff\\@evil"):
            client.cookies.clear()
            response = await _login(client, email, PASSWORD, next=target)
            assert response.headers["location"] == "/staff", target

    async def test_a_disabled_account_cannot_sign_in(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _with_password(session)
        user = await staff_service.get_user(session, email=email)
        await staff_service.set_active(session, user=user, active=False, actor="test")
        await session.commit()
        assert (await _login(client, email, PASSWORD)).status_code == 401


class TestSessions:
    async def _reason(self, session: AsyncSession, row: sessions.StaffSession) -> str | None:
        return await session.scalar(
            select(sessions.StaffSession.ended_reason).where(sessions.StaffSession.id == row.id)
        )

    async def test_logout_ends_the_session_for_good(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, row = await signed_in(client, session)
        cookie = client.cookies[sessions.SESSION_COOKIE]
        page = await client.get("/staff")
        out = await client.post("/staff/logout", data={"csrf_token": form_token(page.text)})
        assert out.status_code == 303
        client.cookies.set(sessions.SESSION_COOKIE, cookie)  # a copy of the old cookie
        again = await client.get("/staff")
        assert again.status_code == 303
        assert again.headers["location"].startswith("/staff/login")
        assert await self._reason(session, row) == "logout"

    async def test_logout_without_the_csrf_token_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session)
        assert (await client.post("/staff/logout", data={})).status_code == 403
        assert (await client.get("/staff")).status_code == 200

    async def test_an_idle_session_ends(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, row = await signed_in(client, session)
        row.last_seen_at = utcnow() - timedelta(minutes=61)  # the default idle limit is 60
        await session.commit()
        assert (await client.get("/staff")).status_code == 303
        assert await self._reason(session, row) == "idle"

    async def test_a_used_session_still_ends_at_its_absolute_limit(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, row = await signed_in(client, session)
        row.created_at = utcnow() - timedelta(hours=12, minutes=1)
        row.expires_at = utcnow() - timedelta(minutes=1)
        row.last_seen_at = utcnow()
        await session.commit()
        assert (await client.get("/staff")).status_code == 303
        assert await self._reason(session, row) == "expired"

    async def test_disabling_an_account_ends_its_sessions(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        user, row = await signed_in(client, session)
        assert (await client.get("/staff")).status_code == 200
        await staff_service.set_active(session, user=user, active=False, actor="test")
        await session.commit()
        assert (await client.get("/staff")).status_code == 303
        assert await self._reason(session, row) == "disabled"

    async def test_changing_the_password_ends_the_other_sessions(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        user, row = await signed_in(client, session)
        _, other = sessions.start(
            session, user=user, timeouts=sessions.Timeouts(timedelta(hours=1), timedelta(hours=2))
        )
        await session.commit()
        page = await client.get("/staff/account")
        changed = await client.post(
            "/staff/account/password",
            data={"csrf_token": form_token(page.text), "new": PASSWORD, "repeat": PASSWORD},
        )
        assert changed.status_code == 200
        assert "Password changed" in changed.text
        assert await self._reason(session, other) == "password"
        assert await self._reason(session, row) is None
        client.cookies.clear()
        assert (await _login(client, user.email, PASSWORD)).status_code == 303


STAFF_PAGES = (
    "/staff",
    "/staff/account",
    f"/staff/campaigns/{SLUG}",
    f"/staff/campaigns/{SLUG}/deliveries",
    f"/staff/campaigns/{SLUG}/deliveries.csv",
    f"/staff/campaigns/{SLUG}/status/pause",
    f"/staff/campaigns/{SLUG}/preview",
    "/staff/tasks",
    "/staff/batches",
    "/staff/directory",
    "/staff/directory/pace-president",
    "/staff/audit",
)


class TestRoles:
    async def test_nobody_unauthenticated_sees_a_page_or_a_supporter(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        client.cookies.clear()
        paths = (
            *STAFF_PAGES,
            f"/staff/deliveries/{m.email}",
            f"/api/v1/campaigns/{SLUG}/dashboard",
            f"/api/v1/campaigns/{SLUG}/deliveries.csv",
            f"/api/v1/campaigns/{SLUG}/deliveries",
            f"/api/v1/deliveries/{m.email}",
        )
        for path in paths:
            response = await client.get(path)
            assert SUPPORTER not in response.text, path
            if path.startswith("/staff"):
                assert response.status_code == 303, path
                assert response.headers["location"].startswith("/staff/login?next="), path
            else:
                assert response.status_code == 401, path

    async def test_every_page_opens_for_a_campaigner(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await mailing(client, session)
        await signed_in(client, session, Role.admin)
        for path in STAFF_PAGES:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text[:300])

    async def test_an_organiser_reads_but_cannot_launch_pause_or_act(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.organiser)
        dashboard = await client.get(f"/staff/campaigns/{SLUG}")
        assert dashboard.status_code == 200
        assert "Launch…" not in dashboard.text
        token = form_token(dashboard.text)
        confirm = await client.get(f"/staff/campaigns/{SLUG}/status/launch")
        assert confirm.status_code == 403
        assert "Not allowed" in confirm.text
        for path, data in (
            (f"/staff/campaigns/{SLUG}/status/launch", {}),
            (f"/staff/deliveries/{m.email}/action", {"to": "queued"}),
            (f"/staff/campaigns/{SLUG}/batches", {}),
            ("/staff/offices/pace-president/retarget", {}),
            ("/staff/directory/pace-president", {"salutation": "Hi"}),
        ):
            refused = await client.post(path, data={"csrf_token": token, **data})
            assert refused.status_code == 403, path
        campaign = await session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert campaign is not None
        await session.refresh(campaign)
        assert campaign.status is CampaignStatus.draft
        assert (await client.get("/staff/audit")).status_code == 403

    async def test_only_admins_see_the_audit_log(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.campaigner)
        assert (await client.get("/staff/audit")).status_code == 403
        client.cookies.clear()
        await signed_in(client, session, Role.admin)
        page = await client.get("/staff/audit")
        assert page.status_code == 200
        assert "staff.create" in page.text


class TestCsrf:
    @pytest.mark.parametrize("token", [None, "forged"])
    async def test_state_changes_without_the_session_token_are_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, token: str | None
    ) -> None:
        m = await mailing(client, session)
        await signed_in(client, session, Role.admin)
        data = {} if token is None else {"csrf_token": token}
        for path, extra in (
            (f"/staff/campaigns/{SLUG}/status/close", {}),
            (f"/staff/deliveries/{m.email}/action", {"to": "queued"}),
            ("/staff/account/password", {"new": PASSWORD, "repeat": PASSWORD}),
        ):
            response = await client.post(path, data={**data, **extra})
            assert response.status_code == 403, path
            assert "expired" in response.text
        campaign = await session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert campaign is not None
        await session.refresh(campaign)
        assert campaign.status is CampaignStatus.draft
