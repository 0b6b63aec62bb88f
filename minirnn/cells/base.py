"""The cell protocol: write a recurrent cell one time step at a time, in the paper's notation.

This is the module to read first. A *cell* is the math of one time step; ``minirnn.cells.driver``
runs it over a sequence (and back), and ``minirnn.layers.RNN(cell)`` makes a layer of it. The
built-in ``SimpleRNNCell``, ``LSTMCell`` and ``GRUCell`` (one module each, beside this one) are
written exactly as you would write your own.

A cell declares, without allocating anything:

* ``state_sizes``: an ordered dict ``{name: size}``; the first state is the output (h). Sizes may
  differ (an LSTM with a projection has h of P units and c of H).
* ``params(input_size)``: an ordered dict ``{name: Param(shape, init, role)}``, any names, each shape
  a function of the input size, the units and the cell's config. ``role`` is one of ``"matrix"``,
  ``"vector"``, ``"bias"``, ``"gain"`` (the checking and loading tools use it: a gain is drawn near 1).

and implements two steps, with B the batch size:

* ``forward(x, states, p) -> (new_states, cache)``: ``x`` (B, D) is the step's input, ``states`` a
  tuple of (B, size) arrays in ``state_sizes`` order, ``p`` the parameters by name. Returns the new
  states (the output is ``new_states[0]``) and a cache: anything the backward step needs (built-in
  cells use a dict of named arrays, so a student can print the gates).
* ``backward(d_states, cache) -> StepGrads(states, x, params)``: ``d_states`` are the gradients of the
  loss reaching the new states; return the gradients of the previous states (``None`` for a state that
  reaches the step only through a declared recurrent projection, below), of ``x``, and of every declared
  parameter (this step's contribution; the driver sums over time).

Nothing is implicit: the driver raises a ``ValueError`` naming the cell if a backward step omits a
parameter, returns one it did not declare, or returns a wrong shape.

Two optional declarations let the driver do the work that does not have to be sequential:

* ``input_projection = Projection("kernel", bias="bias")``: the input enters only as
  ``x_t @ kernel + bias``. The driver then computes it for all T steps in one matmul and passes it to
  ``forward`` as ``x`` (B, n); ``backward`` returns the gradient of that projection as ``x``, and the
  driver forms d kernel, d bias and dL/dx as single matmuls over all T*B rows.
* ``recurrent_projection = Projection("recurrent_kernel", state="h")``: the state h_{t-1} enters only as
  ``h_{t-1} @ recurrent_kernel`` (+ an optional bias). The driver computes it before each step and
  passes it as a fourth argument ``forward(x, states, p, hu)``; ``backward`` returns its gradient as
  ``StepGrads(..., recurrent=d_hu)``, and the driver adds ``d_hu @ recurrent_kernel^T`` to dL/dh_{t-1}
  and forms d recurrent_kernel = sum_t h_{t-1}^T d_hu_t as one matmul.

Parameters covered by a projection are the driver's: ``backward`` does not return them.

Dropout (Keras semantics: masks drawn once per sequence, reused at every step): the input mask
multiplies x_t; with an input projection of ``blocks`` gate blocks there may be one mask per block. The
recurrent mask multiplies the state of the recurrent projection, one per block; a cell without a
recurrent projection may set ``recurrent_dropout_blocks`` and then receives the (k, B, size) masks as
``forward(..., recurrent_mask=m)``; a cell that declares neither refuses ``recurrent_dropout``.

Worked example, an Elman cell ``h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)`` written plainly (the
built-in ``SimpleRNNCell`` is the same cell with both projections declared):

    >>> import numpy as np
    >>> from minirnn.cells import Cell, Param, StepGrads
    >>> class Elman(Cell):
    ...     def __init__(self, units):
    ...         self.units = units
    ...     @property
    ...     def state_sizes(self):
    ...         return {"h": self.units}
    ...     def params(self, input_size):
    ...         return {"W_xh": Param((input_size, self.units), "glorot_uniform", "matrix"),
    ...                 "W_hh": Param((self.units, self.units), "orthogonal", "matrix"),
    ...                 "b_h": Param((self.units,), "zeros", "bias")}
    ...     def forward(self, x, states, p):
    ...         (h_prev,) = states
    ...         h = np.tanh(x @ p["W_xh"] + h_prev @ p["W_hh"] + p["b_h"])
    ...         return (h,), {"x": x, "h_prev": h_prev, "h": h, "p": p}
    ...     def backward(self, d_states, cache):
    ...         (dh,), p = d_states, cache["p"]
    ...         dz = dh * (1 - cache["h"] ** 2)                      # tanh' from the output
    ...         return StepGrads(states=(dz @ p["W_hh"].T,), x=dz @ p["W_xh"].T,
    ...                          params={"W_xh": cache["x"].T @ dz, "W_hh": cache["h_prev"].T @ dz,
    ...                                  "b_h": dz.sum(axis=0)})
    >>> from minirnn.gradcheck import check_cell
    >>> check_cell(Elman(4)).passed
    True

The cache carries what backward needs, parameters included: the cell itself keeps no state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .. import activations, initializers

Array = np.ndarray

ROLES = ("matrix", "vector", "bias", "gain")


@dataclass(frozen=True)
class Param:
    """A declared parameter: its shape, its initializer (a name in ``minirnn.initializers`` or a
    callable ``f(shape, rng, dtype)``) and its role (``"matrix"``, ``"vector"``, ``"bias"``, ``"gain"``)."""

    shape: tuple[int, ...]
    init: str | Callable = "zeros"
    role: str = "matrix"

    def __post_init__(self):
        shape = tuple(int(s) for s in self.shape)
        if any(s <= 0 for s in shape):
            raise ValueError(f"Param shape entries must be positive; got {self.shape}")
        object.__setattr__(self, "shape", shape)
        if self.role not in ROLES:
            raise ValueError(f"Param role must be one of {ROLES}; got {self.role!r}")
        initializers.get(self.init)  # fail at declaration on an unknown initializer name


@dataclass(frozen=True)
class Projection:
    """A linear term the driver computes for the cell: ``input @ weight (+ bias)``.

    ``weight`` and ``bias`` name declared parameters; ``bias_row`` selects one row of a 2-D bias (Keras's
    GRU keeps its input and recurrent biases as the rows of one (2, 3H) array). ``state`` names the state
    a recurrent projection multiplies. ``blocks`` is the number of gate blocks side by side in the
    weight's columns: a dropout mask may be drawn per block (as Keras does for LSTM and GRU gates).
    """

    weight: str
    bias: str | None = None
    bias_row: int | None = None
    state: str | None = None
    blocks: int = 1


class StepGrads(NamedTuple):
    """What a backward step returns: gradients of the previous states (a tuple in ``state_sizes`` order;
    ``None`` entries mean "no direct path"), of the step input ``x`` (or of the input projection), of the
    parameters the cell owns (dict by name), and of the recurrent projection when one is declared."""

    states: tuple
    x: Array
    params: dict
    recurrent: Array | None = None


class Cell:
    """Base class of every cell, built-in or yours; see the module docstring for the protocol.

    Subclasses set ``units`` and implement ``state_sizes``, ``params``, ``forward`` and ``backward``.
    ``get_config`` returns the constructor arguments (for saving); the default reads the attributes named
    like the ``__init__`` parameters.
    """

    units: int
    input_projection: Projection | None = None
    recurrent_projection: Projection | None = None
    recurrent_dropout_blocks: int = 0  # cells without a recurrent projection that handle the mask themselves

    @property
    def state_sizes(self) -> dict[str, int]:
        raise NotImplementedError(f"{type(self).__name__} must define state_sizes, e.g. {{'h': units}}")

    @property
    def output_size(self) -> int:
        return next(iter(self.state_sizes.values()))

    def params(self, input_size: int) -> dict[str, Param]:
        raise NotImplementedError(f"{type(self).__name__} must declare its parameters in params(input_size)")

    def forward(self, x: Array, states: tuple, p: Mapping[str, Array], *args: Any, **kwargs: Any):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x, states, p)")

    def backward(self, d_states: tuple, cache: Any) -> StepGrads:
        raise NotImplementedError(f"{type(self).__name__} must implement backward(d_states, cache)")

    def trace(self, cache: Any) -> dict[str, Array]:
        """The named per-step arrays ``minirnn.inspection.trace`` shows beside the states (gates)."""
        if isinstance(cache, Mapping):
            return {k: v for k, v in cache.items() if isinstance(v, np.ndarray) and v.ndim == 2}
        return {}

    @property
    def recurrent_dropout_supported(self) -> int:
        """How many recurrent masks the cell takes (one per gate block), 0 if it refuses recurrent dropout."""
        if self.recurrent_projection is not None:
            return self.recurrent_projection.blocks
        return self.recurrent_dropout_blocks

    @property
    def dropout_blocks(self) -> int:
        return self.input_projection.blocks if self.input_projection is not None else 1

    def get_config(self) -> dict:
        import inspect

        names = [n for n, prm in inspect.signature(type(self).__init__).parameters.items()
                 if n != "self" and prm.kind in (prm.POSITIONAL_OR_KEYWORD, prm.KEYWORD_ONLY)]
        return {n: getattr(self, n) for n in names if hasattr(self, n)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class GatedCell(Cell):
    """Shared by the cells with an activation ``a`` and a gate activation ``s`` (LSTM, GRU): both validated
    at construction and looked up once, not at every step."""

    def __init__(self, units: int, activation: str | None = "tanh", recurrent_activation: str | None = "sigmoid"):
        self.units = check_units(units)
        self.activation = activations.get(activation).name
        self.recurrent_activation = activations.get(recurrent_activation).name
        self.a = activations.get(self.activation)
        self.s = activations.get(self.recurrent_activation)


def check_units(units: Any) -> int:
    if isinstance(units, bool) or not isinstance(units, (int, np.integer)):
        raise TypeError(f"units must be a positive integer; got {units!r} of type {type(units).__name__}")
    if units <= 0:
        raise ValueError(f"units must be a positive integer; got {units}")
    return int(units)


def split_blocks(z: Array, k: int) -> list[Array]:
    """The k gate blocks side by side in z (B, k n), as views: ``i, f, g, o = split_blocks(z, 4)``."""
    n = z.shape[-1] // k
    return [z[..., j * n:(j + 1) * n] for j in range(k)]


# -- registration: the classes loading may construct --------------------------------------------------

CELLS: dict[str, type] = {}


def register_cell(cls: type | None = None, *, name: str | None = None):
    """Class decorator: make a cell class known by name, so layers using it save and load
    (as ``keras.saving.register_keras_serializable``). ``@register_cell`` or ``@register_cell(name=...)``.

    Re-running the definition (a notebook cell, a script executed again) replaces the class registered
    under that name when it comes from the same module and has the same qualified name; a different class
    under a taken name is refused.
    """
    def decorate(c: type) -> type:
        if not (isinstance(c, type) and issubclass(c, Cell)):
            raise TypeError(f"register_cell expects a Cell subclass; got {c!r}")
        key = name or c.__name__
        old = CELLS.get(key)
        if old is not None and old is not c and (old.__module__, old.__qualname__) != (c.__module__, c.__qualname__):
            raise ValueError(f"a different cell class is already registered as {key!r}: {old.__module__}."
                             f"{old.__qualname__}")
        CELLS[key] = c
        c._registered_name = key
        return c
    return decorate(cls) if cls is not None else decorate


def registered_name(cell: Cell) -> str:
    """The name a cell's class was registered under (its class name if it was never registered)."""
    cls = type(cell)
    key = cls.__dict__.get("_registered_name")
    return key if key is not None else cls.__name__
