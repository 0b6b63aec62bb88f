"""Gradient checking: finite differences and the Taylor-remainder test, for kernels, layers, cells and models.

Every check compares an analytic gradient g = dJ/dw (from a hand-written backward pass) with two
independent opinions, in float64, and reports one row per array (``ArrayCheck``) plus a list of what it
did not check and why (``GradCheckReport.unchecked``): a report with a declared array that has no row
never passes.

The error model (what a finite difference of J can and cannot resolve). For one entry w_k (or, in the
fast mode, one unit direction v), with phi(s) = J(w + s e_k) computed in floating point:

    D(h) = (phi(h) - phi(-h)) / (2 h) = g_k + a h^2 + b h^4 + rho / h        central difference
    R(h) = (4 D(h) - D(2 h)) / 3     = g_k - 4 b h^4 + 1.5 rho' / h         Richardson extrapolation

a h^2 is the truncation error of plain central differences: on curved cells (a layer-normalised LSTM) it
reaches 1e-6 of the gradient at h = 1e-5, the size of a real mistake, so the check compares g with the
extrapolated R, whose truncation is O(h^4) (1e-12 there). rho is the rounding error of J: its size sigma
is *measured*, not assumed: J is evaluated at M = 6 points that move every array by a few units in the
last place (far below any step), its linear change <g, delta> removed, and sigma is the largest
deviation left (``estimate_noise``). An entry passes when

    |g_k - R_k| <= tol * S + 4 * 1.5 sigma / h        S = max_k (|g_k| + |R_k|) over the array, tol 1e-7

(the relative error of CS231n, max|g - R| / S <= tol, plus what rounding can hide). An entry that does
not pass at the base step h (1e-5 times max(1, rms of the array)) is probed further before it is
called a FAIL, each probe an honest reason a correct gradient can disagree:

1. curvature: D(4 h) gives a second extrapolation R' and the estimate |R - R'| / 15 of R's own
   truncation; allowed (x 3) only while it stays below 2.5e-7 S, so it can never excuse an error the
   check must see;
2. a smaller step (h / 8, then h / 64): truncation falls as h^4, rounding grows as 1 / h;
3. a kink (relu, hard_sigmoid, IndRNN): when the one-sided differences at that step disagree with each
   other, a pre-activation lies within the step; the side that crosses no kink gives the derivative, and
   g_k must match one side. When neither side matches and the sides disagree, the entry is listed as
   *not judged* (and the report does not pass: an unchecked entry is not a PASS); when they agree (J is
   smooth there) and g_k matches neither, it is a FAIL.

Why not ``scipy.differentiate.derivative`` (measured on a directional derivative of the layer-normalised LSTM,
seed 95): 11 to 27 evaluations of J for relative errors 6e-13 to 3e-9 (default initial step 0.5: steps that
large cross relu kinks), against 4 evaluations and 7e-11 for the extrapolation above (plain central
differences: 1.1e-8). The accuracy the check needs is 1e-9; the cost decides.

Sensitivity: an additive error of 1e-6 max|g| in any single entry is an error of 5e-7 S, five times the
tolerance, above every allowance above unless rounding itself (sigma / h) is that large: the row's
``resolution`` says what it could see. Tests: tests/test_gradcheck_coverage.py.

Taylor remainder (second opinion, needs no step or tolerance):

    r(s) = |J(w + s d) - J(w) - s <g, d>|              d a random direction, s = 1e-2 .. 7.8e-5

A correct g leaves r(s) = O(s^2): on a log-log plot r against s has slope 2 (3 where the second
derivative along d vanishes); a wrong g leaves a first-order term s |<g_true - g, d>| and the slope drops
to 1. The fit uses the four smallest steps whose remainder is above the measured noise floor
(``TAYLOR_NOISE`` sigma, from the data, not a constant fraction of |J|); r at that floor at the smallest
step means J is linear along d and g predicts it exactly (a linear Dense layer, a relu region): a pass.
Threshold: slope >= 1.5, midway between the two hypotheses.

Fast mode (``fast=True``, like ``torch.autograd.gradcheck(fast_mode=True)``): instead of every entry,
``directions`` (2) seeded random unit directions v per array, entries of v of random sign and magnitude in
[0.5, 1.5] before normalising (so no entry is left out of a direction), and the analytic <g, v> compared
with R along v, with S = ||g|| + max|R| and ``DEFAULT_FAST_TOLERANCE`` (1e-8: an error e in one of n entries
moves <g, v> by at least e / (2 sqrt n)). The Taylor test runs on its five smallest steps there. A whole
model costs about 20 forward passes per array.

What is checked (every entry point returns a ``GradCheckReport``):

* ``check_gradients(loss, wrt, analytic)``: the engine; ``loss()`` reads the arrays in ``wrt``;
* ``check_kernel(forward, backward, inputs)``: a pure forward/backward pair, through the random
  projection J = sum_k <r_k, y_k> of its outputs y_k (random r_k, so no error can cancel);
* ``check_cell(cell)``: a recurrent cell, built-in or your own, run by the one time-loop driver
  (``minirnn.cells.driver``); rows for x, every initial state and every parameter the cell declares;
* ``check_layer(layer, x)``: a layer (float64 copy), its input, initial states and every parameter;
* ``check_model(model, x, y)``: a compiled ``Sequential`` (float64 copy), its loss with respect to the
  input and every weight.

Writing your own cell: the protocol is ``minirnn.cells.base`` (its docstring has a worked example). A cell
declares its parameters and states and writes one step forward and one step backward; any cell gets a
layer (``minirnn.layers.RNN(cell)``) and is checked by ``check_cell(MyCell(units))`` or from the shell by
``python -m minirnn gradcheck --cell my_module:MyCell`` (or ``path/to/file.py:MyCell``).
``examples/cells/`` holds cells from papers written that way.

Example:
    >>> import numpy as np
    >>> from minirnn.checking.gradcheck import check_cell, numerical_gradient, relative_error
    >>> w = np.array([1.0, 2.0])
    >>> n = numerical_gradient(lambda: float((w ** 3).sum()), w)
    >>> relative_error(3 * w ** 2, n) < 1e-9
    True
    >>> from minirnn.cells import LSTMCell
    >>> report = check_cell(LSTMCell(2), batch=2, steps=3, features=2)
    >>> report.passed, [c.name for c in report.checks], report.unchecked
    (True, ['x', 'initial h', 'initial c', 'kernel', 'recurrent_kernel', 'bias'], {})
    >>> 1.8 < report.checks[3].taylor.slope < 3.2
    True
    >>> check_cell(LSTMCell(2), fast=True).passed
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cells import Cell, driver

Array = np.ndarray

DEFAULT_TOLERANCE = 1e-7
DEFAULT_FAST_TOLERANCE = 1e-8
DEFAULT_H = 1e-5
DEFAULT_MIN_SLOPE = 1.5
DEFAULT_DIRECTIONS = 2
# The noise allowance is NOISE_FACTOR times the worst-case rounding of the difference formula
# (its coefficients' sum times sigma / h); sigma is already the largest of NOISE_SAMPLES deviations.
NOISE_FACTOR = 4.0
NOISE_SAMPLES = 6
NOISE_ULPS = 4
# The truncation allowance (3 x R's estimated error) may never exceed this fraction of S: half of the
# 5e-7 S that an additive error of 1e-6 max|g| makes, so no allowance can hide it.
TRUNCATION_CAP = 2.5e-7
TRUNCATION_FACTOR = 3.0
SHRINK = (8, 64)
# Kept for callers of the old constant: the noise allowance used to be FD_NOISE eps max(1, |J|) / h.
FD_NOISE = 100.0
# Taylor steps s = 1e-2 * 2^-k, k = 0..7 (down to 7.8e-5): small enough for the O(s^2) regime,
# large enough that C s^2 stays far above float64 rounding of J.
TAYLOR_STEPS = tuple(1e-2 * 2.0 ** -k for k in range(8))
# A remainder below TAYLOR_NOISE sigma (sigma: measured rounding of J) is noise, not signal: at that
# level the noise moves log r by at most 1/TAYLOR_NOISE, the fitted slope by about 0.01.
TAYLOR_NOISE = 100.0
TAYLOR_ROUNDING = 1e-12  # the old constant floor (a fraction of max(1, |J|)), no longer used by the test
TAYLOR_FIT_POINTS = 4
# The odd part of the remainder grows as s^3 for a right gradient, as s for a wrong one.
ODD_MIN_SLOPE = 2.0


# -- the two basic tools -----------------------------------------------------------------------------

def numerical_gradient(f: Callable[[], float], x: Array, h: float = DEFAULT_H) -> Array:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``, perturbed in place.

    Shapes: the result has ``x.shape`` (float64). ``f`` takes no arguments and must read ``x`` (it is
    restored after every probe). This is the plain formula (truncation error O(h^2)); the checks use
    the extrapolated one (module docstring).
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a floating numpy array; got {type(x).__name__} "
                        f"{getattr(x, 'dtype', '')}".rstrip())
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.flat, grad.reshape(-1)  # x.flat writes through whatever x's memory layout
    for k in range(x.size):
        old = flat[k]
        flat[k] = old + h
        f_plus = f()
        flat[k] = old - h
        f_minus = f()
        flat[k] = old
        gflat[k] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    """``max|a - n| / max(1e-8, max(|a| + |n|))``."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if a.shape != n.shape:
        raise ValueError(f"analytic and numeric gradients differ in shape: {a.shape} vs {n.shape}")
    return float(np.max(np.abs(a - n)) / max(1e-8, float(np.max(np.abs(a) + np.abs(n)))))


