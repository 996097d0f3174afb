"""Coupon codes: an unambiguous alphabet and a check symbol that catches every typo of one symbol and every swap
of two neighbours."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from winback.domain.errors import UserError
from winback.messaging.coupons import (
    ALPHABET,
    check_symbol,
    display,
    expires_at,
    make_code,
    neutralise,
    normalise,
    valid_code,
)


def test_the_alphabet_has_no_ambiguous_symbols() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 31
    assert not set("ILOU1") & set(ALPHABET)
    assert ALPHABET.upper() == ALPHABET and ALPHABET.isalnum()


def test_codes_are_valid_and_made_of_the_alphabet() -> None:
    rng = random.Random(1)
    for _ in range(500):
        code = make_code(rng)
        assert len(code) == 9 and set(code) <= set(ALPHABET) and valid_code(code)
    assert len({make_code(rng) for _ in range(2000)}) == 2000


def test_every_substitution_and_adjacent_transposition_is_caught() -> None:
    rng = random.Random(7)
    codes = [make_code(rng) for _ in range(300)] + [make_code(rng, prefix="XMAS26") for _ in range(50)]
    for code in codes:
        for i, ch in enumerate(code):
            for other in ALPHABET:
                if other != ch:
                    assert not valid_code(code[:i] + other + code[i + 1:]), (code, i, other)
        for i in range(len(code) - 1):
            if code[i] != code[i + 1]:
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
                assert not valid_code(swapped), (code, i)


def test_normalisation_ignores_case_spaces_and_hyphens() -> None:
    code = make_code(random.Random(3), prefix="wb")
    assert code.startswith("WB")
    assert valid_code(code.lower()) and valid_code(display(code)) and valid_code(" ".join(code))
    assert valid_code(f" {code[:4]}-{code[4:]} ")
    assert normalise("ab-c d") == "ABCD" and normalise("o0") == "00"
    assert not valid_code("") and not valid_code("A") and not valid_code(code + "!")
    assert not valid_code("I" + code[1:])


def test_check_symbol_closes_the_sum() -> None:
    body = "7K3M9QXT"
    assert valid_code(body + check_symbol(body))


def test_prefixes_outside_the_alphabet_are_refused() -> None:
    with pytest.raises(UserError, match="uses"):
        make_code(random.Random(1), prefix="LUCKY")
    with pytest.raises(UserError, match="too long"):
        make_code(random.Random(1), prefix="A" * 25)


def test_formula_cells_are_neutralised() -> None:
    for cell in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("ABC") == "ABC" and neutralise(None) == "" and neutralise(1.5) == "1.5"


def test_expiry_is_sent_at_plus_the_incentive_duration() -> None:
    sent = datetime(2026, 1, 1, tzinfo=UTC)
    assert expires_at(sent, {"expires": timedelta(days=3)}) == sent + timedelta(days=3)
    assert expires_at(sent, {"kind": "percent"}) is None
