"""Callbacks: hooks that ``fit`` calls during training, with Keras's names, order and semantics.

``fit`` calls, in this order (``logs`` is a dict of the values so far, e.g. ``{'loss': ..., 'mae': ...}``):

    on_train_begin(logs)
      on_epoch_begin(epoch)
        on_train_batch_begin(batch); on_train_batch_end(batch, logs)   (running epoch means; batch from 0)
      on_epoch_end(epoch, logs)                                        (the History entry, val_* included)
    on_train_end(logs)

A callback may set ``model.stop_training = True``: fit finishes the current batch and stops after it
(at a batch hook) or after the epoch (at ``on_epoch_end``). A plain function ``f(epoch, logs)`` given to
``fit(callbacks=[...])`` is an ``on_epoch_end`` hook (``LambdaCallback(on_epoch_end=f)``).

EarlyStopping (Keras's rule): at each epoch end with the monitored value v, an improvement is
``v + min_delta < best`` (mode min) or ``v - min_delta > best`` (mode max); an improvement resets the
wait count, otherwise it grows, and training stops once ``wait >= patience``. With
``restore_best_weights`` the weights of the best epoch are put back when training ends, also when it
was not stopped early.

Example:
    >>> import numpy as np
    >>> from minirnn import Sequential
    >>> from minirnn.training.callbacks import EarlyStopping, LambdaCallback
    >>> from minirnn.layers import Dense
    >>> model = Sequential([Dense(1, input_shape=(2,), seed=0)])
    >>> model.compile("sgd", "mse")
    >>> x = np.ones((8, 2)); seen = []
    >>> stop = EarlyStopping(monitor="loss", patience=2, min_delta=10.0)
    >>> log = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    >>> h = model.fit(x, x[:, :1], epochs=50, verbose=0, seed=0, callbacks=[stop, log])
    >>> h.epoch, seen          # epoch 0 sets the best; 1 and 2 do not improve by 10: stop after 2
    ([0, 1, 2], [0, 1, 2])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class Callback:
    """Base class: every hook does nothing; ``self.model`` is set by ``fit`` before training."""

    def __init__(self) -> None:
        self.model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None:
        pass

    def on_train_end(self, logs: dict | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        pass

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Keras's older name for ``on_train_batch_begin`` (which calls it)."""

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Keras's older name for ``on_train_batch_end`` (which calls it)."""


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
             "on_train_batch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        super().__init__()
        for name, fn in hooks.items():
            if name not in self.HOOKS:
                raise TypeError(f"LambdaCallback got an unknown hook {name!r}; expected one of {list(self.HOOKS)}")
            if not callable(fn):
                raise TypeError(f"{name} must be callable; got {fn!r}")
            setattr(self, name, fn)


