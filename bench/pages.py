"""Public pages and public JSON under load, against the same bytes served from memory.

Each route below is loaded with wrk (32 connections, 10 s after a 1 s warm-up), served by
`uvicorn app.main:create_app --factory --workers N` on 127.0.0.1, on SQLite and on PostgreSQL,
with 1 and 2 server processes:

- `/` (the open campaigns), `/c/{slug}` in English and in Russian (`Accept-Language: ru`, as a
  shared link is opened), `/c/{slug}/embed`, `GET /api/v1/cases`, `/api/v1/cases/{id}` and
  `/api/v1/recipients`; the campaign writes to all 21 offices of the directory;
- baseline: a minimal FastAPI app in this file (`baseline_app`), its own uvicorn process with the
  same worker count, answering each route with the very bytes our app answered it with (fetched
  once before the run) from memory, with the same content type.

Plain GETs, no validator sent: what a visitor's first view (or a proxy's miss) costs. Prints
requests/s and p50/p99 latency of both, and the ratios (targets: the campaign page ≥ 50% of the
baseline's throughput, every other route ≥ 60%, p99 ≤ 2× the baseline's). Non-2xx answers and
socket errors are printed too. Nothing is asserted.

Note the load generator runs on the same machine as the servers and competes for its CPUs.

Run: `python bench/pages.py [--seconds 10] [--connections 32] [--backend sqlite|postgresql|both]
[--processes 1 2] [--routes campaign-en ...]`. PostgreSQL: 127.0.0.1:5432, user postgres
(trust); a throwaway database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI, Request, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sign import HOST, PG_ADMIN, Server, open_campaign  # noqa: E402

SLUG = "bench"
BODIES_ENV = "BENCH_PAGES_BODIES"


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    target: float = 0.6  # of the baseline's requests/s


ROUTES = (
    Route("index", "/"),
    Route("campaign-en", f"/c/{SLUG}", (("Accept-Language", "en"),), target=0.5),
    Route("campaign-ru", f"/c/{SLUG}", (("Accept-Language", "ru"),), target=0.5),
    Route("embed", f"/c/{SLUG}/embed"),
    Route("cases", "/api/v1/cases"),
    Route("case", "/api/v1/cases/bokayev-ayan"),
    Route("recipients", "/api/v1/recipients"),
)


# --- the baseline app (imported by its own uvicorn process) -----------------------------------


def baseline_app() -> FastAPI:
    """`/b/{name}`: the bytes our app answered route `name` with, from memory."""
    stored = json.loads(Path(os.environ[BODIES_ENV]).read_text())
    bodies = {name: (base64.b64decode(v["body"]), v["type"]) for name, v in stored.items()}
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/b/{name}")
    async def page(name: str, request: Request) -> Response:
        body, media_type = bodies[name]
        return Response(body, media_type=media_type)

    return app


# --- setup --------------------------------------------------------------------------------------


def app_env(url: str, bodies: Path) -> dict[str, str]:
    return {
        **os.environ,
        "APPEALS_DATABASE_URL": url,
        "APPEALS_RUN_WORKER": "false",
        "APPEALS_MAIL_TRANSPORT": "outbox",
        "APPEALS_TOKEN_SECRET": os.environ.get("APPEALS_TOKEN_SECRET") or secrets.token_urlsafe(32),
        BODIES_ENV: str(bodies),
    }


async def prepare(url: str) -> None:
    """Migrations, the data and an open campaign writing to every office of the directory."""
    from app.config import Settings

    offices = sorted(p.stem for p in Settings(database_url=url).recipients_dir.glob("*.yaml"))
    await open_campaign(
        url,
        slug=SLUG,
        offices=offices,
        description="Two civic activists jailed for a peaceful protest.",
    )


def fetch_bodies(server: Server, routes: list[Route], into: Path) -> dict[str, int]:
    """Each route's answer from our app, stored for the baseline; returns the sizes."""
    stored, sizes = {}, {}
    for route in routes:
        url = f"http://{HOST}:{server.port}{route.path}"
        answer = httpx.get(url, headers=dict(route.headers))
        if answer.status_code != 200:
            raise RuntimeError(f"{route.path}: {answer.status_code}\n{server.output()[-5000:]}")
        stored[route.name] = {
            "body": base64.b64encode(answer.content).decode(),
            "type": answer.headers["content-type"],
        }
        sizes[route.name] = len(answer.content)
    into.write_text(json.dumps(stored))
    return sizes


# --- load ----------------------------------------------------------------------------------------


