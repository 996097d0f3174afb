"""The import pipeline: stream a file in batches, validate, quarantine, and upsert by external id.

Every row ends in exactly one of: inserted, updated, unchanged (already stored as is, or an exact repeat
within the file) or quarantined (with row number, field, code and reason, in the `quarantine` table and
in a CSV beside the file). Each batch commits on its own, and upserts compare a hash of the row's
content, so an import cut short is finished by running it again.
"""

from __future__ import annotations

import csv
import gc
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from winback.domain.entities import ENTITIES, Entity
from winback.domain.errors import NotFoundError
from winback.ingest.consent import ConsentRequest, apply_consents
from winback.ingest.mapping import Mapping, load_mapping, match_header
from winback.ingest.parallel import validated_batches_in_child
from winback.ingest.sources import RawRow, open_source
from winback.ingest.validate import Problem, Record, RowValidator
from winback.store import tables as t
from winback.store.bulk import insert_rows
from winback.store.db import write_transaction

BATCH_SIZE = 5_000
COMMIT_ROWS = 200_000
PARALLEL_BYTES = 32 << 20
REFERENCE_CODES = {"customers": "unknown_customer", "orders": "unknown_order", "products": "unknown_product"}


@dataclass
class ImportSummary:
    """What one import did; the CLI prints it and `--json` emits it as is."""

    entity: str
    source: str
    import_id: str
    format: str
    encoding: str | None
    delimiter: str | None
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    repeated_rows: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    quarantine_file: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    consents: dict[str, int] = field(default_factory=dict)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Batch:
    size: int = 0
    records: list[Record] = field(default_factory=list)
    rejects: list[tuple[RawRow, list[Problem]]] = field(default_factory=list)
    raws: dict[int, RawRow] = field(default_factory=dict)  # the raw row of each valid record, by row number


