"""Public signing under load, against a minimal FastAPI baseline measured in the same run.

`POST /api/v1/campaigns/{slug}/signatures` (202 Accepted) is loaded with wrk (64 connections,
10 s, a Lua script giving every request a distinct supporter e-mail), served by `uvicorn
app.main:create_app --factory --workers N` on 127.0.0.1, on SQLite and on PostgreSQL, with 1
and 2 server processes. The signing limits are raised far out of reach and the form token's
minimum fill time set to 0 through APPEALS_ variables (the JSON route takes no form token).

- measured: the real route — per-IP/campaign/e-mail rate limits, the campaign lookup, the
  supporter upsert (SAVEPOINT), the duplicate check, the signature and its event row;
- baseline: a minimal FastAPI app in this file (`baseline_app`), started as its own uvicorn
  process with the same worker count: the same `SignatureIn` validation, the same campaign
  check skipped, and one INSERT into a plain table of the same database.

Prints requests/s and p50/p99 latency for both, and the ratios (target: ≥ 50% of the
baseline's throughput, p99 ≤ 2× the baseline's, at the same process count). Non-2xx answers
and socket errors are printed too; rows stored are counted afterwards. Nothing is asserted.

Note the load generator runs on the same machine as the servers and competes for its CPUs.

Run: `python bench/sign.py [--seconds 10] [--connections 64] [--backend sqlite|postgresql|both]
[--processes 1 2]`. PostgreSQL: 127.0.0.1:5432, user postgres (trust); a throwaway database is
created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.db import utcnow  # noqa: E402
from app.signatures import consent  # noqa: E402
from app.signatures.schemas import SignatureAccepted, SignatureIn  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
SLUG = "bench"
BASELINE_URL_ENV = "BENCH_SIGN_DATABASE_URL"
OFFICES = ["pace-president", "uk-prime-minister"]

baseline_metadata = MetaData()
baseline_signatures = Table(
    "bench_baseline_signature",
    baseline_metadata,
    Column("id", Integer, primary_key=True),
    Column("campaign_slug", String(100), nullable=False),
    Column("name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("city", String(100), nullable=False),
    Column("country", String(100), nullable=False),
    Column("message", Text, nullable=False),
    Column("consent_version", String(40), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


# --- the baseline app (imported by its own uvicorn process) -----------------------------------


def baseline_app() -> FastAPI:
    """Same body validation (`SignatureIn`), then one INSERT in its own transaction."""
    url = os.environ[BASELINE_URL_ENV]
    state: dict[str, AsyncEngine] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_engine(url)
        if url.startswith("sqlite"):

            @event.listens_for(engine.sync_engine, "connect")
            def _on_connect(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=10000")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()

        state["engine"] = engine
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/api/v1/campaigns/{slug}/signatures", status_code=202)
    async def sign(slug: str, data: SignatureIn) -> SignatureAccepted:
        async with state["engine"].begin() as connection:
            await connection.execute(
                insert(baseline_signatures).values(
                    campaign_slug=slug,
                    name=data.name,
                    email=str(data.email),
                    city=data.city,
                    country=data.country,
                    message=data.message,
                    consent_version=data.consent_version,
                    created_at=utcnow(),
                )
            )
        return SignatureAccepted()

    return app


# --- setup --------------------------------------------------------------------------------------


def app_env(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "APPEALS_DATABASE_URL": url,
        "APPEALS_SIGNING_RATE_PER_IP": "1000000000/hour",
        "APPEALS_SIGNING_RATE_PER_EMAIL": "1000000000/hour",
        "APPEALS_SIGNING_RATE_PER_CAMPAIGN": "1000000000/hour",
        "APPEALS_SIGNING_MIN_FILL_SECONDS": "0",
        "APPEALS_RUN_WORKER": "false",
        "APPEALS_MAIL_TRANSPORT": "outbox",
        BASELINE_URL_ENV: url,
    }


async def open_campaign(url: str, *, slug: str, offices: list[str], description: str = "") -> None:
    """Migrations, the report's data and an open campaign `slug` writing to `offices`, round
    the clock (the set-up bench/pages.py shares)."""
    from app.campaigns import service as campaigns_service
    from app.campaigns.models import CampaignStatus
    from app.campaigns.schemas import CampaignCreate, CampaignUpdate, Pacing, Targets
    from app.config import Settings
    from app.dataset import service as dataset_service
    from app.db import make_engine
    from app.migrations import upgrade
    from app.staff.models import Role, StaffUser
    from app.templating.kit import LetterKit

    settings = Settings(database_url=url)
    engine = make_engine(url)
    try:
        await upgrade(engine, settings.alembic_dir)
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await dataset_service.import_recipients(session, folder=settings.recipients_dir)
            await dataset_service.import_cases(session, folder=settings.cases_dir)
            user = StaffUser(email="bench@staff.example", role=Role.campaigner)
            session.add(user)
            await session.flush()
            kit = LetterKit.from_settings(settings)
            campaign = await campaigns_service.create_campaign(
                session,
                data=CampaignCreate(
                    slug=slug,
                    title="Free Maks Bokayev and Talgat Ayan",
                    description=description,
                    cases=["bokayev-ayan"],
                    targets=Targets(recipients=offices),
                    template="individual-appeal",
                    pacing=Pacing(
                        office_hours_start=0, office_hours_end=24, office_days=[*range(7)]
                    ),
                ),
                actor=user,
                library=kit.library,
            )
            await campaigns_service.update_campaign(
                session,
                campaign=campaign,
                changes=CampaignUpdate(status=CampaignStatus.open),
                actor=user,
                library=kit.library,
            )
            await session.commit()
    finally:
        await engine.dispose()


async def prepare(url: str) -> None:
    """Migrations, the data, an open campaign, and the baseline's table."""
    await open_campaign(url, slug=SLUG, offices=OFFICES)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(baseline_metadata.create_all)
    finally:
        await engine.dispose()


