import httpx

from app.config import Settings
from app.main import create_app


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

        @app.get("/boom")
        async def boom() -> None:
            raise RuntimeError("secret internals /etc/passwd")

        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/boom")
        assert response.status_code == 500
        assert response.json()["error"] == "InternalError"
        assert "secret" not in response.text and "Traceback" not in response.text

    async def test_openapi_documents_the_api(self, client: httpx.AsyncClient) -> None:
        schema = (await client.get("/openapi.json")).json()
        assert "/api/v1/cases" in schema["paths"]
        assert "/api/v1/directory/health" in schema["paths"]
        assert (await client.get("/docs")).status_code == 200
