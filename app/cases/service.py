"""The cases' business rules: search, staff edits, and applying data files.

Display names and texts are stored single-script (see `app.spelling`); every printed spelling
stays a variant and feeds the search index, so any spelling in the report finds its case.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.cases.files import CaseFile, Category, Person, Status
from app.cases.models import Case, CasePerson, Charge
from app.cases.schemas import CaseUpdate, PersonUpdate
from app.db import page_of, utcnow
from app.errors import InvalidInput, NotFound
from app.spelling import search_key, to_single_script
from app.staff.models import StaffUser

_LOAD = (selectinload(Case.people).selectinload(CasePerson.charges),)


def _search_text(case: Case) -> str:
    spellings = [case.id.replace("-", " "), case.title]
    for person in case.people:
        spellings += [person.name, person.name_as_printed, *person.variants]
    keys = dict.fromkeys(search_key(s) for s in spellings)  # ordered, without repeats
    return " | ".join(k for k in keys if k)


def _filtered(
    *,
    q: str | None,
    status: Status | None,
    category: Category | None,
    article: str | None,
) -> Select[Case]:
    query = select(Case)
    if status:
        query = query.where(Case.people.any(CasePerson.status == status))
    if category:
        query = query.where(Case.category == category)
    if article:
        query = query.where(
            Case.people.any(CasePerson.charges.any(Charge.article == article.strip()))
        )
    for word in search_key(q or "").split():
        query = query.where(Case.search_text.contains(word, autoescape=True))
    return query


async def list_cases(
    session: AsyncSession,
    *,
    q: str | None = None,
    status: Status | None = None,
    category: Category | None = None,
    article: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Case], int]:
    """Cases matching every filter; `q` matches any spelling of any person's name or the title."""
    query = _filtered(q=q, status=status, category=category, article=article)
    # A list shows people, not charges: one query fewer per page.
    ordered = query.options(selectinload(Case.people)).order_by(Case.category, Case.id)
    return await page_of(session, query, order=ordered, limit=limit, offset=offset)


async def get_case(session: AsyncSession, *, case_id: str) -> Case:
    case = await session.scalar(select(Case).options(*_LOAD).where(Case.id == case_id))
    if case is None:
        raise NotFound(f"no case with id {case_id!r}")
    return case


def _case_snapshot(case: Case) -> dict[str, Any]:
    return {
        "title": case.title,
        "region": case.region,
        "summary": case.summary,
        "key_dates": case.key_dates,
        "asks": case.asks,
        "as_of": case.as_of,
        "notes": case.notes,
    }


def _person_snapshot(person: CasePerson) -> dict[str, Any]:
    return {
        "status": person.status,
        "status_note": person.status_note,
        "role": person.role,
        "place": person.place,
        "sentence": person.sentence,
        "sentenced_on": person.sentenced_on,
        "detention_place": person.detention_place,
        "variants": person.variants,
    }


def _check_required(values: dict[str, Any], model: type[Case] | type[CasePerson]) -> None:
    """A null for a column that cannot be null (`variants: null`) is the client's mistake."""
    columns = model.__table__.columns
    for name, value in values.items():
        if value is None and name in columns and not columns[name].nullable:
            raise InvalidInput(f"{name} cannot be empty")


async def update_case(
    session: AsyncSession, *, case: Case, changes: CaseUpdate, actor: StaffUser
) -> Case:
    values = changes.model_dump(exclude_unset=True, mode="json")
    _check_required(values, Case)
    if "as_of" in values:
        values["as_of"] = changes.as_of
    before = _case_snapshot(case)
    for name, value in values.items():
        setattr(case, name, to_single_script(value)[0] if isinstance(value, str) else value)
    case.search_text = _search_text(case)
    if audit.record_change(
        session,
        actor=actor,
        action="case.update",
        entity_type="case",
        entity_id=case.id,
        before=before,
        after=_case_snapshot(case),
    ):
        case.edited_at = utcnow()
    await session.flush()
    return case


async def update_person(
    session: AsyncSession,
    *,
    case: Case,
    person_id: int,
    changes: PersonUpdate,
    actor: StaffUser,
) -> CasePerson:
    person = next((p for p in case.people if p.id == person_id), None)
    if person is None:
        raise NotFound(f"case {case.id!r} has no person {person_id}")
    values = changes.model_dump(exclude_unset=True)
    _check_required(values, CasePerson)
    before = _person_snapshot(person)
    for name, value in values.items():
        setattr(person, name, to_single_script(value)[0] if isinstance(value, str) else value)
    case.search_text = _search_text(case)
    if audit.record_change(
        session,
        actor=actor,
        action="case.person.update",
        entity_type="case",
        entity_id=case.id,
        before=before,
        after=_person_snapshot(person),
        context={"person_id": person.id},
    ):
        case.edited_at = utcnow()
    await session.flush()
    return person


class _Normaliser:
    """Rewrites mixed-script words of free text and remembers what it changed, per field."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def __call__(self, field: str, text: str | None) -> str | None:
        if text is None:
            return None
        fixed, replaced = to_single_script(text)
        self.notices += [f"{field}: {r.describe()}" for r in replaced]
        return fixed


def _person_from_file(data: Person, position: int, fix: _Normaliser) -> CasePerson:
    field = f"people[{position}]"
    display, replaced = to_single_script(data.name or data.name_as_printed)
    if replaced:
        fix.notices.append(
            f"{field}.name: mixed-script name {data.name_as_printed!r} stored as {display!r} "
            f"({'; '.join(r.describe() for r in replaced)}); the printed form is kept as a variant"
        )
    variants = [v for v in dict.fromkeys([data.name_as_printed, *data.variants]) if v != display]
    return CasePerson(
        position=position,
        name=display,
        name_as_printed=data.name_as_printed,
        variants=variants,
        role=fix(f"{field}.role", data.role) or data.role,
        place=fix(f"{field}.place", data.place),
        status=data.status,
        status_note=fix(f"{field}.status_note", data.status_note),
        sentence=fix(f"{field}.sentence", data.sentence),
        sentenced_on=data.sentenced_on,
        detention_place=fix(f"{field}.detention_place", data.detention_place),
        charges=[
            Charge(
                position=i,
                article=c.article,
                code=c.code,
                wording=fix(f"{field}.charges[{i}].wording", c.wording) or c.wording,
                note=fix(f"{field}.charges[{i}].note", c.note),
            )
            for i, c in enumerate(data.charges)
        ],
    )


def apply_file(case: Case, data: CaseFile) -> list[str]:
    """Make `case` say what its data file says; returns notices for the import report."""
    fix = _Normaliser()
    case.title = fix("title", data.title) or data.title
    case.category = data.category
    case.region = fix("region", data.region)
    case.summary = fix("summary", data.summary) or data.summary
    case.key_dates = [
        {"date": d.date, "event": fix(f"key_dates[{i}].event", d.event) or d.event}
        for i, d in enumerate(data.key_dates)
    ]
    case.asks = [
        {"kind": a.kind.value, "text": fix(f"asks[{i}].text", a.text) or a.text}
        for i, a in enumerate(data.asks)
    ]
    case.source = data.source.model_dump(mode="json")
    case.as_of = data.as_of
    case.notes = fix("notes", data.notes)
    case.people = [_person_from_file(p, i, fix) for i, p in enumerate(data.people)]
    case.search_text = _search_text(case)
    return fix.notices
