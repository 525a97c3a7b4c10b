"""`appeals post ...`: print batches of postal letters, and marking them posted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns import service as campaigns_service
from app.config import get_settings
from app.console import run_in_session
from app.delivery.post import batches
from app.progress import progress

post_app = typer.Typer(help="Letters for the post.")
ACTOR = "cli"


@post_app.command("batch")
def post_batch(
    campaign: str,
    out: Annotated[Path, typer.Option(help="Folder for the PDF and the manifest")] = Path("."),
) -> None:
    """Collect a campaign's queued postal letters into a batch: one PDF and a CSV manifest.

    The letters are marked printed; `appeals post posted BATCH` marks them posted."""
    settings = get_settings()

    async def work(session: AsyncSession) -> tuple[int, bytes, str, int]:
        found = await campaigns_service.get_campaign(session, slug=campaign)
        batch = await batches.create_batch(session, campaign=found, actor=ACTOR)
        with progress(f"typesetting batch {batch.id}") as report:
            rendered = await batches.render(
                session, batch=batch, settings=settings, progress=report
            )
        return batch.id, rendered.pdf, rendered.manifest_csv, len(rendered.pages)

    batch_id, pdf, manifest, count = run_in_session(settings, work)
    out.mkdir(parents=True, exist_ok=True)
    pdf_path, csv_path = out / f"batch-{batch_id}.pdf", out / f"batch-{batch_id}.csv"
    pdf_path.write_bytes(pdf)
    csv_path.write_text(manifest, encoding="utf-8")
    typer.echo(f"batch {batch_id}: {count} letters marked printed: {pdf_path} and {csv_path}")


@post_app.command("posted")
def post_posted(batch: int) -> None:
    """Mark a print batch posted."""
    settings = get_settings()

    async def work(session: AsyncSession) -> int:
        found = await batches.get_batch(session, batch_id=batch)
        return await batches.mark_posted(session, batch=found, actor=ACTOR)

    typer.echo(f"batch {batch}: {run_in_session(settings, work)} letters marked posted")
