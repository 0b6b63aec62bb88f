"""``Sequential``: a stack of layers with Keras's compile / fit / evaluate / predict.

Shapes: x (N, ...) as the first layer expects (for a recurrent first layer (N, T, D)); y (N, ...)
matched to the predictions by the loss (see ``minirnn.losses`` for Keras's broadcasting rule).

One training step on a batch (x_b, y_b):

    y_hat, caches = forward through the layers (training=True: dropout active)
    L, dL/dy_hat  = loss.value_and_grad(y_b, y_hat, mask=output step mask, if any)
    grads         = backward through the layers in reverse, using the caches
    w             = optimizer step on (w, grads), in place

The founding program, line for line:

    >>> import numpy as np
    >>> from minirnn import Sequential
    >>> from minirnn.layers import LSTM, Dropout, Dense
    >>> data = np.random.default_rng(1).standard_normal((40, 10, 1))
    >>> model = Sequential()
    >>> model.add(LSTM(50, activation='relu', input_shape=(10, 1), seed=0))
    >>> model.add(Dropout(0.2))
    >>> model.add(Dense(1, seed=0))
    >>> model.compile(optimizer='adam', loss='mse')
    >>> history = model.fit(data, data.mean(axis=1), epochs=2, verbose=0, seed=0)
    >>> len(history.history['loss'])
    2
    >>> model.predict(data).shape
    (40, 1)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _atomic, runtime
from .layers.base import Layer, as_float_array, check_finite_weight, check_positive_int, refuse_masked
from .layers.core import InputLayer, as_token_ids
from .layers.recurrent import RNN
from .saving import register_model_class, save_model
from .training import callbacks as callbacks_mod
from .training import losses as losses_mod
from .training import metrics as metrics_mod
from .training import optimizers as optimizers_mod

Array = np.ndarray


class TrainingDivergedError(FloatingPointError):
    """The loss or a gradient became NaN or Inf during training; the weights are the last finite ones."""


class NonFiniteOutputError(FloatingPointError):
    """A forward pass produced NaN or Inf (for example a relu LSTM whose cell state exploded)."""


class _LogitsGradient:
    """dL/dz for the last layer's logits z, when the loss was computed from them (``Sequential._output_logits``)."""

    def __init__(self, grad: Array) -> None:
        self.grad = grad