def estimate_noise(f: Callable[[], float], arrays: Mapping[str, Array], grads: Mapping[str, Array] | None = None,
                   rng: np.random.Generator | int | None = 0, samples: int = NOISE_SAMPLES) -> float:
    """The rounding noise sigma of J = ``f()``, measured: the largest |J(w + delta) - J(w) - <g, delta>| over
    ``samples`` perturbations delta that move every entry of every array by a random whole number of units
    in its last place (up to ``NOISE_ULPS``), far below any finite-difference step. ``grads`` (same names)
    removes the linear change (without it, the change itself counts as noise: an upper bound). Never less
    than eps |J|. The arrays are restored.

    Example:
        >>> import numpy as np
        >>> w = np.linspace(-1, 1, 50)
        >>> sigma = estimate_noise(lambda: float(np.sum(np.sin(w))), {"w": w}, {"w": np.cos(w)})
        >>> 1e-17 < sigma < 1e-13
        True
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    saved = {n: w.copy() for n, w in arrays.items()}
    j0 = float(f())
    devs = []
    try:
        for _ in range(samples):
            linear = 0.0
            for n, w in arrays.items():
                delta = rng.integers(-NOISE_ULPS, NOISE_ULPS + 1, size=w.shape) * np.spacing(saved[n])
                w[...] = saved[n] + delta
                if grads is not None and n in grads:
                    linear += float(np.sum(np.asarray(grads[n], np.float64) * (w - saved[n])))
            devs.append(abs(float(f()) - j0 - linear))
    finally:
        for n, w in arrays.items():
            w[...] = saved[n]
    sigma = max(devs, default=0.0)
    return float(max(sigma, np.finfo(np.float64).eps * abs(j0), np.finfo(np.float64).tiny))


# -- the Taylor-remainder test -----------------------------------------------------------------------

@dataclass(frozen=True)
class TaylorResult:
    """Remainders r(s) = |J(w + s d) - J(w) - s <g, d>| for decreasing steps s, and their log-log slope.

    ``slope`` is fitted over the (up to four) smallest steps whose remainder is above the noise floor
    (``floor`` = ``TAYLOR_NOISE`` x the measured noise of J, or of the rounding of the largest J a probe
    saw); it is NaN when fewer than two are. ``exact``
    means r is at the floor at the smallest step: J is linear along d there and g predicts it exactly.
    ``smooth`` is False when J is visibly not smooth along d at the test's steps (a relu kink crossed):
    the even part (e(s) + e(-s)) / 2 of the signed remainders, which is a s^2 for a smooth J whatever g
    is, does not grow 4x (3x to 20x) per doubling of s. A slope below ``min_slope`` then says nothing
    about g (a kink at distance delta adds jump (s - delta) to r, first order in s): the test is not
    judged (``passed`` is True, ``describe()`` says "kink") and the finite differences decide alone.
    ``odd_slope`` is the slope of the odd part (e(s) - e(-s)) / 2: b s^3 for a right g, (g_true - g).d s for a
    wrong one, and free of the even a s^2 term; where a s^2 and b s^3 cancel (the second derivative along
    d nearly vanishes) r dips and its slope can fall below 1.5 for a right g (measured: LSTMCell seed 45,
    slope 1.45), while the odd part still grows as s^3. The test passes when either slope says so
    (odd: >= 2, midway between 1 and 3).
    """

    steps: tuple[float, ...]
    remainders: tuple[float, ...]
    slope: float
    exact: bool
    floor: float
    min_slope: float
    smooth: bool = True
    odd_slope: float = float("nan")
    odd_exact: bool = False

    @property
    def slope_passed(self) -> bool:
        return (self.exact or (not math.isnan(self.slope) and self.slope >= self.min_slope)
                or self.odd_exact or (not math.isnan(self.odd_slope) and self.odd_slope >= ODD_MIN_SLOPE))

    @property
    def passed(self) -> bool:
        return self.slope_passed or not self.smooth

    def describe(self) -> str:
        if self.exact:
            return "exact"
        if not self.slope_passed and not self.smooth:
            return "kink"
        if not math.isnan(self.slope) and self.slope < self.min_slope and self.slope_passed:
            return f"odd {self.odd_slope:.2f}" if not self.odd_exact else "odd exact"
        return "n/a" if math.isnan(self.slope) else f"{self.slope:.2f}"


def taylor_test(f: Callable[[], float], w: Array, grad: Array, rng: np.random.Generator | int | None = 0,
                steps: Sequence[float] = TAYLOR_STEPS, min_slope: float = DEFAULT_MIN_SLOPE,
                noise: float | None = None) -> TaylorResult:
    """Taylor-remainder test of ``grad`` = dJ/dw, J = ``f()`` reading ``w`` (perturbed in place, restored).

    Shapes: ``grad`` has ``w.shape``. The direction d is standard normal, drawn from ``rng`` (a
    Generator or a seed). ``noise`` is the rounding noise of J (``estimate_noise`` measures it when
    None). Returns a ``TaylorResult``; see the module docstring for the law tested.

    Example:
        >>> import numpy as np
        >>> w = np.array([0.3, -0.2])
        >>> f = lambda: float(np.sin(w).sum())
        >>> round(taylor_test(f, w, np.cos(w)).slope, 1), round(taylor_test(f, w, -np.cos(w)).slope, 1)
        (2.0, 1.0)
    """
    if not isinstance(w, np.ndarray) or not np.issubdtype(w.dtype, np.floating):
        raise TypeError(f"w must be a floating numpy array; got {type(w).__name__}")
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != w.shape:
        raise ValueError(f"grad must have the shape of w {w.shape}; got {grad.shape}")
    steps = tuple(float(s) for s in steps)
    if len(steps) < 2 or any(s <= 0 for s in steps):
        raise ValueError(f"steps must be at least two positive numbers; got {steps}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    d = rng.standard_normal(w.shape)
    if noise is None:
        noise = estimate_noise(f, {"w": w}, {"w": grad}, rng)
    w0 = w.copy()
    j0 = float(f())
    slope_gd = float(np.sum(grad * d))
    signed = []
    try:
        for s in steps:
            pair = []
            for sign in (1.0, -1.0):
                w[...] = w0 + sign * s * d
                pair.append(float(f()) - j0 - sign * s * slope_gd)
            signed.append(pair)
    finally:
        w[...] = w0
    remainders = [abs(e_plus) for e_plus, _ in signed]
    # the noise measured at w, or the rounding of the largest J a probe saw (J(w) = 0 when every input is 0)
    largest = max(abs(j0 + sign * s * slope_gd + e) for s, pair in zip(steps, signed)
                  for sign, e in zip((1.0, -1.0), pair))
    floor = TAYLOR_NOISE * max(float(noise), NOISE_ULPS * float(np.finfo(np.float64).eps) * largest)
    order = np.argsort(steps)  # smallest first
    above = [k for k in order if remainders[k] > floor][:TAYLOR_FIT_POINTS]
    slope = float("nan")
    if len(above) >= 2:
        slope = float(np.polyfit(np.log([steps[k] for k in above]), np.log([remainders[k] for k in above]), 1)[0])
    exact = bool(remainders[order[0]] <= floor)
    odd = [abs(e_plus - e_minus) / 2 for e_plus, e_minus in signed]
    odd_above = [k for k in order if odd[k] > floor][:TAYLOR_FIT_POINTS]
    odd_slope = float("nan")
    if len(odd_above) >= 2:
        odd_slope = float(np.polyfit(np.log([steps[k] for k in odd_above]), np.log([odd[k] for k in odd_above]),
                                     1)[0])
    odd_exact = bool(odd[order[0]] <= floor)
    # smoothness along d, from the even part a s^2 (independent of g), over the smallest steps above the floor
    even = {k: abs(signed[k][0] + signed[k][1]) / 2 for k in order}
    seen = [k for k in order if even[k] > floor][:TAYLOR_FIT_POINTS]
    smooth = True
    for k_small, k_big in zip(seen, seen[1:]):
        growth = (even[k_big] / even[k_small]) ** (math.log(2) / math.log(steps[k_big] / steps[k_small]))
        if not 3.0 <= growth <= 20.0:
            smooth = False
    return TaylorResult(steps, tuple(remainders), slope, exact, floor, min_slope, smooth, odd_slope, odd_exact)


# -- reports -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArrayCheck:
    """One array's verdict: finite differences (errors, worst entry, steps used) and, when run, the Taylor test.

    ``rel_error`` is max|g - R| / S (module docstring); ``error_estimate`` the largest allowance beyond
    tol S that an entry needed (rounding, and truncation where measured); ``resolution`` that allowance
    over S, the smallest relative error the row could have seen. ``step`` is the base step, ``min_step``
    the smallest step an entry needed; ``shrunk`` counts entries judged at a smaller step, ``one_sided``
    those judged from one side of a kink; ``not_judged`` lists the entries no step could judge. In the fast
    mode (``mode == "directions"``) the "entries" are the ``directions`` random directions.
    """

    name: str
    shape: tuple[int, ...]
    rel_error: float
    abs_error: float
    worst_index: tuple[int, ...]
    analytic_at_worst: float
    numeric_at_worst: float
    tolerance: float
    taylor: TaylorResult | None = None
    abs_tolerance: float = 0.0
    step: float = DEFAULT_H
    min_step: float = DEFAULT_H
    error_estimate: float = 0.0
    resolution: float = 0.0
    shrunk: int = 0
    one_sided: int = 0
    not_judged: tuple[tuple[int, ...], ...] = ()
    fd_verdict: bool | None = None
    mode: str = "entries"
    directions: int = 0

    @property
    def fd_passed(self) -> bool:
        """Every judged entry within tol S plus its allowance (when built by the engine), else the old rule:
        rel_error <= tolerance or abs_error <= abs_tolerance."""
        if self.fd_verdict is not None:
            return bool(self.fd_verdict)
        return bool(self.rel_error <= self.tolerance or self.abs_error <= self.abs_tolerance)

    @property
    def passed(self) -> bool:
        return self.fd_passed and not self.not_judged and (self.taylor is None or self.taylor.passed)

    @property
    def verdict(self) -> str:
        if self.passed:
            return "ok"
        if self.not_judged and self.fd_passed and (self.taylor is None or self.taylor.passed):
            return "not judged"
        return "FAIL"


@dataclass
class GradCheckReport:
    """The result of one check: a title, the tolerance, one ``ArrayCheck`` per array, and what was not checked.

    ``declared`` names every array the check had to cover; ``unchecked`` maps what it did not check to why.
    ``passed`` is True only when every declared array has a row, every row passes (no entry left
    unjudged) and no ``problem`` (e.g. an overflowing forward pass) stopped the check.
    ``str(report)`` (or ``report.table()``) is a readable table.
    """

    title: str
    checks: list[ArrayCheck] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    min_slope: float = DEFAULT_MIN_SLOPE
    declared: tuple[str, ...] = ()
    unchecked: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    fast: bool = False
    noise: float = 0.0

    @property
    def missing(self) -> list[str]:
        """Declared arrays without a row."""
        rows = {c.name for c in self.checks}
        return [n for n in self.declared if n not in rows]

    @property
    def passed(self) -> bool:
        return (self.problem is None and bool(self.checks) and not self.missing
                and all(c.passed for c in self.checks))

    @property
    def failures(self) -> list[ArrayCheck]:
        return [c for c in self.checks if not c.passed]

    @property
    def not_judged(self) -> dict[str, tuple[tuple[int, ...], ...]]:
        """Entries (or fast-mode directions) no step could judge, by array."""
        return {c.name: c.not_judged for c in self.checks if c.not_judged}

    @property
    def max_rel_error(self) -> float:
        errors = [c.rel_error for c in self.checks]
        return float(np.max(errors)) if errors else float("nan")  # np.max: a NaN is never skipped

    @property
    def min_taylor_slope(self) -> float:
        """The smallest fitted slope over the arrays that are not exact (NaN when there is none)."""
        slopes = [c.taylor.slope for c in self.checks
                  if c.taylor is not None and not c.taylor.exact and not math.isnan(c.taylor.slope)]
        return min(slopes, default=float("nan"))

    def __getitem__(self, name: str) -> ArrayCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no array named {name!r} in this report; it has {[c.name for c in self.checks]}")

    def coverage(self) -> list[str]:
        """One line per thing the check did not check (or could not judge), with the reason."""
        lines = [f"{n}: not checked: {why}" for n, why in self.unchecked.items()]
        lines += [f"{n}: not checked: no row (the check produced no result for it)"
                  for n in self.missing if n not in self.unchecked]
        for c in self.checks:
            if c.not_judged:
                shown = ", ".join(map(str, c.not_judged[:5])) + (" ..." if len(c.not_judged) > 5 else "")
                what = "directions" if c.mode == "directions" else "entries"
                lines.append(f"{c.name}: {len(c.not_judged)} {what} not judged ({shown}): kinks within "
                             f"{2 * c.min_step:.1e} of the point, no step could resolve them")
        return lines

    def table(self) -> str:
        head = ("array", "shape", "rel err", "abs err", "worst index", "analytic", "numeric", "step", "taylor",
                "result")
        rows = [head]
        for c in self.checks:
            step = f"{c.min_step:.0e}" + (f" ({c.shrunk})" if c.shrunk else "")
            rows.append((c.name, "x".join(map(str, c.shape)) or "()", f"{c.rel_error:.1e}", f"{c.abs_error:.1e}",
                         str(c.worst_index), f"{c.analytic_at_worst:+.4e}", f"{c.numeric_at_worst:+.4e}", step,
                         "-" if c.taylor is None else c.taylor.describe(), c.verdict))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        mode = f"fast: {self.checks[0].directions} random directions per array; " if self.fast and self.checks \
            else ""
        lines = [f"{self.title}  [{'PASS' if self.passed else 'FAIL'}; {mode}rel err <= {self.tolerance:g} "
                 f"(Richardson-extrapolated differences, noise sigma {self.noise:.0e} measured), "
                 f"Taylor slope >= {self.min_slope:g}]"]
        if self.problem is not None:
            lines.append(f"  {self.problem}")
        if len(rows) > 1:
            for k, r in enumerate(rows):
                lines.append("  " + "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                                              for i, (v, w) in enumerate(zip(r, widths))).rstrip())
                if k == 0:
                    lines.append("  " + "  ".join("-" * w for w in widths))
        cov = self.coverage()
        if cov:
            lines.append("  not checked or not judged:")
            lines.extend(f"    {line}" for line in cov)
        return "\n".join(lines)

    __str__ = table

    def to_dict(self) -> dict:
        """Plain data (for JSON): the title, the verdict, one dict per array and what was not checked."""
        return {"title": self.title, "passed": self.passed, "tolerance": self.tolerance, "fast": self.fast,
                "noise": self.noise, "problem": self.problem, "unchecked": dict(self.unchecked),
                "missing": self.missing, "arrays": [
                    {"name": c.name, "shape": list(c.shape), "rel_error": c.rel_error, "abs_error": c.abs_error,
                     "worst_index": list(c.worst_index), "passed": c.passed, "step": c.step,
                     "min_step": c.min_step, "error_estimate": c.error_estimate, "resolution": c.resolution,
                     "not_judged": [list(k) for k in c.not_judged],
                     "taylor_slope": None if c.taylor is None else c.taylor.slope,
                     "taylor_exact": None if c.taylor is None else c.taylor.exact} for c in self.checks]}


# -- the engine --------------------------------------------------------------------------------------

def _check_float64(name: str, a: Any) -> Array:
    if not isinstance(a, np.ndarray) or a.dtype != np.float64:
        raise TypeError(f"{name} must be a float64 numpy array (gradient checks run in float64); "
                        f"got {type(a).__name__} {getattr(a, 'dtype', '')}".rstrip())
    return a


def random_directions(shape: tuple[int, ...], count: int, rng: np.random.Generator) -> list[Array]:
    """``count`` unit directions of ``shape``: entries of random sign and magnitude in [0.5, 1.5], normalised,
    so every entry takes part in every direction with at least a third of the largest weight."""
    out = []
    for _ in range(count):
        v = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)
        out.append(v / np.linalg.norm(v))
    return out


def _fd_array(loss: Callable[[], float], w: Array, g: Array, *, h: float, tol: float, sigma: float,
              directions: list[Array] | None) -> dict:
    """Finite differences of one array, entry by entry (or along ``directions``): the decision procedure of
    the module docstring. Returns the fields of the array's ``ArrayCheck``."""
    w0 = w.copy()
    fast = directions is not None
    if fast:
        analytic = np.array([float(np.sum(g * v)) for v in directions])
        count = len(directions)
    else:
        analytic = g.reshape(-1).copy()
        count = w.size
        flat = w.flat
        old = w0.reshape(-1)

    def phi(j: int, s: float) -> float:
        if fast:
            w[...] = w0 + s * directions[j]
        else:
            flat[j] = old[j] + s
        try:
            return float(loss())
        finally:
            if fast:
                w[...] = w0
            else:
                flat[j] = old[j]

    def central(j: int, s: float) -> float:
        return (phi(j, s) - phi(j, -s)) / (2 * s)

    def noise(s: float, coefficients: float = 1.5) -> float:
        return NOISE_FACTOR * coefficients * sigma / s

    values = np.array([[phi(j, h), phi(j, -h), phi(j, 2 * h), phi(j, -2 * h)] for j in range(count)])
    D1 = (values[:, 0] - values[:, 1]) / (2 * h)
    D2 = (values[:, 2] - values[:, 3]) / (4 * h)
    R = (4 * D1 - D2) / 3
    # sigma was measured at the base point; at the probe points J itself may be larger (J(w) = 0 exactly when
    # every input is 0): never less than the rounding of the largest J a probe saw
    sigma = max(sigma, NOISE_ULPS * np.finfo(np.float64).eps * float(np.max(np.abs(values), initial=0.0)))
    est = R.copy()
    allow = np.full(count, noise(h))
    steps = np.full(count, h)
    one_sided = 0
    if fast:
        S = float(np.linalg.norm(g) + np.max(np.abs(R), initial=0.0))
    else:
        S = float(np.max(np.abs(analytic) + np.abs(R), initial=0.0))
    S = max(S, np.finfo(np.float64).tiny)
    base = tol * S
    status = np.where(np.abs(analytic - R) <= base + allow, 1, 0)  # 1 ok, 0 FAIL, -1 not judged
    j0 = None
    for j in np.flatnonzero(status == 0):
        a = analytic[j]
        # 1. curvature: a second extrapolation estimates R's own truncation error
        D4 = central(j, 4 * h)
        trunc = TRUNCATION_FACTOR * abs(R[j] - (4 * D2[j] - D4) / 3) / 15
        if trunc <= TRUNCATION_CAP * S and abs(a - R[j]) <= base + allow[j] + trunc:
            status[j], allow[j] = 1, allow[j] + trunc
            continue
        # 2. smaller steps, 3. one-sided differences on either side of a kink
        kink = False
        for f in SHRINK:
            s = h / f
            p1, m1, p2, m2 = phi(j, s), phi(j, -s), phi(j, 2 * s), phi(j, -2 * s)
            Rs = (4 * (p1 - m1) / (2 * s) - (p2 - m2) / (4 * s)) / 3
            if abs(a - Rs) <= base + noise(s):
                status[j], est[j], allow[j], steps[j] = 1, Rs, noise(s), s
                break
            if j0 is None:
                j0 = float(loss())
            forward = (-3 * j0 + 4 * p1 - p2) / (2 * s)
            backward = (3 * j0 - 4 * m1 + m2) / (2 * s)
            side = base + noise(s, 4.0)
            if abs(forward - backward) > side:  # the sides disagree: a kink within 2 s
                kink = True
                near = forward if abs(a - forward) < abs(a - backward) else backward
                if abs(a - near) <= side:
                    status[j], est[j], allow[j], steps[j] = 1, near, noise(s, 4.0), s
                    one_sided += 1
                    break
            else:  # smooth at this scale, and g matches neither the sides nor the extrapolation: wrong
                est[j], steps[j] = Rs, s
                kink = False
                break
        if status[j] == 0 and kink:
            status[j], steps[j] = -1, h / SHRINK[-1]
    err = np.abs(analytic - est)
    judged = status >= 0
    excess = np.where(judged, err / (base + allow), 0.0)
    worst = int(np.argmax(np.where(np.isnan(excess), np.inf, excess))) if count else 0
    if fast:
        worst_index: tuple[int, ...] = (worst,)
        not_judged = tuple((int(j),) for j in np.flatnonzero(status < 0))
    else:
        worst_index = tuple(int(i) for i in np.unravel_index(worst, w.shape)) if count else ()
        not_judged = tuple(tuple(int(i) for i in np.unravel_index(int(j), w.shape)) for j in np.flatnonzero(status < 0))
    verdict = bool(count) and bool(np.all(status[judged] == 1)) and bool(np.all(np.isfinite(err)))
    return dict(rel_error=float(np.max(err, initial=0.0) / S) if count else 0.0,
                abs_error=float(np.max(err, initial=0.0)), worst_index=worst_index,
                analytic_at_worst=float(analytic[worst]) if count else 0.0,
                numeric_at_worst=float(est[worst]) if count else 0.0,
                abs_tolerance=noise(h), step=h, min_step=float(np.min(steps, initial=h)),
                error_estimate=float(np.max(allow, initial=0.0)),
                resolution=float((base + np.max(allow, initial=0.0)) / S),
                shrunk=int(np.sum(steps < h)), one_sided=one_sided, not_judged=not_judged,
                fd_verdict=verdict, mode="directions" if fast else "entries", directions=count if fast else 0)


