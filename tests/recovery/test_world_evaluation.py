"""On a generated world none of the rules were written against (seed 123), reasons and dormancy types are
recovered from the data alone, as `winback datasets evaluate` measures them."""

from __future__ import annotations

from pathlib import Path

import pytest

from winback.jobs.data import generate, init_store, load_directory
from winback.jobs.evaluate import evaluate_world
from winback.jobs.workspace import Workspace
from winback.settings import Settings


@pytest.mark.slow
def test_reason_and_dormancy_accuracy_on_an_unseen_world(tmp_path):
    ws = Workspace(settings=Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'w.db'}"))
    init_store(ws)
    world = generate(ws, customers=3_000, seed=123)
    load_directory(ws, Path(world["directory"]))
    result = evaluate_world(ws, Path(world["directory"]))
    assert result["reason_accuracy"] >= 0.90
    assert result["dormancy_type_accuracy"] >= 0.85
    assert result["reason_coverage"] >= 0.9 and result["dormancy_typed_customers"] > 1_000
