"""Hypothesis strategies and assertion helpers for property-based tests of recurrent code.

Requires Hypothesis (``pip install "minirnn[test]"``); the rest of minirnn does not import this module.

Strategies (Hypothesis explores shapes, dtypes and configurations; the array *values* come from a
numpy ``Generator`` seeded by a drawn integer, so they are generic: never exactly on the kink of
relu or hard_sigmoid, where finite differences and float32/float64 comparisons are meaningless):

    sequence_batches(batch, steps, features, dtypes)   x (B, T, D), N(0, scale^2)
    layer_configs(layers, activations, units)           a dict for ``make_layer``
    weight_sets(shapes, dtype)                          arrays of the given shapes, N(0, scale^2 / fan_in)
    recurrent_cases(...)                                a built recurrent layer with random weights,
                                                        its input x and (maybe) initial states

Sizes are given as an int (fixed), a ``(min, max)`` tuple, or any Hypothesis strategy.

Open to your own code (the values here come from ``hypothesis.extra.numpy.arrays`` with bounded
elements, so a failing property shrinks to small shapes *and* simple values, e.g. B = T = 1, zeros):

    cell_cases(cell, ...)                                any cell class, factory ``f(units)`` or instance,
                                                        parameters drawn by their declared role (a gain
                                                        near 1, a bias or vector, a matrix / sqrt(rows)),
                                                        x and the initial states: a ``CellCase``
    param_values(spec)                                  one declared ``Param``'s values, by role
    recurrent_cases(layers=(MyCell, factory, "lstm"))   a Cell class (run as ``RNN(MyCell(units))``) or a
                                                        layer factory ``f(units)`` beside the built-in names

Degenerate values are kept out as Hypothesis assumptions, not by luck: gains with |g| < ``min_gain``
are rejected, and an example whose gradient check has entries it cannot judge (a relu pre-activation
within a step of its kink) is rejected by ``CellCase.check`` and ``assert_gradients_match``.

Assertion helpers:

    assert_gradients_match(subject, ...)     the float64 gradient check of ``minirnn.checking.gradcheck``
                                             (cell, layer, model or a finished report)
    assert_agree_to_rounding(low, ref, n)    |low - ref| <= n eps(low.dtype) (scale + |ref|)
    assert_forward_matches(cell, step, ...)  the driver's forward against your plain one-step reference
                                             function, written from the paper, at every step

Testing your own cell follows the protocol of ``minirnn.cells.base`` (a ``Cell`` with one step forward
and one step backward); ``examples/cells/`` holds worked examples from papers.

Example:
    >>> from hypothesis import given, settings
    >>> from minirnn.cells import SimpleRNNCell
    >>> from minirnn.checking.testing import assert_gradients_match, recurrent_cases
    >>> @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    ... @given(recurrent_cases(layers=("lstm",), steps=(1, 3)))
    ... def test_lstm_gradients(case):
    ...     assert_gradients_match(case.layer, case.x, initial_state=case.initial_state, taylor=False)
    >>> test_lstm_gradients()
    >>> report = assert_gradients_match(SimpleRNNCell(2, "relu"), batch=2, steps=3, features=2)
    >>> report.passed
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    from hypothesis import assume, reject
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("minirnn.checking.testing needs Hypothesis: pip install 'minirnn[test]' "
                      "(or pip install hypothesis)") from e

from .. import activations as activations_mod
from ..cells import Cell, Param, driver
from ..layers import GRU, LSTM, RNN, Dense, SimpleRNN
from ..layers.base import Layer
from ..model import Sequential
from .gradcheck import GradCheckReport, check_cell, check_kernel, check_layer, check_model, validate_cell

Array = np.ndarray

LAYERS = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU, "dense": Dense}
RECURRENT_LAYERS = ("simple_rnn", "lstm", "gru")
ACTIVATIONS = tuple(sorted(activations_mod.ACTIVATIONS))
# Activations with a continuous derivative: gradients are then continuous functions of the inputs
# (relu and hard_sigmoid have kinks, where a rounding error can flip a derivative from 1 to 0).
SMOOTH_ACTIVATIONS = ("linear", "sigmoid", "tanh")
DTYPES = ("float32", "float64")
SEEDS = st.integers(0, 2**32 - 1)
BOOLEANS = st.booleans()


def _sizes(name: str, value: Any, lowest: int = 1) -> st.SearchStrategy:
    """An int, a (min, max) tuple or a strategy, as a strategy of ints >= lowest."""
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < lowest:
            raise ValueError(f"{name} must be >= {lowest}; got {value}")
        return st.just(int(value))
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        lo, hi = int(value[0]), int(value[1])
        if not lowest <= lo <= hi:
            raise ValueError(f"{name} must be a range (min, max) with {lowest} <= min <= max; got {value}")
        return st.integers(lo, hi)
    raise TypeError(f"{name} must be an int, a (min, max) tuple or a Hypothesis strategy; got {value!r}")


def _choices(name: str, value: Any, allowed: Sequence[Any] | None = None) -> st.SearchStrategy:
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"{name} must be a non-empty list/tuple or a Hypothesis strategy; got {value!r}")
    if allowed is not None:
        bad = [v for v in value if v not in allowed]
        if bad:
            raise ValueError(f"{name} must be chosen from {list(allowed)}; got {bad}")
    return st.sampled_from(list(value))


def _flag(name: str, value: Any) -> st.SearchStrategy:
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, bool):
        return st.just(value)
    raise TypeError(f"{name} must be a bool or a Hypothesis strategy; got {value!r}")


@st.composite
def sequence_batches(draw: Any, batch: Any = (1, 4), steps: Any = (1, 6), features: Any = (1, 4),
                     dtypes: Any = DTYPES, scale: float = 1.0) -> Array:
    """Batches of sequences x (B, T, D), entries N(0, scale^2), dtype drawn from ``dtypes``.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, database=None)
        ... @given(sequence_batches(steps=3, dtypes=("float32",)))
        ... def check(x):
        ...     assert x.ndim == 3 and x.shape[1] == 3 and x.dtype == np.float32
        >>> check()
    """
    B = draw(_sizes("batch", batch))
    T = draw(_sizes("steps", steps))
    D = draw(_sizes("features", features))
    dtype = np.dtype(draw(_choices("dtypes", dtypes, DTYPES)))
    rng = np.random.default_rng(draw(SEEDS))
    return (scale * rng.standard_normal((B, T, D))).astype(dtype)


@st.composite
def layer_configs(draw: Any, layers: Any = RECURRENT_LAYERS, activations: Any = ACTIVATIONS, units: Any = (1, 5),
                  return_sequences: Any = BOOLEANS, return_state: Any = BOOLEANS, use_bias: Any = BOOLEANS,
                  recurrent_activations: Any = ("sigmoid", "hard_sigmoid")) -> dict:
    """Layer configurations: ``{"layer": name, "units": H, "activation": ..., ...}`` for ``make_layer``.

    Recurrent layers also draw return_sequences and return_state (pass False to fix one); an LSTM or
    a GRU also draws its recurrent_activation from ``recurrent_activations``, a GRU its reset_after.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, database=None)
        ... @given(layer_configs(layers=("lstm",), units=3, return_state=True))
        ... def check(config):
        ...     assert config["units"] == 3 and make_layer(config).return_state
        >>> check()
    """
    name = draw(_choices("layers", layers, tuple(LAYERS)))
    config: dict[str, Any] = {"layer": name, "units": draw(_sizes("units", units)),
                              "activation": draw(_choices("activations", activations, ACTIVATIONS)),
                              "use_bias": draw(_flag("use_bias", use_bias))}
    if name in RECURRENT_LAYERS:
        config["return_sequences"] = draw(_flag("return_sequences", return_sequences))
        config["return_state"] = draw(_flag("return_state", return_state))
    if name in ("lstm", "gru"):
        config["recurrent_activation"] = draw(_choices("recurrent_activations", recurrent_activations, ACTIVATIONS))
    if name == "gru":
        config["reset_after"] = draw(BOOLEANS)
    return config


def make_layer(config: dict, dtype: str | np.dtype = "float64", seed: int = 0) -> Layer:
    """The (unbuilt) layer a ``layer_configs`` dict describes.

    Example:
        >>> make_layer({"layer": "lstm", "units": 2, "return_sequences": True}).return_sequences
        True
    """
    if not isinstance(config, dict) or config.get("layer") not in LAYERS:
        raise ValueError(f"config must be a dict with 'layer' one of {sorted(LAYERS)}; got {config!r}")
    kwargs = {k: v for k, v in config.items() if k != "layer"}
    return LAYERS[config["layer"]](dtype=dtype, seed=seed, **kwargs)


@st.composite
def weight_sets(draw: Any, shapes: Sequence[tuple[int, ...]], dtype: str | np.dtype = "float64",
                scale: float = 1.0) -> list[Array]:
    """One array per shape: matrices N(0, scale^2 / fan_in) (fan_in = first axis), vectors N(0, (scale/2)^2).

    The 1/fan_in variance keeps every pre-activation O(1), whatever the shape. Pass
    ``[w.shape for w in layer.get_weights()]`` and give the result to ``layer.set_weights``.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, database=None)
        ... @given(weight_sets([(3, 8), (8,)], dtype="float32"))
        ... def check(weights):
        ...     assert [w.shape for w in weights] == [(3, 8), (8,)] and weights[0].dtype == np.float32
        >>> check()
    """
    rng = np.random.default_rng(draw(SEEDS))
    out = []
    for shape in shapes:
        shape = tuple(int(s) for s in shape)
        std = scale / np.sqrt(shape[0]) if len(shape) >= 2 else scale / 2
        out.append((std * rng.standard_normal(shape)).astype(dtype))
    return out


@dataclass
class RecurrentCase:
    """A built recurrent layer with random weights, an input x (B, T, D) and initial states (or None)."""

    layer: Layer
    x: Array
    initial_state: list[Array] | None
    config: dict
    seed: int

    def forward(self, x: Array | None = None, initial_state: Any = "same", **kwargs: Any):
        """``layer.forward`` on x (default: the case's) and the case's initial states (or those given)."""
        states = self.initial_state if isinstance(initial_state, str) and initial_state == "same" else initial_state
        x = self.x if x is None else x
        if states is not None:
            kwargs["initial_state"] = states
        return self.layer.forward(x, **kwargs)


@st.composite
def recurrent_cases(draw: Any, layers: Any = RECURRENT_LAYERS, activations: Any = ACTIVATIONS,
                    batch: Any = (1, 3), steps: Any = (1, 5), features: Any = (1, 3), units: Any = (1, 4),
                    dtypes: Any = ("float64",), return_sequences: Any = BOOLEANS,
                    return_state: Any = BOOLEANS, use_bias: Any = BOOLEANS,
                    initial_state: Any = BOOLEANS,
                    recurrent_activations: Any = ("sigmoid", "hard_sigmoid")) -> RecurrentCase:
    """A ``RecurrentCase``: layer config, shapes, dtype, weights (``weight_sets``), x and initial states.

    Initial states, when drawn, are N(0, 0.5^2) with shape (B, H) each.

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, database=None)
        ... @given(recurrent_cases(layers=("lstm",), initial_state=True))
        ... def check(case):
        ...     y, cache = case.forward()
        ...     assert len(case.initial_state) == 2 and case.layer.built and case.x.ndim == 3
        >>> check()
    """
    user = [v for v in _as_tuple(layers) if not isinstance(v, str)]
    for name in _as_tuple(layers):
        if isinstance(name, str) and name not in RECURRENT_LAYERS:
            raise ValueError(f"layers must be chosen from {RECURRENT_LAYERS}, a Cell class or a layer factory; "
                             f"got {name!r}")
        if not isinstance(name, str) and not callable(name):
            raise TypeError(f"layers entries must be names, Cell classes or layer factories f(units); got {name!r}")
    if user:  # user code: a Cell class (-> RNN(cls(units))) or a factory f(units) -> Layer; no built-in options
        choice = draw(st.sampled_from(list(_as_tuple(layers))))
    else:
        choice = None
    x = draw(sequence_batches(batch, steps, features, dtypes))
    seed = draw(SEEDS)
    if choice is not None and not isinstance(choice, str):
        H = draw(_sizes("units", units))
        rs, rst = draw(_flag("return_sequences", return_sequences)), draw(_flag("return_state", return_state))
        if isinstance(choice, type) and issubclass(choice, Cell):
            layer = RNN(choice(H), return_sequences=rs, return_state=rst, dtype=x.dtype, seed=seed % 2**31)
        else:
            layer = choice(H)
            if not isinstance(layer, Layer):
                raise TypeError(f"a layer factory must return a minirnn Layer; {choice!r} returned "
                                f"{type(layer).__name__}")
        config = {"layer": getattr(choice, "__name__", repr(choice)), "units": H}
        layer.build(x.shape[1:])
        layer.set_weights(draw(weight_sets([w.shape for w in layer.get_weights()], x.dtype)))
        states = None
        if draw(_flag("initial_state", initial_state)) and isinstance(layer, RNN):
            rng = np.random.default_rng(seed)
            states = [(0.5 * rng.standard_normal((x.shape[0], n))).astype(x.dtype)
                      for n in layer.cell.state_sizes.values()]
        return RecurrentCase(layer, x, states, config, seed)
    if choice is not None:
        layers = (choice,)
    config = draw(layer_configs(layers, activations, units, return_sequences, return_state, use_bias,
                                recurrent_activations))
    layer = make_layer(config, x.dtype, seed=seed % 2**31)
    layer.build(x.shape[1:])
    layer.set_weights(draw(weight_sets([w.shape for w in layer.get_weights()], x.dtype)))
    states = None
    if draw(_flag("initial_state", initial_state)):
        rng = np.random.default_rng(seed)
        states = [(0.5 * rng.standard_normal((x.shape[0], layer.units))).astype(x.dtype)
                  for _ in range(layer.n_states)]
    return RecurrentCase(layer, x, states, config, seed)


def _as_tuple(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else ()


# -- user cells: values through hypothesis.extra.numpy.arrays, so failures shrink ----------------------------

def _bounded(shape: tuple[int, ...], bound: float) -> st.SearchStrategy:
    return arrays(np.float64, shape, elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False,
                                                        allow_subnormal=False))


@st.composite
def param_values(draw: Any, spec: Param, scale: float = 1.0, min_gain: float = 0.25) -> Array:
    """Values for one declared parameter, by its role: a matrix U(-1, 1) scale / sqrt(rows) (pre-activations
    O(1) at any size), a gain 1 + U(-1/2, 1/2) scale (|gain| >= ``min_gain`` assumed: a gain near 0 hides its
    input), a bias or a vector U(-1, 1) scale. Shrinks toward 0 (a gain toward 1).

    Example:
        >>> from hypothesis import given, settings
        >>> @settings(max_examples=5, database=None)
        ... @given(param_values(Param((3,), "ones", "gain")))
        ... def check(g):
        ...     assert g.shape == (3,) and np.all(np.abs(g - 1) <= 0.5)
        >>> check()
    """
    if not isinstance(spec, Param):
        raise TypeError(f"spec must be a minirnn.cells.Param; got {type(spec).__name__}")
    if spec.role == "matrix":
        return draw(_bounded(spec.shape, 1.0)) * (scale / np.sqrt(spec.shape[0]))
    if spec.role == "gain":
        g = 1.0 + draw(_bounded(spec.shape, 0.5 * scale))
        assume(bool(np.all(np.abs(g) >= min_gain)))
        return g
    return draw(_bounded(spec.shape, scale))


@dataclass
class CellCase:
    """A cell with concrete float64 values: x (B, T, D), its parameters by name, one initial state per state."""

    cell: Cell
    x: Array
    params: dict[str, Array]
    initial_states: tuple[Array, ...]

    @property
    def sizes(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.x.shape)  # type: ignore[return-value]

    def forward(self, **kwargs: Any):
        """``driver.forward`` on these values: (outputs (B, T, n_0), final states, cache)."""
        return driver.forward(self.cell, self.x, self.params, list(self.initial_states), **kwargs)

    def check(self, reject_kinks: bool = True, **options: Any) -> GradCheckReport:
        """The gradient check of ``check_cell`` at exactly these values (x, every initial state, every
        parameter). With ``reject_kinks`` an example with entries the check cannot judge (a kink within a step)
        is rejected as a Hypothesis assumption instead of failing."""
        names = list(self.cell.state_sizes)
        inputs = {"x": self.x.copy(), **{f"initial {n}": s.copy() for n, s in zip(names, self.initial_states)},
                  **{n: v.copy() for n, v in self.params.items()}}

        def forward(a):
            y, final, cache = driver.forward(self.cell, a["x"], {n: a[n] for n in self.params},
                                             [a[f"initial {n}"] for n in names])
            return [y, *final], cache

        def backward(cache, d):
            g = driver.backward(cache, d[0], d[1:])
            return {"x": g.dx, **{f"initial {n}": s for n, s in zip(names, g.initial_states)}, **g.params}

        report = check_kernel(forward, backward, inputs, title=f"{self.cell!r} on x{self.x.shape}", **options)
        if reject_kinks and report.not_judged and not any(c.verdict == "FAIL" for c in report.checks):
            reject()
        return report


def _make_cell(cell: Any, units: int) -> Cell:
    made = cell(units) if isinstance(cell, type) or not isinstance(cell, Cell) else cell
    return validate_cell(made)


@st.composite
def cell_cases(draw: Any, cell: Any, units: Any = (1, 4), batch: Any = (1, 3), steps: Any = (1, 4),
               features: Any = (1, 3), scale: float = 1.0, min_gain: float = 0.25) -> CellCase:
    """A ``CellCase`` for any cell: ``cell`` a Cell class or a factory (called with the drawn units) or an
    instance (its units fixed). Parameters by their declared roles (``param_values``), x U(-2, 2), initial
    states U(-1, 1), all through ``hypothesis.extra.numpy.arrays``: failures shrink to B = T = D = 1,
    one unit and values near 0.

    Example:
        >>> from hypothesis import given, settings
        >>> from minirnn.cells import LSTMCell
        >>> @settings(max_examples=3, deadline=None, database=None)
        ... @given(cell_cases(LSTMCell, units=(1, 2), steps=(1, 2)))
        ... def gradients_match(case):
        ...     assert case.check(fast=True).passed
        >>> gradients_match()
    """
    H = draw(_sizes("units", units)) if not isinstance(cell, Cell) else cell.units
    made = _make_cell(cell, H)
    B, T, D = draw(_sizes("batch", batch)), draw(_sizes("steps", steps)), draw(_sizes("features", features))
    params = {n: draw(param_values(spec, scale, min_gain), label=n) for n, spec in made.params(D).items()}
    x = draw(_bounded((B, T, D), 2.0), label="x")
    states = tuple(draw(_bounded((B, n), 1.0), label=f"initial {name}") for name, n in made.state_sizes.items())
    return CellCase(made, x, params, states)


# -- assertion helpers --------------------------------------------------------------------------------

def assert_gradients_match(subject: Any, *args: Any, reject_kinks: bool = True, **kwargs: Any) -> GradCheckReport:
    """Run the float64 gradient check that fits ``subject`` and raise AssertionError (with the report's
    table) unless every array passes; return the report.

    ``subject`` is a ``minirnn.cells.Cell`` (``check_cell(subject, **kwargs)``), a ``Layer``
    (``check_layer(subject, *args, **kwargs)``), a compiled ``Sequential``
    (``check_model(subject, x, y, **kwargs)``) or a ``GradCheckReport`` (asserted as it is). With
    ``reject_kinks``, a report that fails only because some entries could not be judged (a kink within a
    step) rejects the Hypothesis example instead (call it inside ``@given``).

    Example:
        >>> import numpy as np
        >>> from minirnn.layers import Dense
        >>> report = assert_gradients_match(Dense(2, activation="tanh", seed=0), np.ones((3, 4)))
        >>> report.passed
        True
    """
    if isinstance(subject, GradCheckReport):
        report = subject
    elif isinstance(subject, Sequential):
        report = check_model(subject, *args, **kwargs)
    elif isinstance(subject, Layer):
        report = check_layer(subject, *args, **kwargs)
    elif isinstance(subject, Cell):
        if args:
            raise TypeError("a cell check takes keyword options only (batch, steps, features, seed, ...)")
        report = check_cell(subject, **kwargs)
    else:
        raise TypeError(f"subject must be a Cell, a Layer, a Sequential or a GradCheckReport; "
                        f"got {type(subject).__name__}")
    if not report.passed:
        if reject_kinks and report.not_judged and not any(c.verdict == "FAIL" for c in report.checks) \
                and report.problem is None and not report.missing:
            reject()  # a degenerate example (a kink within a step), not a wrong gradient
        raise AssertionError("gradients do not match:\n" + report.table())
    return report


def assert_forward_matches(cell: Cell, step: Any, x: Any, params: dict, initial_states: Any = None, *,
                           tol: float = 1e-10, **forward_options: Any) -> float:
    """Assert that the driver's forward of ``cell`` equals your plain reference, step by step.

    ``step(x_t, states, params) -> new states`` (a tuple in ``cell.state_sizes`` order, the output first)
    is one time step written directly from the paper, with none of the cell's layout tricks; x (B, T, D);
    ``initial_states`` (default zeros). Every step's states must agree within ``tol`` (max(1, |reference|)).
    ``forward_options`` go to ``driver.forward`` (none that change the math: use the reference for that).
    Returns the largest error relative to that bound.

    Example:
        >>> import numpy as np
        >>> from minirnn.cells import SimpleRNNCell
        >>> rng = np.random.default_rng(0)
        >>> p = {"kernel": rng.standard_normal((2, 3)), "recurrent_kernel": rng.standard_normal((3, 3)),
        ...      "bias": rng.standard_normal(3)}
        >>> elman = lambda x, s, p: (np.tanh(x @ p["kernel"] + s[0] @ p["recurrent_kernel"] + p["bias"]),)
        >>> assert_forward_matches(SimpleRNNCell(3), elman, rng.standard_normal((2, 4, 2)), p) < 1
        True
    """
    cell = validate_cell(cell)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, steps, features); got {x.shape}")
    B, T, _ = x.shape
    names = list(cell.state_sizes)
    if initial_states is None:
        initial_states = [np.zeros((B, n)) for n in cell.state_sizes.values()]
    params = {n: np.asarray(v, dtype=np.float64) for n, v in params.items()}
    _, _, cache = driver.forward(cell, x, params, list(initial_states), **forward_options)
    states = tuple(np.asarray(s, dtype=np.float64) for s in initial_states)
    worst = 0.0
    for t in range(T):
        states = tuple(np.asarray(s, dtype=np.float64) for s in step(x[:, t], states, params))
        if len(states) != len(names):
            raise ValueError(f"the reference step must return {len(names)} states ({', '.join(names)}); "
                             f"got {len(states)}")
        for name, ref in zip(names, states):
            got = cache.states[name][t + 1]
            if got.shape != ref.shape:
                raise AssertionError(f"state {name!r} at step {t + 1}: shape {got.shape}, reference {ref.shape}")
            bound = tol * np.maximum(1.0, np.abs(ref))
            ratio = np.abs(got - ref) / bound
            if not np.all(ratio <= 1):  # NaN-safe: a NaN never satisfies <= 1
                k = np.unravel_index(int(np.argmax(np.where(np.isnan(ratio), np.inf, ratio))), ratio.shape)
                raise AssertionError(f"{type(cell).__name__} forward differs from the reference: state {name!r} "
                                     f"at step {t + 1} of {T}, entry {tuple(int(i) for i in k)}: {got[k]!r} vs "
                                     f"{ref[k]!r} (tol {tol:g} x max(1, |reference|))")
            worst = max(worst, float(np.max(ratio, initial=0.0)))
    return worst


def assert_agree_to_rounding(low: Any, reference: Any, n_ops: float, *, scale: float = 1.0,
                             name: str = "arrays") -> float:
    """Assert ``|low - reference| <= n_ops * eps * (scale + |reference|)`` elementwise; eps of ``low``'s dtype.

    Shapes: ``low`` and ``reference`` the same. ``n_ops`` is the number of roundings on the longest
    chain that produced a value (a dot product of length n contributes n); ``scale`` is the magnitude
    of the terms being summed, so that results of cancellation (small values from O(1) terms) are
    judged against the terms, not against themselves. Returns the largest ratio error/bound (<= 1).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).standard_normal(100)
        >>> ratio = assert_agree_to_rounding(x.astype(np.float32), x, 1)
        >>> ratio <= 0.5   # rounding to float32 costs at most half an ulp
        True
    """
    low, reference = np.asarray(low), np.asarray(reference)
    if low.shape != reference.shape:
        raise ValueError(f"{name}: shapes differ: {low.shape} vs {reference.shape}")
    if not np.issubdtype(low.dtype, np.floating):
        raise TypeError(f"{name}: low must be a floating array; got dtype {low.dtype}")
    eps = float(np.finfo(low.dtype).eps)
    bound = n_ops * eps * (scale + np.abs(reference.astype(np.float64)))
    err = np.abs(low.astype(np.float64) - reference.astype(np.float64))
    ratio = float(np.max(err / bound, initial=0.0))
    if not ratio <= 1:
        k = np.unravel_index(int(np.argmax(err / bound)), err.shape)
        raise AssertionError(f"{name} {low.dtype} and {reference.dtype} differ by more than rounding: at {k} "
                             f"|{low[k]!r} - {reference[k]!r}| = {err[k]:.3e} > {bound[k]:.3e} "
                             f"= {n_ops} * eps * ({scale} + |reference|)")
    return ratio
