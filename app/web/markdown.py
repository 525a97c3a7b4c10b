"""Case and campaign text as pages show it: a small, safe subset of Markdown.

Case files (cases/*.yaml) and campaign descriptions are written by people, with hard line breaks
inside paragraphs and the odd `code span`. Pages show them through the `markdown` filter:
paragraphs (a blank line between), emphasis, code spans, lists and nothing else. markdown-it-py
(already installed, maintained, CommonMark-exact) parses it with raw HTML disabled, so a `<script>`
in a case file is shown as text, never run; links and images are disabled too, since pages carry
no external assets and the CSP forbids them. Single line breaks join into one paragraph, as in
CommonMark, so the files' wrapping never shows.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

# "zero" enables nothing; we turn on only what case text needs.
_parser = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": False}).enable(
    ["emphasis", "backticks", "list", "escape", "entity", "newline"]
)
_parser.disable("newline")  # a single line break is wrapping, not a <br>


def render_markdown(text: str | None) -> Markup:
    """`text` as safe HTML paragraphs; nothing for none."""
    if not text:
        return Markup("")
    return Markup(_parser.render(str(text)))  # noqa: S704 - html disabled: the parser escapes
