import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.staff import service as staff_service
from app.staff.models import ApiToken, Role
from tests.factories import bearer, make_staff


class TestTokens:
    async def test_only_a_hash_of_the_token_is_stored(self, session: AsyncSession) -> None:
        user, token = await make_staff(session, Role.admin)
        assert token.startswith("apl_") and len(token) > 40
        stored = (await session.scalars(select(ApiToken).where(ApiToken.user_id == user.id))).all()
        assert [t.token_hash for t in stored] == [staff_service.hash_token(token)]
        assert token not in {t.token_hash for t in stored}

    async def test_me_returns_the_account(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        user, token = await make_staff(session, Role.organiser)
        response = await client.get("/api/v1/me", headers=bearer(token))
        assert response.status_code == 200
        assert response.json()["email"] == user.email
        assert response.json()["role"] == "organiser"

    async def test_wrong_missing_and_malformed_tokens_are_401(
        self, client: httpx.AsyncClient
    ) -> None:
        for headers in (
            {},
            bearer("apl_not-a-real-token"),
            bearer("something"),
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ):
            response = await client.get("/api/v1/me", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"] == "Unauthorized"

    async def test_revoked_tokens_and_disabled_accounts_stop_working(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        user, token = await make_staff(session)
        second = staff_service.issue_token(session, user=user)
        await session.commit()
        assert (await client.get("/api/v1/me", headers=bearer(second))).status_code == 200
        await staff_service.revoke_tokens(session, user=user, actor="test")
        await session.commit()
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
        third = staff_service.issue_token(session, user=user)
        await staff_service.set_active(session, user=user, active=False, actor="test")
        await session.commit()
        assert (await client.get("/api/v1/me", headers=bearer(third))).status_code == 401

    async def test_emails_are_unique_case_insensitively(self, session: AsyncSession) -> None:
        await make_staff(session, email="Someone@Staff.example")
        with pytest.raises(Conflict, match="already exists"):
            await make_staff(session, email="someone@staff.example")


class TestAudit:
    async def test_only_admins_read_the_audit_log(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, campaigner = await make_staff(session, Role.campaigner)
        _, admin = await make_staff(session, Role.admin)
        assert (await client.get("/api/v1/audit", headers=bearer(campaigner))).status_code == 403
        response = await client.get("/api/v1/audit", headers=bearer(admin))
        assert response.status_code == 200
        actions = {e["action"] for e in response.json()["items"]}
        assert "staff.create" in actions
