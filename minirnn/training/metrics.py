"""Metrics reported by ``fit`` and ``evaluate``: per-sample values, averaged over an epoch as Keras does.

Shapes: each metric maps (y_true, y_pred) for a batch to one value per sample, shape (B,), by
reducing its element values with a mean over every axis after the first; the epoch's value is

    metric = sum over batches of sum_b value_b / number of samples        (batch-size weighted)

    mae / mse              mean_K |y_pred - y_true|,  mean_K (y_pred - y_true)^2   (with the losses' rank matching)
    binary_accuracy        1[y_true == 1[y_pred > threshold]]                      (threshold 0.5)
    categorical_accuracy   1[argmax y_true == argmax y_pred]                        (one-hot targets)
    sparse_categorical_accuracy   1[y_true == argmax y_pred]                        (integer class ids)
    *_crossentropy         the loss of the same name (probabilities, not logits)

``'accuracy'`` (or ``'acc'``) is resolved as Keras's ``compile`` resolves it, from the shapes of the
targets and the predictions: binary when the prediction has one column, sparse when the targets have
fewer axes than the predictions (or one column against several), categorical otherwise.

Example:
    >>> import numpy as np
    >>> from minirnn import metrics
    >>> acc = metrics.get("accuracy", y_true_shape=(4,), y_pred_shape=(4, 3))
    >>> acc.name, type(acc).__name__
    ('accuracy', 'SparseCategoricalAccuracy')
    >>> acc.per_sample(np.array([0, 2, 1, 1]), np.eye(3)[[0, 2, 2, 1]]).tolist()
    [1.0, 1.0, 0.0, 1.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from . import losses as losses_mod
from .losses import align_ranks

Array = np.ndarray


def _per_sample(values: Array) -> Array:
    """Mean over every axis after the first (Keras's ``reduce_to_samplewise_values``)."""
    values = np.asarray(values)
    if values.ndim == 0:
        return values.reshape(1)
    return values.reshape(len(values), -1).mean(axis=1) if values.ndim > 1 else values


class Metric:
    """A named per-sample metric; ``direction`` is 'up' when larger is better, else 'down'."""

    direction = "down"

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.default_name

    default_name = "metric"

    def per_sample(self, y_true: Any, y_pred: Array) -> Array:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class LossMetric(Metric):
    """A loss used as a metric (mae, mse, the crossentropies): its per-sample values."""

    def __init__(self, loss: str, name: str | None = None) -> None:
        self.loss = losses_mod.get(loss)
        self.loss._warned = True  # the compiled loss already warns about broadcasting, once
        self.default_name = loss
        super().__init__(name)

    def per_sample(self, y_true, y_pred):
        return self.loss.per_sample(y_true, y_pred)

    @property
    def reads_output_logits(self) -> bool:
        """The crossentropies: after a softmax/sigmoid Dense output they read its logits, as Keras's do."""
        return getattr(self.loss, "reads_output_logits", False)

    def per_sample_from_logits(self, y_true, logits):
        return self.loss.logits_twin().per_sample(y_true, logits)

    def get_config(self) -> dict:
        return {**super().get_config(), "loss": self.default_name}


class BinaryAccuracy(Metric):
    """``1[y_true == 1[y_pred > threshold]]`` per element, after the losses' rank matching."""

    direction = "up"
    default_name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        super().__init__(name)
        self.threshold = float(threshold)

    def per_sample(self, y_true, y_pred):
        t, p = align_ranks(np.asarray(y_true), np.asarray(y_pred))
        predicted = (p > self.threshold).astype(t.dtype)
        return _per_sample((t == predicted).astype(y_pred.dtype))

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """``1[argmax y_true == argmax y_pred]`` over the last axis (one-hot or distribution targets)."""

    direction = "up"
    default_name = "categorical_accuracy"

    def per_sample(self, y_true, y_pred):
        y_true = np.asarray(y_true)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"categorical accuracy needs targets of the predictions' shape {y_pred.shape}; "
                             f"got {y_true.shape} (for integer class ids use sparse_categorical_accuracy)")
        return _per_sample((y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).astype(y_pred.dtype))


