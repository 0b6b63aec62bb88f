"""Gradient checking: finite differences and the Taylor-remainder test, for kernels, layers, cells and models.

Every check compares an analytic gradient g = dJ/dw (from a hand-written backward pass) with two
independent opinions, in float64:

    numerical dJ/dw_k = (J(w + h e_k) - J(w - h e_k)) / (2 h)          central differences, h = 1e-5
    relative error    = max|g - n| / max(1e-8, max(|g| + |n|))           over the whole array (CS231n)

    Taylor remainder  r(s) = |J(w + s d) - J(w) - s <g, d>|              d a random direction

A correct g leaves r(s) = O(s^2): on a log-log plot r against s has slope 2 (3 where the second
derivative along d vanishes). A wrong g leaves a first-order term s |<g_true - g, d>|, so the slope
drops to 1. The slope needs no choice of epsilon and no tolerance on a difference, which makes it a
second opinion that cannot be fooled by a lucky h. When J is linear along d (a linear Dense layer,
a relu region), r(s) sits at rounding level for the smallest steps: the first-order model is exact,
and that passes.

Thresholds (``DEFAULT_TOLERANCE``, ``DEFAULT_MIN_SLOPE``): relative error <= 1e-7 and a fitted slope
>= 1.5 over the four smallest steps above rounding level. With h = 1e-5 in float64 the truncation
error of central differences is ~h^2 = 1e-10 and the rounding error ~eps/h = 2e-11, relative to the
gradient's scale, so a correct gradient scores 1e-9 or below; 1e-7 leaves two orders of margin and
still catches any real mistake (a wrong term moves the error to 1e-3 .. 1). An array whose gradient is
so small that the rounding noise of the differences dominates it also passes when its absolute error
is below that noise, ``FD_NOISE`` eps max(1, |J|) / h (about 2e-9 for |J| <= 1), the best finite
differences can resolve; the Taylor test still judges such arrays. A slope of 1.5 is midway between
the two hypotheses (2 for a right gradient; 1 for a wrong one, which the smallest steps approach); a
right gradient can dip a little below 2 where the s^2 and s^3 terms of J partly cancel, or where a
step crosses a relu kink.

What is checked (every entry point returns a ``GradCheckReport``, one row per array):

* ``check_gradients(loss, wrt, analytic)``: the engine; ``loss()`` reads the arrays in ``wrt``;
* ``check_kernel(forward, backward, inputs)``: a pure forward/backward pair, through the random
  projection J = sum_k <r_k, y_k> of its outputs y_k (random r_k, so no error can cancel);
* ``check_cell(cell)``: a recurrent cell, built-in or your own, run by the one time-loop driver
  (``minirnn.cells.driver``); checks dx, every initial state and every parameter the cell declares;
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
    >>> report.passed, [c.name for c in report.checks]
    (True, ['x', 'initial h', 'initial c', 'kernel', 'recurrent_kernel', 'bias'])
    >>> 1.8 < report.checks[3].taylor.slope < 3.2
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
DEFAULT_H = 1e-5
DEFAULT_MIN_SLOPE = 1.5
# Central differences of J carry a rounding error of about eps |J| / h; allow 100 times that.
FD_NOISE = 100.0
# Taylor steps s = 1e-2 * 2^-k, k = 0..7 (down to 7.8e-5): small enough for the O(s^2) regime,
# large enough that C s^2 stays far above float64 rounding of J (about 1e-13 |J|).
TAYLOR_STEPS = tuple(1e-2 * 2.0 ** -k for k in range(8))
# A remainder below this fraction of max(1, |J|) is float64 rounding, not signal.
TAYLOR_ROUNDING = 1e-12
TAYLOR_FIT_POINTS = 4


# -- the two basic tools -----------------------------------------------------------------------------

def numerical_gradient(f: Callable[[], float], x: Array, h: float = DEFAULT_H) -> Array:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``, perturbed in place.

    Shapes: the result has ``x.shape`` (float64). ``f`` takes no arguments and must read ``x`` (it is
    restored after every probe).
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


# -- the Taylor-remainder test -----------------------------------------------------------------------

@dataclass(frozen=True)
class TaylorResult:
    """Remainders r(s) = |J(w + s d) - J(w) - s <g, d>| for decreasing steps s, and their log-log slope.

    ``slope`` is fitted over the (up to four) smallest steps whose remainder is above rounding level
    (``floor``); it is NaN when fewer than two are. ``exact`` means r is at rounding level at the
    smallest step: J is linear along d there and g predicts it exactly.
    """

    steps: tuple[float, ...]
    remainders: tuple[float, ...]
    slope: float
    exact: bool
    floor: float
    min_slope: float

    @property
    def passed(self) -> bool:
        return self.exact or (not math.isnan(self.slope) and self.slope >= self.min_slope)

    def describe(self) -> str:
        if self.exact:
            return "exact"
        return "n/a" if math.isnan(self.slope) else f"{self.slope:.2f}"


def taylor_test(f: Callable[[], float], w: Array, grad: Array, rng: np.random.Generator | int | None = 0,
                steps: Sequence[float] = TAYLOR_STEPS, min_slope: float = DEFAULT_MIN_SLOPE) -> TaylorResult:
    """Taylor-remainder test of ``grad`` = dJ/dw, J = ``f()`` reading ``w`` (perturbed in place, restored).

    Shapes: ``grad`` has ``w.shape``. The direction d is standard normal, drawn from ``rng`` (a
    Generator or a seed). Returns a ``TaylorResult``; see the module docstring for the law tested.

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
    w0 = w.copy()
    j0 = float(f())
    slope_gd = float(np.sum(grad * d))
    remainders = []
    try:
        for s in steps:
            w[...] = w0 + s * d
            remainders.append(abs(float(f()) - j0 - s * slope_gd))
    finally:
        w[...] = w0
    floor = TAYLOR_ROUNDING * max(1.0, abs(j0))
    order = np.argsort(steps)  # smallest first
    above = [k for k in order if remainders[k] > floor][:TAYLOR_FIT_POINTS]
    slope = float("nan")
    if len(above) >= 2:
        slope = float(np.polyfit(np.log([steps[k] for k in above]), np.log([remainders[k] for k in above]), 1)[0])
    exact = remainders[order[0]] <= floor
    return TaylorResult(steps, tuple(remainders), slope, exact, floor, min_slope)


