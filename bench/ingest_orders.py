"""Benchmark: ingest 1M orders from CSV into the embedded SQLite store.

Goal (issue: foundation): ≤ 30 s and peak memory ≤ 1 GB for 1,000,000 orders.
Baseline in the same run: a bare load of the same file with the csv module and sqlite3.executemany into
the same `orders` table, with no validation, no quarantine and no idempotence — the floor that winback's
checks are paid on top of.

    python bench/ingest_orders.py [--orders 1000000] [--customers 100000] [--seed 1]

Prints the figures and writes them to bench/results/ingest_orders.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write_files(folder: Path, *, orders: int, customers: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    cpath, opath = folder / "customers.csv", folder / "orders.csv"
    with cpath.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "email", "name", "created_at"])
        for i in range(customers):
            w.writerow([f"C{i:07d}", f"user{i}@example.com", f"User {i}", "2024-01-01"])
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with opath.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "customer_id", "ordered_at", "amount", "currency", "status", "channel"])
        for i in range(orders):
            at = start + timedelta(seconds=rng.randrange(0, 86_400 * 600))
            w.writerow([f"O{i:08d}", f"C{rng.randrange(customers):07d}", at.isoformat(),
                        f"{rng.uniform(5, 300):.2f}", "USD", "completed", rng.choice(("web", "app", "store"))])
    return cpath, opath


def run_winback(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run `winback ARGS` in a child; wall seconds, the child's peak RSS in MB, stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "winback.cli.main", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"winback {' '.join(args)} failed:\n{proc.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024, proc.stdout


def baseline(db: Path, orders_csv: Path) -> float:
    """Bare csv + executemany into the same table (schema copied from winback's store)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    t0 = time.perf_counter()
    with orders_csv.open(newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        batch = []
        for r in reader:
            batch.append((r[0], r[1], r[2], float(r[3]), r[4], r[5], r[6], "x", "2026-01-01 00:00:00"))
            if len(batch) == 5_000:
                conn.executemany("INSERT INTO orders (order_id, customer_id, ordered_at, amount, currency, status,"
                                 " channel, row_hash, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", batch)
                conn.commit()
                batch.clear()
        if batch:
            conn.executemany("INSERT INTO orders (order_id, customer_id, ordered_at, amount, currency, status,"
                             " channel, row_hash, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", batch)
            conn.commit()
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="winback-bench-") as tmp:
        folder = Path(tmp)
        customers_csv, orders_csv = write_files(folder, orders=args.orders, customers=args.customers, seed=args.seed)
        env = {**os.environ, "WINBACK_HOME": str(folder / "home")}
        env.pop("WINBACK_DATABASE_URL", None)
        run_winback(["init"], env)
        run_winback(["ingest", "customers", str(customers_csv), "--json"], env)
        wall, peak_mb, out = run_winback(["ingest", "orders", str(orders_csv), "--json"], env)
        summary = json.loads(out)
        rerun_wall, _rerun_peak, rerun_out = run_winback(["ingest", "orders", str(orders_csv), "--json"], env)
        rerun = json.loads(rerun_out)

        base_db = folder / "baseline.db"
        env_base = {**env, "WINBACK_HOME": str(folder / "base-home")}
        run_winback(["init"], env_base)
        (folder / "base-home" / "winback.db").rename(base_db)
        for suffix in ("-wal", "-shm"):
            (folder / "base-home" / f"winback.db{suffix}").unlink(missing_ok=True)
        sqlite3.connect(base_db).execute("PRAGMA foreign_keys=OFF").close()
        base = baseline(base_db, orders_csv)

    result = {
        "benchmark": "ingest_orders",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "orders": args.orders,
        "customers": args.customers,
        "winback_seconds": round(wall, 2),
        "winback_rows_per_second": round(args.orders / wall),
        "winback_peak_rss_mb": round(peak_mb, 1),
        "inserted": summary["inserted"],
        "quarantined": summary["quarantined"],
        "rerun_seconds": round(rerun_wall, 2),
        "rerun_inserted": rerun["inserted"],
        "rerun_updated": rerun["updated"],
        "baseline_bare_executemany_seconds": round(base, 2),
        "goal": {"seconds": 30, "peak_rss_mb": 1024},
        "meets_goal": wall <= 30 and peak_mb <= 1024,
    }
    out_path = HERE / "results" / "ingest_orders.json"
    out_path.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:>36}: {value}")
    print(f"saved to {out_path}")


if __name__ == "__main__":
    main()
