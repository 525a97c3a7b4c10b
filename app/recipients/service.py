"""The directory's business rules: reading offices, staff corrections, and applying data files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.audit import service as audit
from app.db import page_of, utcnow
from app.errors import InvalidInput, NotFound
from app.recipients.channels import ChannelKind
from app.recipients.files import (
    EmailChannel,
    PhoneChannel,
    PostalChannel,
    RecipientFile,
    WebFormChannel,
)
from app.recipients.health import channel_problem
from app.recipients.models import Recipient, RecipientChannel, RecipientTag
from app.recipients.schemas import (
    ChannelCreate,
    ChannelRead,
    ChannelUpdate,
    EmailChannelIn,
    PhoneChannelIn,
    PostalChannelIn,
    RecipientRead,
    RecipientUpdate,
)
from app.spelling import search_key, to_single_script
from app.staff.models import StaffUser

_LOAD = (selectinload(Recipient.tags), selectinload(Recipient.channels))


def _search_text(recipient: Recipient) -> str:
    parts = [recipient.id, recipient.office, recipient.organisation, recipient.holder or ""]
    parts += [recipient.office_as_printed or "", recipient.holder_as_printed or ""]
    return " | ".join(search_key(p) for p in parts if p)


def _filtered(
    *, q: str | None, tag: str | None, country: str | None, channel: ChannelKind | None
) -> Select[Recipient]:
    query = select(Recipient)
    if tag:
        query = query.where(Recipient.tags.any(RecipientTag.tag == tag.strip().lower()))
    if country:
        query = query.where(Recipient.country == country.strip().upper())
    if channel:
        query = query.where(Recipient.channels.any(RecipientChannel.kind == channel))
    for word in search_key(q or "").split():
        query = query.where(Recipient.search_text.contains(word, autoescape=True))
    return query


async def list_recipients(
    session: AsyncSession,
    *,
    q: str | None = None,
    tag: str | None = None,
    country: str | None = None,
    channel: ChannelKind | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Recipient], int]:
    """Offices matching every given filter, ordered by id, with tags and channels loaded."""
    query = _filtered(q=q, tag=tag, country=country, channel=channel)
    ordered = query.options(*_LOAD).order_by(Recipient.id)
    return await page_of(session, query, order=ordered, limit=limit, offset=offset)


async def all_recipients(session: AsyncSession) -> Sequence[Recipient]:
    rows = await session.scalars(select(Recipient).options(*_LOAD).order_by(Recipient.id))
    return rows.all()


async def get_recipient(session: AsyncSession, *, recipient_id: str) -> Recipient:
    recipient = await session.scalar(
        select(Recipient).options(*_LOAD).where(Recipient.id == recipient_id)
    )
    if recipient is None:
        raise NotFound(f"no office with id {recipient_id!r}")
    return recipient


def to_read(recipient: Recipient) -> RecipientRead:
    return RecipientRead(
        id=recipient.id,
        office=recipient.office,
        office_as_printed=recipient.office_as_printed,
        organisation=recipient.organisation,
        holder=recipient.holder,
        holder_as_printed=recipient.holder_as_printed,
        holder_verified_on=recipient.holder_verified_on,
        country=recipient.country,
        language=recipient.language,
        timezone=recipient.timezone,
        salutation=recipient.salutation,
        tags=recipient.tag_names,
        channels=[channel_read(c) for c in recipient.channels],
        notes=recipient.notes,
        source=recipient.source,
        source_file=recipient.source_file,
        imported_at=recipient.imported_at,
        edited_at=recipient.edited_at,
        updated_at=recipient.updated_at,
    )


def channel_read(channel: RecipientChannel) -> ChannelRead:
    problem = channel_problem(channel)
    return ChannelRead(
        id=channel.id,
        kind=channel.kind,
        value=channel.value,
        lines=channel.lines,
        country=channel.country,
        obfuscated=channel.obfuscated,
        as_printed=channel.as_printed,
        label=channel.label,
        source=channel.source,
        verified_on=channel.verified_on,
        disabled_reason=channel.disabled_reason,
        usable=problem is None,
        problem=problem,
    )


def _snapshot(recipient: Recipient) -> dict[str, Any]:
    return {
        "office": recipient.office,
        "organisation": recipient.organisation,
        "holder": recipient.holder,
        "holder_verified_on": recipient.holder_verified_on,
        "country": recipient.country,
        "language": recipient.language,
        "timezone": recipient.timezone,
        "salutation": recipient.salutation,
        "tags": recipient.tag_names,
        "notes": recipient.notes,
    }


def _channel_snapshot(channel: RecipientChannel) -> dict[str, Any]:
    return {
        "kind": channel.kind.value,
        "value": channel.value,
        "lines": channel.lines,
        "country": channel.country,
        "obfuscated": channel.obfuscated,
        "label": channel.label,
        "source": channel.source,
        "verified_on": channel.verified_on,
        "disabled_reason": channel.disabled_reason,
    }


def _set_tags(recipient: Recipient, tags: list[str]) -> None:
    wanted = sorted(set(tags))
    if wanted == recipient.tag_names:
        return
    recipient.tags = [RecipientTag(tag=t) for t in wanted]


async def update_recipient(
    session: AsyncSession,
    *,
    recipient: Recipient,
    changes: RecipientUpdate,
    actor: StaffUser,
    today: date,
) -> Recipient:
    """Apply a staff correction; a new holder counts as verified today unless a date is given."""
    before = _snapshot(recipient)
    values = changes.model_dump(exclude_unset=True)
    for required in ("office", "organisation", "country", "language", "timezone", "salutation"):
        if required in values and values[required] is None:
            raise InvalidInput(f"{required} cannot be empty")
    if "tags" in values:
        _set_tags(recipient, values.pop("tags") or [])
    if "holder" in values:
        holder = values.pop("holder")
        recipient.holder = to_single_script(holder)[0] if holder else None
        recipient.holder_as_printed = None
        if "holder_verified_on" not in values:
            values["holder_verified_on"] = today if holder else None
    for name, value in values.items():
        setattr(recipient, name, value)
    recipient.search_text = _search_text(recipient)
    after = _snapshot(recipient)
    if audit.record_change(
        session,
        actor=actor,
        action="recipient.update",
        entity_type="recipient",
        entity_id=recipient.id,
        before=before,
        after=after,
    ):
        recipient.edited_at = utcnow()
    await session.flush()
    return recipient


def _channel_from_input(data: ChannelCreate, *, today: date) -> RecipientChannel:
    channel = RecipientChannel(
        kind=data.kind,
        label=data.label,
        source=data.source,
        verified_on=data.verified_on or today,
        obfuscated=False,
    )
    if isinstance(data, EmailChannelIn):
        channel.value = str(data.address)
    elif isinstance(data, PostalChannelIn):
        channel.lines, channel.country = list(data.lines), data.country
    elif isinstance(data, PhoneChannelIn):
        channel.value = data.number
    else:
        channel.value = str(data.url)
    return channel


async def add_channel(
    session: AsyncSession,
    *,
    recipient: Recipient,
    data: ChannelCreate,
    actor: StaffUser,
    today: date,
) -> RecipientChannel:
    channel = _channel_from_input(data, today=today)
    channel.position = max((c.position for c in recipient.channels), default=-1) + 1
    recipient.channels.append(channel)
    recipient.edited_at = utcnow()
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="recipient.channel.add",
        entity_type="recipient",
        entity_id=recipient.id,
        after={"channel_id": channel.id, **_channel_snapshot(channel)},
    )
    return channel


def find_channel(recipient: Recipient, channel_id: int) -> RecipientChannel:
    for channel in recipient.channels:
        if channel.id == channel_id:
            return channel
    raise NotFound(f"office {recipient.id!r} has no channel {channel_id}")


_FIELDS_BY_KIND: dict[ChannelKind, set[str]] = {
    ChannelKind.email: {"address"},
    ChannelKind.postal: {"lines", "country"},
    ChannelKind.phone: {"number"},
    ChannelKind.web_form: {"url"},
}
_KIND_FIELDS = {"address", "lines", "country", "number", "url"}


def _apply_contact(channel: RecipientChannel, values: dict[str, Any]) -> None:
    """The channel's address, number, form URL or postal lines, as given."""
    if values.get("address") is not None:
        if channel.value != str(values["address"]):
            channel.suspect_since = channel.suspect_reason = None  # a new address starts afresh
        channel.value = str(values["address"])
        channel.obfuscated = False
    if values.get("number") is not None:
        channel.value = values["number"]
    if values.get("url") is not None:
        channel.value = str(values["url"])
    if values.get("lines") is not None:
        channel.lines = list(values["lines"])
    if values.get("country") is not None:
        channel.country = values["country"]


