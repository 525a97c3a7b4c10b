import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.main import create_app
from app.staff.models import Role
from tests.factories import bearer, make_staff


class TestErrorBodies:
    async def test_unknown_route_and_method_are_json(self, client: httpx.AsyncClient) -> None:
        missing = await client.get("/api/v1/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["error"] == "NotFound"
        wrong_method = await client.put("/api/v1/cases")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"] == "MethodNotAllowed"

    async def test_a_bug_is_a_500_without_a_stack_trace(self, settings: Settings) -> None:
        app = create_app(settings)

        @app.get("/api/v1/boom")
        @app.get("/staff/boom")
        async def boom() -> None:
            raise RuntimeError("secret internals /etc/passwd")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            api = await client.get("/api/v1/boom")
            page = await client.get("/staff/boom")
        assert api.status_code == page.status_code == 500
        assert api.json()["error"] == "InternalError"
        assert page.headers["content-type"].startswith("text/html")
        for response in (api, page):
            assert "secret" not in response.text
            assert "Traceback" not in response.text

    async def test_pages_get_html_errors(self, client: httpx.AsyncClient) -> None:
        missing = await client.get("/staff/nothing-here")
        assert missing.status_code == 404
        assert "<h1>Not found</h1>" in missing.text
        assert "default-src 'none'" in missing.headers["content-security-policy"]

    async def test_openapi_documents_the_api(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        assert "/api/v1/cases" in schema["paths"]
        assert "/api/v1/directory/health" in schema["paths"]
        docs = await client.get("/docs")
        assert docs.status_code == 200
        assert "/docs-assets/swagger-ui-bundle.js" in docs.text  # served here, not from a CDN
        assert "cdn" not in docs.text.lower()
        bundle = await client.get("/docs-assets/swagger-ui-bundle.js")
        assert bundle.status_code == 200


class TestBodiesThatAreNotJson:
    @pytest.mark.parametrize(
        ("body", "content_type", "status", "says"),
        [
            (b"not json", "application/json", 422, "body: not valid JSON (Expecting value"),
            (b'{"slug": "x",', "application/json", 422, "at character 13"),
            (
                b'{"a": "\xc3\x28"}',
                "application/json",
                422,
                "body: not valid JSON (not UTF-8 text)",
            ),
            (b"[1, 2]", "application/json", 422, "body: Input should be a valid dictionary"),
            (b"", "application/json", 422, "body: Field required"),
            (b"slug=x", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
            (b"slug=x", "text/plain", 415, "Content-Type: application/json"),
        ],
    )
    async def test_answer_a_clear_4xx(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        body: bytes,
        content_type: str,
        status: int,
        says: str,
    ) -> None:
        _, token = await make_staff(session, Role.campaigner)
        response = await client.post(
            "/api/v1/campaigns",
            content=body,
            headers={**bearer(token), "Content-Type": content_type},
        )
        assert response.status_code == status, response.text
        assert says in response.json()["detail"]
