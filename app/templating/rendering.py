"""Rendering letters from staff-written templates, safely and reproducibly.

Templates run in Jinja's immutable sandbox with StrictUndefined (a missing field is an error at
preview time, never a blank in a sent letter) and a budget per render: a deadline, a cap on loop
iterations and calls (the only ways a template can repeat work), a cap on the output, and no
oversized string or number arithmetic. The
context is plain data only. Wording varies per letter through `one_of(...)`, seeded by the
letter's identity, so the same preview is stable but a thousand letters are not identical.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from app.errors import InvalidInput
from app.templating.library import LetterTemplate

MAX_OUTPUT_CHARS = 30_000
MAX_SUBJECT_CHARS = 200
MAX_STEPS = 200_000  # loop iterations and calls per render
MAX_SECONDS = 2.0
MAX_OPERAND = 10_000  # longest string/list a template may multiply, largest exponent

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BLANK_RUN = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


class RenderError(InvalidInput):
    """A template could not produce a letter; the detail says why (shown to staff)."""

    kind = "TemplateError"


@dataclass(slots=True)
class _Budget:
    deadline: float
    steps: int = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise RenderError(f"the template does too much work (more than {MAX_STEPS} steps)")
        if self.steps % 64 == 0 and time.monotonic() > self.deadline:
            raise RenderError(f"the template took longer than {MAX_SECONDS} s to render")


_budget: ContextVar[_Budget | None] = ContextVar("letter_render_budget", default=None)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


def _guard_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _tick()
        yield item


_CACHEABLE = frozenset({str, int, float, bool, tuple, LoopContext, Namespace})


class LetterSandbox(ImmutableSandboxedEnvironment):
    """The letters' Jinja environment: immutable sandbox plus a work budget on every render."""

    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,  # letters are plain text; HTML views escape the stored body
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            cache_size=200,
        )
        self._safe_attributes: dict[tuple[type, str], bool] = {}
        # Only what letters need: no lipsum, cycler, joiner or dict.
        self.globals = {"_guard_iter": _guard_iter, "range": self._range, "namespace": Namespace}

    def _range(self, *args: int) -> Iterator[int]:
        return _guard_iter(range(*args))

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # Every {% for %} iterates through _guard_iter, so loops that print nothing and call
        # nothing still count against the budget and the deadline.
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name("_guard_iter", "load"), [loop.iter], [], None, None)
        return tree

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large in a letter template")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
                if sized and len(seq) * count > MAX_OUTPUT_CHARS:
                    raise SecurityError("repetition too large in a letter template")
        joined = isinstance(left, str | list) and isinstance(right, str | list)
        if operator == "+" and joined and len(left) + len(right) > MAX_OUTPUT_CHARS:
            raise SecurityError("concatenation too large in a letter template")
        return super().call_binop(context, operator, left, right)

    def call(self, context: Any, obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return super().call(context, obj, *args, **kwargs)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # For immutable builtins and Jinja's own loop and namespace objects the answer depends
        # only on the type and the name, so it is worked out once (attribute checks are most of
        # the sandbox's cost per letter).
        kind = type(obj)
        if kind not in _CACHEABLE:
            return bool(super().is_safe_attribute(obj, attr, value))
        key = (kind, attr)
        safe = self._safe_attributes.get(key)
        if safe is None:
            safe = self._safe_attributes[key] = bool(super().is_safe_attribute(obj, attr, value))
        return safe


@dataclass(frozen=True, slots=True)
class RenderedLetter:
    subject: str
    body: str
    language: str
    template_name: str
    template_version: str


def letter_seed(*parts: str) -> int:
    """A stable seed from a letter's identity (campaign, office, case, sender...)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


_AND = {"en": "and", "fr": "et", "de": "und", "it": "e", "es": "y", "ru": "и"}


def _names(language: str) -> Callable[[Sequence[Mapping[str, Any]]], str]:
    conjunction = _AND.get(language, "and")

    def names(people: Sequence[Mapping[str, Any]]) -> str:
        listed = [str(p["name"]) for p in people]
        if len(listed) <= 1:
            return "".join(listed)
        return f"{', '.join(listed[:-1])} {conjunction} {listed[-1]}"

    return names


def _one_of(rng: random.Random) -> Callable[..., Any]:
    def one_of(*options: Any) -> Any:
        if not options:
            raise RenderError("one_of() needs at least one option")
        return options[rng.randrange(len(options))]

    return one_of


def _clean_body(text: str) -> str:
    text = _TRAILING_SPACE.sub("\n", text.replace("\r\n", "\n"))
    return _BLANK_RUN.sub("\n\n", text).strip() + "\n"


def _clean_subject(text: str) -> str:
    subject = " ".join(text.split())  # no CR/LF can reach a mail header
    if not subject:
        raise RenderError("the subject came out empty")
    if len(subject) > MAX_SUBJECT_CHARS:
        raise RenderError(f"the subject is longer than {MAX_SUBJECT_CHARS} characters")
    return subject


class LetterRenderer:
    """Compiles templates once and renders letters within the sandbox's budget."""

    def __init__(self) -> None:
        self.env = LetterSandbox()
        self._compiled: dict[str, Template] = {}

    def check(self, template: LetterTemplate) -> None:
        """Compile the body and every subject; raise RenderError for a syntax error."""
        for source in (template.body, *template.subjects):
            try:
                self._compile(source)
            except TemplateError as exc:
                raise RenderError(f"{template.path.name}: {exc}") from exc

    def render(
        self, template: LetterTemplate, context: Mapping[str, Any], *, seed: int
    ) -> RenderedLetter:
        rng = random.Random(seed)  # noqa: S311 - variety of wording, not security
        data = {
            **context,
            "one_of": _one_of(rng),
            "names": _names(template.language),
        }
        token = _budget.set(_Budget(deadline=time.monotonic() + MAX_SECONDS))
        try:
            subject_source = template.subjects[rng.randrange(len(template.subjects))]
            subject = self._run(subject_source, data)
            body = self._run(template.body, data)
        except RenderError:
            raise
        except (TemplateError, SecurityError) as exc:
            raise RenderError(f"{template.path.name}: {exc}") from exc
        except RecursionError as exc:
            raise RenderError(f"{template.path.name}: recursion too deep") from exc
        except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
            raise RenderError(f"{template.path.name}: {type(exc).__name__}: {exc}") from exc
        finally:
            _budget.reset(token)
        if _CONTROL.search(body):
            raise RenderError("the letter contains control characters")
        return RenderedLetter(
            subject=_clean_subject(subject),
            body=_clean_body(body),
            language=template.language,
            template_name=template.name,
            template_version=template.version,
        )

    def _compile(self, source: str) -> Template:
        compiled = self._compiled.get(source)
        if compiled is None:
            compiled = self._compiled[source] = self.env.from_string(source)
        return compiled

    def _run(self, source: str, data: Mapping[str, Any]) -> str:
        chunks: list[str] = []
        size = 0
        for chunk in self._compile(source).generate(data):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise RenderError(f"the letter is longer than {MAX_OUTPUT_CHARS} characters")
            _tick()
            chunks.append(chunk)
        return "".join(chunks)
