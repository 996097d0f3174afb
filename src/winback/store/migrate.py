"""Create or upgrade the store with Alembic, and tell which schema version it is at."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from winback.domain.errors import StoreNotReadyError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def head_version() -> str:
    """The newest schema version this code knows."""
    script = ScriptDirectory.from_config(alembic_config(sa.create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_version(engine: sa.Engine) -> str | None:
    """The schema version the store is at, or None when it was never initialised."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine) -> tuple[str | None, str]:
    """Bring the store to the newest version; returns (version before, version after). Idempotent."""
    before = current_version(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, current_version(engine) or ""


def require_current(engine: sa.Engine) -> str:
    """Raise a clear error unless the store exists and is at the newest version."""
    version = current_version(engine)
    if version is None:
        raise StoreNotReadyError("the store is not initialised: run `winback init` first")
    if version != head_version():
        raise StoreNotReadyError(
            f"the store is at schema version {version}, this winback needs {head_version()}: run `winback init`"
        )
    return version
