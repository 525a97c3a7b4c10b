"""answer_clocks: every delivered letter's due date; response terms of offices and campaigns

- answer_clocks: one clock per delivered delivery (app/accountability/models.py), its term, due
  date, acknowledgement and the response that stopped it;
- recipients.response_term: an office's term from its directory file (none in the shipped ones);
- campaigns.response_term: the default term of a campaign's offices, filled for existing
  campaigns with the documented default (30 calendar days, the organisation's own target).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app.campaigns.schemas.DEFAULT_RESPONSE_TERM as it was when this ran (a migration never
# imports the application's current values).
DEFAULT_TERM = {
    "days": 30,
    "basis": "calendar",
    "country": None,
    "source": "organisation's own target",
    "on_acknowledgement": "nothing",
}


def upgrade() -> None:
    with op.batch_alter_table("recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_term", sa.JSON(), nullable=True))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_term", sa.JSON(), nullable=True))
    campaigns = sa.table("campaigns", sa.column("response_term", sa.JSON()))
    op.execute(campaigns.update().values(response_term=DEFAULT_TERM))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.alter_column("response_term", existing_type=sa.JSON(), nullable=False)

    op.create_table(
        "answer_clocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("term", sa.JSON(), nullable=False),
        sa.Column("term_from", sa.String(length=20), nullable=False),
        sa.Column("acknowledged_on", sa.Date(), nullable=True),
        sa.Column("acknowledgement_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("answer_kind", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledgement_id"],
            ["responses.id"],
            name=op.f("fk_answer_clocks_acknowledgement_id_responses"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_answer_clocks_campaign_id_campaigns"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_answer_clocks_delivery_id_deliveries"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_answer_clocks_letter_id_letters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_answer_clocks_recipient_id_recipients"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_answer_clocks_response_id_responses"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_clocks")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_answer_clocks_delivery_id")),
    )
    with op.batch_alter_table("answer_clocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_answer_clocks_campaign", ["campaign_id", "recipient_id", "due_on"], unique=False
        )
        batch_op.create_index("ix_answer_clocks_office", ["recipient_id", "due_on"], unique=False)
        batch_op.create_index("ix_answer_clocks_open", ["answered_at", "due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_answer_clocks_letter_id"), ["letter_id"], unique=False)


def downgrade() -> None:
    op.drop_table("answer_clocks")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("response_term")
    with op.batch_alter_table("recipients", schema=None) as batch_op:
        batch_op.drop_column("response_term")
