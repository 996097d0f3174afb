"""Reading and validating a large file in a second process while this one writes to the store.

Validation is pure Python and the store's inserts are mostly native code, so on two cores the two
overlap almost fully. Batches cross the process boundary in a compact form (datetimes and decimals as
text, raw cells as tuples), because pickling rich objects would cost as much as the validation saved.
Memory stays flat: the child is at most AHEAD batches (and a pipe buffer) ahead of the writer.
"""

from __future__ import annotations

import gc
import pickle
import queue
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

from winback.domain.entities import ENTITIES
from winback.domain.errors import InputFileError, WinbackError
from winback.ingest.mapping import Mapping, match_header
from winback.ingest.sources import RawRow, open_source
from winback.ingest.validate import Problem, Record, RowValidator

AHEAD = 8  # validated batches that may wait for the writer
_END = "end"
_ERROR = "error"
_HEADER = struct.Struct("!Q")


def validated_batches_in_child(
    path: Path, *, entity_name: str, mapping: Mapping, encoding: str | None, now: datetime,
    default_currency: str, batch_size: int,
) -> Iterator[Any]:
    """Yield `_Batch`es validated in a child process; errors in the child are raised here.

    The child is `python -m winback.ingest.parallel`, talking over pipes (not multiprocessing, whose
    spawn mode re-imports the caller's main module). The pipe's buffer is the bound on how far it runs ahead.
    """
    from winback.ingest.load import _Batch  # the batch type is the loader's

    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen([sys.executable, "-m", "winback.ingest.parallel"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
        assert child.stdin is not None and child.stdout is not None
        unpack = _Unpacker(entity_name)
        try:
            child.stdin.write(pickle.dumps((str(path), entity_name, mapping, encoding, now, default_currency,
                                            batch_size)))
            child.stdin.close()
            for message in _frames_ahead(child.stdout):
                if message is None:
                    child.wait()
                    errors.seek(0)
                    tail = errors.read().decode(errors="replace").strip().splitlines()[-1:]
                    raise WinbackError(f"the validating process stopped unexpectedly (exit code {child.returncode})"
                                       + (f": {tail[0]}" if tail else ""))
                kind = message[0]
                if kind == _END:
                    return
                if kind == _ERROR:
                    _, user_error, text = message
                    raise InputFileError(text) if user_error else WinbackError(f"validation failed: {text}")
                batch = _Batch(size=message[1])
                batch.records, batch.raws, batch.rejects = unpack(message)
                yield batch
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stdout.close()


def _read_frame(stream: Any) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    return body if len(body) == size else None


def _frames_ahead(stream: Any) -> Iterator[Any]:
    """Messages from the child; a thread keeps reading up to AHEAD frames ahead, so the child does not wait
    while this process commits. Yields None if the child's output ends without its end message."""
    frames: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)

    def pump() -> None:
        while True:
            frame = _read_frame(stream)
            frames.put(frame)
            if frame is None:
                return

    reader = threading.Thread(target=pump, name="winback-ingest-frames", daemon=True)
    reader.start()
    while True:
        frame = frames.get()
        if frame is None:
            yield None
            return
        message = pickle.loads(frame)
        yield message
        if message[0] != "batch":
            return


def _write_frame(stream: Any, message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(body)))
    stream.write(body)


def _child_main() -> None:
    from winback.domain.errors import UserError
    from winback.ingest.load import _validated_batches

    gc.disable()  # this process only validates and exits; nothing it builds forms cycles worth collecting

    out = sys.stdout.buffer
    path, entity_name, mapping, encoding, now, default_currency, batch_size = pickle.load(sys.stdin.buffer)
    try:
        entity = ENTITIES[entity_name]
        source = open_source(Path(path), encoding=encoding or mapping.encoding)
        try:
            match = match_header(entity, source.columns, mapping, source=Path(path))
            validator = RowValidator(entity, match, mapping, now=now, default_currency=default_currency)
            pack = _Packer(entity_name, source.columns)
            for batch in _validated_batches(source.rows, validator, batch_size):
                _write_frame(out, pack(batch))
        finally:
            source.close()
        _write_frame(out, (_END,))
    except UserError as exc:
        _write_frame(out, (_ERROR, True, str(exc)))
    except BrokenPipeError:  # the parent stopped reading (it failed or was interrupted)
        return
    except Exception as exc:  # reported to the parent, which raises it
        _write_frame(out, (_ERROR, False, f"{type(exc).__name__}: {exc}"))
    out.flush()


