"""dashboard indexes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The customer list's order, value at risk DESC NULLS LAST: SQLite sorts NULL lowest (and refuses NULLS LAST in
    # an index), so plain DESC is the same order there.
    order = 'value_at_risk DESC NULLS LAST' if op.get_bind().dialect.name == 'postgresql' else 'value_at_risk DESC'
    op.create_index('ix_profiles_value_at_risk', 'profiles', [sa.text(order), 'customer_id'], unique=False)
    op.create_index('ix_profiles_stage_value_at_risk', 'profiles', ['stage', sa.text(order), 'customer_id'],
                    unique=False)
    op.create_index('ix_tasks_customer', 'tasks', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tasks_customer', table_name='tasks')
    op.drop_index('ix_profiles_stage_value_at_risk', table_name='profiles')
    op.drop_index('ix_profiles_value_at_risk', table_name='profiles')
