"""Recurrent layers: SimpleRNN, LSTM and GRU, with Keras's options and weight layout.

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

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import activations, initializers
from ..kernels.dropout import dropout_mask
from ..kernels.recurrent import (
    GRUCell,
    LSTMCell,
    RecurrentCell,
    SimpleRNNCell,
    recurrent_backward,
    recurrent_forward,
)
from .base import Layer, LayerGrads, as_float_array, check_positive_int, check_rate

Array = np.ndarray


class RNN(Layer):
    """Common machinery of the recurrent layers; subclasses define ``make_cell``."""

    def __init__(self, units: int, activation: str | None = "tanh", use_bias: bool = True,
                 return_sequences: bool = False, return_state: bool = False,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 stateful: bool = False, go_backwards: bool = False, zero_output_for_mask: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.stateful = bool(stateful)
        self.go_backwards = bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states: list[Array] | None = None  # the carried state of a stateful layer
        self._mask_rng = np.random.default_rng(self.seed)
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

    def check_input_shape(self, shape: tuple, name: str = "x") -> None:
        super().check_input_shape(shape, name)
        if shape[1] == 0:
            raise ValueError(f"{name} has zero time steps (shape {tuple(shape)}); a recurrent layer needs at least one")

    def initial_bias(self, rng: np.random.Generator) -> Array:
        return self.bias_initializer((self.make_cell().gates * self.units,), rng, self.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    uses_mask = True

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
        bias, recurrent_bias = self.kernel_biases()
        p = self.params
        seq, final, rcache = recurrent_forward(
            self.make_cell(), x, p["kernel"], p["recurrent_kernel"], bias, states,
            recurrent_bias=recurrent_bias, input_mask=in_mask, recurrent_mask=rec_mask, step_mask=mask,
            go_backwards=self.go_backwards, zero_output_for_mask=self.zero_output_for_mask)
        if self.stateful:
            self.states = [f.copy() for f in final]
        if self.return_sequences:
            out = seq
        elif self._last_output_masked(rcache):
            # Keras's last output is the last step's masked output: zeros when that step is padding
            # (zero_output_for_mask) or when no step was real
            out = seq[:, -1]
        else:
            out = final[0]
        y = [out, *final] if self.return_state else out
        return y, rcache

    def compute_mask(self, x: Array, mask: Array | None) -> Array | None:
        """The mask passed on: the step mask with return_sequences, none after the last step.

        With go_backwards the outputs come in processing order, yet Keras passes the input's mask on
        unreversed (layers after it and the loss read it that way); so does minirnn, for Keras's numbers.
        """
        if mask is None or not self.return_sequences:
            return None
        return mask

    @staticmethod
    def _last_output_masked(cache) -> bool:
        return "output_mask" in cache.buffers  # set by recurrent_forward when some output is zeroed

    def reset_states(self, states: Sequence[Any] | None = None) -> None:
        """Forget the carried state of a stateful layer (or set it to ``states``)."""
        if not self.stateful:
            raise ValueError(f"{self.describe()} is not stateful (stateful=False)")
        if states is None:
            self.states = None
        else:
            self.states = self._check_initial_state(states, np.shape(list(states)[0])[0])

    def kernel_biases(self) -> tuple[Array | None, Array | None]:
        """(bias, recurrent_bias) as the kernel takes them; only the GRU with reset_after has the second."""
        return self.params.get("bias"), None

    def bias_gradient(self, g) -> Array:
        return g.bias

    def dropout_mask_count(self) -> int:
        """Keras draws one mask per gate block when recurrent_dropout > 0 (its 'implementation 1')."""
        return 1

    def _draw_dropout_masks(self, x: Array, training: bool, rng: np.random.Generator | None):
        """Masks drawn once per batch and reused at every step (Keras 3), or (None, None) outside training."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        rng = rng if rng is not None else self._mask_rng
        k = self.dropout_mask_count()
        B, _, D = x.shape
        in_mask = dropout_mask((k, B, D), self.dropout, rng, x.dtype) if self.dropout else None
        rec_mask = dropout_mask((k, B, self.units), self.recurrent_dropout, rng, x.dtype) \
            if self.recurrent_dropout else None
        return in_mask, rec_mask

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
            elif self._last_output_masked(cache):  # the output is the last step's masked output
                d_seq = np.zeros(cache.buffers["h"].shape[1:2] + (cache.T, self.units), d_out.dtype)
                d_seq[:, -1] = d_out
            else:  # the output is h_T itself
                d_final[0] = d_out if d_final[0] is None else d_final[0] + d_out
        g = recurrent_backward(cache, d_seq, d_final)
        grads = {"kernel": g.kernel, "recurrent_kernel": g.recurrent_kernel}
        if self.use_bias:
            grads["bias"] = self.bias_gradient(g)
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
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "stateful": self.stateful,
                "go_backwards": self.go_backwards, "zero_output_for_mask": self.zero_output_for_mask,
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

    def dropout_mask_count(self) -> int:
        return 4 if self.recurrent_dropout else 1

    def initial_bias(self, rng: np.random.Generator) -> Array:
        b = super().initial_bias(rng)
        if self.unit_forget_bias:
            b[self.units:2 * self.units] = 1
        return b

    def get_config(self) -> dict:
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}


class GRU(RNN):
    """Gated recurrent unit, Keras layout (gate blocks z, r, h); see ``GRUCell`` for the equations.

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
                 reset_after: bool = True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation).name
        self.reset_after = bool(reset_after)

    def make_cell(self) -> GRUCell:
        return GRUCell(self.activation, self.recurrent_activation, self.reset_after)

    def dropout_mask_count(self) -> int:
        return 3 if self.recurrent_dropout else 1

    def initial_bias(self, rng: np.random.Generator) -> Array:
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        return self.bias_initializer(shape, rng, self.dtype)

    def kernel_biases(self) -> tuple[Array | None, Array | None]:
        b = self.params.get("bias")
        if b is None or not self.reset_after:
            return b, None
        return b[0], b[1]

    def bias_gradient(self, g) -> Array:
        return np.stack([g.bias, g.recurrent_bias]) if self.reset_after else g.bias

    def get_config(self) -> dict:
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}
