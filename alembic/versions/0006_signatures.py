"""public signing: supporters, signatures, their tokens and events; letters.signature_id

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'supporters',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('email_key', sa.String(length=64), nullable=True),
        sa.Column('email', sa.String(length=320), nullable=True),
        sa.Column('mail_window_start', sa.DateTime(timezone=True), nullable=True),
        sa.Column('mails_in_window', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_supporters')),
        sa.UniqueConstraint('email_key', name=op.f('uq_supporters_email_key')),
    )
    op.create_table(
        'signatures',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('supporter_id', sa.Integer(), nullable=False),
        sa.Column(
            'status',
            sa.Enum('pending', 'confirmed', 'withdrawn', name='signaturestatus', native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('city', sa.String(length=100), nullable=False),
        sa.Column('country', sa.String(length=100), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('needs_review', sa.Boolean(), nullable=False),
        sa.Column('review_note', sa.Text(), nullable=True),
        sa.Column('consent_version', sa.String(length=40), nullable=False),
        sa.Column('consent_text', sa.Text(), nullable=False),
        sa.Column('consented_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('mails_sent', sa.Integer(), nullable=False),
        sa.Column('mail_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('mail_lease_owner', sa.String(length=100), nullable=True),
        sa.Column('mail_lease_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_mail_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_mail_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['campaigns.id'],
            name=op.f('fk_signatures_campaign_id_campaigns'), ondelete='RESTRICT',
        ),
        sa.ForeignKeyConstraint(
            ['supporter_id'], ['supporters.id'],
            name=op.f('fk_signatures_supporter_id_supporters'), ondelete='RESTRICT',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signatures')),
        sa.UniqueConstraint('campaign_id', 'supporter_id', name='uq_signatures_campaign_supporter'),
    )
    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signatures_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signatures_supporter_id'), ['supporter_id'], unique=False)
        batch_op.create_index('ix_signatures_mail_due', ['status', 'mail_due_at'], unique=False)

    op.create_table(
        'signature_tokens',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('signature_id', sa.Integer(), nullable=False),
        sa.Column(
            'purpose',
            sa.Enum('confirm', 'status', name='tokenpurpose', native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['signature_id'], ['signatures.id'],
            name=op.f('fk_signature_tokens_signature_id_signatures'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signature_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_signature_tokens_token_hash')),
    )
    with op.batch_alter_table('signature_tokens', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_signature_tokens_signature_id'), ['signature_id'], unique=False
        )

    op.create_table(
        'signature_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('signature_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('from_status', sa.String(length=20), nullable=True),
        sa.Column('to_status', sa.String(length=20), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ['signature_id'], ['signatures.id'],
            name=op.f('fk_signature_events_signature_id_signatures'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_signature_events')),
    )
    with op.batch_alter_table('signature_events', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_signature_events_signature_id'), ['signature_id'], unique=False
        )

    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_letters_signature_id'), ['signature_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_letters_signature_id_signatures'), 'signatures',
            ['signature_id'], ['id'], ondelete='RESTRICT',
        )


def downgrade() -> None:
    with op.batch_alter_table('letters', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_letters_signature_id_signatures'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_letters_signature_id'))
        batch_op.drop_column('signature_id')

    with op.batch_alter_table('signature_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_events_signature_id'))
    op.drop_table('signature_events')

    with op.batch_alter_table('signature_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_tokens_signature_id'))
    op.drop_table('signature_tokens')

    with op.batch_alter_table('signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_signatures_mail_due')
        batch_op.drop_index(batch_op.f('ix_signatures_supporter_id'))
        batch_op.drop_index(batch_op.f('ix_signatures_campaign_id'))
    op.drop_table('signatures')
    op.drop_table('supporters')
