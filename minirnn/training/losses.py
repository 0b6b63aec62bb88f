"""Losses with Keras's rank matching and broadcasting, returning the value and dL/dy_pred.

Shapes: y_true and y_pred are first brought to the same rank as Keras does
(``squeeze_or_expand_to_same_rank``): if one has exactly one more axis than the other and that axis
has size 1, it is squeezed (or, when the other is rank 1, the other is expanded). The regression
losses (mse, mae, huber) then broadcast them against each other; the crossentropies need equal
shapes, as Keras's TensorFlow backend does (sparse: y_true is y_pred's shape without the class axis).
With v the per-position values (the broadcast shape without its last axis, K its last axis):

    mse           v = mean_K (y_pred - y_true)^2
    mae           v = mean_K |y_pred - y_true|
    huber         v = mean_K h(u),  h(u) = u^2 / 2 if |u| <= delta else delta |u| - delta^2 / 2
    binary        v = mean_K -(t log p + (1 - t) log(1 - p)),  p = clip(y_pred, eps, 1 - eps)
                  from_logits: v = mean_K max(x, 0) - x t + log(1 + exp(-|x|))
    categorical   v = -sum_K t log clip(p / sum_K p, eps, 1 - eps)
                  from_logits: v = -sum_K t log_softmax(x)
    sparse        v = -log_softmax(log clip(p, eps, 1 - eps))[y]
                  from_logits: v = -log_softmax(x)[y]

    batch loss    L = sum(v) / v.size                                       ("sum_over_batch_size")

Masks and sample weights (Keras's ``reduce_weighted_values``, reduction "sum_over_batch_size"): a step
mask m on the predictions (B, T) (a ``Masking`` layer's, passed on by return_sequences layers) and
sample weights s become weights w on v, and the divisor stays v.size:

    w = s * where(m, m.size / count(m), 0)       (w = 0 everywhere when nothing is real)
    L = sum(w * v) / v.size                       so with a mask alone L = sum over real v / count(m)
    dL/dv = w / v.size

eps = 1e-7 (Keras's ``backend.epsilon()``). Every gradient is derived by hand (see each class);
the log-softmax shifts by the row maximum and the binary logit form never exponentiates a positive
number, so logits of any magnitude give finite values and gradients.

The founding program's case: ``LSTM(50) -> Dense(1)`` predicts (N, 1) and is fit to its own input,
targets of shape (N, 10, 1). Keras squeezes the targets to (N, 10) and broadcasts the prediction
across the 10 steps, so v_n = mean_t (x_{n,t} - y_hat_n)^2: the model learns each window's *mean*.
Keras does this silently; minirnn gives the same number and warns once (``ShapeBroadcastWarning``).

Example:
    >>> import numpy as np
    >>> from minirnn.training.losses import MeanSquaredError, SparseCategoricalCrossentropy
    >>> loss, grad = MeanSquaredError().value_and_grad(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))
    >>> float(loss), grad.ravel().tolist()
    (2.5, [-1.0, -2.0])
    >>> loss, grad = SparseCategoricalCrossentropy(from_logits=True).value_and_grad(
    ...     np.array([0]), np.array([[0.0, 0.0]]))
    >>> round(float(loss), 6), grad.tolist()                 # log 2; softmax - one_hot
    (0.693147, [[-0.5, 0.5]])
    >>> loss, grad = MeanSquaredError().value_and_grad(np.zeros((1, 3, 1)), np.array([[[1.0], [2.0], [9.0]]]),
    ...                                                mask=np.array([[True, True, False]]))
    >>> float(loss), grad.ravel().tolist()                   # (1 + 4) / 2 real steps; the padded one is ignored
    (2.5, [1.0, 2.0, 0.0])
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..activations import get as get_activation

Array = np.ndarray

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]


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


def loss_weights(v: Array, sample_weight: Any = None, mask: Any = None) -> Array | None:
    """Keras's weights for the per-position loss values ``v`` (``apply_mask`` then the rank matching of
    ``reduce_weighted_values``), shaped like v; None when there is neither a mask nor sample weights.

    The mask becomes ``where(mask, mask.size / count(mask), 0)`` (0 when no step is real, as Keras's
    ``divide_no_nan``), so that dividing the weighted sum by v.size averages over the real steps.
    """
    if sample_weight is None and mask is None:
        return None
    f = v.dtype.type
    w = None
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise TypeError(f"mask must be a bool array (True on real steps); got dtype {mask.dtype}")
        valid = np.count_nonzero(mask)
        w = np.where(mask, f(mask.size) / f(valid) if valid else f(0), f(0))
    if sample_weight is not None:
        s = np.asarray(sample_weight)
        if s.dtype == object or not (np.issubdtype(s.dtype, np.number) or s.dtype == bool) \
                or np.issubdtype(s.dtype, np.complexfloating):
            raise TypeError(f"sample_weight must be a real numeric array; got dtype {s.dtype}")
        s = s.astype(v.dtype)
        if w is not None:
            w, s = align_ranks(w, s)
            s = s * w
        w = s
    vv, w = align_ranks(v, w)
    try:
        fits = np.broadcast_shapes(vv.shape, w.shape) == vv.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"sample_weight/mask of shape {w.shape} cannot weight loss values of shape {v.shape} "
                         f"(after Keras's rank matching {vv.shape}): it must broadcast to them")
    return np.broadcast_to(w, vv.shape).reshape(v.shape)


def _unbroadcast(grad: Array, shape: tuple) -> Array:
    """Sum ``grad`` over the axes along which an array of ``shape`` was broadcast."""
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def _log_softmax(x: Array) -> Array:
    """log softmax over the last axis, shifted by the row maximum so that exp never overflows."""
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _clip_probabilities(p: Array) -> tuple[Array, Array]:
    """``clip(p, eps, 1 - eps)`` in p's dtype and where the clip is inactive (there the gradient passes,
    boundaries included, as TensorFlow's ``clip_by_value`` gradient does)."""
    lo, hi = p.dtype.type(EPSILON), p.dtype.type(1.0 - EPSILON)
    return np.clip(p, lo, hi), (p >= lo) & (p <= hi)