class SparseCategoricalAccuracy(Metric):
    """``1[y_true == argmax y_pred]`` with integer class ids y_true (...,) or (..., 1).

    As Keras's: a last axis of 1 is dropped from y_true when it has the predictions' rank; otherwise
    y_true and the predicted ids (y_pred's shape without its last axis) are broadcast against each
    other, silently in Keras. minirnn gives the same number and warns once (``ShapeBroadcastWarning``),
    e.g. y_true (2, 1) against y_pred (1, 2, 3): ids (2, 1) against predicted ids (1, 2), compared as
    (2, 2), two samples (the broadcast shape's first axis).

    Example:
        >>> import numpy as np, warnings
        >>> acc = SparseCategoricalAccuracy()
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     values = acc.per_sample(np.array([[1], [1]]), np.array([[[0.1, 0.6, 0.3], [0.0, 0.9, 0.1]]]))
        >>> values.tolist(), len(caught)
        ([1.0, 1.0], 1)
    """

    direction = "up"
    default_name = "sparse_categorical_accuracy"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self._warned = False

    def per_sample(self, y_true, y_pred):
        t = np.asarray(y_true)
        squeezed = t.ndim == y_pred.ndim and t.ndim > 0 and t.shape[-1] == 1
        if squeezed:
            t = t[..., 0]
        predicted = y_pred.argmax(axis=-1)
        expected = f"{predicted.shape} or {(*predicted.shape, 1)}"
        try:
            shape = np.broadcast_shapes(t.shape, predicted.shape)
        except ValueError:
            raise ValueError(f"sparse categorical accuracy needs targets of shape {expected} (or shapes that "
                             f"broadcast against {predicted.shape}, as in Keras); got {np.shape(y_true)}") from None
        if squeezed and shape != t.shape:
            # Keras reshapes the matches back to the targets' shape here, which fails: refuse as it does
            raise ValueError(f"sparse categorical accuracy needs targets of shape {expected}; got "
                             f"{np.shape(y_true)} (Keras fails on these shapes too)")
        if t.shape != predicted.shape and not self._warned:
            self._warned = True
            warnings.warn(
                f"{self.name}: targets of shape {np.shape(y_true)} and predictions of shape {y_pred.shape} "
                f"(predicted class ids {predicted.shape}) differ; as in Keras, the ids are compared as {t.shape} "
                f"against {predicted.shape} broadcast to {shape}, and each of the {shape[0] if shape else 1} rows "
                f"counts as one sample.", losses_mod.ShapeBroadcastWarning, stacklevel=3)
        matches = t.astype(y_pred.dtype) == predicted.astype(y_pred.dtype)
        return _per_sample(matches.astype(y_pred.dtype))


class MeanMetricWrapper(Metric):
    """A metric from a function ``fn(y_true, y_pred) -> values`` (per element or per sample)."""

    def __init__(self, fn: Callable[[Any, Array], Any], name: str | None = None, direction: str = "down") -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable; got {fn!r}")
        if direction not in ("up", "down"):
            raise ValueError(f"direction must be 'up' or 'down'; got {direction!r}")
        self.fn, self.direction = fn, direction
        self.default_name = getattr(fn, "__name__", "metric")
        super().__init__(name)

    def per_sample(self, y_true, y_pred):
        return _per_sample(self.fn(y_true, y_pred))


_BY_NAME: dict[str, Callable[[str], Metric]] = {
    **{n: (lambda n: LossMetric(n)) for n in (
        "mae", "mean_absolute_error", "mse", "mean_squared_error", "binary_crossentropy",
        "categorical_crossentropy", "sparse_categorical_crossentropy")},
    "binary_accuracy": lambda n: BinaryAccuracy(n),
    "categorical_accuracy": lambda n: CategoricalAccuracy(n),
    "sparse_categorical_accuracy": lambda n: SparseCategoricalAccuracy(n),
}
NAMES = sorted([*_BY_NAME, "accuracy", "acc"])


