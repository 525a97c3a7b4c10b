"""Alembic environment: migrations run on the connection the application hands over.

`app.migrations` opens an async connection and calls Alembic inside `run_sync`, passing the sync
connection in `config.attributes["connection"]`; this file never builds an engine of its own.
"""

from typing import Any

from alembic import context
from app.db import UTCDateTime
from app.models import Base


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our UTC timestamp type as the plain column type it is stored as."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `appeals db upgrade`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
