"""Inverted dropout kernel.

Shapes: x (...), mask (...) the same shape.

    training:  mask = 1[u >= rate] / (1 - rate),  u ~ Uniform[0, 1);   y = x * mask
    inference: y = x                 (the 1/(1-rate) scaling at training keeps E[y] = x)
    backward:  dx = dy * mask        (the same mask as the forward pass)

Example:
    >>> import numpy as np
    >>> from minirnn.kernels import dropout_forward, dropout_backward
    >>> y, mask = dropout_forward(np.ones((2, 4)), 0.5, np.random.default_rng(0))
    >>> sorted(set(y.ravel().tolist())) == [0.0, 2.0] or sorted(set(y.ravel().tolist()))
    True
    >>> bool((dropout_backward(mask, np.ones((2, 4))) == y).all())
    True
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def dropout_mask(shape: tuple, rate: float, rng: np.random.Generator, dtype) -> Array:
    """A scaled keep mask: 1/(1-rate) where kept, 0 where dropped."""
    dtype = np.dtype(dtype)
    keep = rng.random(shape, dtype=dtype if dtype in (np.float32, np.float64) else np.float64) >= rate
    return keep * dtype.type(1.0 / (1.0 - rate))


def dropout_forward(x: Array, rate: float, rng: np.random.Generator, mask: Array | None = None) -> tuple[Array, Array]:
    """Returns ``(y, mask)``; pass ``mask`` to reuse a given one (for example one injected in a test)."""
    if mask is None:
        mask = dropout_mask(x.shape, rate, rng, x.dtype)
    return x * mask, mask


def dropout_backward(mask: Array, dy: Array) -> Array:
    """``dx = dy * mask``."""
    return dy * mask
