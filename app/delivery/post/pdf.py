"""Print-ready PDFs of letters for window envelopes: one A4 PDF per batch, address in the window.

The sender line and the recipient's address are placed with exact coordinates inside the envelope
window of the chosen layout (DIN 5008 form A or B for DL envelopes, the standard US #10 window);
the date, subject, body and signature follow. The body is wrapped and paginated here, before
anything is drawn, so every letter knows its page count and can say "Page 2 of 3". Text is set in
DejaVu Sans, embedded as a subset, so Cyrillic names and French accents print and copy correctly.
"""

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from app.delivery.post.envelopes import (
    CLEARANCE,
    FOLD_MARKS,
    INCH,
    MAX_RECIPIENT_LINES,
    PUNCH_MARK,
    WINDOWS,
    Layout,
    Window,
)
from app.delivery.post.typesetting import (
    BOLD,
    REGULAR,
    check_glyphs,
    clean,
    fonts,
    pack,
    split_paragraphs,
    text_width,
    wrap,
)
from app.progress import Report, ignore


class AddressDoesNotFit(ValueError):
    """An address block that would stick out of the envelope window even at the smallest size."""


_PT = 72 / INCH  # points per millimetre
_PAGE_WIDTH = 210 * _PT
_PAGE_HEIGHT = 297 * _PT
_TEXT_LEFT = 25 * _PT  # DIN 5008 left margin, also the alignment line of the address
_TEXT_RIGHT = (210 - 20) * _PT
_TEXT_WIDTH = _TEXT_RIGHT - _TEXT_LEFT
_CONTINUATION_TOP = 20 * _PT  # first baseline on pages after the first
_BODY_BOTTOM = (297 - 25) * _PT  # lowest body baseline, leaving room for the footer
_FOOTER_BASELINE = (297 - 12) * _PT

# How far glyphs reach above and below the baseline, in ems. DejaVu's typographic ascent (0.76)
# leaves accented capitals (É, Ê) poking out, so fitting uses the font's full extent.
_ASCENT = 0.93
_DESCENT = 0.24

_BODY_SIZE = 11.0
_BODY_LEADING = _BODY_SIZE * 1.3
_SIGNATURE_GAP = 3 * _BODY_LEADING  # from the closing to the printed name: room to sign
_ADDRESS_SIZES = (10.0, 9.5, 9.0, 8.5, 8.0)
_SENDER_SIZES = (8.0, 7.5, 7.0)
_SMALL_LEADING = 1.2  # times the size, for the address and sender blocks
_SENDER_SEPARATOR = " · "
_SENDER_GAP = 1.5  # mm between the sender line and the recipient zone

# Invisible characters dropped before layout: the font has no glyphs for some, and a soft
# hyphen would print as a visible one in the middle of a line.


@dataclass(frozen=True, slots=True)
class PrintableLetter:
    reference: str
    sender_lines: list[str]
    recipient_lines: list[str]
    country: str
    date_line: str
    subject: str
    body: str
    signature_lines: list[str]


@dataclass(frozen=True, slots=True)
class _Run:
    """One line of text as placed: `top` is the baseline's distance from the top, in points."""

    text: str
    font: str
    size: float
    x: float
    top: float


def layout_for(
    country: str,
    default: Layout = Layout.din5008_b,
    overrides: Mapping[str, Layout] | None = None,
) -> Layout:
    """The layout for a recipient in `country` (ISO alpha-2): an override, us10 for the US, or
    the default."""
    code = country.strip().upper()
    if overrides and code in overrides:
        return overrides[code]
    return Layout.us10 if code == "US" else default


