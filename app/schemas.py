"""Response shapes shared by every domain: pages of results and error bodies."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="How many items match, across all pages.")
    limit: int
    offset: int


class StrictInput(BaseModel):
    """A request body that refuses unknown fields: a typo is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    error: str = Field(description="The kind of error, e.g. NotFound, ValidationError.")
    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid staff token"},
    403: {"model": ErrorBody, "description": "The staff role may not do this"},
    404: {"model": ErrorBody, "description": "No such item"},
    409: {"model": ErrorBody, "description": "Conflicts with the current state"},
    422: {"model": ErrorBody, "description": "Invalid input"},
}


def file_response(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that answers a file (a PDF, a CSV) instead of JSON."""
    return {200: {"content": {media_type: {}}, "description": description}}


def download(
    body: bytes | str, media_type: str, filename: str, *, inline: bool = False
) -> Response:
    """A file answer: `body` as `media_type`, offered to save as `filename` (or shown, inline)."""
    disposition = "inline" if inline else "attachment"
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )
