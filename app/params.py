"""Bounded request parameters: every integer a client sends fits the column it is compared with.

Without a bound, an id of 2⁶³ or 2³¹ in a path reaches the database driver, which cannot bind it
(SQLite's integers are 64-bit, PostgreSQL's `integer` 32-bit) and the request ends in a 500. Routes
use these aliases for every id in a path, a query or a body and every offset; the validator
answers 422.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

# Our primary keys are `Integer` columns: 32-bit on PostgreSQL.
MAX_ID = 2**31 - 1
# Enough to page through any table we keep; comfortably inside both engines' OFFSET.
MAX_OFFSET = 10**9

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=1, le=MAX_ID)]  # an id in a query string
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]  # an id in a JSON body
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
