"""The queue and a campaign's reports at 10,000 and at 1,000,000 deliveries (issue 15).

Both sizes are built with bulk SQL (PostgreSQL: generate_series; SQLite: a recursive CTE) into
throwaway databases migrated by Alembic to the real schema: the 21 offices of the shipped
directory, 50 campaigns, one letter and one event per delivery. What a figure should depend on
is the same at both sizes, and only the history around it grows:

- the same 1,000 e-mail deliveries due now, and the same 1,423 e-mails sent in the last day;
- campaign "scale-00" has the same 200 deliveries at every size (2% of the small table: 20 of
  them due, 28 sent in the last day): its reports must not grow with the table;
- campaign "scale-01" is 2% of the table at every size (200 deliveries, then 20,000): what
  reads all of its rows (its CSV, the dashboard's counts) grows with it, what reads a page
  must not;
- everything else is history: sent, delivered, bounced, failed, posted or done 31 days to two
  years ago, so outside the pacing window and the dashboard's 30 days.

Measured, each size in turn within a round (which goes first alternates), each in a
transaction that is rolled back (every round sees the same data), on one connection per
database kept for the whole run, so that from the sixth round on PostgreSQL may use its generic
plan of each prepared statement, as a long-running worker's connection does:

- claim: a worker's e-mail claim of 200 through the real round (`EmailRound._claim`: due rows
  locked, each office's pacing counted and held back, leases taken, messages built);
- pacing count: the recent-sends count alone, for every office;
- per campaign, through the real routes (httpx, in process), as staff: the dashboard, the
  schedule, the last page of the API's delivery list, the staff delivery log's first and last
  page (by cursor where the code has them, else by offset or page number), the deliveries CSV;
  and the API's last page by offset, which still works.

Prints per figure and size the median and min–max over the rounds and the last round, and the
ratios 1M / 10k of the medians and of the minima (target: ≤ 1.5×; claims: ≥ 0.8× the
claims/s, the same). On PostgreSQL it then prints the generic plan of every SELECT each
measure ran at the larger size (`plan_cache_mode = force_generic_plan`), shortened to its
scans and joins. Nothing is asserted.

Run: `python bench/scale.py [--rounds 7] [--backend sqlite|postgresql|both]
[--sizes 10000 1000000]`. PostgreSQL: 127.0.0.1:5432, user postgres (trust).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import event, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.campaigns import service as campaigns_service  # noqa: E402
from app.campaigns.models import Campaign  # noqa: E402
from app.campaigns.schemas import CampaignCreate, Pacing, Targets  # noqa: E402
from app.config import Settings  # noqa: E402
from app.dataset import service as dataset_service  # noqa: E402
from app.db import make_engine, utcnow  # noqa: E402
from app.delivery import records  # noqa: E402
from app.delivery.email.round import EmailRound  # noqa: E402
from app.delivery.email.transport import OutboxTransport  # noqa: E402
from app.delivery.models import Delivery  # noqa: E402
from app.delivery.queue import pacing  # noqa: E402
from app.letters.models import Letter  # noqa: E402
from app.main import create_app  # noqa: E402
from app.migrations import upgrade  # noqa: E402
from app.recipients.models import Recipient  # noqa: E402
from app.staff import service as staff_service  # noqa: E402
from app.staff import sessions  # noqa: E402
from app.staff.models import Role  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DUE = 1_000
RECENT = 1_423
SMALL = 10_000  # the measured campaign's rows all lie within the first SMALL
CAMPAIGNS = 50
CLAIM = 200
PAGE = 50
MEASURED = "scale-00"  # the same 200 deliveries at every size
GROWING = "scale-01"  # 2% of the deliveries at every size
# The delivery log pages by cursor (after the change of issue 15); before, by offset only.
CURSORS = hasattr(records, "Cursor")


# --- building a size ---------------------------------------------------------------------------


def _series(dialect: str, size: int) -> str:
    """A CTE `g(x)` of 1..size, then `r`: each row's campaign, office, channel, status and age."""
    if dialect == "postgresql":
        numbers = f"g(x) AS (SELECT generate_series(1, {size}))"
    else:
        numbers = f"g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {size})"  # noqa: S608 - an int
    recent = DUE + RECENT
    # Every piece of this SQL is a constant or a number of this file's: nothing comes from outside.
    return f"""WITH RECURSIVE {numbers}, r AS (
      SELECT x,
        CASE WHEN x <= {SMALL} AND x % {CAMPAIGNS} = 0 THEN 0
             ELSE 1 + x % {CAMPAIGNS - 1} END AS ck,
        x % 21 AS ok,
        CASE WHEN x > {recent} AND x % 20 = 0 THEN 'postal'
             WHEN x > {recent} AND x % 20 = 1 THEN 'web_form' ELSE 'email' END AS channel,
        CASE WHEN x <= {DUE} THEN 'queued'
             WHEN x <= {recent} THEN 'sent'
             WHEN x % 20 = 0 THEN CASE WHEN x % 3 = 0 THEN 'delivered' ELSE 'posted' END
             WHEN x % 20 = 1 THEN 'done'
             WHEN x % 10 = 2 THEN 'bounced'
             WHEN x % 10 = 3 THEN 'failed'
             WHEN x % 10 = 4 THEN 'sent' ELSE 'delivered' END AS status,
        CASE WHEN x <= {DUE} THEN 7200
             WHEN x <= {recent} THEN (x - {DUE}) * 60
             ELSE {31 * 86400} + (CAST(x AS bigint) * 7919) % {700 * 86400} END AS ago
      FROM g)"""  # noqa: S608


def _at(dialect: str, seconds_ago: str) -> str:
    """The SQL of the time `seconds_ago` before :now (an epoch), as the column type stores it."""
    if dialect == "postgresql":
        return f"to_timestamp(CAST(:now AS bigint) - ({seconds_ago}))"
    return f"(datetime(:now - ({seconds_ago}), 'unixepoch') || '.000000')"


async def _bulk(connection: AsyncConnection, size: int, now: datetime) -> None:
    """Letters, deliveries and their events, one each per row of `_series`."""
    dialect = connection.dialect.name
    columns = await connection.run_sync(
        lambda c: {col["name"] for col in inspect(c).get_columns("deliveries")}
    )
    extra = ", campaign_id" if "campaign_id" in columns else ""
    extra_value = ", c.id" if extra else ""
    cte = _series(dialect, size)
    changed, created = _at(dialect, "ago"), _at(dialect, "ago + 3600")
    next_at = _at(dialect, f"CASE WHEN x <= {DUE} THEN x ELSE ago END")
    joins = "JOIN bench_campaigns c ON c.k = r.ck JOIN bench_offices o ON o.k = r.ok"
    statements = [
        f"""{cte} INSERT INTO letters (id, campaign_id, recipient_id, identity, channel,
            sender_name, sender_city, sender_country, personal_message, subject, body, language,
            template_name, template_version, created_at)
          SELECT x, c.id, o.id, 'bench-' || x, channel, 'Supporter ' || x, 'Lyon', 'France', '',
            'Free Maks Bokayev and Talgat Ayan', 'Dear Sir or Madam, please act. Yours.', 'en',
            'individual-appeal', 'bench', {created} FROM r {joins}""",  # noqa: S608
        f"""{cte} INSERT INTO deliveries (id, letter_id, recipient_id, channel, address, status,
            status_changed_at, attempts, next_attempt_at, idempotency_key, created_at{extra})
          SELECT x, x, o.id, channel,
            CASE channel WHEN 'email' THEN o.id || '@example.org'
                 WHEN 'postal' THEN '1 Rue de la Loi, Brussels' ELSE 'https://example.org/f' END,
            status, {changed}, CASE WHEN status = 'queued' THEN 0 ELSE 1 END, {next_at},
            'bench-' || x, {created}{extra_value} FROM r {joins}""",  # noqa: S608
        f"""{cte} INSERT INTO delivery_events (delivery_id, at, from_status, to_status, attempt,
            actor)
          SELECT x, {changed}, CASE WHEN status = 'queued' THEN NULL ELSE 'sending' END, status,
            CASE WHEN status = 'queued' THEN 0 ELSE 1 END, 'bench' FROM r""",  # noqa: S608
    ]
    for statement in statements:
        await connection.execute(text(statement), {"now": int(now.timestamp())})
    if dialect == "postgresql":
        for table in ("letters", "deliveries", "delivery_events"):
            await connection.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"),
                {"n": size + 1},
            )


@dataclass
class Size:
    rows: int
    url: str
    engine: AsyncEngine
    settings: Settings
    token: str
    cookie: str
    connection: AsyncConnection | None = None
    app: FastAPI | None = None
    times: dict[str, list[float]] = field(default_factory=dict)
    # The statements of each measure and their parameters, as the driver got them.
    statements: dict[str, dict[str, Sequence[Any]]] = field(default_factory=dict)
    measuring: str = ""
    campaigns: dict[str, dict[str, object]] = field(default_factory=dict)


async def build(url: str, rows: int, folder: Path, now: datetime) -> Size:
    """A database of `rows` deliveries at `url`, migrated, with staff to ask for the reports."""
    settings = Settings(database_url=url, var_dir=folder / "var")
    engine = make_engine(url)
    await upgrade(engine, settings.alembic_dir)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await dataset_service.import_recipients(session, folder=settings.recipients_dir)
        await dataset_service.import_cases(session, folder=settings.cases_dir)
        user, token = await staff_service.create_user(
            session, email="bench@example.org", role=Role.campaigner, actor="bench"
        )
        cookie, _ = sessions.start(
            session,
            user=user,
            timeouts=sessions.Timeouts(idle=timedelta(days=1), absolute=timedelta(days=1)),
        )
        offices = list(await session.scalars(select(Recipient.id).order_by(Recipient.id)))
        kit_library = create_app(settings).state.letter_kit.library
        campaigns = []
        for k in range(CAMPAIGNS):
            campaign = await campaigns_service.create_campaign(
                session,
                data=CampaignCreate(
                    slug=f"scale-{k:02d}",
                    title=f"Free Maks Bokayev and Talgat Ayan ({k})",
                    cases=["bokayev-ayan"],
                    targets=Targets(recipients=offices),
                    template="individual-appeal",
                    pacing=Pacing(
                        per_office_per_hour=20,
                        per_office_per_day=200,
                        office_hours_start=0,
                        office_hours_end=24,
                        office_days=list(range(7)),
                        jitter_seconds=0,
                    ),
                ),
                actor=user,
                library=kit_library,
            )
            campaigns.append(campaign.id)
        await session.commit()
    if len(offices) != 21:
        print(f"note: the directory has {len(offices)} offices, not 21")
    async with engine.begin() as connection:
        for table, values in (("bench_offices", offices), ("bench_campaigns", campaigns)):
            kind = "TEXT" if table == "bench_offices" else "INTEGER"
            await connection.execute(text(f"CREATE TEMP TABLE {table} (k INTEGER, id {kind})"))
            await connection.execute(
                text(f"INSERT INTO {table} (k, id) VALUES (:k, :id)"),  # noqa: S608
                [{"k": k, "id": v} for k, v in enumerate(values)],
            )
        await _bulk(connection, rows, now)
    if engine.dialect.name == "postgresql":
        # As autovacuum would have long done for history this old (statistics, visibility).
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
    size = Size(rows, url, engine, settings, token, cookie)
    size.campaigns = {slug: await _positions(engine, slug) for slug in (MEASURED, GROWING)}

    def seen(_c: Any, _k: Any, statement: str, parameters: Any, *_: Any) -> None:
        if size.measuring and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            size.statements.setdefault(size.measuring, {})[statement] = parameters

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    return size


def _literal(value: object) -> str:
    """A parameter as SQL, for EXECUTE (bench data only: ids, names, states, times)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


async def generic_plans(size: Size) -> None:
    """PostgreSQL: the plan each statement of each measure gets as a generic plan (what a
    prepared statement runs after five executions), shortened to its scans and joins."""
    async with size.engine.connect() as connection:
        await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        for name, statements in size.statements.items():
            print(f"[postgresql] generic plans of {name}:")
            for number, (statement, parameters) in enumerate(statements.items()):
                await connection.exec_driver_sql(f"PREPARE bench_{number} AS {statement}")
                values = ", ".join(_literal(v) for v in parameters)
                execute = (
                    f"EXECUTE bench_{number}({values})" if values else f"EXECUTE bench_{number}"
                )
                plan = [row[0] for row in await connection.exec_driver_sql(f"EXPLAIN {execute}")]
                await connection.exec_driver_sql(f"DEALLOCATE bench_{number}")
                nodes = [
                    line.strip().removeprefix("->  ").split("  (cost")[0]
                    for line in plan
                    if "Scan" in line or "Join" in line or "Nested Loop" in line
                ]
                print(f"[postgresql]   {statement.split()[1][:40]:40s} {'; '.join(nodes)[:400]}")


# --- measuring ---------------------------------------------------------------------------------


@asynccontextmanager
async def rolled_back(size: Size) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the size's one connection, whose commits are undone afterwards."""
    assert size.connection is not None
    transaction = await size.connection.begin()
    try:
        yield async_sessionmaker(
            bind=size.connection,
            expire_on_commit=False,
            autoflush=False,
            join_transaction_mode="create_savepoint",
        )
    finally:
        await transaction.rollback()