def render_pdf(
    letters: Sequence[PrintableLetter],
    *,
    default_layout: Layout = Layout.din5008_b,
    overrides: Mapping[str, Layout] | None = None,
    watermark: str | None = None,
    progress: Report = ignore,
) -> tuple[bytes, list[int]]:
    """One PDF for all `letters`, each starting on a new page; the bytes and each letter's page
    count; `watermark` across every page, under the text. Raises AddressDoesNotFit or
    UnprintableCharacters naming the letter's reference. `progress` counts each letter twice:
    laid out, then drawn."""
    if not letters:
        raise ValueError("No letters to render: a PDF needs at least one page.")
    glyphs = fonts()
    # Lay every letter out before drawing anything, so a bad letter fails the batch early.
    laid_out: list[tuple[list[list[_Run]], Layout]] = []
    steps = 2 * len(letters)
    for letter in letters:
        progress(len(laid_out), steps)
        layout = layout_for(letter.country, default_layout, overrides)
        laid_out.append((_layout_letter(letter, layout, glyphs), layout))
    out = io.BytesIO()
    # invariant: no timestamps or random IDs, so the same letters give the same bytes; the
    # initial font is ours, or every page would name an unembedded Helvetica
    pdf = canvas.Canvas(
        out,
        pagesize=(_PAGE_WIDTH, _PAGE_HEIGHT),
        invariant=1,
        pageCompression=1,
        initialFontName=REGULAR,
    )
    pdf.setTitle("Letters")
    pdf.setCreator("Appeals")
    for drawn, (pages, layout) in enumerate(laid_out):
        progress(len(letters) + drawn, steps)
        for index, runs in enumerate(pages):
            if index == 0:
                _draw_marks(pdf, layout)
            if watermark:
                _draw_watermark(pdf, watermark)
            _draw_runs(pdf, runs)
            pdf.showPage()
    pdf.save()
    progress(steps, steps)
    return out.getvalue(), [len(pages) for pages, _ in laid_out]


def _layout_letter(
    letter: PrintableLetter, layout: Layout, glyphs: Mapping[str, frozenset[str]]
) -> list[list[_Run]]:
    """The letter's pages, each the list of its lines as placed."""
    window = WINDOWS[layout]
    clearance = CLEARANCE[layout] * _PT
    recipient = _recipient_runs(letter, layout, window, clearance)
    # the return address stays visibly smaller than an address that had to shrink
    sender_sizes = [s for s in _SENDER_SIZES if s < recipient[0].size] or [_SENDER_SIZES[-1]]
    header = [*_sender_runs(letter, layout, window, sender_sizes), *recipient]
    date = clean(letter.date_line).strip()
    field_bottom = window.bottom * _PT
    top = field_bottom + 8 * _PT
    header.append(
        _Run(date, REGULAR, _BODY_SIZE, _TEXT_RIGHT - text_width(date, REGULAR, _BODY_SIZE), top)
    )
    top = field_bottom + 18 * _PT
    for line in wrap(clean(letter.subject).strip(), BOLD, _BODY_SIZE, _TEXT_WIDTH):
        header.append(_Run(line, BOLD, _BODY_SIZE, _TEXT_LEFT, top))
        top += _BODY_LEADING
    body_top = top + _BODY_LEADING  # one blank line after the subject

    paragraphs = [
        [wrapped for line in para for wrapped in wrap(line, REGULAR, _BODY_SIZE, _TEXT_WIDTH)]
        for para in split_paragraphs(letter.body)
    ]
    signature = [clean(line).strip() for line in letter.signature_lines]
    pages = _paginate(paragraphs, signature, body_top)
    pages[0][:0] = header
    total = len(pages)
    for number, runs in enumerate(pages, start=1):
        runs.append(_Run(f"Ref. {letter.reference}", REGULAR, 7, _TEXT_LEFT, _FOOTER_BASELINE))
        if total > 1:
            label = f"Page {number} of {total}"
            x = _TEXT_RIGHT - text_width(label, REGULAR, 8)
            runs.append(_Run(label, REGULAR, 8, x, _FOOTER_BASELINE))
    check_glyphs(letter.reference, ((r.text, r.font) for runs in pages for r in runs), glyphs)
    return pages


