"""scoring profiles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import winback.store.types
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('profile_history',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('as_of', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=True),
    sa.Column('silent_days', sa.Float(), nullable=True),
    sa.Column('rfm_r', sa.Integer(), nullable=True),
    sa.Column('rfm_f', sa.Integer(), nullable=True),
    sa.Column('rfm_m', sa.Integer(), nullable=True),
    sa.Column('rfm_score', sa.String(length=3), nullable=True),
    sa.Column('rfm_segment', sa.String(length=40), nullable=True),
    sa.Column('n_orders', sa.Integer(), nullable=True),
    sa.Column('revenue', sa.Float(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=True),
    sa.Column('recency_days', sa.Float(), nullable=True),
    sa.Column('t_days', sa.Float(), nullable=True),
    sa.Column('monetary_value', sa.Float(), nullable=True),
    sa.Column('days_since_last_order', sa.Float(), nullable=True),
    sa.Column('cadence_days', sa.Float(), nullable=True),
    sa.Column('overdue_ratio', sa.Float(), nullable=True),
    sa.Column('p_alive', sa.Float(), nullable=True),
    sa.Column('p_churn', sa.Float(), nullable=True),
    sa.Column('expected_purchases_90', sa.Float(), nullable=True),
    sa.Column('clv', sa.Float(), nullable=True),
    sa.Column('value_at_risk', sa.Float(), nullable=True),
    sa.Column('value_tier', sa.String(length=20), nullable=True),
    sa.Column('churn_reason', sa.String(length=40), nullable=True),
    sa.Column('churn_reason_confidence', sa.Float(), nullable=True),
    sa.Column('dormancy_type', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('run_id', 'customer_id', name=op.f('pk_profile_history'))
    )
    with op.batch_alter_table('profile_history', schema=None) as batch_op:
        batch_op.create_index('ix_profile_history_customer', ['customer_id', 'as_of'], unique=False)

    op.create_table('score_runs',
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('as_of', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('started_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_score_runs'))
    )
    op.create_table('stage_transitions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('as_of', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('from_stage', sa.String(length=20), nullable=True),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_transitions'))
    )
    with op.batch_alter_table('stage_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_stage_transitions_customer', ['customer_id', 'as_of'], unique=False)

    op.create_table('profiles',
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=False),
    sa.Column('as_of', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('stage_since', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=True),
    sa.Column('silent_days', sa.Float(), nullable=True),
    sa.Column('rfm_r', sa.Integer(), nullable=True),
    sa.Column('rfm_f', sa.Integer(), nullable=True),
    sa.Column('rfm_m', sa.Integer(), nullable=True),
    sa.Column('rfm_score', sa.String(length=3), nullable=True),
    sa.Column('rfm_segment', sa.String(length=40), nullable=True),
    sa.Column('n_orders', sa.Integer(), nullable=True),
    sa.Column('revenue', sa.Float(), nullable=True),
    sa.Column('frequency', sa.Integer(), nullable=True),
    sa.Column('recency_days', sa.Float(), nullable=True),
    sa.Column('t_days', sa.Float(), nullable=True),
    sa.Column('monetary_value', sa.Float(), nullable=True),
    sa.Column('days_since_last_order', sa.Float(), nullable=True),
    sa.Column('cadence_days', sa.Float(), nullable=True),
    sa.Column('overdue_ratio', sa.Float(), nullable=True),
    sa.Column('p_alive', sa.Float(), nullable=True),
    sa.Column('p_churn', sa.Float(), nullable=True),
    sa.Column('expected_purchases_90', sa.Float(), nullable=True),
    sa.Column('clv', sa.Float(), nullable=True),
    sa.Column('value_at_risk', sa.Float(), nullable=True),
    sa.Column('value_tier', sa.String(length=20), nullable=True),
    sa.Column('churn_reason', sa.String(length=40), nullable=True),
    sa.Column('churn_reason_confidence', sa.Float(), nullable=True),
    sa.Column('dormancy_type', sa.String(length=40), nullable=True),
    sa.Column('signals', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('explanation', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_profiles_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_profiles'))
    )


def downgrade() -> None:
    op.drop_table('profiles')
    with op.batch_alter_table('stage_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_transitions_customer')

    op.drop_table('stage_transitions')
    op.drop_table('score_runs')
    with op.batch_alter_table('profile_history', schema=None) as batch_op:
        batch_op.drop_index('ix_profile_history_customer')

    op.drop_table('profile_history')
