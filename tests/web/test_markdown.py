"""Case and campaign text as pages show it (app/web/markdown.py), and on the demo's page."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.runtime import DEMO_CAMPAIGN, _demo_staff_and_campaign
from app.web.markdown import render_markdown


class TestRenderMarkdown:
    def test_hard_line_breaks_join_and_blank_lines_make_paragraphs(self) -> None:
        html = render_markdown("One line\nwrapped here.\n\nA second paragraph.")
        assert html.count("<p>") == 2
        assert "<br" not in html

    def test_code_spans_emphasis_and_lists(self) -> None:
        html = render_markdown("Run `appeals demo` *now*:\n\n- one\n- two")
        assert "<code>appeals demo</code>" in html and "<em>now</em>" in html
        assert "<li>one</li>" in html and "`" not in html

    def test_raw_html_links_and_images_stay_text(self) -> None:
        html = render_markdown(
            '<script>alert(1)</script> <b onclick="x">b</b> [l](https://x) ![i](y)'
        )
        assert "<script" not in html and "<b" not in html
        assert "&lt;script&gt;" in html
        assert "<a" not in html and "<img" not in html

    def test_nothing_for_none_or_empty(self) -> None:
        assert render_markdown(None) == "" and render_markdown("") == ""


class TestTheDemoPage:
    async def test_it_counts_no_signers_and_says_why(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        await _demo_staff_and_campaign(session, settings=settings)
        await session.commit()
        page = await client.get(f"/c/{DEMO_CAMPAIGN.slug}")
        assert page.status_code == 200
        assert "0 people have signed." in page.text  # the staff-queued letters are no signatures
        assert "they are not signatures" in page.text
        assert "<code>appeals demo</code>" in page.text and "`" not in page.text.split("<main")[1]
