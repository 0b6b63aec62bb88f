"""Finite-difference gradient checking.

    numerical dL/dw_k = (L(w + h e_k) - L(w - h e_k)) / (2 h)        central differences, h = 1e-5
    relative error    = max|a - n| / max(1e-8, max(|a| + |n|))        (CS231n; ~1e-7 or below is correct)

Run the checks in float64: in float32 rounding dominates the differences.

Example:
    >>> import numpy as np
    >>> from minirnn.gradcheck import numerical_gradient, relative_error
    >>> w = np.array([1.0, 2.0])
    >>> n = numerical_gradient(lambda: float((w ** 3).sum()), w)
    >>> relative_error(3 * w ** 2, n) < 1e-9
    True
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Array = np.ndarray


def numerical_gradient(f: Callable[[], float], x: Array, h: float = 1e-5) -> Array:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``, perturbed in place.

    ``f`` takes no arguments and must read ``x`` (it is restored after every probe).
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a floating array; got dtype {x.dtype}")
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, gflat = x.flat, grad.reshape(-1)  # x.flat writes through whatever x's memory layout
    for k in range(x.size):
        old = flat[k]
        flat[k] = old + h
        f_plus = f()
        flat[k] = old - h
        f_minus = f()
        flat[k] = old
        gflat[k] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    """``max|a - n| / max(1e-8, max(|a| + |n|))``."""
    a, n = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    if a.shape != n.shape:
        raise ValueError(f"analytic and numeric gradients differ in shape: {a.shape} vs {n.shape}")
    return float(np.max(np.abs(a - n)) / max(1e-8, float(np.max(np.abs(a) + np.abs(n)))))