def check_gradients(loss: Callable[[], float], wrt: Mapping[str, Array], analytic: Mapping[str, Array], *,
                    tol: float | None = None, h: float = DEFAULT_H, taylor: bool = True,
                    seed: int = 0, title: str = "gradient check", min_slope: float = DEFAULT_MIN_SLOPE,
                    fast: bool = False, directions: int = DEFAULT_DIRECTIONS,
                    declared: Sequence[str] | None = None,
                    unchecked: Mapping[str, str] | None = None) -> GradCheckReport:
    """Compare ``analytic[name]`` with dJ/d``wrt[name]`` for every name, J = ``loss()``.

    Shapes: ``analytic[name]`` has ``wrt[name].shape``; every ``wrt`` array is float64 and is read by
    ``loss`` (it is perturbed in place and restored). ``declared`` (default: the names of ``wrt``) are the
    arrays the check must cover: one missing from ``analytic`` gets no row, is listed in the report's
    ``unchecked`` and the report does not pass. ``unchecked`` adds what the caller left out on purpose,
    with the reason. ``tol`` defaults to ``DEFAULT_TOLERANCE`` (``DEFAULT_FAST_TOLERANCE`` with ``fast``);
    ``h`` is the base step (scaled by max(1, rms) of each array). Returns a ``GradCheckReport``.

    Example:
        >>> import numpy as np
        >>> w = np.array([0.5, -1.0])
        >>> report = check_gradients(lambda: float(np.tanh(w).sum()), {"w": w}, {"w": 1 - np.tanh(w) ** 2})
        >>> report.passed, report["w"].rel_error < 1e-9
        (True, True)
        >>> check_gradients(lambda: float(np.tanh(w).sum()), {"w": w}, {}).unchecked
        {'w': 'the backward pass returned no gradient for it'}
    """
    if tol is None:
        tol = DEFAULT_FAST_TOLERANCE if fast else DEFAULT_TOLERANCE
    if isinstance(tol, bool) or not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol must be a positive number; got {tol!r}")
    if isinstance(h, bool) or not (isinstance(h, (int, float)) and 0 < h < 1):
        raise ValueError(f"h must be a number in (0, 1); got {h!r}")
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)) or directions < 1:
        raise ValueError(f"directions must be a positive integer; got {directions!r}")
    for name, w in wrt.items():
        _check_float64(f"array {name!r}", w)
        if name in analytic and np.shape(analytic[name]) != w.shape:
            raise ValueError(f"analytic gradient {name!r} must have shape {w.shape}; got {np.shape(analytic[name])}")
    declared = tuple(wrt) if declared is None else tuple(declared)
    report = GradCheckReport(title, [], float(tol), float(min_slope), declared, dict(unchecked or {}), fast=bool(fast))
    for name in declared:
        if name not in wrt:
            report.unchecked.setdefault(name, "not among the arrays the check perturbs")
        elif name not in analytic:
            report.unchecked.setdefault(name, "the backward pass returned no gradient for it")
    checked = {n: w for n, w in wrt.items() if n in analytic}
    grads = {n: np.asarray(analytic[n], dtype=np.float64) for n in checked}
    with np.errstate(all="ignore"):
        j0 = float(loss())
    if not math.isfinite(j0):
        report.problem = f"the loss is not finite at the base point (J = {j0}); nothing could be checked"
        return report
    rng = np.random.default_rng(seed)
    sigma = estimate_noise(loss, checked, grads, rng)
    report.noise = sigma
    for name, w in checked.items():
        g = grads[name]
        if not w.size:
            report.checks.append(ArrayCheck(name, tuple(w.shape), 0.0, 0.0, (), 0.0, 0.0, float(tol),
                                            fd_verdict=True))
            continue
        step = float(h) * max(1.0, float(np.sqrt(np.mean(w * w))))
        dirs = random_directions(w.shape, int(directions), rng) if fast else None
        fields = _fd_array(loss, w, g, h=step, tol=float(tol), sigma=sigma, directions=dirs)
        # the fast mode's Taylor test: the five smallest steps (the fit uses four), ten forward passes
        t = taylor_test(loss, w, g, rng, steps=TAYLOR_STEPS[-5:] if fast else TAYLOR_STEPS, min_slope=min_slope,
                        noise=sigma) if taylor else None
        report.checks.append(ArrayCheck(name, tuple(w.shape), tolerance=float(tol), taylor=t, **fields))
    return report
