"""A workspace is one data directory and one store; the fronts build it from settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa

from winback.settings import Settings
from winback.store.db import create_store_engine
from winback.store.migrate import require_current


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Workspace:
    settings: Settings
    clock: Callable[[], datetime] = field(default=system_clock)

    @cached_property
    def engine(self) -> sa.Engine:
        return create_store_engine(self.settings.store_url)

    @property
    def home(self) -> Path:
        return self.settings.home

    def ready_engine(self) -> sa.Engine:
        """The engine, after checking the store is initialised and current."""
        require_current(self.engine)
        return self.engine

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