class Loss:
    """Base class: ``value_and_grad(y_true, y_pred) -> (loss, dL/dy_pred)``; calling gives the value.

    Subclasses implement ``values(t, p)`` on rank-matched arrays, returning the per-position values v,
    the raw gradient r and a divisor K such that dL/dp = r / (K * v.size) (K is the size of the last axis
    for losses that average over it, 1 for those that sum over it).
    """

    name = "loss"
    direction = "down"  # a smaller value is better (EarlyStopping's mode='auto' reads this)

    def __init__(self) -> None:
        self._warned = False

    # -- hooks ------------------------------------------------------------------------------------
    def elementwise(self, diff: Array) -> tuple[Array, Array]:
        """Returns e(diff) and de/d(y_pred) for diff = y_pred - y_true (regression losses)."""
        raise NotImplementedError

    def values(self, t: Array, p: Array, need_grad: bool = True) -> tuple[Array, Array | None, int]:
        e, de = self.elementwise(p - t)
        return e.mean(axis=-1), de, e.shape[-1]

    def check_targets(self, y_true: Array, n_outputs: int) -> None:
        """Check the target *values* (the shapes are checked by ``prepare``); nothing to check here."""

    # -- shape handling ---------------------------------------------------------------------------
    def _cast_targets(self, y_true: Any, y_pred: Array) -> Array:
        y_true = np.asarray(y_true)
        if y_true.dtype == object or not (np.issubdtype(y_true.dtype, np.number) or y_true.dtype == bool):
            raise TypeError(f"y (targets) must be a numeric array; got dtype {y_true.dtype}")
        return y_true.astype(y_pred.dtype, copy=False)

    def prepare(self, y_true: Any, y_pred: Array) -> tuple[Array, Array, tuple]:
        y_true = self._cast_targets(y_true, y_pred)
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

    # -- evaluation -------------------------------------------------------------------------------
    def value_and_grad(self, y_true: Any, y_pred: Array, sample_weight: Any = None,
                       mask: Any = None) -> tuple[Array, Array]:
        """The batch loss and dL/dy_pred; ``mask`` (e.g. (B, T) bool, True on real steps) and
        ``sample_weight`` weight the values v as Keras does (see the module docstring)."""
        t, p, _ = self.prepare(y_true, y_pred)
        v, raw, k = self.values(t, p, True)
        n = v.size
        w = loss_weights(v, sample_weight, mask)
        f = v.dtype.type
        if w is None:
            loss = v.sum() / f(n)
            # dL/d(broadcast y_pred) = raw / (K * n), then summed back over the broadcast axes
            scale = raw.dtype.type(1.0 / (k * n))
        else:
            loss = (v * w).sum() / f(n)
            scale = (w * f(1.0 / (k * n)))[..., None]  # dL/dv = w / n, spread over v's last axis K
        grad = _unbroadcast(raw * scale, p.shape).reshape(y_pred.shape)
        return loss, grad

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        """The values reduced to one per sample (mean over every axis after the first), as Keras's
        metrics reduce them; shape (N,)."""
        t, p, _ = self.prepare(y_true, y_pred)
        v = self.values(t, p, False)[0]
        if v.ndim == 0:  # rank-1 predictions reduce to one value per batch (Keras then counts it once)
            return v.reshape(1)
        return v.reshape(len(v), -1).mean(axis=1) if v.ndim > 1 else v

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None, mask: Any = None) -> float:
        y_pred = np.asarray(y_pred)
        if not np.issubdtype(y_pred.dtype, np.floating):
            y_pred = y_pred.astype(np.float32)
        return float(self.value_and_grad(y_true, y_pred, sample_weight, mask)[0])

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    """``v = mean_K (y_pred - y_true)^2``; de/dy_pred = 2 (y_pred - y_true)."""

    name = "mse"

    def elementwise(self, diff):
        return diff * diff, 2 * diff


