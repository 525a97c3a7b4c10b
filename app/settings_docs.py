"""The configuration reference, docs/configuration.md, rendered from the `Settings` model.

The model in `app/config.py` is the one place a setting is declared, with its type, default and
description; this module turns it into a Markdown table, so the page cannot drift from the code
(tests/test_settings_docs.py compares the file with a fresh rendering). Secrets never show a
value, and paths under the shipped data are written relative to it, so the page reads the same
on every machine. `python -m app.settings_docs` rewrites the file.
"""

from __future__ import annotations

import json
import sys
import types
from enum import Enum
from pathlib import Path
from typing import Literal, Union, get_args, get_origin

from app.config import PROJECT_ROOT, SHIPPED, Settings

OUTPUT = PROJECT_ROOT / "docs" / "configuration.md"
# A setting whose name holds one of these is a secret: its default is never printed.
_SECRET_WORDS = ("secret", "password", "api_key")
_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))

HEADER = """\
# Configuration

<!-- Generated from the Settings model in app/config.py by `python -m app.settings_docs`;
do not edit by hand. tests/test_settings_docs.py fails when this page is out of date. -->

Every setting is an environment variable named `{prefix}` + the setting's name, read once when
a command starts. No file is read: set them in the environment (a container's, a systemd
unit's, the shell's). A value that does not fit stops any command with one line naming the
variable, e.g. `error: APPEALS_SMTP_PORT: Input should be a valid integer ...`, and exit
status 2 (`appeals --debug COMMAND` shows a failure's full traceback).

- Lists are JSON: `APPEALS_TRUSTED_PROXIES='["127.0.0.1", "10.0.0.0/8"]'`.
- Booleans are `true` or `false`.
- Rates use the `limits` notation: `20/hour`, `5/15 minutes`.
- `<shipped>` is the checkout the code runs from or, installed from a wheel,
  `<prefix>/share/appeals` (see docs/operations.md).
- Secrets (tokens, passwords, keys) show `(none)` when there is no default; a value is never
  printed here.

How the settings work together (deployment, secrets and their rotation, mail, inbound mail) is
in [operations.md](operations.md).

| Variable | Type | Default | Description |
|---|---|---|---|
"""


def env_name(name: str) -> str:
    """The environment variable that sets `name`: the model's prefix, upper case."""
    return f"{Settings.model_config.get('env_prefix', '')}{name}".upper()


def is_secret(name: str) -> bool:
    return any(word in name for word in _SECRET_WORDS)


def type_text(annotation: object) -> str:
    """A reader's name for a setting's type: `integer`, `one of a, b`, `JSON list of integers`."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in get_args(annotation) if arg is not type(None))
    if origin is list:
        (item,) = get_args(annotation)
        return f"JSON list of {type_text(item)}s"
    if isinstance(annotation, type):
        return _TYPE_NAMES.get(annotation, annotation.__name__)
    return str(annotation)


def bounds_text(metadata: list[object]) -> str:
    """The numeric bounds pydantic checks, e.g. ` ≥ 1, ≤ 65535`; empty when there are none."""
    found = [
        f"{sign} {value}"
        for meta in metadata
        for attr, sign in _BOUNDS
        if (value := getattr(meta, attr, None)) is not None
    ]
    return (" " + ", ".join(found)) if found else ""


def value_text(value: object) -> str:
    """A default as it would be written in the environment."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        if value.is_relative_to(SHIPPED):
            return f"`<shipped>/{value.relative_to(SHIPPED).as_posix()}`"
        return f"`{value.as_posix()}`"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return f"`{value}`" if value else "(empty)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{json.dumps(value)}`"


def default_text(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if not is_secret(name):
        return value_text(value)
    if not value:
        return "(none)"
    return "(generated)" if field.default_factory is not None else "(set, not shown)"


def cell(text: str) -> str:
    """`text` as one table cell: one line, `|` escaped, and outside code spans `<` and `*`
    escaped too, so `<var_dir>` is not read as an HTML tag nor `*` as emphasis."""
    spans = " ".join(text.split()).replace("|", "\\|").split("`")
    for i in range(0, len(spans), 2):
        spans[i] = spans[i].replace("<", "\\<").replace("*", "\\*")
    return "`".join(spans)


def row(name: str) -> str:
    """One setting's line of the table."""
    field = Settings.model_fields[name]
    kind = type_text(field.annotation) + bounds_text(list(field.metadata))
    cells = (f"`{env_name(name)}`", kind, default_text(name), field.description or "")
    return "| " + " | ".join(cell(text) for text in cells) + " |"


def render() -> str:
    """The whole of docs/configuration.md."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    rows = "\n".join(row(name) for name in Settings.model_fields)
    return HEADER.format(prefix=prefix) + rows + "\n"


def main(argv: list[str]) -> int:
    """Write the page (to `argv[0]` if given); print where."""
    target = Path(argv[0]) if argv else OUTPUT
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