def resolve_accuracy(y_true_shape: tuple, y_pred_shape: tuple) -> type[Metric]:
    """Keras's choice for ``'accuracy'``: binary, sparse categorical or categorical, from the shapes."""
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier: str | Metric, y_true_shape: tuple, y_pred_shape: tuple) -> Metric:
    """A metric by Keras name (named as given, e.g. 'acc'), or the given ``Metric`` itself."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return resolve_accuracy(tuple(y_true_shape), tuple(y_pred_shape))(identifier)
        if identifier in _BY_NAME:
            return _BY_NAME[identifier](identifier)
    raise ValueError(f"unknown metric {identifier!r}; expected a minirnn.training.metrics.Metric or one of {NAMES}")


def check_identifiers(metrics: Any) -> list:
    """Validate ``compile(metrics=...)`` now (the shapes that resolve 'accuracy' come with the data)."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, Metric)):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of names or Metric objects; got {type(metrics).__name__}")
    out = []
    for m in metrics:
        known = isinstance(m, str) and (m in _BY_NAME or m.lower() in ("accuracy", "acc"))
        if not isinstance(m, Metric) and not known:
            raise ValueError(f"unknown metric {m!r}; expected a minirnn.training.metrics.Metric or one of {NAMES}")
        out.append(m)
    names = [m.name if isinstance(m, Metric) else m for m in out]
    if len(set(names)) != len(names) or "loss" in names:
        raise ValueError(f"metric names must be distinct and not 'loss'; got {names}")
    return out


class MeanTracker:
    """Accumulates per-sample values of several metrics over an epoch; ``result()`` gives the means."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics
        self.totals = [0.0] * len(metrics)
        self.counts = [0] * len(metrics)

    def update(self, y_true: Array, y_pred: Array, mask: Array | None = None, logits: Array | None = None,
               sample_weight: Array | None = None) -> None:
        """Add a batch. With a (B, T) step mask on sequence outputs (B, T, ...), as Keras does, each metric is
        taken per step and only real steps count: the epoch value is sum(v_bt m_bt) / sum(m_bt).

        ``sample_weight`` (B,) (or (B, T) on sequence outputs) weights the values as Keras's ``Mean`` does:
        sum(v w) / sum(w). ``logits``: the output layer's logits, which the crossentropy metrics read
        instead of the probabilities, as Keras's do (see ``minirnn.training.losses._Crossentropy``)."""
        y_true = np.asarray(y_true)
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        seq = y_pred.ndim >= 3 and y_true.shape[:2] == y_pred.shape[:2]
        per_step = seq and ((mask is not None and y_pred.shape[:2] == mask.shape)
                            or (sw is not None and sw.shape == y_pred.shape[:2]))
        B = len(y_pred)
        if per_step:
            T = y_pred.shape[1]
            w = np.ones((B, T)) if mask is None else mask.astype(np.float64)
            if sw is not None:
                w = w * (sw[:, None] if sw.ndim == 1 else sw)
        elif sw is not None:
            if sw.shape != (B,):
                raise ValueError(f"sample_weight for the metrics must have shape ({B},) (or ({B}, T) on sequence "
                                 f"outputs); got {sw.shape}")
            w = sw
        else:
            w = None
        for i, m in enumerate(self.metrics):
            fn, pred = m.per_sample, y_pred
            if logits is not None and getattr(m, "reads_output_logits", False):
                fn, pred = m.per_sample_from_logits, logits
            if per_step:
                values = fn(y_true.reshape(B * T, *y_true.shape[2:]),
                            pred.reshape(B * T, *pred.shape[2:])).reshape(B, T)
            else:
                values = fn(y_true, pred)
            if w is None:
                self.totals[i] += float(values.sum())
                self.counts[i] += len(values)
            else:
                self.totals[i] += float((values * w).sum())
                self.counts[i] += float(w.sum())

    def result(self) -> dict[str, float]:
        return {m.name: (t / c if c else 0.0) for m, t, c in zip(self.metrics, self.totals, self.counts)}
