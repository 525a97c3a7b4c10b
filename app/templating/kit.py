"""The letter kit: the template library, the sandboxed renderer and the settings, built once per
application and handed to whatever composes letters (pages, API routes, workers, commands)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.templating.library import TemplateLibrary
from app.templating.rendering import LetterRenderer


@dataclass(frozen=True, slots=True)
class LetterKit:
    """What composing needs besides the database: built once per application."""

    library: TemplateLibrary
    renderer: LetterRenderer
    settings: Settings

    @classmethod
    def from_settings(cls, settings: Settings) -> LetterKit:
        return cls(TemplateLibrary.load(settings.templates_dir), LetterRenderer(), settings)


def _kit(request: Request) -> LetterKit:
    kit: LetterKit = request.app.state.letter_kit
    return kit


# The kit `create_app` built, as a request dependency.
KitDep = Annotated[LetterKit, Depends(_kit)]
