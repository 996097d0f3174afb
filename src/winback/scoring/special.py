"""Numerics shared by the buy-till-you-die models: special functions in log space, and evaluation per level.

The likelihoods and predictions multiply gamma and beta functions, powers and Gauss hypergeometric functions whose
individual factors overflow long before their products do; the special-function helpers work with logarithms.
None of them emits floating-point warnings: they compute under `np.errstate` and return `-inf`/`nan` where the
value does not exist, and the callers decide what that means.

The models' expensive terms depend on one column (x, t_x or T) or on a pair of them (x and T), and a column takes
few distinct values (whole days, a few hundred repeat counts) even across ten million customers. `Levels` and
`pair_map` evaluate such terms once per distinct value or pair and read them back per row; `Rows` carries the
columns with their levels, and `collapse` reduces rows to the distinct ones with counts as weights (the sufficient
statistics the likelihood is maximised on). `Columns` holds millions of rows without a code array per column
and hands them to the row-wise code block by block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import hyp2f1

FloatArray: TypeAlias = NDArray[np.float64]
IndexArray: TypeAlias = NDArray[np.intp]


def dot(a: ArrayLike, b: ArrayLike) -> float:
    """Σ aᵢ bᵢ without BLAS: numpy's pairwise sum needs no threads and gives the same bits every run, where the
    threaded BLAS dot product pays a thread hand-off per call (milliseconds on a busy machine)."""
    return float(np.multiply(a, b).sum())


def log_hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """log ₂F₁(a, b; c; z) for 0 ≤ z < 1 where the function is positive (a, b, c > 0 in every use here).

    scipy's `hyp2f1` is accurate there for moderate parameters. Where it overflows or loses its sign (large `a`,
    `b` with `z` near 1 and `c - a - b < 0`), Euler's transformation
    ₂F₁(a, b; c; z) = (1 - z)^(c-a-b) ₂F₁(c-a, c-b; c; z) (Abramowitz & Stegun 15.3.3) gives the same value from a
    series with far smaller terms; its logarithm is taken in two pieces so the power cannot overflow.
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    with np.errstate(all="ignore"):
        out = np.log(hyp2f1(a, b, c, z))
        bad = ~np.isfinite(out)
        if np.any(bad):
            ab, bb, cb, zb = a[bad], b[bad], c[bad], z[bad]
            euler = (cb - ab - bb) * np.log1p(-zb) + np.log(hyp2f1(cb - ab, cb - bb, cb, zb))
            out = np.array(out, copy=True)
            out[bad] = euler
    return out


def log_diff_exp(u: ArrayLike, v: ArrayLike) -> FloatArray:
    """log(exp(u) - exp(v)) for u ≥ v, without leaving log space; -inf where u == v."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    with np.errstate(all="ignore"):
        return u + np.log(-np.expm1(v - u))


def log_add_exp_share(u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(log(eᵘ + eᵛ), eᵛ / (eᵘ + eᵛ)); `v` may be -inf (then the share is 0).

    Built from exp and log1p only, which numpy vectorises: several times faster than `np.logaddexp` with
    `scipy.special.expit` (or a division) on the million-row likelihoods.
    """
    with np.errstate(all="ignore"):
        total = np.maximum(u, v) + np.log1p(np.exp(-np.abs(v - u)))
        return total, np.exp(v - total)


def one_minus_exp(u: ArrayLike) -> FloatArray:
    """1 - exp(u), accurate when u is near 0."""
    with np.errstate(all="ignore"):
        return -np.expm1(np.asarray(u, dtype=np.float64))


# --- evaluation per level ------------------------------------------------------------------------------------------

BLOCK = 1 << 21  # rows per block: 16 MB temporaries stay under malloc's 32 MB mmap threshold, so they are reused


