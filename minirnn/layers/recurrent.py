"""Recurrent layers: ``RNN(cell)`` for any cell, and SimpleRNN, LSTM, GRU as thin configurations of it.

Shapes: input (B, T, D); output (B, T, n) with ``return_sequences=True``, else (B, n) (the last output),
n the size of the cell's first state; with ``return_state=True`` the layer returns
``[output, *final_states]`` (SimpleRNN and GRU: h_T; LSTM: h_T, c_T).

The math is the cell's (``minirnn.cells``: one module per cell, one step forward and one backward); the
time loop is ``minirnn.cells.driver``; a layer holds the parameters (created from the cell's declarations
with Keras's initializers and order), the options and the carried state of a stateful layer.

Example:
    >>> import numpy as np
    >>> from minirnn.cells import LSTMCell
    >>> from minirnn.layers import LSTM, RNN
    >>> lstm = LSTM(8, return_state=True, seed=0)
    >>> out, h, c = lstm(np.zeros((2, 5, 3), dtype=np.float32))
    >>> out.shape, h.shape, c.shape, [w.shape for w in lstm.get_weights()]
    ((2, 8), (2, 8), (2, 8), [(3, 32), (8, 32), (32,)])
    >>> same = RNN(LSTMCell(8), return_state=True, seed=0)
    >>> bool(np.array_equal(same(np.ones((2, 5, 3)))[0], lstm(np.ones((2, 5, 3)))[0]))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import initializers
from ..cells import CELLS, Cell, GRUCell, LSTMCell, SimpleRNNCell, driver
from ..cells.base import registered_name
from ..kernels.dropout import dropout_mask
from .base import Layer, LayerGrads, as_float_array, check_rate

Array = np.ndarray

_RNN_OPTIONS = ("return_sequences", "return_state", "go_backwards", "stateful", "dropout", "recurrent_dropout",
                "zero_output_for_mask")


def _cell_spec(cell: Cell) -> dict:
    return {"class_name": registered_name(cell), "config": cell.get_config()}


def cell_from_spec(spec: Any) -> Cell:
    """A cell from ``{"class_name": ..., "config": {...}}``; the class must be registered (``register_cell``)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str) \
            or not isinstance(spec.get("config"), dict):
        raise ValueError(f"a cell spec must be {{'class_name': str, 'config': dict}}; got {spec!r}")
    cls = CELLS.get(spec["class_name"])
    if cls is None:
        raise ValueError(f"unknown cell class {spec['class_name']!r}: register it with "
                         f"@minirnn.cells.register_cell (known: {sorted(CELLS)})")
    return cls(**spec["config"])


