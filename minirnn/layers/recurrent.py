"""Recurrent layers: SimpleRNN and LSTM, with Keras's options and weight layout.

Shapes: input (B, T, D); output (B, T, H) with ``return_sequences=True``, else (B, H) (the last h);
with ``return_state=True`` the layer returns ``[output, h_T]`` (SimpleRNN) or ``[output, h_T, c_T]``.

    SimpleRNN:  h_t = a(W_xh x_t + W_hh h_{t-1} + b_h)      kernel = W_xh^T (D, H), recurrent_kernel = W_hh^T
    LSTM:       z_t = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias, blocks i, f, c, o;
                c_t = s(z_f) * c_{t-1} + s(z_i) * a(z_c);   h_t = s(z_o) * a(c_t)

The arithmetic lives in ``minirnn.kernels.recurrent`` (one time-loop driver for every cell); a layer
holds the parameters, the config and the initial state handling.

Example:
    >>> import numpy as np
    >>> from minirnn.layers import LSTM
    >>> lstm = LSTM(8, return_state=True, seed=0)
    >>> out, h, c = lstm(np.zeros((2, 5, 3), dtype=np.float32))
    >>> out.shape, h.shape, c.shape, [w.shape for w in lstm.get_weights()]
    ((2, 8), (2, 8), (2, 8), [(3, 32), (8, 32), (32,)])
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import activations, initializers
from ..kernels.recurrent import (
    LSTMCell,
    RecurrentCell,
    SimpleRNNCell,
    recurrent_backward,
    recurrent_forward,
)
from .base import Layer, LayerGrads, as_float_array, check_positive_int

Array = np.ndarray


class RNN(Layer):
    """Common machinery of the recurrent layers; subclasses define ``make_cell``."""

    def __init__(self, units: int, activation: str | None = "tanh", use_bias: bool = True,
                 return_sequences: bool = False, return_state: bool = False,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = activations.get(activation).name
        self.use_bias = bool(use_bias)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._init_names = (kernel_initializer, recurrent_initializer, bias_initializer)

    def make_cell(self) -> RecurrentCell:
        raise NotImplementedError

    @property
    def cell(self) -> RecurrentCell:
        return self.make_cell()

    @property
    def n_states(self) -> int:
        return len(self.make_cell().state_names)

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) != 2:
            raise ValueError(f"{self.describe()} expects input of shape (batch, timesteps, features); "
                             f"got (batch, {', '.join(map(str, input_shape))})")
        D, H, k = input_shape[-1], self.units, self.make_cell().gates
        rng = self._rng()
        self.params = {
            "kernel": self.kernel_initializer((D, k * H), rng, self.dtype),
            "recurrent_kernel": self.recurrent_initializer((H, k * H), rng, self.dtype),
        }
        if self.use_bias:
            self.params["bias"] = self.initial_bias(rng)
        super().build(input_shape)

    def initial_bias(self, rng: np.random.Generator) -> Array:
        return self.bias_initializer((self.make_cell().gates * self.units,), rng, self.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None,
                initial_state: Sequence[Any] | None = None):
        """Returns ``(y, cache)``; y is the output, or ``[output, *final_states]`` with return_state."""
        states = self._check_initial_state(initial_state, x.shape[0])
        p = self.params
        seq, final, rcache = recurrent_forward(self.make_cell(), x, p["kernel"], p["recurrent_kernel"],
                                               p.get("bias"), states)
        out = seq if self.return_sequences else final[0]
        y = [out, *final] if self.return_state else out
        return y, rcache

    def trace(self, x: Any, initial_state: Sequence[Any] | None = None):
        """Run on x (B, T, D) in inference mode and record every step's gates and states, each (B, T, H).

        Returns a ``minirnn.inspection.Trace`` (LSTM: i, f, o, candidate, c, h; SimpleRNN: h).
        """
        from ..inspection import trace  # inspection imports this module

        return trace(self, x, initial_state=initial_state)

    def backward(self, cache, dy) -> LayerGrads:
        """dy is d(output), or with return_state a list ``[d_output, d_h_T(, d_c_T)]`` (entries may be None)."""
        if self.return_state:
            d_out, *d_final = dy
        else:
            d_out, d_final = dy, [None] * self.n_states
        d_final = list(d_final)
        d_seq = None
        if d_out is not None:
            if self.return_sequences:
                d_seq = d_out
            else:  # the output is h_T itself
                d_final[0] = d_out if d_final[0] is None else d_final[0] + d_out
        g = recurrent_backward(cache, d_seq, d_final)
        grads = {"kernel": g.kernel, "recurrent_kernel": g.recurrent_kernel}
        if self.use_bias:
            grads["bias"] = g.bias
        return LayerGrads(g.dx, grads, g.initial_states)

    def _check_initial_state(self, initial_state, batch: int):
        if initial_state is None:
            return None
        if isinstance(initial_state, np.ndarray):
            initial_state = [initial_state]
        initial_state = list(initial_state)
        names = self.make_cell().state_names
        if len(initial_state) != len(names):
            raise ValueError(f"initial_state for {self.describe()} must be a list of {len(names)} arrays "
                             f"({', '.join(names)}); got {len(initial_state)}")
        out = []
        for n, s in zip(names, initial_state):
            s = as_float_array(f"initial_state {n!r}", s, self.dtype)
            if s.shape != (batch, self.units):
                raise ValueError(f"initial_state {n!r} must have shape {(batch, self.units)}; got {s.shape}")
            out.append(s)
        return out

    def get_config(self) -> dict:
        k, r, b = self._init_names
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "kernel_initializer": k,
                "recurrent_initializer": r, "bias_initializer": b}


class SimpleRNN(RNN):
    """Fully connected RNN: ``h_t = a(W_xh x_t + W_hh h_{t-1} + b_h)`` (see the module docstring).

    Example:
        >>> import numpy as np
        >>> SimpleRNN(4, return_sequences=True, seed=0)(np.ones((2, 3, 1))).shape
        (2, 3, 4)
    """

    keras_name = "simple_rnn"

    def make_cell(self) -> SimpleRNNCell:
        return SimpleRNNCell(self.activation)


class LSTM(RNN):
    """Long short-term memory layer, Keras layout (gate blocks i, f, c, o); see ``LSTMCell``.

    ``unit_forget_bias=True`` (Keras's default) starts the forget-gate bias at 1, so that the cell
    remembers by default at the start of training.

    Example:
        >>> import numpy as np
        >>> LSTM(50, activation="relu", input_shape=(10, 1), seed=0)(np.ones((4, 10, 1))).shape
        (4, 50)
    """

    keras_name = "lstm"

    def __init__(self, units: int, activation: str | None = "tanh", recurrent_activation: str | None = "sigmoid",
                 unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation).name
        self.unit_forget_bias = bool(unit_forget_bias)

    def make_cell(self) -> LSTMCell:
        return LSTMCell(self.activation, self.recurrent_activation)

    def initial_bias(self, rng: np.random.Generator) -> Array:
        b = super().initial_bias(rng)
        if self.unit_forget_bias:
            b[self.units:2 * self.units] = 1
        return b

    def get_config(self) -> dict:
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}