def blocks(n: int, size: int = BLOCK) -> Iterator[slice]:
    """Consecutive slices covering range(n). Row-wise work runs block by block: on ten million rows that is about
    three times faster than whole-array numpy, whose 80 MB temporaries are fresh mmaps page-faulted on every use."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


@dataclass(frozen=True)
class Levels:
    """A column as a table of values and a code per row: `levels.map(f)` is `f(column)` computed once per value."""

    values: FloatArray
    codes: IndexArray

    @classmethod
    def of(cls, column: FloatArray) -> Levels:
        return Encoding.of(column).levels(column, slice(None))

    def map(self, f: Callable[[FloatArray], ArrayLike]) -> FloatArray:
        return np.broadcast_to(np.asarray(f(self.values), dtype=np.float64), self.values.shape)[self.codes]

    def take(self, rows: IndexArray | slice) -> Levels:
        """The same table for a subset (or reordering, or block) of the rows."""
        return Levels(self.values, self.codes[rows])


@dataclass(frozen=True)
class Encoding:
    """How a column maps to a table of values: whole numbers in a modest range by their offset from the smallest
    (no hashing, and no code stored per row), anything else by factorised codes."""

    values: FloatArray
    offset: float | None = None
    codes: IndexArray | None = None

    @classmethod
    def of(cls, column: FloatArray) -> Encoding:
        n = len(column)
        if n == 0:
            return cls(np.empty(0), 0.0)
        lo, hi = float(column.min()), float(column.max())
        if hi - lo <= max(n, 1 << 16) and all(np.array_equal(column[b], np.floor(column[b])) for b in blocks(n)):
            return cls(np.arange(lo, hi + 1.0), offset=lo)
        codes, values = pd.factorize(column)
        return cls(np.asarray(values, dtype=np.float64), codes=codes.astype(np.intp, copy=False))

    def levels(self, column: FloatArray, rows: slice) -> Levels:
        """The levels of `column[rows]`."""
        if self.codes is not None:
            return Levels(self.values, self.codes[rows])
        return Levels(self.values, (column[rows] - self.offset).astype(np.intp))


def pair_map(f: Callable[[FloatArray, FloatArray], ArrayLike], a: Levels, b: Levels) -> FloatArray:
    """`f(a_column, b_column)` computed once per pair of values: on the whole grid when it has no more cells than
    there are rows, otherwise on the pairs that occur."""
    na, nb = len(a.values), len(b.values)
    if na * nb <= len(a.codes):
        grid = np.broadcast_to(np.asarray(f(a.values[:, None], b.values[None, :]), dtype=np.float64), (na, nb))
        return grid.ravel()[a.codes * nb + b.codes]
    codes, pairs = pd.factorize(a.codes.astype(np.int64) * nb + b.codes)
    return np.asarray(f(a.values[pairs // nb], b.values[pairs % nb]), dtype=np.float64)[codes]


@dataclass(frozen=True)
class Rows:
    """Columns of equal length with their levels, and how many customers each row stands for."""

    values: tuple[FloatArray, ...]
    levels: tuple[Levels, ...]
    weights: FloatArray

    @classmethod
    def of(cls, *columns: FloatArray) -> Rows:
        return Columns.of(*columns).block(slice(None))

    def __len__(self) -> int:
        return len(self.weights)

    def split(self, size: int = 1 << 16) -> list[Rows]:
        """The rows in consecutive blocks (views), for sums over many rows with small, reused temporaries."""
        return [Rows(tuple(v[b] for v in self.values), tuple(lv.take(b) for lv in self.levels), self.weights[b])
                for b in blocks(len(self), size)]

    def take(self, rows: IndexArray, weights: FloatArray) -> Rows:
        """A subset of the rows with new weights."""
        return Rows(tuple(v[rows] for v in self.values), tuple(lv.take(rows) for lv in self.levels), weights)

    @cached_property
    def level_weights(self) -> tuple[FloatArray, ...]:
        """Total weight per value of each column: Σᵢ wᵢ f(columnᵢ) = level_weights · f(values)."""
        return tuple(np.bincount(lv.codes, weights=self.weights, minlength=len(lv.values)) for lv in self.levels)


@dataclass(frozen=True)
class Columns:
    """Many rows of a few columns, each encoded once; row-wise work and the collapse go block by block."""

    values: tuple[FloatArray, ...]
    encodings: tuple[Encoding, ...]

    @classmethod
    def of(cls, *columns: FloatArray) -> Columns:
        return cls(columns, tuple(Encoding.of(c) for c in columns))

    def __len__(self) -> int:
        return len(self.values[0])

    def block(self, rows: slice) -> Rows:
        n = len(range(*rows.indices(len(self))))
        return Rows(tuple(v[rows] for v in self.values),
                    tuple(e.levels(v, rows) for e, v in zip(self.encodings, self.values, strict=True)),
                    np.broadcast_to(np.float64(1.0), (n,)))

    def apply(self, compute: Callable[[Rows], FloatArray]) -> FloatArray:
        """`compute` evaluated block by block into one array (see `blocks`)."""
        out = np.empty(len(self))
        for b in blocks(len(self)):
            out[b] = compute(self.block(b))
        return out

    def collapse(self) -> Rows:
        """The distinct rows, each weighted by how many rows it stands for (in order of first appearance).

        Each row's level codes combine into one integer key, built block by block, so a single hash pass finds
        the distinct rows; the distinct keys decode back into level codes.
        """
        sizes = [len(e.values) for e in self.encodings]
        if np.prod(np.array(sizes, dtype=np.float64)) >= 2.0**62:
            return _collapse_by_first_rows(self.block(slice(None)))
        key = np.empty(len(self), dtype=np.int64)
        for b in blocks(len(self)):
            block = self.block(b)
            k = block.levels[0].codes.astype(np.int64)
            for level, size in zip(block.levels[1:], sizes[1:], strict=True):
                k *= size
                k += level.codes
            key[b] = k
        inverse, distinct = pd.factorize(key)
        del key
        weights = np.bincount(inverse, minlength=len(distinct)).astype(np.float64)
        del inverse
        codes = []
        for size in reversed(sizes):
            distinct, code = np.divmod(distinct, size)
            codes.append(code.astype(np.intp))
        levels = tuple(Levels(e.values, c) for e, c in zip(self.encodings, reversed(codes), strict=True))
        return Rows(tuple(level.values[level.codes] for level in levels), levels, weights)


def collapse(rows: Rows) -> Rows:
    """The distinct rows of `rows`, weighted by the total weight they stand for (see `Columns.collapse`)."""
    if np.all(rows.weights == 1.0):
        return Columns(rows.values, tuple(Encoding(lv.values, codes=lv.codes) for lv in rows.levels)).collapse()
    return _collapse_by_first_rows(rows)


def _collapse_by_first_rows(rows: Rows) -> Rows:
    """`collapse` for level counts whose product overflows int64: factorise pair by pair, keep each first row."""
    key = rows.levels[0].codes.astype(np.int64)
    for level in rows.levels[1:]:
        key = pd.factorize(key * len(level.values) + level.codes)[0].astype(np.int64)
    # factorize numbers keys in order of first appearance: the running maximum steps up at each key's first row
    first = np.flatnonzero(np.diff(np.maximum.accumulate(key), prepend=-1))
    weights = np.bincount(key, weights=rows.weights, minlength=len(first))
    return Rows(tuple(v[first] for v in rows.values), tuple(level.take(first) for level in rows.levels), weights)