class RNN(Layer):
    """A recurrent layer around any cell, as ``keras.layers.RNN(cell)``.

    Options (Keras semantics): ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``,
    ``dropout`` (on x_t) and ``recurrent_dropout`` (on the state of the cell's recurrent projection), each a
    mask drawn once per batch and reused at every step, one per gate block when recurrent_dropout > 0 (as
    Keras draws them), and ``zero_output_for_mask``. Plus the base options input_shape, dtype, name, seed.

    Example:
        >>> import numpy as np
        >>> from minirnn.cells import GRUCell
        >>> RNN(GRUCell(4), return_sequences=True, seed=0)(np.ones((2, 3, 1))).shape
        (2, 3, 4)
    """

    keras_name = "rnn"
    uses_mask = True

    def __init__(self, cell: Cell, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, zero_output_for_mask: bool = False, **kwargs):
        if not isinstance(cell, Cell):
            hint = (" (the old RNN(units, ...) base class is gone: use RNN(cell), e.g. RNN(LSTMCell(units)), "
                    "or SimpleRNN/LSTM/GRU(units))") if isinstance(cell, (int, np.integer)) else ""
            raise TypeError(f"RNN takes a cell (a minirnn.cells.Cell); got {cell!r}{hint}")
        super().__init__(**kwargs)
        self.cell = cell
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        if self.recurrent_dropout and not cell.recurrent_dropout_supported:
            raise ValueError(f"{type(cell).__name__} refuses recurrent_dropout: it declares no recurrent projection "
                             f"and no recurrent_dropout_blocks; got recurrent_dropout={recurrent_dropout}")
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.stateful = bool(stateful)
        self.go_backwards = bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states: list[Array] | None = None  # the carried state of a stateful layer
        self._mask_rng = np.random.default_rng(self.seed)

    # -- what the cell declares -----------------------------------------------------------------------
    @property
    def units(self) -> int:
        return self.cell.units

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(self.cell.state_sizes)

    @property
    def n_states(self) -> int:
        return len(self.cell.state_sizes)

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 2:
            raise ValueError(f"{self.describe()} expects input of shape (batch, timesteps, features); "
                             f"got (batch, {', '.join(map(str, input_shape))})")
        rng = self._rng()
        self.params = {n: initializers.get(spec.init)(spec.shape, rng, self.dtype)
                       for n, spec in self.cell.params(input_shape[-1]).items()}
        super().build(input_shape)

    def check_input_shape(self, shape: tuple, name: str = "x") -> None:
        super().check_input_shape(shape, name)
        if shape[1] == 0:
            raise ValueError(f"{name} has zero time steps (shape {tuple(shape)}); a recurrent layer needs at least one")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        n = self.cell.output_size
        return (input_shape[0], n) if self.return_sequences else (n,)

    # -- running --------------------------------------------------------------------------------------
    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None,
                initial_state: Sequence[Any] | None = None, mask: Array | None = None,
                dropout_masks: tuple[Array | None, Array | None] | None = None):
        """Returns ``(y, cache)``; y is the output, or ``[output, *final_states]`` with return_state.

        ``mask`` (B, T) bool marks real steps (False = padding, e.g. from a ``Masking`` layer);
        ``dropout_masks`` injects (input_mask, recurrent_mask) instead of drawing them from ``rng``.
        A stateful layer starts from its carried ``states`` and keeps the final ones.
        """
        B = x.shape[0]
        states = self._check_initial_state(initial_state, B)
        if states is None and self.stateful and self.states is not None:
            if self.states[0].shape[0] != B:
                raise ValueError(f"stateful {self.describe()} carries states for batch size "
                                 f"{self.states[0].shape[0]}; got a batch of {B} (call reset_states() first)")
            states = self.states
        in_mask, rec_mask = dropout_masks if dropout_masks is not None else self._draw_dropout_masks(
            x, training, rng)
        seq, final, cache = driver.forward(
            self.cell, x, self.params, states, input_mask=in_mask, recurrent_mask=rec_mask, step_mask=mask,
            go_backwards=self.go_backwards, zero_output_for_mask=self.zero_output_for_mask)
        if self.stateful:
            self.states = [f.copy() for f in final]
        if self.return_sequences:
            out = seq
        elif cache.output_mask is not None:
            # Keras's last output is the last step's masked output: zeros when that step is padding
            # (zero_output_for_mask) or when no step was real
            out = seq[:, -1]
        else:
            out = final[0]
        y = [out, *final] if self.return_state else out
        return y, cache

    def compute_mask(self, x: Array, mask: Array | None) -> Array | None:
        """The mask passed on: the step mask with return_sequences, none after the last step.

        With go_backwards the outputs come in processing order, yet Keras passes the input's mask on
        unreversed (layers after it and the loss read it that way); so does minirnn, for Keras's numbers.
        """
        if mask is None or not self.return_sequences:
            return None
        return mask

    def reset_states(self, states: Sequence[Any] | None = None) -> None:
        """Forget the carried state of a stateful layer (or set it to ``states``)."""
        if not self.stateful:
            raise ValueError(f"{self.describe()} is not stateful (stateful=False)")
        if states is None:
            self.states = None
        else:
            self.states = self._check_initial_state(states, np.shape(list(states)[0])[0])

    def dropout_mask_count(self) -> int:
        """Keras draws one mask per gate block when recurrent_dropout > 0 (its 'implementation 1')."""
        return self.cell.recurrent_dropout_supported or 1 if self.recurrent_dropout else 1

    def _draw_dropout_masks(self, x: Array, training: bool, rng: np.random.Generator | None):
        """Masks drawn once per batch and reused at every step (Keras 3), or (None, None) outside training."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        rng = rng if rng is not None else self._mask_rng
        k = self.dropout_mask_count()
        k_in = min(k, self.cell.dropout_blocks)
        B, _, D = x.shape
        proj = self.cell.recurrent_projection
        n = self.cell.state_sizes[proj.state] if proj is not None else self.cell.output_size
        in_mask = dropout_mask((k_in, B, D), self.dropout, rng, x.dtype) if self.dropout else None
        rec_mask = dropout_mask((k, B, n), self.recurrent_dropout, rng, x.dtype) if self.recurrent_dropout else None
        return in_mask, rec_mask

    def trace(self, x: Any, initial_state: Sequence[Any] | None = None, mask: Any = None):
        """Run on x (B, T, D) in inference mode and record every step's gates and states, each (B, T, n).

        Returns a ``minirnn.cells.trace.Trace`` (LSTM: i, f, o, candidate, c, h; SimpleRNN: h).
        ``initial_state`` and ``mask`` (B, T) are as for ``forward``. Nothing changes: not the weights,
        and not the carried state of a stateful layer. (``minirnn.tools.inspection.trace`` also traces
        a layer inside a ``Sequential`` model.)
        """
        from ..cells.trace import trace_from_cache

        x = self.prepare_input(x)
        kwargs = {} if mask is None else {"mask": np.asarray(mask, dtype=bool)}
        carried = getattr(self, "states", None)
        try:
            _, cache = self.forward(x, training=False, initial_state=initial_state, **kwargs)
        finally:
            if getattr(self, "stateful", False):
                self.states = carried  # a trace looks; it does not advance a stateful layer
        return trace_from_cache(cache)

    def backward(self, cache, dy) -> LayerGrads:
        """dy is d(output), or with return_state a list ``[d_output, d_state_T, ...]`` (entries may be None)."""
        if self.return_state:
            d_out, *d_final = dy
        else:
            d_out, d_final = dy, [None] * self.n_states
        d_final = list(d_final)
        d_seq = None
        if d_out is not None:
            if self.return_sequences:
                d_seq = d_out
            elif cache.output_mask is not None:  # the output is the last step's masked output
                d_seq = np.zeros((d_out.shape[0], cache.T, d_out.shape[1]), d_out.dtype)
                d_seq[:, -1] = d_out
            else:  # the output is the last state itself
                d_final[0] = d_out if d_final[0] is None else d_final[0] + d_out
        g = driver.backward(cache, d_seq, d_final)
        return LayerGrads(g.dx, dict(g.params), g.initial_states)

    def _check_initial_state(self, initial_state, batch: int):
        if initial_state is None:
            return None
        if isinstance(initial_state, np.ndarray):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        sizes = self.cell.state_sizes
        if len(initial_state) != len(sizes):
            raise ValueError(f"initial_state for {self.describe()} must be a list of {len(sizes)} arrays "
                             f"({', '.join(sizes)}); got {len(initial_state)}")
        out = []
        for (n, size), s in zip(sizes.items(), initial_state):
            s = as_float_array(f"initial_state {n!r}", s, self.dtype)
            if s.shape != (batch, size):
                raise ValueError(f"initial_state {n!r} must have shape {(batch, size)}; got {s.shape}")
            out.append(s)
        return out

    def _options(self) -> dict:
        return {k: getattr(self, k) for k in _RNN_OPTIONS}

    def get_config(self) -> dict:
        return {**super().get_config(), "cell": _cell_spec(self.cell), **self._options()}

    @classmethod
    def from_config(cls, config: dict) -> RNN:
        config = dict(config)
        return cls(cell_from_spec(config.pop("cell", None)), **config)

    def describe(self) -> str:
        base = super().describe()
        return base if type(self) is not RNN else base.replace("RNN layer", f"RNN({type(self.cell).__name__}) layer")


class _BuiltinRNN(RNN):
    """SimpleRNN, LSTM and GRU: the layer's config is the cell's config plus the RNN options (Keras's form)."""

    cell_class: type = Cell

    @classmethod
    def from_config(cls, config: dict) -> RNN:
        return cls(**config)

    def get_config(self) -> dict:
        base = Layer.get_config(self)
        return {**base, **self.cell.get_config(), **self._options()}

    def __getattr__(self, name: str):
        # the cell's options (activation, use_bias, ...) read as the layer's, as in Keras
        cell = self.__dict__.get("cell")
        if cell is not None and name in cell.get_config():
            return getattr(cell, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class SimpleRNN(_BuiltinRNN):
    """Fully connected RNN: ``h_t = a(W_hh h_{t-1} + W_xh x_t + b_h)``; the cell is ``SimpleRNNCell``.

    Example:
        >>> import numpy as np
        >>> SimpleRNN(4, return_sequences=True, seed=0)(np.ones((2, 3, 1))).shape
        (2, 3, 4)
    """

    keras_name = "simple_rnn"

    def __init__(self, units: int, activation: str | None = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, zero_output_for_mask: bool = False, **kwargs):
        cell = SimpleRNNCell(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer)
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, dropout, recurrent_dropout,
                         zero_output_for_mask, **kwargs)


class LSTM(_BuiltinRNN):
    """Long short-term memory layer, Keras layout (gate blocks i, f, c, o); the cell is ``LSTMCell``.

    ``unit_forget_bias=True`` (Keras's default) starts the forget-gate bias at 1, so that the cell
    remembers by default at the start of training.

    Example:
        >>> import numpy as np
        >>> LSTM(50, activation="relu", input_shape=(10, 1), seed=0)(np.ones((4, 10, 1))).shape
        (4, 50)
    """

    keras_name = "lstm"

    def __init__(self, units: int, activation: str | None = "tanh", recurrent_activation: str | None = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, zero_output_for_mask: bool = False, **kwargs):
        cell = LSTMCell(units, activation, recurrent_activation, use_bias, unit_forget_bias, kernel_initializer,
                        recurrent_initializer, bias_initializer)
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, dropout, recurrent_dropout,
                         zero_output_for_mask, **kwargs)


class GRU(_BuiltinRNN):
    """Gated recurrent unit, Keras layout (gate blocks z, r, h); the cell is ``GRUCell``.

    With ``reset_after=True`` (Keras's default) the bias is (2, 3H): row 0 the input bias, row 1 the
    recurrent bias inside ``r * (h_{t-1} @ U_h + b_rec_h)``; with ``reset_after=False`` it is (3H,).

    Example:
        >>> import numpy as np
        >>> gru = GRU(4, seed=0)
        >>> gru(np.ones((2, 3, 5))).shape, [w.shape for w in gru.get_weights()]
        ((2, 4), [(5, 12), (4, 12), (2, 12)])
    """

    keras_name = "gru"

    def __init__(self, units: int, activation: str | None = "tanh", recurrent_activation: str | None = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, reset_after: bool = True,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, zero_output_for_mask: bool = False, **kwargs):
        cell = GRUCell(units, activation, recurrent_activation, use_bias, reset_after, kernel_initializer,
                       recurrent_initializer, bias_initializer)
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, dropout, recurrent_dropout,
                         zero_output_for_mask, **kwargs)
