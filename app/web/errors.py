"""The one place that turns any error into a response: JSON for the API, an HTML page for pages.

Every JSON body for an error is `{"error": "<Kind>", "detail": "..."}`; a bug becomes a logged 500
with no trace shown to the user.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import AppError, TooManyRequests
from app.web.i18n import negotiate
from app.web.pages import render

log = logging.getLogger(__name__)

_STATUS_KINDS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "ValidationError",
    429: "TooManyRequests",
}


def error_body(kind: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": kind, "detail": detail, **extra}


def _wants_html(request: Request) -> bool:
    """Pages get HTML errors; the API (and anything asking for JSON) gets JSON."""
    path = request.url.path
    return not path.startswith(("/api/", "/openapi", "/docs", "/redoc"))


def _html_error(request: Request, status: int, detail: str) -> Response:
    """The error page: for the public a translated sentence (error.html), never the
    exception's own words, which are written for developers; staff pages show `detail`."""
    public = not request.url.path.startswith("/staff")
    language = negotiate(request) if public else None
    context = {"status": status, "detail": detail, "public": public}
    return render(request, "error.html", context, status=status, language=language)


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if exc.status == 303 and "location" in exc.extra:
        return RedirectResponse(str(exc.extra["location"]), status_code=303)
    retry = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else {}
    if _wants_html(request):
        response = _html_error(request, exc.status, exc.detail)
        response.headers.update(retry)
        return response
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else retry
    return JSONResponse(
        error_body(exc.kind, exc.detail, **jsonable_encoder(exc.extra)),
        status_code=exc.status,
        headers=headers or None,
    )


def _field_error(err: Any) -> dict[str, str]:
    loc = err.get("loc", ())
    if err.get("type") == "json_invalid":
        # pydantic gives the character offset as the location and a bare "JSON decode error".
        where = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = (err.get("ctx") or {}).get("error", "")
        return {"field": "body", "message": f"not valid JSON ({reason}{where})"}
    return {
        "field": ".".join(str(p) for p in loc if p != "body") or "body",
        "message": err.get("msg", "invalid"),
    }


def _not_json(request: Request, exc: RequestValidationError | ValidationError) -> bool:
    """An API body sent as something other than JSON (a form, plain text)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body_errors = [e for e in exc.errors() if tuple(e.get("loc", ())) == ("body",)]
    return bool(
        body_errors
        and content_type
        and content_type != "application/json"
        and not content_type.endswith("+json")
        and any(e.get("type") in ("model_attributes_type", "dict_type") for e in body_errors)
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    # RequestValidationError for bodies and parameters; pydantic's own ValidationError when a
    # route validates input itself (e.g. query parameters assembled into a model).
    assert isinstance(exc, RequestValidationError | ValidationError)
    if not _wants_html(request) and _not_json(request, exc):
        detail = "the body must be JSON, sent with Content-Type: application/json"
        return JSONResponse(error_body("UnsupportedMediaType", detail), status_code=415)
    return validation_response(request, [_field_error(err) for err in exc.errors()])


def validation_response(request: Request, fields: list[dict[str, str]]) -> Response:
    """422 for invalid input: an HTML page for a page, else the JSON body with `fields`."""
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
    if _wants_html(request):
        return _html_error(request, 422, detail)
    return JSONResponse(error_body("ValidationError", detail, fields=fields), status_code=422)


# What FastAPI raises when a JSON body is not even text (invalid UTF-8).
_UNREADABLE_BODY = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY and not _wants_html(request):
        field = {"field": "body", "message": "not valid JSON (not UTF-8 text)"}
        detail = "body: not valid JSON (not UTF-8 text)"
        return JSONResponse(error_body("ValidationError", detail, fields=[field]), status_code=422)
    kind = _STATUS_KINDS.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else kind
    if _wants_html(request):
        return _html_error(request, exc.status_code, detail)
    return JSONResponse(error_body(kind, detail), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    detail = "Something went wrong on our side; it has been logged."
    if _wants_html(request):
        return _html_error(request, 500, detail)
    return JSONResponse(error_body("InternalError", detail), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
