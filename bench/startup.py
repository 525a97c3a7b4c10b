"""Start-up: how long `appeals --help` and a worker's first claim take, against importing the
libraries everything here is built on, measured in the same run.

- baseline: a fresh `python -c "import fastapi, sqlalchemy, jinja2, pydantic_settings,
  aiosmtplib"`, the floor any process of this service pays;
- `appeals --help`: the command listing (target: ≤ 0.5× the baseline);
- `appeals worker --once` on an empty queue of a migrated database, SQLite and (when it
  answers) PostgreSQL: start, settings, logging, the engine, one claim that finds nothing, exit.
  Its whole wall time is an upper bound of the time to the first claim (target: ≤ 1.3×).

Each is run alternately `--runs` times as a new process; the median and min–max wall times and
the ratio of medians to the baseline are printed. Nothing is asserted.

Run: `python bench/startup.py [--runs 9] [--backend sqlite|postgresql|both]`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import fastapi, sqlalchemy, jinja2, pydantic_settings, aiosmtplib"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)  # noqa: S603
    return time.perf_counter() - started


async def _pg_database(name: str, *, drop: bool) -> bool:
    try:
        import asyncpg
    except ImportError:
        return False
    try:
        connection = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return True


def environment(url: str, var: Path) -> dict[str, str]:
    return {
        **os.environ,
        "APPEALS_DATABASE_URL": url,
        "APPEALS_VAR_DIR": str(var),
        "APPEALS_TOKEN_SECRET": "bench-" + "x" * 40,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    python = sys.executable
    appeals = [python, "-m", "app"]
    with tempfile.TemporaryDirectory() as tmp:
        urls = {}
        if args.backend in ("sqlite", "both"):
            urls["sqlite"] = f"sqlite+aiosqlite:///{tmp}/bench.db"
        pg_name = f"appeals_bench_startup_{os.getpid()}"
        if args.backend in ("postgresql", "both"):
            if asyncio.run(_pg_database(pg_name, drop=False)):
                urls["postgresql"] = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_name}"
            else:
                print("PostgreSQL did not answer at 127.0.0.1:5432: measured on SQLite only")
        try:
            measures: dict[str, Callable[[], float]] = {
                "baseline (import fastapi, sqlalchemy, jinja2, pydantic-settings, aiosmtplib)": (
                    lambda: timed([python, "-c", BASELINE], dict(os.environ))
                ),
                "appeals --help": lambda: timed([*appeals, "--help"], dict(os.environ)),
            }
            for backend, url in urls.items():
                env = environment(url, Path(tmp) / f"var-{backend}")
                subprocess.run(  # noqa: S603
                    [*appeals, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
                )
                measures[f"appeals worker --once, empty queue, {backend}"] = functools.partial(
                    timed, [*appeals, "worker", "--once"], env
                )
            for run in measures.values():  # warm the file cache and the bytecode
                run()
            times: dict[str, list[float]] = {name: [] for name in measures}
            for _ in range(args.runs):
                for name, run in measures.items():
                    times[name].append(run())
        finally:
            if "postgresql" in urls:
                asyncio.run(_pg_database(pg_name, drop=True))
    report(times, runs=args.runs)


def report(times: dict[str, list[float]], *, runs: int) -> None:
    names = list(times)
    base = statistics.median(times[names[0]])
    print(f"{runs} runs each, alternating; wall time of a new process (s)")
    print(f"{'':62} {'median':>7} {'min':>6} {'max':>6} {'× base':>7}")
    for name in names:
        values = times[name]
        median = statistics.median(values)
        print(
            f"{name[:62]:62} {median:7.3f} {min(values):6.3f} {max(values):6.3f} "
            f"{median / base:7.2f}"
        )
    print("targets: --help ≤ 0.5× the baseline; worker --once ≤ 1.3× the baseline")


if __name__ == "__main__":
    main()
