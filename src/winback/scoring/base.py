"""What every buy-till-you-die model shares: its data contract, the errors, the maximum-likelihood fit.

A model reads a pandas DataFrame or a pyarrow Table with canonical columns, checks them against its contract, and
never writes into the caller's data. Likelihoods depend on a customer only through a few numbers (x, t_x, T for
the transaction models), so fitting works on the distinct rows weighted by their counts, and predictions evaluate
their special functions once per distinct value (see `special`): ten million customers cost what their distinct
values cost. Parameters are estimated by maximum likelihood on log-parameters and reported in the papers' natural
parameters, with standard errors from the Hessian by the delta method.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Self, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from scipy.optimize import minimize

from winback.domain.errors import UserError
from winback.scoring.special import Columns, FloatArray, Rows, blocks, dot, pair_map

Frame: TypeAlias = pd.DataFrame | pa.Table | pa.RecordBatch
ID_COLUMN = "customer_id"


class ScoringDataError(UserError, ValueError):
    """Data that breaks a model's contract (a missing column, a negative age, a duplicate customer, …)."""


class ModelNotFittedError(UserError, RuntimeError):
    """A prediction asked of a model that has no parameters yet."""


class ConvergenceError(UserError, RuntimeError):
    """The likelihood could not be maximised (usually data that cannot identify the parameters)."""


# --- reading and checking data -------------------------------------------------------------------------------------


class ColumnReader:
    """Numeric columns of a DataFrame or Arrow table as float64 arrays, with messages that say where a problem is."""

    def __init__(self, data: Frame, *, owner: str) -> None:
        if not isinstance(data, pd.DataFrame | pa.Table | pa.RecordBatch):
            raise ScoringDataError(f"{owner}: expected a pandas DataFrame or a pyarrow Table, "
                                   f"got {type(data).__name__}")
        self.data, self.owner = data, owner
        self.names = [str(c) for c in (data.columns if isinstance(data, pd.DataFrame) else data.column_names)]
        self.n_rows = len(data) if isinstance(data, pd.DataFrame) else data.num_rows

    def require(self, columns: Sequence[str]) -> None:
        missing = [c for c in columns if c not in self.names]
        if missing:
            raise ScoringDataError(f"{self.owner} needs columns {', '.join(columns)}; missing: {', '.join(missing)} "
                                   f"(found: {', '.join(self.names) or 'none'})")
        if self.n_rows == 0:
            raise ScoringDataError(f"{self.owner}: the data has no rows")

    def numeric(self, name: str) -> FloatArray:
        """Column `name` as float64; refuses text, missing and infinite values."""
        if isinstance(self.data, pd.DataFrame):
            col = self.data[name]
            if not pd.api.types.is_numeric_dtype(col.dtype):
                raise ScoringDataError(f"{self.owner}: column {name!r} must be numeric, not {col.dtype}")
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            col = self.data.column(name)
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_decimal(col.type)):
                raise ScoringDataError(f"{self.owner}: column {name!r} must be numeric, not {col.type}")
            values = np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise ScoringDataError(f"{self.owner}: column {name!r} has {int(bad.sum())} missing or infinite "
                                   f"values ({self.where(bad)})")
        return values

    def ids(self) -> pd.Series:
        col = self.data[ID_COLUMN] if isinstance(self.data, pd.DataFrame) else self.data.column(ID_COLUMN).to_pandas()
        return pd.Series(col).reset_index(drop=True)

    def check_unique_ids(self) -> None:
        if isinstance(self.data, pd.DataFrame):
            col = self.data[ID_COLUMN]
            ok = _strictly_increasing(col.to_numpy()) or (not col.hasnans and col.is_unique)
        else:
            col = self.data.column(ID_COLUMN)
            numeric = pa.types.is_integer(col.type) or pa.types.is_floating(col.type)
            ok = col.null_count == 0 and ((numeric and _strictly_increasing(col.to_numpy()))
                                          or pc.count_distinct(col).as_py() == self.n_rows)
        if ok:
            return
        ids = self.ids()
        if ids.isna().any():
            raise ScoringDataError(f"{self.owner}: column {ID_COLUMN!r} has {int(ids.isna().sum())} missing values "
                                   f"(first: row {int(np.flatnonzero(ids.isna().to_numpy())[0])})")
        dup = ids[ids.duplicated()]
        raise ScoringDataError(f"{self.owner}: {ID_COLUMN} must be unique, but {dup.nunique()} ids appear more than "
                               f"once (first: {_shown(dup.iloc[0])}); summarise transactions to one row per customer")

    def where(self, mask: NDArray[np.bool_]) -> str:
        """'first: customer_id 17' (or 'first: row 3') for the first True in `mask`."""
        row = int(np.flatnonzero(mask)[0])
        if ID_COLUMN in self.names:
            return f"first: {ID_COLUMN} {_shown(self.ids().iloc[row])}"
        return f"first: row {row}"


