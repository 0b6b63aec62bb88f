"""Callbacks: hook order, plain functions, model.stop_training, EarlyStopping against Keras's rule
(scripted sequences, and Keras's own EarlyStopping with TensorFlow), restore_best_weights in fit, and
the divergence guard's last finite weights."""

import warnings

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.callbacks import Callback, EarlyStopping, LambdaCallback
from minirnn.layers import Dense, SimpleRNN
from minirnn.model import TrainingDivergedError
from minirnn.optimizers import SGD, RMSprop


def small(rng, n=20):
    model = Sequential([SimpleRNN(3, input_shape=(4, 2), seed=0), Dense(1, seed=1)])
    return model, rng.standard_normal((n, 4, 2)), rng.standard_normal((n, 1))


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls, self.weights = [], []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs=None):  # Keras's older name, reached through on_train_batch_end
        self.calls.append(("batch_end", batch, round(logs["loss"], 12)))
        self.weights.append(self.model.get_weights())

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_hook_order_and_plain_function(rng):
    model, x, y = small(rng)
    model.compile("adam", "mse", metrics=["mae"])
    rec, seen = Recorder(), []
    hist = model.fit(x, y, epochs=2, batch_size=8, verbose=0, seed=0, validation_data=(x, y),
                     callbacks=[rec, lambda epoch, logs: seen.append((epoch, logs["val_mae"]))])
    kinds = [c[0] for c in rec.calls]
    assert kinds == ["train_begin", "epoch_begin", "batch_end", "batch_end", "batch_end", "epoch_end",
                     "epoch_begin", "batch_end", "batch_end", "batch_end", "epoch_end", "train_end"]
    assert [c[1] for c in rec.calls if c[0] == "batch_end"] == [0, 1, 2] * 2
    assert rec.calls[5][2] == ["loss", "mae", "val_loss", "val_mae"]
    # the last batch's running loss is the epoch's loss
    assert rec.calls[4][2] == round(hist.history["loss"][0], 12)
    assert seen == list(zip([0, 1], hist.history["val_mae"]))
    assert model.history is hist


def test_stop_training_from_a_batch_hook_stops_mid_epoch(rng):
    model, x, y = small(rng)
    model.compile(SGD(0.01), "mse")
    stopper = LambdaCallback(on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", batch == 1))
    hist = model.fit(x, y, epochs=5, batch_size=4, verbose=0, seed=0, callbacks=[stopper])
    assert hist.epoch == [0] and model.optimizer.iterations == 2
    # the epoch's loss is the weighted mean over the 8 samples seen
    assert np.isfinite(hist.history["loss"][0])
    hist = model.fit(x, y, epochs=2, batch_size=4, verbose=0, seed=0)  # reset at the next fit
    assert hist.epoch == [0, 1]


def test_lambda_callback_rejects_unknown_hooks_and_fit_rejects_non_callbacks(rng):
    with pytest.raises(TypeError, match="on_epoch_ends"):
        LambdaCallback(on_epoch_ends=print)
    model, x, y = small(rng)
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match=r"callbacks\[1\]"):
        model.fit(x, y, verbose=0, callbacks=[Callback(), 3])
    assert model.optimizer.iterations == 0


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.w = 0
        self.restored = None

    def get_weights(self):
        return [np.array(float(self.w))]

    def set_weights(self, weights):
        self.restored = float(weights[0])


def run_scripted(cb, values, key="val_loss"):
    """Feed one monitored value per epoch; returns (epochs run, restored weight)."""
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    ran = 0
    for epoch, v in enumerate(values):
        model.w = epoch  # the "weights" at the end of epoch e are e
        cb.on_epoch_end(epoch, {key: v})
        ran += 1
        if model.stop_training:
            break
    cb.on_train_end()
    return ran, model.restored