async def count_rows(url: str, tag: str) -> tuple[int, int]:
    """Signatures stored by the app, rows stored by the baseline, for this run's tag."""
    from app.signatures.models import Supporter

    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            ours = await session.scalar(
                select(func.count()).select_from(Supporter).where(Supporter.email.like(f"%{tag}%"))
            )
            base = await session.scalar(
                select(func.count())
                .select_from(baseline_signatures)
                .where(baseline_signatures.c.email.like(f"%{tag}%"))
            )
    finally:
        await engine.dispose()
    return int(ours or 0), int(base or 0)


# --- servers and load ---------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, target: str, processes: int, env: dict[str, str], app_dir: Path) -> None:
        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--factory",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(processes),
            "--app-dir",
            str(app_dir),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.proc = subprocess.Popen(  # noqa: S603
            cmd,
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"http://{HOST}:{self.port}{path}", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-200000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # uvicorn and its workers (own group)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()


LUA = """
local tag = "%(tag)s"
local counter = 0
tid = 0
local threads = {}
statuses = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"name":"Bench Supporter %%d","email":"s%%d-%%d-%%s@example.org","city":"London",'
    .. '"country":"United Kingdom","message":"I am a teacher; free speech matters.",'
    .. '"consent":true,"consent_version":"%(consent)s"}',
    counter, tid, counter, tag)
  return wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
        for code, n in pairs(thread:get("statuses")) do merged[code] = (merged[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(merged) do table.insert(parts, code .. ":" .. n) end
  io.write("STATUSES " .. table.concat(parts, " ") .. "\\n")
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"non2xx":%%d,'
    .. '"connect":%%d,"read":%%d,"write":%%d,"timeout":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
"""


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str


def load(port: int, tag: str, seconds: float, connections: int, threads: int) -> Figures:
    script = LUA % {
        "tag": tag,
        "consent": consent.CURRENT,
        "path": f"/api/v1/campaigns/{SLUG}/signatures",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        out = subprocess.run(  # noqa: S603
            [
                "/usr/bin/wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                lua.name,
                f"http://{HOST}:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line.removeprefix("WRKJSON "))
    statuses = next(x for x in out.splitlines() if x.startswith("STATUSES")).split()[1:]
    errors = ", ".join(
        [f"HTTP {s.replace(':', ' ×')}" for s in sorted(statuses) if not s.startswith("2")]
        + [f"{k} {data[k]}" for k in ("connect", "read", "write", "timeout") if data[k]]
    )
    return Figures(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        requests=data["requests"],
        errors=errors or "none",
    )


def measure(
    target: str, ready: str, app_dir: Path, url: str, processes: int, args: argparse.Namespace
) -> tuple[Figures, str]:
    tag = secrets.token_hex(4)
    server = Server(target, processes, app_env(url), app_dir)
    try:
        server.wait_ready(ready)
        load(server.port, f"warm{tag}", 1, args.connections, args.threads)  # warm-up, 1 s
        figures = load(server.port, tag, args.seconds, args.connections, args.threads)
        log = server.output()
    finally:
        server.stop()
    errors = [x for x in log.splitlines() if x.startswith(("sqlalchemy.exc.", "ERROR"))]
    if errors:
        kinds = sorted({x[:90] for x in errors})
        return figures, f"{tag} ({len(errors)} logged errors: {'; '.join(kinds)})"
    return figures, tag


async def run_backend(url: str, label: str, args: argparse.Namespace) -> list[str]:
    await prepare(url)
    rows = []
    for processes in args.processes:
        base, base_tag = measure(
            "sign:baseline_app", "/health", ROOT / "bench", url, processes, args
        )
        ours, ours_tag = measure(
            "app.main:create_app",
            f"/api/v1/campaigns/{SLUG}/signing",
            ROOT,
            url,
            processes,
            args,
        )
        stored_ours, _ = await count_rows(url, ours_tag.split()[0])
        _, stored_base = await count_rows(url, base_tag.split()[0])
        for name, f, stored, tag in (
            ("baseline", base, stored_base, base_tag),
            ("sign API", ours, stored_ours, ours_tag),
        ):
            rows.append(
                f"{label:<10} {processes:>2}  {name:<9} {f.rps:8.0f} {f.p50_ms:8.1f} {f.p99_ms:8.1f}"
                f"  {stored:>7}  errors: {f.errors}"
                + (f"  [{tag.split(maxsplit=1)[1]}]" if " " in tag else "")
            )
        ok_rps = ours.rps >= 0.5 * base.rps
        ok_p99 = ours.p99_ms <= 2 * base.p99_ms
        rows.append(
            f"{label:<10} {processes:>2}  ratio     {ours.rps / base.rps:8.0%} {ours.p50_ms / base.p50_ms:7.1f}× {ours.p99_ms / base.p99_ms:7.1f}×"
            f"  target rps ≥ 50%: {'met' if ok_rps else 'MISSED'}; p99 ≤ 2×: {'met' if ok_p99 else 'MISSED'}"
        )
        print("\n".join(rows[-3:]), flush=True)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="both", help="database"
    )
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    if not os.path.exists("/usr/bin/wrk"):  # noqa: ASYNC240
        raise SystemExit("wrk not found (apt-get install wrk)")
    print(
        f"{args.connections} connections, {args.seconds:g} s each (after a 1 s warm-up), wrk -t{args.threads}, {os.cpu_count()} CPUs shared with the servers"
    )
    header = f"{'backend':<10} {'N':>2}  {'app':<9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  {'stored':>7}"
    print(header, flush=True)
    rows: list[str] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            rows += await run_backend(
                f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", "sqlite", args
            )
    if args.backend in ("postgresql", "both"):
        name = f"appeals_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            rows += await run_backend(
                f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", "postgresql", args
            )
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
    print("\nsummary")
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
