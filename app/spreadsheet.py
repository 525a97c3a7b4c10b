"""CSV files that people open in spreadsheet programs, written so no cell runs as a formula.

A supporter's name or words end up in files that staff and officials open in Excel or
LibreOffice; a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be read
as a formula there (CSV injection). Such a cell is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) if isinstance(v, str) else v for v in row])
    return out.getvalue()
