"""Reading import files as a stream of (row number, cells) in batches, whatever their format.

CSV: UTF-8 (with or without BOM), UTF-16 with BOM and GBK/GB18030 are detected; `,` `;` tab and `|` are
detected from the header. Row numbers are those a spreadsheet shows: the header is row 1.
JSONL: one object per line; row = line number. Parquet: row = 1 + position in the file.
A row that cannot be read (undecodable bytes, wrong number of fields, bad JSON) is yielded with a
`problem` instead of being skipped, so the loader quarantines it.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from winback.domain.errors import InputFileError

SAMPLE_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
PARQUET_SUFFIXES = {".parquet", ".pq"}

csv.field_size_limit(16 * 1024 * 1024)


@dataclass
class RawRow:
    row: int
    cells: dict[str, Any]
    problem: tuple[str, str] | None = None  # (code, reason) when the row could not be read at all
    fields: list[str] | None = None  # a CSV row's fields in header order, when it has exactly the header's width


@dataclass
class Source:
    """An opened file: its header (in file order), what was detected, and its rows."""

    path: Path
    format: str
    columns: list[str]
    rows: Iterator[RawRow]
    encoding: str | None = None
    delimiter: str | None = None
    handle: Any = None  # the open file behind `rows`, if any

    def close(self) -> None:
        """Release the file, whether or not the rows were read to the end."""
        close = getattr(self.rows, "close", None)
        if close:
            close()
        if self.handle is not None:
            self.handle.close()


def open_source(path: Path, *, encoding: str | None = None) -> Source:
    """Open an import file; raises `InputFileError` for problems with the file as a whole."""
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not a file")
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in PARQUET_SUFFIXES:
        return _open_parquet(path)
    if suffix in JSONL_SUFFIXES:
        return _open_jsonl(path)
    if suffix in CSV_SUFFIXES or not suffix:
        return _open_csv(path, encoding=encoding)
    raise InputFileError(f"{path}: unknown file type {suffix!r}; use .csv, .tsv, .jsonl or .parquet")


# --- CSV -------------------------------------------------------------------------------------------------------


def detect_encoding(sample: bytes, *, at_eof: bool) -> str:
    """UTF-8 (BOM or not), UTF-16 with BOM, else GB18030 (a superset of GBK); refuse anything else."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for name in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(name)().decode(sample, final=at_eof)
            return name
        except UnicodeDecodeError:
            continue
    raise InputFileError("cannot tell the text encoding: it is neither UTF-8 nor GBK/GB18030; pass --encoding")


def _split_header(line: str) -> dict[str, list[str]]:
    return {d: next(csv.reader([line], delimiter=d)) for d in DELIMITERS}


def detect_delimiter(header: str, second: str | None) -> str:
    """The delimiter that splits the header into the most fields, and the next line into as many."""
    best, best_count = ",", 1
    for delim, fields in _split_header(header).items():
        count = len(fields)
        if second is not None and len(next(csv.reader([second], delimiter=delim))) != count:
            continue
        if count > best_count:
            best, best_count = delim, count
    return best


