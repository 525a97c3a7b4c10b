"""Kill test: workers SIGKILLed at random moments while a mailing goes out lose nothing.

A real aiosmtpd server on 127.0.0.1 receives a 2,000-letter mailing sent by `appeals worker`
subprocesses (1 on SQLite, 4 on PostgreSQL). 10 times, spread over the mailing, a worker that
holds leased letters at that moment is killed and a new one started (a kill of a worker with
nothing in hand would prove nothing). Every letter must end sent; the server may see a letter
twice only for a kill, each such letter's log says its first outcome is unknown, and every kill
left at least one such outcome behind.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import fresh_database, require_backend
from tests.delivery.helpers import (
    CountingSink,
    backends_of,
    lease_holders,
    prepare_mailing,
    status_counts,
    unknown_outcomes,
)
from tests.delivery.test_worker import _free_port

LETTERS = 2000
KILLS = 10
WORKERS = {"sqlite": 1, "postgresql": 4}


@pytest.mark.parametrize(
    ("backend", "planned_kills"),
    [("sqlite", KILLS), ("postgresql", KILLS), ("postgresql", 0)],
    ids=["sqlite-1-worker-killed", "postgresql-4-workers-killed", "postgresql-4-workers-no-kill"],
)
async def test_killed_workers_lose_no_letter(
    backend: str, planned_kills: int, tmp_path: Path
) -> None:
    """With no kill, several workers must never send one letter twice (SKIP LOCKED claims)."""
    await require_backend(backend)
    sink = CountingSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    rng = random.Random(20261125)
    async with fresh_database(backend, tmp_path) as url:
        await prepare_mailing(url, letters=LETTERS)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("APPEALS_") or k == "APPEALS_TOKEN_SECRET"
        }
        env.update(
            APPEALS_DATABASE_URL=url,
            APPEALS_MAIL_TRANSPORT="smtp",
            APPEALS_SMTP_PORT=str(port),
            APPEALS_LEASE_SECONDS="10",
            APPEALS_VAR_DIR=str(tmp_path / "var"),
        )

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "app", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        workers = [start() for _ in range(WORKERS[backend])]
        kills = hits = left_behind = 0  # kills; those that left leased letters; how many
        host = socket.gethostname()
        try:
            give_up = time.monotonic() + 180
            while hits < planned_kills:
                assert time.monotonic() < give_up, f"only {hits} of {kills} kills hit leased work"
                # Spread the kills over the mailing, each at a worker holding leases.
                await asyncio.sleep(rng.uniform(0.05, 0.3))
                if (await status_counts(url)).get("sent", 0) < hits * LETTERS // (KILLS + 2):
                    continue
                holders = await lease_holders(url)
                holding = [i for i, w in enumerate(workers) if holders.get(f"{host}:{w.pid}")]
                if not holding:
                    continue  # a new worker still starting, or between two claims
                victim = rng.choice(holding)
                name = f"{host}:{workers[victim].pid}"
                if backend == "postgresql":  # its connections carry its name (what we wait on)
                    assert await backends_of(url, name) > 0
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                kills += 1
                if backend == "postgresql":
                    # Count only once its server processes are gone: one may still commit an
                    # outcome it had received, and that letter was not left behind.
                    for _ in range(1000):  # at most ten seconds
                        if not await backends_of(url, name):
                            break
                        await asyncio.sleep(0.01)
                # What the dead worker left: leases nobody may take for 10 s.
                left = (await lease_holders(url)).get(name, 0)
                hits += left > 0
                left_behind += left
                workers[victim] = start()
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:  # killed workers' leases expire after 10 s
                if (await status_counts(url)).get("sent", 0) == LETTERS:
                    break
                await asyncio.sleep(1)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
            controller.stop()

        counts = await status_counts(url)
        assert counts == {"sent": LETTERS}, counts
        assert len(sink.message_ids) == LETTERS  # every letter reached the server
        duplicates = {mid: n for mid, n in sink.message_ids.items() if n > 1}
        assert sum(n - 1 for n in duplicates.values()) <= kills
        unknown = await unknown_outcomes(url)
        assert unknown >= len(duplicates)  # each duplicate is explained in the log
        assert unknown >= left_behind  # each letter a dead worker held was logged so
        if planned_kills == 0:
            assert duplicates == {}
            assert unknown == 0
        print(
            f"[{backend}] {kills} kills ({hits} left {left_behind} leased letters), "
            f"{len(duplicates)} duplicates, "
            f"{unknown} outcome-unknown events"
        )