class MeanAbsoluteError(Loss):
    """``v = mean_K |y_pred - y_true|``; de/dy_pred = sign(y_pred - y_true) (0 at 0, as TensorFlow)."""

    name = "mae"

    def elementwise(self, diff):
        return np.abs(diff), np.sign(diff)


class Huber(Loss):
    """Quadratic within ``delta`` of the target, linear outside (Keras's ``huber``, delta 1.0).

    With u = y_pred - y_true:  h(u) = u^2 / 2 if |u| <= delta else delta |u| - delta^2 / 2;
    h'(u) = u inside, delta sign(u) outside (continuous at |u| = delta, where the inside branch is taken).

    Example:
        >>> import numpy as np
        >>> float(Huber()(np.array([[0.0, 0.0]]), np.array([[0.5, 3.0]])))    # (0.125 + 2.5) / 2
        1.3125
    """

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)):
            raise TypeError(f"delta must be a number; got {delta!r}")
        if not np.isfinite(delta) or delta < 0:
            raise ValueError(f"delta must be a finite number >= 0; got {delta}")
        self.delta = float(delta)

    def elementwise(self, diff):
        f = diff.dtype.type
        delta, half = f(self.delta), f(0.5)
        a = np.abs(diff)
        inside = a <= delta
        e = np.where(inside, half * (diff * diff), delta * a - half * (delta * delta))
        return e, np.where(inside, diff, delta * np.sign(diff))

    def get_config(self) -> dict:
        return {"name": self.name, "delta": self.delta}