def ingest_file(
    engine: sa.Engine,
    entity_name: str,
    path: Path,
    *,
    now: datetime,
    default_currency: str = "USD",
    mapping_path: Path | None = None,
    mapping: Mapping | None = None,
    encoding: str | None = None,
    fallback_quarantine_dir: Path | None = None,
    batch_size: int = BATCH_SIZE,
    commit_rows: int = COMMIT_ROWS,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
) -> ImportSummary:
    """Import one file into one entity; file-level problems raise `UserError` before anything is written.

    `parallel` validates in a second process while this one writes; by default only for files of
    PARALLEL_BYTES or more on a machine with more than one core.
    """
    entity = ENTITIES.get(entity_name)
    if entity is None:
        raise NotFoundError(f"unknown entity {entity_name!r}; choose one of {', '.join(ENTITIES)}")
    if mapping is None:
        mapping = load_mapping(mapping_path) if mapping_path else Mapping()
    source = open_source(path, encoding=encoding or mapping.encoding)
    try:
        match = match_header(entity, source.columns, mapping, source=path)
    except Exception:
        source.close()
        raise
    validator = RowValidator(entity, match, mapping, now=now, default_currency=default_currency)
    summary = ImportSummary(
        entity=entity.name, source=str(path), import_id=uuid.uuid4().hex, format=source.format,
        encoding=source.encoding, delimiter=source.delimiter, columns=match.matched,
        extra_columns=match.extras, ignored_columns=match.ignored,
    )
    loader = _Loader(engine, entity, validator, summary, now=now, commit_rows=max(commit_rows, batch_size))
    writer = _QuarantineWriter(path, source.columns, fallback_quarantine_dir)
    loader.begin()
    try:
        if parallel is None:
            parallel = (os.cpu_count() or 1) > 1 and path.stat().st_size >= PARALLEL_BYTES
        if parallel:
            source.close()
            batches = validated_batches_in_child(
                path, entity_name=entity.name, mapping=mapping, encoding=encoding, now=now,
                default_currency=default_currency, batch_size=batch_size)
        else:
            batches = _validated_batches(source.rows, validator, batch_size)
        with _gc_paused():
            for batch in batches:
                rejected = loader.load_batch(batch)
                writer.write(rejected)
                if progress:
                    progress(batch.size)
        loader.commit()
    except BaseException as exc:
        loader.rollback(exc)
        loader.finish(status="failed", message=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        writer.close()
        source.close()
    summary.quarantine_file = str(writer.path) if writer.path else None
    summary.quarantine_reasons = dict(sorted(loader.reasons.items()))
    summary.message = _message(summary)
    loader.finish(status="completed", message=summary.message)
    return summary


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while batches stream through.

    Each batch allocates tens of thousands of short-lived containers, which keeps triggering full
    collections that walk every live object; that made a million-row import a third slower. The loader
    creates no reference cycles, so nothing waits longer to be freed; the previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _message(s: ImportSummary) -> str:
    if s.rows == 0:
        return "the file has no rows"
    if s.inserted == 0 and s.updated == 0:
        changed = "nothing changed: every valid row is already in the store"
        return changed + (f"; {s.quarantined} row(s) quarantined" if s.quarantined else "")
    return f"{s.inserted} inserted, {s.updated} updated, {s.unchanged} unchanged, {s.quarantined} quarantined"


def _validated_batches(rows: Iterator[RawRow], validator: RowValidator, size: int) -> Iterator[_Batch]:
    while chunk := list(islice(rows, size)):
        batch = _Batch(size=len(chunk))
        for raw in chunk:
            if raw.problem:
                code, reason = raw.problem
                batch.rejects.append((raw, [Problem(None, code, f"row {reason}")]))
                continue
            result = validator.validate(raw.row, raw.cells)
            if isinstance(result, list):
                batch.rejects.append((raw, result))
            else:
                batch.raws[raw.row] = raw
                batch.records.append(result)
        yield batch


class _Loader:
    def __init__(
        self, engine: sa.Engine, entity: Entity, validator: RowValidator, summary: ImportSummary, *,
        now: datetime, commit_rows: int,
    ) -> None:
        self.engine = engine
        self.entity = entity
        self.validator = validator
        self.summary = summary
        self.now = now
        self.table = t.ENTITY_TABLES[entity.name]
        self.table_columns = [c.name for c in self.table.columns]
        self.key_columns = [self.table.c[k if k != "address" else "address_key"] for k in entity.key]
        # key -> "row_hash row": plain strings, which the garbage collector never has to walk (a million
        # tuples here made each full collection, and so the import, slower as the file went on).
        self.seen: dict[Any, str] = {}
        self.seen_emails: dict[str, Any] = {}
        self.known_refs: dict[str, set[Any]] = {}  # referenced keys confirmed to exist (rows are never deleted)
        self.commit_rows = commit_rows
        self._conn: sa.Connection | None = None
        self._conn_cm: Any = None
        self._pending_rows = 0
        self.committed = (0, 0, 0, 0, 0)
        self.value_columns = [c for c in self.table_columns if c in entity.names or c == entity.extras_into]
        self.reasons: Counter[str] = Counter()

    # -- the write transaction: several batches per commit, because each commit rewrites every index page
    #    the batch touched (random keys touch many), and fewer commits make a bulk load several times faster.

    def _connection(self) -> sa.Connection:
        if self._conn is None:
            self._conn_cm = write_transaction(self.engine)
            self._conn = self._conn_cm.__enter__()
        return self._conn

    def commit(self) -> None:
        """Commit what was loaded so far; an import cut short resumes from here when run again."""
        if self._conn is not None:
            cm, self._conn, self._conn_cm = self._conn_cm, None, None
            cm.__exit__(None, None, None)
        self._pending_rows = 0
        self.committed = (self.summary.rows, self.summary.inserted, self.summary.updated, self.summary.unchanged,
                          self.summary.quarantined)

    def rollback(self, exc: BaseException) -> None:
        if self._conn is not None:
            cm, self._conn, self._conn_cm = self._conn_cm, None, None
            cm.__exit__(type(exc), exc, exc.__traceback__)
        s = self.summary
        s.rows, s.inserted, s.updated, s.unchanged, s.quarantined = self.committed

    # -- import bookkeeping ------------------------------------------------------------------------------------

    def begin(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.imports.insert().values(
                import_id=self.summary.import_id, entity=self.entity.name, source=self.summary.source,
                started_at=self.now, status="running",
            ))

    def finish(self, *, status: str, message: str) -> None:
        s = self.summary
        with self.engine.begin() as conn:
            conn.execute(t.imports.update().where(t.imports.c.import_id == s.import_id).values(
                finished_at=self.now, status=status, rows=s.rows, inserted=s.inserted, updated=s.updated,
                unchanged=s.unchanged, quarantined=s.quarantined, message=message,
            ))

    # -- one batch ---------------------------------------------------------------------------------------------

    def load_batch(self, batch: _Batch) -> list[tuple[RawRow, list[Problem]]]:
        raws = batch.raws
        self.summary.rows += batch.size
        records = self._dedupe_in_file(batch, raws)
        conn = self._connection()
        records = self._check_references(conn, records, batch, raws)
        if self.entity.name == "customers":
            records = self._check_email_owner(conn, records, batch, raws)
        try:
            with conn.begin_nested():
                self._write(conn, records)
        except (sa.exc.IntegrityError, sa.exc.DataError):
            self._write_one_by_one(conn, records, batch, raws)
        self._record_rejects(conn, batch.rejects)
        self._pending_rows += batch.size
        if self._pending_rows >= self.commit_rows:
            self.commit()
        return batch.rejects

    def _reject(self, batch: _Batch, raw: RawRow, problem: Problem) -> None:
        batch.rejects.append((raw, [problem]))

    def _dedupe_in_file(self, batch: _Batch, raws: dict[int, RawRow]) -> list[Record]:
        kept = []
        key_name = ", ".join(self.entity.key)
        for rec in batch.records:
            seen_key = rec.key[0] if len(rec.key) == 1 else "\x1f".join(map(str, rec.key))
            first = self.seen.get(seen_key)
            if first is None:
                self.seen[seen_key] = f"{rec.row_hash} {rec.row}"
                kept.append(rec)
            elif first[:32] == rec.row_hash:
                self.summary.repeated_rows += 1
                self.summary.unchanged += 1
            else:
                shown = ", ".join(str(k) for k in rec.key)
                self._reject(batch, raws[rec.row], Problem(
                    self.entity.key[0], "duplicate_id",
                    f"{key_name} {shown} appears again with different content (first at row {first[33:]})",
                ))
        return kept

    def _check_references(
        self, conn: sa.Connection, records: list[Record], batch: _Batch, raws: dict[int, RawRow]
    ) -> list[Record]:
        for ref in self.entity.references:
            target = t.ENTITY_TABLES[ref.entity]
            key_col = target.c[ENTITIES[ref.entity].key[0]]
            found = self.known_refs.setdefault(ref.entity, set())
            wanted = {r.values[ref.column] for r in records} - found
            found |= _existing(conn, key_col, wanted)
            code = REFERENCE_CODES[ref.entity]
            kept = []
            for rec in records:
                value = rec.values[ref.column]
                if value in found:
                    kept.append(rec)
                else:
                    self._reject(batch, raws[rec.row], Problem(
                        ref.column, code, f"{ref.column} {value!r} is not in {ref.entity} (load {ref.entity} first)"
                    ))
            records = kept
        return records

    def _check_email_owner(
        self, conn: sa.Connection, records: list[Record], batch: _Batch, raws: dict[int, RawRow]
    ) -> list[Record]:
        keys = [r.email_key for r in records if r.email_key]
        owners: dict[str, Any] = {}
        for part in _parts(keys):
            rows = conn.execute(sa.select(t.customers.c.email_key, t.customers.c.customer_id)
                                .where(t.customers.c.email_key.in_(part)))
            owners.update(dict(rows.all()))
        kept = []
        for rec in records:
            cid, key = rec.values["customer_id"], rec.email_key
            owner = owners.get(key) if key else None
            in_file = self.seen_emails.get(key) if key else None
            if owner is not None and owner != cid:
                self._reject(batch, raws[rec.row], Problem(
                    "email", "conflict", f"email {rec.values['email']} already belongs to customer {owner!r}"))
                continue
            if in_file is not None and in_file != cid:
                self._reject(batch, raws[rec.row], Problem(
                    "email", "conflict",
                    f"email {rec.values['email']} is also given to customer {in_file!r} earlier in this file"))
                continue
            if key:
                self.seen_emails[key] = cid
            kept.append(rec)
        return kept

    def _row(self, rec: Record) -> dict[str, Any]:
        values = rec.values
        row = {c: values[c] for c in self.value_columns}
        if "email_key" in self.table_columns:
            row["email_key"] = rec.email_key
        if "address_key" in self.table_columns:
            row["address_key"] = rec.email_key
        row["row_hash"] = rec.row_hash
        row["import_id"] = self.summary.import_id
        row["updated_at"] = self.now
        return row

    def _insert(self, conn: sa.Connection, records: list[Record]) -> None:
        columns = [*self.value_columns, "row_hash"]
        key_column = next((c for c in ("email_key", "address_key") if c in self.table_columns), None)
        if key_column:
            columns.append(key_column)
        getter = itemgetter(*self.value_columns)
        if len(self.value_columns) == 1:
            rows = [(rec.values[self.value_columns[0]], rec.row_hash, *((rec.email_key,) if key_column else ()))
                    for rec in records]
        elif key_column:
            rows = [(*getter(rec.values), rec.row_hash, rec.email_key) for rec in records]
        else:
            rows = [(*getter(rec.values), rec.row_hash) for rec in records]
        insert_rows(conn, self.table, columns, rows,
                    constants={"import_id": self.summary.import_id, "updated_at": self.now})

    def _upsert(self, conn: sa.Connection, records: list[Record]) -> None:
        if not records:
            return
        existing = self._existing_hashes(conn, [r.key for r in records])
        inserts, updates, unchanged = [], [], 0
        for rec in records:
            old = existing.get(rec.key)
            if old is None:
                inserts.append(rec)
            elif old != rec.row_hash:
                updates.append(self._row(rec))
            else:
                unchanged += 1
        if inserts:
            self._insert(conn, inserts)
        if updates:
            where = sa.and_(*(c == sa.bindparam(f"k_{c.name}") for c in self.key_columns))
            keyed = [{**u, **{f"k_{c.name}": u[c.name] for c in self.key_columns}} for u in updates]
            values = {c: sa.bindparam(c) for c in updates[0] if c not in {k.name for k in self.key_columns}}
            conn.execute(self.table.update().where(where).values(values), keyed)
        self.summary.inserted += len(inserts)
        self.summary.updated += len(updates)
        self.summary.unchanged += unchanged

    def _write_one_by_one(
        self, conn: sa.Connection, records: list[Record], batch: _Batch, raws: dict[int, RawRow]
    ) -> None:
        """A batch the database refused: find the row(s) responsible, keep the rest."""
        kept = []
        for rec in records:
            try:
                with conn.begin_nested():
                    self._write(conn, [rec])
                kept.append(rec)
            except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
                detail = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
                self._reject(batch, raws[rec.row], Problem(None, "conflict", f"the store refused the row: {detail}"))
        records[:] = kept

    def _existing_hashes(self, conn: sa.Connection, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], str]:
        """Stored row hashes of the given keys (one indexed lookup per key, in large IN lists)."""
        found: dict[tuple[Any, ...], str] = {}
        width = len(self.key_columns)
        quote = conn.dialect.identifier_preparer.quote
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        columns = ", ".join(quote(c.name) for c in self.key_columns)
        row = f"({', '.join([marker] * width)})" if width > 1 else marker
        for part in _parts(keys, size=2_000 if width > 1 else 5_000):
            # Identifiers come from the table definition and values are bound: no data in the SQL text.
            # (SQLAlchemy's expanding IN costs more than the lookup itself at millions of keys.)
            sql = (f"SELECT {columns}, {quote('row_hash')} FROM {quote(self.table.name)} "
                   f"WHERE ({columns}) IN ({', '.join([row] * len(part))})")
            params = tuple(v for key in part for v in key)
            for r in conn.exec_driver_sql(sql, params):
                found[tuple(r[:width])] = r[width]
        return found

    def _write(self, conn: sa.Connection, records: list[Record]) -> None:
        if self.entity.name == "consents":  # suppression must be checked before anything is written
            outcome = apply_consents(conn, [_consent(r.values) for r in records], now=self.now,
                                     import_id=self.summary.import_id)
            self.summary.inserted += outcome["inserted"]
            self.summary.updated += outcome["updated"]
            self.summary.unchanged += outcome["unchanged"]
            self._count_consents(outcome)
            return
        self._upsert(conn, records)
        if self.entity.name == "customers":
            requests = [
                ConsentRequest(customer_id=r.values["customer_id"], channel="email", status=r.values["email_status"],
                               basis=None, source=f"customers import {Path(self.summary.source).name}", at=None)
                for r in records if r.values.get("email_status")
            ]
            if requests:
                self._count_consents(apply_consents(conn, requests, now=self.now, import_id=self.summary.import_id))

    def _count_consents(self, outcome: Counter[str]) -> None:
        for k, v in outcome.items():
            self.summary.consents[k] = self.summary.consents.get(k, 0) + v

    def _record_rejects(self, conn: sa.Connection, rejects: list[tuple[RawRow, list[Problem]]]) -> None:
        if not rejects:
            return
        rows = []
        for raw, problems in rejects:
            first = problems[0]
            self.reasons[first.code] += 1
            rows.append({
                "import_id": self.summary.import_id, "entity": self.entity.name, "source": self.summary.source,
                "row": raw.row, "field": "; ".join(p.field for p in problems if p.field) or None,
                "code": first.code, "reason": "; ".join(p.reason for p in problems),
                "problems": [p.as_dict() for p in problems], "raw": _jsonable(raw.cells), "recorded_at": self.now,
            })
        conn.execute(t.quarantine.insert(), rows)
        self.summary.quarantined += len(rejects)


