"""ix_deliveries_due: (channel, status, next_attempt_at, id), a claim's order within its channel

A claim's ORDER BY next_attempt_at LIMIT n could not use (status, next_attempt_at) behind an
OR of two states, and postal letters waiting for a print batch sat among the e-mail ones: each
claim joined and sorted every due letter (30 ms at 2,500 queued, growing with the queue).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 16:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index(
            "ix_deliveries_due", ["channel", "status", "next_attempt_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due")
        batch_op.create_index("ix_deliveries_due", ["status", "next_attempt_at"], unique=False)
