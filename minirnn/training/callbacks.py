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
        raise ValueError(f"EarlyStopping cannot tell whether {self.monitor!r} should be minimised or maximised; "
                         f"pass mode='min' or mode='max'")

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

    def __getattr__(self, hook: str) -> Callable[..., None]:
        if hook not in LambdaCallback.HOOKS:
            raise AttributeError(hook)

        def call(*args: Any) -> None:
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return call
