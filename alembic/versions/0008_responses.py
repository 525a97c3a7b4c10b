"""inbound mail and responses; recipient_channels.suspect_since/suspect_reason

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("envelope_to", sa.String(length=320), nullable=True),
        sa.Column("message_id", sa.String(length=500), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "matched",
                "unmatched",
                "ignored",
                name="inboundstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "bounce", "auto_reply", "reply", name="inboundkind", native_enum=False, length=20
            ),
            nullable=True,
        ),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("matched_by", sa.String(length=20), nullable=True),
        sa.Column("dsn_recipient", sa.String(length=320), nullable=True),
        sa.Column("dsn_status", sa.String(length=16), nullable=True),
        sa.Column("hard_bounce", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_inbound_messages_delivery_id_deliveries"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("sha256", name=op.f("uq_inbound_messages_sha256")),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index("ix_inbound_messages_status", ["status", "received_at"], unique=False)

    op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.String(length=80), nullable=False),
        sa.Column("case_id", sa.String(length=80), nullable=True),
        sa.Column("letter_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("inbound_message_id", sa.Integer(), nullable=True),
        sa.Column(
            "medium",
            sa.Enum(
                "email", "postal", "other", name="responsemedium", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "unclassified",
                "acknowledgement",
                "substantive",
                "refusal",
                "forwarded",
                "auto_reply",
                name="responsekind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "suggested_kind",
            sa.Enum(
                "unclassified",
                "acknowledgement",
                "substantive",
                "refusal",
                "forwarded",
                "auto_reply",
                name="responsekind",
                native_enum=False,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_name", sa.String(length=300), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=320), nullable=False),
        sa.Column("classified_by", sa.String(length=320), nullable=True),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_responses_campaign_id_campaigns"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_responses_case_id_cases"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_responses_delivery_id_deliveries"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["inbound_message_id"],
            ["inbound_messages.id"],
            name=op.f("fk_responses_inbound_message_id_inbound_messages"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letters.id"],
            name=op.f("fk_responses_letter_id_letters"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name=op.f("fk_responses_recipient_id_recipients"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
        sa.UniqueConstraint("inbound_message_id", name=op.f("uq_responses_inbound_message_id")),
    )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_responses_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_responses_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_responses_delivery_id"), ["delivery_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_responses_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_responses_letter_id"), ["letter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_responses_received_at"), ["received_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_responses_recipient_id"), ["recipient_id"], unique=False
        )

    with op.batch_alter_table("recipient_channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suspect_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("suspect_reason", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipient_channels", schema=None) as batch_op:
        batch_op.drop_column("suspect_reason")
        batch_op.drop_column("suspect_since")

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responses_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_responses_received_at"))
        batch_op.drop_index(batch_op.f("ix_responses_letter_id"))
        batch_op.drop_index(batch_op.f("ix_responses_kind"))
        batch_op.drop_index(batch_op.f("ix_responses_delivery_id"))
        batch_op.drop_index(batch_op.f("ix_responses_case_id"))
        batch_op.drop_index(batch_op.f("ix_responses_campaign_id"))

    op.drop_table("responses")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_messages_status")
        batch_op.drop_index(batch_op.f("ix_inbound_messages_message_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_messages_delivery_id"))

    op.drop_table("inbound_messages")
