"""Sending letters through `appeals worker`, against two baselines measured in the same run.

5,000 queued letters (250 supporters × 20 offices, some names and subjects non-ASCII) in a
throwaway database — SQLite, and PostgreSQL on 127.0.0.1:5432 — go to an aiosmtpd sink on
127.0.0.1 that runs in its own process, so its CPU is not under the senders' GIL:

- measured: `appeals worker` subprocesses (1 on SQLite, its one writer; on PostgreSQL 4 by
  default: a worker spends about half of each letter waiting on a round trip to the sink or to
  PostgreSQL, so it takes 3–4 to keep 2 cores busy; 6 and 8 only added CPU per letter in
  contention and start-up), each claiming, sending and committing every outcome under its lease;
- baseline 1: a plain aiosmtplib loop in this process, sending the same messages (built
  beforehand by the same `build()`) over as many connections as there are workers;
- baseline 2: the `mailmerge` command-line tool (`pip install -e '.[bench]'`), which opens a new
  smtplib connection per message, sending the same letters (headers, text and HTML) from a CSV.

Letters/s runs from the sink's first to its last accepted message (the same clock for all
three; the wall time with process start-up is shown too). The worker's run ends only when every
outcome is committed, and it must leave every delivery `sent`, each message received once.
Per phase, the CPU seconds of each process group show what shares the 2 cores: the sender(s),
the sink, PostgreSQL's backends, and the whole machine (other people's tests included).
Pacing is opened wide (all-day hours, caps far above the run), so it holds nothing back.
With --profile, py-spy samples one worker once it has started up and the bench prints where
its busy samples go (a thread preempted in a system call counts as busy: on a loaded machine the
socket writes look dearer than the kernel time /proc gives them).

Run: `python bench/dispatch.py [--letters N] [--backend sqlite|postgresql|both] [--workers N]
[--batch N] [--rounds R] [--profile]`. Traffic goes to 127.0.0.1 only; addresses are
example.org ones.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import compat32
from email.policy import default as default_policy
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
from aiosmtpd.controller import Controller
from aiosmtplib.email import flatten_message
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.models import Campaign
from app.campaigns.schemas import CampaignCreate, Pacing, Targets
from app.config import Settings
from app.dataset import service as dataset_service
from app.db import make_engine, utcnow
from app.delivery import service as delivery_service
from app.delivery.email import Outgoing, build
from app.delivery.models import Delivery, DeliveryStatus
from app.letters import service as letters_service
from app.letters.models import Letter
from app.letters.schemas import SenderIn
from app.migrations import upgrade
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient, RecipientChannel
from app.staff.models import Role, StaffUser
from app.templating.kit import LetterKit

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
OFFICES = 20
PG_WORKERS = 4
NAMES = ["Ada Lovelace", "Сауле Ахметова", "José Núñez", "O'Brien, Siobhán", "Zhang Wei 张伟"]
TIMEOUT = 600.0  # no phase may take longer: the bench stops by itself
BIN = Path(sys.executable).parent


# --- the sink: an aiosmtpd server in its own process -------------------------------------------


class CountingSink:
    """Accepts everything; counts messages and distinct Message-IDs, notes first and last."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.ids: Counter[bytes] = Counter()
            self.count = 0
            self.first = self.last = 0.0
            self.cpu = time.process_time()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.content
        start = content.lower().find(b"\nmessage-id:")
        ident = content[start + 12 : content.find(b"\n", start + 1)].strip() if start >= 0 else b""
        now = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine
        with self.lock:
            self.ids[ident] += 1
            self.count += 1
            self.first = self.first or now
            self.last = now
        return "250 OK"

    def stats(self) -> dict[str, float]:
        with self.lock:
            return {
                "count": self.count,
                "distinct": len(self.ids),
                "first": self.first,
                "last": self.last,
                "cpu": time.process_time() - self.cpu,
            }


def serve_sink(port: int, pipe: Connection) -> None:
    """The sink process: answers "reset", "stats" and "stop" on `pipe`."""
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    pipe.send("ready")
    try:
        while (command := pipe.recv()) != "stop":
            if command == "reset":
                sink.reset()
                pipe.send("ok")
            else:
                pipe.send(sink.stats())
    finally:
        controller.stop()


