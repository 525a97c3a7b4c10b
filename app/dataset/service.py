"""Importing the shipped data files into the database, idempotently.

Each row remembers the hash of the file content it was last imported from. Re-running an import
leaves unchanged files alone, updates rows whose file changed, and never silently overwrites a
row that staff edited through the API since its last import: that is reported as a conflict
(`force=True` lets the file win). Rows whose file disappeared are reported, not deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.cases import service as cases_service
from app.cases.files import CaseFile
from app.cases.models import Case, CasePerson
from app.dataset.loader import Loaded, Problem, load_folder
from app.db import utcnow
from app.progress import Report, ignore
from app.recipients import service as recipients_service
from app.recipients.files import RecipientFile
from app.recipients.models import Recipient

ACTOR = "import"


R = TypeVar("R", Case, Recipient)
M = TypeVar("M", bound=BaseModel)


@dataclass(slots=True)
class ImportReport:
    """What one import did, by row id, and every problem met on the way."""

    kind: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_edits: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "kept_edits": self.kept_edits,
            "conflicts": self.conflicts,
            "missing_files": self.missing_files,
            "problems": [
                {"severity": p.severity, "file": p.file, "field": p.field, "message": p.message}
                for p in self.problems
            ],
        }


def _edited_since_import(row: Case | Recipient) -> bool:
    """Whether staff changed the row through the API after its last import."""
    return row.edited_at is not None and (
        row.imported_at is None or row.edited_at > row.imported_at
    )


async def _import(
    session: AsyncSession,
    *,
    kind: str,
    loaded: Sequence[Loaded[M]],
    problems: list[Problem],
    existing: dict[str, R],
    apply: Callable[[R, M], list[str]],
    make: Callable[[str], R],
    force: bool,
    progress: Report,
) -> ImportReport:
    report = ImportReport(kind=kind, problems=list(problems))
    seen: set[str] = set()
    now = utcnow()
    for done, item in enumerate(loaded):
        progress(done, len(loaded))
        ident = item.ident
        seen.add(ident)
        row = existing.get(ident)
        edited_since_import = row is not None and _edited_since_import(row)
        if row is not None and row.source_hash == item.content_hash:
            (report.kept_edits if edited_since_import else report.unchanged).append(ident)
            continue
        if row is not None and edited_since_import and not force:
            report.conflicts.append(ident)
            report.problems.append(
                Problem(
                    str(item.path),
                    "",
                    "the file changed and the row was also edited through the API since the "
                    "last import; not overwritten (re-run with --force to let the file win)",
                )
            )
            continue
        is_new = row is None
        if row is None:
            row = make(ident)
            session.add(row)
        notices = apply(row, item.model)
        report.problems += [Problem(str(item.path), "", n, "notice") for n in notices]
        row.source_file = str(item.path)
        row.source_hash = item.content_hash
        row.imported_at = now
        row.edited_at = None
        (report.created if is_new else report.updated).append(ident)
        audit.record(
            session,
            actor=ACTOR,
            action=f"{kind}.{'create' if is_new else 'update'}",
            entity_type=kind,
            entity_id=ident,
            after={"source_file": str(item.path), "source_hash": item.content_hash},
        )
    report.missing_files = sorted(set(existing) - seen)
    await session.flush()
    progress(len(loaded), len(loaded))
    return report


async def import_recipients(
    session: AsyncSession, *, folder: Path, force: bool = False, progress: Report = ignore
) -> ImportReport:
    loaded, problems = load_folder(folder, RecipientFile)
    rows = await session.scalars(
        select(Recipient).options(selectinload(Recipient.tags), selectinload(Recipient.channels))
    )
    existing = {r.id: r for r in rows}
    return await _import(
        session,
        kind="recipient",
        loaded=loaded,
        problems=problems,
        existing=existing,
        apply=recipients_service.apply_file,
        make=lambda ident: Recipient(id=ident, tags=[], channels=[]),
        force=force,
        progress=progress,
    )


async def import_cases(
    session: AsyncSession, *, folder: Path, force: bool = False, progress: Report = ignore
) -> ImportReport:
    loaded, problems = load_folder(folder, CaseFile)
    rows = await session.scalars(
        select(Case).options(selectinload(Case.people).selectinload(CasePerson.charges))
    )
    existing = {c.id: c for c in rows}
    return await _import(
        session,
        kind="case",
        loaded=loaded,
        problems=problems,
        existing=existing,
        apply=cases_service.apply_file,
        make=lambda ident: Case(id=ident, people=[]),
        force=force,
        progress=progress,
    )