LUA = """
local threads = {}
statuses = {}
function setup(thread)
  table.insert(threads, thread)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
request = function()
  return wrk.format("GET", "%(path)s", {%(headers)s})
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
    'WRKJSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,'
    .. '"connect":%%d,"read":%%d,"write":%%d,"timeout":%%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


@dataclass
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: str


def load(
    port: int,
    path: str,
    headers: tuple[tuple[str, str], ...],
    seconds: float,
    args: argparse.Namespace,
) -> Figures:
    lua_headers = ", ".join(f'["{k}"] = "{v}"' for k, v in headers)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(LUA % {"path": path, "headers": lua_headers})
        lua.flush()
        out = subprocess.run(  # noqa: S603
            [
                "/usr/bin/wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
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
    data = json.loads(next(x for x in out.splitlines() if x.startswith("WRKJSON "))[8:])
    statuses = next(x for x in out.splitlines() if x.startswith("STATUSES")).split()[1:]
    errors = ", ".join(
        [f"HTTP {s.replace(':', ' ×')}" for s in sorted(statuses) if not s.startswith("2")]
        + [f"{k} {data[k]}" for k in ("connect", "read", "write", "timeout") if data[k]]
    )
    return Figures(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors or "none",
    )


def measure(
    server: Server, path: str, headers: tuple[tuple[str, str], ...], args: argparse.Namespace
) -> Figures:
    load(server.port, path, headers, 1, args)  # warm-up
    return load(server.port, path, headers, args.seconds, args)


def logged_errors(server: Server) -> str:
    errors = [x for x in server.output().splitlines() if x.startswith(("sqlalchemy.exc.", "ERROR"))]
    return (
        f"  [{len(errors)} logged errors: {'; '.join(sorted({x[:90] for x in errors}))}]"
        if errors
        else ""
    )


def run_processes(
    url: str, label: str, processes: int, routes: list[Route], args: argparse.Namespace
) -> list[str]:
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        bodies = Path(folder) / "bodies.json"
        env = app_env(url, bodies)
        ours = Server("app.main:create_app", processes, env, ROOT)
        try:
            ours.wait_ready("/health")
            sizes = fetch_bodies(ours, routes, bodies)
            base = Server("pages:baseline_app", processes, env, ROOT / "bench")
            try:
                base.wait_ready("/health")
                for route in routes:
                    b = measure(base, f"/b/{route.name}", (), args)
                    o = measure(ours, route.path, route.headers, args)
                    rows += report(label, processes, route, sizes[route.name], b, o)
                    print("\n".join(rows[-3:]), flush=True)
            finally:
                note = logged_errors(base)
                base.stop()
            note += logged_errors(ours)
        finally:
            ours.stop()
    if note:
        rows.append(f"{label:<10} {processes:>2}  servers logged errors:{note}")
        print(rows[-1], flush=True)
    return rows


def report(
    label: str, processes: int, route: Route, size: int, b: Figures, o: Figures
) -> list[str]:
    rows = []
    for name, f in (("baseline", b), ("app", o)):
        rows.append(
            f"{label:<10} {processes:>2}  {route.name:<12} {name:<8} {f.rps:8.0f} {f.p50_ms:8.1f} {f.p99_ms:8.1f}"
            f"  {size:>7}  errors: {f.errors}"
        )
    ok_rps = o.rps >= route.target * b.rps
    ok_p99 = o.p99_ms <= 2 * b.p99_ms
    rows.append(
        f"{label:<10} {processes:>2}  {route.name:<12} ratio    {o.rps / b.rps:8.0%} {o.p50_ms / b.p50_ms:7.1f}× {o.p99_ms / b.p99_ms:7.1f}×"
        f"           rps ≥ {route.target:.0%}: {'met' if ok_rps else 'MISSED'}; p99 ≤ 2×: {'met' if ok_p99 else 'MISSED'}"
    )
    return rows


async def run_backend(
    url: str, label: str, routes: list[Route], args: argparse.Namespace
) -> list[str]:
    await prepare(url)
    rows = []
    for processes in args.processes:
        rows += await asyncio.to_thread(run_processes, url, label, processes, routes, args)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="both", help="database"
    )
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--routes", nargs="+", choices=[r.name for r in ROUTES], default=[r.name for r in ROUTES]
    )
    args = parser.parse_args()
    if not os.path.exists("/usr/bin/wrk"):  # noqa: ASYNC240
        raise SystemExit("wrk not found (apt-get install wrk)")
    routes = [r for r in ROUTES if r.name in args.routes]
    print(
        f"{args.connections} connections, {args.seconds:g} s each (after a 1 s warm-up), wrk -t{args.threads}, {os.cpu_count()} CPUs shared with the servers"
    )
    header = f"{'backend':<10} {'N':>2}  {'route':<12} {'app':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  {'bytes':>7}"
    print(header, flush=True)
    rows: list[str] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            rows += await run_backend(
                f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", "sqlite", routes, args
            )
    if args.backend in ("postgresql", "both"):
        name = f"appeals_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            rows += await run_backend(
                f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", "postgresql", routes, args
            )
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
    print("\nsummary")
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
