"""Alembic environment: runs on the engine winback hands over (never reads a URL of its own)."""

from alembic import context

from winback.store.tables import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    context.run_migrations()
