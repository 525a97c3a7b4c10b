"""HTTP caching of anonymous pages and public JSON: validators, 304s and an in-process cache.

A route that shows nothing personal answers through `shared()`: a weak ETag that is the hash of
what it rendered, `Cache-Control: public, max-age=10, stale-while-revalidate=60` so a reverse
proxy or CDN may hold it briefly, `Vary: Accept-Language` on pages (their language may come from
that header), and a 304 when the request's `If-None-Match` names that ETag. Every other response
keeps `no-store` (app/web/headers.py adds it where a route set nothing).

`ResponseCacheMiddleware` is the same idea inside each server process: a small shared cache, in
front of routing, that honours only what routes mark `public` with an ETag. A stored answer is
served without touching the database for `fresh_seconds`; after that the next request passes to
the route as a conditional GET with the stored ETag (the others meanwhile get the stored copy):
the route renders again and answers 304 when nothing changed. Requests arriving while the
first request for an answer is fetching it wait for that one (a crowd opening a shared link
causes one render, not one each). The ETag is computed from the rendered bytes, so it changes
exactly when anything shown changes (an edit, the count of signatures, the date in the letter)
and is the same in every process and on every machine; nothing has to announce a change, and no
process serves a page more than `fresh_seconds` older than the database. A request with
`Cache-Control: no-cache` or `max-age=0` (a browser's reload) revalidates at once, and so does
every entry after a change made through the same process (a successful POST, PUT, PATCH or
DELETE, unless its route declares it `unchanged`).

Per-visitor parts stay out of the stored bytes: a route stores its body with placeholders and a
`fill` function that completes each copy as it is served (the signing form's timestamp token).
The key is the path, the query and the language negotiated from Accept-Language, never the Host
header (pages link to their assets by path, so a forged Host cannot poison an entry).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web import i18n

PUBLIC = "public, max-age=10, stale-while-revalidate=60"
WAIT_SECONDS = 10.0  # how long a request waits for another one fetching the same answer
_HINT = "appeals.cache"
Fill = Callable[[bytes], bytes]
Key = tuple[str, bytes, str]


@dataclass(slots=True)
class Hint:
    """What a route tells the cache beyond its response: the body with placeholders, and how
    to complete each served copy."""

    body: bytes | None = None
    fill: Fill | None = None
    unchanged: bool = False  # an unsafe request that changed nothing any public page shows


def etag_of(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    return any(
        tag == "*" or tag.removeprefix("W/") == wanted
        for tag in (t.strip() for t in if_none_match.split(","))
    )


def shared(
    request: Request, response: Response, *, vary_language: bool = True, fill: Fill | None = None
) -> Response:
    """`response` (a complete 200 with nothing personal in it) made cacheable, or a 304.

    `fill`, if given, completes the per-visitor placeholders of the body; the ETag and the
    stored copy are of the body before filling."""
    template = bytes(response.body)
    etag = etag_of(template)
    headers = {"ETag": etag, "Cache-Control": PUBLIC}
    if vary_language:
        headers["Vary"] = "Accept-Language"
    hint = request.scope.get(_HINT)
    if isinstance(hint, Hint):
        hint.body, hint.fill = template, fill
    if matches(request.headers.get("if-none-match"), etag):
        kept = {k: v for k, v in response.headers.items() if k not in _ENTITY_HEADERS}
        return Response(status_code=304, headers={**kept, **headers})
    if fill is not None:
        response.body = fill(template)
        response.headers["content-length"] = str(len(response.body))
    response.headers.update(headers)
    return response


_ENTITY_HEADERS = {"content-length", "content-type"}


def unchanged(request: Request) -> None:
    """This (unsafe) request changes nothing a shared answer shows: stored ones stay fresh."""
    hint = request.scope.get(_HINT)
    if isinstance(hint, Hint):
        hint.unchanged = True


def shared_json(request: Request, data: BaseModel) -> Response:
    """A public JSON answer (`data` as FastAPI would write it), cacheable like a page."""
    body = data.model_dump_json().encode()
    return shared(request, Response(body, media_type="application/json"), vary_language=False)


@dataclass(slots=True)
class Entry:
    headers: list[tuple[bytes, bytes]]  # without Content-Length
    body: bytes
    fill: Fill | None
    etag: str
    route: Any
    stored_at: float
    revalidating: bool = False


@dataclass(slots=True)
class _Captured:
    start: Message | None = None
    chunks: list[bytes] = field(default_factory=list)
    passing: bool = False  # not cacheable: sent on as it came
    changes: int = 0  # the cache's count of changes when the route was asked


def _cacheable(status: int, headers: Headers, *, revalidating: bool) -> bool:
    if status == 304:
        return revalidating
    if status != 200 or "set-cookie" in headers or "etag" not in headers:
        return False
    control = {d.strip().split("=")[0] for d in headers.get("cache-control", "").lower().split(",")}
    vary = {v.strip().lower() for v in headers.get("vary", "").split(",") if v.strip()}
    return (
        "public" in control
        and not control & {"no-store", "private"}
        and vary <= {"accept-language"}
    )


def _wants_fresh(headers: Headers) -> bool:
    """A request that asks for a validated answer (`no-cache`, `max-age=0`: a reload)."""
    directives = {d.strip() for d in headers.get("cache-control", "").lower().split(",")}
    return bool(directives & {"no-cache", "max-age=0"})


class ResponseCacheMiddleware:
    """The in-process shared cache described above; entries live until evicted (LRU)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        fresh_seconds: float = 5.0,
        max_entries: int = 256,
        max_body: int = 1 << 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.fresh_seconds = fresh_seconds
        self.max_entries = max_entries
        self.max_body = max_body
        self.clock = clock
        self.entries: OrderedDict[Key, Entry] = OrderedDict()
        self.changes = 0  # unsafe requests that may have changed what entries show
        self.pending: dict[Key, asyncio.Event] = {}  # misses being fetched
        self.private: OrderedDict[Key, None] = OrderedDict()  # keys answered uncacheably

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":
            await self._unsafe(scope, receive, send)
            return
        request = Request(scope)
        key = (scope["path"], scope.get("query_string", b""), i18n.negotiate(request).code)
        entry = self.entries.get(key)
        if entry is None and key in self.pending and key not in self.private:
            entry = await self._wait_for(key)  # the first of a crowd renders, the rest wait
        if entry is not None:
            self.entries.move_to_end(key)
            age = self.clock() - entry.stored_at
            fresh = age < self.fresh_seconds and not _wants_fresh(request.headers)
            if fresh or entry.revalidating:  # one request revalidates; the others get this
                await self._serve(entry, scope, send)
                return
            entry.revalidating = True
        else:
            self.pending.setdefault(key, asyncio.Event())
        try:
            await self._fetch(key, entry, scope, receive, send)
        finally:
            if entry is not None:
                entry.revalidating = False
            elif key in self.pending:
                self.pending.pop(key).set()

    async def _wait_for(self, key: Key) -> Entry | None:
        """The entry a request for the same key is fetching now, once stored (or None)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.pending[key].wait(), timeout=WAIT_SECONDS)
        return self.entries.get(key)

    async def _unsafe(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A change made through this process shows at once here: after a successful POST,
        PUT, PATCH or DELETE every entry is revalidated before it is served again (RFC 9111
        section 4.4, widened to all entries since one edit shows on several pages), unless
        the route said it changes nothing public (`unchanged`: a pending signature)."""
        hint = scope[_HINT] = Hint()
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            if status < 400 and not hint.unchanged:
                self.changes += 1
                for entry in self.entries.values():
                    entry.stored_at = -math.inf

    async def _serve(self, entry: Entry, scope: Scope, send: Send) -> None:
        scope["route"] = entry.route  # counted under its route (app/web/metrics.py)
        if matches(Headers(scope=scope).get("if-none-match"), entry.etag):
            headers = [(k, v) for k, v in entry.headers if k != b"content-type"]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = entry.fill(entry.body) if entry.fill else entry.body
        headers = [*entry.headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _fetch(
        self, key: Key, entry: Entry | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Ask the route (conditionally, when revalidating `entry`); store, serve or pass on."""
        inner = dict(scope)
        hint = inner[_HINT] = Hint()
        if entry is not None:
            others = [(k, v) for k, v in scope["headers"] if k != b"if-none-match"]
            inner["headers"] = [*others, (b"if-none-match", entry.etag.encode())]
        captured = _Captured(changes=self.changes)

        async def capture(message: Message) -> None:
            if captured.passing:
                await send(message)
            elif message["type"] == "http.response.start":
                captured.start = message
                headers = Headers(raw=message["headers"])
                if not _cacheable(message["status"], headers, revalidating=entry is not None):
                    captured.passing = True
                    await send(message)
            elif message["type"] == "http.response.body":
                captured.chunks.append(message.get("body", b""))
                if sum(map(len, captured.chunks)) > self.max_body:  # too big to keep
                    await self._pass_on(captured, send, more=message.get("more_body", False))

        await self.app(inner, receive, capture)
        if "route" in inner:
            scope["route"] = inner["route"]
        if captured.passing or captured.start is None:
            self.entries.pop(key, None)  # gone or no longer public: forget it
            self.private[key] = None  # and let its requests through side by side
            while len(self.private) > self.max_entries * 4:
                self.private.popitem(last=False)
            return
        self.private.pop(key, None)
        stored = self._store(key, entry, captured, hint, inner.get("route"))
        await self._serve(stored, scope, send)

    @staticmethod
    async def _pass_on(captured: _Captured, send: Send, *, more: bool) -> None:
        captured.passing = True
        assert captured.start is not None
        await send(captured.start)
        body = b"".join(captured.chunks)
        await send({"type": "http.response.body", "body": body, "more_body": more})

    def _store(
        self, key: Key, entry: Entry | None, captured: _Captured, hint: Hint, route: Any
    ) -> Entry:
        assert captured.start is not None
        # Rendered before a change made meanwhile: kept, but revalidated when next asked for.
        now = self.clock() if captured.changes == self.changes else -math.inf
        if captured.start["status"] == 304 and entry is not None:
            entry.stored_at = now  # unchanged: fresh again
            return entry
        headers = [(k, v) for k, v in captured.start["headers"] if k != b"content-length"]
        etag = Headers(raw=headers)["etag"]
        body = hint.body if hint.body is not None else b"".join(captured.chunks)
        stored = Entry(headers, body, hint.fill, etag, route, now)
        self.entries[key] = stored
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)
        return stored


def install(app: FastAPI, **options: Any) -> None:
    """Serve the app's public answers from an in-process cache (see the module docstring)."""
    app.add_middleware(ResponseCacheMiddleware, **options)
