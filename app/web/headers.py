"""Security headers on every response, pages and API alike.

`render()` already sets the full set on pages (app/web/pages.py holds the one copy of the
content security policy); this middleware adds whatever a response lacks: routes that return
JSON, redirects, files, error bodies. A response without its own `Cache-Control` gets
`no-store`: only what a route marks shareable (app/web/caching.py) may be kept by a browser or a
proxy; static files, the same for everyone, are left to their validators. HSTS is sent when
the request came over TLS or the site is declared to be behind TLS (`APPEALS_SERVED_OVER_TLS`).
Swagger UI at /docs needs its own inline script, so the policy is not forced on it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.pages import SECURITY_HEADERS

HSTS = "max-age=63072000; includeSubDomains"
_ALWAYS = {
    "X-Content-Type-Options": SECURITY_HEADERS["X-Content-Type-Options"],
    "Referrer-Policy": SECURITY_HEADERS["Referrer-Policy"],
}
_XFO = SECURITY_HEADERS["X-Frame-Options"]
_CSP = SECURITY_HEADERS["Content-Security-Policy"]
_NO_STORE = SECURITY_HEADERS["Cache-Control"]
_FILES = ("/static/", "/docs-assets/")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, behind_tls: bool = False) -> None:
        self.app = app
        self.behind_tls = behind_tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        tls = self.behind_tls or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers.setdefault(name, value)
                # A response with its own frame-ancestors (the embeddable form) decides framing.
                if "frame-ancestors" not in headers.get("content-security-policy", ""):
                    headers.setdefault("X-Frame-Options", _XFO)
                if not path.startswith(("/docs", "/docs-assets")):
                    headers.setdefault("Content-Security-Policy", _CSP)
                if not path.startswith(_FILES):
                    headers.setdefault("Cache-Control", _NO_STORE)
                if tls:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
