"""Reading the store's history into Arrow tables with one schema, whatever the store.

PostgreSQL is read with its ADBC driver, straight into Arrow; SQLite with the standard driver into typed Arrow
arrays. SQLite keeps datetimes as text and PostgreSQL returns NUMERIC as an
opaque type, so each query casts in the database where it can and in Arrow where it cannot; the result
is always: timestamps as timestamp[us, UTC], amounts as float64, JSON as its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from winback.store import tables as t

UTC_US = pa.timestamp("us", tz="UTC")

# What the features read of each table (never row_hash and the other bookkeeping).
COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "email_key", "locale", "time_zone", "created_at", "attributes"),
    "orders": ("order_id", "customer_id", "ordered_at", "amount", "currency", "status", "coupon_code", "channel"),
    "order_items": ("order_id", "sku", "quantity", "unit_price"),
    "products": ("sku", "name", "category", "price", "launched_at"),
    "events": ("event_id", "customer_id", "occurred_at", "type", "properties"),
    "feedback": ("feedback_id", "customer_id", "kind", "rating", "text", "status", "opened_at", "resolved_at",
                 "category"),
    "subscriptions": ("subscription_id", "customer_id", "plan", "status", "amount", "currency", "started_at",
                      "renews_at", "cancelled_at", "cancel_reason", "paused_until"),
    "suppressions": ("channel", "address_key", "basis", "at"),
    "consents": ("customer_id", "channel", "status", "at"),
}


def _adbc_connect(engine: sa.Engine) -> Any:
    import adbc_driver_postgresql.dbapi as adbc_pg

    plain = engine.url.set(drivername="postgresql")
    return adbc_pg.connect(plain.render_as_string(hide_password=False))


def _select(engine: sa.Engine, name: str) -> str:
    table = t.metadata.tables[name]
    quote = engine.dialect.identifier_preparer.quote
    cols = []
    for col in COLUMNS[name]:
        kind = type(table.c[col].type).__name__
        if engine.dialect.name == "postgresql" and kind == "Money":
            cols.append(f"CAST({quote(col)} AS DOUBLE PRECISION) AS {quote(col)}")
        elif engine.dialect.name == "postgresql" and col in ("attributes", "properties"):
            cols.append(f"CAST({quote(col)} AS TEXT) AS {quote(col)}")
        else:
            cols.append(quote(col))
    return f"SELECT {', '.join(cols)} FROM {quote(table.name)}"


def _normalise(name: str, data: pa.Table) -> pa.Table:
    table = t.metadata.tables[name]
    arrays, fields = [], []
    for col in data.column_names:
        arr = data[col]
        kind = type(table.c[col].type).__name__
        if kind == "UTCDateTime":
            if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                arr = pc.cast(arr, pa.timestamp("us"))
            if arr.type.tz is None:
                arr = pc.assume_timezone(arr, "UTC")
            arr = pc.cast(arr, UTC_US)
        elif kind == "Money":
            arr = pc.cast(arr, pa.float64())
        elif isinstance(table.c[col].type, sa.Integer):
            arr = pc.cast(arr, pa.int64())
        elif pa.types.is_null(arr.type):
            arr = pc.cast(arr, pa.string())
        arrays.append(arr)
        fields.append(pa.field(col, arr.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _sqlite_table(engine: sa.Engine, name: str, chunk: int = 200_000) -> pa.Table:
    """SQLite through the standard driver: ADBC guesses a column's type from its first rows, and a column
    that starts with NULLs is then refused when text arrives."""
    import sqlite3

    table = t.metadata.tables[name]
    types = [_arrow_type(table.c[col].type) for col in COLUMNS[name]]
    batches = []
    with sqlite3.connect(engine.url.database or ":memory:") as conn:
        cursor = conn.execute(_select(engine, name))
        while rows := cursor.fetchmany(chunk):
            columns = list(zip(*rows, strict=True))
            batches.append(pa.record_batch([pa.array(c, typ) for c, typ in zip(columns, types, strict=True)],
                                           names=list(COLUMNS[name])))
    conn.close()
    schema = pa.schema([pa.field(c, typ) for c, typ in zip(COLUMNS[name], types, strict=True)])
    return pa.Table.from_batches(batches, schema=schema)


def _arrow_type(column_type: Any) -> pa.DataType:
    kind = type(column_type).__name__
    if kind == "UTCDateTime":
        return pa.string()  # SQLite's text; _normalise parses it
    if kind == "Money" or isinstance(column_type, sa.Float):
        return pa.float64()
    if isinstance(column_type, sa.Integer):
        return pa.int64()
    return pa.string()


def read_history(engine: sa.Engine, names: Iterable[str] = tuple(COLUMNS)) -> dict[str, pa.Table]:
    """The store's tables as Arrow, with derived columns the features need (e.g. `events.machine`)."""
    result: dict[str, pa.Table] = {}
    if engine.dialect.name == "sqlite":
        for name in names:
            result[name] = _normalise(name, _sqlite_table(engine, name))
    else:
        conn = _adbc_connect(engine)
        try:
            for name in names:
                cursor = conn.cursor()
                try:
                    cursor.execute(_select(engine, name))
                    result[name] = _normalise(name, cursor.fetch_arrow_table())
                finally:
                    cursor.close()
        finally:
            conn.close()
    if "events" in result:
        tracked = tracked_engagements(engine)
        if tracked.num_rows:
            result["events"] = pa.concat_tables([result["events"], tracked.cast(result["events"].schema)])
        result["events"] = with_machine_flag(result["events"])
    return result


_TRACKED_TYPES = {"open": "email_open", "click": "email_click"}


def tracked_engagements(engine: sa.Engine) -> pa.Table:
    """Opens and clicks recorded by the tracking service, as events (`email_open`, `email_click`; machine-made ones
    carry `{"machine": true}` in their properties), so activity features see the programmes' own mail too."""
    g = t.engagements.c
    ids, customers, times, types, props = [], [], [], [], []
    with engine.connect() as conn:
        rows = conn.execute(sa.select(g.id, g.customer_id, g.at, g.kind, g.machine)
                            .where(g.kind.in_(tuple(_TRACKED_TYPES))).order_by(g.id))
        for row_id, customer_id, at, kind, machine in rows:
            ids.append(f"tracked-{row_id}")
            customers.append(customer_id)
            times.append(at)
            types.append(_TRACKED_TYPES[kind])
            props.append('{"machine": true}' if machine else None)
    return pa.table({"event_id": pa.array(ids, pa.string()), "customer_id": pa.array(customers, pa.string()),
                     "occurred_at": pa.array(times, UTC_US), "type": pa.array(types, pa.string()),
                     "properties": pa.array(props, pa.string())})


def with_machine_flag(events: pa.Table) -> pa.Table:
    """Add `machine`: True for opens and clicks flagged as machine-made (`properties.machine`), never activity."""
    types = events["type"].to_pylist()
    props = events["properties"].to_pylist()
    flags = [False] * len(types)
    for i, (kind, text) in enumerate(zip(types, props, strict=True)):
        if text and kind in ("email_open", "email_click") and "machine" in text:
            try:
                value = json.loads(text) if isinstance(text, str) else text
            except json.JSONDecodeError:
                continue
            flags[i] = bool(isinstance(value, dict) and value.get("machine") is True)
    return events.append_column("machine", pa.array(flags, pa.bool_()))
