"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa
import winback.store.types
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('basis', sa.String(length=30), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('recorded_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_history'))
    )
    with op.batch_alter_table('consent_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_history_customer_id'), ['customer_id'], unique=False)

    op.create_table('customers',
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('email_key', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('created_at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customers')),
    sa.UniqueConstraint('email_key', name=op.f('uq_customers_email_key'))
    )
    op.create_table('imports',
    sa.Column('import_id', sa.String(length=32), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('started_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('import_id', name=op.f('pk_imports'))
    )
    op.create_table('products',
    sa.Column('sku', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('category', sa.String(length=200), nullable=True),
    sa.Column('price', winback.store.types.Money(precision=18, scale=4), nullable=True),
    sa.Column('launched_at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sku', name=op.f('pk_products'))
    )
    op.create_table('suppressions',
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('address_key', sa.String(length=320), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('basis', sa.String(length=30), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'address_key', name=op.f('pk_suppressions'))
    )
    op.create_table('consents',
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('basis', sa.String(length=30), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_consents_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', 'channel', name=op.f('pk_consents'))
    )
    op.create_table('events',
    sa.Column('event_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('properties', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_events_customer_id_customers')),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_customer_time', ['customer_id', 'occurred_at'], unique=False)

    op.create_table('feedback',
    sa.Column('feedback_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('opened_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('category', sa.String(length=200), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_feedback_customer_id_customers')),
    sa.PrimaryKeyConstraint('feedback_id', name=op.f('pk_feedback'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_customer_id'), ['customer_id'], unique=False)

    op.create_table('orders',
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('ordered_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('amount', winback.store.types.Money(precision=18, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('coupon_code', sa.String(length=100), nullable=True),
    sa.Column('channel', sa.String(length=100), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_orders_customer_id_customers')),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_customer_time', ['customer_id', 'ordered_at'], unique=False)

    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=200), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('problems', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('raw', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('recorded_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['imports.import_id'], name=op.f('fk_quarantine_import_id_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_import_id'), ['import_id'], unique=False)

    op.create_table('subscriptions',
    sa.Column('subscription_id', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.String(length=200), nullable=False),
    sa.Column('plan', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount', winback.store.types.Money(precision=18, scale=4), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('started_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.Column('renews_at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('cancelled_at', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('paused_until', winback.store.types.UTCDateTime(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'], name=op.f('fk_subscriptions_customer_id_customers')),
    sa.PrimaryKeyConstraint('subscription_id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_customer_id'), ['customer_id'], unique=False)

    op.create_table('order_items',
    sa.Column('order_id', sa.String(length=200), nullable=False),
    sa.Column('sku', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', winback.store.types.Money(precision=18, scale=4), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('import_id', sa.String(length=32), nullable=True),
    sa.Column('updated_at', winback.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.order_id'], name=op.f('fk_order_items_order_id_orders')),
    sa.ForeignKeyConstraint(['sku'], ['products.sku'], name=op.f('fk_order_items_sku_products')),
    sa.PrimaryKeyConstraint('order_id', 'sku', name=op.f('pk_order_items'))
    )
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_items_sku'), ['sku'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_items_sku'))

    op.drop_table('order_items')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriptions_customer_id'))

    op.drop_table('subscriptions')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_import_id'))

    op.drop_table('quarantine')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_customer_time')

    op.drop_table('orders')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_customer_id'))

    op.drop_table('feedback')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_customer_time')

    op.drop_table('events')
    op.drop_table('consents')
    op.drop_table('suppressions')
    op.drop_table('products')
    op.drop_table('imports')
    op.drop_table('customers')
    with op.batch_alter_table('consent_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_history_customer_id'))

    op.drop_table('consent_history')
