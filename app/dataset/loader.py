"""Read a folder of YAML data files and validate each against its pydantic schema.

Nothing here touches the database. A broken file never stops the others from loading: each
problem names the file, the field and what is wrong, so a reviewer can fix the data in one pass.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# libyaml's safe loader when PyYAML was built with it (5-10x faster), else the pure-Python one.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _DataLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """The safe loader, with dates left as text: the schema reads them, so an impossible date
    (2015-13-45) is a problem of its file and field, not a crash of the whole import."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, Any]]]] = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
        for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with a data file, or worth a reviewer's eye."""

    file: str
    field: str
    message: str
    severity: str = "error"  # "error" stops the row; "notice" is reported and imported

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{self.severity}: {where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Loaded(Generic[M]):
    """One valid file: its parsed model and a hash of its content for change detection."""

    path: Path
    ident: str
    model: M
    content_hash: str


def _field_path(location: Iterable[int | str]) -> str:
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def content_hash(model: BaseModel) -> str:
    """A stable hash of what a file says (not how it is formatted)."""
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_folder(folder: Path, schema: type[M]) -> tuple[list[Loaded[M]], list[Problem]]:
    """Load every `*.yaml` file of `folder` as `schema`; return the valid ones and the problems."""
    if not folder.is_dir():
        return [], [Problem(str(folder), "", "not a folder")]
    loaded: list[Loaded[M]] = []
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.y*ml")):
        name = str(path)
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_DataLoader)  # noqa: S506
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(Problem(name, "", f"not valid YAML: {exc}"))
            continue
        if not isinstance(raw, dict):
            problems.append(Problem(name, "", "expected a mapping at the top level"))
            continue
        try:
            model = schema.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                problems.append(Problem(name, _field_path(err["loc"]), err["msg"]))
            continue
        ident = str(getattr(model, "id", ""))
        if path.stem != ident:
            problems.append(Problem(name, "id", f"id {ident!r} does not match the file name"))
            continue
        if ident in seen:
            problems.append(Problem(name, "id", f"id {ident!r} is also used by {seen[ident]}"))
            continue
        seen[ident] = path
        loaded.append(Loaded(path, ident, model, content_hash(model)))
    return loaded, problems
