"""Letter templates on disk: front matter, a content version, and choice by language.

A template file is YAML front matter between `---` lines, then a Jinja2 body. Staff edit these
files like code; the version of a template is the hash of its file, so a letter on record always
names the exact text that produced it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.dataset.loader import Problem
from app.errors import NotFound
from app.recipients.channels import ChannelKind

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
MAX_TEMPLATE_BYTES = 64_000


# The language a letter is written in when its template has none in the office's language.
FALLBACK_LANGUAGE = "en"


class Purpose(StrEnum):
    individual = "individual"  # one case per letter
    general = "general"  # all of a campaign's cases in one letter


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
    purpose: Purpose
    description: Text
    channels: Annotated[list[ChannelKind], Field(min_length=1)]
    subjects: Annotated[list[Text], Field(min_length=1, max_length=20)]


@dataclass(frozen=True, slots=True)
class LetterTemplate:
    name: str
    language: str
    purpose: Purpose
    description: str
    channels: tuple[ChannelKind, ...]
    subjects: tuple[str, ...]
    body: str
    version: str
    path: Path


class TemplateError(ValueError):
    """A template file that cannot be used, with the reason."""


def parse_template(path: Path, raw: bytes) -> LetterTemplate:
    """Split and validate one template file (the body is compiled later, by the renderer)."""
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"larger than {MAX_TEMPLATE_BYTES} bytes")
    text = raw.decode("utf-8")
    if not text.startswith("---\n"):
        raise TemplateError("must start with a '---' line opening the front matter")
    try:
        front, body = text[4:].split("\n---\n", 1)
    except ValueError:
        raise TemplateError("the front matter has no closing '---' line") from None
    try:
        meta = FrontMatter.model_validate(yaml.safe_load(front))
    except yaml.YAMLError as exc:
        raise TemplateError(f"front matter is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise TemplateError(f"front matter: {reasons}") from exc
    expected = f"{meta.name}.{meta.language}"
    if path.name.removesuffix(".j2") != expected:
        raise TemplateError(f"file name must be {expected}.j2 for its front matter")
    return LetterTemplate(
        name=meta.name,
        language=meta.language,
        purpose=meta.purpose,
        description=meta.description,
        channels=tuple(meta.channels),
        subjects=tuple(meta.subjects),
        body=body,
        version=hashlib.sha256(raw).hexdigest()[:12],
        path=path,
    )


class TemplateLibrary:
    """Every template of a folder, by name and language."""

    def __init__(self, templates: Iterable[LetterTemplate], problems: Iterable[Problem] = ()):
        self._by_key = {(t.name, t.language): t for t in templates}
        self.problems = list(problems)

    @classmethod
    def load(cls, folder: Path) -> TemplateLibrary:
        templates: list[LetterTemplate] = []
        problems: list[Problem] = []
        for path in sorted(folder.glob("*.j2")):
            try:
                templates.append(parse_template(path, path.read_bytes()))
            except (TemplateError, UnicodeDecodeError) as exc:
                problems.append(Problem(str(path), "", str(exc)))
        return cls(templates, problems)

    def names(self) -> list[str]:
        return sorted({name for name, _ in self._by_key})

    def languages(self, name: str) -> list[str]:
        return sorted(lang for n, lang in self._by_key if n == name)

    def all(self) -> list[LetterTemplate]:
        return [self._by_key[k] for k in sorted(self._by_key)]

    def get(self, name: str, language: str, fallback: str = FALLBACK_LANGUAGE) -> LetterTemplate:
        """The template in `language`, else in `fallback`, else NotFound."""
        for lang in (language, fallback):
            template = self._by_key.get((name, lang))
            if template is not None:
                return template
        raise NotFound(f"no letter template {name!r} in {language!r} or {fallback!r}")

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self._by_key)