def _sender_runs(
    letter: PrintableLetter, layout: Layout, window: Window, sizes: Sequence[float]
) -> list[_Run]:
    parts = [clean(line).strip() for line in letter.sender_lines]
    parts = [part for part in parts if part]
    if not parts:
        return []
    width = window.right * _PT - _TEXT_LEFT
    if window.return_zone == 0:
        # No return zone in this window (a double-window envelope shows the return address
        # through its upper window, whose position varies by maker): a small letterhead at the
        # top left, where that window usually is.
        size = _fit(parts, sizes, width, 25 * _PT)
        if size is None:
            raise AddressDoesNotFit(f"Letter {letter.reference}: the sender address is too long.")
        return _block(parts, size, 18 * _PT - _ASCENT * size)
    # DIN 5008: one line at the bottom of the return zone; if even 7 pt is too wide, break it
    # at the separators rather than cut it. A small gap keeps it from touching the address.
    bottom = (window.recipient_top - _SENDER_GAP) * _PT
    height = bottom - window.top * _PT
    joined = _SENDER_SEPARATOR.join(parts)
    fitted = _fit([joined], sizes, width, height)
    size = fitted or sizes[-1]
    lines = [joined] if fitted else pack(parts, _SENDER_SEPARATOR, REGULAR, size, width)
    if fitted is None and _fit(lines, (size,), width, height) is None:
        raise AddressDoesNotFit(
            f"Letter {letter.reference}: the sender address does not fit the return-address "
            f"zone of the {layout} window."
        )
    block_height = (len(lines) - 1) * size * _SMALL_LEADING + (_ASCENT + _DESCENT) * size
    return _block(lines, size, bottom - block_height)


def _recipient_runs(
    letter: PrintableLetter, layout: Layout, window: Window, clearance: float
) -> list[_Run]:
    lines = [clean(line).strip() for line in letter.recipient_lines]
    lines = [line for line in lines if line]
    if not lines:
        raise AddressDoesNotFit(f"Letter {letter.reference} has no recipient address.")
    if len(lines) > MAX_RECIPIENT_LINES:
        raise AddressDoesNotFit(
            f"Letter {letter.reference}: the recipient address has {len(lines)} lines; the "
            f"window takes {MAX_RECIPIENT_LINES}."
        )
    x = max(_TEXT_LEFT, window.left * _PT + clearance)
    width = window.right * _PT - clearance - x
    top = window.recipient_top * _PT + clearance
    height = window.bottom * _PT - clearance - top
    size = _fit(lines, _ADDRESS_SIZES, width, height)
    if size is None:
        # Long office names ("Chair of the Committee on Foreign Affairs of the European
        # Parliament") break at a space onto a second line, as a person addressing it would.
        for candidate in _ADDRESS_SIZES:
            wrapped = [part for line in lines for part in wrap(line, REGULAR, candidate, width)]
            if len(wrapped) <= MAX_RECIPIENT_LINES and _fit(wrapped, [candidate], width, height):
                lines, size = wrapped, candidate
                break
    if size is None:
        smallest = _ADDRESS_SIZES[-1]
        widest = max(lines, key=lambda line: text_width(line, REGULAR, smallest))
        raise AddressDoesNotFit(
            f"Letter {letter.reference}: the recipient address does not fit the {layout} window "
            f"even at {smallest:g} pt; widest line: {widest!r} "
            f"({text_width(widest, REGULAR, smallest) / _PT:.0f} mm of {width / _PT:.0f} mm)."
        )
    return _block(lines, size, top, x)


def _block(lines: Sequence[str], size: float, top: float, x: float = _TEXT_LEFT) -> list[_Run]:
    """Small lines stacked from `top`, the upper edge of the first line's glyphs."""
    first = top + _ASCENT * size
    return [
        _Run(line, REGULAR, size, x, first + index * size * _SMALL_LEADING)
        for index, line in enumerate(lines)
    ]


def _fit(lines: Sequence[str], sizes: Sequence[float], width: float, height: float) -> float | None:
    """The largest of `sizes` at which the lines fit the box, or None."""
    # Widths scale linearly with the size (no kerning), so one measurement per line will do.
    widest = max(text_width(line, REGULAR, 1) for line in lines)
    for size in sizes:
        block = (len(lines) - 1) * size * _SMALL_LEADING + (_ASCENT + _DESCENT) * size
        if widest * size <= width and block <= height:
            return size
    return None


