"""Rendering and storing letters in bulk, against a plain baseline measured in the same run.

5,000 supporters × 20 offices = 100,000 letters, on SQLite and (with --postgres) PostgreSQL:

- measured: `letters.service.render_many` — the sandboxed template with its work budget,
  per-letter seeded variation, and chunked inserts that skip existing letters;
- baseline: the same template body and subject rendered by a plain (unsandboxed) Jinja2
  environment with the same context, and the same rows bulk-inserted with a plain executemany.

Prints letters/s for both and their ratio, and the process's memory (RSS) growth during each
run, sampled every chunk: flat memory means growth that does not scale with the letter count.
PDF: pages/s for a 1,000-letter batch through `letters.pdf.render_pdf`, against reportlab's own
minimal loop (drawString of the same pre-wrapped lines, same embedded font).

Run: `python bench/render.py [--supporters N] [--postgres]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import tempfile
import textwrap
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import jinja2
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.campaigns import service as campaigns_service
from app.campaigns.schemas import CampaignCreate, Targets
from app.config import PROJECT_ROOT, Settings
from app.dataset import service as dataset_service
from app.db import make_engine, utcnow
from app.delivery.post.pdf import PrintableLetter, render_pdf
from app.letters import service as letters_service
from app.letters.context import base_context, with_sender
from app.letters.models import Letter
from app.letters.schemas import SenderIn
from app.migrations import upgrade
from app.recipients.channels import ChannelKind
from app.recipients.models import Recipient, RecipientChannel
from app.staff.models import Role, StaffUser
from app.templating.kit import LetterKit
from app.templating.rendering import letter_seed

CHUNK = 500
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
CITIES = [("Lyon", "France"), ("Gdańsk", "Poland"), ("Leeds", "United Kingdom"), ("Almaty", "")]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def senders(count: int) -> Iterator[SenderIn]:
    rng = random.Random(7)
    for i in range(count):
        city, country = CITIES[i % len(CITIES)]
        message = "" if i % 3 else f"As a teacher in {city}, I ask you to act. ({i})"
        yield SenderIn(
            name=f"Supporter {i:05d} {rng.choice('ABCDEFG')}.",
            city=city,
            country=country,
            message=message,
        )


async def prepare(engine: AsyncEngine, settings: Settings, offices: int) -> tuple[str, list[str]]:
    """Data, and a campaign writing to `offices` offices, all made reachable for the bench."""
    await upgrade(engine, settings.alembic_dir)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await dataset_service.import_recipients(session, folder=settings.recipients_dir)
        await dataset_service.import_cases(session, folder=settings.cases_dir)
        ids = list((await session.scalars(select(Recipient.id).order_by(Recipient.id))).all())[
            :offices
        ]
        for recipient_id in ids:  # a loopback-only address: the bench never sends anything
            session.add(
                RecipientChannel(
                    recipient_id=recipient_id,
                    kind=ChannelKind.email,
                    value=f"{recipient_id}@bench.example",
                    source="bench",
                    obfuscated=False,
                    position=99,
                )
            )
        user = StaffUser(email="bench@staff.example", role=Role.campaigner)
        session.add(user)
        await session.flush()
        kit = LetterKit.from_settings(settings)
        await campaigns_service.create_campaign(
            session,
            data=CampaignCreate(
                slug="bench",
                title="Free Maks Bokayev and Talgat Ayan",
                cases=["bokayev-ayan"],
                targets=Targets(recipients=ids),
                template="individual-appeal",
                channel_preference=[ChannelKind.email],
            ),
            actor=user,
            library=kit.library,
        )
        await session.commit()
    return "bench", ids


async def measured(
    engine: AsyncEngine, settings: Settings, supporters: int
) -> tuple[float, int, float]:
    kit = LetterKit.from_settings(settings)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        campaign = await campaigns_service.get_campaign(session, slug="bench")
        start_rss = rss_mb()
        start = time.perf_counter()
        created = await letters_service.render_many(
            session,
            campaign=campaign,
            senders=senders(supporters),
            kit=kit,
            today=date.today(),
            chunk_size=CHUNK,
        )
        await session.commit()
        seconds = time.perf_counter() - start
    return seconds, created, rss_mb() - start_rss


async def baseline(
    engine: AsyncEngine, settings: Settings, supporters: int
) -> tuple[float, int, float]:
    """Plain Jinja2 and a plain executemany of the same rows (into the same table, then removed)."""
    kit = LetterKit.from_settings(settings)
    plain = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - plain-text letters, as in the sandbox
    )
    async with AsyncSession(engine, expire_on_commit=False) as session:
        campaign = await campaigns_service.get_campaign(session, slug="bench")
        targets = [
            t
            for t in await campaigns_service.resolve_targets(
                session, campaign=campaign, library=kit.library
            )
            if t.channel
        ]
        cases = await letters_service.campaign_cases(session, campaign)
        plans = []
        for target in targets:
            template = kit.library.get("individual-appeal", target.recipient.language)
            base = base_context(
                campaign=campaign,
                cases=cases,
                case=cases[0],
                recipient=target.recipient,
                language=template.language,
                today=date.today(),
                max_age_days=365,
                organisation="Bench",
            )
            plans.append(
                (
                    target,
                    template,
                    plain.from_string(template.body),
                    [plain.from_string(s) for s in template.subjects],
                    base,
                )
            )
        start_rss = rss_mb()
        start = time.perf_counter()
        rows: list[dict[str, Any]] = []
        count = 0
        for sender in senders(supporters):
            for target, template, body, subjects, base in plans:
                rng = random.Random(letter_seed("baseline", target.recipient.id, sender.name))
                context = {
                    **with_sender(base, sender),
                    "one_of": lambda *o, rng=rng: o[rng.randrange(len(o))],
                    "names": lambda people: " and ".join(p["name"] for p in people),
                }
                subject = subjects[rng.randrange(len(subjects))].render(context)
                text = body.render(context)
                rows.append(
                    {
                        "campaign_id": campaign.id,
                        "recipient_id": target.recipient.id,
                        "case_id": cases[0].id,
                        "identity": secrets.token_hex(32),
                        "channel": ChannelKind.email,
                        "sender_name": sender.name,
                        "sender_city": sender.city,
                        "sender_country": sender.country,
                        "personal_message": sender.message,
                        "subject": subject[:200],
                        "body": text,
                        "language": template.language,
                        "template_name": template.name,
                        "template_version": template.version,
                        "created_at": utcnow(),
                    }
                )
                if len(rows) >= CHUNK:
                    await session.execute(insert(Letter), rows)
                    count += len(rows)
                    rows = []
        if rows:
            await session.execute(insert(Letter), rows)
            count += len(rows)
        await session.commit()
        seconds = time.perf_counter() - start
        grown = rss_mb() - start_rss
    return seconds, count, grown


async def run(url: str, label: str, supporters: int, offices: int) -> None:
    settings = Settings(database_url=url)
    engine = make_engine(url)
    try:
        await prepare(engine, settings, offices)
        base_s, base_n, base_mem = await baseline(engine, settings, supporters)
        async with AsyncSession(engine) as session:
            await session.execute(delete(Letter))
            await session.commit()
        ours_s, ours_n, ours_mem = await measured(engine, settings, supporters)
        async with AsyncSession(engine) as session:
            stored = await session.scalar(select(func.count(Letter.id)))
    finally:
        await engine.dispose()
    print(f"[{label}] {supporters} supporters × {offices} offices")
    print(
        f"[{label}]   baseline (plain Jinja2 + executemany): {base_n / base_s:8.0f} letters/s  ({base_n} in {base_s:.1f} s, RSS +{base_mem:.0f} MB)"
    )
    print(
        f"[{label}]   render_many (sandbox, seeded, chunked): {ours_n / ours_s:8.0f} letters/s  ({ours_n} in {ours_s:.1f} s, RSS +{ours_mem:.0f} MB, {stored} stored)"
    )
    print(f"[{label}]   ratio: {(ours_n / ours_s) / (base_n / base_s):.0%} of the baseline")


def pdf_bench(letters: int) -> None:
    sample = PrintableLetter(
        reference="L1",
        sender_lines=["Appeals", "1 Example Street", "1000 Brussels"],
        recipient_lines=[
            "Prime Minister of France",
            "Hôtel de Matignon",
            "57, rue de Varenne",
            "75007 Paris",
            "FRANCE",
        ],
        country="FR",
        date_line="25 novembre 2026",
        subject="Appel pour Maks Bokayev et Talgat Ayan",
        body="Monsieur le Premier ministre,\n\n"
        + "\n\n".join(
            [
                "Je vous écris au sujet de Maks Bokayev et Talgat Ayan, militants de la société civile à Atyraou, condamnés le 28 novembre 2016 à cinq ans de prison."
            ]
            * 4
        )
        + "\n\nVeuillez agréer, Monsieur le Premier ministre, l'expression de ma haute considération.\n\nAda Lovelace",
        signature_lines=[],
    )
    batch = [sample] * letters
    render_pdf(batch[:5])  # warm: fonts registered, widths cached
    start = time.perf_counter()
    _, pages = render_pdf(batch)
    ours = sum(pages) / (time.perf_counter() - start)

    font = "BenchDejaVuSans"  # the same font file pdf.py embeds
    pdfmetrics.registerFont(TTFont(font, str(PROJECT_ROOT / "app/letters/fonts/DejaVuSans.ttf")))
    lines = [
        *sample.recipient_lines,
        sample.date_line,
        sample.subject,
        *[w for p in sample.body.split("\n\n") for w in textwrap.wrap(p, 90)],
    ]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        pdf = canvas.Canvas(out, pagesize=A4)
        for _ in range(letters):
            pdf.setFont(font, 11)
            y = 780.0
            for line in lines:
                pdf.drawString(70, y, line)
                y -= 14
            pdf.showPage()
        pdf.save()
        plain = letters / (time.perf_counter() - start)
    print(
        f"[pdf] {letters}-letter batch: render_pdf {ours:.0f} pages/s; reportlab minimal loop {plain:.0f} pages/s; ratio {ours / plain:.0%}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--supporters", type=int, default=5000)
    parser.add_argument("--offices", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--pdf-letters", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        await run(
            f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
            "sqlite",
            args.supporters,
            args.offices,
        )
    if args.postgres:
        name = f"appeals_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            await run(
                f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
                "postgresql",
                args.supporters,
                args.offices,
            )
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()
    pdf_bench(args.pdf_letters)


if __name__ == "__main__":
    asyncio.run(main())
