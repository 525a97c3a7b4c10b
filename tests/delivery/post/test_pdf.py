"""Print-ready PDFs: addresses inside the envelope window, text that survives, pages counted.

The PDFs are read back with pdfminer.six, so positions and text are what a printer and a
reader get, not what we meant to draw.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from pdfminer.high_level import extract_pages, extract_text
from pdfminer.layout import LTChar, LTPage, LTTextContainer, LTTextLine
from pdfminer.pdfdocument import PDFDocument
from pdfminer.pdfpage import PDFPage
from pdfminer.pdfparser import PDFParser
from pdfminer.pdftypes import resolve1

from app.delivery.post.envelopes import MAX_RECIPIENT_LINES, WINDOWS, Layout, Window
from app.delivery.post.pdf import AddressDoesNotFit, PrintableLetter, layout_for, render_pdf
from app.delivery.post.typesetting import UnprintableCharacters

MM = 72 / 25.4
PAGE_HEIGHT_MM = 297
TOLERANCE_MM = 0.05  # pdfminer rounds coordinates


def make_letter(**changes: object) -> PrintableLetter:
    letter = PrintableLetter(
        reference="L1",
        sender_lines=["Appeals", "12 rue de l’Exemple", "69001 Lyon", "FRANCE"],
        recipient_lines=[
            "Bundesministerin der Justiz",
            "Bundesministerium der Justiz",
            "Mohrenstraße 37",
            "10117 Berlin",
            "GERMANY",
        ],
        country="DE",
        date_line="25 November 2026",
        subject="Makhambet Abzhan, journalist imprisoned for his work",
        body="Dear Minister,\n\nI am writing about Makhambet Abzhan.\n\nYours sincerely,",
        signature_lines=["Maria Example", "Lyon, France"],
    )
    return replace(letter, **changes)  # type: ignore[arg-type]


def long_body(paragraphs: int) -> str:
    sentence = (
        "I am writing about the case of Makhambet Abzhan, a journalist sentenced for his work. "
    )
    return "\n\n".join(["Dear Minister,", *[sentence * 5] * paragraphs, "Yours sincerely,"])


@dataclass(frozen=True)
class TextLine:
    page: int  # 0-based in the whole PDF
    text: str
    size: float
    left: float  # millimetres from the page's left edge
    right: float
    top: float  # millimetres from the page's top edge
    bottom: float


def text_lines(pdf: bytes) -> list[TextLine]:
    return [line for index, page in enumerate(pages(pdf)) for line in page_lines(index, page)]


def pages(pdf: bytes) -> list[LTPage]:
    return list(extract_pages(io.BytesIO(pdf)))


def page_lines(index: int, page: LTPage) -> Iterator[TextLine]:
    for box in page:
        if not isinstance(box, LTTextContainer):
            continue
        for line in box:
            if isinstance(line, LTTextLine):
                size = next(char.size for char in line if isinstance(char, LTChar))
                x0, y0, x1, y1 = (value / MM for value in line.bbox)
                text = line.get_text().strip()
                yield TextLine(index, text, size, x0, x1, PAGE_HEIGHT_MM - y1, PAGE_HEIGHT_MM - y0)


def page_texts(pdf: bytes) -> list[str]:
    count = len(pages(pdf))
    return [extract_text(io.BytesIO(pdf), page_numbers=[index]) for index in range(count)]


def line_with(lines: list[TextLine], text: str) -> TextLine:
    return next(line for line in lines if line.text == text)


def assert_inside(line: TextLine, left: float, right: float, top: float, bottom: float) -> None:
    assert line.left >= left - TOLERANCE_MM, line
    assert line.right <= right + TOLERANCE_MM, line
    assert line.top >= top - TOLERANCE_MM, line
    assert line.bottom <= bottom + TOLERANCE_MM, line


def assert_in_recipient_zone(line: TextLine, window: Window) -> None:
    assert_inside(line, window.left, window.right, window.recipient_top, window.bottom)


class TestLayoutFor:
    def test_us_recipient_gets_the_us10_layout(self) -> None:
        assert layout_for("US") is Layout.us10

    def test_country_code_case_and_spaces_do_not_matter(self) -> None:
        assert layout_for(" us ") is Layout.us10

    def test_other_countries_get_the_default(self) -> None:
        assert layout_for("FR") is Layout.din5008_b
        assert layout_for("KZ", default=Layout.din5008_a) is Layout.din5008_a

    def test_override_wins_over_the_us_rule(self) -> None:
        assert layout_for("US", overrides={"US": Layout.din5008_b}) is Layout.din5008_b

    def test_override_for_another_country(self) -> None:
        assert layout_for("GB", overrides={"GB": Layout.din5008_a}) is Layout.din5008_a


class TestRenderPdf:
    @pytest.mark.parametrize(
        ("country", "default_layout", "expected"),
        [
            ("DE", Layout.din5008_b, Layout.din5008_b),
            ("DE", Layout.din5008_a, Layout.din5008_a),
            ("US", Layout.din5008_b, Layout.us10),
        ],
    )
    def test_every_recipient_line_lies_inside_the_recipient_zone(
        self, country: str, default_layout: Layout, expected: Layout
    ) -> None:
        recipient = [
            "The Honorable Jane Doe",
            "United States Senate",
            "123 Russell Senate Office Building",
            "Washington, DC 20510",
            "UNITED STATES",
        ]
        letter = make_letter(country=country, recipient_lines=recipient)

        pdf, _ = render_pdf([letter], default_layout=default_layout)

        lines = text_lines(pdf)
        for text in recipient:
            assert_in_recipient_zone(line_with(lines, text), WINDOWS[expected])

    @pytest.mark.parametrize("layout", [Layout.din5008_b, Layout.din5008_a])
    def test_sender_line_sits_in_the_return_address_zone(self, layout: Layout) -> None:
        pdf, _ = render_pdf([make_letter()], default_layout=layout)

        window = WINDOWS[layout]
        sender = line_with(text_lines(pdf), "Appeals · 12 rue de l’Exemple · 69001 Lyon · FRANCE")
        assert_inside(sender, window.left, window.right, window.top, window.recipient_top)
        assert 7 <= sender.size <= 8

    def test_sender_too_wide_for_one_line_is_broken_at_separators_not_cut(self) -> None:
        sender = [
            "Appeals – Lettres pour la liberté",
            "12 rue de l’Exemple",
            "69001 Lyon",
            "FRANCE",
        ]

        pdf, _ = render_pdf([make_letter(sender_lines=sender)])

        window = WINDOWS[Layout.din5008_b]
        zone = [
            line for line in text_lines(pdf) if line.bottom <= window.recipient_top + TOLERANCE_MM
        ]
        assert " · ".join(line.text for line in zone) == " · ".join(sender)
        for line in zone:
            assert_inside(line, window.left, window.right, window.top, window.recipient_top)

    def test_six_lines_with_a_long_one_shrink_but_stay_inside_the_window(self) -> None:
        recipient = [
            "Генеральному прокурору Республики Казахстан",
            "Генеральная прокуратура",
            "ул. Мангилик Ел, 14",
            "Есильский район",
            "010000 Астана",
            "KAZAKHSTAN",
        ]
        assert len(recipient) == MAX_RECIPIENT_LINES

        pdf, _ = render_pdf([make_letter(country="KZ", recipient_lines=recipient)])

        lines = text_lines(pdf)
        for text in recipient:
            line = line_with(lines, text)
            assert_in_recipient_zone(line, WINDOWS[Layout.din5008_b])
            assert 8 <= line.size < 10

    def test_cyrillic_french_and_typographic_characters_come_back_exactly(self) -> None:
        letter = make_letter(
            recipient_lines=["Monsieur le Premier ministre", "Hôtel de Matignon", "75007 Paris"],
            country="FR",
            date_line="25 novembre 2026",
            subject="Affaire Сычев",
            body=(
                "Monsieur le Premier ministre, cher Édouard,\n\n"
                "Маkhambet Abzhan et M. Сычев sont emprisonnés « pour l’exemple ».\n\n"
                "Il a écrit : “Nous n’avons rien fait” – et pourtant…\n\n"
                "Je vous prie d’agréer l’expression de ma haute considération."
            ),
        )

        pdf, _ = render_pdf([letter])

        text = extract_text(io.BytesIO(pdf))
        for expected in [
            "Маkhambet Abzhan",
            "Сычев",
            "Hôtel de Matignon",
            "Édouard",
            "« pour l’exemple »",
            "“Nous n’avons rien fait” – et pourtant…",
            "25 novembre 2026",
        ]:
            assert expected in text

    def test_font_is_dejavu_embedded_as_a_subset(self) -> None:
        pdf, _ = render_pdf([make_letter(body="Сычев, Hôtel de Matignon")])

        document = PDFDocument(PDFParser(io.BytesIO(pdf)))
        fonts = [
            resolve1(ref)
            for page in PDFPage.create_pages(document)
            for ref in resolve1(page.resources["Font"]).values()
        ]
        assert fonts
        for font in fonts:
            name = font["BaseFont"].name
            assert "DejaVuSans" in name
            assert "+" in name  # subset tag: only the glyphs used are embedded
            assert "FontFile2" in resolve1(font["FontDescriptor"])
            assert "ToUnicode" in font  # what makes copied text come out right

    def test_one_page_letter_has_no_page_number(self) -> None:
        pdf, counts = render_pdf([make_letter()])

        assert counts == [1]
        assert "Page" not in page_texts(pdf)[0]

    def test_long_body_runs_over_several_pages_numbered_on_each(self) -> None:
        pdf, counts = render_pdf([make_letter(body=long_body(30))])

        texts = page_texts(pdf)
        assert counts == [len(texts)]
        assert len(texts) >= 3
        for number, text in enumerate(texts, start=1):
            assert f"Page {number} of {len(texts)}" in text
            assert "Ref. L1" in text

    def test_batch_counts_pages_per_letter_and_numbering_restarts(self) -> None:
        letters = [
            make_letter(reference="L1"),
            make_letter(reference="L2", body=long_body(14)),
            make_letter(reference="L3"),
        ]

        pdf, counts = render_pdf(letters)

        texts = page_texts(pdf)
        assert counts == [1, 3, 1]
        assert len(texts) == sum(counts)
        assert "Ref. L1" in texts[0]
        assert "Page" not in texts[0]
        for number, text in enumerate(texts[1:4], start=1):
            assert "Ref. L2" in text
            assert f"Page {number} of 3" in text
        assert "Ref. L3" in texts[4]
        assert "Page" not in texts[4]

    @pytest.mark.parametrize("paragraphs", range(8, 20))
    def test_signature_never_ends_up_alone_on_a_page(self, paragraphs: int) -> None:
        pdf, _ = render_pdf([make_letter(body=long_body(paragraphs))])

        last = page_texts(pdf)[-1]
        assert "Maria Example" in last
        assert "Yours sincerely," in last

    def test_every_body_line_stays_inside_the_text_area(self) -> None:
        body = long_body(12) + "\n\nhttps://example.org/" + "a-very-long-path/" * 20
        pdf, _ = render_pdf([make_letter(body=body)])

        for line in text_lines(pdf):
            assert_inside(line, 25, 190, 10, 287)

    def test_an_over_long_office_line_breaks_inside_the_window(self) -> None:
        recipient = [
            "Office of the Special Rapporteur on the situation of human rights defenders",
            "Palais des Nations",
            "1211 Geneva 10",
            "SWITZERLAND",
        ]
        pdf, _ = render_pdf([make_letter(reference="L77", recipient_lines=recipient)])
        text = " ".join(extract_text(io.BytesIO(pdf)).split())
        assert recipient[0] in text  # all of it, over two lines
        lines = text_lines(pdf)
        office = [line for line in lines if line.text in recipient[0] and line.top < 100]
        assert len(office) == 2
        for line in office:
            assert_in_recipient_zone(line, WINDOWS[Layout.din5008_b])

    def test_an_address_that_cannot_fit_even_broken_raises_naming_the_letter(self) -> None:
        recipient = [
            "Office of the Special Rapporteur on the situation of human rights defenders",
            *[f"Line {number}" for number in range(MAX_RECIPIENT_LINES - 1)],
        ]
        with pytest.raises(AddressDoesNotFit, match="L77"):
            render_pdf([make_letter(reference="L77", recipient_lines=recipient)])

    def test_too_many_address_lines_raise(self) -> None:
        recipient = [f"Line {number}" for number in range(MAX_RECIPIENT_LINES + 1)]

        with pytest.raises(AddressDoesNotFit, match="L78"):
            render_pdf([make_letter(reference="L78", recipient_lines=recipient)])

    def test_missing_recipient_address_raises(self) -> None:
        with pytest.raises(AddressDoesNotFit, match="L79"):
            render_pdf([make_letter(reference="L79", recipient_lines=["", "  "])])

    def test_characters_the_font_lacks_raise_instead_of_printing_boxes(self) -> None:
        with pytest.raises(UnprintableCharacters, match=r"L80.*U\+5317"):
            render_pdf([make_letter(reference="L80", body="Dear Minister, 北京")])

    def test_same_letters_give_the_same_bytes(self) -> None:
        assert render_pdf([make_letter()]) == render_pdf([make_letter()])

    def test_empty_batch_is_refused(self) -> None:
        with pytest.raises(ValueError, match="No letters"):
            render_pdf([])
