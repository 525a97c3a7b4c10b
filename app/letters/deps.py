"""Request dependency for the letter kit built by `create_app`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.letters.service import LetterKit


def _kit(request: Request) -> LetterKit:
    kit: LetterKit = request.app.state.letter_kit
    return kit


KitDep = Annotated[LetterKit, Depends(_kit)]