def _paginate(
    paragraphs: list[list[str]], signature: list[str], first_top: float
) -> list[list[_Run]]:
    """Distribute body lines over pages: no single line of a paragraph left alone at the foot or
    head of a page, and the signature kept with at least the last two lines before it."""
    pages: list[list[_Run]] = [[]]
    top = first_top  # baseline of the next line
    at_page_start = False  # page one starts below the subject; its first line needs no gap
    lines_per_page = int((_BODY_BOTTOM - _CONTINUATION_TOP) // _BODY_LEADING) + 1
    tail = _SIGNATURE_GAP + (len(signature) - 1) * _BODY_LEADING if signature else 0.0

    def place(line: str) -> None:
        nonlocal top
        pages[-1].append(_Run(line, REGULAR, _BODY_SIZE, _TEXT_LEFT, top))
        top += _BODY_LEADING

    def new_page() -> None:
        nonlocal top, at_page_start
        pages.append([])
        top = _CONTINUATION_TOP
        at_page_start = True

    for number, para in enumerate(paragraphs):
        extra = tail if number == len(paragraphs) - 1 else 0.0
        if pages[-1] and not at_page_start:
            top += _BODY_LEADING  # blank line between paragraphs
        rows = para
        while rows:
            room = max(0, int((_BODY_BOTTOM - top) // _BODY_LEADING) + 1)
            if room >= len(rows) and top + (len(rows) - 1) * _BODY_LEADING + extra <= _BODY_BOTTOM:
                for row in rows:
                    place(row)
                break
            take = _lines_before_break(len(rows), room, at_page_start, lines_per_page)
            for row in rows[: max(take, 0)]:
                place(row)
            rows = rows[max(take, 0) :]
            new_page()
        at_page_start = False

    if signature:
        top += _SIGNATURE_GAP - _BODY_LEADING if pages[-1] else 0.0
        for line in signature:
            if top > _BODY_BOTTOM:
                new_page()
            place(line)
    return pages


def _lines_before_break(left: int, room: int, at_page_start: bool, lines_per_page: int) -> int:
    """How many of a paragraph's `left` lines go on this page (with room for `room`) before
    the page breaks; the paragraph, or the signature after it, does not fit whole."""
    take = min(room, left)
    if take == left:  # the lines fit but the signature does not: carry two over
        take = left - 2
    if left - take == 1:  # never a single line at the head of the next page
        take -= 1
    if take == 1 and left > 1:  # nor a single first line at the foot of this one
        take = 0
    if at_page_start and take <= 0:  # a page cannot hold it anyway: fill it
        take = min(left, room, lines_per_page)
    return take


def _draw_marks(pdf: canvas.Canvas, layout: Layout) -> None:
    """Fold marks (and DIN's punch mark) at the left edge, thin and grey."""
    pdf.saveState()
    pdf.setLineWidth(0.3)
    pdf.setStrokeGray(0.4)
    for fold in FOLD_MARKS[layout]:
        y = _PAGE_HEIGHT - fold * _PT
        pdf.line(3 * _PT, y, 8 * _PT, y)
    if layout is not Layout.us10:
        y = _PAGE_HEIGHT - PUNCH_MARK * _PT
        pdf.line(3 * _PT, y, 10 * _PT, y)
    pdf.restoreState()


def _draw_watermark(pdf: canvas.Canvas, text: str) -> None:
    """`text` in the top margin, and large, light and diagonal across the page, under the
    letter's text: seen at once, the letter still legible."""
    pdf.saveState()
    pdf.setFillGray(0.45)
    pdf.setFont(BOLD, 14)
    pdf.drawCentredString(_PAGE_WIDTH / 2, _PAGE_HEIGHT - 9 * _PT, text)
    pdf.setFillGray(0.85)
    pdf.setFont(BOLD, 44)
    pdf.translate(_PAGE_WIDTH / 2, _PAGE_HEIGHT / 2)
    pdf.rotate(55)
    pdf.drawCentredString(0, -15, text)
    pdf.restoreState()


def _draw_runs(pdf: canvas.Canvas, runs: Sequence[_Run]) -> None:
    # One text object per page, with a font change only where the font changes: reportlab's
    # drawString would start a new text object for every line.
    text = pdf.beginText()
    current: tuple[str, float] | None = None
    for run in runs:
        if (run.font, run.size) != current:
            current = (run.font, run.size)
            text.setFont(run.font, run.size)
        text.setTextOrigin(run.x, _PAGE_HEIGHT - run.top)
        text.textOut(run.text)
    pdf.drawText(text)
