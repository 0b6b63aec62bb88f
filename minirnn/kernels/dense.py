"""Dense (fully connected) kernel on the last axis.

Shapes: x (..., D), kernel (D, U), bias (U,) or None, y (..., U); any leading axes (batch, or
batch and time as in Keras's Dense on (B, T, F)) are flattened into rows.

    y = a(x @ kernel + bias)
    dz = dy * a'(z);  dkernel = X^T dz;  dbias = sum over rows of dz;  dx = dz @ kernel^T

Example:
    >>> import numpy as np
    >>> from minirnn.kernels import dense_forward, dense_backward
    >>> x, W, b = np.ones((2, 3)), np.ones((3, 4)), np.zeros(4)
    >>> y, cache = dense_forward(x, W, b)
    >>> dx, dW, db = dense_backward(cache, np.ones_like(y))
    >>> float(y[0, 0]), dx.shape, dW.shape, db.tolist()
    (3.0, (2, 3), (3, 4), [2.0, 2.0, 2.0, 2.0])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import activations

Array = np.ndarray


class DenseCache(NamedTuple):
    x: Array          # (N, D): the input, leading axes flattened
    y: Array          # (N, U): the activated output (a' is computed from it)
    kernel: Array
    use_bias: bool
    activation: str
    lead_shape: tuple


def dense_forward(x: Array, kernel: Array, bias: Array | None = None,
                  activation: str | None = None) -> tuple[Array, DenseCache]:
    """``y = a(x @ kernel + bias)`` on the last axis; returns ``(y (..., U), cache)``."""
    D, U = kernel.shape
    if x.shape[-1] != D:
        raise ValueError(f"x must have last axis {D} to match kernel {kernel.shape}; got shape {x.shape}")
    x2 = x.reshape(-1, D)
    z = x2 @ kernel
    if bias is not None:
        z += bias
    act = activations.get(activation)
    y = act.forward(z, out=z)
    cache = DenseCache(x2, y, kernel, bias is not None, act.name, x.shape[:-1])
    return y.reshape(*x.shape[:-1], U), cache


def dense_backward(cache: DenseCache, dy: Array) -> tuple[Array, Array, Array | None]:
    """Returns ``(dx (..., D), dkernel (D, U), dbias (U,) or None)`` given dy (..., U)."""
    U = cache.kernel.shape[1]
    dz = np.asarray(dy, dtype=cache.y.dtype).reshape(-1, U)
    if cache.activation != "linear":
        dz = dz * activations.get(cache.activation).derivative(cache.y, out=np.empty_like(cache.y))
    d_kernel = cache.x.T @ dz
    d_bias = dz.sum(axis=0) if cache.use_bias else None
    dx = (dz @ cache.kernel.T).reshape(*cache.lead_shape, cache.kernel.shape[0])
    return dx, d_kernel, d_bias
