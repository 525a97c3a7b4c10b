"""`appeals evidence`: check a dossier file, export a campaign's dossiers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.console import run_in_session
from app.db import utcnow
from app.evidence import hashing, service
from app.progress import progress

evidence_app = typer.Typer(help="Proof of delivery: letters' dossiers.")


@evidence_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="A dossier as the API or `export` wrote it.")],
) -> None:
    """Recompute a dossier's hashes: exit 0 if intact, 1 naming what changed."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.secho(f"{file}: cannot be read: {exc}", err=True, fg="red")
        raise typer.Exit(1) from exc
    check = hashing.verify_file(data)
    if check.intact:
        dossier = json.loads(data)
        typer.echo(f"{file}: intact ({len(dossier['items'])} items, sha256 {dossier['sha256']})")
        return
    for problem in check.problems:
        typer.secho(f"{file}: {problem}", err=True, fg="red")
    raise typer.Exit(1)


@evidence_app.command("export")
def export(
    campaign: Annotated[str, typer.Argument(help="The campaign, by slug.")],
    out: Annotated[Path, typer.Option("--out", help="The folder to write into.")],
) -> None:
    """Write the dossiers of a campaign's e-mailed letters, without personal data.

    One `letter-ID.json` per letter, each as the API gives it (so `verify` checks it)."""
    out.mkdir(parents=True, exist_ok=True)

    async def work(session: AsyncSession) -> int:
        letter_ids = await service.letters_with_evidence(session, campaign=campaign)
        with progress(f"dossiers of {campaign}") as report:
            done = 0
            dossiers = service.campaign_dossiers(session, letter_ids=letter_ids, now=utcnow())
            async for letter_id, dossier in dossiers:
                (out / f"letter-{letter_id}.json").write_bytes(hashing.canonical(dossier) + b"\n")
                done += 1
                report(done, len(letter_ids))
        return done

    written = run_in_session(get_settings(), work)
    typer.echo(f"{written} dossiers written to {out}")
