"""`appeals mail dns`: the DNS records that let our mail reach inboxes instead of spam folders."""

from __future__ import annotations

import typer

from app.config import get_settings
from app.delivery.email.dkim import DkimKeyError, dns_records

mail_app = typer.Typer(help="Outgoing mail.")


@mail_app.command("dns")
def mail_dns() -> None:
    """Print the SPF, DKIM and DMARC records to publish for APPEALS_MAIL_DOMAIN, and the MX
    that brings bounces and replies back."""
    settings = get_settings()
    try:
        records = dns_records(settings)
    except DkimKeyError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(2) from exc
    for name, kind, value in records:
        shown = f'"{value}"' if kind == "TXT" else value
        typer.echo(f"{name:<40} {kind:<4} {shown}")
    if settings.dkim_selector is None:
        typer.echo(
            "\n(no DKIM key configured: set APPEALS_DKIM_SELECTOR and "
            "APPEALS_DKIM_PRIVATE_KEY_FILE, then run this again for its record)"
        )
