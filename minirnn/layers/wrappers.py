"""Wrappers: ``Bidirectional`` (a recurrent layer run both ways) and ``TimeDistributed`` (a layer per step).

Shapes: Bidirectional(layer with H units) maps (B, T, D) to (B, 2H) (merge_mode='concat'; (B, H) for
sum, mul, ave; a list of two for None), or to (B, T, 2H) with return_sequences.
TimeDistributed(layer) maps (B, T, ...) to (B, T, ...) by applying the layer to each of the T steps.

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
"""

from __future__ import annotations

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


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards and merges the two outputs."""

    keras_name = "bidirectional"
    uses_mask = True

    def __init__(self, layer: RNN, merge_mode: str | None = "concat", backward_layer: RNN | None = None,
                 **kwargs):
        if not isinstance(layer, RNN):
            raise TypeError(f"Bidirectional wraps a recurrent layer; got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {MERGE_MODES}; got {merge_mode!r}")
        if layer.return_state:
            raise ValueError("Bidirectional does not support return_state=True in minirnn")
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

    def _align(self, y: Array) -> Array:
        return y[:, ::-1] if self.return_sequences else y

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None,
                mask: Array | None = None):
        y_f, c_f = self.forward_layer.forward(x, training=training, rng=rng, mask=mask)
        y_b, c_b = self.backward_layer.forward(x, training=training, rng=rng, mask=mask)
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
        return y, (c_f, c_b, y_f, y_b)

    def backward(self, cache, dy) -> LayerGrads:
        c_f, c_b, y_f, y_b = cache
        m = self.merge_mode
        if m == "concat":
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
        g_f = self.forward_layer.backward(c_f, d_f)
        g_b = self.backward_layer.backward(c_b, self._align(d_b))
        grads = {**{f"forward_{k}": v for k, v in g_f.params.items()},
                 **{f"backward_{k}": v for k, v in g_b.params.items()}}
        # each input gradient in the wrapper's dtype before the sum, as through Keras's casts
        return LayerGrads(g_f.dx.astype(self.dtype, copy=False) + g_b.dx.astype(self.dtype, copy=False), grads)

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
    """Applies ``layer`` to every time step: (B, T, ...) -> (B, T, ...), sharing its weights over time."""

    keras_name = "time_distributed"

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

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None):
        B, T = x.shape[:2]
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