def _shown(value: object) -> str:
    """An id as a message shows it: 17, 'C17'."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _strictly_increasing(ids: np.ndarray) -> bool:
    """Sorted numeric ids (what `summary_from_transactions` returns) are unique without hashing."""
    if ids.dtype.kind not in "iuf":
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.all(ids[1:] > ids[:-1]))


def check_whole_nonnegative(reader: ColumnReader, *, name: str, values: FloatArray) -> None:
    """Refuse negative values, and for counts (`frequency`) fractions too."""
    negative = values < 0
    if negative.any():
        raise ScoringDataError(f"{reader.owner}: column {name!r} has {int(negative.sum())} negative values "
                               f"({reader.where(negative)})")
    if name == "frequency" and not all(np.array_equal(values[b], np.floor(values[b])) for b in blocks(len(values))):
        fractional = values != np.floor(values)
        if fractional.any():
            raise ScoringDataError(f"{reader.owner}: frequency counts repeat purchases and must be a whole number "
                                   f"({reader.where(fractional)}, frequency {values[fractional][0]})")


def read_rft(data: Frame, *, owner: str, fitting: bool) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Checked (frequency, recency, T): x ≥ 0 whole, 0 ≤ t_x ≤ T, and t_x = 0 when x = 0; unique ids to fit."""
    reader = ColumnReader(data, owner=owner)
    reader.require((ID_COLUMN, "frequency", "recency", "T") if fitting else ("frequency", "recency", "T"))
    if fitting:
        reader.check_unique_ids()
    x, t_x, T = (reader.numeric(c) for c in ("frequency", "recency", "T"))
    for name, values in (("frequency", x), ("recency", t_x), ("T", T)):
        check_whole_nonnegative(reader, name=name, values=values)
    late = t_x > T
    if late.any():
        raise ScoringDataError(f"{owner}: recency exceeds T for {int(late.sum())} customers ({reader.where(late)}); "
                               f"recency is the age at the last purchase and cannot exceed the age T")
    stray = (x == 0) & (t_x != 0)
    if stray.any():
        raise ScoringDataError(f"{owner}: {int(stray.sum())} customers have frequency 0 but a non-zero recency "
                               f"({reader.where(stray)}); with no repeat purchase recency must be 0")
    return x, t_x, T


# --- maximum likelihood --------------------------------------------------------------------------------------------

RowLogLikelihood: TypeAlias = Callable[[FloatArray], FloatArray]
TotalAndGradient: TypeAlias = Callable[[FloatArray], tuple[float, FloatArray]]


@dataclass(frozen=True)
class Estimate:
    """A maximum-likelihood fit in the natural parameters."""

    params: FloatArray
    standard_errors: FloatArray
    log_likelihood: float


# Largest accepted |gradient| of the mean log-likelihood per customer, in log-parameters, after polishing: a
# change of 1e-4 per unit of log-parameter is far below what the standard errors can resolve, while a stricter
# bound rejected real optima of flat likelihoods (MBG/NBD on generated worlds stopped at 1.1e-5).
GRADIENT_TOLERANCE = 1e-4


