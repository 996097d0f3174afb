"""Ingestion into a real store, on SQLite and PostgreSQL: quarantine, idempotence, suppression, encodings."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest
import sqlalchemy as sa

from winback.domain.errors import InputFileError
from winback.ingest.load import ingest_file
from winback.store import tables as t

CUSTOMERS = """customer_id,email,name,locale,time_zone,created_at,email_status,tier
C1, Alice@Example.COM ,Alice Smith,en-US,America/New_York,2024-01-05,subscribed,gold
C2,wang.wei@example.cn,王伟,zh_CN,Asia/Shanghai,2024-02-01T09:30:00+08:00,subscribed,
C3,alice@EXAMPLE.com,Alice Again,en-US,America/New_York,2024-01-06,subscribed,
C4,not-an-email,Bob,en-US,America/New_York,2024-01-07,subscribed,
C5,bob@example.com,Bob,en-US,Mars/Olympus,2024-01-07,subscribed,
C6,carol@example.com,Carol,en-GB,Europe/London,2024-13-45,subscribed,
C7,dave@example.com,Dave,en-GB,Europe/London,2999-01-01,subscribed,
,,Nobody,en-US,America/New_York,2024-01-07,subscribed,
C2,wang.wei@example.cn,王伟伟,zh-CN,Asia/Shanghai,2024-02-01T09:30:00+08:00,subscribed,
C1, Alice@Example.COM ,Alice Smith,en-US,America/New_York,2024-01-05,subscribed,gold
,erin@example.org,Erin,en-US,America/Chicago,2024-03-01,unsubscribed,
"""

ORDERS = """order_id;customer_id;ordered_at;amount;currency;status
O1;C1;2024-01-02;10.00;USD;completed
O2;C2;2024-01-03T10:00:00+08:00;25.50;CNY;paid
O3;C1;2024-02-02;-5.00;USD;completed
O4;C999;2024-02-03;12.00;USD;completed
O5;C1;yesterday;12.00;USD;completed
O6;C1;2999-02-03;12.00;USD;completed
O7;C1;2024-02-04;abc;USD;completed
O8;C1;;12.00;USD;completed
O1;C1;2024-01-02;11.00;USD;completed
O9;C1;2024-02-05;9.99;USD;lost
O10;C1;2024-02-06;19.99;USD;refunded
O11;C1;2024-02-07;19.99
O12;erin@example.org;2024-03-02;1,234.50;usd;Complete
"""


def _ingest(engine, entity, path, now, **kw):
    return ingest_file(engine, entity, path, now=now, **kw)


def _quarantine(engine) -> dict[int, tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.quarantine.c.row, t.quarantine.c.code, t.quarantine.c.field,
                                      t.quarantine.c.reason, t.quarantine.c.entity))
        return {(r.entity, r.row): (r.code, r.field, r.reason) for r in rows}


def test_messy_files_quarantine_every_bad_row_and_store_every_good_one(engine, write, now):
    customers = _ingest(engine, "customers", write("customers.csv", CUSTOMERS), now)
    assert (customers.rows, customers.inserted, customers.updated, customers.quarantined) == (11, 3, 0, 7)
    assert customers.unchanged == 1 and customers.repeated_rows == 1  # row 11 repeats row 2 exactly

    orders = _ingest(engine, "orders", write("orders.csv", ORDERS), now)
    assert orders.delimiter == ";"
    assert (orders.rows, orders.inserted, orders.updated, orders.quarantined) == (13, 4, 0, 9)

    q = _quarantine(engine)
    expected = {
        ("customers", 4): "conflict",  # same address as C1, typed differently
        ("customers", 5): "type",  # invalid email
        ("customers", 6): "type",  # unknown time zone
        ("customers", 7): "bad_date",
        ("customers", 8): "future_date",
        ("customers", 9): "required",  # neither id nor email
        ("customers", 10): "duplicate_id",  # C2 again with other content
        ("orders", 4): "range",  # negative amount
        ("orders", 5): "unknown_customer",
        ("orders", 6): "bad_date",
        ("orders", 7): "future_date",
        ("orders", 8): "type",
        ("orders", 9): "required",
        ("orders", 10): "duplicate_id",
        ("orders", 11): "choice",
        ("orders", 13): "field_count",
    }
    assert {k: v[0] for k, v in q.items()} == expected
    assert "first at row 2" in q[("orders", 10)][2]
    assert q[("orders", 4)][1] == "amount"
    assert "day/month" not in q[("orders", 6)][2] and "yesterday" in q[("orders", 6)][2]
    for code, field, reason in q.values():
        assert reason, (code, field)

    with engine.connect() as conn:
        stored = {r.order_id: r for r in conn.execute(sa.select(t.orders))}
        alice = conn.execute(sa.select(t.customers).where(t.customers.c.customer_id == "C1")).one()
        erin = conn.execute(sa.select(t.customers).where(t.customers.c.email_key == "erin@example.org")).one()
    assert set(stored) == {"O1", "O2", "O10", "O12"}
    assert stored["O12"].amount == Decimal("1234.5") and stored["O12"].customer_id == "erin@example.org"
    assert (stored["O12"].currency, stored["O12"].status) == ("USD", "completed")
    assert stored["O1"].amount == Decimal("10") and stored["O1"].currency == "USD"
    assert stored["O2"].ordered_at.isoformat() == "2024-01-03T02:00:00+00:00"
    assert stored["O10"].status == "refunded"
    assert alice.email == "Alice@example.com" and alice.email_key == "alice@example.com"
    assert alice.attributes == {"tier": "gold"}
    assert erin.customer_id == "erin@example.org"  # no id given: the normalised address is the id


def test_quarantine_csv_beside_the_file_names_row_field_and_reason(engine, write, now):
    path = write("customers.csv", CUSTOMERS)
    summary = _ingest(engine, "customers", path, now)
    assert summary.quarantine_file == str(path.with_name("customers.csv.quarantine.csv"))
    with open(summary.quarantine_file, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == summary.quarantined
    by_row = {int(r["row"]): r for r in rows}
    assert by_row[6]["code"] == "type" and by_row[6]["field"] == "time_zone"
    assert "Mars/Olympus" in by_row[6]["reason"] and by_row[6]["time_zone"] == "Mars/Olympus"


def test_same_file_twice_changes_nothing_and_says_so(engine, write, now):
    customers, orders = write("customers.csv", CUSTOMERS), write("orders.csv", ORDERS)
    first = [_ingest(engine, "customers", customers, now), _ingest(engine, "orders", orders, now)]
    again = [_ingest(engine, "customers", customers, now), _ingest(engine, "orders", orders, now)]
    for a, b in zip(first, again, strict=True):
        assert (b.inserted, b.updated) == (0, 0)
        assert b.unchanged == a.inserted + a.updated + a.unchanged
        assert b.quarantined == a.quarantined
        assert b.message.startswith("nothing changed")


def test_changed_rows_are_updated_not_duplicated(engine, write, now):
    _ingest(engine, "customers", write("c.csv", CUSTOMERS), now)
    _ingest(engine, "orders", write("o.csv", ORDERS), now)
    changed = _ingest(engine, "orders", write("o2.csv", "order_id,customer_id,ordered_at,amount\n"
                                                        "O1,C1,2024-01-02,10.00\nO2,C2,2024-01-03,30\n"), now,
                      default_currency="CNY")
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 2, 0)  # O1 now CNY by default
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.orders)).scalar_one() == 4
        assert conn.execute(sa.select(t.orders.c.amount).where(t.orders.c.order_id == "O2")).scalar_one() == 30


def test_email_variants_are_one_customer(engine, write, now):
    first = _ingest(engine, "customers", write("a.csv", "email,name\n Zoë@Example.COM ,Zoë\n"), now)
    second = _ingest(engine, "customers", write("b.csv", "email,name\nzoë@example.com,Zoë\n"), now)
    nfd = "Zoe\u0308@EXAMPLE.com"  # decomposed ë
    third = _ingest(engine, "customers", write("c.csv", f"email,name\n{nfd},Zoë\n"), now)
    assert first.inserted == 1
    assert (second.inserted, third.inserted) == (0, 0)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.customers)).scalar_one() == 1


def test_idn_domain_is_stored_in_ascii(engine, write, now):
    _ingest(engine, "customers", write("a.csv", "customer_id,email\nK1,anna@Bücher.de\n"), now)
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.customers.c.email)).scalar_one() == "anna@xn--bcher-kva.de"


def test_suppressed_address_stays_suppressed_when_reimported_as_subscribed(engine, write, now):
    _ingest(engine, "customers", write("c.csv", "customer_id,email,email_status\nS1,sam@example.com,subscribed\n"),
            now)
    suppression = "channel,address,basis,source,at\nemail,SAM@example.com,hard_bounce,esp,2025-01-01\n"
    supp = _ingest(engine, "suppressions", write("s.csv", suppression), now)
    assert supp.inserted == 1
    again = _ingest(engine, "customers",
                    write("c2.csv", "customer_id,email,email_status\nS1,sam@example.com,subscribed\n"), now)
    consent = "customer_id,channel,status,basis\nS1,email,subscribed,consent\n"
    consents = _ingest(engine, "consents", write("k.csv", consent), now)
    assert again.consents["refused_suppressed"] == 1
    assert consents.consents["refused_suppressed"] == 1 and consents.inserted == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.suppressions)).scalar_one() == 1
        history = conn.execute(sa.select(t.consent_history.c.outcome, t.consent_history.c.note)
                               .order_by(t.consent_history.c.id)).all()
    assert [h.outcome for h in history] == ["applied", "refused_suppressed", "refused_suppressed"]
    assert "hard_bounce" in history[1].note and "stays suppressed" in history[1].note


def test_gbk_csv_with_chinese_names_round_trips_exactly(engine, write, now):
    names = ["王伟", "李娜", "张静", "刘洋", "欧阳娜娜", "鑫淼"]
    text = "客户编号,姓名,邮箱,语言\r\n" + "".join(f"G{i},{n},g{i}@example.cn,zh-CN\r\n" for i, n in enumerate(names))
    path = write("gbk.csv", text, encoding="gbk")
    summary = _ingest(engine, "customers", path, now)
    assert summary.encoding == "gb18030" and summary.inserted == len(names) and summary.quarantined == 0
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(t.customers.c.customer_id, t.customers.c.name)).all())
    assert stored == {f"G{i}": n for i, n in enumerate(names)}


def test_utf8_bom_and_tab_delimited(engine, write, now):
    path = write("bom.tsv", "\ufeffcustomer_id\tname\nB1\tÉmile\n")
    summary = _ingest(engine, "customers", path, now)
    assert (summary.encoding, summary.delimiter, summary.inserted) == ("utf-8-sig", "\t", 1)


def test_undecodable_line_is_quarantined_not_dropped(engine, write, now):
    content = b"customer_id,name\nU1,Ann\n" + b"U2,\xff\xfe\xfa\n" + b"U3,Cy\n"
    summary = _ingest(engine, "customers", write("bad.csv", content), now, encoding="utf-8")
    assert (summary.inserted, summary.quarantined) == (2, 1)
    assert summary.quarantine_reasons == {"encoding": 1}


def test_missing_required_column_is_a_file_error_and_writes_nothing(engine, write, now):
    with pytest.raises(InputFileError, match=r"missing required column.*ordered_at"):
        _ingest(engine, "orders", write("o.csv", "order_id,customer_id,amount\nO1,C1,3\n"), now)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.imports)).scalar_one() == 0


def test_jsonl_and_parquet_sources(engine, write, tmp_path, now):
    import pyarrow as pa
    import pyarrow.parquet as pq

    _ingest(engine, "customers", write("c.csv", "customer_id\nJ1\n"), now)
    jsonl = write("e.jsonl", '{"customer_id": "J1", "occurred_at": "2025-01-01T10:00:00Z", "type": "login"}\n'
                             '{"customer_id": "J1", "occurred_at": "2025-01-02T10:00:00Z", "type": "page_view",'
                             ' "page": "/pricing"}\n'
                             'not json\n')
    events = _ingest(engine, "events", jsonl, now)
    assert (events.inserted, events.quarantined, events.quarantine_reasons) == (2, 1, {"format": 1})
    table = pa.table({"order_id": ["P1", "P2"], "customer_id": ["J1", "J1"],
                      "ordered_at": pa.array([now.replace(year=2025), now.replace(year=2025)]),
                      "amount": [12.5, 3.0]})
    pq.write_table(table, tmp_path / "o.parquet")
    orders = _ingest(engine, "orders", tmp_path / "o.parquet", now)
    assert (orders.inserted, orders.quarantined) == (2, 0)
    with engine.connect() as conn:
        props = conn.execute(sa.select(t.events.c.properties).where(t.events.c.type == "page_view")).scalar_one()
    assert props == {"page": "/pricing"}


def test_events_without_ids_are_idempotent(engine, write, now):
    _ingest(engine, "customers", write("c.csv", "customer_id\nE1\n"), now)
    path = write("e.csv", "customer_id,occurred_at,type\n"
                          "E1,2025-01-01T10:00:00Z,login\nE1,2025-01-01T11:00:00Z,login\n")
    assert _ingest(engine, "events", path, now).inserted == 2
    assert _ingest(engine, "events", path, now).inserted == 0


def test_references_of_order_items(engine, write, now):
    _ingest(engine, "customers", write("c.csv", "customer_id\nR1\n"), now)
    _ingest(engine, "products", write("p.csv", "sku,name,category,price\nSKU1,Book,books,9.5\n"), now)
    _ingest(engine, "orders", write("o.csv", "order_id,customer_id,ordered_at,amount\nRO1,R1,2025-01-01,9.5\n"), now)
    items = _ingest(engine, "order_items", write("i.csv", "order_id,sku,quantity,unit_price\n"
                                                          "RO1,SKU1,1,9.5\nRO1,NOPE,1,1\nRO9,SKU1,1,1\nRO1,SKU1,0,1\n"),
                    now)
    assert items.inserted == 1
    assert items.quarantine_reasons == {"range": 1, "unknown_order": 1, "unknown_product": 1}


def test_concurrent_imports_of_one_file_end_consistent(engine, write, now):
    from concurrent.futures import ThreadPoolExecutor

    rows = "".join(f"K{i},k{i}@example.com,Name {i}\n" for i in range(3_000))
    path = write("many.csv", "customer_id,email,name\n" + rows)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: _ingest(engine, "customers", path, now, batch_size=500), range(3)))
    assert sum(r.inserted for r in results) == 3_000
    assert all(r.quarantined == 0 and r.updated == 0 for r in results)
    assert sum(r.unchanged for r in results) == 6_000
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.customers)).scalar_one() == 3_000


def test_overlong_text_is_quarantined_not_a_crash(engine, write, now):
    summary = _ingest(engine, "customers", write("long.csv", f"customer_id,name\nL1,{'x' * 400}\nL2,ok\n"), now)
    assert (summary.inserted, summary.quarantine_reasons) == (1, {"range": 1})


@pytest.mark.parametrize("parallel", [False, True], ids=["in-process", "child-process"])
def test_validation_in_a_child_process_gives_the_same_result(engine, write, now, parallel):
    summaries = [
        _ingest(engine, "customers", write("c.csv", CUSTOMERS), now, parallel=parallel, batch_size=3),
        _ingest(engine, "orders", write("o.csv", ORDERS), now, parallel=parallel, batch_size=4),
    ]
    got = [(s.rows, s.inserted, s.updated, s.unchanged, s.quarantined, s.quarantine_reasons) for s in summaries]
    assert got == [
        (11, 3, 0, 1, 7, {"bad_date": 1, "conflict": 1, "duplicate_id": 1, "future_date": 1, "required": 1,
                          "type": 2}),
        (13, 4, 0, 0, 9, {"bad_date": 1, "choice": 1, "duplicate_id": 1, "field_count": 1, "future_date": 1,
                          "range": 1, "required": 1, "type": 1, "unknown_customer": 1}),
    ]
    with engine.connect() as conn:
        raw = conn.execute(sa.select(t.quarantine.c.raw).where(t.quarantine.c.row == 6,
                                                                t.quarantine.c.entity == "customers")).scalar_one()
        created = conn.execute(sa.select(t.customers.c.created_at)
                               .where(t.customers.c.customer_id == "C2")).scalar_one()
    assert raw["time_zone"] == "Mars/Olympus"
    assert created.isoformat() == "2024-02-01T01:30:00+00:00"


def test_a_file_error_in_the_child_process_is_a_clear_error(engine, write, now):
    with pytest.raises(InputFileError, match="missing required column"):
        _ingest(engine, "orders", write("o.csv", "order_id,amount\nO1,3\n"), now, parallel=True)


class _Interrupt(Exception):
    pass


def test_an_interrupted_import_finishes_on_a_rerun_with_the_totals_of_one_clean_run(engine, write, now):
    lines = "".join(f"I{i},i{i}@example.com,Name {i}\n" for i in range(1_000))
    bad = "".join(f"X{i},broken-{i},Bad\n" for i in range(10))
    path = write("c.csv", "customer_id,email,name\n" + lines + bad)
    seen = []

    def stop_after_700(n: int) -> None:
        seen.append(n)
        if sum(seen) >= 700:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        _ingest(engine, "customers", path, now, batch_size=100, commit_rows=300, progress=stop_after_700)
    with engine.connect() as conn:
        partial = conn.execute(sa.select(sa.func.count()).select_from(t.customers)).scalar_one()
        status = conn.execute(sa.select(t.imports.c.status, t.imports.c.inserted)).one()
    assert partial == 600  # two commits of 300; the batch in flight was rolled back
    assert status == ("failed", 600)

    rerun = _ingest(engine, "customers", path, now, batch_size=100, commit_rows=300)
    assert (rerun.inserted, rerun.unchanged, rerun.quarantined) == (400, 600, 10)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.customers)).scalar_one() == 1_000
        names = dict(conn.execute(sa.select(t.customers.c.customer_id, t.customers.c.name)).all())
    assert names == {f"I{i}": f"Name {i}" for i in range(1_000)}
