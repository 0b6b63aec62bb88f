"""Diagnostics of gradient flow: how far back in time the loss still reaches.

Shapes: x (B, T, D) and y as for ``model.fit``; the result of ``gradient_norms_over_time`` is (T,).

For a recurrent layer with states h_1 .. h_T, backpropagation through time carries

    dL/dh_{t-1} = (dL/dh_t * a'(z_t)) @ W_hh^T  (+ the gradient from the output at t-1, if read)

so ||dL/dh_t|| measures how much the loss still depends on what the network held at step t. For a
tanh SimpleRNN ``h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)`` with small inputs (a' ~ 1) and
W_hh = rho Q, Q orthogonal, each step back multiplies the norm by exactly rho, so

    ||dL/dh_1|| / ||dL/dh_T|| = rho^(T-1)

(vanishing for rho < 1, exploding for rho > 1); the tests check this law within 1%.

Example:
    >>> import numpy as np
    >>> from minirnn import Sequential
    >>> from minirnn.layers import SimpleRNN, Dense
    >>> model = Sequential([SimpleRNN(4, input_shape=(6, 2), seed=0), Dense(1, seed=0)])
    >>> model.compile("sgd", "mse")
    >>> rng = np.random.default_rng(0)
    >>> norms = gradient_norms_over_time(model, rng.standard_normal((8, 6, 2)), rng.standard_normal((8, 1)))
    >>> norms.shape, bool(norms[-1] > 0)
    ((6,), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..cells import driver
from ..layers.base import Layer
from ..layers.recurrent import RNN

Array = np.ndarray


def upstream_gradient(model: Any, x: Any, y: Any, layer_index: int, *, training: bool = False,
                      rng: np.random.Generator | None = None) -> tuple[float, list, Array]:
    """Forward ``model`` on (x, y) and backpropagate the loss down to the output of one layer.

    Shapes: x, y as for ``model.fit``; returns ``(loss, caches, dL/d(output of layer layer_index))``,
    the last with that layer's output shape; ``caches`` holds every layer's forward cache.
    ``training=True`` runs dropout with masks from ``rng``, as a ``fit`` step does.
    """
    model._require_compiled("upstream_gradient")
    n = len(model.layers)
    if isinstance(layer_index, bool) or not isinstance(layer_index, (int, np.integer)) or not -n <= layer_index < n:
        raise ValueError(f"layer_index must be an integer in [{-n}, {n}); got {layer_index!r}")
    layer_index = int(layer_index) % n
    x, y = model._check_xy(x, y)
    loss, dy, _, caches = model._forward_loss(x, y, training, rng)
    for layer, cache in zip(model.layers[:layer_index:-1], caches[:layer_index:-1]):
        dy = layer.backward(cache, dy.astype(layer.dtype, copy=False)).dx  # as Sequential's backward does
    return float(loss), caches, dy


def _layer_index(model: Any, layer: Any) -> int:
    layers = model.layers
    if layer is None:
        for k, lay in enumerate(layers):
            if isinstance(lay, RNN):
                return k
        raise ValueError("gradient_norms_over_time needs a recurrent layer; the model has none "
                         f"({', '.join(type(lay).__name__ for lay in layers) or 'no layers'})")
    if isinstance(layer, Layer):
        for k, lay in enumerate(layers):
            if lay is layer:
                return k
        raise ValueError(f"layer {layer.describe()} is not in this model")
    if isinstance(layer, str):
        names = [lay.name for lay in layers]
        if layer not in names:
            raise ValueError(f"layer must name a layer of the model, one of {names}; got {layer!r}")
        return names.index(layer)
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if not -len(layers) <= layer < len(layers):
            raise ValueError(f"layer index must be in [{-len(layers)}, {len(layers)}); got {layer}")
        return int(layer) % len(layers)
    raise TypeError(f"layer must be None, an index, a layer name or a Layer; got {type(layer).__name__}")


def gradient_norms_over_time(model: Any, x: Any, y: Any, *, layer: Any = None, training: bool = False,
                             rng: np.random.Generator | None = None) -> Array:
    """``norms[t - 1] = ||dL/dh_t||`` for t = 1..T, for one recurrent layer of a compiled ``Sequential``.

    Shapes: x (B, T, D), y as for ``fit``; returns float64 (T,). The norm is the Frobenius norm of the
    (B, H) gradient dL/dh_t, the *total* gradient reaching h_t (from the output at t, if the layer
    returns sequences, and through every later step); t counts steps in the order the layer
    processes them (from the end of the sequence for ``go_backwards``). ``layer`` picks the recurrent
    layer (None: the first; or an index, a name, or the layer itself). The loss runs forward through
    the whole model and back through the layers above the chosen one; ``training=True`` runs dropout
    with masks from ``rng``.

    Example:
        >>> import numpy as np
        >>> from minirnn import Sequential
        >>> from minirnn.layers import SimpleRNN
        >>> model = Sequential([SimpleRNN(3, activation="linear", input_shape=(4, 1), seed=0)])
        >>> model.compile("sgd", "mse")
        >>> norms = gradient_norms_over_time(model, np.zeros((2, 4, 1)), np.ones((2, 3)))
        >>> np.allclose(norms, norms[-1])   # linear, orthogonal recurrent kernel: rho = 1
        True
    """
    index = _layer_index(model, layer)
    rnn = model.layers[index]
    if not isinstance(rnn, RNN):
        raise ValueError(f"layer must be a recurrent layer; {rnn.describe()} is not")
    _, caches, d_out = upstream_gradient(model, x, y, index, training=training, rng=rng)
    d_final: list[Array | None] = [None] * rnn.n_states
    d_seq = None
    cache = caches[index]
    if rnn.return_sequences:
        d_seq = d_out
    elif cache.output_mask is not None:
        # with padded steps the layer's output is the last step's *masked* output (zeros where that step
        # is padding with zero_output_for_mask, or where a row has no real step), as in RNN.backward
        d_seq = np.zeros((d_out.shape[0], cache.T, d_out.shape[1]), d_out.dtype)
        d_seq[:, -1] = d_out
    else:  # the layer's output is h_T itself
        d_final[0] = d_out
    dh = driver.backward(cache, d_seq, d_final, record_dh=True).dh_over_time
    return np.linalg.norm(dh.reshape(dh.shape[0], -1).astype(np.float64), axis=1)
