"""Header matching: canonical names, aliases (English and Chinese), mapping files, clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from winback.domain.entities import ENTITIES
from winback.domain.errors import ConfigError, InputFileError
from winback.ingest.mapping import Mapping, load_mapping, match_header

SRC = Path("f.csv")


def test_aliases_and_spelling_variants():
    match = match_header(ENTITIES["orders"], ["Order Number", "Customer-ID", "下单时间", "Dollar Value", "note"],
                         Mapping(), source=SRC)
    assert match.matched == {"Order Number": "order_id", "Customer-ID": "customer_id", "下单时间": "ordered_at",
                             "Dollar Value": "amount"}
    assert match.ignored == ["note"]


def test_extras_go_to_attributes_for_customers():
    match = match_header(ENTITIES["customers"], ["客户编号", "姓名", "vip_level"], Mapping(), source=SRC)
    assert match.matched == {"客户编号": "customer_id", "姓名": "name"} and match.extras == ["vip_level"]


def test_two_columns_meaning_one_thing_is_refused():
    with pytest.raises(InputFileError, match="both mean 'amount'"):
        match_header(ENTITIES["orders"], ["order_id", "customer_id", "date", "total", "amount"], Mapping(),
                     source=SRC)


def test_missing_required_column_names_what_is_missing():
    with pytest.raises(InputFileError, match=r"missing required column.*ordered_at, amount"):
        match_header(ENTITIES["orders"], ["order_id", "customer_id"], Mapping(), source=SRC)


def test_mapping_file(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  Kundennummer: customer_id\n  Datum: ordered_at\n  Betrag: amount\n  Nr: order_id\n"
                    "ignore: [Notiz]\ntimezone: Europe/Berlin\ndecimal_comma: true\n"
                    "formats: {ordered_at: '%d.%m.%Y'}\n")
    mapping = load_mapping(path)
    match = match_header(ENTITIES["orders"], ["Nr", "Kundennummer", "Datum", "Betrag", "Notiz"], mapping, source=SRC)
    assert set(match.matched.values()) == {"order_id", "customer_id", "ordered_at", "amount"}
    assert match.ignored == ["Notiz"] and mapping.decimal_comma and mapping.timezone == "Europe/Berlin"


def test_flat_mapping_file(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"Kundennummer": "customer_id"}')
    assert load_mapping(path).columns == {"Kundennummer": "customer_id"}


@pytest.mark.parametrize(("text", "message"), [
    ("columns: [a, b]", "must map each file header"),
    ("colums: {a: b}\ntimezone: UTC", "unknown key"),
    ("timezone: Mars/Olympus", "unknown time zone"),
    ("- just\n- a list", "dictionary"),
])
def test_bad_mapping_files(tmp_path, text, message):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_mapping(path)


def test_mapping_to_an_unknown_column():
    with pytest.raises(ConfigError, match="not a column of orders"):
        match_header(ENTITIES["orders"], ["x"], Mapping(columns={"x": "price_paid"}), source=SRC)