def _consent(values: dict[str, Any]) -> ConsentRequest:
    return ConsentRequest(**{k: values[k] for k in ("customer_id", "channel", "status", "basis", "source", "at")})


def _jsonable(cells: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, str | dict) else str(v) for k, v in cells.items()}


def _parts(items: Iterable[Any], size: int = 2_000) -> Iterator[list[Any]]:
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _existing(conn: sa.Connection, column: sa.Column, values: set[Any]) -> set[Any]:
    found: set[Any] = set()
    for part in _parts(values):
        found.update(conn.execute(sa.select(column).where(column.in_(part))).scalars())
    return found


class _QuarantineWriter:
    """Writes rejected rows to `<file>.quarantine.csv` beside the input (or the fallback folder)."""

    def __init__(self, source: Path, columns: list[str], fallback_dir: Path | None) -> None:
        self.source = source
        self.columns = columns
        self.fallback_dir = fallback_dir
        self.path: Path | None = None
        self._fh: Any = None
        self._writer: Any = None
        self._stale = source.with_name(source.name + ".quarantine.csv")

    def _open(self) -> None:
        target = self._stale
        if not os.access(target.parent, os.W_OK) and self.fallback_dir is not None:
            self.fallback_dir.mkdir(parents=True, exist_ok=True)
            target = self.fallback_dir / target.name
        self._fh = target.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._fh)
        extra = [c for c in self.columns if c not in {"row", "field", "code", "reason"}]
        self._writer.writerow(["row", "field", "code", "reason", *extra])
        self._extra = extra
        self.path = target

    def write(self, rejects: list[tuple[RawRow, list[Problem]]]) -> None:
        for raw, problems in rejects:
            if self._writer is None:
                self._open()
            cells = [raw.cells.get(c, "") for c in self._extra]
            self._writer.writerow([
                raw.row, "; ".join(p.field for p in problems if p.field), problems[0].code,
                "; ".join(p.reason for p in problems), *cells,
            ])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        elif self._stale.exists():
            self._stale.unlink()  # a clean re-run must not leave the last run's rejects looking current