class _Crossentropy(Loss):
    """Shared by the crossentropies: ``from_logits`` and Keras's equal-shape requirement.

    After a softmax or sigmoid ``Dense`` output layer, ``Sequential`` computes a crossentropy from that
    layer's logits (``reads_output_logits``, ``logits_twin``), as Keras does: its activations attach the
    logits to their output (``_keras_logits``) and its crossentropies then use them with from_logits forced
    on, whichever crossentropy and whichever activation (a softmax output with binary_crossentropy gets the
    sigmoid form on the softmax's logits). So a saturated wrong prediction costs |z| with a nonzero gradient,
    not -log(eps) ~ 16.1 with gradient 0.
    """

    reads_output_logits = True

    def __init__(self, from_logits: bool = False) -> None:
        super().__init__()
        self.from_logits = _check_bool("from_logits", from_logits)
        self._twin: _Crossentropy | None = None

    def logits_twin(self) -> _Crossentropy:
        """This loss with ``from_logits=True``, applied to an output layer's logits. Keras warns when the
        loss already had from_logits=True (the output is then probabilities, not logits); so does minirnn, once."""
        if self._twin is None:
            if self.from_logits:
                warnings.warn(f"{self.name} has from_logits=True, but the model's output comes from a softmax or "
                              f"sigmoid activation and so is not logits; as Keras does, the loss is computed from "
                              f"that layer's logits. Was this intended?", UserWarning, stacklevel=5)
            config = {k: v for k, v in self.get_config().items() if k != "name"}
            self._twin = type(self)(**{**config, "from_logits": True})
            self._twin._warned = True
        return self._twin

    def prepare(self, y_true: Any, y_pred: Array) -> tuple[Array, Array, tuple]:
        y_true = self._cast_targets(y_true, y_pred)
        t, p = align_ranks(y_true, y_pred)
        if t.shape != p.shape:
            raise ValueError(
                f"{self.name} needs targets of the predictions' shape: got targets {y_true.shape} and "
                f"predictions {y_pred.shape} (after Keras's rank matching {t.shape} and {p.shape})")
        return t, p, p.shape

    def get_config(self) -> dict:
        return {"name": self.name, "from_logits": self.from_logits}


class BinaryCrossentropy(_Crossentropy):
    """Binary crossentropy, mean over the last axis (see the module docstring for v).

    Gradients (per element, before the 1/(K n) of the reduction):

        probabilities  dv/dp = -(t / p - (1 - t) / (1 - p)) where eps <= p <= 1 - eps, else 0
        logits         dv/dx = sigmoid(x) - t

    As in Keras, after a ``Dense(activation='sigmoid')`` (or softmax) output layer a ``Sequential``
    model computes this loss from that layer's logits (see ``_Crossentropy``): a saturated wrong
    prediction costs |x| with gradient 1, not -log(eps) ~ 16 with gradient 0.

    Example:
        >>> import numpy as np
        >>> round(float(BinaryCrossentropy(from_logits=True)(np.array([[1.0]]), np.array([[0.0]]))), 6)
        0.693147
    """

    name = "binary_crossentropy"

    def values(self, t, p, need_grad=True):
        f = p.dtype.type
        if self.from_logits:
            # TensorFlow's sigmoid_cross_entropy_with_logits: exp only ever sees -|x| <= 0
            e = np.maximum(p, f(0)) - p * t + np.log1p(np.exp(-np.abs(p)))
            raw = None
            if need_grad:
                raw = get_activation("sigmoid").forward(p, np.empty_like(p)) - t
            return e.mean(axis=-1), raw, e.shape[-1]
        pc, inside = _clip_probabilities(p)
        bce = t * np.log(pc)
        bce += (f(1) - t) * np.log(f(1) - pc)
        raw = np.where(inside, (f(1) - t) / (f(1) - pc) - t / pc, f(0)) if need_grad else None
        return (-bce).mean(axis=-1), raw, bce.shape[-1]


class CategoricalCrossentropy(_Crossentropy):
    """Categorical crossentropy over the last (class) axis, targets one-hot or any distribution.

    Gradients (per row; s = sum_K t):

        logits         dv/dx = s * softmax(x) - t
        probabilities  with S = sum_K p, q = p / S, a_j = -t_j / q_j where eps <= q_j <= 1 - eps else 0:
                       dv/dp_i = (a_i - sum_j a_j q_j) / S

    (TensorFlow's kernel returns softmax - t, the same when the targets sum to 1.)

    Example:
        >>> import numpy as np
        >>> round(float(CategoricalCrossentropy()(np.array([[0, 1.0]]), np.array([[0.5, 0.5]]))), 6)
        0.693147
    """

    name = "categorical_crossentropy"

    def values(self, t, p, need_grad=True):
        f = p.dtype.type
        if self.from_logits:
            logp = _log_softmax(p)
            v = -(t * logp).sum(axis=-1)
            raw = np.exp(logp) * t.sum(axis=-1, keepdims=True) - t if need_grad else None
            return v, raw, 1
        total = p.sum(axis=-1, keepdims=True)
        q = p / total
        qc, inside = _clip_probabilities(q)
        v = -(t * np.log(qc)).sum(axis=-1)
        raw = None
        if need_grad:
            a = np.where(inside, -t / qc, f(0))
            raw = (a - (a * q).sum(axis=-1, keepdims=True)) / total
        return v, raw, 1


