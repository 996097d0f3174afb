"""Running the feature expressions in-process on DuckDB over Arrow tables."""

from __future__ import annotations

from datetime import datetime

import ibis
import pandas as pd
import pyarrow as pa

from winback.features.customer import customer_features


def compute_features(history: dict[str, pa.Table], *, as_of: datetime) -> pd.DataFrame:
    """The feature table as of a date, executed by an in-process DuckDB."""
    con = ibis.duckdb.connect()
    try:
        tables = {name: con.create_table(name, data) for name, data in history.items()}
        return customer_features(tables, as_of=as_of).to_pyarrow().to_pandas()
    finally:
        con.disconnect()