Measure = Callable[[Size, async_sessionmaker[AsyncSession], httpx.AsyncClient], Awaitable[object]]


async def claim(size: Size, maker: async_sessionmaker[AsyncSession], _: httpx.AsyncClient) -> int:
    now = utcnow()
    worker = EmailRound(
        maker,
        size.settings,
        OutboxTransport(size.settings.var_dir / "outbox"),
        name="bench",
        clock=lambda: now,
    )
    claimed = await worker._claim(CLAIM)  # the claim alone: nothing is sent
    return len(claimed)


async def pacing_count(
    size: Size, maker: async_sessionmaker[AsyncSession], _: httpx.AsyncClient
) -> int:
    async with maker() as session:
        offices = list(await session.scalars(select(Recipient.id)))
        counts = await pacing.recent_sends(session, offices=offices, now=utcnow())
        return sum(day for _, day in counts.values())


def route(path: Callable[[Size], str], *, page: bool = False) -> Measure:
    """GET the path (of the size) as staff: with the API token, or the session cookie."""

    async def get(
        size: Size, _: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
    ) -> int:
        url = path(size)
        if page:
            response = await client.get(url, cookies={sessions.SESSION_COOKIE: size.cookie})
        else:
            response = await client.get(url, headers={"Authorization": f"Bearer {size.token}"})
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
        return len(response.content)

    return get


def _last_api_page(slug: str, *, by_offset: bool = False) -> Callable[[Size], str]:
    """The API list's last page: after the id before it, or (without cursors) by offset."""

    def path(size: Size) -> str:
        rows, before_last = size.campaigns[slug]["rows"], size.campaigns[slug]["before_last"]
        base = f"/api/v1/campaigns/{slug}/deliveries?limit={PAGE}"
        if CURSORS and not by_offset:
            return f"{base}&after={before_last}"
        return f"{base}&offset={int(rows) - PAGE}"

    return path


def _last_staff_page(slug: str) -> Callable[[Size], str]:
    """The staff log's last page: older than the row before it, or (without cursors) by number."""

    def path(size: Size) -> str:
        rows = int(size.campaigns[slug]["rows"])
        if CURSORS:
            return f"/staff/campaigns/{slug}/deliveries?before={size.campaigns[slug]['cursor']}"
        return f"/staff/campaigns/{slug}/deliveries?page={-(-rows // PAGE)}"

    return path


def _fixed(path: str) -> Callable[[Size], str]:
    return lambda _size: path


def _reports(slug: str, label: str) -> dict[str, Measure]:
    return {
        f"dashboard ({label})": route(_fixed(f"/api/v1/campaigns/{slug}/dashboard")),
        f"schedule ({label})": route(_fixed(f"/api/v1/campaigns/{slug}/schedule")),
        f"log, last page, API ({label})": route(_last_api_page(slug)),
        f"staff log page ({label})": route(
            _fixed(f"/staff/campaigns/{slug}/deliveries"), page=True
        ),
        f"staff log, last page ({label})": route(_last_staff_page(slug), page=True),
        f"deliveries CSV ({label})": route(_fixed(f"/api/v1/campaigns/{slug}/deliveries.csv")),
    }


MEASURES: dict[str, Measure] = {
    "claim of 200": claim,
    "pacing count": pacing_count,
    **_reports(MEASURED, "200"),
    **_reports(GROWING, "2%"),
    "log, last page by offset, API (2%)": route(_last_api_page(GROWING, by_offset=True)),
}


