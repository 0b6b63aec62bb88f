"""Weight initializers with Keras's definitions (draws come from a ``numpy.random.Generator``).

    glorot_uniform:  U(-L, L),  L = sqrt(6 / (fan_in + fan_out)),  for a (fan_in, fan_out) matrix
    orthogonal:      Q from the QR decomposition of a standard-normal matrix, sign-fixed by diag(R),
                     over the whole matrix (for an LSTM recurrent kernel (H, 4H): rows orthonormal)
    zeros, ones

Example:
    >>> import numpy as np
    >>> from minirnn import initializers
    >>> q = initializers.get("orthogonal")((3, 12), np.random.default_rng(0), np.float64)
    >>> np.allclose(q @ q.T, np.eye(3))
    True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[tuple, np.random.Generator, np.dtype], np.ndarray]


def glorot_uniform(shape: tuple, rng: np.random.Generator, dtype) -> np.ndarray:
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape: tuple, rng: np.random.Generator, dtype) -> np.ndarray:
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return np.ascontiguousarray(q.reshape(shape), dtype=dtype)


def zeros(shape: tuple, rng: np.random.Generator, dtype) -> np.ndarray:
    return np.zeros(shape, dtype)


def ones(shape: tuple, rng: np.random.Generator, dtype) -> np.ndarray:
    return np.ones(shape, dtype)


def _fans(shape: tuple) -> tuple[int, int]:
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


INITIALIZERS: dict[str, Initializer] = {
    "glorot_uniform": glorot_uniform,
    "orthogonal": orthogonal,
    "zeros": zeros,
    "ones": ones,
}


def get(name: str | Initializer) -> Initializer:
    """An initializer by Keras name, or a callable ``f(shape, rng, dtype)`` passed through."""
    if callable(name):
        return name
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ValueError(f"unknown initializer {name!r}; expected one of {sorted(INITIALIZERS)} or a callable")
    return INITIALIZERS[name]
