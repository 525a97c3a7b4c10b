"""The staff accounts page: admins create accounts, change roles, disable; nobody else can."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.staff import sessions
from app.staff.models import Role, StaffUser
from tests.factories import bearer, make_staff
from tests.staff.signin import TIMEOUTS, form_token, signed_in


class TestStaffAccounts:
    async def test_an_admin_creates_an_account_whose_token_signs_in(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.admin)
        page = await client.get("/staff/people")
        assert page.status_code == 200
        created = await client.post(
            "/staff/people",
            data={
                "csrf_token": form_token(page.text),
                "email": "New.Organiser@Example.org",
                "role": "organiser",
            },
        )
        assert created.status_code == 201
        token = created.text.split("<p><code>")[1].split("</code>")[0]
        me = await client.get("/api/v1/me", headers=bearer(token))
        assert me.json()["email"] == "new.organiser@example.org"
        assert me.json()["role"] == "organiser"

    async def test_an_admin_changes_a_role_and_disables_an_account(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        other, _ = await make_staff(session, Role.organiser)
        key, _row = sessions.start(session, user=other, timeouts=TIMEOUTS)
        await session.commit()
        await signed_in(client, session, Role.admin)
        token = form_token((await client.get("/staff/people")).text)

        moved = await client.post(
            f"/staff/people/{other.id}/role", data={"csrf_token": token, "role": "campaigner"}
        )
        assert moved.status_code == 303
        disabled = await client.post(
            f"/staff/people/{other.id}/active", data={"csrf_token": token, "active": "false"}
        )
        assert disabled.status_code == 303
        other_id = other.id
        session.expire_all()
        account = await session.scalar(select(StaffUser).where(StaffUser.id == other_id))
        assert account is not None
        assert (account.role, account.active) == (Role.campaigner, False)
        # Their open session ended with the account.
        assert await sessions.find(session, key=key, timeouts=TIMEOUTS) is None

    async def test_an_admin_cannot_lock_themselves_out(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        me, _ = await signed_in(client, session, Role.admin)
        token = form_token((await client.get("/staff/people")).text)
        demoted = await client.post(
            f"/staff/people/{me.id}/role", data={"csrf_token": token, "role": "organiser"}
        )
        assert demoted.status_code == 409
        disabled = await client.post(
            f"/staff/people/{me.id}/active", data={"csrf_token": token, "active": "false"}
        )
        assert disabled.status_code == 409

    async def test_only_admins_see_it_and_every_form_needs_its_token(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, Role.campaigner)
        assert (await client.get("/staff/people")).status_code == 403
        client.cookies.clear()
        assert (await client.get("/staff/people", follow_redirects=False)).status_code == 303
        await signed_in(client, session, Role.admin)
        forged = await client.post(
            "/staff/people",
            data={"csrf_token": "forged", "email": "x@example.org", "role": "admin"},
        )
        assert forged.status_code == 403
