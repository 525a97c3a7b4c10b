import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.staff.models import Role
from tests.factories import bearer, make_staff


async def _search(client: httpx.AsyncClient, q: str) -> list[str]:
    response = await client.get("/api/v1/cases", params={"q": q})
    assert response.status_code == 200
    return [c["id"] for c in response.json()["items"]]


class TestListCases:
    async def test_lists_every_case_with_pagination(self, client: httpx.AsyncClient) -> None:
        first = (await client.get("/api/v1/cases", params={"limit": 20})).json()
        second = (await client.get("/api/v1/cases", params={"limit": 20, "offset": 20})).json()
        assert first["total"] == second["total"] == 31
        ids = [c["id"] for c in first["items"] + second["items"]]
        assert len(ids) == len(set(ids)) == 31

    @pytest.mark.parametrize(
        ("query", "case_id"),
        [
            ("Makhambet", "abzhan"),
            ("Маkhambet", "abzhan"),  # as printed: Cyrillic М and а
            ("Махамбет", "abzhan"),  # all Cyrillic
            ("Sichev", "sychev"),  # the introduction's spelling
            ("Sychev", "sychev"),
            ("СЫЧЕВ", "sychev"),
            ("gyuzal", "baydalinova"),
            ("Gyuzyal Baydalinova", "baydalinova"),
            ("olesya", "khalabuzar"),
            ("Leila", "khrapunov-family"),
            ("talgat ayan", "bokayev-ayan"),
        ],
    )
    async def test_search_finds_a_case_by_any_spelling(
        self, client: httpx.AsyncClient, query: str, case_id: str
    ) -> None:
        assert case_id in await _search(client, query)

    async def test_search_with_no_match_is_empty_not_an_error(
        self, client: httpx.AsyncClient
    ) -> None:
        assert await _search(client, "Nobody Nowhere") == []
        assert await _search(client, "100%_'\"") == []

    async def test_filters_by_status_category_and_article(self, client: httpx.AsyncClient) -> None:
        psychiatric = (
            await client.get("/api/v1/cases", params={"status": "compulsory_psychiatric_treatment"})
        ).json()
        assert [c["id"] for c in psychiatric["items"]] == ["ulasik"]
        journalists = (await client.get("/api/v1/cases", params={"category": "journalists"})).json()
        assert journalists["total"] == 5
        article_402 = (await client.get("/api/v1/cases", params={"article": "402"})).json()
        assert [c["id"] for c in article_402["items"]] == ["eleusinov-kushakbayev"]

    async def test_invalid_filters_are_422_with_a_reason(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/cases", params={"status": "jailed", "limit": 0})
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "ValidationError"
        assert {f["field"] for f in body["fields"]} == {"query.status", "query.limit"}


class TestGetCase:
    async def test_returns_people_charges_and_variants(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/cases/abzhan")
        assert response.status_code == 200
        case = response.json()
        [person] = case["people"]
        assert person["name"] == "Makhambet Abzhan"
        assert person["name_as_printed"] == "Маkhambet Abzhan"
        assert "Маkhambet Abzhan" in person["variants"]
        assert {c["article"] for c in person["charges"]} >= {"190", "389"}
        assert case["asks"]

    async def test_unknown_case_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/cases/nobody")
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": "no case with id 'nobody'"}


class TestUpdateCase:
    async def test_needs_a_token(self, client: httpx.AsyncClient) -> None:
        response = await client.patch("/api/v1/cases/sychev", json={"notes": "x"})
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"

    async def test_an_organiser_may_not_edit(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.organiser)
        response = await client.patch(
            "/api/v1/cases/sychev", json={"notes": "x"}, headers=bearer(token)
        )
        assert response.status_code == 403
        assert response.json()["error"] == "Forbidden"

    async def test_a_campaigner_edits_and_the_change_is_audited(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        _, admin = await make_staff(session, Role.admin)
        response = await client.patch(
            "/api/v1/cases/sychev",
            json={"notes": "Lawyer confirmed the appeal date."},
            headers=bearer(token),
        )
        assert response.status_code == 200
        assert response.json()["notes"] == "Lawyer confirmed the appeal date."
        assert response.json()["edited_at"] is not None
        audit = (
            await client.get("/api/v1/audit", params={"entity_id": "sychev"}, headers=bearer(admin))
        ).json()
        entry = audit["items"][0]
        assert entry["action"] == "case.update"
        assert entry["actor"].startswith("campaigner-")
        assert entry["after"] == {"notes": "Lawyer confirmed the appeal date."}
        assert "notes" in entry["before"]

    @pytest.mark.parametrize("field", ["title", "summary", "asks", "key_dates", "as_of"])
    async def test_a_null_for_a_field_that_must_have_a_value_is_a_422(
        self, client: httpx.AsyncClient, session: AsyncSession, field: str
    ) -> None:
        _, token = await make_staff(session)
        response = await client.patch(
            "/api/v1/cases/sychev", json={field: None}, headers=bearer(token)
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == f"{field} cannot be empty"

    @pytest.mark.parametrize("field", ["variants", "role", "status"])
    async def test_a_null_for_a_persons_required_field_is_a_422(
        self, client: httpx.AsyncClient, session: AsyncSession, field: str
    ) -> None:
        _, token = await make_staff(session)
        person_id = (await client.get("/api/v1/cases/sychev")).json()["people"][0]["id"]
        response = await client.patch(
            f"/api/v1/cases/sychev/people/{person_id}", json={field: None}, headers=bearer(token)
        )
        assert response.status_code == 422, response.text

    async def test_a_persons_release_is_recorded(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session)
        case = (await client.get("/api/v1/cases/sychev")).json()
        person_id = case["people"][0]["id"]
        response = await client.patch(
            f"/api/v1/cases/sychev/people/{person_id}",
            json={"status": "released", "status_note": "Released on parole."},
            headers=bearer(token),
        )
        assert response.status_code == 200
        released = (await client.get("/api/v1/cases", params={"status": "released"})).json()
        assert "sychev" in [c["id"] for c in released["items"]]

    async def test_bad_bodies_are_422_and_change_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session)
        before = (await client.get("/api/v1/cases/sychev")).json()
        for body in (
            {"title": None},
            {"asks": []},
            {"unknown": 1},
            {"key_dates": [{"date": "2017-13", "event": "x"}]},
        ):
            response = await client.patch("/api/v1/cases/sychev", json=body, headers=bearer(token))
            assert response.status_code == 422, body
            assert response.json()["error"] == "ValidationError"
        not_json = await client.patch(
            "/api/v1/cases/sychev",
            content=b"{not json",
            headers={**bearer(token), "Content-Type": "application/json"},
        )
        assert not_json.status_code == 422
        after = (await client.get("/api/v1/cases/sychev")).json()
        assert after == before
