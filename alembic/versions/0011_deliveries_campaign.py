"""deliveries.campaign_id and the indexes that keep the queue and a campaign's reports flat

At 1,000,000 deliveries a claim took 4× its time at 10,000 and a campaign's reports 12–68×:
the pacing count read every e-mail ever sent to the office, and every report found the
campaign's deliveries through letters, across the whole table. Each now reads only its rows:

- deliveries.campaign_id, copied from the letter (filled for existing rows here, NOT NULL);
- ix_deliveries_office_sends (channel, recipient_id, status_changed_at, status): the pacing
  count reads the office's last day from the index alone;
- ix_deliveries_campaign_status (campaign_id, status, recipient_id, channel, next_attempt_at):
  the dashboard's and the schedule's counts, from the index alone;
- ix_deliveries_campaign_changed (campaign_id, status_changed_at, id) and
  ix_deliveries_campaign_id (campaign_id, id): the delivery log and the API's list, in their
  orders, paged by a cursor;
- ix_deliveries_letter_id goes: uq_deliveries_letter_channel (letter_id, channel) serves it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_deliveries_office_sends": ["channel", "recipient_id", "status_changed_at", "status"],
    "ix_deliveries_campaign_status": [
        "campaign_id",
        "status",
        "recipient_id",
        "channel",
        "next_attempt_at",
    ],
    "ix_deliveries_campaign_changed": ["campaign_id", "status_changed_at", "id"],
    "ix_deliveries_campaign_id": ["campaign_id", "id"],
}


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE deliveries SET campaign_id = letters.campaign_id FROM letters "
            "WHERE letters.id = deliveries.letter_id"
        )
    else:
        op.execute(
            "UPDATE deliveries SET campaign_id = "
            "(SELECT letters.campaign_id FROM letters WHERE letters.id = deliveries.letter_id)"
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("campaign_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_campaign_id_campaigns"),
            "campaigns",
            ["campaign_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.drop_index(batch_op.f("ix_deliveries_letter_id"))
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
        batch_op.create_index(batch_op.f("ix_deliveries_letter_id"), ["letter_id"], unique=False)
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_campaign_id_campaigns"), type_="foreignkey"
        )
        batch_op.drop_column("campaign_id")
