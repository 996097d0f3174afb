"""Log-space special functions, evaluation per level, and the collapse to sufficient statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, gammaln

from winback.scoring.special import (
    Columns,
    Levels,
    Rows,
    blocks,
    collapse,
    log_add_exp_share,
    log_diff_exp,
    log_hyp2f1,
    pair_map,
)


def _log_hyp2f1_by_series(a: float, b: float, c: float, z: float, terms: int = 20_000) -> float:
    """log Σ_j (a)_j (b)_j / ((c)_j j!) z^j, summed in log space (all terms positive for a, b, c > 0)."""
    j = np.arange(terms)
    log_terms = (gammaln(a + j) - gammaln(a) + gammaln(b + j) - gammaln(b) - gammaln(c + j) + gammaln(c)
                 - gammaln(j + 1) + j * np.log(z))
    top = log_terms.max()
    return float(top + np.log(np.exp(log_terms - top).sum()))


@pytest.mark.parametrize(("a", "b", "c", "z"), [
    (0.243, 2.426, 2.219, 0.3),  # BG/NBD unconditional, CDNOW
    (29.24, 31.43, 31.2, 0.56),  # a heavy buyer, long horizon
    (1.8, 2.6, 2.8, 0.05),
    (300.0, 320.0, 310.0, 0.9),  # scipy overflows; Euler's transformation takes over
])
def test_log_hyp2f1_agrees_with_the_series(a, b, c, z):
    assert log_hyp2f1(a, b, c, z)[()] == pytest.approx(_log_hyp2f1_by_series(a, b, c, z), rel=1e-9)


def test_log_helpers_are_exact_at_the_edges():
    assert log_diff_exp(2.0, 2.0)[()] == -np.inf
    assert log_diff_exp(np.log(5.0), np.log(3.0))[()] == pytest.approx(np.log(2.0))
    u = np.array([-800.0, 0.0, 3.0, 700.0, 1.0])
    v = np.array([-801.0, -np.inf, 3.0, 600.0, 5.0])
    total, share = log_add_exp_share(u, v)
    np.testing.assert_allclose(total, np.logaddexp(u, v), rtol=1e-15)
    np.testing.assert_allclose(share, expit(v - u), rtol=1e-12, atol=1e-300)  # exp of a difference: ~|u|·ε


def test_levels_index_whole_numbers_directly_and_factorise_the_rest():
    whole = np.array([3.0, 5.0, 3.0, 4.0])
    levels = Levels.of(whole)
    np.testing.assert_array_equal(levels.values, [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(levels.values[levels.codes], whole)
    weeks = np.array([30.43, 1.71, 30.43, 0.0])
    levels = Levels.of(weeks)
    np.testing.assert_array_equal(levels.values[levels.codes], weeks)
    np.testing.assert_array_equal(levels.map(np.sqrt), np.sqrt(weeks))


def test_pair_map_on_the_grid_and_on_the_pairs_present():
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 4, 50).astype(float), rng.integers(0, 5, 50).astype(float)
    dense = pair_map(lambda x, y: x * 10 + y, Levels.of(a), Levels.of(b))  # 4·5 cells ≤ 50 rows: grid
    np.testing.assert_array_equal(dense, a * 10 + b)
    a2, b2 = rng.random(50), rng.random(50)  # 50·50 cells > 50 rows: the pairs that occur
    np.testing.assert_allclose(pair_map(lambda x, y: x * 10 + y, Levels.of(a2), Levels.of(b2)), a2 * 10 + b2)


def test_collapse_finds_the_distinct_rows_and_their_counts():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, 5000).astype(float)
    t = np.where(x > 0, rng.integers(0, 30, 5000), 0).astype(float)
    T = rng.choice([38.86, 38.71, 38.0], 5000)
    rows = collapse(Rows.of(x, t, T))
    expected, counts = np.unique(np.column_stack([x, t, T]), axis=0, return_counts=True)
    got = np.column_stack(rows.values)
    order = np.lexsort(got.T[::-1])
    np.testing.assert_array_equal(got[order], expected)
    np.testing.assert_array_equal(rows.weights[order], counts)
    for values, level in zip(rows.values, rows.levels, strict=True):
        np.testing.assert_array_equal(level.values[level.codes], values)
    assert rows.level_weights[0].sum() == 5000


def test_row_wise_work_runs_in_blocks_that_cover_every_row():
    assert [(b.start, b.stop) for b in blocks(5, size=2)] == [(0, 2), (2, 4), (4, 5)]
    columns = Columns.of(np.arange(10.0), np.full(10, 0.5))
    np.testing.assert_array_equal(columns.apply(lambda block: block.values[0] * 2), np.arange(10.0) * 2)


def test_weighted_rows_collapse_by_summing_weights():
    rows = Rows(values=(np.array([1.0, 2.0, 1.0]),), levels=(Levels.of(np.array([1.0, 2.0, 1.0])),),
                weights=np.array([2.0, 1.0, 3.0]))
    collapsed = collapse(rows)
    np.testing.assert_array_equal(collapsed.values[0], [1.0, 2.0])
    np.testing.assert_array_equal(collapsed.weights, [5.0, 1.0])
