"""The transaction summary: occasions, recency, T and spend in lifetimes' conventions, on DuckDB."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from winback.scoring import ScoringDataError, calibration_and_holdout_data, summary_from_transactions
from winback.scoring.summary import period_start

# 2024-01-01 is a Monday
LOG = [
    ("A", "2024-01-01 09:00", 10.0),
    ("A", "2024-01-01 17:30", 5.0),  # same day: one occasion worth 15
    ("A", "2024-01-03 12:00", 20.0),
    ("A", "2024-01-10 08:00", 30.0),
    ("B", "2024-01-05 10:00", 7.0),
    ("C", "2024-01-02 11:00", 1.0),
    ("C", "2024-01-20 11:00", 99.0),  # after the end of observation
    ("A", "2024-01-18 10:00", 40.0),  # holdout
    ("A", "2024-01-18 11:00", 2.0),  # holdout, same day
    ("B", "2024-01-25 10:00", 9.0),  # holdout
]
END = "2024-01-15"


@pytest.fixture
def log() -> pd.DataFrame:
    return pd.DataFrame([(c, pd.Timestamp(t), v) for c, t, v in LOG], columns=["cust", "when", "amount"])


def _summary(transactions, **kwargs) -> pd.DataFrame:
    kwargs.setdefault("observation_period_end", END)
    return summary_from_transactions(transactions, customer_id_col="cust", datetime_col="when",
                                     monetary_value_col="amount", **kwargs).set_index("customer_id")


def test_daily_summary_counts_occasions_and_averages_repeat_spend(log):
    s = _summary(log)
    assert list(s.index) == ["A", "B", "C"]
    assert s.loc["A"].to_dict() == {"frequency": 2, "recency": 9.0, "T": 14.0, "monetary_value": 25.0}
    assert s.loc["B"].to_dict() == {"frequency": 0, "recency": 0.0, "T": 10.0, "monetary_value": 0.0}
    assert s.loc["C"].to_dict() == {"frequency": 0, "recency": 0.0, "T": 13.0, "monetary_value": 0.0}
    assert str(s["frequency"].dtype) == "int64" and str(s["T"].dtype) == "float64"


def test_weeks_start_on_monday_and_multipliers_scale_the_unit(log):
    weekly = _summary(log, freq="W")
    # weeks of 1, 8 and 15 January; like lifetimes, the whole week holding the end (15 Jan) counts, so 18 Jan too
    assert weekly.loc["A"].to_dict() == {"frequency": 2, "recency": 2.0, "T": 2.0, "monetary_value": 36.0}
    assert weekly.loc["C"].to_dict() == {"frequency": 1, "recency": 2.0, "T": 2.0, "monetary_value": 99.0}
    in_weeks = _summary(log, freq="D", freq_multiplier=7)
    assert in_weeks.loc["A", "recency"] == pytest.approx(9 / 7) and in_weeks.loc["A", "T"] == 2.0


def test_hourly_periods(log):
    s = _summary(log, freq="h", observation_period_end="2024-01-15 00:00")
    assert s.loc["A", "frequency"] == 3  # 09:00 and 17:30 on 1 January are different hours
    assert s.loc["A", "recency"] == 9 * 24 - 1 and s.loc["A", "T"] == 14 * 24 - 9


def test_first_transaction_can_be_included(log):
    s = _summary(log, include_first_transaction=True)
    assert s.loc["A", "frequency"] == 3 and s.loc["A", "monetary_value"] == pytest.approx(65 / 3)
    assert s.loc["B", "monetary_value"] == 7.0


def test_without_values_there_is_no_monetary_column(log):
    s = summary_from_transactions(log, customer_id_col="cust", datetime_col="when", observation_period_end=END)
    assert list(s.columns) == ["customer_id", "frequency", "recency", "T"]


def test_pandas_arrow_and_parquet_inputs_agree(log, tmp_path):
    path = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pandas(log, preserve_index=False), path)
    expected = _summary(log)
    pd.testing.assert_frame_equal(_summary(pa.Table.from_pandas(log, preserve_index=False)), expected)
    pd.testing.assert_frame_equal(_summary(path), expected)
    pd.testing.assert_frame_equal(_summary(str(path)), expected)


def test_the_callers_frame_is_left_alone(log):
    before = log.copy()
    _summary(log)
    pd.testing.assert_frame_equal(log, before)


def test_text_and_number_dates_with_a_format(log):
    as_text = log.assign(when=log["when"].dt.strftime("%d/%m/%Y %H:%M"))
    pd.testing.assert_frame_equal(_summary(as_text, datetime_format="%d/%m/%Y %H:%M"), _summary(log))
    as_number = log.assign(when=log["when"].dt.strftime("%Y%m%d").astype("int64"))
    pd.testing.assert_frame_equal(_summary(as_number, datetime_format="%Y%m%d"), _summary(log))
    iso = log.assign(when=log["when"].dt.strftime("%Y-%m-%dT%H:%M:%S"))
    pd.testing.assert_frame_equal(_summary(iso), _summary(log))


def test_zoned_timestamps_count_in_their_own_wall_clock():
    # 23:30 UTC on 1 January is 00:30 on 2 January in Berlin: with the 10:00 purchase, one Berlin day
    log = pd.DataFrame({"cust": ["A", "A"], "amount": [1.0, 2.0],
                        "when": pd.to_datetime(["2024-01-01 23:30", "2024-01-02 09:00"], utc=True)})
    berlin = log.assign(when=log["when"].dt.tz_convert("Europe/Berlin"))
    assert _summary(log).loc["A", "frequency"] == 1
    assert _summary(berlin).loc["A", "frequency"] == 0


def test_calibration_and_holdout(log):
    ch = calibration_and_holdout_data(log, customer_id_col="cust", datetime_col="when", monetary_value_col="amount",
                                      calibration_period_end=END, observation_period_end="2024-01-31")
    assert list(ch.columns) == ["customer_id", "frequency_cal", "recency_cal", "T_cal", "monetary_value_cal",
                                "frequency_holdout", "monetary_value_holdout", "duration_holdout"]
    ch = ch.set_index("customer_id")
    assert ch.loc["A"].to_dict() == {"frequency_cal": 2, "recency_cal": 9.0, "T_cal": 14.0,
                                     "monetary_value_cal": 25.0, "frequency_holdout": 1,
                                     "monetary_value_holdout": 42.0, "duration_holdout": 16.0}
    assert ch.loc["B", "frequency_holdout"] == 1 and ch.loc["B", "monetary_value_holdout"] == 9.0
    assert ch.loc["C", "frequency_holdout"] == 1 and ch.loc["C", "monetary_value_holdout"] == 99.0
    via_summary = summary_from_transactions(log, customer_id_col="cust", datetime_col="when",
                                            monetary_value_col="amount", calibration_period_end=END,
                                            observation_period_end="2024-01-31")
    pd.testing.assert_frame_equal(via_summary, ch.reset_index())


def test_period_start():
    assert period_start("2024-01-03 17:45", "D").isoformat() == "2024-01-03T00:00:00"
    assert period_start("2024-01-07", "W").isoformat() == "2024-01-01T00:00:00"
    assert period_start("2024-01-03 17:45", "h").isoformat() == "2024-01-03T17:00:00"


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.drop(columns="amount"), "missing columns amount"),
    (lambda d: d.assign(cust=[None, *d["cust"][1:]]), "column 'cust' has 1 missing values"),
    (lambda d: d.assign(when=1.5), "must hold timestamps, dates or text, not double"),
    (lambda d: d.assign(when=20240101), "datetime_format='%Y%m%d'"),
    (lambda d: d.assign(amount="x"), "column 'amount' must be numeric"),
    (lambda d: d.assign(when="not a date"), "transactions: "),
])
def test_bad_transactions_are_explained(log, change, message):
    with pytest.raises(ScoringDataError, match=message.replace("(", r"\(")):
        _summary(change(log))


def test_bad_periods_are_explained(log):
    with pytest.raises(ScoringDataError, match="freq must be one of D, W, h"):
        _summary(log, freq="M")
    with pytest.raises(ScoringDataError, match="must fall in a period after"):
        calibration_and_holdout_data(log, customer_id_col="cust", datetime_col="when", calibration_period_end=END,
                                     observation_period_end="2024-01-15 18:00")
    with pytest.raises(ScoringDataError, match="cannot read Parquet"):
        summary_from_transactions("/nonexistent/log.parquet", customer_id_col="cust", datetime_col="when",
                                  observation_period_end=END)


def test_no_transactions_before_the_end_gives_an_empty_summary(log):
    s = summary_from_transactions(log, customer_id_col="cust", datetime_col="when", monetary_value_col="amount",
                                  observation_period_end="2023-12-31")
    assert len(s) == 0 and list(s.columns) == ["customer_id", "frequency", "recency", "T", "monetary_value"]