class SparseCategoricalCrossentropy(_Crossentropy):
    """Crossentropy with integer class ids: y_true (...,) or (..., 1) against y_pred (..., C).

    Gradients (per row, y the class id):

        logits         dv/dx = softmax(x) - one_hot(y)
        probabilities  l = log clip(p, eps, 1 - eps);  dv/dp = (softmax(l) - one_hot(y)) / p
                       where eps <= p <= 1 - eps, else 0

    Example:
        >>> import numpy as np
        >>> round(float(SparseCategoricalCrossentropy()(np.array([1]), np.array([[0.2, 0.8]]))), 6)
        0.223144
    """

    name = "sparse_categorical_crossentropy"

    def _cast_targets(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        if y_true.dtype == object or not (np.issubdtype(y_true.dtype, np.number) or y_true.dtype == bool):
            raise TypeError(f"y (targets) must be a numeric array of class ids; got dtype {y_true.dtype}")
        return y_true

    def prepare(self, y_true, y_pred):
        y_true = self._cast_targets(y_true, y_pred)
        t, p = align_ranks(y_true, y_pred)
        if t.ndim == p.ndim and t.shape[-1] == 1:
            t = t[..., 0]
        if t.shape != p.shape[:-1]:
            raise ValueError(
                f"{self.name} needs targets shaped like the predictions without their class axis: got targets "
                f"{y_true.shape} and predictions {y_pred.shape} (expected {p.shape[:-1]} or {(*p.shape[:-1], 1)})")
        return t, p, p.shape

    def check_targets(self, y_true: Array, n_outputs: int) -> None:
        y_true = np.asarray(y_true)
        if y_true.size and not np.issubdtype(y_true.dtype, np.integer):
            if np.issubdtype(y_true.dtype, np.complexfloating) or not np.array_equal(y_true, np.round(y_true)):
                raise ValueError(f"y (targets) for {self.name} must be integer class ids; got non-integer values")
        if y_true.size and (y_true.min() < 0 or y_true.max() >= n_outputs):
            raise ValueError(f"y (targets) for {self.name} must be class ids in [0, {n_outputs}); got values from "
                             f"{y_true.min()} to {y_true.max()}")

    def values(self, t, p, need_grad=True):
        self.check_targets(t, p.shape[-1])
        idx = t.astype(np.int64)[..., None]
        if self.from_logits:
            logp = _log_softmax(p)
            v = -np.take_along_axis(logp, idx, axis=-1)[..., 0]
            raw = None
            if need_grad:
                raw = np.exp(logp)
                np.put_along_axis(raw, idx, np.take_along_axis(raw, idx, axis=-1) - 1, axis=-1)
            return v, raw, 1
        pc, inside = _clip_probabilities(p)
        logp = _log_softmax(np.log(pc))
        v = -np.take_along_axis(logp, idx, axis=-1)[..., 0]
        raw = None
        if need_grad:
            d = np.exp(logp)
            np.put_along_axis(d, idx, np.take_along_axis(d, idx, axis=-1) - 1, axis=-1)
            raw = np.where(inside, d / pc, p.dtype.type(0))
        return v, raw, 1


LOSSES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "huber": Huber,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(loss: str | Loss) -> Loss:
    """A loss by Keras name (a fresh instance with the defaults) or the given ``Loss`` itself."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss in LOSSES:
        return LOSSES[loss]()
    raise ValueError(f"unknown loss {loss!r}; expected a Loss instance or one of {sorted(LOSSES)}")


def from_config(config: dict) -> Loss:
    """The loss ``get_config()`` described: ``from_config(loss.get_config())`` equals ``loss``."""
    if not isinstance(config, dict) or config.get("name") not in LOSSES:
        raise ValueError(f"loss config must be a dict with 'name' one of {sorted(LOSSES)}; got {config!r}")
    kwargs = {k: v for k, v in config.items() if k != "name"}
    return LOSSES[config["name"]](**kwargs)