def _open_csv(path: Path, *, encoding: str | None) -> Source:
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
        at_eof = not fh.read(1)
    if not sample.strip():
        raise InputFileError(f"{path}: the file is empty")
    try:
        enc = encoding or detect_encoding(sample, at_eof=at_eof)
        codecs.lookup(enc)
    except LookupError:
        raise InputFileError(f"{path}: unknown encoding {encoding!r}") from None
    except InputFileError as exc:
        raise InputFileError(f"{path}: {exc}") from None
    text_sample = sample.decode(enc, errors="replace")
    lines = text_sample.splitlines()
    delimiter = detect_delimiter(lines[0], lines[1] if len(lines) > 1 else None)

    binary = path.open("rb")
    decode_failures: list[int] = []
    text_lines = _decoded_lines(binary, enc, decode_failures)
    reader = csv.reader(text_lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        binary.close()
        raise InputFileError(f"{path}: the file is empty") from None
    except csv.Error as exc:
        binary.close()
        raise InputFileError(f"{path}: the header cannot be read as CSV ({exc})") from None
    if decode_failures:
        binary.close()
        raise InputFileError(f"{path}: the header is not valid {enc}; pass --encoding")
    header = [h.lstrip("\ufeff").strip() for h in header]
    return Source(
        path=path, format="csv", columns=header, encoding=enc, delimiter=delimiter, handle=binary,
        rows=_csv_rows(reader, header, binary, decode_failures, enc),
    )


def _decoded_lines(binary: io.BufferedReader, encoding: str, failures: list[int]) -> Iterator[str]:
    """Decode line by line so one bad line is one bad row, not a failed file."""
    if encoding == "utf-16":
        yield from io.TextIOWrapper(binary, encoding=encoding, newline="")
        return
    first = True
    for number, raw in enumerate(binary, start=1):
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError:
            failures.append(number)
            line = raw.decode(encoding, errors="replace")
        if first:
            line = line.lstrip("\ufeff")
            first = False
        yield line


def _csv_rows(
    reader: Any, header: list[str], binary: io.BufferedReader, failures: list[int], encoding: str
) -> Iterator[RawRow]:
    width = len(header)
    row_number = 1
    try:
        while True:
            seen_failures = len(failures)
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row_number += 1
                yield RawRow(row_number, {}, ("format", f"cannot be read as CSV: {exc}"))
                continue
            row_number += 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                row_number -= 1  # blank lines are not rows (spreadsheets drop them too)
                continue
            raw = dict(zip(header, cells, strict=False))
            if len(failures) > seen_failures:
                yield RawRow(row_number, raw, ("encoding", f"contains bytes that are not valid {encoding}"))
            elif len(cells) != width:
                yield RawRow(row_number, raw, ("field_count", f"has {len(cells)} fields, the header has {width}"))
            else:
                yield RawRow(row_number, raw, None, cells)
    finally:
        binary.close()


# --- JSONL -----------------------------------------------------------------------------------------------------


def _open_jsonl(path: Path, *, scan_lines: int = 1_000) -> Source:
    """The columns are the keys of the first `scan_lines` objects, in order of appearance."""
    columns: dict[str, None] = {}
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number > scan_lines:
                break
            try:
                obj = json.loads(raw) if raw.strip() else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict):
                columns.update(dict.fromkeys(obj))
    if not columns:
        raise InputFileError(f"{path}: no JSON object with the row's fields in the first {scan_lines} lines")
    return Source(path=path, format="jsonl", columns=list(columns), rows=_jsonl_rows(path, list(columns)))


def _jsonl_rows(path: Path, columns: list[str]) -> Iterator[RawRow]:
    known = set(columns)
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except UnicodeDecodeError:
                yield RawRow(number, {"_line": raw.decode("utf-8", "replace")}, ("encoding", "is not valid UTF-8"))
                continue
            except json.JSONDecodeError as exc:
                yield RawRow(number, {"_line": raw.decode("utf-8", "replace")},
                             ("format", f"is not valid JSON: {exc.msg} at character {exc.pos}"))
                continue
            if not isinstance(obj, dict):
                yield RawRow(number, {"_line": raw.decode("utf-8", "replace")}, ("format", "is not a JSON object"))
                continue
            for key in obj:
                if key not in known:
                    known.add(key)
                    columns.append(key)
            yield RawRow(number, {k: _cell(v) for k, v in obj.items()})


# --- Parquet ---------------------------------------------------------------------------------------------------


def _open_parquet(path: Path) -> Source:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputFileError(f"{path}: not a readable Parquet file ({exc})") from None
    columns = list(pf.schema_arrow.names)

    def rows() -> Iterator[RawRow]:
        number = 1
        for batch in pf.iter_batches(batch_size=10_000):
            for record in batch.to_pylist():
                number += 1
                yield RawRow(number, {k: _cell(v) for k, v in record.items()})

    return Source(path=path, format="parquet", columns=columns, rows=rows())


def _cell(value: Any) -> Any:
    """Native values from JSON or Parquet as the text a CSV would hold; objects stay objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