class EarlyStopping(Callback):
    """Stop training when the monitored value stops improving (see the module docstring).

    ``mode='auto'`` minimises losses and maximises accuracies (the direction of the compiled metric);
    ``baseline``: improvements that do not also beat the baseline do not reset the wait count;
    ``start_from_epoch``: epochs before it are ignored.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log key such as 'val_loss'; got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
        for name, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float, np.integer, np.floating)):
            raise TypeError(f"min_delta must be a number; got {min_delta!r}")
        self.monitor, self.mode, self.patience = monitor, mode, int(patience)
        self.min_delta = abs(float(min_delta))
        self.verbose, self.baseline = verbose, baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self._sign: float | None = None  # +1: larger is better; -1: smaller is better
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_weights: list | None = None
        self.best_epoch = 0

    def _direction(self) -> float:
        if self.mode != "auto":
            return 1.0 if self.mode == "max" else -1.0
        name = self.monitor.removeprefix("val_")
        if name == "loss":
            return -1.0
        for m in getattr(self.model, "resolved_metrics", None) or []:
            if m.name == name:
                return 1.0 if m.direction == "up" else -1.0
        raise ValueError(f"{type(self).__name__} cannot tell whether {self.monitor!r} should be minimised or "
                         f"maximised; pass mode='min' or mode='max'")

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self._sign > 0:
            return bool(value - self.min_delta > reference)
        return bool(value + self.min_delta < reference)

    def on_train_begin(self, logs=None):
        self._reset()  # reusable across fit calls, as in Keras

    def on_epoch_end(self, epoch, logs=None):
        if self._sign is None:
            self._sign = self._direction()
        logs = logs or {}
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"EarlyStopping monitors {self.monitor!r}, which is not in the logs; available: "
                          f"{', '.join(logs)}", RuntimeWarning, stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


def _check_monitor(monitor: Any, mode: str) -> None:
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be a log key such as 'val_loss'; got {monitor!r}")
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")


def _check_number(name: str, value: Any, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite number; got {value!r}")
    return float(value)


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
    return int(value)


def _direction(callback: Callback, monitor: str, mode: str) -> float:
    """+1 when larger is better, -1 when smaller is (Keras's MonitorCallback: mode, else the name)."""
    return EarlyStopping._direction(callback) if mode == "auto" else (1.0 if mode == "max" else -1.0)


class ModelCheckpoint(Callback):
    """Save the model at the end of every epoch (``save_freq='epoch'``), through minirnn's atomic
    ``save_model`` (a crash never leaves a half-written file), with Keras's arguments.

    ``filepath`` may hold ``str.format`` fields filled from ``epoch`` (counted from 1) and the logs, e.g.
    ``'ckpt-{epoch:02d}-{val_loss:.3f}.minirnn'``. With ``save_best_only`` the file is written only when the
    monitored value improves on the best so far (Keras's rule: ``v - min_delta`` compared, min_delta 0, the
    first epoch always improves, ``initial_value_threshold`` as the starting best); a monitored key missing
    from the logs saves anyway, with a warning, as in Keras.

    Not implemented (refused): ``save_weights_only=True`` (minirnn has one file format, the whole model) and
    an integer ``save_freq`` (saving every n batches).

    Example:
        >>> import numpy as np, tempfile, os
        >>> from minirnn import Sequential, load_model
        >>> from minirnn.layers import Dense
        >>> model = Sequential([Dense(1, input_shape=(2,), seed=0)]); model.compile("sgd", "mse")
        >>> path = os.path.join(tempfile.mkdtemp(), "best.minirnn")
        >>> ckpt = ModelCheckpoint(path, monitor="loss", save_best_only=True)
        >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=3, verbose=0, seed=0, callbacks=[ckpt])
        >>> ckpt.best == min(model.history.history["loss"]), os.path.exists(path)
        (True, True)
    """

    def __init__(self, filepath: Any, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 save_weights_only: bool = False, mode: str = "auto", save_freq: Any = "epoch",
                 initial_value_threshold: float | None = None) -> None:
        super().__init__()
        import os

        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"filepath must be a path (str or os.PathLike); got {filepath!r}")
        _check_monitor(monitor, mode)
        if save_weights_only:
            raise ValueError("ModelCheckpoint(save_weights_only=True) is not implemented in minirnn: it saves the "
                             "whole model (minirnn.load_model reads it; model.get_weights() gives the arrays)")
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint(save_freq={save_freq!r}) is not implemented in minirnn: only "
                             f"save_freq='epoch'")
        self.filepath, self.monitor, self.mode, self.verbose = os.fspath(filepath), monitor, mode, verbose
        self.save_best_only, self.save_weights_only, self.save_freq = bool(save_best_only), False, save_freq
        self.initial_value_threshold = _check_number("initial_value_threshold", initial_value_threshold, True)
        self.best = self.initial_value_threshold
        self._sign: float | None = None

    def _file_path(self, epoch: int, logs: dict) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as err:
            raise KeyError(f"ModelCheckpoint cannot format filepath {self.filepath!r} with epoch and the logs "
                           f"({', '.join(logs)}): {err}") from None

    def on_epoch_end(self, epoch, logs=None):
        from ..saving import save_model

        if self._sign is None:
            self._sign = _direction(self, self.monitor, self.mode)
        logs = logs or {}
        path = self._file_path(epoch, logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available; saving anyway "
                              f"(logs: {', '.join(logs)})", RuntimeWarning, stacklevel=2)
            else:
                best = "None" if self.best is None else f"{self.best:.5f}"
                if not (self.best is None or (current > self.best if self._sign > 0 else current < self.best)):
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
                    return
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                          f"saving model to {path}")
                self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        import os

        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        save_model(self.model, path)


