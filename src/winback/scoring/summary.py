"""From a transaction log to the per-customer summary the buy-till-you-die models read (lifetimes' conventions).

Per customer, counted in purchase *occasions* (all transactions of one customer in one period unit — a day by
default — are one occasion, their values summed):

- `frequency`: repeat occasions (occasions − 1);
- `recency`: age at the last occasion (time from the first to the last occasion);
- `T`: age at the end of observation (time from the first occasion to `observation_period_end`);
- `monetary_value`: mean value of the repeat occasions, 0 for customers with none.

Times are whole period units between period starts, divided by `freq_multiplier` (so `freq="D",
freq_multiplier=7` gives weeks with fractional days, the CDNOW papers' convention). The summary is an Ibis
expression (`summary_expr`, portable to any Ibis backend) run here on a private in-process DuckDB connection, over
Arrow data or straight from Parquet files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Literal, TypeAlias

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from winback.scoring.base import ID_COLUMN, ScoringDataError

Freq: TypeAlias = Literal["D", "W", "h"]
When: TypeAlias = str | date | datetime | pd.Timestamp
Transactions: TypeAlias = pd.DataFrame | pa.Table | str | os.PathLike[str]

_DELTA = {"D": ("day", 1), "W": ("day", 7), "h": ("hour", 1)}  # freq → (unit counted by delta, units per period)
_TS, _VALUE = "ts", "value"


def summary_from_transactions(
    transactions: Transactions,
    *,
    customer_id_col: str,
    datetime_col: str,
    observation_period_end: When,
    monetary_value_col: str | None = None,
    freq: Freq = "D",
    freq_multiplier: float = 1,
    calibration_period_end: When | None = None,
    datetime_format: str | None = None,
    include_first_transaction: bool = False,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Summarise transactions to one row per customer: customer_id, frequency, recency, T [, monetary_value].

    Parameters
    ----------
    transactions
        A pandas DataFrame or pyarrow Table with one row per transaction, or the path of a Parquet file holding
        them (read by DuckDB as it aggregates, never loaded whole); only the named columns are read.
    customer_id_col, datetime_col, monetary_value_col
        Column names. Datetimes may be timestamps (time-zone-aware ones are taken at their wall-clock time in their
        own zone, as pandas' `to_period` does), dates, or text (ISO 8601, or parsed with `datetime_format`, e.g.
        "%Y%m%d", which also reads whole numbers such as 19970101).
    observation_period_end
        The end of observation; transactions in later periods are ignored. As in lifetimes, the whole period that
        holds it counts (with freq="W", a Wednesday end keeps that week's Thursday purchases).
    freq, freq_multiplier
        The period unit ("D" day, "W" week starting Monday, "h" hour) and how many of them make the reported time
        unit. Months are not offered: their lengths differ, so month deltas disagree between engines.
    calibration_period_end
        If given, the result is `calibration_and_holdout_data(...)` with these arguments.
    include_first_transaction
        Count the first occasion in frequency and monetary_value (not for the models, which expect repeats only).
    memory_limit
        DuckDB's memory limit for this summary (e.g. "1GB"; it spills to disk beyond it); None keeps DuckDB's
        default of 80 % of the machine's memory.

    Returns
    -------
    pandas.DataFrame sorted by customer_id: `frequency` int64, `recency`, `T` and `monetary_value` float64.
    """
    if calibration_period_end is not None:
        return calibration_and_holdout_data(
            transactions, customer_id_col=customer_id_col, datetime_col=datetime_col,
            calibration_period_end=calibration_period_end, observation_period_end=observation_period_end,
            monetary_value_col=monetary_value_col, freq=freq, freq_multiplier=freq_multiplier,
            datetime_format=datetime_format, include_first_transaction=include_first_transaction,
            memory_limit=memory_limit)
    end = period_start(observation_period_end, freq)
    with _duckdb(memory_limit) as con:
        t = _source(con, transactions, customer_id_col=customer_id_col, datetime_col=datetime_col,
                    monetary_value_col=monetary_value_col, datetime_format=datetime_format)
        expr = summary_expr(t, end=end, freq=freq, freq_multiplier=freq_multiplier,
                            with_monetary=monetary_value_col is not None,
                            include_first_transaction=include_first_transaction)
        return _run(con, expr.order_by(ID_COLUMN))


