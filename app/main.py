"""The application factory: `create_app(settings)` wires routers, error handlers and the engine.

The database engine is created in the lifespan, so importing this module does no I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.accountability.api import router as due_dates_router
from app.accountability.pages import router as due_dates_pages
from app.campaigns.api import router as campaigns_router
from app.cases.api import router as cases_router
from app.config import Settings, get_settings
from app.dashboard.api import router as dashboard_router
from app.dashboard.metrics import router as metrics_router
from app.dashboard.pages import router as campaigns_pages
from app.db import SessionDep, make_engine, make_sessionmaker
from app.delivery.api import router as delivery_router
from app.delivery.email import make_transport
from app.delivery.pages import router as delivery_pages
from app.delivery.post.api import router as post_router
from app.delivery.post.pages import router as batch_pages
from app.delivery.webform.pages import router as task_pages
from app.digests.api import router as digests_router
from app.evidence.api import router as evidence_router
from app.letters.api import router as letters_router
from app.letters.pages import router as letters_pages
from app.migrations import current_revision, head_revision
from app.recipients.api import router as recipients_router
from app.recipients.pages import router as recipients_pages
from app.responses.api import router as responses_router
from app.responses.pages import router as responses_pages
from app.signatures.api import router as signatures_router
from app.signatures.consent import withdrawn_reason
from app.signatures.embed import api_router as embed_api
from app.signatures.embed import router as embed_pages
from app.signatures.pages import router as signatures_pages
from app.signatures.ratelimit import SigningLimits
from app.staff.api import router as staff_router
from app.staff.audit_api import router as audit_router
from app.staff.audit_pages import router as audit_pages
from app.staff.pages import router as staff_pages
from app.staff.people_pages import router as people_pages
from app.staff.ratelimit import LoginLimits
from app.startup import explain
from app.templating.kit import LetterKit
from app.web import caching
from app.web.errors import install_error_handlers
from app.web.headers import SecurityHeadersMiddleware
from app.web.metrics import MetricsMiddleware, RequestMetrics
from app.web.nul import RefuseNulMiddleware
from app.web.pages import WEB_DIR
from app.workers import build_worker, make_printmail_if_used

DESCRIPTION = """
Appeals joins case summaries of people prosecuted for their civic work with a directory of
officials, and sends, paces and tracks the supporters' appeal letters.

Reading cases and the directory is public. Changes need a staff token
(`appeals users create EMAIL --role campaigner`) sent as `Authorization: Bearer <token>`.
Every error is a JSON body `{"error": "<Kind>", "detail": "..."}`.
"""


# Swagger UI 5 (it renders the OpenAPI 3.1 FastAPI writes; the 4.x bundle showed "Unable to
# render this definition"), from fastapi-offline's copy: served here, nothing from a CDN.
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"

# Every router, in the order their routes are matched and listed in the API docs.
ROUTERS = (
    cases_router,
    recipients_router,
    campaigns_router,
    letters_router,
    delivery_router,
    post_router,
    digests_router,
    staff_router,
    audit_router,
    staff_pages,
    campaigns_pages,
    letters_pages,
    delivery_pages,
    task_pages,
    batch_pages,
    recipients_pages,
    audit_pages,
    people_pages,
    signatures_router,
    embed_api,
    signatures_pages,
    embed_pages,
    responses_router,
    dashboard_router,
    responses_pages,
    due_dates_router,
    due_dates_pages,
    evidence_router,
    metrics_router,
)


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The engine, the outbound clients and (embedded setup) the worker, for the app's life."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.effective_database_url, echo=settings.database_echo)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        stop = asyncio.Event()
        worker_task = None
        transport = make_transport(settings)
        printmail = make_printmail_if_used(settings) if settings.run_worker else None
        if settings.run_worker:
            # The embedded setup (SQLite: one writer) runs its one worker here.
            worker = build_worker(
                app.state.sessionmaker,
                settings,
                transport,
                name="embedded",
                kit=app.state.letter_kit,
                printmail=printmail,
            )
            worker_task = asyncio.create_task(worker.run_forever(stop))
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            await transport.close()
            if printmail is not None:
                await printmail.aclose()
            await engine.dispose()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Appeals",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=_lifespan(settings),
        docs_url=None,  # served below from local files: no CDN, nothing leaves the machine
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.letter_kit = LetterKit.from_settings(settings)
    app.state.signing_limits = SigningLimits.from_settings(settings)  # in memory, per process
    app.state.staff_login_limits = LoginLimits.from_settings(settings)  # likewise
    # Delivery asks signatures through this before staff send a letter again (ConsentCheck).
    app.state.consent_check = withdrawn_reason
    app.state.request_metrics = RequestMetrics()
    caching.install(app)  # innermost: a NUL or a missing security header is dealt with outside
    app.add_middleware(RefuseNulMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, behind_tls=settings.served_over_tls)
    # Outermost: every answer is counted, a refused one too.
    app.add_middleware(MetricsMiddleware, metrics=app.state.request_metrics)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.mount("/docs-assets", StaticFiles(directory=SWAGGER_UI), name="docs-assets")
    _serve_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    _health_route(app)
    return app


def _serve_docs(app: FastAPI) -> None:
    """The API docs from local files: no CDN, nothing leaves the machine."""

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Appeals API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
        )


def _health_route(app: FastAPI) -> None:
    @app.get("/api/v1/health", tags=["service"], summary="Liveness and database check")
    async def health(session: SessionDep) -> dict[str, str]:
        await session.execute(text("SELECT 1"))
        return {"status": "ok"}

    @app.get("/health", tags=["service"], summary="Alive: the process answers (no database)")
    async def alive() -> dict[str, str]:
        return {"status": "alive"}

    @app.get(
        "/ready",
        tags=["service"],
        summary="Ready: the database answers and its migrations are at this version's head",
        responses={503: {"description": "Not ready; `problem` says why"}},
    )
    async def ready(request: Request, session: SessionDep) -> JSONResponse:
        return await readiness(request.app.state.settings, session)


async def readiness(settings: Settings, session: AsyncSession) -> JSONResponse:
    """200 when the database answers and is migrated to this code's head; else 503 and why
    (for a container's health check or a load balancer: send no traffic until then)."""
    head = head_revision(settings.alembic_dir)
    try:
        current = await current_revision(await session.connection())
    except Exception as exc:
        problem = explain(exc, database_url=settings.effective_database_url)
        return JSONResponse(
            {"status": "not ready", "problem": problem or f"database: {type(exc).__name__}"},
            status_code=503,
        )
    if current != head:
        return JSONResponse(
            {
                "status": "not ready",
                "problem": f"the database is at migration {current}, this version needs {head}: "
                "run `appeals db upgrade`",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "migration": head})
