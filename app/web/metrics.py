"""HTTP request counts for Prometheus: by route template, method and status.

The route is the template (`/s/{token}`), never the path a client sent: a path can carry a
supporter's link token, and one series per path would grow without end. Each application has
its own registry (a test builds many), which `/metrics` writes out with the queue's figures.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "appeals_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "appeals_http_request_seconds",
            "Time to answer a request, by route template",
            ["route"],
            registry=self.registry,
        )


class MetricsMiddleware:
    """Counts every HTTP response under its route's template ("unmatched" for no route)."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(route, scope.get("method", ""), str(status)).inc()
            self.metrics.seconds.labels(route).observe(time.perf_counter() - started)
