"""Jobs over the store of record: init, status, ingest, one customer, datasets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from winback.datasets.cdnow import write_cdnow
from winback.domain.entities import LOAD_ORDER
from winback.domain.errors import NotFoundError, UserError
from winback.ingest.load import ImportSummary, ingest_file
from winback.jobs.workspace import Workspace
from winback.store.db import describe
from winback.store.migrate import current_version, upgrade
from winback.store.queries import customer_view, entity_counts


def init_store(ws: Workspace) -> dict[str, Any]:
    """Create or upgrade the store; safe to run again."""
    ws.home.mkdir(parents=True, exist_ok=True)
    before, after = upgrade(ws.engine)
    return {"database": describe(ws.engine), "schema_version": after, "previous_version": before,
            "created": before is None, "upgraded": before is not None and before != after}


def store_status(ws: Workspace) -> dict[str, Any]:
    version = current_version(ws.engine)
    counts: dict[str, int] = {}
    if version is not None:
        with ws.ready_engine().connect() as conn:
            counts = entity_counts(conn)
    return {"database": describe(ws.engine), "schema_version": version, "initialised": version is not None,
            "counts": counts, **counts}


def ingest(
    ws: Workspace, entity: str, path: Path, *, mapping: Path | None = None, encoding: str | None = None,
    currency: str | None = None, progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    engine = ws.ready_engine()
    summary = ingest_file(
        engine, entity, path, now=ws.clock(), default_currency=currency or ws.settings.currency,
        mapping_path=mapping, encoding=encoding, fallback_quarantine_dir=ws.home / "quarantine", progress=progress,
    )
    if entity == "orders":  # coupons the imported orders used
        from datetime import timedelta

        from winback.messaging.coupons import redeem_orders
        from winback.store.db import write_transaction

        now = ws.clock()
        with write_transaction(engine) as conn:
            redeem_orders(conn, now=now, since=now - timedelta(days=1))
    return summary


def show_customer(ws: Workspace, customer_id: str) -> dict[str, Any]:
    with ws.ready_engine().connect() as conn:
        view = customer_view(conn, customer_id)
    if view is None:
        raise NotFoundError(f"no customer {customer_id!r}")
    return view


def load_directory(
    ws: Workspace, directory: Path, *, progress: Callable[[str, int], None] | None = None
) -> dict[str, ImportSummary]:
    """Ingest every `<entity>.csv` found in a directory, in an order that satisfies references."""
    results = {}
    for entity in LOAD_ORDER:
        path = directory / f"{entity}.csv"
        if path.exists():
            results[entity] = ingest(ws, entity, path,
                                     progress=(lambda n, e=entity: progress(e, n)) if progress else None)
    if not results:
        raise UserError(f"{directory}: no <entity>.csv files found (expected names like customers.csv, orders.csv)")
    return results


def load_cdnow(ws: Workspace, *, progress: Callable[[str, int], None] | None = None) -> dict[str, ImportSummary]:
    """Load the shipped CDNOW purchases as customers and orders."""
    directory = ws.home / "datasets" / "cdnow"
    write_cdnow(directory)
    return load_directory(ws, directory, progress=progress)


def generate(ws: Workspace, *, customers: int, seed: int, out: Path | None = None) -> dict[str, Any]:
    """Write a generated world's files (and its ground truth apart, in truth/)."""
    from winback.datasets.generate import generate_world

    if customers < 1:
        raise UserError("--customers must be at least 1")
    directory = out or ws.home / "datasets" / f"world-{customers}-{seed}"
    if directory.exists():
        shutil.rmtree(directory)
    counts = generate_world(directory, customers=customers, seed=seed)
    return {"directory": str(directory), "rows": counts, "truth": str(directory / "truth")}


def world_truth(directory: Path) -> dict[str, Any]:
    meta = directory / "truth" / "world.json"
    return json.loads(meta.read_text()) if meta.exists() else {}