SCRIPTS = [
    (dict(patience=0), [1.0, 0.9, 0.95, 0.8]),
    (dict(patience=2), [1.0, 0.9, 0.95, 0.91, 0.92, 0.5]),
    (dict(patience=2, min_delta=0.05), [1.0, 0.97, 0.96, 0.8, 0.78, 0.77, 0.76]),
    (dict(patience=1, mode="max"), [0.1, 0.3, 0.2, 0.4, 0.4, 0.39]),
    (dict(patience=3, restore_best_weights=True), [1.0, 0.5, 0.7, 0.6, 0.55, 0.4]),
    (dict(patience=1, restore_best_weights=True), [1.0, 0.5, 0.7, 0.6, 0.55]),
    (dict(patience=2, baseline=0.6), [1.0, 0.9, 0.8, 0.7, 0.5, 0.55, 0.56]),
    (dict(patience=1, start_from_epoch=2), [1.0, 2.0, 3.0, 4.0, 5.0]),
    (dict(patience=0, restore_best_weights=True), [0.5, 0.5]),
]


@pytest.mark.parametrize("kwargs,values", SCRIPTS)
def test_early_stopping_scripted(kwargs, values):
    ran, restored = run_scripted(EarlyStopping(**kwargs), values)
    expected = {0: 3, 1: 4, 2: 3, 3: 3, 4: 5, 5: 3, 6: 7, 7: 4, 8: 2}[SCRIPTS.index((kwargs, values))]
    assert ran == expected
    if kwargs.get("restore_best_weights"):
        sign = -1 if kwargs.get("mode", "min") == "min" else 1
        best = int(np.argmax(sign * np.array(values[:ran])))  # the first best: later ties are no improvement
        assert restored == best


@pytest.mark.parametrize("kwargs,values", SCRIPTS)
def test_early_stopping_matches_keras(kwargs, values):
    pytest.importorskip("tensorflow")
    import keras

    theirs = keras.callbacks.EarlyStopping(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_scripted(EarlyStopping(**kwargs), values) == run_scripted(theirs, values)


def test_early_stopping_auto_mode_and_missing_monitor(rng):
    model, x, y = small(rng)
    model.compile(SGD(0.0), "mse", metrics=["accuracy"])
    es = EarlyStopping(monitor="accuracy", patience=0)
    model.fit(x, y, epochs=3, verbose=0, seed=0, callbacks=[es])
    assert es._sign == 1.0  # accuracy is maximised; with lr 0 it never improves: stop after epoch 1
    assert es.stopped_epoch == 1
    with pytest.raises(ValueError, match="mode='min' or mode='max'"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[EarlyStopping(monitor="something")])
    with pytest.warns(RuntimeWarning, match="'val_loss', which is not in the logs"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")


def test_restore_best_weights_in_fit(rng):
    model, x, y = small(rng, n=24)
    model.compile(RMSprop(0.05), "mse")
    at_end = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: at_end.append(model.get_weights()))
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    # noisy validation targets so that val_loss goes up and down
    hist = model.fit(x, y, epochs=30, batch_size=4, verbose=0, seed=1, callbacks=[record, es],
                     validation_data=(x, rng.standard_normal((24, 1)) * 3))
    val = hist.history["val_loss"]
    best = int(np.argmin(val))
    assert es.best_epoch == best and len(val) <= 30
    for a, b in zip(model.get_weights(), at_end[best]):
        np.testing.assert_array_equal(a, b)
    if len(val) < 30:  # stopped early: patience epochs without improvement after the best
        assert len(val) - 1 - best == 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the forward pass overflows on purpose
def test_divergence_guard_keeps_the_last_finite_weights(rng):
    model = Sequential([SimpleRNN(4, activation="relu", input_shape=(5, 2), seed=0), Dense(1, seed=1)])
    model.compile(RMSprop(learning_rate=1e25), "mse")
    x, y = rng.standard_normal((16, 5, 2)) * 1e3, rng.standard_normal((16, 1))
    rec = Recorder()
    with pytest.raises(TrainingDivergedError, match=r"epoch \d+, batch \d+") as info:
        model.fit(x, y, epochs=10, batch_size=4, verbose=0, seed=0, callbacks=[rec])
    assert "last finite" in str(info.value)
    assert rec.weights, "diverged before any step: the test would not show restoring"
    for a, b in zip(model.get_weights(), rec.weights[-1]):
        np.testing.assert_array_equal(a, b)