def _as_list(y: Any) -> list[Array]:
    return [np.asarray(a) for a in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


def check_kernel(forward: Callable[[dict[str, Array]], tuple[Any, Any]],
                 backward: Callable[[Any, Any], Mapping[str, Array]],
                 inputs: Mapping[str, Array], *, seed: int = 0, title: str = "kernel",
                 fixed: Sequence[str] = (), **options: Any) -> GradCheckReport:
    """Check a pure forward/backward pair.

    ``forward(inputs) -> (outputs, cache)``, outputs one array or a list of arrays y_k;
    ``backward(cache, d_outputs) -> {name: gradient}``, d_outputs shaped like outputs. The checked
    loss is J = sum_k <r_k, y_k> with standard-normal r_k drawn from ``seed``, so dJ/dy_k = r_k.
    Every input is checked except those named in ``fixed`` (held fixed, listed as not checked): an input
    ``backward`` returns no gradient for gets no row and the report does not pass. ``options`` go to
    ``check_gradients`` (tol, h, taylor, min_slope, fast, directions).

    Example:
        >>> import numpy as np
        >>> from minirnn.kernels import dense_forward, dense_backward
        >>> rng = np.random.default_rng(0)
        >>> inputs = {"x": rng.standard_normal((3, 2)), "kernel": rng.standard_normal((2, 4)),
        ...           "bias": rng.standard_normal(4)}
        >>> fwd = lambda a: dense_forward(a["x"], a["kernel"], a["bias"], "tanh")
        >>> bwd = lambda cache, dy: dict(zip(["x", "kernel", "bias"], dense_backward(cache, dy)))
        >>> check_kernel(fwd, bwd, inputs, title="dense tanh").passed
        True
    """
    inputs = dict(inputs)
    for name, a in inputs.items():
        _check_float64(f"input {name!r}", a)
    fixed = tuple(fixed)
    unknown_fixed = [n for n in fixed if n not in inputs]
    if unknown_fixed:
        raise ValueError(f"fixed names {unknown_fixed}, which are not among the inputs {list(inputs)}")
    with np.errstate(all="ignore"):
        outputs, cache = forward(inputs)
    outs = _as_list(outputs)
    if not all(np.all(np.isfinite(o)) for o in outs):
        return GradCheckReport(title, problem="the forward pass is not finite (it overflowed or made a NaN); "
                                              "try smaller weights/steps", declared=tuple(n for n in inputs
                                                                                          if n not in fixed))
    rng = np.random.default_rng(seed)
    rs = [rng.standard_normal(o.shape) for o in outs]
    d_outputs = rs if isinstance(outputs, (list, tuple)) else rs[0]
    grads = dict(backward(cache, d_outputs))
    unknown = [n for n in grads if n not in inputs]
    if unknown:
        raise ValueError(f"backward returned gradients for {unknown}, which are not among the inputs {list(inputs)}")

    def loss() -> float:
        return float(sum(np.sum(o * r) for o, r in zip(_as_list(forward(inputs)[0]), rs)))

    wrt = {n: a for n, a in inputs.items() if n not in fixed}
    grads = {n: v for n, v in grads.items() if n not in fixed}
    unchecked = {n: "held fixed (fixed=)" for n in fixed}
    return check_gradients(loss, wrt, grads, seed=seed, title=title, unchecked=unchecked, **options)


def validate_cell(cell: Any) -> Cell:
    """Raise TypeError/ValueError unless ``cell`` follows the cell protocol (``minirnn.cells.base``); return it."""
    if isinstance(cell, type):
        raise TypeError(f"cell must be a cell instance; got the class {cell.__name__} "
                        f"(construct it: {cell.__name__}(units))")
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be a minirnn.cells.Cell (the protocol is in minirnn.cells.base); "
                        f"got {type(cell).__name__}")
    sizes = cell.state_sizes
    if not isinstance(sizes, dict) or not sizes or not all(isinstance(n, str) for n in sizes) \
            or not all(isinstance(v, (int, np.integer)) and v > 0 for v in sizes.values()):
        raise ValueError(f"{type(cell).__name__}.state_sizes must be a non-empty dict of state name -> "
                         f"positive size; got {sizes!r}")
    return cell


