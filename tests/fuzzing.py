"""Fuzzing the whole API: a real `appeals serve` with data in it, and schemathesis run against it.

Shared by the bounded test that CI runs (tests/test_fuzz.py) and the long runs of
`bench/fuzz.py`. The server is a subprocess on 127.0.0.1 with its own database and var folder,
a random token secret and inbound secret, and an admin's API token. It is seeded through the
API (a verified office, an open campaign writing to three offices by e-mail, post and web form,
letters, a print batch, inbound mail and a response), and schemathesis is told those ids
through a config file's dictionaries: most generated requests use a real id, the rest anything
the schema allows. Two passes, since both take `Authorization: Bearer`: every operation with the
staff token except `POST /api/v1/inbound/email`, which gets the inbound secret.

What fails a run: a 5xx (`not_a_server_error`) or a documented response whose body does not
match its schema (`response_schema_conformance`).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "responses" / "samples"
SLUG = "fuzz-campaign"
OFFICES = ["pace-president", "uk-prime-minister", "us-secretary-of-state"]
CHECKS = "not_a_server_error,response_schema_conformance"
INBOUND = "/api/v1/inbound/email"


@dataclass
class Target:
    base: str
    token: str
    inbound_secret: str
    log: Path
    ids: dict[str, list[str | int]] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _app(env: dict[str, str], folder: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"appeals {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@contextmanager
def fuzz_target(database_url: str, folder: Path) -> Iterator[Target]:
    """`appeals serve` on `database_url` (empty), migrated, imported and seeded."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPEALS_")}
    inbound_secret = secrets.token_urlsafe(24)
    env.update(
        APPEALS_DATABASE_URL=database_url,
        APPEALS_VAR_DIR=str(folder / "var"),
        APPEALS_TOKEN_SECRET=secrets.token_urlsafe(32),
        APPEALS_INBOUND_SECRET=inbound_secret,
        # Fuzzing signs thousands of times from one address: the limits would answer only 429.
        APPEALS_SIGNING_RATE_PER_IP="1000000/minute",
        APPEALS_SIGNING_RATE_PER_CAMPAIGN="1000000/minute",
        APPEALS_SIGNING_RATE_PER_EMAIL="1000000/minute",
    )
    _app(env, folder, "db", "upgrade")
    _app(env, folder, "import")
    token = _app(env, folder, "users", "create", "fuzz@example.org", "--role", "admin")
    token = token.strip().splitlines()[-1]
    port = _free_port()
    log = folder / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        target = Target(f"http://127.0.0.1:{port}", token, inbound_secret, log)
        _wait(target, server)
        target.ids = seed(target)
        yield target
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait(target: Target, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {target.log.read_text()}")
        try:
            httpx.get(f"{target.base}/api/v1/health", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer in {timeout}s")


def seed(target: Target) -> dict[str, list[str | int]]:
    """Data for the fuzzer to find: returns the ids per path parameter name."""
    auth = {"Authorization": f"Bearer {target.token}"}
    with httpx.Client(base_url=target.base, headers=auth, timeout=30) as api:

        def ok(response: httpx.Response) -> httpx.Response:
            if response.status_code >= 400:
                raise RuntimeError(f"seeding: {response.request.url} {response.text}")
            return response

        office = ok(api.get("/api/v1/recipients/pace-president")).json()
        email = next(c for c in office["channels"] if c["kind"] == "email")
        ok(
            api.patch(
                f"/api/v1/recipients/pace-president/channels/{email['id']}",
                json={"address": "president@pace.example", "source": "fuzz seed"},
            )
        )
        campaign = {
            "slug": SLUG,
            "title": "Free Maks Bokayev and Talgat Ayan",
            "cases": ["bokayev-ayan"],
            "targets": {"recipients": OFFICES},
            "template": "individual-appeal",
            "channel_preference": ["email", "postal", "web_form"],
        }
        ok(api.post("/api/v1/campaigns", json=campaign))
        ok(api.patch(f"/api/v1/campaigns/{SLUG}", json={"status": "open"}))
        for name in ("Ada Lovelace", "Сауле Ахметова"):
            ok(api.post(f"/api/v1/campaigns/{SLUG}/letters", json={"name": name}))
        deliveries = ok(api.get(f"/api/v1/campaigns/{SLUG}/deliveries")).json()
        batch = ok(api.post(f"/api/v1/campaigns/{SLUG}/print-batches")).json()
        inbound = []
        for sample in sorted(SAMPLES.glob("*.eml")):
            stored = api.post(
                INBOUND,
                content=sample.read_bytes(),
                headers={
                    "Authorization": f"Bearer {target.inbound_secret}",
                    "Content-Type": "message/rfc822",
                },
            )
            inbound.append(ok(stored).json()["id"])
        letter_ids = sorted({d["letter_id"] for d in deliveries})
        answer = {
            "campaign": SLUG,
            "office": "uk-prime-minister",
            "received_on": "2026-12-01",
            "text": "Your letter has been received.",
        }
        response = ok(api.post("/api/v1/responses", json=answer)).json()
        case = ok(api.get("/api/v1/cases/bokayev-ayan")).json()
    return {
        "slug": [SLUG],
        "case_id": ["bokayev-ayan", "sychev"],
        "person_id": [p["id"] for p in case["people"]],
        "recipient_id": OFFICES,
        "channel_id": [c["id"] for c in office["channels"]],
        "letter_id": list(letter_ids),
        "delivery_id": [d["id"] for d in deliveries],
        "batch_id": [batch["id"]],
        "message_id": inbound,
        "response_id": [response["id"]],
        "channel": ["email", "postal", "web_form"],
    }


def write_config(target: Target, folder: Path) -> Path:
    """A schemathesis.toml giving the seeded ids as dictionaries."""
    lines = ["[parameters]"]
    lines += [
        f'"path.{name}" = {{ dictionary = "{name}", probability = 0.8 }}' for name in target.ids
    ]
    for name, values in target.ids.items():
        lines += ["", f"[dictionaries.{name}]", f"values = {json.dumps(values)}"]
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_schemathesis(
    target: Target,
    config: Path,
    *,
    inbound: bool,
    max_examples: int,
    seed: int | None = None,
    workers: int = 1,
) -> subprocess.CompletedProcess[str]:
    """One pass: the inbound route with its secret, or every other operation as an admin.

    One worker by default: with several threads, Hypothesis' parsing of lambdas' source can hit
    CPython 3.11's AST recursion-depth race (python/cpython#106905) and report a runtime error
    that is the tool's, not ours."""
    secret = target.inbound_secret if inbound else target.token
    selection = (
        ("--include-path", INBOUND)
        if inbound
        else ("--exclude-path", INBOUND)  # its one operation, POST
    )
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{target.base}/openapi.json",
        "--header",
        f"Authorization: Bearer {secret}",
        "--checks",
        CHECKS,
        "--workers",
        str(workers),
        "--max-examples",
        str(max_examples),
        *(("--seed", str(seed)) if seed is not None else ()),
        *selection,
    ]
    return subprocess.run(
        command, cwd=config.parent, capture_output=True, text=True, timeout=3600, check=False
    )