class Sink:
    def __init__(self) -> None:
        self.port = free_port()
        self.pipe, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=serve_sink, args=(self.port, child), daemon=True
        )
        self.process.start()
        if not self.pipe.poll(60) or self.pipe.recv() != "ready":
            raise RuntimeError("the SMTP sink did not start")

    def reset(self) -> None:
        self.pipe.send("reset")
        self.pipe.recv()

    def stats(self) -> dict[str, float]:
        self.pipe.send("stats")
        stats: dict[str, float] = self.pipe.recv()
        return stats

    async def wait_for(
        self, count: int, deadline: float, alive: Callable[[], None] = lambda: None
    ) -> dict[str, float]:
        while (stats := self.stats())["count"] < count:
            alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the sink has {stats['count']} of {count} messages")
            await asyncio.sleep(0.05)
        return stats

    def stop(self) -> None:
        self.pipe.send("stop")
        self.process.join(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- CPU accounting ----------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def processes_cpu(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds that live processes have used, from /proc."""
    user = system = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            user, system = user + int(fields[11]) / TICK, system + int(fields[12]) / TICK
    return user, system


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK


@dataclass
class Phase:
    """One sender's run: rate at the sink, wall time, and the CPU each process group used."""

    name: str
    letters: int
    rate: float = 0.0
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    steady: int = 0  # letters sent after the workers' start-up (their CPU is counted apart)

    def cpu_line(self) -> str:
        per = ", ".join(f"{k} {v:.1f} s" for k, v in self.cpu.items())
        return f"CPU: {per}"


# --- the letters -------------------------------------------------------------------------------


async def prepare(engine: AsyncEngine, settings: Settings, letters: int) -> int:
    """Offices reachable only at example.org addresses, a campaign paced wide open, and
    `letters` letters rendered and queued (rounded up to a whole number per office)."""
    await upgrade(engine, settings.alembic_dir)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await dataset_service.import_recipients(session, folder=settings.recipients_dir)
        await dataset_service.import_cases(session, folder=settings.cases_dir)
        offices = list(
            await session.scalars(select(Recipient.id).order_by(Recipient.id).limit(OFFICES))
        )
        channels = await session.scalars(
            select(RecipientChannel).where(RecipientChannel.kind == ChannelKind.email)
        )
        for channel in channels:  # only the loopback sink's addresses may be used
            channel.disabled_reason = "bench: example.org addresses only"
        for office in offices:
            session.add(
                RecipientChannel(
                    recipient_id=office,
                    kind=ChannelKind.email,
                    value=f"{office}@example.org",
                    source="bench",
                    obfuscated=False,
                    position=0,
                )
            )
        await session.commit()
        session.expire_all()
        user = StaffUser(email="bench@example.org", role=Role.campaigner)
        session.add(user)
        await session.flush()
        kit = LetterKit.from_settings(settings)
        campaign = await campaigns_service.create_campaign(
            session,
            data=CampaignCreate(
                slug="dispatch",
                title="Free Maks Bokayev and Talgat Ayan",
                cases=["bokayev-ayan"],
                targets=Targets(recipients=offices),
                template="individual-appeal",
                channel_preference=[ChannelKind.email],
                pacing=Pacing(
                    per_office_per_hour=10_000,
                    per_office_per_day=100_000,
                    office_hours_start=0,
                    office_hours_end=24,
                    office_days=list(range(7)),
                    jitter_seconds=0,
                ),
            ),
            actor=user,
            library=kit.library,
        )

        async def queue(stored: Any) -> int:
            return await delivery_service.queue(session, stored, actor="bench")

        supporters = -(-letters // len(offices))
        created = await letters_service.render_many(
            session,
            campaign=campaign,
            senders=(
                SenderIn(name=f"{NAMES[i % len(NAMES)]} {i}", city="Lyon")
                for i in range(supporters)
            ),
            kit=kit,
            today=utcnow().date(),
            on_stored=queue,
        )
        await session.commit()
        stray = await session.scalar(
            select(func.count(Delivery.id)).where(~Delivery.address.like("%@example.org"))
        )
        if stray:
            raise RuntimeError(f"{stray} deliveries would go to an address not at example.org")
    return created


async def same_messages(engine: AsyncEngine, settings: Settings) -> list[Outgoing]:
    """Every queued delivery's message, built as the worker builds it (for the baselines)."""
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(Delivery, Letter, Campaign, Recipient)
            .join(Letter, Letter.id == Delivery.letter_id)
            .join(Campaign, Campaign.id == Letter.campaign_id)
            .join(Recipient, Recipient.id == Delivery.recipient_id)
            .where(Delivery.status == DeliveryStatus.queued)
            .order_by(Delivery.id)
        )
        messages = [
            build(
                delivery_id=delivery.id,
                to_address=delivery.address or "",
                to_name=recipient.office,
                sender_name=letter.sender_name,
                campaign_title=campaign.title,
                subject=letter.subject,
                body=letter.body,
                language=letter.language,
                settings=settings,
            )
            for delivery, letter, campaign, recipient in rows
        ]
    for outgoing in messages:
        # build() makes the EmailMessage when first asked for it: made here, not in the plain
        # loop's timed phase, which sends it with aiosmtplib's send_message.
        if str(outgoing.message["Message-ID"]) != outgoing.message_id:
            raise RuntimeError(f"{outgoing.message_id}: the message and its bytes differ")
    return messages


async def requeue(engine: AsyncEngine) -> None:
    """Puts every delivery back in the queue for another round (bench only: no event logged)."""
    now = utcnow()
    async with AsyncSession(engine) as session:
        await session.execute(
            update(Delivery).values(
                status=DeliveryStatus.queued,
                status_changed_at=now,
                next_attempt_at=now,
                attempts=0,
                lease_owner=None,
                lease_expires_at=None,
                external_id=None,
            )
        )
        await session.commit()


# --- the three senders -------------------------------------------------------------------------


async def plain_loop(messages: list[Outgoing], sink: Sink, connections: int) -> Phase:
    """aiosmtplib, `connections` reused connections, one task each, no database."""
    phase = Phase(f"plain aiosmtplib loop, {connections} conn.", len(messages))
    pending: Iterator[Outgoing] = iter(messages)

    async def connection() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port) as client:
            for outgoing in pending:
                await client.send_message(
                    outgoing.message,
                    sender=outgoing.envelope_from,
                    recipients=[outgoing.envelope_to],
                )

    sink.reset()
    busy, start_cpu, start = machine_cpu(), time.process_time(), time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(*(connection() for _ in range(connections))), timeout=TIMEOUT
    )
    stats = await sink.wait_for(len(messages), start + TIMEOUT)
    phase.wall = time.monotonic() - start
    phase.cpu = {"bench process": time.process_time() - start_cpu}
    return finish(phase, stats, busy)


