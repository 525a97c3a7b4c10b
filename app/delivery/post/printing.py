"""Letters for the post: the address block, one PDF per letter or per batch, and the manifest.

The PDF layout itself (window positions, fonts, pages) is `pdf.py`; this module decides what
goes on the page from the letter on record and the directory.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from babel import Locale

from app.config import Settings
from app.delivery.post.envelopes import Layout
from app.delivery.post.pdf import AddressDoesNotFit, PrintableLetter, render_pdf
from app.delivery.post.typesetting import UnprintableCharacters
from app.errors import Conflict, NotFound
from app.letters.context import format_day
from app.letters.models import Letter
from app.progress import Report, ignore
from app.recipients.channels import ChannelKind
from app.recipients.health import channel_problem
from app.recipients.models import Recipient, RecipientChannel

_ACRONYM = re.compile(r"\s*\([^)]*\)$")


def country_name(code: str) -> str:
    return str(Locale("en").territories.get(code, code))


def postal_channel(recipient: Recipient) -> RecipientChannel | None:
    """The office's first usable postal address, if it has one."""
    return next(
        (
            c
            for c in recipient.channels
            if c.kind is ChannelKind.postal and channel_problem(c) is None
        ),
        None,
    )


def address_lines(recipient: Recipient, *, home_country: str | None) -> list[str]:
    """The office's address block: office, organisation, the first usable postal address,
    and the country in capitals for mail abroad."""
    lines = [recipient.office]
    # "OECD" adds nothing under "Secretary-General of the Organisation for Economic
    # Co-operation and Development": the organisation is named once.
    organisation = _ACRONYM.sub("", recipient.organisation)
    if organisation not in recipient.office:
        lines.append(recipient.organisation)
    postal = postal_channel(recipient)
    if postal is not None and postal.lines:
        lines += postal.lines
        country = postal.country or recipient.country
        if country != home_country:
            lines.append(country_name(country).upper())
    return lines


def printable(letter: Letter, recipient: Recipient, settings: Settings) -> PrintableLetter:
    return PrintableLetter(
        reference=f"L{letter.id}",
        sender_lines=[settings.organisation_name, *settings.organisation_address],
        recipient_lines=address_lines(recipient, home_country=settings.home_country),
        country=recipient.country,
        date_line=format_day(letter.created_at.date(), letter.language),
        subject=letter.subject,
        body=letter.body,
        signature_lines=[],  # the template closes the letter with the signer's name
    )


class Unprintable(Conflict):
    kind = "Unprintable"


@dataclass(frozen=True, slots=True)
class Batch:
    pdf: bytes
    manifest_csv: str
    pages: list[int]


def render_batch(
    letters: Sequence[tuple[Letter, Recipient]],
    settings: Settings,
    *,
    default_layout: Layout = Layout.din5008_b,
    watermark: str | None = None,
    progress: Report = ignore,
) -> Batch:
    """One PDF for many letters, and a CSV manifest: letter, office, country, pages; with
    `watermark`, written across every page."""
    if not letters:
        raise NotFound("there are no letters for this batch yet")
    try:
        pdf, pages = render_pdf(
            [printable(letter, recipient, settings) for letter, recipient in letters],
            default_layout=default_layout,
            watermark=watermark,
            progress=progress,
        )
    except (AddressDoesNotFit, UnprintableCharacters) as exc:
        raise Unprintable(f"{exc} Correct the directory entry or the letter, then retry.") from exc
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["letter", "office", "country", "pages", "first_page"])
    first = 1
    for (letter, recipient), count in zip(letters, pages, strict=True):
        writer.writerow([letter.id, recipient.office, recipient.country, count, first])
        first += count
    return Batch(pdf, out.getvalue(), pages)
