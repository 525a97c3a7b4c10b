"""`appeals directory` (the health of every office) and `appeals recipients` (browse them)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.console import (
    JsonFlag,
    in_session,
    print_json,
)
from app.db import utcnow
from app.recipients import service as recipients_service
from app.recipients.channels import ChannelKind
from app.recipients.health import DirectoryHealth, OfficeStatus, directory_health
from app.recipients.schemas import OfficeHealthRead

directory_app = typer.Typer(help="The directory of offices.")
recipients_app = typer.Typer(help="Browse the directory.")


# --- directory ----------------------------------------------------------------------------


def _print_health(health: DirectoryHealth) -> None:
    marks = {OfficeStatus.ok: "ok", OfficeStatus.warning: "WARN", OfficeStatus.unreachable: "FAIL"}
    for office in health.offices:
        typer.secho(
            f"{marks[office.status]:<4} {office.recipient_id} — {office.office}",
            bold=True,
            fg={"ok": "green", "WARN": "yellow", "FAIL": "red"}[marks[office.status]],
        )
        for channel in office.usable:
            typer.echo(f"     usable:   {channel.kind.value}: {channel.value}")
        for channel in office.unusable:
            typer.echo(f"     unusable: {channel.kind.value}: {channel.problem}")
        for warning in office.warnings:
            typer.echo(f"     warning:  {warning}")
    typer.echo(
        f"\n{len(health.offices)} offices: {health.count(OfficeStatus.ok)} ok, "
        f"{health.count(OfficeStatus.warning)} with warnings, "
        f"{health.count(OfficeStatus.unreachable)} unreachable"
    )


@directory_app.command("check")
def directory_check(
    max_age_days: Annotated[
        int | None, typer.Option(help="Holder verification age limit (days)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per office: usable and unusable channels, stale holders. Exit 1 if any is unreachable."""
    settings = get_settings()

    async def work(session: AsyncSession) -> DirectoryHealth:
        return directory_health(
            await recipients_service.all_recipients(session),
            now=utcnow(),
            max_age_days=max_age_days or settings.holder_max_age_days,
        )

    health = in_session(work, settings=settings)
    if as_json:
        print_json(
            {
                "checked_at": health.checked_at.isoformat(),
                "holder_max_age_days": health.holder_max_age_days,
                "reachable": health.reachable,
                "counts": {s.value: health.count(s) for s in OfficeStatus},
                "offices": [
                    OfficeHealthRead.model_validate(o).model_dump(mode="json")
                    for o in health.offices
                ],
            }
        )
    else:
        _print_health(health)
    if not health.reachable:
        raise typer.Exit(1)


@recipients_app.command("list")
def recipients_list(
    q: Annotated[str | None, typer.Option(help="Office, holder or body")] = None,
    tag: str | None = None,
    country: str | None = None,
    channel: ChannelKind | None = None,
    as_json: JsonFlag = False,
) -> None:
    """List offices, optionally filtered."""

    async def work(session: AsyncSession) -> list[dict[str, Any]]:
        rows, _ = await recipients_service.list_recipients(
            session, q=q, tag=tag, country=country, channel=channel, limit=1000
        )
        return [recipients_service.to_read(r).model_dump(mode="json") for r in rows]

    offices = in_session(work)
    if as_json:
        print_json(offices)
        return
    for office in offices:
        kinds = ",".join(c["kind"] for c in office["channels"] if c["usable"]) or "-"
        typer.echo(f"{office['id']:<40} {office['country']}  usable: {kinds}")
    typer.echo(f"{len(offices)} offices")


@recipients_app.command("show")
def recipients_show(recipient_id: str) -> None:
    """Print one office as JSON."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        recipient = await recipients_service.get_recipient(session, recipient_id=recipient_id)
        return recipients_service.to_read(recipient).model_dump(mode="json")

    print_json(in_session(work))