async def _positions(engine: AsyncEngine, slug: str) -> dict[str, object]:
    """How many deliveries the campaign has, the id before its API list's last page and the
    cursor before its staff log's last page (found through letters: any schema has them)."""
    async with AsyncSession(engine) as session:
        of_campaign = (
            select(Delivery.id, Delivery.status_changed_at)
            .join(Letter, Letter.id == Delivery.letter_id)
            .join(Campaign, Campaign.id == Letter.campaign_id)
            .where(Campaign.slug == slug)
        )
        ids = list(await session.scalars(of_campaign.with_only_columns(Delivery.id)))
        ids.sort()
        last_page_start = (-(-len(ids) // PAGE) - 1) * PAGE
        at, delivery_id = (
            await session.execute(
                of_campaign.with_only_columns(Delivery.status_changed_at, Delivery.id)
                .order_by(Delivery.status_changed_at.desc(), Delivery.id.desc())
                .offset(last_page_start - 1)
                .limit(1)
            )
        ).one()
    micros = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return {"rows": len(ids), "before_last": ids[-PAGE - 1], "cursor": f"{micros}_{delivery_id}"}


async def measure(size: Size, name: str, check: dict[tuple[str, int], object]) -> None:
    async with rolled_back(size) as maker:
        if size.app is None:  # one app per size: a server's first request is not measured
            size.app = create_app(size.settings)
        size.app.state.sessionmaker = maker
        transport = httpx.ASGITransport(app=size.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            gc.collect()  # none of the last measure's garbage is collected in this one
            size.measuring = name
            started = time.perf_counter()
            result = await MEASURES[name](size, maker, client)
            elapsed = time.perf_counter() - started
    size.times.setdefault(name, []).append(1000 * elapsed)
    size.measuring = ""
    # Every round must do the same work (a claim of 200 each time, the same CSV...).
    if check.setdefault((name, size.rows), result) != result and not name.startswith("staff"):
        print(f"  note: {name} at {size.rows:,} gave {result}, earlier {check[(name, size.rows)]}")


def report(label: str, sizes: list[Size]) -> None:
    """Per measure and size: median (min–max; last round); the ratios of the medians and of
    the minima (the machine's other load only ever adds time, so the minima vary less)."""
    small, large = sizes[0], sizes[-1]
    print(
        f"[{label}] ms: median (min–max; last round) at {small.rows:,} and {large.rows:,}, "
        "and the ratios of the medians and of the minima"
    )
    for name in MEASURES:
        cells = []
        for size in sizes:
            times = size.times[name]
            cells.append(
                f"{statistics.median(times):8.1f} ({min(times):.1f}–{max(times):.1f}; "
                f"{times[-1]:.1f})"
            )
        ratio = statistics.median(large.times[name]) / statistics.median(small.times[name])
        least = min(large.times[name]) / min(small.times[name])
        extra = ""
        if name == "claim of 200":
            rates = [CLAIM / (statistics.median(s.times[name]) / 1000) for s in sizes]
            extra = f"  claims/s {rates[0]:.0f} → {rates[-1]:.0f} ({rates[-1] / rates[0]:.2f}×)"
        print(
            f"[{label}]   {name:36s} {'  '.join(cells)}  ratio {ratio:5.2f}× "
            f"(minima {least:5.2f}×){extra}"
        )


async def run(
    label: str, urls: list[str], rows: list[int], rounds: int, folder: Path, *, explain: bool
) -> None:
    now = utcnow()
    sizes = []
    for url, count in zip(urls, rows, strict=True):
        started = time.perf_counter()
        sizes.append(await build(url, count, folder / str(count), now))
        print(f"[{label}] built {count:,} deliveries in {time.perf_counter() - started:.1f} s")
    check: dict[tuple[str, int], object] = {}
    try:
        for size in sizes:
            size.connection = await size.engine.connect()
        for name in MEASURES:  # warm-up, not counted: each app's first request
            for size in sizes:
                await measure(size, name, check)
                size.times.clear()
        for number in range(rounds):
            for name in MEASURES:
                # Alternating which size goes first, so that neither always follows the other.
                for size in sizes if number % 2 == 0 else sizes[::-1]:
                    await measure(size, name, check)
            print(f"[{label}] round {number + 1} done")
        report(label, sizes)
        if explain and label == "postgresql":
            await generic_plans(sizes[-1])
    finally:
        for size in sizes:
            if size.connection is not None:
                await size.connection.close()
            await size.engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sizes", type=int, nargs=2, default=[SMALL, 1_000_000])
    args = parser.parse_args()
    if min(args.sizes) < SMALL:
        parser.error(f"the smallest size is {SMALL:,} (the measured campaign lies within it)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.backend in ("sqlite", "both"):
            urls = [f"sqlite+aiosqlite:///{folder / f'scale-{n}.db'}" for n in args.sizes]
            await run("sqlite", urls, args.sizes, args.rounds, folder / "sqlite", explain=False)
        if args.backend in ("postgresql", "both"):
            names = [f"appeals_scale_{secrets.token_hex(4)}" for _ in args.sizes]
            admin = await asyncpg.connect(PG_ADMIN)
            try:
                for name in names:
                    await admin.execute(f'CREATE DATABASE "{name}"')
                urls = [f"postgresql+asyncpg://postgres@127.0.0.1:5432/{n}" for n in names]
                await run(
                    "postgresql", urls, args.sizes, args.rounds, folder / "postgresql", explain=True
                )
            finally:
                for name in names:
                    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
