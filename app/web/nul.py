"""Refuse a request that carries a NUL character (U+0000) anywhere it could reach a text column.

PostgreSQL cannot hold NUL in `text` or `varchar` and refuses the statement, so a `%00` in a
query string or a `\\u0000` in a form or JSON field became a 500 wherever no validator of ours
stood in between (found by fuzzing). No one has a reason to send one, so it is refused before
any route runs, with 422 and the same error body as other invalid input. The path, the query
string and JSON and form bodies are checked; a raw message posted to the inbound route is bytes
and is kept as it came (its parser removes NULs from the text it reads).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.errors import validation_response

# How each place writes a NUL: percent-encoded in URLs and forms, `\u0000` in JSON.
_PERCENT_NUL = re.compile(rb"%00")
_ENCODED_NUL = {
    "application/json": re.compile(rb"\\u0000", re.IGNORECASE),
    "application/x-www-form-urlencoded": _PERCENT_NUL,
}
DETAIL = "must not contain NUL characters (U+0000)"


def _has_nul(data: bytes, encoded: re.Pattern[bytes] = _PERCENT_NUL) -> bool:
    return b"\x00" in data or encoded.search(data) is not None


class RefuseNulMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("raw_path") or scope["path"].encode()
        if _has_nul(path) or _has_nul(scope.get("query_string", b"")):
            await self._refuse(scope, "url", send)
            return
        content_type = Request(scope).headers.get("content-type", "").split(";")[0].strip()
        encoded = _ENCODED_NUL.get(content_type.lower())
        if encoded is None:
            await self.app(scope, receive, send)
            return
        # An API or form body is small: read it whole, check it, then hand it on unchanged.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if _has_nul(body, encoded):
            await self._refuse(scope, "body", send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, where: str, send: Send) -> None:
        response = validation_response(Request(scope), [{"field": where, "message": DETAIL}])
        await response(scope, self._empty, send)

    @staticmethod
    async def _empty() -> Message:
        return {"type": "http.disconnect"}