def _names(entity_name: str) -> tuple[list[str], set[str], set[str]]:
    entity = ENTITIES[entity_name]
    names = [*entity.names, *((entity.extras_into,) if entity.extras_into else ())]
    dates = {c.name for c in entity.columns if c.kind == "datetime"}
    decimals = {c.name for c in entity.columns if c.kind == "decimal"}
    return names, dates, decimals


class _Packer:
    def __init__(self, entity_name: str, header: list[str]) -> None:
        self.names, dates, decimals = _names(entity_name)
        self.getter = itemgetter(*self.names)
        self.convert = [i for i, n in enumerate(self.names) if n in dates or n in decimals]
        self.header = header

    def _cells(self, raw: RawRow) -> tuple[Any, dict[str, Any]]:
        if raw.fields is not None:
            return raw.fields, {}
        cells = raw.cells
        return [cells.get(h, "") for h in self.header], {k: v for k, v in cells.items() if k not in self.header}

    def __call__(self, batch: Any) -> tuple[Any, ...]:
        records = []
        convert, getter, raws = self.convert, self.getter, batch.raws
        for rec in batch.records:
            values = getter(rec.values)
            if convert:
                values = list(values)
                for i in convert:
                    v = values[i]
                    if v is not None:
                        values[i] = str(v) if v.__class__ is Decimal else v.isoformat()
            records.append((rec.row, rec.key, rec.row_hash, rec.email_key, values, self._cells(raws[rec.row])))
        rejects = [(raw.row, self._cells(raw), [(p.field, p.code, p.reason) for p in problems])
                   for raw, problems in batch.rejects]
        return ("batch", batch.size, self.header, records, rejects)


class _LazyRaw(RawRow):
    """A raw row whose cells become a dict only if the row is rejected after validation (rarely)."""

    def __init__(self, row: int, header: list[str], cells: tuple[Any, ...], extra: dict[str, Any]) -> None:
        self.row, self.problem = row, None
        self._parts = (header, cells, extra)

    @property  # type: ignore[override]
    def cells(self) -> dict[str, Any]:
        header, cells, extra = self._parts
        return {**dict(zip(header, cells, strict=False)), **extra}


class _Unpacker:
    def __init__(self, entity_name: str) -> None:
        self.names, dates, decimals = _names(entity_name)
        self.dates = [i for i, n in enumerate(self.names) if n in dates]
        self.decimals = [i for i, n in enumerate(self.names) if n in decimals]

    def __call__(self, message: tuple[Any, ...]) -> tuple[list[Record], dict[int, RawRow], list[Any]]:
        _, _size, header, packed, packed_rejects = message
        names = self.names
        records, raws = [], {}
        for row, key, row_hash, email_key, values, (cells, extra) in packed:
            values = list(values)
            for i in self.dates:
                if values[i] is not None:
                    values[i] = datetime.fromisoformat(values[i])
            for i in self.decimals:
                if values[i] is not None:
                    values[i] = Decimal(values[i])
            records.append(Record(row=row, values=dict(zip(names, values, strict=True)), key=key,
                                  row_hash=row_hash, email_key=email_key))
            raws[row] = _LazyRaw(row, header, cells, extra)
        rejects = [(RawRow(row, {**dict(zip(header, cells, strict=False)), **extra}),
                    [Problem(f, c, r) for f, c, r in problems])
                   for row, (cells, extra), problems in packed_rejects]
        return records, raws, rejects


if __name__ == "__main__":
    _child_main()
