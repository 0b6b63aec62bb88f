"""Losses with Keras's rank matching and broadcasting, returning the value and dL/dy_pred.

Shapes: y_true and y_pred are first brought to the same rank as Keras does
(``squeeze_or_expand_to_same_rank``): if one has exactly one more axis than the other and that axis
has size 1, it is squeezed (or, when the other is rank 1, the other is expanded). They are then
broadcast against each other. With d the broadcast (..., K):

    per-sample loss   l = mean over the last axis K of e(y_true - y_pred)      e(u) = u^2 (mse), |u| (mae)
    batch loss        L = sum(l) / l.size                                        ("sum_over_batch_size")

The founding program's case: ``LSTM(50) -> Dense(1)`` predicts (N, 1) and is fit to its own input,
targets of shape (N, 10, 1). Keras squeezes the targets to (N, 10) and broadcasts the prediction
across the 10 steps, so l_n = mean_t (x_{n,t} - y_hat_n)^2: the model learns each window's *mean*.
Keras does this silently; minirnn gives the same number and warns once (``ShapeBroadcastWarning``).

Example:
    >>> import numpy as np
    >>> from minirnn.losses import MeanSquaredError
    >>> loss, grad = MeanSquaredError().value_and_grad(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))
    >>> float(loss), grad.ravel().tolist()
    (2.5, [-1.0, -2.0])
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

Array = np.ndarray


class ShapeBroadcastWarning(UserWarning):
    """Targets and predictions have different shapes and are broadcast, as Keras does silently."""


def align_ranks(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    """Keras's ``squeeze_or_expand_to_same_rank(y_true, y_pred)``."""
    rt, rp = y_true.ndim, y_pred.ndim
    if rt == rp + 1 and y_true.shape[-1] == 1:
        if rp == 1:
            y_pred = y_pred[..., None]
        else:
            y_true = y_true[..., 0]
    elif rp == rt + 1 and y_pred.shape[-1] == 1:
        if rt == 1:
            y_true = y_true[..., None]
        else:
            y_pred = y_pred[..., 0]
    return y_true, y_pred


def _unbroadcast(grad: Array, shape: tuple) -> Array:
    """Sum ``grad`` over the axes along which an array of ``shape`` was broadcast."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


class Loss:
    """Base class: ``value_and_grad(y_true, y_pred) -> (loss, dL/dy_pred)``; calling gives the value."""

    name = "loss"

    def __init__(self) -> None:
        self._warned = False

    def elementwise(self, diff: Array) -> tuple[Array, Array]:
        """Returns e(diff) and de/d(y_pred) for diff = y_pred - y_true."""
        raise NotImplementedError

    def prepare(self, y_true: Any, y_pred: Array) -> tuple[Array, Array, tuple]:
        y_true = np.asarray(y_true)
        if y_true.dtype == object or not (np.issubdtype(y_true.dtype, np.number) or y_true.dtype == bool):
            raise TypeError(f"y (targets) must be a numeric array; got dtype {y_true.dtype}")
        y_true = y_true.astype(y_pred.dtype, copy=False)
        t, p = align_ranks(y_true, y_pred)
        try:
            shape = np.broadcast_shapes(t.shape, p.shape)
        except ValueError:
            raise ValueError(
                f"targets of shape {y_true.shape} cannot be matched to predictions of shape {y_pred.shape}: "
                f"after Keras's rank matching they are {t.shape} and {p.shape}, which do not broadcast") from None
        if shape != p.shape and not self._warned:
            self._warned = True
            warnings.warn(
                f"targets of shape {y_true.shape} and predictions of shape {y_pred.shape} differ; as in Keras, "
                f"they are compared as {t.shape} against {p.shape} broadcast to {shape}, so each prediction is "
                f"fit to the mean of the targets it is broadcast against (the founding program's model "
                f"learns each window's mean).", ShapeBroadcastWarning, stacklevel=4)
        return t, p, shape

    def value_and_grad(self, y_true: Any, y_pred: Array) -> tuple[Array, Array]:
        t, p, shape = self.prepare(y_true, y_pred)
        e, de = self.elementwise(p - t)
        per_sample = e.mean(axis=-1)
        n = per_sample.size
        loss = per_sample.sum() / per_sample.dtype.type(n)
        # dL/d(broadcast y_pred) = de / (K * n), then summed back over the broadcast axes
        scale = de.dtype.type(1.0 / (e.shape[-1] * n))
        grad = _unbroadcast(de * scale, p.shape).reshape(y_pred.shape)
        return loss, grad

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        y_pred = np.asarray(y_pred)
        if not np.issubdtype(y_pred.dtype, np.floating):
            y_pred = y_pred.astype(np.float32)
        return float(self.value_and_grad(y_true, y_pred)[0])

    def get_config(self) -> str:
        return self.name


class MeanSquaredError(Loss):
    """``l = mean_k (y_true - y_pred)^2``; de/dy_pred = 2 (y_pred - y_true)."""

    name = "mse"

    def elementwise(self, diff):
        return diff * diff, 2 * diff


class MeanAbsoluteError(Loss):
    """``l = mean_k |y_true - y_pred|``; de/dy_pred = sign(y_pred - y_true) (0 at 0, as TensorFlow)."""

    name = "mae"

    def elementwise(self, diff):
        return np.abs(diff), np.sign(diff)


LOSSES = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def get(loss: str | Loss) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    raise ValueError(f"unknown loss {loss!r}; expected a Loss instance or one of {sorted(LOSSES)}")
