"""Shared fixtures: a fresh store on SQLite and on PostgreSQL for every store test, and a frozen clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from winback.store.db import create_store_engine
from winback.store.migrate import upgrade

POSTGRES_URL = os.environ.get("WINBACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty, uninitialised store: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    yield from _postgres_schema()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to an empty PostgreSQL schema of its own (for tests that only make sense on PostgreSQL)."""
    yield from _postgres_schema()


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """Like `postgres_url`, shared by a module's tests (for module-scoped fixtures that build a store once)."""
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_store_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield sa.engine.make_url(POSTGRES_URL).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    """An initialised store (latest schema) on each backend."""
    eng = create_store_engine(store_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def write(tmp_path: Path):
    """Write text (or bytes) to a file under tmp_path and return its path."""

    def _write(name: str, content: str | bytes, *, encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
        return path

    return _write
