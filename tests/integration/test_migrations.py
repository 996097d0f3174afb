"""The schema: created by Alembic from nothing, upgraded idempotently, and downgradable, on both stores."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from winback.store import tables as t
from winback.store.db import create_store_engine
from winback.store.migrate import alembic_config, current_version, head_version, upgrade
from winback.store.queries import entity_counts


def test_upgrade_from_nothing_is_idempotent_and_matches_the_tables(store_url):
    engine = create_store_engine(store_url)
    try:
        assert current_version(engine) is None
        assert upgrade(engine) == (None, head_version())
        assert upgrade(engine) == (head_version(), head_version())
        inspector = sa.inspect(engine)
        assert set(t.metadata.tables) <= set(inspector.get_table_names())
        for table in t.metadata.sorted_tables:
            assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys()), table.name
        for table in ("profiles", "tasks", "orders", "enrolments"):
            made = {i["name"] for i in inspector.get_indexes(table)}
            declared = {i.name for i in t.metadata.tables[table].indexes}
            assert declared <= made, (table, declared - made)
        with engine.connect() as conn:
            assert set(entity_counts(conn)) >= {"customers", "orders", "order_items", "products", "events",
                                                "feedback", "subscriptions", "suppressions", "consents"}
        command.downgrade(alembic_config(engine), "base")
        assert current_version(engine) is None
        assert "customers" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
