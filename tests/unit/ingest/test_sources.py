"""Reading files: encodings, delimiters, unreadable rows kept as rows with a problem."""

from __future__ import annotations

import codecs

import pytest

from winback.domain.errors import InputFileError
from winback.ingest.sources import detect_delimiter, detect_encoding, open_source


def _rows(path):
    source = open_source(path)
    try:
        return source, list(source.rows)
    finally:
        source.close()


@pytest.mark.parametrize(("data", "expected"), [
    (b"a,b\n1,2\n", "utf-8"),
    (codecs.BOM_UTF8 + b"a,b\n", "utf-8-sig"),
    ("姓名,城市\n王伟,北京\n".encode("gbk"), "gb18030"),
    ("name\n".encode("utf-16"), "utf-16"),
])
def test_detect_encoding(data, expected):
    assert detect_encoding(data, at_eof=True) == expected


def test_utf8_cut_inside_a_character_is_still_utf8():
    data = "王伟".encode()[:-1]
    assert detect_encoding(data, at_eof=False) == "utf-8"


@pytest.mark.parametrize(("header", "second", "expected"), [
    ("a,b,c", "1,2,3", ","), ("a;b;c", "1;2,5;3", ";"), ("a\tb", "1\t2", "\t"), ("a|b", "1|2", "|"),
    ("single", "1", ","),
])
def test_detect_delimiter(header, second, expected):
    assert detect_delimiter(header, second) == expected


def test_crlf_quotes_and_embedded_newlines(write):
    path = write("x.csv", 'id,text\r\n1,"hello, world"\r\n2,"two\nlines"\n3,plain\r\n')
    _, rows = _rows(path)
    assert [(r.row, r.cells["text"]) for r in rows] == [(2, "hello, world"), (3, "two\nlines"), (4, "plain")]


def test_wrong_field_count_is_a_row_problem(write):
    _, rows = _rows(write("x.csv", "a,b\n1,2\n1,2,3\n4\n"))
    assert [r.problem[0] if r.problem else None for r in rows] == [None, "field_count", "field_count"]


def test_blank_lines_are_not_rows(write):
    _, rows = _rows(write("x.csv", "a\n1\n\n2\n"))
    assert [r.cells["a"] for r in rows] == ["1", "2"]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", b"", "empty"),
    ("bad.xlsx", b"PK", "unknown file type"),
    ("latin.csv", "name\nJos\u00e9 \u00c9lise\n".encode("latin-1") * 3 + b"\x80\x81\xfe\xff", "encoding"),
])
def test_file_level_problems(write, name, content, message):
    with pytest.raises(InputFileError, match=message):
        open_source(write(name, content))


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        open_source(tmp_path / "nope.csv")


def test_jsonl_columns_come_from_the_first_objects(write):
    source, rows = _rows(write("e.jsonl", '{"a": 1}\n{"a": 2, "b": {"x": true}}\n[1]\n'))
    assert source.columns == ["a", "b"]
    assert rows[1].cells == {"a": "2", "b": {"x": True}}
    assert rows[2].problem[0] == "format"
