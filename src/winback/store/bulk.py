"""Fast bulk inserts: one executemany of plain tuples, with the same value processing SQLAlchemy applies.

SQLAlchemy's executemany builds and processes a parameter dict per row, which costs more than SQLite's
own insert at a million rows. Here each column's bind processor (type decorators included) is looked up
once per statement and applied to tuples; on PostgreSQL the tuples go through `COPY … FROM STDIN`, several times
faster than a pipelined executemany at 100k+ rows.

`any_of` is the read side: a column in a long list of values as one array parameter on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def _processors(table: sa.Table, columns: Sequence[str], dialect: sa.Dialect) -> list[Callable[[Any], Any] | None]:
    return [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]


def insert_rows(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    constants: dict[str, Any] | None = None,
) -> None:
    """Insert tuples (values in `columns` order) into `table`; `constants` go into every row, processed once."""
    if not rows:
        return
    dialect = conn.dialect
    constants = constants or {}
    fixed = tuple(proc(v) if (proc := _processors(table, [c], dialect)[0]) else v for c, v in constants.items())
    names = [*columns, *constants]
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) "
           f"VALUES ({', '.join([marker] * len(names))})")
    pairs = [(i, proc) for i, proc in enumerate(_processors(table, columns, dialect)) if proc is not None]
    if pairs:
        params = []
        for row in rows:
            values = list(row)
            for i, proc in pairs:
                values[i] = proc(values[i])
            params.append((*values, *fixed))
    else:
        params = [(*row, *fixed) for row in rows]
    if dialect.name == "postgresql":
        integral = [i for i, name in enumerate(names) if isinstance(table.c[name].type, sa.Integer)]
        if integral:
            params = [_integral(row, integral) for row in params]
        _copy(conn, f"COPY {quote(table.name)} ({', '.join(quote(c) for c in names)}) FROM STDIN", params)
        return
    conn.exec_driver_sql(sql, params)


def _integral(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    """COPY reads text, so an integral float (1.0, numpy's too) bound for an integer column is written as 1, which
    is what an INSERT's assignment cast does with the float parameter."""
    values = list(row)
    for i in positions:
        value = values[i]
        if isinstance(value, float) and value.is_integer():
            values[i] = int(value)
    return tuple(values)


def _copy(conn: sa.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """COPY the rows in, inside the connection's transaction (psycopg 3 adapts each value as it would a parameter).
    Driver errors come out as SQLAlchemy's (IntegrityError, DataError …), as they would from an INSERT."""
    error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        with cursor.copy(sql) as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
    except error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


def any_of(conn: sa.Connection, column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """`column IN values` for a long list: on PostgreSQL `= ANY(array)`, one parameter, since thousands of separate
    parameters cost more to render and parse than the indexed lookup takes; `IN (…)` elsewhere."""
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)
