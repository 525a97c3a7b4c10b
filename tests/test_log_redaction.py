"""Secret links never reach a log: a real `appeals serve`, its log in a file, read back."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Route

from app.config import Settings
from app.logs import REDACTED, RedactingFilter, redact
from app.main import create_app
from app.signatures.tokens import new_token
from tests.test_cli import _free_port, _wait_for


def _token() -> str:
    return new_token()[0]


@pytest.fixture(scope="module", params=["text", "json"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`appeals serve` on a fresh SQLite database, stdout and stderr going to one log file, in
    each APPEALS_LOG_FORMAT."""
    folder = tmp_path_factory.mktemp("logs")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("APPEALS_") or k == "APPEALS_TOKEN_SECRET"
    }
    env["APPEALS_VAR_DIR"] = str(folder / "var")
    env["APPEALS_LOG_FORMAT"] = request.param
    log_path = folder / "serve.log"
    port = _free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--migrate", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/api/v1/health", process)
            yield f"http://127.0.0.1:{port}", log_path
        finally:
            process.terminate()
            process.wait(timeout=30)


class TestServeAccessLog:
    def test_link_tokens_in_paths_and_queries_are_not_written(
        self, served: tuple[str, Path]
    ) -> None:
        base, log_path = served
        confirm, status, erase, query, named, hidden = (_token() for _ in range(6))
        with httpx.Client(base_url=base, follow_redirects=False) as client:
            client.get(f"/confirm/{confirm}")
            client.get(f"/s/{status}")
            client.post(f"/s/{erase}/erase")
            client.get(f"/c/no-such-campaign?lang=ru&token={query}")
            client.get(f"/api/v1/health?key={named[:12]}")
            client.get(f"/c/no-such-campaign?next={quote('/s/' + hidden, safe='')}")
            client.get("/api/v1/health")  # the last line, so the others are surely written

        text = _logged(log_path)
        for secret in (confirm, status, erase, query, named[:12], hidden):
            assert secret not in text
        # The request lines are still there, readable.
        assert f'"GET /confirm/{REDACTED} HTTP/1.1" 404' in text
        assert f'"GET /s/{REDACTED} HTTP/1.1"' in text
        assert f'"POST /s/{REDACTED}/erase HTTP/1.1"' in text
        assert f'"GET /c/no-such-campaign?lang=ru&token={REDACTED} HTTP/1.1"' in text
        assert f'"GET /api/v1/health?key={REDACTED} HTTP/1.1" 200' in text
        assert f"/c/no-such-campaign?next={REDACTED}" in text


def _logged(log_path: Path) -> str:
    """The log's text; of a JSON log (every line an object), its messages, one a line."""
    lines = log_path.read_text().splitlines()
    if not lines or not lines[0].startswith("{"):
        return "\n".join(lines)
    entries = [json.loads(line) for line in lines]  # every line: a JSON log is nothing else
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    return "\n".join(entry["message"] for entry in entries)


class TestRedactingFilter:
    def _handler(self) -> tuple[logging.Handler, io.StringIO]:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(RedactingFilter())
        return handler, stream

    def test_our_loggers_are_redacted_in_message_arguments_and_traceback(self) -> None:
        token = _token()
        handler, stream = self._handler()
        logger = logging.getLogger("app.test_log_redaction")
        logger.addHandler(handler)
        try:
            try:
                raise RuntimeError(f"failed at /s/{token}/data.json")
            except RuntimeError:
                logger.exception("unhandled error on %s %s", "GET", f"/confirm/{token}")
        finally:
            logger.removeHandler(handler)
        text = stream.getvalue()
        assert token not in text
        assert f"unhandled error on GET /confirm/{REDACTED}" in text
        assert f"failed at /s/{REDACTED}/data.json" in text

    def test_other_text_is_left_alone(self) -> None:
        line = '127.0.0.1:5 - "GET /api/v1/campaigns/free-bokayev-ayan/schedule?page=2 HTTP/1.1"'
        assert redact(line) == line


def _paths(routes: Sequence[BaseRoute]) -> Iterator[str]:
    """Every route's path, into included routers too (FastAPI keeps them as one route each)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _paths(included.routes)
        elif isinstance(route, APIRoute | Route):
            yield route.path


class TestEveryTokenRouteIsCovered:
    def test_each_route_with_a_token_segment_is_redacted(self) -> None:
        app = create_app(Settings(token_secret="x" * 32))
        token = _token()
        paths = [path for path in _paths(app.routes) if re.search(r"\{[^}]*token[^}]*\}", path)]
        assert paths  # /confirm/{token}, /s/{token}, ...
        for path in paths:
            concrete = re.sub(r"\{[^}]*token[^}]*\}", token, path)
            assert token not in redact(concrete), path