async def update_channel(
    session: AsyncSession,
    *,
    recipient: Recipient,
    channel_id: int,
    changes: ChannelUpdate,
    actor: StaffUser,
    today: date,
) -> RecipientChannel:
    """Correct or verify a channel. Setting a real e-mail address clears the obfuscation."""
    channel = find_channel(recipient, channel_id)
    values = changes.model_dump(exclude_unset=True)
    wrong = (set(values) & _KIND_FIELDS) - _FIELDS_BY_KIND[channel.kind]
    if wrong:
        raise InvalidInput(
            f"a {channel.kind.value} channel has no {', '.join(sorted(wrong))}",
        )
    before = _channel_snapshot(channel)
    _apply_contact(channel, values)
    for name in ("label", "source", "disabled_reason"):
        if name in values:
            setattr(channel, name, values[name])
    if "source" in values and values["source"] is None:
        raise InvalidInput("source cannot be empty")
    content_changed = bool(set(values) & (_KIND_FIELDS | {"source"}))
    if "verified_on" in values:
        channel.verified_on = values["verified_on"]
    elif content_changed:
        channel.verified_on = today
    if audit.record_change(
        session,
        actor=actor,
        action="recipient.channel.update",
        entity_type="recipient",
        entity_id=recipient.id,
        before=before,
        after=_channel_snapshot(channel),
        context={"channel_id": channel.id},
    ):
        recipient.edited_at = utcnow()
    await session.flush()
    return channel


