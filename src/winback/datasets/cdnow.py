"""The real CDNOW purchases (Fader, Hardie & Lee 2005), shipped with winback, as canonical import files.

`CDNOW_master.txt` holds all 23,570 customers of the Q1 1997 cohort and their 69,659 transactions
(1997-01-01 … 1998-06-30). Each transaction becomes one order (several on one day stay several orders;
the papers merge them into one purchase occasion, which the scoring summary does). Customer ids lose
their leading zeros; a customer's `created_at` is their first purchase. Amounts are US dollars.
"""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

CDNOW_FILE = "CDNOW_master.txt.gz"


def cdnow_transactions() -> Iterator[tuple[str, str, int, str]]:
    """(customer_id, YYYYMMDD, number_of_cds, dollar_value) per line of the shipped master file."""
    data = resources.files("winback.datasets") / "data" / CDNOW_FILE
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as fh:
        next(fh)  # header
        for line in fh:
            cid, day, cds, value = line.split()
            yield str(int(cid)), day, int(cds), value


def write_cdnow(out_dir: Path) -> dict[str, Path]:
    """Write customers.csv and orders.csv in the documented import columns; returns entity -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    first_purchase: dict[str, str] = {}
    sequence: Counter[str] = Counter()
    orders_path = out_dir / "orders.csv"
    with orders_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["order_id", "customer_id", "ordered_at", "amount", "currency", "status", "channel"])
        for cid, day, _cds, value in cdnow_transactions():
            sequence[cid] += 1
            first_purchase.setdefault(cid, day)
            writer.writerow([f"{cid}-{sequence[cid]}", cid, day, value, "USD", "completed", "web"])
    customers_path = out_dir / "customers.csv"
    with customers_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", "created_at", "dataset"])
        for cid, day in sorted(first_purchase.items(), key=lambda kv: int(kv[0])):
            writer.writerow([cid, day, "cdnow"])
    return {"customers": customers_path, "orders": orders_path}
