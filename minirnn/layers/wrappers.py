"""Wrappers: ``Bidirectional`` (a recurrent layer run both ways) and ``TimeDistributed`` (a layer per step).

Shapes: Bidirectional(layer with H units) maps (B, T, D) to (B, 2H) (merge_mode='concat'; (B, H) for
sum, mul, ave; a list of two for None), or to (B, T, 2H) with return_sequences. With the wrapped layer's
return_state it returns ``[output, *forward_states, *backward_states]`` (merge_mode=None:
``[y_f, y_b, *forward_states, *backward_states]``), and ``initial_state`` is one list, the forward
layer's states first, then the backward layer's (Keras: the first half goes forwards, the second half
backwards), each (B, n).
TimeDistributed(layer) maps (B, T, ...) to (B, T, ...) by applying the layer to each of the T steps; a
(B, T) step mask passes through it unchanged (Keras's).

    Bidirectional:  y_f = forward_layer(x);   y_b = backward_layer(x)  (go_backwards, re-reversed in time
                    for sequences so that y_b[:, t] belongs to step t);   y = merge(y_f, y_b)
    TimeDistributed: y[:, t] = layer(x[:, t])   (one call on the (B T, ...) reshaped input)

Keras's weight order: the forward layer's weights, then the backward layer's.

Example:
    >>> import numpy as np
    >>> from minirnn.layers import LSTM, Dense, Bidirectional, TimeDistributed
    >>> bi = Bidirectional(LSTM(3, return_sequences=True, seed=0))
    >>> y = bi(np.ones((2, 5, 4)))
    >>> y.shape, len(bi.get_weights())
    ((2, 5, 6), 6)
    >>> TimeDistributed(Dense(2, seed=0))(y).shape
    (2, 5, 2)
    >>> bi = Bidirectional(LSTM(3, return_state=True, seed=0))
    >>> y, h_f, c_f, h_b, c_b = bi(np.ones((2, 5, 4)), initial_state=[np.zeros((2, 3))] * 4)
    >>> y.shape, h_b.shape
    ((2, 6), (2, 3))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .base import LAYERS, Layer, LayerGrads
from .recurrent import RNN

Array = np.ndarray

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _layer_from_config(spec: dict) -> Layer:
    cls = LAYERS.get(spec.get("class_name"))
    if cls is None:
        raise ValueError(f"unknown layer class {spec.get('class_name')!r}; expected one of {sorted(LAYERS)}")
    return cls.from_config(spec["config"])


def _layer_spec(layer: Layer) -> dict:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _check_backward_layer(layer: RNN, backward: Any) -> None:
    """Keras's rule for a given backward layer: recurrent, the other go_backwards, the same other options."""
    if not isinstance(backward, RNN):
        raise TypeError(f"Bidirectional's backward_layer must be a recurrent layer; got {type(backward).__name__}")
    if backward.go_backwards == layer.go_backwards:
        raise ValueError(f"Bidirectional's layer and backward_layer must have different go_backwards; both have "
                         f"go_backwards={layer.go_backwards}")
    for option in ("stateful", "return_sequences", "return_state"):
        if getattr(layer, option) != getattr(backward, option):
            raise ValueError(f"Bidirectional's layer and backward_layer must have the same {option}; got "
                             f"{getattr(layer, option)} for layer and {getattr(backward, option)} for backward_layer")


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards and merges the two outputs.

    ``return_state`` is the wrapped layer's: the call then returns ``[output, *forward_states,
    *backward_states]``. ``forward(x, initial_state=[*forward_states, *backward_states])`` starts each
    direction from its half; the backward pass returns the gradients of all of them, in that order.
    A ``backward_layer``, when given, must be a recurrent layer with the same stateful,
    return_sequences and return_state as ``layer`` and the other go_backwards (Keras's rule).
    """

    keras_name = "bidirectional"
    uses_mask = True

    def __init__(self, layer: RNN, merge_mode: str | None = "concat", backward_layer: RNN | None = None,
                 **kwargs):
        if not isinstance(layer, RNN):
            raise TypeError(f"Bidirectional wraps a recurrent layer; got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {MERGE_MODES}; got {merge_mode!r}")
        if backward_layer is not None:
            _check_backward_layer(layer, backward_layer)
        kwargs.setdefault("dtype", layer.dtype)
        kwargs.setdefault("input_shape", layer.input_shape)
        super().__init__(**kwargs)
        if backward_layer is None:
            config = layer.get_config()
            config.update(go_backwards=not layer.go_backwards, name=None,
                          seed=None if layer.seed is None else layer.seed + 1)
            backward_layer = type(layer).from_config(config)
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = self.return_sequences  # as Keras forces it

    def build(self, input_shape: tuple) -> None:
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(input_shape)
        self.params = {**{f"forward_{k}": v for k, v in self.forward_layer.params.items()},
                       **{f"backward_{k}": v for k, v in self.backward_layer.params.items()}}
        super().build(input_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = self.forward_layer.compute_output_shape(input_shape)
        return (*shape[:-1], 2 * shape[-1]) if self.merge_mode == "concat" else shape

    def compute_mask(self, x: Array, mask: Array | None) -> Array | None:
        return mask if self.return_sequences else None

    @property
    def stateful(self) -> bool:
        """Whether the wrapped layers carry their states from call to call (as Keras's wrapper reports)."""
        return self.forward_layer.stateful

    def reset_states(self) -> None:
        """Forget the carried states of both directions (so that ``Sequential.reset_states`` reaches them)."""
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    @property
    def state_names(self) -> tuple[str, ...]:
        """The states of ``initial_state`` and of a return_state output, in order: forward's, then backward's."""
        return (*(f"forward {n}" for n in self.forward_layer.state_names),
                *(f"backward {n}" for n in self.backward_layer.state_names))

    @property
    def state_sizes(self) -> dict[str, int]:
        """``{state name: size}`` for ``state_names`` (each state is (B, size))."""
        sizes = (*self.forward_layer.cell.state_sizes.values(), *self.backward_layer.cell.state_sizes.values())
        return dict(zip(self.state_names, sizes))

    def _check_initial_state(self, initial_state: Any, batch: int) -> tuple[list[Array] | None, list[Array] | None]:
        """``(forward states, backward states)`` from one list (Keras: the first half forwards), each checked."""
        if initial_state is None:
            return None, None
        if isinstance(initial_state, np.ndarray) or not isinstance(initial_state, (list, tuple)):
            raise TypeError(f"initial_state for {self.describe()} must be a list of {len(self.state_names)} arrays "
                            f"({', '.join(self.state_names)}); got {type(initial_state).__name__}")
        n_f = self.forward_layer.n_states
        if len(initial_state) != n_f + self.backward_layer.n_states:
            raise ValueError(f"initial_state for {self.describe()} must be a list of {len(self.state_names)} arrays "
                             f"({', '.join(self.state_names)}: the forward layer's, then the backward layer's); "
                             f"got {len(initial_state)}")
        states = list(initial_state)
        return (self.forward_layer._check_initial_state(states[:n_f], batch),
                self.backward_layer._check_initial_state(states[n_f:], batch))

    def _align(self, y: Array) -> Array:
        return y[:, ::-1] if self.return_sequences else y

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None,
                initial_state: Sequence[Any] | None = None, mask: Array | None = None):
        """Returns ``(y, cache)``; y is the merged output, or with return_state
        ``[output, *forward_states, *backward_states]`` (merge_mode=None: ``[y_f, y_b, *states]``)."""
        s_f, s_b = self._check_initial_state(initial_state, x.shape[0])  # both checked before either runs
        y_f, c_f = self.forward_layer.forward(x, training=training, rng=rng, mask=mask, initial_state=s_f)
        y_b, c_b = self.backward_layer.forward(x, training=training, rng=rng, mask=mask, initial_state=s_b)
        states: list[Array] = []
        if self.return_state:  # the states are returned as the layers give them (Keras casts only the outputs)
            (y_f, *st_f), (y_b, *st_b) = y_f, y_b
            states = [*st_f, *st_b]
        # the merge runs in the wrapper's dtype (Keras casts both outputs to it; matters for mixed dtypes)
        y_f, y_b = y_f.astype(self.dtype, copy=False), self._align(y_b).astype(self.dtype, copy=False)
        m = self.merge_mode
        if m == "concat":
            y = np.concatenate([y_f, y_b], axis=-1)
        elif m == "sum":
            y = y_f + y_b
        elif m == "mul":
            y = y_f * y_b
        elif m == "ave":
            y = (y_f + y_b) / 2
        else:
            y = [y_f, y_b]
        if self.return_state:
            y = [*y, *states] if m is None else [y, *states]
        return y, (c_f, c_b, y_f, y_b)

    def backward(self, cache, dy) -> LayerGrads:
        """dy is d(output) (a pair for merge_mode=None), or with return_state the list of the output's and the
        states' gradients in the order ``forward`` returns them (entries may be None)."""
        c_f, c_b, y_f, y_b = cache
        m = self.merge_mode
        d_states_f: list = []
        d_states_b: list = []
        if self.return_state:
            dy = list(dy)
            n_out = 2 if m is None else 1
            n_f = self.forward_layer.n_states
            d_states_f, d_states_b = dy[n_out:n_out + n_f], dy[n_out + n_f:]
            dy = dy[:2] if m is None else dy[0]
        if dy is None:
            d_f = d_b = None
        elif m == "concat":
            H = y_f.shape[-1]
            d_f, d_b = dy[..., :H], dy[..., H:]
        elif m == "sum":
            d_f = d_b = dy
        elif m == "mul":
            d_f, d_b = dy * y_b, dy * y_f
        elif m == "ave":
            d_f = d_b = dy / 2
        else:
            d_f, d_b = dy
        if d_b is not None:
            d_b = self._align(d_b)
        if self.return_state:
            d_f, d_b = [d_f, *d_states_f], [d_b, *d_states_b]
        g_f = self.forward_layer.backward(c_f, d_f)
        g_b = self.backward_layer.backward(c_b, d_b)
        grads = {**{f"forward_{k}": v for k, v in g_f.params.items()},
                 **{f"backward_{k}": v for k, v in g_b.params.items()}}
        # each input gradient in the wrapper's dtype before the sum, as through Keras's casts
        dx = g_f.dx.astype(self.dtype, copy=False) + g_b.dx.astype(self.dtype, copy=False)
        return LayerGrads(dx, grads, [*g_f.initial_state, *g_b.initial_state])

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": _layer_spec(self.forward_layer),
                "backward_layer": _layer_spec(self.backward_layer), "merge_mode": self.merge_mode}

    @classmethod
    def from_config(cls, config: dict) -> Bidirectional:
        config = dict(config)
        layer = _layer_from_config(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=None if backward is None else _layer_from_config(backward), **config)


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: (B, T, ...) -> (B, T, ...), sharing its weights over time.

    A (B, T) step mask (e.g. from ``Embedding(mask_zero=True)``) passes through unchanged, as in Keras
    (whose TimeDistributed keeps the incoming mask): every step is computed, padded ones too, and the
    layers after it (an LSTM, the loss) skip the padded steps. ``forward(x, mask=...)`` checks the mask
    against x's first two axes. The wrapped layer sees one step at a time, so no step mask reaches it
    (none of minirnn's non-recurrent layers reads one).
    """

    keras_name = "time_distributed"
    uses_mask = True

    def __init__(self, layer: Layer, **kwargs: Any):
        if not isinstance(layer, Layer) or isinstance(layer, RNN):
            raise TypeError(f"TimeDistributed wraps a non-recurrent minirnn Layer; got {type(layer).__name__}")
        kwargs.setdefault("dtype", layer.dtype)
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape: tuple) -> None:
        if len(input_shape) < 2:
            raise ValueError(f"TimeDistributed expects input of shape (batch, timesteps, ...); "
                             f"got (batch, {', '.join(map(str, input_shape))})")
        if not self.layer.built:
            self.layer.build(tuple(input_shape[1:]))
        self.params = self.layer.params
        super().build(input_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], *self.layer.compute_output_shape(tuple(input_shape[1:])))

    def compute_mask(self, x: Array, mask: Array | None) -> Array | None:
        """The incoming step mask, unchanged (Keras's TimeDistributed does not compute its own)."""
        return mask

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None,
                mask: Array | None = None):
        B, T = x.shape[:2]
        if mask is not None and np.shape(mask)[:2] != (B, T):
            raise ValueError(f"mask for {self.describe()} must have shape ({B}, {T}) (x's batch and time axes, "
                             f"x of shape {x.shape}); got {np.shape(mask)}")
        y, cache = self.layer.forward(x.reshape(B * T, *x.shape[2:]), training=training, rng=rng)
        return y.reshape(B, T, *y.shape[1:]), (cache, B, T)

    def backward(self, cache, dy) -> LayerGrads:
        inner, B, T = cache
        g = self.layer.backward(inner, dy.reshape(B * T, *dy.shape[2:]))
        # the input was cast to the wrapper's dtype on the way in, so its gradient is rounded to it (Keras)
        dx = g.dx.reshape(B, T, *g.dx.shape[1:]).astype(self.dtype, copy=False)
        return LayerGrads(dx, g.params)

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": _layer_spec(self.layer)}

    @classmethod
    def from_config(cls, config: dict) -> TimeDistributed:
        config = dict(config)
        return cls(_layer_from_config(config.pop("layer")), **config)
