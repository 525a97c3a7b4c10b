"""PostgreSQL restarted in the middle of a mailing: the workers ride it out and lose nothing.

The test starts its own throwaway cluster (Debian's PostgreSQL binaries, run as the `postgres`
OS user, trust auth, a free port on 127.0.0.1), queues a few hundred letters and lets two
`appeals worker` subprocesses send them to a real SMTP server (aiosmtpd). Mid-mailing it stops
the cluster, waits until every worker has noticed (a failed round in its log), and starts it
again. Every delivery must end sent with the same workers still running; the server may see a
letter twice only if it was leased when the database went away, and such a letter's log says
the outcome of its first attempt is unknown.

Without the binaries the test is skipped, unless APPEALS_TEST_POSTGRES=required (CI), which
turns that into a failure.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import make_engine, utcnow
from app.delivery.email import parse_token
from app.delivery.models import DeliveryEvent
from tests.conftest import PG_REQUIRED
from tests.delivery.helpers import (
    UNKNOWN_OUTCOME,
    CountingSink,
    message_id,
    prepare_mailing,
    serving,
    status_counts,
)
from tests.delivery.test_worker import _free_port

LETTERS = 300
WORKERS = 2
LEASE_SECONDS = 10  # the shortest the settings allow: lost leases come back soon
TOKEN_SECRET = "pg-restart-test-" + "x" * 32  # commands refuse secrets under 32 characters
STOP_AFTER = 120  # letters received: in the middle of both workers' first batches
ROUND_FAILED = "a round failed"  # what Worker.run_forever logs when a round raises
DEADLINE_SECONDS = 120  # a guard against waiting forever, far above the expected time


def require_postgres_binaries() -> Path:
    """The newest Debian PostgreSQL bin folder; skip (or, in CI, fail) when there is none."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda initdb: (
            int(initdb.parent.parent.name) if initdb.parent.parent.name.isdigit() else 0
        ),
    )
    problem = None
    if not found:
        problem = "PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are not installed"
    elif os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        problem = "running as root, but there is no `postgres` user or `runuser` to run initdb as"
    if problem is not None:
        if PG_REQUIRED:
            pytest.fail(problem + " and APPEALS_TEST_POSTGRES=required")
        pytest.skip(problem)
    return found[-1].parent


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class Cluster:
    """A throwaway PostgreSQL cluster in `folder`, listening on 127.0.0.1:`port` only.

    PostgreSQL refuses to run as root, so as root every command runs as the `postgres` user,
    who owns the folder.
    """

    def __init__(self, bindir: Path, folder: Path, port: int) -> None:
        self.bindir, self.folder, self.port = bindir, folder, port
        self.data = folder / "data"
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bindir / tool), *args],
            cwd=self.folder,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync",
        )  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.folder}'\n"
            )

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "start"
        )

    def stop(self, mode: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A running throwaway cluster, always stopped and removed afterwards."""
    bindir = require_postgres_binaries()
    folder = Path(tempfile.mkdtemp(prefix="appeals-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(bindir, folder, _free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            cluster.stop("immediate")
        shutil.rmtree(folder)


class HoldingSink(CountingSink):
    """Counts what it receives; once told to hold, keeps each new message unanswered (after
    taking it in) until released, so the database can go away while the workers wait."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_after: int | None = None  # hold the messages after this many
        self.held: list[str] = []  # the Message-IDs held
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        received = sum(self.message_ids.values())
        if self.hold_after is not None and received > self.hold_after and not self.release.is_set():
            self.held.append(message_id(envelope.content))
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        return answer


async def _until(
    condition: Callable[[], Awaitable[bool]],
    what: str,
    *,
    workers: list[subprocess.Popen[bytes]],
    logs: list[Path],
) -> None:
    """Wait until `condition()` holds; fail at once if a worker exits, or after
    DEADLINE_SECONDS, showing the workers' logs."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await condition():
        exited = [worker.returncode for worker in workers if worker.poll() is not None]
        if exited or time.monotonic() > deadline:
            why = f"a worker exited ({exited})" if exited else "gave up"
            output = "\n".join(log.read_text() for log in logs)
            pytest.fail(f"{why} while waiting until {what}\n{output}")
        await asyncio.sleep(0.05)


async def _events(url: str) -> list[tuple[int, datetime, str, str | None]]:
    engine = make_engine(url)
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(
                DeliveryEvent.delivery_id,
                DeliveryEvent.at,
                DeliveryEvent.to_status,
                DeliveryEvent.detail,
            ).order_by(DeliveryEvent.id)
        )
        events = [(delivery, at, to_status, detail) for delivery, at, to_status, detail in rows]
    await engine.dispose()
    return events


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _delivery_of(message: str) -> int:
    token = message.strip("<>").split("@")[0].removeprefix("delivery-")
    delivery = parse_token(token, TOKEN_SECRET)
    assert delivery is not None, message
    return delivery


@pytest.mark.parametrize(
    ("mode", "hold"),
    [("immediate", True), ("fast", False)],
    ids=["immediate-stop-while-the-smtp-server-holds-messages", "fast-stop-mid-mailing"],
)
async def test_a_database_restart_mid_mailing_loses_no_letter(
    mode: str, hold: bool, cluster: Cluster, tmp_path: Path
) -> None:
    """Holding: each worker has a message accepted by the server but not yet answered when the
    database goes away, so its outcome cannot be recorded: it must be sent again (a duplicate)
    and explained. Not holding: the database goes away wherever the workers happen to be."""
    sink = HoldingSink()
    await prepare_mailing(cluster.url, letters=LETTERS)
    with serving(sink) as port:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("APPEALS_") or k == "APPEALS_TOKEN_SECRET"
        }
        env.update(
            APPEALS_DATABASE_URL=cluster.url,
            APPEALS_MAIL_TRANSPORT="smtp",
            APPEALS_SMTP_PORT=str(port),
            APPEALS_LEASE_SECONDS=str(LEASE_SECONDS),
            APPEALS_TOKEN_SECRET=TOKEN_SECRET,
            APPEALS_VAR_DIR=str(tmp_path / "var"),
        )
        logs = [tmp_path / f"worker-{i}.log" for i in range(WORKERS)]
        workers = [_start_worker(env, log) for log in logs]

        async def enough_received() -> bool:
            return sum(sink.message_ids.values()) >= STOP_AFTER

        async def all_held() -> bool:
            return len(sink.held) == WORKERS

        async def all_noticed() -> bool:
            return all(ROUND_FAILED in log.read_text() for log in logs)

        async def all_sent() -> bool:
            return (await status_counts(cluster.url)).get("sent", 0) == LETTERS

        try:
            if hold:
                sink.hold_after = STOP_AFTER
                await _until(
                    all_held, "every worker waits for the SMTP server", workers=workers, logs=logs
                )
            else:
                await _until(
                    enough_received,
                    f"{STOP_AFTER} letters are received",
                    workers=workers,
                    logs=logs,
                )
            await asyncio.to_thread(cluster.stop, mode)
            # Whatever was committed is older than this; whatever comes after the restart is newer.
            stopped_at = utcnow()
            received_before_stop = sum(sink.message_ids.values())
            sink.release.set()
            await _until(
                all_noticed,
                "every worker has noticed the database is gone",
                workers=workers,
                logs=logs,
            )
            await asyncio.to_thread(cluster.start)
            await _until(all_sent, "every delivery is sent", workers=workers, logs=logs)
            alive = [worker.poll() is None for worker in workers]
        finally:
            sink.release.set()
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()

    output = "\n".join(log.read_text() for log in logs)
    print(f"[{mode}] worker log: {len(output.splitlines())} lines")
    assert alive == [True] * WORKERS, output  # they rode out the restart, nobody restarted them
    # The outage is told, not dumped: each worker says a round failed and that it recovered.
    for log in logs:
        assert "recovered after" in log.read_text(), log.read_text()
    assert [worker.returncode for worker in workers] == [0] * WORKERS, output
    assert received_before_stop < LETTERS  # the restart really came mid-mailing
    assert await status_counts(cluster.url) == {"sent": LETTERS}
    assert len(sink.message_ids) == LETTERS  # every letter reached the server

    events = await _events(cluster.url)
    last_before_stop: dict[int, str] = {}
    unknown: set[int] = set()
    for delivery, at, to_status, detail in events:
        if at < stopped_at:
            last_before_stop[delivery] = to_status
        if detail is not None and UNKNOWN_OUTCOME in detail:
            unknown.add(delivery)
    leased = {delivery for delivery, status in last_before_stop.items() if status == "sending"}
    duplicates = {_delivery_of(message): n for message, n in sink.message_ids.items() if n > 1}
    assert leased  # the database went away while letters were out
    assert sum(n - 1 for n in duplicates.values()) <= len(leased)
    assert set(duplicates) <= unknown  # each duplicate is explained in its log
    assert unknown <= leased  # and only a lease held across the restart was lost
    if hold:
        # The held messages were accepted, but the database was gone when the answers came.
        assert set(duplicates) == {_delivery_of(message) for message in sink.held}
    print(
        f"[{mode}] {received_before_stop} received before the stop, {len(leased)} leased, "
        f"{len(unknown)} outcomes unknown, {len(duplicates)} duplicates"
    )
