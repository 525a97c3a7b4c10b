"""A fake print-and-mail provider: a real HTTP server on 127.0.0.1 behaving like the Lob-style API.

It asks for the API key as the basic-auth user; creates letters from a multipart form with a PDF
and `to`/`from` addresses, answering 422 with a message for what it will not take; keeps each
created letter under its `Idempotency-Key`, so the same request again gets the same letter (200)
and creates nothing, until the test makes it forget its keys (a real one forgets them after a
day); lists letters, filtered by metadata; serves each letter with its `tracking_events`. A
test can script the next answers (429 with Retry-After, 500, 503), stall past the client's
timeout (the letter is still made, as a real server that received the request would), and add
tracking events.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API_KEY = "test_fake_printmail_key"
ADDRESS_FIELDS = ("name", "address_line1", "address_country")


@dataclass
class FakeLetter:
    id: str
    idempotency_key: str | None
    description: str
    to: dict[str, str]
    sender: dict[str, str]
    pdf: bytes
    metadata: dict[str, str]
    created: str
    tracking_events: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "letter",
            "description": self.description,
            "to": self.to,
            "from": self.sender,
            "metadata": self.metadata,
            "date_created": self.created,
            "tracking_events": list(self.tracking_events),
        }


@dataclass(frozen=True)
class Scripted:
    status: int = 200  # not 200: answer this instead of handling the request
    retry_after: str | None = None
    stall_seconds: float = 0  # wait this long, then handle the request as usual


class FakePrintMail:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made = threading.Condition(self._lock)
        self.letters: dict[str, FakeLetter] = {}
        self._by_key: dict[str, str] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Idempotency-Key
        self._script: deque[Scripted] = deque()
        self.refused_countries: set[str] = set()
        self.app = Starlette(
            routes=[
                Route("/v1/letters", self._create, methods=["POST"]),
                Route("/v1/letters", self._list, methods=["GET"]),
                Route("/v1/letters/{letter_id}", self._retrieve, methods=["GET"]),
            ]
        )

    # What a test does to the provider.

    def answer_next(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        with self._lock:
            self._script.extend([Scripted(status, retry_after)] * times)

    def stall_next(self, seconds: float) -> None:
        with self._lock:
            self._script.append(Scripted(stall_seconds=seconds))

    def forget_keys(self) -> None:
        """A day has passed: the same Idempotency-Key would now make a second letter."""
        with self._lock:
            self._by_key.clear()

    def track(self, letter_id: str, name: str) -> str:
        """The letter moves on: a tracking event named as the provider names them."""
        event_id = f"evnt_{secrets.token_hex(8)}"
        with self._lock:
            self.letters[letter_id].tracking_events.append(
                {
                    "id": event_id,
                    "object": "tracking_event",
                    "type": "normal",
                    "name": name,
                    "time": _now(),
                    "location": None,
                }
            )
        return event_id

    def posts(self) -> list[str | None]:
        """The Idempotency-Key of every POST received, including those answered with errors."""
        with self._lock:
            return [key for method, _, key in self.requests if method == "POST"]

    def wait_for_letters(self, count: int, *, timeout: float = 10) -> None:
        """Block until `count` letters exist (a stalled request finishes in its own time)."""
        with self._made:
            if not self._made.wait_for(lambda: len(self.letters) >= count, timeout):
                raise TimeoutError(f"the fake provider has {len(self.letters)} letters")

    # The API.

    async def _create(self, request: Request) -> JSONResponse:
        key = request.headers.get("Idempotency-Key")
        refused = await self._before(request, key)
        if refused is not None:
            return refused
        with self._lock:
            if key is not None and key in self._by_key:  # a replay: the same letter again
                return JSONResponse(self.letters[self._by_key[key]].as_json())
        form = await request.form()
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        upload = form.get("file")
        pdf = await upload.read() if isinstance(upload, UploadFile) else b""
        problem = self._problem(fields, pdf)
        if problem is not None:
            return _error(422, problem)
        letter = FakeLetter(
            id=f"ltr_{secrets.token_hex(8)}",
            idempotency_key=key,
            description=fields.get("description", ""),
            to=_nested(fields, "to"),
            sender=_nested(fields, "from"),
            pdf=pdf,
            metadata=_nested(fields, "metadata"),
            created=_now(),
        )
        with self._lock:
            if key is not None and key in self._by_key:  # the same key raced in meanwhile
                return JSONResponse(self.letters[self._by_key[key]].as_json())
            self.letters[letter.id] = letter
            if key is not None:
                self._by_key[key] = letter.id
            self._made.notify_all()
        return JSONResponse(letter.as_json())

    async def _list(self, request: Request) -> JSONResponse:
        """Letters, newest first; `metadata[KEY]=VALUE` keeps those whose metadata match."""
        refused = await self._before(request, None)
        if refused is not None:
            return refused
        wanted = {
            name[len("metadata[") : -1]: value
            for name, value in request.query_params.items()
            if name.startswith("metadata[") and name.endswith("]")
        }
        limit = int(request.query_params.get("limit", "10"))
        with self._lock:
            found = [
                letter.as_json()
                for letter in reversed(self.letters.values())
                if all(letter.metadata.get(k) == v for k, v in wanted.items())
            ]
        return JSONResponse({"object": "list", "data": found[:limit], "count": len(found[:limit])})

    async def _retrieve(self, request: Request) -> JSONResponse:
        refused = await self._before(request, None)
        if refused is not None:
            return refused
        with self._lock:
            letter = self.letters.get(request.path_params["letter_id"])
            if letter is None:
                return _error(404, "letter not found")
            return JSONResponse(letter.as_json())

    async def _before(self, request: Request, key: str | None) -> JSONResponse | None:
        """Log the request, check the API key, and play the next scripted answer."""
        with self._lock:
            self.requests.append((request.method, request.url.path, key))
            scripted = self._script.popleft() if self._script else None
        expected = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return _error(401, "Your API key is not valid.")
        await request.body()  # the whole request arrives before any work (or stall) begins
        if scripted is None:
            return None
        if scripted.stall_seconds:
            await asyncio.sleep(scripted.stall_seconds)
            return None
        headers = {"Retry-After": scripted.retry_after} if scripted.retry_after else None
        if scripted.status == 429:
            return _error(429, "Too many requests.", headers)
        return _error(scripted.status, "Something went wrong on our side.", headers)

    def _problem(self, fields: dict[str, str], pdf: bytes) -> str | None:
        if not pdf.startswith(b"%PDF-"):
            return "file must be a PDF"
        if fields.get("use_type") not in ("marketing", "operational"):
            return "use_type must be marketing or operational"
        for prefix in ("to", "from"):
            for name in ADDRESS_FIELDS:
                if not fields.get(f"{prefix}[{name}]", "").strip():
                    return f"{prefix}.{name} is required"
        country = fields["to[address_country]"]
        if country in self.refused_countries:
            return f"to.address_country: we do not deliver to {country}"
        return None


def _nested(fields: dict[str, str], prefix: str) -> dict[str, str]:
    start = f"{prefix}["
    return {
        name[len(start) : -1]: value
        for name, value in fields.items()
        if name.startswith(start) and name.endswith("]")
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "status_code": status}}, status_code=status, headers=headers
    )


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@contextmanager
def serving(fake: FakePrintMail) -> Iterator[str]:
    """Serve `fake` with uvicorn on a free port of 127.0.0.1; yields its API base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            fake.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, name="fake-printmail", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake print-and-mail server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
