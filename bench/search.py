"""Case search and data import: figures against baselines measured in the same run.

Search: requests/s of `GET /api/v1/cases?q=` through the whole app (in-process ASGI, one
client), against the same LIKE query issued directly on the engine. Import: seconds to import
`cases/` and `recipients/` into an empty database, against only reading and validating the
files. Run: `python bench/search.py [--rounds N] [--postgres]`.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import configure_mappers

from app.cases.files import CaseFile
from app.config import PROJECT_ROOT, Settings
from app.dataset import service as dataset_service
from app.dataset.loader import load_folder
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.migrations import upgrade
from app.recipients.files import RecipientFile
from app.spelling import search_key

QUERIES = ["Makhambet", "Маkhambet", "Sichev", "Сычев", "Gyuzal", "Khrapunov", "Nobody"]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _rate(work: Callable[[str], Awaitable[object]], rounds: int) -> float:
    """Calls per second over `rounds` passes through QUERIES (median of 3 runs)."""
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            for q in QUERIES:
                await work(q)
        rates.append(rounds * len(QUERIES) / (time.perf_counter() - start))
    return statistics.median(rates)


async def _import(engine: AsyncEngine) -> float:
    start = time.perf_counter()
    async with AsyncSession(engine) as session:
        await dataset_service.import_recipients(session, folder=PROJECT_ROOT / "recipients")
        await dataset_service.import_cases(session, folder=PROJECT_ROOT / "cases")
        await session.commit()
    return time.perf_counter() - start


def _validate_only() -> float:
    """Median seconds to read and validate both folders (after one warm-up pass)."""
    runs = []
    for _ in range(6):
        start = time.perf_counter()
        load_folder(PROJECT_ROOT / "recipients", RecipientFile)
        load_folder(PROJECT_ROOT / "cases", CaseFile)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs[1:])


async def bench(url: str, label: str, rounds: int) -> None:
    configure_mappers()  # warm the ORM so the import figure is the import's own
    engine = make_engine(url)
    await upgrade(engine, PROJECT_ROOT / "alembic")
    baseline_import = _validate_only()
    import_seconds = await _import(engine)

    async def raw(q: str) -> object:
        async with engine.connect() as conn:
            pattern = f"%{search_key(q)}%"
            result = await conn.execute(
                text("SELECT id FROM cases WHERE search_text LIKE :p"), {"p": pattern}
            )
            return result.all()

    app = create_app(Settings(database_url=url))
    app.state.sessionmaker = make_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def api(q: str) -> object:
            response = await client.get("/api/v1/cases", params={"q": q})
            response.raise_for_status()
            return response.json()

        baseline = await _rate(raw, rounds)
        measured = await _rate(api, rounds)
    await engine.dispose()
    print(
        f"[{label}] import of 52 files into an empty database: {import_seconds * 1000:.0f} ms "
        f"(baseline, only reading and validating the files: {baseline_import * 1000:.0f} ms, "
        f"ratio {import_seconds / baseline_import:.1f}x)"
    )
    print(
        f"[{label}] search: API {measured:.0f} req/s, raw LIKE query {baseline:.0f} q/s "
        f"(API at {measured / baseline:.0%} of the baseline, which skips loading people, "
        f"counting and JSON)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", action="store_true", help="also on 127.0.0.1:5432")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        await bench(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", "sqlite", args.rounds)
    if args.postgres:
        name = f"appeals_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
            await bench(url, "postgresql", args.rounds)
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
