"""Sequential: fit() semantics as Keras defines them, weights, summary, and the founding program."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minirnn import Sequential, TrainingDivergedError
from minirnn.layers import LSTM, Dense, Dropout, SimpleRNN
from minirnn.losses import MeanSquaredError
from minirnn.optimizers import SGD, Adam

ROOT = Path(__file__).resolve().parents[1]


class RecordingSGD(SGD):
    """Records the weights before each step and the gradients the step applies."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.steps = []

    def apply(self, params, grads):
        self.steps.append(([p.copy() for p in params], [g.copy() for g in grads]))
        super().apply(params, grads)


class RecordingMSE(MeanSquaredError):
    """Records the targets of every batch it sees (the targets carry sample ids)."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def value_and_grad(self, y_true, y_pred):
        self.batches.append(np.asarray(y_true)[:, 0].copy())
        return super().value_and_grad(y_true, y_pred)


def small_model(dropout=0.0, seed=0, dtype="float32"):
    layers = [LSTM(4, input_shape=(3, 2), seed=seed, dtype=dtype)]
    if dropout:
        layers.append(Dropout(dropout, dtype=dtype))
    layers.append(Dense(1, seed=seed + 1, dtype=dtype))
    return Sequential(layers)


def test_fit_applies_exactly_loss_and_gradients(rng):
    model = small_model(dtype="float64")
    opt = RecordingSGD(learning_rate=0.1, momentum=0.5)
    model.compile(opt, "mse")
    x, y = rng.standard_normal((20, 3, 2)), rng.standard_normal((20, 1))
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert len(opt.steps) == 2 * 3
    batches = [slice(0, 8), slice(8, 16), slice(16, 20)] * 2
    for (weights, applied), sl in zip(opt.steps, batches):
        model.set_weights(weights)
        _, grads = model.loss_and_gradients(x[sl], y[sl], training=True)
        for a, b in zip(applied, grads):
            np.testing.assert_array_equal(a, b)


def test_epoch_loss_is_batch_weighted_mean_and_last_partial_batch_kept(rng):
    model = small_model()
    opt = RecordingSGD(learning_rate=0.0)  # no movement: every batch loss is taken at the same weights
    loss = RecordingMSE()
    model.compile(opt, loss)
    x, y = rng.standard_normal((70, 3, 2)), np.arange(70, dtype=float)[:, None]
    hist = model.fit(x, y, epochs=1, batch_size=32, verbose=0, seed=0)
    assert [len(b) for b in loss.batches] == [32, 32, 6]
    # weighted by batch size, this equals the loss over all samples (an unweighted mean would not)
    assert hist.history["loss"][0] == pytest.approx(model.evaluate(x, y), rel=1e-6)
    train_batches = list(loss.batches)  # evaluate() below records more batches
    per_batch = [model.evaluate(x[np.isin(y[:, 0], b)], y[np.isin(y[:, 0], b)]) for b in train_batches]
    assert hist.history["loss"][0] != pytest.approx(np.mean(per_batch), rel=1e-3)


def test_fresh_permutation_each_epoch(rng):
    model = small_model()
    loss = RecordingMSE()
    model.compile(SGD(learning_rate=0.0), loss)
    x, y = rng.standard_normal((40, 3, 2)), np.arange(40, dtype=float)[:, None]
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=1)
    epochs = [np.concatenate(loss.batches[k * 3:(k + 1) * 3]) for k in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(40))  # each sample exactly once
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    assert not np.array_equal(epochs[0], np.arange(40))
    loss.batches.clear()
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_array_equal(np.concatenate(loss.batches), np.arange(40))


@pytest.mark.parametrize("n,split,n_train", [(1000, 0.33, 669), (7, 0.2, 5), (100, 0.25, 75)])
def test_validation_split_takes_last_fraction_before_shuffling(rng, n, split, n_train):
    model = small_model()
    loss = RecordingMSE()
    model.compile(SGD(learning_rate=0.0), loss)
    x, y = rng.standard_normal((n, 3, 2)), np.arange(n, dtype=float)[:, None]
    hist = model.fit(x, y, epochs=1, batch_size=32, validation_split=split, verbose=0, seed=0)
    n_batches = -(-n_train // 32)
    seen = np.concatenate(loss.batches[:n_batches])
    assert sorted(seen.tolist()) == list(range(n_train))
    assert hist.history["val_loss"][0] == pytest.approx(model.evaluate(x[n_train:], y[n_train:]), rel=1e-6)


def test_validation_data_and_dropout_off_outside_training(rng):
    model = small_model(dropout=0.5)
    model.compile(Adam(), "mse")
    x, y = rng.standard_normal((30, 3, 2)), rng.standard_normal((30, 1))
    hist = model.fit(x, y, epochs=2, validation_data=(x, y), verbose=0, seed=0)
    assert len(hist.history["val_loss"]) == 2
    # predict and evaluate are deterministic (dropout off); a training forward pass is not
    np.testing.assert_array_equal(model.predict(x), model.predict(x))
    assert model.evaluate(x, y) == model.evaluate(x, y)
    train_a = model(x, training=True, rng=np.random.default_rng(0))
    train_b = model(x, training=True, rng=np.random.default_rng(1))
    assert not np.allclose(train_a, train_b)
    np.testing.assert_allclose(model(x), model.predict(x), rtol=1e-6)


def test_same_seed_bit_identical_training_different_seed_differs(rng):
    x, y = rng.standard_normal((50, 3, 2)), rng.standard_normal((50, 1))
    results = []
    for seed in (7, 7, 8):
        model = small_model(dropout=0.3, seed=3)
        model.compile("adam", "mse")
        hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0, seed=seed)
        results.append((hist.history["loss"], model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)
    assert results[0][0] != results[2][0]


def test_train_on_batch_returns_loss_before_the_step(rng):
    model = small_model()
    model.compile(Adam(learning_rate=0.01), "mse")
    x, y = rng.standard_normal((8, 3, 2)), rng.standard_normal((8, 1))
    before = model.evaluate(x, y)
    w0 = model.get_weights()
    assert model.train_on_batch(x, y) == pytest.approx(before, rel=1e-6)
    assert any(not np.array_equal(a, b) for a, b in zip(w0, model.get_weights()))
    assert model.optimizer.iterations == 1


def test_founding_model_weights_summary_and_keras_layout(capsys):
    model = Sequential()
    model.add(LSTM(50, activation="relu", input_shape=(10, 1), seed=0))
    model.add(Dropout(0.2))
    model.add(Dense(1, seed=0))
    assert [w.shape for w in model.get_weights()] == [(1, 200), (50, 200), (200,), (50, 1), (1,)]
    assert all(w.dtype == np.float32 for w in model.get_weights())
    kernel, recurrent, bias, dense_kernel, _ = model.get_weights()
    np.testing.assert_array_equal(bias[50:100], 1)  # unit_forget_bias
    np.testing.assert_array_equal(np.delete(bias, np.s_[50:100]), 0)
    assert np.abs(kernel).max() <= np.sqrt(6 / (1 + 200))
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(50), atol=1e-5)  # orthogonal rows
    model.summary()
    out = capsys.readouterr().out
    for text in ("lstm (LSTM)", "dropout (Dropout)", "dense (Dense)", "(None, 50)", "(None, 1)", "10,400", "51",
                 "Total params: 10,451"):
        assert text in out


def test_set_weights_round_trip_and_checks_before_changing(rng):
    model = small_model()
    w = [rng.standard_normal(a.shape) for a in model.get_weights()]
    model.set_weights(w)
    for a, b in zip(model.get_weights(), w):
        np.testing.assert_array_equal(a, b.astype(np.float32))
    before = model.get_weights()
    bad = [a.copy() for a in w]
    bad[-1] = np.zeros((2,))
    with pytest.raises(ValueError, match="shape"):
        model.set_weights(bad)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="expects 5 arrays"):
        model.set_weights(w[:-1])


def test_float64_model_end_to_end(rng):
    model = small_model(dtype="float64")
    model.compile("adam", "mse")
    x, y = rng.standard_normal((10, 3, 2)), rng.standard_normal((10, 1))
    model.fit(x.astype(np.float32), y, epochs=1, verbose=0, seed=0)
    assert model.predict(x).dtype == np.float64
    assert all(w.dtype == np.float64 for w in model.weights)
    assert all(s.dtype == np.float64 for s in model.optimizer.m)


def test_dense_acts_on_last_axis_of_sequences(rng):
    model = Sequential([SimpleRNN(3, return_sequences=True, input_shape=(4, 2), seed=0), Dense(2, seed=1)])
    out = model.predict(rng.standard_normal((5, 4, 2)))
    assert out.shape == (5, 4, 2)
    seq = model.layers[0](rng.standard_normal((1, 4, 2)))
    np.testing.assert_allclose(model.layers[1](seq)[0, 2], model.layers[1](seq[:, 2])[0], rtol=1e-6)


def test_divergence_stops_with_clear_error_and_keeps_last_finite_weights(rng):
    model = Sequential([SimpleRNN(3, activation="relu", input_shape=(4, 1), seed=0), Dense(1, seed=0)])
    model.compile(SGD(learning_rate=1e30), "mse")
    x, y = np.abs(rng.standard_normal((8, 4, 1))) * 1e10, np.ones((8, 1))
    with pytest.raises(TrainingDivergedError, match=r"epoch 1, batch \d") as info:
        model.fit(x, y, epochs=5, batch_size=4, verbose=0, seed=0)
    assert "last finite" in str(info.value)
    assert all(np.isfinite(w).all() for w in model.weights)


def test_verbose_modes_print_progress(rng, capsys):
    model = small_model()
    model.compile("adam", "mse")
    x, y = rng.standard_normal((40, 3, 2)), rng.standard_normal((40, 1))
    model.fit(x, y, epochs=2, batch_size=16, verbose=2, seed=0)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "loss:" in lines[0]
    model.fit(x, y, epochs=1, batch_size=16, verbose=1, seed=0)
    out = capsys.readouterr().out
    # captured output is not a terminal: one line per epoch (tests/test_progress.py renders the live bar)
    assert "Epoch 1/1" in out and "3/3" in out and "ETA" not in out and len(out.splitlines()) == 1


def test_seed_example_runs_loss_falls_predict_shape():
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "seed_example.py"), "--epochs", "4"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "predictions: shape (1000, 1)" in proc.stdout
    first = float(proc.stdout.split("first loss: ")[1].split()[0])
    last = float(proc.stdout.split("last loss: ")[1].split()[0])
    assert last < first
    assert "ShapeBroadcastWarning" in proc.stderr  # Keras's silent broadcast is announced
