"""Rendering HTML pages: one autoescaping Jinja environment and the security headers.

Pages use no external assets and no inline script, so the content security policy can forbid
both; everything a page shows is escaped unless a template explicitly says otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

WEB_DIR = Path(__file__).resolve().parent
# Built here but reads nothing until a page is rendered. Page text is marked for translation
# ({% trans %}, _()); until catalogues exist, the null translation shows it as written.
_env = Environment(
    loader=FileSystemLoader(WEB_DIR / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_env)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context or {}, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response
