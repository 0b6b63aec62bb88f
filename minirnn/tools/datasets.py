"""Data for studying recurrent memory: synthetic tasks, a real series, and the plumbing around them.

Synthetic tasks (every generator takes ``seed``: an int, a ``numpy.random.Generator`` or None):

    sine_waves(n_series, length)             (n_series, length)       sines of random period and phase
    adding_problem(n_samples, T)             x (N, T, 2), y (N, 1)    the sum of two marked values
    copying_memory(n_samples, T)             x, y (N, T + 2 n_copy)   integer tokens: recall after T steps
    mackey_glass(n_samples)                  (n_samples,)             the chaotic delay equation, tau = 17

Plumbing for forecasting a series s (length L, optionally with features: (L, D)):

    make_windows(s, lookback, horizon)       X (N, lookback, D), y (N, horizon[, D]),  N = L - lookback - horizon + 1
    chronological_split(s, test_fraction)    the first part for training, the last for testing (never shuffled)
    Standardizer.fit(train)                  z = (s - mean_train) / std_train, fitted on the training part only

The real series, shipped inside the package with its provenance in the file header:

    load_mauna_loa_co2()                     621 monthly means of atmospheric CO2 (ppm), May 1974 - January 2026

Example:
    >>> import numpy as np
    >>> from minirnn import datasets
    >>> co2 = datasets.load_mauna_loa_co2()
    >>> co2.values.shape, co2.units, co2.period
    ((621,), 'ppm', 12)
    >>> train, test = datasets.chronological_split(co2.values, test_fraction=0.2, overlap=24)
    >>> scaler = datasets.Standardizer.fit(train)
    >>> X, y = datasets.make_windows(scaler.transform(train), lookback=24, horizon=1)
    >>> X.shape, y.shape
    ((473, 24, 1), (473, 1))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

import numpy as np

Array = np.ndarray
SeedLike = int | np.random.Generator | None

#: MSE of always predicting 1 on the adding problem: Var(u1 + u2) = 2 / 12 for u1, u2 ~ U[0, 1].
ADDING_BASELINE_MSE = 1.0 / 6.0

CO2_FILE = "mauna_loa_co2_monthly.txt"


# -- argument checks ----------------------------------------------------------------------------
def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}; got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return int(value)


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number; got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value}")
    return float(value)


def _float_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"dtype must be a floating dtype such as float32 or float64; got {dt.name}")
    return dt


def _numeric_array(name: str, x: Any) -> Array:
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be a real numeric array; got dtype {arr.dtype}")
    return arr


# -- synthetic tasks ----------------------------------------------------------------------------
def sine_waves(n_series: int, length: int, *, period_range: tuple[float, float] = (10.0, 40.0),
               noise: float = 0.0, seed: SeedLike = None, dtype: Any = np.float32) -> Array:
    """Sines of random period (uniform in ``period_range``, in steps), phase and amplitude in [0.5, 1].

    Shapes: returns (n_series, length).

        s_n(t) = A_n sin(2 pi t / P_n + phi_n) + noise * e_t,      e_t ~ N(0, 1)

    Example:
        >>> s = sine_waves(3, 100, seed=0)
        >>> s.shape, s.dtype, bool(np.abs(s).max() <= 1.0)
        ((3, 100), dtype('float32'), True)
    """
    n_series, length = _positive_int("n_series", n_series), _positive_int("length", length)
    lo, hi = (_positive_float("period_range[0]", period_range[0]), _positive_float("period_range[1]", period_range[1]))
    if lo > hi:
        raise ValueError(f"period_range must be (low, high) with low <= high; got {period_range}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0; got {noise!r}")
    dtype = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    period = rng.uniform(lo, hi, (n_series, 1))
    phase = rng.uniform(0, 2 * np.pi, (n_series, 1))
    amplitude = rng.uniform(0.5, 1.0, (n_series, 1))
    t = np.arange(length)
    s = amplitude * np.sin(2 * np.pi * t / period + phase)
    if noise:
        s = s + noise * rng.standard_normal(s.shape)
    return s.astype(dtype)


def adding_problem(n_samples: int, T: int, *, seed: SeedLike = None, dtype: Any = np.float32) -> tuple[Array, Array]:
    """The adding problem, modern variant (Arjovsky, Shah & Bengio 2016).

    Shapes: x (N, T, 2), y (N, 1). Channel 0 holds values u_t ~ U[0, 1]; channel 1 is zero except two
    markers equal to 1, one at a step chosen uniformly in the first half [0, T // 2) and one in the
    second half [T // 2, T). The target is

        y = u_{t1} + u_{t2}

    so the network must hold the first marked value for up to T steps. Predicting the constant 1 gives
    MSE 1/6 (``ADDING_BASELINE_MSE``); only a network that remembers does better.

    Example:
        >>> x, y = adding_problem(4, 10, seed=0)
        >>> x.shape, y.shape, x[:, :, 1].sum(axis=1).tolist()
        ((4, 10, 2), (4, 1), [2.0, 2.0, 2.0, 2.0])
        >>> bool(np.allclose(y[:, 0], (x[:, :, 0] * x[:, :, 1]).sum(axis=1)))
        True
    """
    n_samples, T = _positive_int("n_samples", n_samples), _positive_int("T", T, minimum=2)
    dtype = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    half = T // 2
    x = np.zeros((n_samples, T, 2), dtype)
    x[:, :, 0] = rng.uniform(0.0, 1.0, (n_samples, T))
    rows = np.arange(n_samples)
    first = rng.integers(0, half, n_samples)
    second = rng.integers(half, T, n_samples)
    x[rows, first, 1] = 1
    x[rows, second, 1] = 1
    y = (x[rows, first, 0] + x[rows, second, 0])[:, None]
    return x, y.astype(dtype)


def copying_memory(n_samples: int, T: int, *, n_symbols: int = 8, n_copy: int = 10,
                   seed: SeedLike = None) -> tuple[Array, Array]:
    """The copying memory task: read ``n_copy`` symbols, wait T steps, then write them back.

    Shapes: x and y are integer tokens of shape (N, T + 2 n_copy) (take ``one_hot(x, n_symbols + 2)``
    as network input). Tokens: 0 is blank, 1..n_symbols are the symbols, n_symbols + 1 is "go".

        x = s_1 .. s_n   0 (T - 1 times)   go   0 (n times)
        y = 0 (T + n times)                      s_1 .. s_n

    Predicting blanks and then uniformly random symbols gives the cross-entropy per step
    ``copying_baseline(T)`` = n log(n_symbols) / (T + 2 n).

    Example:
        >>> x, y = copying_memory(2, 5, n_symbols=3, n_copy=2, seed=0)
        >>> x.shape, int(x[0, 2 + 5 - 1]), bool((y[:, -2:] == x[:, :2]).all()), int(y[:, :-2].max())
        ((2, 9), 4, True, 0)
    """
    n_samples, T = _positive_int("n_samples", n_samples), _positive_int("T", T)
    n_symbols, n_copy = _positive_int("n_symbols", n_symbols), _positive_int("n_copy", n_copy)
    rng = np.random.default_rng(seed)
    length = T + 2 * n_copy
    symbols = rng.integers(1, n_symbols + 1, (n_samples, n_copy))
    x = np.zeros((n_samples, length), np.int64)
    y = np.zeros((n_samples, length), np.int64)
    x[:, :n_copy] = symbols
    x[:, n_copy + T - 1] = n_symbols + 1
    y[:, -n_copy:] = symbols
    return x, y


def copying_baseline(T: int, n_symbols: int = 8, n_copy: int = 10) -> float:
    """Cross-entropy per step (nats) of a model that only knows the task's layout: n log(K) / (T + 2 n)."""
    T, n_symbols, n_copy = _positive_int("T", T), _positive_int("n_symbols", n_symbols), _positive_int("n_copy", n_copy)
    return n_copy * math.log(n_symbols) / (T + 2 * n_copy)


def one_hot(tokens: Any, n_classes: int, dtype: Any = np.float32) -> Array:
    """Integer tokens of any shape (...) to one-hot vectors (..., n_classes).

    Example:
        >>> one_hot([0, 2], 3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    n_classes = _positive_int("n_classes", n_classes)
    tok = np.asarray(tokens)
    if not np.issubdtype(tok.dtype, np.integer):
        raise TypeError(f"tokens must be integers; got dtype {tok.dtype}")
    if tok.size and (tok.min() < 0 or tok.max() >= n_classes):
        raise ValueError(f"tokens must lie in [0, {n_classes}); got values in [{tok.min()}, {tok.max()}]")
    return np.eye(n_classes, dtype=_float_dtype(dtype))[tok]


def mackey_glass(n_samples: int, *, tau: float = 17.0, beta: float = 0.2, gamma: float = 0.1, n: float = 10.0,
                 x0: float = 1.2, dt: float = 0.1, sample_every: float = 1.0, discard: float = 500.0,
                 dtype: Any = np.float64) -> Array:
    """The Mackey-Glass delay differential equation, integrated with fourth-order Runge-Kutta.

    Shapes: returns (n_samples,), the solution at t = discard, discard + sample_every, ...

        dx/dt = beta x(t - tau) / (1 + x(t - tau)^n) - gamma x(t),      x(t) = x0 for t <= 0

    tau = 17 is the standard chaotic setting. The step ``dt`` must divide ``tau`` and ``sample_every``,
    so that delayed values at whole steps lie on the grid; at the half steps RK4 needs, they come from
    cubic Hermite interpolation between grid points with the stored derivatives, which is fourth-order
    accurate like RK4 itself (halving dt divides the error by about 16). The solution's kinks (at
    multiples of tau) fall on grid points, so they do not spoil the order.

    Example:
        >>> s = mackey_glass(300)
        >>> s.shape, bool(0.2 < s.min() and s.max() < 1.5)
        ((300,), True)
    """
    n_samples = _positive_int("n_samples", n_samples)
    tau, dt = _positive_float("tau", tau), _positive_float("dt", dt)
    sample_every = _positive_float("sample_every", sample_every)
    beta, gamma, n = _positive_float("beta", beta), _positive_float("gamma", gamma), _positive_float("n", n)
    x0 = _positive_float("x0", x0)
    if isinstance(discard, bool) or not isinstance(discard, (int, float)) or not math.isfinite(discard) or discard < 0:
        raise ValueError(f"discard must be a finite number >= 0; got {discard!r}")
    dtype = _float_dtype(dtype)

    def whole_steps(name: str, value: float) -> int:
        k = round(value / dt)
        if k < 1 or abs(k * dt - value) > 1e-9 * max(1.0, value):
            raise ValueError(f"dt must divide {name}: {name} / dt must be a whole number; got {name}={value}, dt={dt}")
        return k

    m = whole_steps("tau", tau)
    every = whole_steps("sample_every", sample_every)
    skip = round(discard / dt)
    n_steps = skip + (n_samples - 1) * every

    def rhs(x: float, x_delayed: float) -> float:
        return beta * x_delayed / (1.0 + x_delayed ** n) - gamma * x

    # Plain Python floats: the loop is scalar, and NumPy scalars would be several times slower.
    xs = [x0] * (n_steps + 1)
    fs = [0.0] * (n_steps + 1)   # dx/dt at each grid point (right derivative), for the interpolation
    fs[0] = rhs(x0, x0)
    for k in range(n_steps):
        if k < m:  # the delayed argument is still in the constant history
            d0 = d_half = d1 = x0
        else:
            j = k - m
            d0, d1 = xs[j], xs[j + 1]
            d_half = 0.5 * (d0 + d1) + 0.125 * dt * (fs[j] - fs[j + 1])  # cubic Hermite at the midpoint
        x = xs[k]
        k1 = rhs(x, d0)
        k2 = rhs(x + 0.5 * dt * k1, d_half)
        k3 = rhs(x + 0.5 * dt * k2, d_half)
        k4 = rhs(x + dt * k3, d1)
        xs[k + 1] = x + dt * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
        fs[k + 1] = rhs(xs[k + 1], xs[k + 1 - m] if k + 1 >= m else x0)
    return np.asarray(xs[skip::every][:n_samples], dtype=dtype)


# -- windows, splits and scaling ----------------------------------------------------------------
def make_windows(series: Any, lookback: int, horizon: int = 1) -> tuple[Array, Array]:
    """Sliding windows over a series for supervised forecasting.

    Shapes: series (L,) or (L, D); returns X (N, lookback, D) with D = 1 for a 1-D series, and
    y (N, horizon) for a 1-D series or (N, horizon, D), where N = L - lookback - horizon + 1 and

        X[n] = s[n : n + lookback],        y[n] = s[n + lookback : n + lookback + horizon]

    so y[n, 0] is the value right after window n, and y[n, horizon - 1] the one ``horizon`` steps on.
    The windows are copies in the series' dtype (float series) or float32 (integer series).

    Example:
        >>> X, y = make_windows(np.arange(6.0), lookback=3, horizon=2)
        >>> X[:, :, 0].tolist(), y.tolist()
        ([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]], [[3.0, 4.0], [4.0, 5.0]])
    """
    s = _numeric_array("series", series)
    if s.ndim not in (1, 2):
        raise ValueError(f"series must have shape (length,) or (length, features); got shape {s.shape}")
    lookback, horizon = _positive_int("lookback", lookback), _positive_int("horizon", horizon)
    L = s.shape[0]
    N = L - lookback - horizon + 1
    if N < 1:
        raise ValueError(f"series of length {L} is too short for lookback={lookback} and horizon={horizon}: "
                         f"it needs at least lookback + horizon = {lookback + horizon} values")
    if not np.issubdtype(s.dtype, np.floating):
        s = s.astype(np.float32)
    s2 = s[:, None] if s.ndim == 1 else s
    windows = np.lib.stride_tricks.sliding_window_view(s2, lookback + horizon, axis=0)  # (N, D, lb + h)
    windows = np.moveaxis(windows, -1, 1)                                               # (N, lb + h, D)
    X = np.ascontiguousarray(windows[:, :lookback])
    y = np.ascontiguousarray(windows[:, lookback:])
    return X, (y[:, :, 0] if s.ndim == 1 else y)


def chronological_split(series: Any, test_fraction: float = 0.2, overlap: int = 0) -> tuple[Array, Array]:
    """Split along the first axis (time) into a training part followed by a test part, never shuffled.

    Shapes: series (L, ...); returns train (L - n_test, ...) and test (n_test + overlap, ...) with
    n_test = round(test_fraction * L). ``overlap`` extends the test part backwards by that many values,
    so that ``make_windows(test, lookback=overlap)`` has a target for every test value: the windows see
    the past (which is allowed) and the targets are only test values.

    Example:
        >>> train, test = chronological_split(np.arange(10), test_fraction=0.3, overlap=2)
        >>> train.tolist(), test.tolist()
        ([0, 1, 2, 3, 4, 5, 6], [5, 6, 7, 8, 9])
    """
    s = _numeric_array("series", series)
    if s.ndim < 1:
        raise ValueError("series must have at least one axis (time)")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) \
            or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number in (0, 1); got {test_fraction!r}")
    overlap = _positive_int("overlap", overlap, minimum=0)
    L = s.shape[0]
    n_test = int(round(test_fraction * L))
    if n_test < 1 or n_test >= L:
        raise ValueError(f"test_fraction={test_fraction} of {L} values leaves no training or no test values")
    split = L - n_test
    if overlap > split:
        raise ValueError(f"overlap must be at most the training length {split}; got {overlap}")
    return s[:split], s[split - overlap:]


@dataclass(frozen=True)
class Standardizer:
    """Affine scaling fitted on the training part only: z = (x - mean) / scale, per feature (last axis).

    ``scale`` is the training standard deviation, or 1 where that is 0 (a constant feature is only
    shifted). Fitting on the training part alone keeps the test part unseen, as it must be.

    Example:
        >>> sc = Standardizer.fit(np.array([1.0, 3.0]))            # mean 2, std 1
        >>> sc.transform(np.array([2.0, 5.0])).tolist(), sc.inverse_transform(np.array([3.0])).tolist()
        ([0.0, 3.0], [5.0])
    """

    mean: Array
    scale: Array

    @classmethod
    def fit(cls, train: Any) -> Standardizer:
        x = _numeric_array("train", train)
        if x.size == 0:
            raise ValueError("train must not be empty")
        if not np.isfinite(x).all():
            raise ValueError("train must contain only finite values (no NaN or Inf)")
        x = x.astype(np.float64).reshape(-1, x.shape[-1]) if x.ndim > 1 else x.astype(np.float64).reshape(-1)
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        return cls(mean, np.where(std > 0, std, 1.0))

    def transform(self, x: Any) -> Array:
        arr = _numeric_array("x", x)
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
        return ((arr - self.mean) / self.scale).astype(dtype)

    def inverse_transform(self, z: Any) -> Array:
        arr = _numeric_array("z", z)
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
        return (arr * self.scale + self.mean).astype(dtype)


# -- the shipped real series --------------------------------------------------------------------
class RealSeries(NamedTuple):
    """A real time series with its provenance.

    values (L,) in ``units``; year, month (L,) integers; interpolated (L,) bool (filled in by the
    source); ``period`` the seasonal period in steps; ``provenance`` the file's header text.
    """

    name: str
    values: Array
    year: Array
    month: Array
    interpolated: Array
    units: str
    period: int
    provenance: str

    @property
    def decimal_year(self) -> Array:
        """Mid-month time in years, e.g. 1974.375 for May 1974 (for plotting)."""
        return self.year + (self.month - 0.5) / 12.0


def load_mauna_loa_co2(dtype: Any = np.float64) -> RealSeries:
    """Monthly mean atmospheric CO2 at Mauna Loa (NOAA GML), May 1974 - January 2026, in ppm.

    Shapes: ``values`` (621,). Read offline from ``minirnn/data/mauna_loa_co2_monthly.txt``, whose
    header states the source, the public-domain status and the units. The series has a rising trend
    (about +2 ppm a year lately) and a yearly cycle of about 6 ppm peak to peak (``period`` = 12).

    Example:
        >>> co2 = load_mauna_loa_co2()
        >>> (int(co2.year[0]), int(co2.month[0])), round(float(co2.values[0]), 2), "public domain" in co2.provenance
        ((1974, 5), 333.19, True)
    """
    dtype = _float_dtype(dtype)
    text = resources.files("minirnn").joinpath("data", CO2_FILE).read_text(encoding="utf-8")
    header = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                       for line in text.splitlines() if line.startswith("#"))
    rows = np.array([line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")],
                    dtype=np.float64)
    return RealSeries(name="Mauna Loa monthly mean CO2 (NOAA GML)", values=rows[:, 2].astype(dtype),
                      year=rows[:, 0].astype(np.int64), month=rows[:, 1].astype(np.int64),
                      interpolated=rows[:, 3].astype(bool), units="ppm", period=12, provenance=header)
