"""send_evidence: the proof of delivery of every accepted e-mail

One row per accepted attempt (app/delivery/email/evidence.py): the SHA-256 and the exact bytes
sent (zlib, emptied when the supporter is erased), the DKIM signature, the server and the
address connected to, the SMTP transaction's replies and the final reply.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("content_note", sa.Text(), nullable=True),
        sa.Column("server", sa.String(length=300), nullable=True),
        sa.Column("peer", sa.String(length=100), nullable=True),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("dkim_signature", sa.Text(), nullable=True),
        sa.Column("outbox_file", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_send_evidence_delivery_id_deliveries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_evidence")),
    )
    with op.batch_alter_table("send_evidence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_send_evidence_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("send_evidence")