class ReduceLROnPlateau(Callback):
    """Multiply the optimizer's learning rate by ``factor`` when the monitored value stops improving.

    Keras's rule, at each epoch end with value v (an improvement is ``v < best - min_delta`` in mode min,
    ``v > best + min_delta`` in mode max; the first value is always one):

        in cooldown: cooldown_counter -= 1, wait = 0
        improvement: best = v, wait = 0
        else, not in cooldown: wait += 1; when wait >= patience and lr > min_lr:
            lr = max(lr * factor, min_lr), cooldown_counter = cooldown, wait = 0

    and, as Keras, it adds ``learning_rate`` (the rate during that epoch) to the epoch's logs, so History
    and the progress line show it. A learning-rate schedule cannot be reduced (refused at the first epoch).

    Example:
        >>> import numpy as np
        >>> from minirnn import Sequential
        >>> from minirnn.layers import Dense
        >>> model = Sequential([Dense(1, input_shape=(2,), seed=0)]); model.compile("sgd", "mse")
        >>> cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100.0)
        >>> h = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=3, verbose=0, seed=0, callbacks=[cb])
        >>> h.history["learning_rate"], model.optimizer.learning_rate   # epoch 0 sets the best
        ([0.01, 0.01, 0.005], 0.0025)
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__()
        _check_monitor(monitor, mode)
        factor = _check_number("factor", factor)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0; got factor={factor}")
        self.monitor, self.mode, self.factor, self.verbose = monitor, mode, factor, verbose
        self.patience = _check_count("patience", patience)
        self.cooldown = _check_count("cooldown", cooldown)
        self.min_delta = abs(_check_number("min_delta", min_delta))
        self.min_lr = _check_number("min_lr", min_lr)
        self._sign: float | None = None
        self._reset()

    def _reset(self) -> None:
        self.best: float | None = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if getattr(optimizer, "schedule", None) is not None:
            raise TypeError("ReduceLROnPlateau cannot change a learning rate given as a schedule "
                            f"({type(optimizer.schedule).__name__}); compile with a constant learning_rate")
        if self._sign is None:
            self._sign = _direction(self, self.monitor, self.mode)
        if logs is None:
            logs = {}
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric {self.monitor!r}, which is not "
                          f"available. Available metrics are: {', '.join(logs)}", RuntimeWarning, stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.best is None or (current > self.best + self.min_delta if self._sign > 0
                                 else current < self.best - self.min_delta):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (from 0) and the logs' keys, as Keras's CSVLogger writes them.

    The columns are fixed at the first epoch: the sorted log keys, and when there is no ``val_*`` key,
    ``val_<key>`` for every key too (then filled with ``NA``, as in Keras). ``append=True`` appends to an
    existing file (the header only if it is empty). The file is flushed after every row and closed when
    training ends.

    Example:
        >>> import numpy as np, tempfile, os
        >>> from minirnn import Sequential
        >>> from minirnn.layers import Dense
        >>> model = Sequential([Dense(1, input_shape=(2,), seed=0)]); model.compile("sgd", "mse")
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, verbose=0, seed=0, callbacks=[CSVLogger(path)])
        >>> open(path).read().splitlines()[0]
        'epoch,loss,val_loss'
    """

    def __init__(self, filename: Any, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        import os

        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"filename must be a path (str or os.PathLike); got {filename!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character; got {separator!r}")
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys: list[str] | None = None
        self.writer: Any = None
        self.csv_file: Any = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        import os

        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")
        self.writer, self.keys = None, None

    def on_epoch_end(self, epoch, logs=None):
        import csv

        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], delimiter=self.sep,
                                         lineterminator="\r\n")
            if self.append_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or Inf, without raising.

    Without this callback ``fit`` raises ``TrainingDivergedError`` at such a batch. With it, fit prints
    where it stopped (``Epoch e, batch b: invalid loss, terminating training ...``, both counted from 1),
    the epoch's loss in History is NaN (as in Keras), and the model keeps the weights and optimizer state
    of the last finite step (Keras's would already hold the NaN update); ``model.divergence`` holds the
    error fit did not raise. ``raise_error=True`` raises a RuntimeError at that batch instead, as Keras's
    does (its cause the TrainingDivergedError): the same last finite weights and optimizer state, and no
    callback's on_epoch_end or on_train_end runs (Keras's rule: nothing cleans up after a failed run).

    Example:
        >>> import numpy as np
        >>> from minirnn import Sequential
        >>> from minirnn.layers import Dense
        >>> from minirnn.training.optimizers import SGD
        >>> model = Sequential([Dense(1, input_shape=(2,), seed=0)]); model.compile(SGD(1e30), "mse")
        >>> h = model.fit(np.full((8, 2), 1e10), np.ones((8, 1)), epochs=5, batch_size=4, verbose=0, seed=0,
        ...               callbacks=[TerminateOnNaN()])   # doctest: +ELLIPSIS
        Epoch 1, batch 1: invalid loss, terminating training (the update at epoch 1, batch 1 made a weight ...)
        >>> len(h.epoch), bool(np.isnan(h.history["loss"][-1])), all(np.isfinite(w).all() for w in model.weights)
        (1, True, True)
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = bool(raise_error)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        err = getattr(self.model, "divergence", None)
        where = f"Epoch {self.epoch + 1}, batch {batch + 1}"
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at {where.lower()}. Loss value: {loss}. "
                               f"Terminating training immediately.") from err
        print(f"{where}: invalid loss, terminating training" + (f" ({err})" if err is not None else ""))
        self.model.stop_training = True


class CallbackList:
    """The callbacks of one ``fit`` call, each hook called on all of them in order."""

    def __init__(self, callbacks: Sequence[Callback | Callable[[int, dict], Any]] | None, model: Any) -> None:
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"callbacks must be a list of Callback objects or functions f(epoch, logs); "
                            f"got {type(callbacks).__name__}")
        self.callbacks: list[Callback] = []
        for i, cb in enumerate(callbacks or []):
            if isinstance(cb, Callback):
                self.callbacks.append(cb)
            elif callable(cb):
                self.callbacks.append(LambdaCallback(on_epoch_end=cb))
            else:
                raise TypeError(f"callbacks[{i}] must be a Callback or a function f(epoch, logs); got {cb!r}")
        for cb in self.callbacks:
            cb.set_model(model)

    def handles_divergence(self) -> bool:
        """Whether fit should report a diverged batch to the callbacks (TerminateOnNaN) instead of raising."""
        return any(isinstance(cb, TerminateOnNaN) for cb in self.callbacks)

    def __getattr__(self, hook: str) -> Callable[..., None]:
        if hook not in LambdaCallback.HOOKS:
            raise AttributeError(hook)

        def call(*args: Any) -> None:
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call