def random_params(cell: Cell, features: int, rng: np.random.Generator) -> dict[str, Array]:
    """Random float64 values for every parameter ``cell`` declares, drawn by role: a matrix N(0, 1/rows),
    a vector or a bias N(0, 0.5^2), a gain 1 + N(0, 0.1^2) (a gain near 0 would hide its own input)."""
    out = {}
    for name, spec in cell.params(features).items():
        z = rng.standard_normal(spec.shape)
        if spec.role == "matrix":
            out[name] = z / np.sqrt(spec.shape[0])
        elif spec.role == "gain":
            out[name] = 1 + 0.1 * z
        else:
            out[name] = 0.5 * z
    return out


def cell_problem(cell: Cell, *, batch: int = 3, steps: int = 5, features: int = 4, seed: int = 0,
                 ) -> tuple[Callable, Callable, dict[str, Array]]:
    """The ``(forward, backward, inputs)`` that ``check_cell`` gives ``check_kernel``: the same random float64
    inputs (x, "initial <state>", every declared parameter), the driver's forward ``[y, *final states]`` and
    backward (gradients by the same names). For checking one array with ``check_kernel(..., fixed=others)``.
    """
    cell = validate_cell(cell)
    for name, v in (("batch", batch), ("steps", steps), ("features", features)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer; got {v!r}")
    rng = np.random.default_rng(seed)
    B, T, D = batch, steps, features
    sizes = cell.state_sizes
    inputs = {"x": rng.standard_normal((B, T, D))}
    for name, n in sizes.items():
        inputs[f"initial {name}"] = 0.5 * rng.standard_normal((B, n))
    params = random_params(cell, D, rng)
    inputs.update(params)

    def forward(a):
        states = [a[f"initial {n}"] for n in sizes]
        y, final, cache = driver.forward(cell, a["x"], {n: a[n] for n in params}, states)
        return [y, *final], cache

    def backward(cache, d_outputs):
        g = driver.backward(cache, d_outputs[0], d_outputs[1:])
        grads = {"x": g.dx}
        grads.update({f"initial {n}": s for n, s in zip(sizes, g.initial_states)})
        grads.update(g.params)
        return grads

    return forward, backward, inputs


def check_cell(cell: Cell, *, batch: int = 3, steps: int = 5, features: int = 4, seed: int = 0,
               title: str | None = None, **options: Any) -> GradCheckReport:
    """Check a recurrent cell (built-in or your own) as run by ``minirnn.cells.driver``.

    Shapes: x (batch, steps, features); every parameter the cell declares (``cell.params(features)``), one
    initial state (batch, size) per ``cell.state_sizes``; all float64 and random (seeded by ``seed``):
    parameters by role (``random_params``), states N(0, 0.5^2), x N(0, 1). The loss reads every output and
    every final state. Rows: x, "initial <state>", then every declared parameter by its name.
    ``options`` go to ``check_gradients`` (tol, h, taylor, min_slope, fast, directions). A forward pass
    that overflows is reported as such (``report.problem`` names the step), not as a gradient error.

    Example:
        >>> from minirnn.cells import SimpleRNNCell
        >>> check_cell(SimpleRNNCell(3, "relu"), batch=2, steps=3, features=2).passed
        True
    """
    forward, backward, inputs = cell_problem(cell, batch=batch, steps=steps, features=features, seed=seed)
    B, T, D = batch, steps, features
    if title is None:
        title = f"{cell!r}, B={B} T={T} D={D}"
    with np.errstate(all="ignore"):
        _, cache = forward(inputs)
    finite = [bool(np.all([np.all(np.isfinite(s[t])) for s in cache.states.values()])) for t in range(T + 1)]
    if not all(finite):
        t = finite.index(False)
        return GradCheckReport(title, declared=tuple(inputs), problem=(
            f"the forward pass overflowed at step {t} (of {T}); try smaller weights/steps"))
    return check_kernel(forward, backward, inputs, seed=seed + 1, title=title, **options)


# -- layers and models: float64 copies -----------------------------------------------------------------

def float64_copy(layer: Any) -> Any:
    """A float64 copy of a built layer (same class, config and weights); the layer itself when it is float64."""
    from ..layers.base import Layer

    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a minirnn Layer; got {type(layer).__name__}")
    if all(w.dtype == np.float64 for w in layer.params.values()) and layer.dtype == np.float64:
        return layer
    try:
        clone = type(layer).from_config(_float64_config(layer.get_config()))
    except (TypeError, ValueError) as e:  # ValueError: e.g. an RNN around a cell class that is not registered
        raise type(e)(f"cannot make a float64 copy of {layer.describe()} from its config ({e}); "
                      f"build it with dtype='float64' for the gradient check") from None
    if layer.built:
        clone.build(layer.built_input_shape)
        clone.set_weights(layer.get_weights())
    return clone


def _float64_config(config: Any) -> Any:
    """The config with every (nested: wrappers hold their layers' configs) "dtype" set to float64."""
    if isinstance(config, dict):
        return {k: ("float64" if k == "dtype" else _float64_config(v)) for k, v in config.items()}
    if isinstance(config, list):
        return [_float64_config(v) for v in config]
    return config


def _fixed_rng(seed: int) -> Callable[[], np.random.Generator]:
    # A fresh generator with the same seed on every call: dropout draws the same mask in every
    # probe, so J is a deterministic function of the weights.
    return lambda: np.random.default_rng(seed)


def check_layer(layer: Any, x: Any = None, *, initial_state: Any = "random", training: bool = False,
                batch: int = 3, seed: int = 0, title: str | None = None, **options: Any) -> GradCheckReport:
    """Check a layer's backward: its input, initial states (recurrent layers) and every parameter.

    Shapes: x (batch, ...) as the layer expects; without x the layer must be built and x is drawn
    N(0, 1) with ``batch`` rows. The layer is checked as a float64 copy (``float64_copy``) with its
    current weights. ``initial_state``: "random" (recurrent layers, Bidirectional too: N(0, 0.5^2) states, checked),
    None (zeros, not checked) or a list of arrays. ``training=True`` runs dropout with a fixed mask.
    The loss is J = sum_k <r_k, y_k> over the layer's outputs (random r_k from ``seed``).

    Example:
        >>> import numpy as np
        >>> from minirnn.layers import LSTM
        >>> layer = LSTM(3, return_state=True, seed=0)
        >>> report = check_layer(layer, np.random.default_rng(0).standard_normal((2, 4, 2)))
        >>> report.passed, [c.name for c in report.checks]
        (True, ['x', 'initial h', 'initial c', 'kernel', 'recurrent_kernel', 'bias'])
    """
    from ..layers.base import Layer
    from ..layers.recurrent import RNN
    from ..layers.wrappers import Bidirectional

    if not isinstance(layer, Layer):
        raise TypeError(f"layer must be a minirnn Layer; got {type(layer).__name__}")
    rng = np.random.default_rng(seed)
    if x is None:
        if not layer.built:
            raise ValueError(f"check_layer needs x for {layer.describe()}, which is not built yet")
        x = rng.standard_normal((batch, *layer.built_input_shape))
    x = np.array(x, dtype=np.float64)  # a private copy: it is perturbed in place
    if not layer.built:
        layer.build(x.shape[1:])
    layer64 = float64_copy(layer)
    x = layer64.prepare_input(x)
    wrt: dict[str, Array] = {"x": x}
    states = None
    recurrent = isinstance(layer64, (RNN, Bidirectional))
    if recurrent:
        names = layer64.state_names
        sizes = layer64.cell.state_sizes if isinstance(layer64, RNN) else layer64.state_sizes
        if isinstance(initial_state, str):
            if initial_state != "random":
                raise ValueError(f"initial_state must be 'random', None or a list of arrays; got {initial_state!r}")
            initial_state = [0.5 * rng.standard_normal((x.shape[0], n)) for n in sizes.values()]
        if initial_state is not None:
            checked = layer64._check_initial_state(initial_state, x.shape[0])
            if isinstance(layer64, Bidirectional):  # (forward states, backward states) -> one list
                checked = [*checked[0], *checked[1]]
            states = [np.array(s, dtype=np.float64) for s in checked]
            wrt.update({f"initial {n}": s for n, s in zip(names, states)})
    elif not (initial_state is None or initial_state == "random"):
        raise ValueError(f"initial_state applies to recurrent layers only; {layer.describe()} is not one")
    wrt.update(layer64.params)
    unchecked = {}
    if recurrent and states is None:
        unchecked["initial states"] = "zeros (initial_state=None), not an input of this check"
    mask_rng = _fixed_rng(seed + 2)

    def forward():
        if getattr(layer64, "stateful", False):
            layer64.reset_states()  # else every probe would start where the previous one ended
        kwargs = {"training": training, "rng": mask_rng()}
        if states is not None:
            kwargs["initial_state"] = states
        return layer64.forward(x, **kwargs)

    y, cache = forward()
    outs = _as_list(y)
    r_rng = np.random.default_rng(seed + 1)
    rs = [r_rng.standard_normal(o.shape) for o in outs]
    g = layer64.backward(cache, rs if isinstance(y, list) else rs[0])
    analytic = {"x": g.dx, **{n: v for n, v in g.params.items() if n in wrt}}
    if states is not None:
        analytic.update({f"initial {n}": s for n, s in zip(layer64.state_names, g.initial_state)})

    def loss() -> float:
        return float(sum(np.sum(o * r) for o, r in zip(_as_list(forward()[0]), rs)))

    if title is None:
        title = describe_layer(layer64, x.shape)
    return check_gradients(loss, wrt, analytic, seed=seed, title=title, unchecked=unchecked, **options)


def describe_layer(layer: Any, input_shape: tuple | None = None) -> str:
    """A one-line description of a layer's configuration, e.g. ``LSTM(4, relu, seq, state) x(2, 5, 3)``."""
    parts = [str(getattr(layer, "units", getattr(layer, "rate", "")))]
    for attr in ("activation", "recurrent_activation"):
        if hasattr(layer, attr):
            parts.append(f"{attr}={getattr(layer, attr)}")
    for flag in ("return_sequences", "return_state", "go_backwards", "stateful"):
        if getattr(layer, flag, False):
            parts.append(flag)
    for rate in ("dropout", "recurrent_dropout"):
        if getattr(layer, rate, 0):
            parts.append(f"{rate}={getattr(layer, rate):g}")
    for flag in ("use_bias", "reset_after"):
        if getattr(layer, flag, True) is False:
            parts.append(f"{flag}=False")
    shape = "" if input_shape is None else f" on x{tuple(input_shape)}"
    return f"{type(layer).__name__}({', '.join(p for p in parts if p)}){shape}"


def check_model(model: Any, x: Any, y: Any, *, training: bool = False, input_gradient: bool = True,
                seed: int = 0, title: str | None = None, **options: Any) -> GradCheckReport:
    """Check a compiled ``Sequential``: the gradient of its loss on (x, y) for the input and every weight.

    Shapes: x and y as for ``model.fit``. The model is checked as a float64 copy (every layer through
    ``float64_copy``, the same loss); ``training=True`` runs dropout with one fixed set of masks.
    Rows: "x" (unless ``input_gradient=False``: with a ``Masking`` layer and padded steps the loss jumps
    when a padded entry moves off the mask value, so finite differences in x mean nothing there), then
    "<layer name>.<weight name>" in ``get_weights`` order.

    Example:
        >>> import numpy as np
        >>> from minirnn import Sequential
        >>> from minirnn.layers import LSTM, Dense
        >>> model = Sequential([LSTM(3, input_shape=(4, 2), seed=0), Dense(1, seed=1)])
        >>> model.compile("adam", "mse")
        >>> rng = np.random.default_rng(0)
        >>> check_model(model, rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 1))).passed
        True
    """
    from ..model import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a minirnn Sequential; got {type(model).__name__}")
    if model.loss is None:
        raise ValueError("check_model needs a compiled model: call model.compile(optimizer=..., loss=...) first")
    x = np.asarray(x)
    if not model.built:
        model._check_x(x)
    clone = model
    if any(float64_copy(layer) is not layer for layer in model.layers):
        clone = Sequential([float64_copy(layer) for layer in model.layers], name=model.name)
        clone.compile("sgd", model.loss)
    x, y = clone._check_xy(x, y)
    ids = getattr(clone.layers[0], "integer_input", False)  # Embedding first: token ids have no gradient
    x = x.copy() if ids else np.array(x, dtype=np.float64)  # a private copy: it is perturbed in place
    mask_rng = _fixed_rng(seed)

    def reset() -> None:
        for layer in clone.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()  # else every probe would start where the previous one ended

    reset()
    _, grads, dx = clone.loss_and_gradients(x, y, training=training, rng=mask_rng(), return_input_gradient=True)
    wrt, analytic = ({"x": x}, {"x": dx}) if input_gradient and not ids else ({}, {})
    names = [f"{layer.name}.{n}" for layer in clone.layers for n in layer.params]
    wrt.update(zip(names, clone.weights))
    analytic.update(zip(names, grads))
    unchecked = {} if input_gradient and not ids else {
        "x": "integer token ids (the model starts with an Embedding) have no gradient" if ids
        else "input_gradient=False (with padded steps the loss jumps in x)"}

    def loss() -> float:
        reset()
        return float(clone._forward_loss(x, y, training, mask_rng())[0])  # masked as the model's loss is

    if title is None:
        title = "Sequential(" + ", ".join(describe_layer(layer) for layer in clone.layers) + f") on x{x.shape}"
    return check_gradients(loss, wrt, analytic, seed=seed, title=title, unchecked=unchecked, **options)
