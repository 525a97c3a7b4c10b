"""/metrics: the queue by status and channel, the oldest due letter, the inbox, and the HTTP
requests by route template; staff only."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from app.staff.models import Role
from tests.delivery.test_worker import queued
from tests.factories import bearer, make_staff

__all__ = ["queued"]  # a fixture: one letter queued for e-mail


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


class TestMetrics:
    async def test_staff_only(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/metrics")).status_code == 401

    async def test_counts_the_queue_and_the_requests_by_route_template(
        self, client: httpx.AsyncClient, session: AsyncSession, queued: dict[str, Any]
    ) -> None:
        _, token = await make_staff(session, Role.organiser)
        await client.get("/s/some-supporters-secret-link-token")  # a token in a path
        response = await client.get("/metrics", headers=bearer(token))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        found = samples(response.text)
        assert found[("appeals_deliveries", (("channel", "email"), ("status", "queued")))] == 1
        assert ("appeals_oldest_due_seconds", (("channel", "email"),)) in found
        routes = {
            dict(labels).get("route")
            for name, labels in found
            if name.startswith("appeals_http_requests")
        }
        assert "/s/{token}" in routes
        assert "some-supporters-secret-link-token" not in response.text
