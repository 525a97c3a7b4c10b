"""/health says the process answers; /ready says the database answers and is migrated to this
version's head (a container's health check and a load balancer's gate)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.migrations import head_revision
from tests.conftest import BACKENDS, fresh_database, require_backend


@asynccontextmanager
async def _client(url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The application on `url`, as `appeals serve` would run it (its own engine)."""
    app = create_app(Settings(database_url=url, var_dir=tmp_path / "var"))
    engine = make_engine(url)
    app.state.sessionmaker = make_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await engine.dispose()


class TestHealth:
    async def test_alive_and_ready_when_migrated(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        alive = await client.get("/health")
        assert (alive.status_code, alive.json()) == (200, {"status": "alive"})
        ready = await client.get("/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "migration": head_revision(settings.alembic_dir)}

    @pytest.mark.parametrize("backend", BACKENDS)
    async def test_not_ready_before_the_migrations(self, backend: str, tmp_path: Path) -> None:
        await require_backend(backend)
        async with fresh_database(backend, tmp_path) as url, _client(url, tmp_path) as client:
            assert (await client.get("/health")).status_code == 200
            ready = await client.get("/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not ready"
        assert "run `appeals db upgrade`" in body["problem"]

    async def test_not_ready_when_the_database_does_not_answer(self, tmp_path: Path) -> None:
        url = "postgresql+asyncpg://postgres@127.0.0.1:9/appeals"  # the discard port: nobody
        async with _client(url, tmp_path) as client:
            assert (await client.get("/health")).status_code == 200
            ready = await client.get("/ready")
        assert ready.status_code == 503
        assert "nothing answers at 127.0.0.1:9/appeals" in ready.json()["problem"]