def maximise_likelihood(
    log_likelihood: RowLogLikelihood,
    *,
    weights: FloatArray,
    initial: FloatArray,
    value_and_gradient: TotalAndGradient | None = None,
    owner: str,
) -> Estimate:
    """Maximise Σ wᵢ ℓᵢ(θ) over φ = log θ; standard errors from the Hessian, mapped to θ by the delta method.

    `log_likelihood(θ)` gives ℓ per row; `value_and_gradient(θ)` (optional) gives Σ wᵢ ℓᵢ and its gradient in θ,
    computed together; without it the gradient is taken by central differences. L-BFGS-B finds the optimum and
    Newton steps on the finite-difference Hessian polish it, so the estimates do not depend on the optimiser's
    tolerances.
    """
    total = float(weights.sum())
    phi0 = np.log(np.asarray(initial, dtype=np.float64))

    def objective(phi: FloatArray) -> float:
        with np.errstate(all="ignore"):
            value = -dot(weights, log_likelihood(np.exp(phi))) / total
        return value if np.isfinite(value) else np.inf

    def objective_and_grad(phi: FloatArray) -> tuple[float, FloatArray]:
        if value_and_gradient is None:
            return objective(phi), _central_gradient(objective, phi, h=1e-6)
        theta = np.exp(phi)
        with np.errstate(all="ignore"):
            ll, d_ll = value_and_gradient(theta)
            value = -float(ll) / total
            grad = -np.asarray(d_ll, dtype=np.float64) * theta / total  # chain rule: d θ / d φ = θ
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return np.inf, np.zeros_like(phi)
        return value, grad

    def grad(phi: FloatArray) -> FloatArray:
        return objective_and_grad(phi)[1]

    def hessian(phi: FloatArray) -> FloatArray:
        if value_and_gradient is None:
            return _second_differences(objective, phi, h=1e-4)
        h, g0 = 1e-6, grad(phi)  # forward differences of the analytic gradient: error ~1e-6, half the evaluations
        m = np.array([(grad(phi + h * e) - g0) / h for e in np.eye(len(phi))])
        return (m + m.T) / 2

    bounds = [(p - 30, p + 30) for p in phi0]
    result = minimize(objective_and_grad, phi0, jac=True, method="L-BFGS-B", bounds=bounds,
                      options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-7})
    if not np.isfinite(objective(result.x)):
        raise ConvergenceError(f"{owner}: the likelihood is zero at every parameter tried ({result.message})")
    phi, H = _newton_polish(np.asarray(result.x, dtype=np.float64), objective=objective, grad=grad, hessian=hessian)
    g = grad(phi)
    if not np.all(np.abs(g) < GRADIENT_TOLERANCE):
        at_bound = np.isclose(phi, phi0 - 30) | np.isclose(phi, phi0 + 30)
        hint = " (a parameter ran to its bound: the data cannot identify it)" if at_bound.any() else ""
        raise ConvergenceError(f"{owner}: maximum likelihood did not converge{hint}; gradient {g}")
    theta = np.exp(phi)
    try:
        cov_phi = np.linalg.inv(H * total)
        with np.errstate(invalid="ignore"):
            se = theta * np.sqrt(np.diag(cov_phi))  # delta method: d θ / d φ = θ
    except np.linalg.LinAlgError:
        se = np.full_like(theta, np.nan)
    return Estimate(theta, np.where(np.isfinite(se), se, np.nan), -objective(phi) * total)


