"""experiment winners

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa
import winback.store.types
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('experiment_winners',
    sa.Column('programme_id', sa.String(length=200), nullable=False),
    sa.Column('step', sa.String(length=100), nullable=False),
    sa.Column('variant', sa.String(length=60), nullable=False),
    sa.Column('decided_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('p_value', sa.Float(), nullable=False),
    sa.Column('detail', sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('programme_id', 'step', name=op.f('pk_experiment_winners'))
    )


def downgrade() -> None:
    op.drop_table('experiment_winners')
