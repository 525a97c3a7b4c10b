"""A dossier printed for people (a court, an ombudsman): every item with its hash, each send's
SMTP transaction line by line with the server's final reply. The JSON is the evidence; this is
its reading copy, and names the JSON's hash to check it against."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from app.delivery.post import typesetting

SIZE, LEADING, MARGIN = 9.0, 12.0, 18 * mm


def render(dossier: dict[str, Any]) -> bytes:
    """The PDF of a sealed dossier."""
    typesetting.fonts()
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1)
    canvas.setTitle(f"Proof of delivery: letter {dossier['letter_id']}")
    width, height = A4
    y = height - MARGIN
    for font, line in _lines(dossier):
        for part in typesetting.wrap(typesetting.clean(line), font, SIZE, width - 2 * MARGIN):
            if y < MARGIN:
                canvas.showPage()
                y = height - MARGIN
            canvas.setFont(font, SIZE)
            canvas.drawString(MARGIN, y, part)
            y -= LEADING
    canvas.save()
    return out.getvalue()


def _lines(dossier: dict[str, Any]) -> Iterator[tuple[str, str]]:
    bold, regular = typesetting.BOLD, typesetting.REGULAR
    yield bold, f"Proof of delivery — letter {dossier['letter_id']}"
    yield regular, f"Dossier SHA-256: {dossier['sha256']}"
    yield (
        regular,
        f"Generated: {dossier['generated_at']}; personal data: {dossier['personal_data']}",
    )
    yield regular, "Check the JSON with: appeals evidence verify FILE"
    for item in dossier["items"]:
        yield regular, ""
        yield bold, f"{item['kind']} {item['id']} — SHA-256 {item['sha256']}"
        content = dict(item["content"])
        if item["kind"] == "send":
            yield from _send(content)
        for key, value in sorted(content.items()):
            if key.endswith("_base64"):
                value = f"({len(value)} characters of base64, in the JSON)"
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            yield regular, f"{key}: {shown}"


def _send(content: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A send's transaction first, in order (popped from `content`, so not shown twice)."""
    regular = typesetting.REGULAR
    yield regular, f"Server: {content.pop('server')} (connected to {content.pop('peer')})"
    for reply in content.pop("transcript"):
        yield regular, f"{reply['at']}  {reply['command']}: {reply['code']} {reply['text']}"
    final = content.pop("final_reply")
    yield typesetting.BOLD, f"Final reply: {final['code']} {final['text']}"
    yield regular, f"SHA-256 of the bytes sent: {content.pop('sha256')}"