def mailmerge_files(messages: list[Outgoing], folder: Path, port: int) -> list[str]:
    """Template, CSV database and server config: the same headers, text and HTML per letter."""
    template = textwrap.dedent(
        """\
        {{headers}}
        MIME-VERSION: 1.0
        CONTENT-TYPE: multipart/alternative; boundary="=_bench"

        --=_bench
        CONTENT-TYPE: text/plain; charset=utf-8

        {{text}}

        --=_bench
        CONTENT-TYPE: text/html; charset=utf-8

        {{html}}

        --=_bench--
        """
    )
    (folder / "template.txt").write_text(template)
    (folder / "server.conf").write_text(f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\n")
    own = {"mime-version", "content-type", "content-transfer-encoding", "date"}  # mailmerge's
    with (folder / "letters.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        # mailmerge guesses the CSV dialect from its first 1,024 characters: a first column
        # holding a lone '"' (written '""""') shows it that quotes inside fields are doubled.
        writer.writerow(["quote", "headers", "text", "html"])
        for outgoing in messages:
            wire = flatten_message(outgoing.message)
            raw = message_from_bytes(wire, policy=compat32)  # headers as sent: RFC 2047, ASCII
            parsed = message_from_bytes(wire, policy=default_policy)
            text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
            if text is None or html is None:
                raise RuntimeError(f"the message to {outgoing.envelope_to} lacks a part")
            headers = "\n".join(
                f"{name}: {' '.join(str(value).split())}"
                for name, value in raw.items()
                if name.lower() not in own
            )
            # mailmerge sends an all-ASCII letter as 7bit, where no line may pass 998 characters:
            # one line per paragraph of HTML (the same document), and long text lines wrapped.
            html_lines = html.get_content().replace("</p>", "</p>\n")
            text_lines = "\n".join(
                textwrap.fill(line, 900) if len(line) > 900 else line
                for line in text.get_content().splitlines()
            )
            writer.writerow(['"', headers, text_lines, html_lines])
    return [
        str(BIN / "mailmerge"),
        "--template",
        str(folder / "template.txt"),
        "--database",
        str(folder / "letters.csv"),
        "--config",
        str(folder / "server.conf"),
        "--no-limit",
        "--no-dry-run",
        "--output-format",
        "raw",
    ]


async def mailmerge(command: list[str], letters: int, sink: Sink) -> Phase:
    phase = Phase("mailmerge, 1 conn. per message", letters)
    sink.reset()
    busy, before, start = machine_cpu(), os.times(), time.monotonic()
    done = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, errors = await asyncio.wait_for(done.communicate(), timeout=TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"mailmerge failed: {errors.decode()[-2000:]}")
    stats = await sink.wait_for(letters, start + TIMEOUT)
    phase.wall = time.monotonic() - start
    after = os.times()
    phase.cpu = {
        "mailmerge": after.children_user
        + after.children_system
        - before.children_user
        - before.children_system
    }
    return finish(phase, stats, busy)


async def workers(
    engine: AsyncEngine,
    url: str,
    letters: int,
    count: int,
    sink: Sink,
    folder: Path,
    profile: bool,
    batch_size: int | None = None,
) -> tuple[Phase, Path | None]:
    phase = Phase(f"appeals worker ×{count}", letters)
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPEALS_")}
    env.update(
        APPEALS_DATABASE_URL=url,
        APPEALS_TOKEN_SECRET=secrets.token_urlsafe(32),
        APPEALS_MAIL_TRANSPORT="smtp",
        APPEALS_SMTP_HOST="127.0.0.1",
        APPEALS_SMTP_PORT=str(sink.port),
        APPEALS_VAR_DIR=str(folder / "var"),
    )
    appeals = [str(BIN / "appeals")]
    batch = ["--batch", str(batch_size)] if batch_size else []  # else the command's default
    sink.reset()
    busy, start = machine_cpu(), time.monotonic()
    log = folder / "workers.log"
    with log.open("wb") as errors:
        procs = [
            await asyncio.create_subprocess_exec(*appeals, "worker", *batch, env=env, stderr=errors)
            for _ in range(count)
        ]
    pids = [proc.pid for proc in procs]

    def alive() -> None:
        if any(proc.returncode is not None for proc in procs):
            raise RuntimeError(f"a worker stopped:\n{log.read_text()[-3000:]}")

    spy, trace = None, None
    try:
        # Steady state: from the first message on, once the workers have started up.
        first = await sink.wait_for(1, start + TIMEOUT, alive)
        user_at_first, system_at_first = processes_cpu(pids)
        if profile:
            trace = folder / f"worker-{pids[0]}.txt"
            spy = await asyncio.create_subprocess_exec(
                *[str(BIN / "py-spy"), "record", "--pid", str(pids[0]), "--rate", "250"],
                *["--format", "raw", "--output", str(trace)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        stats = await sink.wait_for(letters, start + TIMEOUT, alive)
        async with AsyncSession(engine) as session:
            while (
                await session.scalar(
                    select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.sent)
                )
            ) < letters:
                alive()
                if time.monotonic() > start + TIMEOUT:
                    raise TimeoutError("outcomes not committed in time")
                await asyncio.sleep(0.05)
                session.expire_all()
        phase.wall = time.monotonic() - start
        user, system = processes_cpu(pids)
        phase.cpu = {
            "workers": user + system,
            "of which after start-up": user + system - user_at_first - system_at_first,
            "of which in the kernel": system - system_at_first,
        }
        phase.steady = letters - first["count"]
        if engine.dialect.name == "postgresql":
            phase.cpu["PostgreSQL backends"] = await backends_cpu(url)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes its samples and exits
            await stopped(spy, 60)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await stopped(proc, 30)
    async with AsyncSession(engine) as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        counts = dict(rows.all())
    if counts != {DeliveryStatus.sent: letters} or stats["distinct"] != letters:
        raise RuntimeError(f"not every letter was sent exactly once: {counts}, {stats}")
    return finish(phase, stats, busy), trace


async def stopped(proc: asyncio.subprocess.Process, seconds: float) -> None:
    """Waits for `proc` to exit, killing it after `seconds`."""
    try:
        await asyncio.wait_for(proc.wait(), seconds)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def backends_cpu(url: str) -> float:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        pids = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
        )
    finally:
        await admin.close()
    return sum(processes_cpu([row["pid"] for row in pids]))


def finish(phase: Phase, stats: dict[str, float], busy_before: float) -> Phase:
    span = stats["last"] - stats["first"]
    phase.rate = stats["count"] / span if span > 0 else float("nan")
    phase.cpu["sink"] = stats["cpu"]
    phase.cpu["whole machine"] = machine_cpu() - busy_before
    return phase


# --- the profile -------------------------------------------------------------------------------

# (label, frame substrings): a sample counts for the first rule that one of its frames matches,
# trying the rules in order and, within a rule, the frames from the leaf up.
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("idle", ("select (selectors.py", "_worker (concurrent/futures/thread.py")),
    ("building messages (delivery/email.py build)", ("build (app/delivery/email.py",)),
    ("flattening messages (aiosmtplib flatten_message)", ("flatten_message (aiosmtplib",)),
    ("checking the address (email_validator)", ("validate_email (",)),
    ("pacing (Pacing.model_validate, next_slot)", ("model_validate (", "next_slot (")),
    ("claim: queries, ORM, commit (Worker._claim)", ("_claim (app/delivery/worker.py",)),
    ("outcome: lock, ORM, commit (Worker._record)", ("_record (app/delivery/worker.py",)),
    # SQLAlchemy runs its side of a query in a greenlet, whose frames py-spy shows apart from
    # the coroutine that awaits it: compiling, executing and flushing for claims and outcomes.
    ("SQLAlchemy in its greenlets (claim and outcome)", ("(sqlalchemy/",)),
    ("SMTP dialogue (aiosmtplib)", ("(aiosmtplib/",)),
    ("SQLite itself (aiosqlite's thread)", ("(aiosqlite/",)),
    ("event loop and sockets (asyncio)", ("(asyncio/",)),
]


def summarize(trace: Path, top: int = 12) -> list[str]:
    """Where one worker's samples went: the buckets above, then the busiest functions."""
    buckets: Counter[str] = Counter()
    own: Counter[str] = Counter()
    unmatched: Counter[str] = Counter()
    total = 0
    for line in trace.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        n = int(count)
        total += n
        label = next(
            (
                label
                for label, needles in BUCKETS
                if any(needle in frame for frame in reversed(frames) for needle in needles)
            ),
            "other",
        )
        buckets[label] += n
        if label == "other":
            unmatched[" < ".join(frame.split(" (")[0] for frame in reversed(frames[-4:]))] += n
        if label != BUCKETS[0][0]:
            own[frames[-1]] += n
    busy = total - buckets.pop(BUCKETS[0][0], 0)
    if not busy:
        return ["  (no busy samples)"]
    lines = [f"  {share / busy:6.1%}  {label}" for label, share in buckets.most_common()]
    lines.append(f"  busiest functions (own time, % of the {busy} busy samples):")
    lines += [f"    {n / busy:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines.append("  most frequent stacks in 'other' (innermost first):")
    lines += [f"    {n / busy:6.1%}  {stack}" for stack, n in unmatched.most_common(4)]
    return lines


# --- one engine --------------------------------------------------------------------------------


async def run(
    url: str, label: str, args: argparse.Namespace, sink: Sink, folder: Path
) -> list[list[Phase]]:
    settings = Settings(database_url=url)
    engine = make_engine(url)
    count = 1 if label == "sqlite" else args.workers
    rounds: list[list[Phase]] = []
    try:
        letters = await prepare(engine, settings, args.letters)
        messages = await same_messages(engine, settings)
        command = mailmerge_files(messages, folder, sink.port) if args.mailmerge else None
        print(f"[{label}] {letters} letters to {OFFICES} offices; sink on 127.0.0.1:{sink.port}")
        for number in range(args.rounds):
            if number:
                await requeue(engine)
            phases = [await plain_loop(messages, sink, count)]
            if command:
                phases.append(await mailmerge(command, letters, sink))
            measured, trace = await workers(
                engine, url, letters, count, sink, folder, args.profile and number == 0, args.batch
            )
            phases.append(measured)
            rounds.append(phases)
            report(label, number, phases)
            if trace is not None and trace.exists():
                print(f"[{label}] where one worker's CPU goes after start-up (py-spy, 250 Hz):")
                print("\n".join(summarize(trace)))
    finally:
        await engine.dispose()
    return rounds


def report(label: str, number: int, phases: list[Phase]) -> None:
    plain, measured = phases[0], phases[-1]
    print(f"[{label}] round {number + 1}:")
    for phase in phases:
        print(
            f"[{label}]   {phase.name:34s} {phase.rate:7.0f} letters/s"
            f"  (wall {phase.wall:5.1f} s with start-up; {phase.cpu_line()})"
        )
    if measured.steady:
        per = ", ".join(
            f"{name} {1000 * measured.cpu[key] / measured.steady:.2f} ms"
            for name, key in [
                ("workers", "of which after start-up"),
                ("PostgreSQL", "PostgreSQL backends"),
            ]
            if key in measured.cpu
        )
        sink = 1000 * measured.cpu["sink"] / measured.letters
        kernel = measured.cpu["of which in the kernel"] / measured.cpu["of which after start-up"]
        print(
            f"[{label}]   CPU per letter after the workers' start-up: {per}, sink {sink:.2f} ms"
            f" (the workers spent {kernel:.0%} of theirs in the kernel)"
        )
    verdict = [f"{measured.rate / plain.rate:.0%} of the plain loop (target ≥ 60%)"]
    if len(phases) == 3:
        verdict.append(f"{measured.rate / phases[1].rate:.1f}× mailmerge (target ≥ 2×)")
    print(f"[{label}]   appeals worker: {', '.join(verdict)}")
    if measured.steady and "PostgreSQL backends" in measured.cpu:
        # Both cores are shared by every process of a phase: what each letter costs them all.
        loop_cpu = 1000 * (plain.cpu["bench process"] + plain.cpu["sink"]) / plain.letters
        worker_cpu = (
            1000
            * (measured.cpu["of which after start-up"] + measured.cpu["PostgreSQL backends"])
            / measured.steady
            + 1000 * measured.cpu["sink"] / measured.letters
        )
        print(
            f"[{label}]   CPU per letter of all the processes: plain loop {loop_cpu:.2f} ms "
            f"(sender and sink), appeals worker {worker_cpu:.2f} ms (workers, PostgreSQL, sink)"
        )


def spread(label: str, rounds: list[list[Phase]]) -> None:
    if len(rounds) < 2:
        return
    print(f"[{label}] over {len(rounds)} rounds (median, min–max):")
    for i, phase in enumerate(rounds[0]):
        rates = [r[i].rate for r in rounds]
        print(
            f"[{label}]   {phase.name:34s} {statistics.median(rates):7.0f} letters/s"
            f"  ({min(rates):.0f}–{max(rates):.0f})"
        )
    ratios = [r[-1].rate / r[0].rate for r in rounds]
    print(
        f"[{label}]   worker / plain loop: median {statistics.median(ratios):.0%} "
        f"({min(ratios):.0%}–{max(ratios):.0%})"
    )
    if len(rounds[0]) == 3:
        ratios = [r[-1].rate / r[1].rate for r in rounds]
        print(
            f"[{label}]   worker / mailmerge: median {statistics.median(ratios):.1f}× "
            f"({min(ratios):.1f}–{max(ratios):.1f}×)"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--letters", type=int, default=5000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--workers", type=int, default=PG_WORKERS, help="on PostgreSQL (SQLite: always 1)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the three phases")
    parser.add_argument(
        "--batch", type=int, default=None, help="letters per claim (default: appeals worker's)"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy one worker (round 1)")
    args = parser.parse_args()
    args.mailmerge = (BIN / "mailmerge").exists()
    if not args.mailmerge:
        print("mailmerge is not installed (pip install -e '.[bench]'): that baseline is skipped")
    if args.profile and not shutil.which("py-spy", path=str(BIN)):
        parser.error("--profile needs py-spy (pip install -e '.[bench]')")
    sink = Sink()
    try:
        if args.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
                spread("sqlite", await run(url, "sqlite", args, sink, Path(folder)))
        if args.backend in ("postgresql", "both"):
            name = f"appeals_bench_{secrets.token_hex(4)}"
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'CREATE DATABASE "{name}"')
            try:
                with tempfile.TemporaryDirectory() as folder:
                    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
                    spread("postgresql", await run(url, "postgresql", args, sink, Path(folder)))
            finally:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                await admin.close()
    finally:
        sink.stop()


if __name__ == "__main__":
    asyncio.run(main())
