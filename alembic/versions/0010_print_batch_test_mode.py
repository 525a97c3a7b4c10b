"""print_batches.test_mode: a batch made in test mode says TEST on every page

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("print_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("test_mode", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("print_batches", schema=None) as batch_op:
        batch_op.drop_column("test_mode")