class History:
    """What ``fit`` returns: ``history['loss']`` (and ``'val_loss'``), one value per epoch."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


@register_model_class  # so that minirnn.saving can build one without importing this module
class Sequential:
    """A linear stack of layers (see the module docstring for the training step)."""

    def __init__(self, layers: Sequence[Layer] | None = None, name: str = "sequential"):
        self.layers: list[Layer] = []
        self.name = name
        self.optimizer: optimizers_mod.Optimizer | None = None
        self.loss: losses_mod.Loss | None = None
        self.compiled_metrics: list = []           # as given to compile (names or Metric objects)
        self.resolved_metrics: list | None = None  # Metric objects, resolved from the first data seen
        self.stop_training = False
        self.divergence: TrainingDivergedError | None = None  # the error fit did not raise (TerminateOnNaN)
        self.history: History | None = None
        for layer in layers or []:
            self.add(layer)

    # -- construction -----------------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a minirnn Layer; got {type(layer).__name__}")
        if isinstance(layer, InputLayer):  # Input(shape): the input spec, not a layer of the model (as Keras)
            if self.layers or getattr(self, "_input_spec", None) is not None:
                raise ValueError("Input(...) must come first in a Sequential model, once")
            self._input_spec = layer
            return
        spec = getattr(self, "_input_spec", None)
        if spec is not None and not self.layers and layer.input_shape is None:
            layer.input_shape = spec.shape
        if getattr(layer, "integer_input", False) and self.layers:
            raise ValueError(f"{layer.describe()} takes integer token ids, so it must be the model's first layer")
        if getattr(layer, "return_state", False):  # an RNN or a Bidirectional around one
            raise ValueError(f"{layer.describe()} has return_state=True, which a Sequential model cannot pass "
                             f"on (it returns a list); use the layer directly")
        if any(layer is other for other in self.layers):
            raise ValueError(f"{layer.describe()} is already in this model")
        if layer.name is None:
            names = {other.name for other in self.layers}
            base, k = layer.default_name, 0
            layer.name = base
            while layer.name in names:
                k += 1
                layer.name = f"{base}_{k}"
        self.layers.append(layer)
        first = self.layers[0]
        if first.input_shape is not None and not all(lay.built for lay in self.layers):
            self.build(first.input_shape)

    def build(self, input_shape: Sequence[int]) -> None:
        """Build every layer for inputs of shape ``(batch,) + input_shape``."""
        shape = tuple(input_shape)
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            else:
                layer.check_input_shape((None, *shape))
            shape = layer.compute_output_shape(shape)

    @property
    def built(self) -> bool:
        return bool(self.layers) and all(layer.built for layer in self.layers)

    def compile(self, optimizer: str | optimizers_mod.Optimizer = "adam", loss: str | losses_mod.Loss = "mse",
                metrics: Sequence[str | metrics_mod.Metric] | None = None) -> None:
        """Set the optimizer, the loss and the metrics that fit and evaluate report (e.g. ['mae', 'accuracy'];
        'accuracy' is resolved from the data's shapes as Keras resolves it, see ``minirnn.metrics``)."""
        compiled_metrics = metrics_mod.check_identifiers(metrics)
        optimizer = optimizers_mod.get(optimizer)
        loss = losses_mod.get(loss)
        optimizer.bind(self)  # one model per optimizer instance: its moments and step counter are this model's
        if self.optimizer is not None and self.optimizer is not optimizer:
            self.optimizer.release(self)
        self.optimizer, self.loss = optimizer, loss
        self.compiled_metrics, self.resolved_metrics = compiled_metrics, None

    @property
    def metrics_names(self) -> list[str]:
        """'loss' and the compiled metrics' names, in the order ``evaluate`` returns them."""
        return ["loss", *(m.name if isinstance(m, metrics_mod.Metric) else m for m in self.compiled_metrics)]

    def _resolve_metrics(self, y: Array, x_shape: tuple) -> list:
        if self.resolved_metrics is None:
            shape = (x_shape[0], *self.output_shape(x_shape[1:]))
            self.resolved_metrics = [metrics_mod.get(m, y.shape, shape) for m in self.compiled_metrics]
        return self.resolved_metrics

    # -- weights ----------------------------------------------------------------------------------
    @property
    def weights(self) -> list[Array]:
        """The live parameter arrays, in Keras's ``get_weights`` order."""
        return [w for layer in self.layers for w in layer.params.values()]

    def get_weights(self) -> list[Array]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Copy Keras-ordered weights in; every array is checked before any is changed."""
        self._require_built("set_weights")
        weights = list(weights)
        counts = [len(layer.params) for layer in self.layers]
        if len(weights) != sum(counts):
            raise ValueError(f"set_weights expects {sum(counts)} arrays for this model; got {len(weights)}")
        for layer, w in zip(self.layers, np.split(np.arange(len(weights)), np.cumsum(counts)[:-1])):
            current = layer.params
            for name, i in zip(current, w):
                arr = as_float_array(f"weight {i} ({layer.name}.{name})", weights[i], current[name].dtype)
                check_finite_weight(f"weight {i} ({layer.name}.{name})", weights[i], arr)
                if arr.shape != current[name].shape:
                    raise ValueError(f"weight {i} ({layer.name}.{name}) must have shape {current[name].shape}; "
                                     f"got {arr.shape}")
        start = 0
        for layer, n in zip(self.layers, counts):
            layer.set_weights(weights[start:start + n])
            start += n

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def save(self, path: str, include_optimizer: bool = True) -> None:
        """Write the model (config, weights, compile settings, optimizer state) to one file, atomically;
        ``minirnn.load_model(path)`` reads it back (see ``minirnn.saving``)."""
        save_model(self, path, include_optimizer=include_optimizer)

    # -- the computation --------------------------------------------------------------------------
    def _forward(self, x: Array, training: bool, rng: np.random.Generator | None,
                 return_mask: bool = False) -> tuple:
        """``(y, caches)``, or ``(y, caches, mask)``: the step mask that reaches the output (or None)."""
        caches = []
        mask = None  # a (B, T) step mask from a Masking layer, passed along as in Keras
        for layer in self.layers:
            if x.dtype != layer.dtype and not getattr(layer, "integer_input", False):  # Embedding: ids stay ints
                x = x.astype(layer.dtype)
            if layer.uses_mask and mask is not None:
                y, cache = layer.forward(x, training=training, rng=rng, mask=mask)
            else:
                y, cache = layer.forward(x, training=training, rng=rng)
            mask = layer.compute_mask(x, mask)
            x = y
            caches.append(cache)
        return (x, caches, mask) if return_mask else (x, caches)

    def _forward_loss(self, x: Array, y: Array, training: bool, rng: np.random.Generator | None) -> tuple:
        """``(loss, dL/dy_hat, y_hat, caches)``. As in Keras, a step mask on the output (return_sequences
        after ``Masking``) restricts the loss to the real steps (``Loss.value_and_grad(mask=...)``)."""
        return self._forward_loss_and_mask(x, y, training, rng)[:4]

    def _forward_loss_and_mask(self, x: Array, y: Array, training: bool, rng: np.random.Generator | None,
                               sample_weight: Array | None = None) -> tuple:
        """``(loss, dL/dy_hat, y_hat, caches, output step mask or None)``; dL/dy_hat may be a
        ``_LogitsGradient`` (the loss was computed from the output layer's logits, see ``_output_logits``)."""
        y_hat, caches, mask = self._forward(x, training, rng, return_mask=True)
        logits = self._output_logits(caches)
        return (*self._loss_value_and_grad(y, y_hat, mask, logits, sample_weight), y_hat, caches, mask)

    def _output_logits(self, caches: list) -> Array | None:
        """The last layer's logits when it is a softmax or sigmoid ``Dense``: Keras's activations attach them
        to their output (``_keras_logits``) and its crossentropies, losses and metrics, then use them with
        ``from_logits`` forced on. Not through TimeDistributed: Keras's reshape drops them."""
        output_logits = getattr(self.layers[-1], "output_logits", None)
        return None if output_logits is None else output_logits(caches[-1])

    def _loss_value_and_grad(self, y: Array, y_hat: Array, mask: Array | None, logits: Array | None = None,
                             sample_weight: Array | None = None) -> tuple:
        loss = self.loss
        if logits is not None and getattr(loss, "reads_output_logits", False):
            loss, y_hat = loss.logits_twin(), logits
        else:
            logits = None
        # a Loss subclass written for value_and_grad(y_true, y_pred) keeps working on unmasked outputs
        if mask is None and sample_weight is None:
            value, grad = loss.value_and_grad(y, y_hat)
        else:
            value, grad = loss.value_and_grad(y, y_hat, sample_weight=sample_weight, mask=mask)
        return (value, grad) if logits is None else (value, _LogitsGradient(grad))

    def reset_states(self) -> None:
        """Forget the carried state of every stateful recurrent layer."""
        for layer in self.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()

    def _backward(self, caches: list, dy: Array) -> list[Array]:
        return self._backward_with_dx(caches, dy)[0]

    def _backward_with_dx(self, caches: list, dy: Array) -> tuple[list[Array], Array]:
        """The weight gradients (``get_weights`` order) and dL/dx for the model input."""
        grads: list[list[Array]] = []
        for layer, cache in zip(reversed(self.layers), reversed(caches)):
            if isinstance(dy, _LogitsGradient):  # the loss was taken from this (last) layer's logits
                g = layer.backward_from_logits(cache, dy.grad.astype(layer.dtype, copy=False))
                grads.append(list(g.params.values()))
                dy = g.dx
                continue
            # A layer's output has its dtype (_forward casts at each boundary), so its gradient is rounded
            # to that dtype too, as the gradient of Keras's cast is: matters when dtypes are mixed.
            g = layer.backward(cache, dy.astype(layer.dtype, copy=False))
            grads.append(list(g.params.values()))
            dy = g.dx
        return [a for layer_grads in reversed(grads) for a in layer_grads], dy

    def loss_and_gradients(self, x: Any, y: Any, training: bool = False,
                           rng: np.random.Generator | None = None, return_input_gradient: bool = False):
        """The loss on (x, y) and its gradient for every weight, aligned with ``get_weights()``.

        With ``training=True`` dropout is active (masks from ``rng``), exactly as in a ``fit`` step.
        With ``return_input_gradient=True`` returns ``(loss, grads, dL/dx)``, dL/dx shaped like x.
        """
        self._require_compiled("loss_and_gradients")
        rng = _check_rng(rng)
        x, y = self._check_xy(x, y)
        if return_input_gradient:
            loss, dy, _, caches = self._forward_loss(x, y, training, rng)
            return (float(loss), *self._backward_with_dx(caches, dy))
        return self._loss_and_gradients(x, y, training, rng)

    def _loss_and_gradients(self, x, y, training, rng):
        return self._loss_gradients_output(x, y, training, rng)[:2]

    def _loss_gradients_output(self, x, y, training, rng, sample_weight=None):
        """``(loss, grads, y_hat, output step mask, output logits or None)``."""
        # NumPy's floating-point warnings stay inside: a non-finite loss or gradient is reported once, by the
        # caller's check (TrainingDivergedError), not by a dozen RuntimeWarnings pointing into the kernels
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, dy, y_hat, caches, mask = self._forward_loss_and_mask(x, y, training, rng, sample_weight)
            grads = self._backward(caches, dy)
        return float(loss), grads, y_hat, mask, self._output_logits(caches)

    def _train_step(self, x: Array, y: Array, rng: np.random.Generator | None, where: str,
                    metrics: metrics_mod.MeanTracker | None = None, sample_weight: Array | None = None) -> float:
        """One training step (``_train_step_body``), all or nothing: if it raises (KeyboardInterrupt included,
        and a second one during the restore, see ``minirnn._atomic``), the weights, the optimizer state and
        the carried states of stateful layers are those before it."""
        carried = _carried_states(self.layers)
        optimizer, params = self.optimizer, self.weights
        taken: list[tuple] = []  # the optimizer's snapshot, once the body has taken it

        def undo() -> None:
            if taken:
                optimizer.restore(params, taken[0])
            optimizer._caller_guards_step = False  # a later apply of its own guards itself again
            _restore_states(carried)

        return _atomic.all_or_nothing(
            lambda: self._train_step_body(x, y, rng, where, metrics, sample_weight, params, taken), undo)

    def _train_step_body(self, x: Array, y: Array, rng: np.random.Generator | None, where: str,
                         metrics: metrics_mod.MeanTracker | None, sample_weight: Array | None,
                         params: list[Array], taken: list[tuple]) -> float:
        loss, grads, y_hat, mask, logits = self._loss_gradients_output(x, y, True, rng, sample_weight)
        if metrics is not None:  # as Keras: on this step's training-mode predictions, before the update
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                # compiled metrics are not weighted by sample_weight / class_weight (Keras has weighted_metrics)
                metrics.update(y, y_hat, mask, logits=logits)
        advice = "try a lower learning rate, clipnorm, or tanh instead of relu"
        if not np.isfinite(loss) or not all(np.isfinite(g).all() for g in grads):
            what = f"the loss became {loss}" if not np.isfinite(loss) else "a gradient became non-finite"
            raise TrainingDivergedError(f"{what} at {where}; training stopped and the weights are those after "
                                        f"the last finite step ({advice})")
        # All or nothing, under any exception (KeyboardInterrupt included) and when the update itself
        # overflows (a finite gradient times a huge learning rate): the snapshot is taken after the slots
        # exist, so the first step is restored whole too; _train_step's undo restores it, and the
        # optimizer's own guard is not repeated.
        optimizer = self.optimizer
        optimizer.prepare(params)
        taken.append(optimizer.snapshot(params))
        optimizer._caller_guards_step = True
        with np.errstate(over="ignore", invalid="ignore"):  # reported below as an error, not a warning
            optimizer.apply(params, grads)
        optimizer._caller_guards_step = False
        if not all(np.isfinite(w).all() for w in params):
            raise TrainingDivergedError(f"the update at {where} made a weight non-finite; training stopped "
                                        f"and the weights are those after the last finite step ({advice})")
        return loss

    def train_on_batch(self, x: Any, y: Any, rng: np.random.Generator | None = None) -> float:
        """One optimizer step on the batch (x, y), dropout active; returns the loss before the step."""
        self._require_compiled("train_on_batch")
        rng = _check_rng(rng)
        x, y = self._check_xy(x, y)
        runtime.keep_freed_memory()
        return self._train_step(x, y, rng, "train_on_batch")

    def fit(self, x: Any, y: Any, epochs: int = 1, batch_size: int | None = 32, shuffle: bool = True,
            validation_split: float = 0.0, validation_data: tuple | None = None, verbose: int = 1,
            seed: int | None = None,
            callbacks: Sequence[callbacks_mod.Callback | Callable[[int, dict], Any]] | None = None,
            initial_epoch: int = 0, sample_weight: Any = None, class_weight: dict | None = None) -> History:
        """Train for ``epochs`` passes over (x, y), as Keras's ``fit``:

        * validation_split takes the *last* fraction of the samples, before any shuffling;
        * each epoch draws a fresh permutation (``shuffle=True``); the last partial batch is kept;
        * dropout is active in training only; validation runs with it off;
        * the epoch's ``loss`` is the batch-size-weighted mean of the batch losses, each computed
          before that batch's update.

        * compiled metrics are averaged like the loss (per sample, over the epoch), on the training-mode
          predictions of each step; History and the logs get 'mae', 'val_mae', ... after 'loss'.

        ``seed`` seeds the shuffling and the dropout masks (None: fresh entropy): epoch e draws from
        generators derived from (seed, e) alone, so ``fit(epochs=2, seed=s)`` followed by
        ``fit(epochs=4, initial_epoch=2, seed=s)`` trains exactly as ``fit(epochs=4, seed=s)`` (also across
        ``save``/``load_model``, which keep the optimizer state). As in Keras, ``epochs`` is the index of
        the last epoch, and training runs epochs ``initial_epoch .. epochs - 1``.

        ``callbacks``: ``minirnn.callbacks.Callback`` objects, or functions called as ``f(epoch, logs)``
        after every epoch; a callback may set ``model.stop_training = True``.
        """
        self._require_compiled("fit")
        # Every argument is checked before anything changes; the data checks build an unbuilt model (the
        # shapes come from the data), and if any later check refuses, it is unbuilt again (``_rejecting``).
        epochs = check_positive_int("epochs", epochs)
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) \
                or not 0 <= initial_epoch < epochs:
            raise ValueError(f"initial_epoch must be an integer in [0, epochs={epochs}); got {initial_epoch!r}")
        batch_size = 32 if batch_size is None else check_positive_int("batch_size", batch_size)
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) \
                or not 0 <= validation_split < 1:
            raise ValueError(f"validation_split must be a number in [0, 1); got {validation_split!r}")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False; got {shuffle!r}")
        verbose = _check_verbose(verbose)
        seed = _check_seed(seed)
        x, y, x_val, y_val, sample_weight, sw_val, cbs, resolved = self._rejecting(lambda: self._fit_inputs(
            x, y, validation_split, validation_data, sample_weight, class_weight, callbacks))
        root = np.random.SeedSequence(seed)

        history = History()
        self.history = history
        self.stop_training, self.divergence = False, None
        n = len(x)
        n_batches = -(-n // batch_size)
        cbs.on_train_begin({})
        logs: dict[str, float] = {}
        runtime.keep_freed_memory()  # the allocator policy, once per process (minirnn.runtime)
        for epoch in range(initial_epoch, epochs):
            # per-epoch generators from (seed, epoch) only, so that training can resume at any epoch
            shuffle_rng, dropout_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(
                root.entropy, spawn_key=(*root.spawn_key, epoch)).spawn(2))
            start_time = time.perf_counter()
            cbs.on_epoch_begin(epoch, {})
            bar = _ProgressBar(epoch, epochs, n_batches, live=verbose == 1) if verbose else None
            xs, ys, sws = x, y, sample_weight
            if shuffle:  # one gather per epoch in the epoch's order; every batch is then a view, not a copy
                order = shuffle_rng.permutation(n)
                xs, ys = x[order], y[order]
                sws = None if sample_weight is None else sample_weight[order]
            total, seen = 0.0, 0
            tracker = metrics_mod.MeanTracker(resolved)
            for b in range(n_batches):
                cbs.on_train_batch_begin(b, {})
                sl = slice(b * batch_size, (b + 1) * batch_size)
                xb, yb = xs[sl], ys[sl]
                try:
                    loss = self._train_step(xb, yb, dropout_rng, f"epoch {epoch + 1}, batch {b + 1}", tracker,
                                            None if sws is None else sws[sl])
                except TrainingDivergedError as err:
                    if not cbs.handles_divergence():
                        raise
                    # TerminateOnNaN: the step was not taken (last finite weights and optimizer state); the
                    # batch ends with a NaN loss as in Keras, and the callback stops training
                    self.divergence = err  # what TerminateOnNaN reports
                    logs = {**logs, "loss": float("nan")}
                    cbs.on_train_batch_end(b, dict(logs))
                    self.stop_training = True
                    break
                total += loss * len(xb)
                seen += len(xb)
                logs = {"loss": total / seen, **tracker.result()}
                if verbose == 1:
                    bar.update(b + 1, logs)
                cbs.on_train_batch_end(b, dict(logs))
                if self.stop_training:
                    break
            if x_val is not None:
                logs.update({f"val_{k}": v for k, v in self._evaluate(x_val, y_val, batch_size, sw_val).items()})
            # as Keras, History and the progress line come after the user's callbacks, which may add to the
            # logs (ReduceLROnPlateau adds learning_rate)
            cbs.on_epoch_end(epoch, logs)
            history.append(epoch, logs)
            if verbose:
                bar.finish(logs, time.perf_counter() - start_time)
            if self.stop_training:
                break
        cbs.on_train_end(dict(logs))
        return history

    def _fit_inputs(self, x: Any, y: Any, validation_split: float, validation_data: Any, sample_weight: Any,
                    class_weight: Any, callbacks: Any) -> tuple:
        """fit's data checked and split: ``(x, y, x_val, y_val, sample_weight, sw_val, callbacks, metrics)``."""
        x, y = self._check_xy(x, y)
        sample_weight = self._check_sample_weight(sample_weight, class_weight, x, y)
        sw_val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError(f"validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                                 f"sample_weight_val); got {_describe(validation_data)}")
            x_val, y_val = self._check_xy(*validation_data[:2], names=("validation x", "validation y"))
            if len(validation_data) == 3:
                sw_val = self._check_sample_weight(validation_data[2], None, x_val, y_val,
                                                   "validation sample_weight")
        elif validation_split:
            split_at = int(len(x) * (1.0 - validation_split))
            if split_at == 0 or split_at == len(x):
                raise ValueError(f"validation_split={validation_split} leaves no training or no validation "
                                 f"samples out of {len(x)}")
            x, x_val = x[:split_at], x[split_at:]
            y, y_val = y[:split_at], y[split_at:]
            if sample_weight is not None:  # as Keras: the split comes first, so class weights stay in training
                sample_weight, sw_val = sample_weight[:split_at], sample_weight[split_at:]
        else:
            x_val = y_val = None
        if class_weight is not None:
            sample_weight = _class_weight_to_sample_weight(class_weight, y)
        resolved = self._resolve_metrics(y, x.shape)
        cbs = callbacks_mod.CallbackList(callbacks, self)
        return x, y, x_val, y_val, sample_weight, sw_val, cbs, resolved

    def _check_sample_weight(self, sample_weight: Any, class_weight: Any, x: Array, y: Array,
                             name: str = "sample_weight") -> Array | None:
        """``_check_sample_weight`` (values, one row per sample), and the shape checked against the loss
        values now, on the first rows, not at the first step (which would leave a freshly built model built)."""
        sw = _check_sample_weight(sample_weight, class_weight, len(x), name)
        if sw is None or sw.ndim == 1:  # (N,) weights every loss value's shape
            return sw
        k = min(len(x), 2)
        predicted = np.zeros((k, *self.output_shape(x.shape[1:])), self.layers[-1].dtype)
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self._loss_value_and_grad(y[:k], predicted, None, None, sw[:k])
        except ValueError as err:
            raise ValueError(f"{name} of shape {sw.shape}: {err}") from None
        return sw

    def evaluate(self, x: Any, y: Any, batch_size: int | None = 32, verbose: int = 0,
                 sample_weight: Any = None) -> float | list[float]:
        """The loss on (x, y) with dropout off: the batch-size-weighted mean of the batch losses; with
        compiled metrics, ``[loss, *metrics]`` in ``metrics_names`` order (as Keras returns them).
        ``sample_weight`` (N,) or shaped like the loss values weights them as in ``fit``."""
        self._require_compiled("evaluate")
        batch_size = 32 if batch_size is None else check_positive_int("batch_size", batch_size)
        verbose = _check_verbose(verbose)

        def check() -> tuple:
            x_, y_ = self._check_xy(x, y)
            sw = self._check_sample_weight(sample_weight, None, x_, y_)
            self._resolve_metrics(y_, x_.shape)
            return x_, y_, sw

        x, y, sample_weight = self._rejecting(check)
        runtime.keep_freed_memory()
        logs = self._evaluate(x, y, batch_size, sample_weight)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return logs["loss"] if len(logs) == 1 else list(logs.values())

    def _evaluate(self, x: Array, y: Array, batch_size: int, sample_weight: Array | None = None) -> dict[str, float]:
        total = 0.0
        tracker = metrics_mod.MeanTracker(self.resolved_metrics or [])
        carried = _carried_states(self.layers)
        # if the call raises, a stateful layer keeps the state it carried before it (also under a second Ctrl-C)
        return _atomic.all_or_nothing(lambda: self._evaluate_batches(x, y, batch_size, sample_weight, total, tracker),
                                      lambda: _restore_states(carried))

    def _evaluate_batches(self, x, y, batch_size, sample_weight, total, tracker) -> dict[str, float]:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            swb = None if sample_weight is None else sample_weight[start:start + batch_size]
            y_hat, mask, logits = self._inference(xb, start, return_mask=True, return_logits=True)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                total += float(self._loss_value_and_grad(yb, y_hat, mask, logits, swb)[0]) * len(xb)
                tracker.update(yb, y_hat, mask, logits=logits)  # unweighted, as Keras's compiled metrics
        return {"loss": total / len(x), **tracker.result()}

    def predict(self, x: Any, batch_size: int | None = 32, verbose: int = 0) -> Array:
        """The model's outputs for x, computed in batches with dropout off."""
        batch_size = 32 if batch_size is None else check_positive_int("batch_size", batch_size)
        _check_verbose(verbose)
        x = self._check_x(x)
        runtime.keep_freed_memory()  # the allocator policy, once per process (minirnn.runtime)
        carried = _carried_states(self.layers)
        # if the call raises, a stateful layer keeps the state it carried before it (also under a second Ctrl-C)
        outs = _atomic.all_or_nothing(
            lambda: [self._inference(x[s:s + batch_size], s) for s in range(0, len(x), batch_size)],
            lambda: _restore_states(carried))
        return np.concatenate(outs, axis=0)

    def _inference(self, x: Array, offset: int = 0, return_mask: bool = False, return_logits: bool = False):
        """Forward pass with dropout off (with ``return_mask``: ``(y, output step mask)``, and with
        ``return_logits`` also the logits the loss reads, see ``_output_logits``); NaN or Inf is
        reported with the layer that produced it."""
        carried = _carried_states(self.layers)
        with np.errstate(over="ignore", invalid="ignore"):  # reported below as an error, not as warnings
            y, caches, mask = self._forward(x, False, None, return_mask=True)
        if np.isfinite(y).all():
            if return_logits:
                return y, mask, self._output_logits(caches)
            return (y, mask) if return_mask else y
        _restore_states(carried)  # the second pass starts where the first did (and leaves the states there)
        h = x
        for layer in self.layers:  # a second pass, only on failure, to name the first non-finite layer
            with np.errstate(over="ignore", invalid="ignore"):
                h, _ = layer.forward(h.astype(layer.dtype, copy=False), training=False)
            bad = ~np.isfinite(h)
            if bad.any():
                row = int(np.argwhere(bad)[0][0]) + offset
                _restore_states(carried)
                raise NonFiniteOutputError(
                    f"{layer.describe()} produced {'NaN' if np.isnan(h).any() else 'Inf'} (first at sample {row}); "
                    f"its activations overflowed (a relu recurrent layer can explode: try tanh, smaller weights "
                    f"or inputs)")
        _restore_states(carried)
        raise NonFiniteOutputError("the model produced NaN or Inf")

    def __call__(self, x: Any, training: bool = False, rng: np.random.Generator | None = None) -> Array:
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(f"training must be True or False; got {training!r}")
        rng = _check_rng(rng)
        return self._forward(self._check_x(x), training, rng)[0]

    # -- checks -----------------------------------------------------------------------------------
    def _require_built(self, what: str) -> None:
        if not self.layers:
            raise ValueError(f"{what}: the model has no layers; add some first")
        if not self.built:
            raise ValueError(f"{what}: the model is not built; give the first layer input_shape= or call it on data")

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None or self.loss is None:
            raise ValueError(f"{what} needs a compiled model: call model.compile(optimizer=..., loss=...) first")

    def _check_x(self, x: Any, name: str = "x") -> Array:
        """``x`` checked and cast (``_check_x_body``); rejected data leaves an unbuilt model unbuilt."""
        return self._rejecting(lambda: self._check_x_body(x, name))

    def _rejecting(self, check: Callable[[], Any]) -> Any:
        """``check()``; if it raises, the layers it built are unbuilt again and the metrics it resolved are
        forgotten, so that rejected data (or any rejected argument checked with it) leaves the model as it was."""
        unbuilt, resolved = _unbuilt_layers(self.layers), self.resolved_metrics

        def undo() -> None:
            _unbuild(unbuilt)
            self.resolved_metrics = resolved

        return _atomic.all_or_nothing(check, undo)

    def _check_x_body(self, x: Any, name: str = "x") -> Array:
        if not self.layers:
            raise ValueError("the model has no layers; add some first")
        first = self.layers[0]
        # integer token ids reach an Embedding as integers (floats holding whole numbers accepted, as Keras)
        x = as_token_ids(name, x, first.input_dim) if getattr(first, "integer_input", False) \
            else as_float_array(name, x, first.dtype)
        if x.ndim < 2:
            raise ValueError(f"{name} must have shape (samples, ...); got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"{name} is empty (shape {x.shape})")
        if not self.built:
            self.build(x.shape[1:])
        first.check_input_shape(x.shape, name)
        if not np.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or Inf")
        return x

    def output_shape(self, input_shape: Sequence[int] | None = None) -> tuple:
        """The model's output shape without the batch axis (for inputs of ``input_shape``, default the built one)."""
        self._require_built("output_shape")
        shape = self.layers[0].built_input_shape if input_shape is None else tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def _check_xy(self, x: Any, y: Any, names: tuple[str, str] = ("x", "y")) -> tuple[Array, Array]:
        """``(x, y)`` checked (``_check_xy_body``); rejected data leaves an unbuilt model unbuilt."""
        return self._rejecting(lambda: self._check_xy_body(x, y, names))

    def _check_xy_body(self, x: Any, y: Any, names: tuple[str, str]) -> tuple[Array, Array]:
        x = self._check_x(x, names[0])
        refuse_masked(names[1], y)
        y = np.asarray(y)
        if np.issubdtype(y.dtype, np.complexfloating):
            raise TypeError(f"{names[1]} must be real; got dtype {y.dtype}")
        if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
            raise TypeError(f"{names[1]} must be a numeric array; got dtype {y.dtype}")
        if y.ndim == 0 or y.shape[0] != x.shape[0]:
            raise ValueError(f"{names[0]} and {names[1]} must have the same number of samples; "
                             f"got {x.shape[0]} and {y.shape[0] if y.ndim else 'a scalar'}")
        if not np.isfinite(y).all():
            raise ValueError(f"{names[1]} contains NaN or Inf")
        if self.loss is not None:
            # Shape errors (and the one-time broadcasting warning) now, on the whole arrays, before any step.
            dtype = self.layers[-1].dtype
            predicted = np.broadcast_to(dtype.type(0), (len(x), *self.output_shape(x.shape[1:])))
            self.loss.prepare(np.broadcast_to(y.dtype.type(0), y.shape), predicted)
            self.loss.check_targets(y, predicted.shape[-1])
        return x, y

    # -- display ----------------------------------------------------------------------------------
    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print each layer's name, type, output shape and parameter count, and the totals."""
        self._require_built("summary")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = self.layers[0].built_input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
            rows.append((f"{layer.name} ({type(layer).__name__})", str((None, *shape)),
                         f"{layer.count_params():,}"))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "+" + "+".join("-" * w for w in widths) + "+"
        fmt = lambda r: "|" + "|".join(  # noqa: E731
            (f" {c:<{w - 1}}" if i < 2 else f"{c:>{w - 1}} ") for i, (c, w) in enumerate(zip(r, widths))) + "|"
        total = self.count_params()
        nbytes = sum(w.nbytes for w in self.weights)
        out = [f'Model: "{self.name}"', line, fmt(rows[0]), line, *map(fmt, rows[1:]), line,
               f" Total params: {total:,} ({nbytes / 1024:.2f} KB)",
               f" Trainable params: {total:,} ({nbytes / 1024:.2f} KB)",
               " Non-trainable params: 0 (0.00 B)"]
        for text in out:
            print_fn(text)


def _check_sample_weight(sample_weight: Any, class_weight: Any, n: int, name: str = "sample_weight") -> Array | None:
    """``fit``'s sample weights as a float array of n rows (checked now, before training), or None."""
    if class_weight is not None:
        if sample_weight is not None:
            raise ValueError("fit takes class_weight or sample_weight, not both (as Keras refuses them together)")
        if not isinstance(class_weight, dict) or not all(
                isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in class_weight):
            raise TypeError(f"class_weight must be a dict {{class id: weight}}; got {class_weight!r}")
        for k, v in class_weight.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
                raise ValueError(f"class_weight[{k}] must be a finite number; got {v!r}")
        return None
    if sample_weight is None:
        return None
    refuse_masked(name, sample_weight)
    sw = np.asarray(sample_weight)
    if sw.dtype == object or not (np.issubdtype(sw.dtype, np.number) or sw.dtype == bool) \
            or np.issubdtype(sw.dtype, np.complexfloating):
        raise TypeError(f"{name} must be a real numeric array; got dtype {sw.dtype}")
    if sw.ndim == 0 or sw.shape[0] != n:
        raise ValueError(f"{name} must have one row per sample ({n}); got shape {sw.shape}")
    if not np.isfinite(sw).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return sw.astype(np.float64, copy=False)


def _check_verbose(verbose: Any) -> int:
    """0 (silent), 1 (a progress bar) or 2 (one line per epoch); Keras's 'auto' is 1."""
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if isinstance(verbose, (bool, np.bool_)) or not isinstance(verbose, (int, np.integer)) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'; got {verbose!r}")
    return int(verbose)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be None or an integer >= 0; got {seed!r} of type {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be None or an integer >= 0; got {seed}")
    return int(seed)


def _check_rng(rng: Any) -> np.random.Generator | None:
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be None or a numpy.random.Generator (np.random.default_rng(seed)); "
                        f"got {rng!r} of type {type(rng).__name__}")
    return rng


def _describe(value: Any) -> str:
    """A short description of a rejected argument: its type, and its length for a tuple or list."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"{type(value).__name__}"


def _class_weight_to_sample_weight(class_weight: dict, y: Array) -> Array:
    """Keras's ``class_weight_to_sample_weights``: the class of each sample (argmax of one-hot rows,
    else the rounded id), its weight from the dict, 1 for classes not in it; shape (N,)."""
    if y.ndim > 2:
        raise ValueError(f"class_weight needs targets of shape (N,), (N, 1) or one-hot (N, C); got {y.shape} "
                         f"(pass sample_weight instead)")
    ids = y
    if y.ndim > 1:
        ids = y.argmax(axis=-1) if y.shape[-1] != 1 else y[:, 0]
    ids = np.round(ids).astype(np.int64)
    return np.array([float(class_weight.get(int(c), 1.0)) for c in ids])


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _ProgressBar:
    """fit's progress display for one epoch, on whatever ``sys.stdout`` is at the time.

    On a terminal (verbose=1): ``Epoch e/E`` on its own line, then one line redrawn in place with a
    carriage return, at most every ``INTERVAL`` seconds (Keras's 0.05 s), each redraw padded with spaces
    to the previous width so no tail of a longer bar survives (Keras does the same); the epoch's summary
    is the last redraw. Not on a terminal (a file, a pipe, a notebook capture) or with verbose=2: nothing
    per batch and one line per epoch, ``Epoch e/E - n/n - 0.08s - loss: ...`` (Keras keeps writing
    carriage returns there; a log file then holds every batch).
    """

    INTERVAL = 0.05

    def __init__(self, epoch: int, epochs: int, total: int, live: bool = True) -> None:
        self.head, self.total = f"Epoch {epoch + 1}/{epochs}", total
        self.dynamic = live and _is_terminal(sys.stdout)
        self.start = time.perf_counter()
        self.last_draw = -float("inf")
        self.width = 0  # of the text drawn last on the current line
        if self.dynamic:
            sys.stdout.write(self.head + "\n")

    def _draw(self, text: str, end: str = "") -> None:
        sys.stdout.write("\r" + text + " " * max(0, self.width - len(text)) + end)
        sys.stdout.flush()
        self.width = 0 if end else len(text)

    def update(self, done: int, logs: dict[str, float]) -> None:
        if not self.dynamic:
            return
        now = time.perf_counter()
        if now - self.last_draw < self.INTERVAL and done < self.total:
            return
        self.last_draw = now
        eta = (now - self.start) / done * (self.total - done)
        width = 20
        filled = int(width * done / self.total)
        bar = "=" * filled + (">" if filled < width else "") + "." * max(0, width - filled - 1)
        self._draw(f"{done}/{self.total} [{bar}] - ETA: {eta:.1f}s - {_format_logs(logs)}")

    def finish(self, logs: dict[str, float], took: float) -> None:
        text = f"{self.total}/{self.total} - {took:.2f}s - {_format_logs(logs)}"
        if self.dynamic:
            self._draw(text, end="\n")
        else:
            sys.stdout.write(f"{self.head} - {text}\n")
            sys.stdout.flush()


def _format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def _layer_tree(layers: Sequence[Layer]) -> list[Layer]:
    """``layers`` and every layer they wrap (Bidirectional's two, TimeDistributed's one)."""
    found, stack = [], list(layers)
    while stack:
        layer = stack.pop()
        found.append(layer)
        stack += [sub for name in ("forward_layer", "backward_layer", "layer")
                  if isinstance(sub := layer.__dict__.get(name), Layer)]
    return found


def _unbuilt_layers(layers: Sequence[Layer]) -> list[Layer]:
    return [layer for layer in _layer_tree(layers) if not layer.built]


def _unbuild(layers: Sequence[Layer]) -> None:
    """Put layers that a rejected call built back in their unbuilt state (no parameters)."""
    for layer in layers:
        layer.params, layer.built, layer.built_input_shape = {}, False, None


def _stateful_rnns(layers: Sequence[Layer]) -> list[RNN]:
    """Every stateful recurrent layer in ``layers``, wrapped ones included (Bidirectional's two)."""
    return [layer for layer in _layer_tree(layers) if isinstance(layer, RNN) and layer.stateful]


def _carried_states(layers: Sequence[Layer]) -> list[tuple[RNN, Any]]:
    """The carried states to put back if a call raises (a forward pass replaces the list, never edits it)."""
    return [(layer, layer.states) for layer in _stateful_rnns(layers)]


def _restore_states(carried: list[tuple[RNN, Any]]) -> None:
    for layer, states in carried:
        layer.states = states
