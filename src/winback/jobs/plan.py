"""The dry run for the fronts: load a programme (file or playbook) and plan it against the store, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from winback.campaigns.files import ProgrammeFile
from winback.campaigns.plan import plan_programme
from winback.jobs.programmes import load_programme
from winback.jobs.workspace import Workspace


def plan(ws: Workspace, source: str | ProgrammeFile) -> dict[str, Any]:
    """Who would enter, who is excluded and why, what is sent when, the expected effect and the cost."""
    pf = load_programme(source, templates_dir=ws.settings.templates_dir)
    engine = ws.ready_engine()
    with read_only(engine) as conn:
        result = plan_programme(conn, pf.programme, now=ws.clock(), global_caps=ws.settings.caps,
                                currency=ws.settings.currency)
    return {**result.as_dict(), "origin": pf.origin}


@contextmanager
def read_only(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection the database itself refuses writes on, rolled back at the end: a plan never writes."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(postgresql_readonly=True)
            try:
                yield conn
            finally:
                conn.rollback()
            return
        conn.exec_driver_sql("PRAGMA query_only = ON")  # a setting of the connection, not of the transaction
        try:
            yield conn
        finally:
            conn.rollback()
            conn.exec_driver_sql("PRAGMA query_only = OFF")  # the connection goes back to the pool as it came
            conn.rollback()