# -- reports -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ArrayCheck:
    """One array's verdict: finite differences (errors, worst entry) and, when run, the Taylor test."""

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

    @property
    def fd_passed(self) -> bool:
        """rel_error <= tolerance, or an absolute error below the rounding noise of the differences."""
        return bool(self.rel_error <= self.tolerance or self.abs_error <= self.abs_tolerance)

    @property
    def passed(self) -> bool:
        return self.fd_passed and (self.taylor is None or self.taylor.passed)


@dataclass
class GradCheckReport:
    """The result of one check: a title, the tolerance and one ``ArrayCheck`` per array.

    ``str(report)`` (or ``report.table()``) is a readable table; ``report.passed`` is the verdict.
    """

    title: str
    checks: list[ArrayCheck] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    min_slope: float = DEFAULT_MIN_SLOPE

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[ArrayCheck]:
        return [c for c in self.checks if not c.passed]

    @property
    def max_rel_error(self) -> float:
        return max((c.rel_error for c in self.checks), default=float("nan"))

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

    def table(self) -> str:
        head = ("array", "shape", "rel err", "abs err", "worst index", "analytic", "numeric", "taylor", "result")
        rows = [head]
        for c in self.checks:
            rows.append((c.name, "x".join(map(str, c.shape)) or "()", f"{c.rel_error:.1e}", f"{c.abs_error:.1e}",
                         str(c.worst_index), f"{c.analytic_at_worst:+.4e}", f"{c.numeric_at_worst:+.4e}",
                         "-" if c.taylor is None else c.taylor.describe(), "ok" if c.passed else "FAIL"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        atol = max((c.abs_tolerance for c in self.checks), default=0.0)
        lines = [f"{self.title}  [{'PASS' if self.passed else 'FAIL'}; rel err <= {self.tolerance:g} "
                 f"(or abs err <= {atol:.0e}), Taylor slope >= {self.min_slope:g}]"]
        for k, r in enumerate(rows):
            lines.append("  " + "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                                          for i, (v, w) in enumerate(zip(r, widths))).rstrip())
            if k == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    __str__ = table

    def to_dict(self) -> dict:
        """Plain data (for JSON): the title, the verdict and one dict per array."""
        return {"title": self.title, "passed": self.passed, "tolerance": self.tolerance, "arrays": [
            {"name": c.name, "shape": list(c.shape), "rel_error": c.rel_error, "abs_error": c.abs_error,
             "worst_index": list(c.worst_index), "passed": c.passed,
             "taylor_slope": None if c.taylor is None else c.taylor.slope,
             "taylor_exact": None if c.taylor is None else c.taylor.exact} for c in self.checks]}


# -- the engine --------------------------------------------------------------------------------------

def _check_float64(name: str, a: Any) -> Array:
    if not isinstance(a, np.ndarray) or a.dtype != np.float64:
        raise TypeError(f"{name} must be a float64 numpy array (gradient checks run in float64); "
                        f"got {type(a).__name__} {getattr(a, 'dtype', '')}".rstrip())
    return a


def check_gradients(loss: Callable[[], float], wrt: Mapping[str, Array], analytic: Mapping[str, Array], *,
                    tol: float = DEFAULT_TOLERANCE, h: float = DEFAULT_H, taylor: bool = True,
                    seed: int = 0, title: str = "gradient check",
                    min_slope: float = DEFAULT_MIN_SLOPE) -> GradCheckReport:
    """Compare ``analytic[name]`` with dJ/d``wrt[name]`` for every name, J = ``loss()``.

    Shapes: ``analytic[name]`` has ``wrt[name].shape``; every ``wrt`` array is float64 and is read by
    ``loss`` (it is perturbed in place and restored). Returns a ``GradCheckReport``.

    Example:
        >>> import numpy as np
        >>> w = np.array([0.5, -1.0])
        >>> report = check_gradients(lambda: float(np.tanh(w).sum()), {"w": w}, {"w": 1 - np.tanh(w) ** 2})
        >>> report.passed, report["w"].rel_error < 1e-9
        (True, True)
    """
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol must be a positive number; got {tol!r}")
    missing = [n for n in wrt if n not in analytic]
    if missing:
        raise ValueError(f"analytic has no gradient for {missing}; it has {list(analytic)}")
    report = GradCheckReport(title, [], float(tol), float(min_slope))
    rng = np.random.default_rng(seed)
    atol = FD_NOISE * np.finfo(np.float64).eps * max(1.0, abs(float(loss()))) / h
    for name, w in wrt.items():
        _check_float64(f"array {name!r}", w)
        g = np.asarray(analytic[name], dtype=np.float64)
        if g.shape != w.shape:
            raise ValueError(f"analytic gradient {name!r} must have shape {w.shape}; got {g.shape}")
        n = numerical_gradient(loss, w, h)
        diff = np.abs(g - n)
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
        t = taylor_test(loss, w, g, rng, min_slope=min_slope) if taylor and w.size else None
        report.checks.append(ArrayCheck(
            name, tuple(w.shape), relative_error(g, n) if w.size else 0.0, float(diff.max(initial=0.0)),
            tuple(int(i) for i in worst), float(g[worst]) if w.size else 0.0,
            float(n[worst]) if w.size else 0.0, float(tol), t, atol))
    return report


def _as_list(y: Any) -> list[Array]:
    return [np.asarray(a) for a in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]


def check_kernel(forward: Callable[[dict[str, Array]], tuple[Any, Any]],
                 backward: Callable[[Any, Any], Mapping[str, Array]],
                 inputs: Mapping[str, Array], *, seed: int = 0, title: str = "kernel", **options: Any,
                 ) -> GradCheckReport:
    """Check a pure forward/backward pair.

    ``forward(inputs) -> (outputs, cache)``, outputs one array or a list of arrays y_k;
    ``backward(cache, d_outputs) -> {name: gradient}``, d_outputs shaped like outputs. The checked
    loss is J = sum_k <r_k, y_k> with standard-normal r_k drawn from ``seed``, so dJ/dy_k = r_k.
    Inputs that ``backward`` returns no gradient for are held fixed. ``options`` go to
    ``check_gradients`` (tol, h, taylor, min_slope).

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
    outputs, cache = forward(inputs)
    outs = _as_list(outputs)
    rng = np.random.default_rng(seed)
    rs = [rng.standard_normal(o.shape) for o in outs]
    d_outputs = rs if isinstance(outputs, (list, tuple)) else rs[0]
    grads = dict(backward(cache, d_outputs))
    unknown = [n for n in grads if n not in inputs]
    if unknown:
        raise ValueError(f"backward returned gradients for {unknown}, which are not among the inputs {list(inputs)}")

    def loss() -> float:
        return float(sum(np.sum(o * r) for o, r in zip(_as_list(forward(inputs)[0]), rs)))

    wrt = {n: inputs[n] for n in grads}
    return check_gradients(loss, wrt, grads, seed=seed, title=title, **options)


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


def check_cell(cell: Cell, *, batch: int = 3, steps: int = 5, features: int = 4, seed: int = 0,
               title: str | None = None, **options: Any) -> GradCheckReport:
    """Check a recurrent cell (built-in or your own) as run by ``minirnn.cells.driver``.

    Shapes: x (batch, steps, features); every parameter the cell declares (``cell.params(features)``), one
    initial state (batch, size) per ``cell.state_sizes``; all float64 and random (seeded by ``seed``):
    parameters by role (``random_params``), states N(0, 0.5^2), x N(0, 1). The loss reads every output and
    every final state. Rows: x, "initial <state>", then every declared parameter by its name.
    ``options`` go to ``check_gradients`` (tol, h, taylor, min_slope).

    Example:
        >>> from minirnn.cells import SimpleRNNCell
        >>> check_cell(SimpleRNNCell(3, "relu"), batch=2, steps=3, features=2).passed
        True
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

    if title is None:
        title = f"{cell!r}, B={B} T={T} D={D}"
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
    current weights. ``initial_state``: "random" (recurrent layers: N(0, 0.5^2) states, checked too),
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
    recurrent = isinstance(layer64, RNN)
    if recurrent:
        names = layer64.state_names
        if isinstance(initial_state, str):
            if initial_state != "random":
                raise ValueError(f"initial_state must be 'random', None or a list of arrays; got {initial_state!r}")
            initial_state = [0.5 * rng.standard_normal((x.shape[0], n)) for n in layer64.cell.state_sizes.values()]
        if initial_state is not None:
            states = [np.array(s, dtype=np.float64) for s in layer64._check_initial_state(initial_state, x.shape[0])]
            wrt.update({f"initial {n}": s for n, s in zip(names, states)})
    elif not (initial_state is None or initial_state == "random"):
        raise ValueError(f"initial_state applies to recurrent layers only; {layer.describe()} is not one")
    wrt.update(layer64.params)
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
    analytic = {"x": g.dx, **g.params}
    if states is not None:
        analytic.update({f"initial {n}": s for n, s in zip(layer64.state_names, g.initial_state)})

    def loss() -> float:
        return float(sum(np.sum(o * r) for o, r in zip(_as_list(forward()[0]), rs)))

    if title is None:
        title = describe_layer(layer64, x.shape)
    return check_gradients(loss, wrt, analytic, seed=seed, title=title, **options)


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
    x = np.array(x, dtype=np.float64)  # a private copy: it is perturbed in place
    mask_rng = _fixed_rng(seed)

    def reset() -> None:
        for layer in clone.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()  # else every probe would start where the previous one ended

    reset()
    _, grads, dx = clone.loss_and_gradients(x, y, training=training, rng=mask_rng(), return_input_gradient=True)
    wrt, analytic = ({"x": x}, {"x": dx}) if input_gradient else ({}, {})
    names = [f"{layer.name}.{n}" for layer in clone.layers for n in layer.params]
    wrt.update(zip(names, clone.weights))
    analytic.update(zip(names, grads))

    def loss() -> float:
        reset()
        return float(clone._forward_loss(x, y, training, mask_rng())[0])  # masked as the model's loss is

    if title is None:
        title = "Sequential(" + ", ".join(describe_layer(layer) for layer in clone.layers) + f") on x{x.shape}"
    return check_gradients(loss, wrt, analytic, seed=seed, title=title, **options)