def _newton_polish(
    phi: FloatArray,
    *,
    objective: Callable[[FloatArray], float],
    grad: Callable[[FloatArray], FloatArray],
    hessian: Callable[[FloatArray], FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """Newton steps with a line search; the Hessian is retaken when the steps move far from where it was taken,
    and at the end for the standard errors if the estimate moved since."""
    H, taken_at, f0 = hessian(phi), phi.copy(), objective(phi)
    for _ in range(20):
        g = grad(phi)
        if np.max(np.abs(g)) < 1e-10:
            break
        try:
            np.linalg.cholesky(H)
            step = np.linalg.solve(H, -g)
        except np.linalg.LinAlgError:
            break
        for scale in 0.5 ** np.arange(8):  # accept a step that does not rise beyond rounding
            f1 = objective(phi + scale * step)
            if f1 <= f0 + 1e-13 * abs(f0):
                break
        else:
            break
        phi, f0 = phi + scale * step, f1
        if np.max(np.abs(scale * step)) < 1e-12:
            break
        if scale < 1 or np.max(np.abs(phi - taken_at)) > 0.05:
            H, taken_at = hessian(phi), phi.copy()
    if np.max(np.abs(phi - taken_at)) > 1e-5:
        H = hessian(phi)
    return phi, H


def _central_gradient(f: Callable[[FloatArray], float], x: FloatArray, *, h: float) -> FloatArray:
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def _second_differences(f: Callable[[FloatArray], float], x: FloatArray, *, h: float) -> FloatArray:
    n, f0 = len(x), f(x)
    H = np.empty((n, n))
    eye = np.eye(n) * h
    for i in range(n):
        H[i, i] = (f(x + eye[i]) - 2 * f0 + f(x - eye[i])) / h**2
        for j in range(i):
            H[i, j] = H[j, i] = (f(x + eye[i] + eye[j]) - f(x + eye[i] - eye[j])
                                 - f(x - eye[i] + eye[j]) + f(x - eye[i] - eye[j])) / (4 * h**2)
    return H


# --- the models ----------------------------------------------------------------------------------------------------


class BaseModel(ABC):
    """A parametric model fitted by maximum likelihood.

    Fitted attributes end in `_`: `params_` (the papers' names → estimates), `standard_errors_` (same keys),
    `log_likelihood_` (at the estimates, in the data's own time unit) and `n_customers_`.
    """

    param_names: ClassVar[tuple[str, ...]]
    required_columns: ClassVar[tuple[str, ...]]

    params_: dict[str, float]
    standard_errors_: dict[str, float]
    log_likelihood_: float
    n_customers_: int

    @classmethod
    def from_params(cls, params: Mapping[str, float]) -> Self:
        """A model with the given parameters (from a paper or an earlier fit), ready to predict.

        `standard_errors_` and `log_likelihood_` are NaN and `n_customers_` is 0: nothing was fitted.
        """
        if set(params) != set(cls.param_names):
            raise ScoringDataError(f"{cls.__name__} takes parameters {', '.join(cls.param_names)}; "
                                   f"got {', '.join(params) or 'none'}")
        bad = [k for k, v in params.items() if not (np.isfinite(v) and v > 0)]
        if bad:
            raise ScoringDataError(f"{cls.__name__}: parameters must be positive and finite: {', '.join(bad)}")
        model = cls()
        model.params_ = {k: float(params[k]) for k in cls.param_names}
        model.standard_errors_ = dict.fromkeys(cls.param_names, float("nan"))
        model.log_likelihood_ = float("nan")
        model.n_customers_ = 0
        return model

    def _store(self, estimate: Estimate, n_customers: int) -> None:
        self.params_ = dict(zip(self.param_names, map(float, estimate.params), strict=True))
        self.standard_errors_ = dict(zip(self.param_names, map(float, estimate.standard_errors), strict=True))
        self.log_likelihood_ = float(estimate.log_likelihood)
        self.n_customers_ = int(n_customers)

    def _params(self) -> tuple[float, ...]:
        if not hasattr(self, "params_"):
            raise ModelNotFittedError(f"{type(self).__name__} has no parameters yet: call fit() or from_params()")
        return tuple(self.params_[k] for k in self.param_names)

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"{type(self).__name__}(unfitted)"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return (f"{type(self).__name__}({shown}; n_customers={self.n_customers_}, "
                f"log_likelihood={self.log_likelihood_:.1f})")


class TransactionModel(BaseModel):
    """A non-contractual model of repeat purchases on (frequency x, recency t_x, age T).

    Data contract: columns `customer_id` (unique), `frequency` (repeat purchase occasions, a whole number ≥ 0),
    `recency` (age at the last purchase, 0 ≤ recency ≤ T, 0 when frequency is 0) and `T` (age at the end of
    observation), all in one time unit; predictions need only the last three. Extra columns are ignored.

    The conditional expectation of each model factorises as P(alive | x, t_x, T) · E[purchases in (T, T+t] | alive,
    x, T]; subclasses give the two factors (`_probability_alive`, `_expected_if_alive`) and the likelihood.
    """

    required_columns = (ID_COLUMN, "frequency", "recency", "T")

    def fit(self, data: Frame) -> Self:
        """Estimate the parameters by maximum likelihood on the distinct (x, t_x, T) rows; returns self."""
        rows = Columns.of(*read_rft(data, owner=f"{type(self).__name__}.fit", fitting=True)).collapse()
        log_likelihood, value_and_gradient = self._likelihood(rows)
        estimate = maximise_likelihood(log_likelihood, weights=rows.weights, initial=self._initial_params(rows),
                                       value_and_gradient=value_and_gradient, owner=type(self).__name__)
        self._store(estimate, int(rows.weights.sum()))
        return self

    def _likelihood(self, rows: Rows) -> tuple[RowLogLikelihood, TotalAndGradient | None]:
        parts = rows.split()  # sums block by block: the temporaries stay small and are reused

        def log_likelihood(theta: FloatArray) -> FloatArray:
            return np.concatenate([self._log_likelihood(theta, part) for part in parts])

        def both(theta: FloatArray) -> tuple[float, FloatArray]:
            totals = [self._log_likelihood_and_gradient(theta, part) for part in parts]
            return sum(t for t, _ in totals), np.sum([g for _, g in totals], axis=0)

        return log_likelihood, (both if self._has_gradient() else None)

    def probability_alive(self, data: Frame) -> FloatArray:
        """P(alive at T | x, t_x, T) for every row of `data`, in row order."""
        params = self._params()
        with np.errstate(all="ignore"):
            return self._rows(data).apply(lambda rows: self._probability_alive(params, rows))

    def expected_purchases(self, data: Frame, t: float) -> FloatArray:
        """E[X(T, T + t) | x, t_x, T]: expected repeat purchases in the next `t` time units, in row order."""
        params = self._params()
        if not (np.isfinite(t) and t >= 0):
            raise ScoringDataError(f"{type(self).__name__}: the horizon t must be ≥ 0, got {t}")

        def compute(rows: Rows) -> FloatArray:
            by_x, _, by_T = rows.levels
            if_alive = pair_map(lambda x, T: self._expected_if_alive(params, float(t), x, T), by_x, by_T)
            return self._probability_alive(params, rows) * if_alive

        with np.errstate(all="ignore"):
            return self._rows(data).apply(compute)

    def expected_purchases_new_customer(self, t: float | Sequence[float] | FloatArray) -> FloatArray:
        """E[X(t)]: expected repeat purchases in the first `t` time units of a customer picked at random."""
        with np.errstate(all="ignore"):
            return self._expected_purchases_new(self._params(), np.asarray(t, dtype=np.float64))

    def discounted_expected_purchases(self, data: Frame, *, horizon: int, period_length: float,
                                      discount_rate: float) -> FloatArray:
        """Σₖ (E[X(T, T+k·L)] − E[X(T, T+(k−1)·L)]) / (1 + d)ᵏ for k = 1 … horizon (see `clv`), in row order."""
        params = self._params()
        discount = (1.0 + discount_rate) ** -np.arange(1, horizon + 1, dtype=np.float64)

        def discounted_if_alive(x: FloatArray, T: FloatArray) -> FloatArray:
            total, before = np.zeros(np.broadcast(x, T).shape), self._expected_if_alive(params, 0.0, x, T)
            for k, d in enumerate(discount, start=1):
                after = self._expected_if_alive(params, k * period_length, x, T)
                total += d * (after - before)
                before = after
            return total

        def compute(rows: Rows) -> FloatArray:
            by_x, _, by_T = rows.levels
            return self._probability_alive(params, rows) * pair_map(discounted_if_alive, by_x, by_T)

        with np.errstate(all="ignore"):
            return self._rows(data).apply(compute)

    def _rows(self, data: Frame) -> Columns:
        return Columns.of(*read_rft(data, owner=type(self).__name__, fitting=False))

    def _has_gradient(self) -> bool:
        return type(self)._log_likelihood_and_gradient is not TransactionModel._log_likelihood_and_gradient

    def _log_likelihood_and_gradient(self, theta: FloatArray, rows: Rows) -> tuple[float, FloatArray]:
        """Σ wᵢ ℓᵢ over the distinct rows and its gradient in θ; models with an analytic gradient override this."""
        raise NotImplementedError

    @abstractmethod
    def _initial_params(self, rows: Rows) -> FloatArray: ...

    @abstractmethod
    def _log_likelihood(self, theta: FloatArray, rows: Rows) -> FloatArray:
        """ℓ per distinct (x, t_x, T) row."""

    @abstractmethod
    def _probability_alive(self, params: Sequence[float], rows: Rows) -> FloatArray:
        """P(alive at T | x, t_x, T) per row."""

    @abstractmethod
    def _expected_if_alive(self, params: Sequence[float], t: float, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[repeat purchases in (T, T+t] | alive at T, x, T], elementwise (it does not depend on t_x)."""

    @abstractmethod
    def _expected_purchases_new(self, params: Sequence[float], t: FloatArray) -> FloatArray: ...
