"""Long fuzzing runs of the whole API with schemathesis, on SQLite and PostgreSQL.

The same target as tests/test_fuzz.py (tests/fuzzing.py: a real `appeals serve` on 127.0.0.1,
seeded through the API, its ids given to schemathesis as dictionaries), with a budget of
`--examples` generated requests per operation (default 1,000) in the fuzzing phase, plus the
coverage and stateful phases schemathesis runs on its own. Two passes per engine: every
operation with an admin's token, and `POST /api/v1/inbound/email` with the inbound secret.

Prints, per engine and pass: test cases generated, failures (5xx or a response that breaks its
documented schema), the time taken and cases per second; the server's log is kept when a run
fails and its path printed. Nothing is asserted; the exit status is 1 if any pass failed.

Run: `python bench/fuzz.py [--examples 1000] [--backend sqlite|postgresql|both] [--seed N]
[--workers 1]`. PostgreSQL: 127.0.0.1:5432, user postgres (trust); a throwaway database is
created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fuzzing, app

from tests.conftest import fresh_database
from tests.fuzzing import fuzz_target, run_schemathesis, write_config


def _figure(pattern: str, output: str) -> str:
    found = re.search(pattern, output)
    return found.group(1) if found else "?"


async def run(backend: str, args: argparse.Namespace) -> bool:
    folder = Path(tempfile.mkdtemp(prefix=f"fuzz-{backend}-"))
    passed = True
    async with fresh_database(backend, folder) as url:
        with fuzz_target(url, folder) as target:
            config = write_config(target, folder)
            for inbound in (False, True):
                started = time.monotonic()
                result = run_schemathesis(
                    target,
                    config,
                    inbound=inbound,
                    max_examples=args.examples,
                    seed=args.seed,
                    workers=args.workers,
                )
                seconds = time.monotonic() - started
                cases = _figure(r"(\d+) generated", result.stdout)
                failures = _figure(r"(\d+) unique failures?", result.stdout)
                rate = f"{int(cases) / seconds:.0f}" if cases.isdigit() else "?"
                name = "inbound mail" if inbound else "staff API"
                ok = result.returncode == 0
                passed &= ok
                print(
                    f"{backend:10} {name:12} {'ok' if ok else 'FAILED':6} cases {cases:>7}  "
                    f"failures {failures if not ok else 0:>3}  {seconds:6.0f} s  {rate:>5} cases/s"
                )
                if not ok:
                    report = folder / f"schemathesis-{'inbound' if inbound else 'api'}.txt"
                    report.write_text(result.stdout + result.stderr)
                    print(f"  report: {report}\n  server log: {target.log}")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=1000, help="per operation")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"schemathesis, {args.examples} examples per operation (fuzzing phase)")
    results = [asyncio.run(run(backend, args)) for backend in backends]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