def calibration_and_holdout_data(
    transactions: Transactions,
    *,
    customer_id_col: str,
    datetime_col: str,
    calibration_period_end: When,
    observation_period_end: When,
    monetary_value_col: str | None = None,
    freq: Freq = "D",
    freq_multiplier: float = 1,
    datetime_format: str | None = None,
    include_first_transaction: bool = False,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Summaries of a calibration period and the holdout after it, one row per customer seen in calibration.

    Columns: customer_id, frequency_cal, recency_cal, T_cal [, monetary_value_cal], frequency_holdout
    [, monetary_value_holdout], duration_holdout. The calibration summary is `summary_from_transactions` up to
    `calibration_period_end`; the holdout counts the customer's occasions in the periods after it up to
    `observation_period_end`, and `monetary_value_holdout` is their mean value (per occasion, like the
    calibration — lifetimes averages raw holdout transactions instead); customers without holdout occasions get
    0. `duration_holdout` is the holdout length in the reported time unit. Arguments as for
    `summary_from_transactions`.
    """
    cal_end, obs_end = period_start(calibration_period_end, freq), period_start(observation_period_end, freq)
    if obs_end <= cal_end:
        raise ScoringDataError(f"calibration_and_holdout_data: observation_period_end ({observation_period_end}) "
                               f"must fall in a period after calibration_period_end ({calibration_period_end})")
    with_monetary = monetary_value_col is not None
    with _duckdb(memory_limit) as con:
        t = _source(con, transactions, customer_id_col=customer_id_col, datetime_col=datetime_col,
                    monetary_value_col=monetary_value_col, datetime_format=datetime_format)
        cal = summary_expr(t, end=cal_end, freq=freq, freq_multiplier=freq_multiplier, with_monetary=with_monetary,
                           include_first_transaction=include_first_transaction)
        cal = cal.rename({f"{c}_cal": c for c in cal.columns if c != ID_COLUMN})
        occasions = _occasions(t, freq=freq, with_monetary=with_monetary)
        hold = occasions.filter((occasions.period > _literal(cal_end, freq))
                                & (occasions.period <= _literal(obs_end, freq)))
        metrics = {"frequency_holdout": hold.count()}
        if with_monetary:
            metrics["monetary_value_holdout"] = hold[_VALUE].mean()
        hold = hold.group_by(ID_COLUMN).aggregate(**metrics)
        joined = cal.left_join(hold, ID_COLUMN).drop(f"{ID_COLUMN}_right")
        fills = {"frequency_holdout": joined.frequency_holdout.fill_null(0)}
        if with_monetary:
            fills["monetary_value_holdout"] = joined.monetary_value_holdout.fill_null(0.0)
        unit, per = _DELTA[freq]
        duration = _literal(obs_end, freq).delta(_literal(cal_end, freq), unit=unit) / (per * freq_multiplier)
        return _run(con, joined.mutate(**fills, duration_holdout=duration.cast("float64")).order_by(ID_COLUMN))


def summary_expr(
    transactions: ir.Table,
    *,
    end: datetime,
    freq: Freq = "D",
    freq_multiplier: float = 1,
    with_monetary: bool = False,
    include_first_transaction: bool = False,
) -> ir.Table:
    """The summary as an Ibis expression over a table of `customer_id`, `ts` (naive timestamp) [, `value`].

    `end` is the start of the last period observed (see `period_start`). Two grouped aggregations: transactions
    to occasions (customer, period), then occasions to customers, where the first occasion's value is picked with
    `min_by` rather than a window — several times faster on tens of millions of rows. Portable to the backends
    that have `min_by` (DuckDB as `arg_min`, Spark, Trino, Snowflake).
    """
    unit, per = _DELTA[freq]
    occ = _occasions(transactions, freq=freq, with_monetary=with_monetary, end=end)
    metrics = {"n": occ.count(), "first_": occ.period.min(), "last_": occ.period.max()}
    if with_monetary:
        min_by = _min_by_hour if freq == "h" else _min_by_day
        first_value = 0.0 if include_first_transaction else min_by(occ[_VALUE], occ.period)
        metrics["spend"] = occ[_VALUE].sum() - first_value
    c = occ.group_by(ID_COLUMN).aggregate(**metrics)
    frequency = c.n if include_first_transaction else c.n - 1
    scale = per * freq_multiplier
    columns = {
        ID_COLUMN: c[ID_COLUMN],
        "frequency": frequency.cast("int64"),
        "recency": (c.last_.delta(c.first_, unit=unit) / scale).cast("float64"),
        "T": (_literal(end, freq).delta(c.first_, unit=unit) / scale).cast("float64"),
    }
    if with_monetary:
        columns["monetary_value"] = ibis.ifelse(frequency > 0, c.spend / frequency, 0.0).cast("float64")
    return c.select(**columns)


@ibis.udf.agg.builtin(name="min_by")
def _min_by_day(arg: float, key: date) -> float:
    """The value of `arg` where `key` is smallest: DuckDB's `arg_min`, Spark's `min_by`.

    Ibis's own `argmin` compiles on DuckDB to an ordered `first(arg ORDER BY key)`, which sorts within every group
    and was slower on tens of millions of occasions.
    """


@ibis.udf.agg.builtin(name="min_by")
def _min_by_hour(arg: float, key: datetime) -> float:
    """`_min_by_day` for hourly periods."""


def period_start(when: When, freq: Freq) -> datetime:
    """The start of the period (day, Monday-starting week, hour) that contains `when`, as a naive datetime."""
    if freq not in _DELTA:
        raise ScoringDataError(f"freq must be one of {', '.join(_DELTA)} (day, week, hour), got {freq!r}; months "
                               f"differ in length — use freq='D' with freq_multiplier instead")
    try:
        ts = pd.Timestamp(when)
    except (ValueError, TypeError) as exc:
        raise ScoringDataError(f"not a date or time: {when!r}") from exc
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    if freq == "h":
        return ts.floor("h").to_pydatetime()
    day = ts.normalize()
    if freq == "W":
        day -= pd.Timedelta(days=day.weekday())
    return day.to_pydatetime()


def _literal(when: datetime, freq: Freq) -> ir.Value:
    return ibis.literal(when) if freq == "h" else ibis.literal(when.date())


def _occasions(transactions: ir.Table, *, freq: Freq, with_monetary: bool, end: datetime | None = None) -> ir.Table:
    """One row per (customer, period) with any transaction, up to the period starting at `end`; `value` summed."""
    ts = transactions[_TS]
    period = ts.truncate("h") if freq == "h" else ts.date() if freq == "D" else ts.date().truncate("W")
    t = transactions.mutate(period=period)
    if end is not None:
        t = t.filter(t.period <= _literal(end, freq))
    if with_monetary:
        return t.group_by([ID_COLUMN, "period"]).aggregate(value=t[_VALUE].sum())
    return t.select(ID_COLUMN, "period").distinct()


@contextmanager
def _duckdb(memory_limit: str | None) -> Iterator[ibis.BaseBackend]:
    """A private in-process DuckDB connection, closed afterwards."""
    con = ibis.duckdb.connect(**({"memory_limit": memory_limit} if memory_limit else {}))
    try:
        yield con
    finally:
        con.disconnect()


def _run(con: ibis.BaseBackend, expr: ir.Table) -> pd.DataFrame:
    """Execute and convert to pandas: the result streams out of DuckDB in Arrow batches, and each column is joined
    into one numpy array (or a pandas column, for text ids) and released before the next, so the result is held
    at most about once and a column."""
    try:
        reader = con.raw_sql(con.compile(expr)).to_arrow_reader(1 << 20)
        parts: dict[str, list[pa.Array]] = {name: [] for name in reader.schema.names}
        for batch in reader:
            for name, column in zip(reader.schema.names, batch.columns, strict=True):
                parts[name].append(column)
    except duckdb.Error as exc:
        raise ScoringDataError(f"transactions: {str(exc).splitlines()[0]}") from exc
    columns = {}
    for field in reader.schema:
        chunked = pa.chunked_array(parts.pop(field.name), type=field.type)
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        columns[field.name] = (chunked.to_numpy() if numeric and chunked.null_count == 0
                               else chunked.to_pandas())
        del chunked
    return pd.DataFrame(columns, copy=False)


def _source(con: ibis.BaseBackend, transactions: Transactions, *, customer_id_col: str, datetime_col: str,
            monetary_value_col: str | None, datetime_format: str | None) -> ir.Table:
    """The transactions as an Ibis table `customer_id, ts[, value]` on `con`, with naive timestamps."""
    wanted = [customer_id_col, datetime_col] + ([monetary_value_col] if monetary_value_col else [])
    if isinstance(transactions, str | os.PathLike):
        schema = _parquet_schema(transactions)
        _check_columns(wanted, schema.names)
        table = con.read_parquet(os.fspath(transactions))
        _check_parquet_nulls(con, table, path=transactions, wanted=wanted)
    elif isinstance(transactions, pd.DataFrame | pa.Table):
        _check_columns(wanted, [str(c) for c in transactions.columns] if isinstance(transactions, pd.DataFrame)
                       else transactions.column_names)
        arrow = (pa.Table.from_pandas(transactions[wanted], preserve_index=False)
                 if isinstance(transactions, pd.DataFrame) else transactions.select(wanted))
        for name in wanted:
            if arrow.column(name).null_count:
                raise ScoringDataError(f"transactions: column {name!r} has {arrow.column(name).null_count} "
                                       f"missing values")
        schema = arrow.schema
        con.con.register("winback_transactions", arrow)  # scanned in place by DuckDB, not copied
        table = con.table("winback_transactions")
    else:
        raise ScoringDataError(f"transactions: expected a pandas DataFrame, a pyarrow Table or a Parquet path, "
                               f"got {type(transactions).__name__}")
    columns = {ID_COLUMN: table[customer_id_col],
               _TS: _timestamps(con, table[datetime_col], field=schema.field(datetime_col), fmt=datetime_format)}
    if monetary_value_col:
        kind = schema.field(monetary_value_col).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
            raise ScoringDataError(f"transactions: column {monetary_value_col!r} must be numeric, not {kind}")
        columns[_VALUE] = table[monetary_value_col].cast("float64")
    return table.select(**columns)


def _timestamps(con: ibis.BaseBackend, col: ir.Column, *, field: pa.Field, fmt: str | None) -> ir.TimestampColumn:
    kind = field.type
    if pa.types.is_timestamp(kind):
        if kind.tz:  # wall-clock time in the column's own zone: the session zone governs the cast
            con.raw_sql(f"SET TimeZone = '{kind.tz.replace(chr(39), '')}'")
        return col.cast("timestamp")
    if pa.types.is_date(kind):
        return col.cast("timestamp")
    if pa.types.is_integer(kind) and fmt:
        col, kind = col.cast("string"), pa.string()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return col.as_timestamp(fmt) if fmt else col.cast("timestamp")
    hint = "; for numbers like 19970101 pass datetime_format='%Y%m%d'" if pa.types.is_integer(kind) else ""
    raise ScoringDataError(f"transactions: column {field.name!r} must hold timestamps, dates or text, "
                           f"not {kind}{hint}")


def _parquet_schema(path: str | os.PathLike[str]) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ScoringDataError(f"transactions: cannot read Parquet {os.fspath(path)!r} ({exc})") from exc


def _check_parquet_nulls(con: ibis.BaseBackend, table: ir.Table, *, path: str | os.PathLike[str],
                         wanted: list[str]) -> None:
    """Refuse missing ids, datetimes or values: from the row-group statistics, or by counting if there are none."""
    meta = pq.ParquetFile(path).metadata
    index = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
    for name in wanted:
        stats = [meta.row_group(g).column(index[name]).statistics for g in range(meta.num_row_groups)]
        if all(st is not None and st.has_null_count for st in stats):
            nulls = sum(st.null_count for st in stats)
        else:
            nulls = int(con.execute(table[name].isnull().sum()) or 0)
        if nulls:
            raise ScoringDataError(f"transactions: column {name!r} has {nulls} missing values")


def _check_columns(wanted: list[str], have: list[str]) -> None:
    missing = [c for c in wanted if c not in have]
    if missing:
        raise ScoringDataError(f"transactions: missing columns {', '.join(missing)} (found: {', '.join(have)})")
