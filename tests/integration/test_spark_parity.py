"""The feature expressions give the same answers on PySpark (local mode) as on DuckDB."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pandas as pd
import pytest

from winback.datasets.generate import generate_world
from winback.features.customer import customer_features
from winback.features.execute import compute_features
from winback.features.source import read_history
from winback.ingest.load import ingest_file
from winback.store.db import create_store_engine
from winback.store.migrate import upgrade

pyspark = pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install -e '.[spark]')")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (SparkSession.builder.master("local[2]").appName("winback-tests")
               .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def world_history(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    generate_world(folder, customers=400, seed=21)
    engine = create_store_engine(f"sqlite:///{folder / 'store.db'}")
    upgrade(engine)
    now = datetime(2026, 10, 1, tzinfo=UTC)
    for entity in ("customers", "orders", "events", "feedback", "subscriptions"):
        ingest_file(engine, entity, folder / f"{entity}.csv", now=now)
    history = read_history(engine, ("customers", "orders", "events", "feedback", "subscriptions"))
    engine.dispose()
    return history


def _on_spark(spark, history, as_of):
    import ibis

    con = ibis.pyspark.connect(spark)
    tables = {name: con.create_table(name, data.to_pandas(), overwrite=True) for name, data in history.items()}
    return customer_features(tables, as_of=as_of).to_pyarrow().to_pandas()


@pytest.mark.slow
# Third-party noise, nothing winback can change: PySpark's pandas conversions use options and keywords pandas 3
# deprecates, and py4j leaves result sockets for the garbage collector.
@pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated")
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("as_of", [datetime(2026, 9, 30, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)],
                         ids=["world-end", "mid-history"])
def test_identical_features_on_duckdb_and_pyspark(spark, world_history, as_of):
    duck = compute_features(world_history, as_of=as_of).reset_index(drop=True)
    sparked = _on_spark(spark, world_history, as_of).sort_values("customer_id").reset_index(drop=True)
    assert list(sparked.columns) == list(duck.columns)
    assert len(duck) > 200
    for column in duck.columns:
        pd.testing.assert_series_equal(sparked[column], duck[column], check_dtype=False, check_exact=False,
                                       rtol=1e-12, obj=column)