async def remove_channel(
    session: AsyncSession, *, recipient: Recipient, channel_id: int, actor: StaffUser
) -> None:
    channel = find_channel(recipient, channel_id)
    before = _channel_snapshot(channel)
    recipient.channels.remove(channel)
    recipient.edited_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="recipient.channel.remove",
        entity_type="recipient",
        entity_id=recipient.id,
        before={"channel_id": channel_id, **before},
    )
    await session.flush()


def _channel_from_file(
    data: EmailChannel | PostalChannel | PhoneChannel | WebFormChannel, position: int
) -> RecipientChannel:
    channel = RecipientChannel(
        kind=data.kind,
        position=position,
        as_printed=data.as_printed,
        label=data.label,
        source=data.source,
        verified_on=data.verified_on,
        obfuscated=False,
    )
    if isinstance(data, EmailChannel):
        channel.value = str(data.address) if data.address else None
        channel.obfuscated = data.obfuscated
    elif isinstance(data, PostalChannel):
        channel.lines, channel.country = list(data.lines), data.country
    elif isinstance(data, PhoneChannel):
        channel.value = data.number
    else:
        channel.value = str(data.url)
    return channel


def apply_file(recipient: Recipient, data: RecipientFile) -> list[str]:
    """Make `recipient` say what its data file says; returns notices for the import report."""
    notices: list[str] = []
    holder = data.holder
    if holder is not None:
        holder, replaced = to_single_script(holder)
        notices += [f"holder: {r.describe()}" for r in replaced]
    recipient.office = data.office
    recipient.office_as_printed = data.office_as_printed
    recipient.organisation = data.organisation
    recipient.holder = holder
    recipient.holder_as_printed = data.holder if holder != data.holder else None
    recipient.holder_verified_on = data.holder_verified_on
    recipient.country = data.country
    recipient.language = data.language
    recipient.timezone = data.timezone
    recipient.salutation = data.salutation
    recipient.notes = data.notes
    recipient.source = data.source.model_dump(mode="json")
    recipient.response_term = (
        data.response_term.model_dump(mode="json") if data.response_term else None
    )
    recipient.tags = [RecipientTag(tag=t) for t in sorted(set(data.tags))]
    recipient.channels = [_channel_from_file(c, i) for i, c in enumerate(data.channels)]
    recipient.search_text = _search_text(recipient)
    return notices
