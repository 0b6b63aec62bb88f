"""Metrics in fit and evaluate: Keras's 'accuracy' resolution, per-sample epoch means, History keys,
evaluate's return value, and (with TensorFlow) the numbers Keras reports for the same model and data."""

import numpy as np
import pytest

from minirnn import Sequential, metrics
from minirnn.layers import LSTM, Dense, SimpleRNN
from minirnn.losses import BinaryCrossentropy, SparseCategoricalCrossentropy
from minirnn.optimizers import SGD


@pytest.mark.parametrize("t_shape,p_shape,cls", [
    ((8, 1), (8, 1), metrics.BinaryAccuracy), ((8,), (8, 1), metrics.BinaryAccuracy),
    ((8,), (8, 3), metrics.SparseCategoricalAccuracy), ((8, 1), (8, 3), metrics.SparseCategoricalAccuracy),
    ((8, 5), (8, 5, 3), metrics.SparseCategoricalAccuracy), ((8, 3), (8, 3), metrics.CategoricalAccuracy),
])
def test_accuracy_resolved_from_shapes_as_keras(t_shape, p_shape, cls):
    for name in ("accuracy", "acc"):
        m = metrics.get(name, t_shape, p_shape)
        assert type(m) is cls and m.name == name and m.direction == "up"


def test_accuracy_values():
    p = np.array([[0.2], [0.7], [0.5], [0.9]])
    np.testing.assert_array_equal(metrics.BinaryAccuracy().per_sample(np.array([0, 1, 1, 0]), p), [1, 1, 0, 0])
    probs = np.array([[0.1, 0.8, 0.1], [0.5, 0.2, 0.3], [0.3, 0.3, 0.4]])
    np.testing.assert_array_equal(metrics.CategoricalAccuracy().per_sample(np.eye(3)[[1, 1, 2]], probs), [1, 0, 1])
    np.testing.assert_array_equal(metrics.SparseCategoricalAccuracy().per_sample(np.array([[1], [0], [0]]), probs),
                                  [1, 1, 0])
    # over a time axis: the per-sample value is the mean over steps
    seq = np.stack([probs, probs])  # (2, 3 steps, 3 classes)
    np.testing.assert_allclose(metrics.SparseCategoricalAccuracy().per_sample(np.array([[1, 0, 0], [1, 1, 2]]), seq),
                               [2 / 3, 2 / 3])


def test_bad_metric_names_fail_at_compile():
    model = Sequential([Dense(1, input_shape=(2,))])
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        model.compile("sgd", "mse", metrics=["mae", "f1"])
    with pytest.raises(ValueError, match="distinct"):
        model.compile("sgd", "mse", metrics=["mae", "mae"])
    with pytest.raises(TypeError, match="metrics must be a list"):
        model.compile("sgd", "mse", metrics=3)
    assert model.optimizer is None  # nothing was set


def _regression(rng, dropout=0.0, dtype="float32"):
    model = Sequential([SimpleRNN(4, input_shape=(3, 2), seed=0, dropout=dropout, dtype=dtype),
                        Dense(1, seed=1, dtype=dtype)])
    x, y = rng.standard_normal((37, 3, 2)), rng.standard_normal((37, 1))
    return model, x, y


def test_epoch_metric_is_the_per_sample_mean_over_all_batches(rng):
    model, x, y = _regression(rng, dtype="float64")
    model.compile(SGD(learning_rate=0.0), "mse", metrics=["mae", "mse"])  # lr 0: every batch sees the same weights
    hist = model.fit(x, y, epochs=1, batch_size=16, verbose=0, seed=0)  # batches 16, 16, 5
    err = model.predict(x) - y
    assert hist.history["mae"][0] == pytest.approx(np.abs(err).mean(), rel=1e-12)
    assert hist.history["mse"][0] == pytest.approx(hist.history["loss"][0], rel=1e-12)
    per_batch = [np.abs(err[s:s + 16]).mean() for s in (0, 16, 32)]
    assert hist.history["mae"][0] != pytest.approx(np.mean(per_batch), rel=1e-4)  # not an unweighted mean


def test_history_keys_and_evaluate_return(rng):
    model, x, y = _regression(rng)
    model.compile("adam", "mse")
    assert isinstance(model.evaluate(x, y), float)
    model.compile("adam", "mse", metrics=["mae", "acc"])
    hist = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, seed=0)
    assert list(hist.history) == ["loss", "mae", "acc", "val_loss", "val_mae", "val_acc"]
    assert all(len(v) == 2 for v in hist.history.values())
    result = model.evaluate(x, y)
    assert isinstance(result, list) and len(result) == 3 and model.metrics_names == ["loss", "mae", "acc"]
    assert result[1] == pytest.approx(np.abs(model.predict(x) - y).mean(), rel=1e-6)
    assert result[2] == pytest.approx(np.mean(y[:, 0] == (model.predict(x)[:, 0] > 0.5)), rel=1e-12)


def test_training_metrics_use_training_mode_predictions(rng):
    """With dropout the epoch's training mae differs from the mae of the same weights in inference."""
    model, x, y = _regression(rng, dropout=0.5)
    model.compile(SGD(learning_rate=0.0), "mse", metrics=["mae"])
    hist = model.fit(x, y, epochs=1, batch_size=64, verbose=0, seed=0)
    assert hist.history["mae"][0] != pytest.approx(model.evaluate(x, y)[1], rel=1e-3)


def test_verbose_lines_show_metrics(rng, capsys):
    model, x, y = _regression(rng)
    model.compile("adam", "mse", metrics=["mae"])
    model.fit(x, y, epochs=1, verbose=2, seed=0, validation_data=(x, y))
    line = capsys.readouterr().out.strip()
    assert "loss:" in line and " mae:" in line and "val_mae:" in line
    model.fit(x, y, epochs=1, verbose=1, seed=0)
    out = capsys.readouterr().out
    assert "mae:" in out and len(out.splitlines()) == 1  # not a terminal: one line (tests/test_progress.py)


def test_sparse_targets_checked_before_any_step(rng):
    model = Sequential([SimpleRNN(3, input_shape=(4, 2), seed=0), Dense(3, seed=1)])
    model.compile("adam", SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x = rng.standard_normal((10, 4, 2))
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"class ids in \[0, 3\)"):
        model.fit(x, np.r_[np.zeros(9), 3], verbose=0, batch_size=2)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- against Keras ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["binary", "sparse", "regression"])
def test_fit_and_evaluate_metrics_match_keras(task):
    pytest.importorskip("tensorflow")
    import keras

    from minirnn.interop import to_keras

    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 5, 2)).astype(np.float32)
    if task == "binary":  # one output column: 'accuracy' is binary accuracy
        head, loss, kloss = Dense(1, activation="sigmoid", seed=1), BinaryCrossentropy(), "binary_crossentropy"
        y, names = (x[:, :, 0].sum(1) > 0)[:, None].astype(np.float32), ["accuracy", "mae"]
    elif task == "sparse":  # integer ids against 3 columns: sparse categorical accuracy
        head, loss = Dense(3, seed=1), SparseCategoricalCrossentropy(from_logits=True)
        kloss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        y, names = np.digitize(x[:, :, 1].sum(1), [-1, 1]), ["accuracy"]
    else:
        head, loss, kloss = Dense(1, seed=1), "mse", "mse"
        y, names = x[:, :, 0].mean(1, keepdims=True), ["mae", "acc"]
    model = Sequential([LSTM(6, input_shape=(5, 2), seed=0), head])
    model.compile(SGD(learning_rate=0.05), loss, metrics=names)
    kmodel = to_keras(model)
    kmodel.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss=kloss, metrics=names)
    mine = model.evaluate(x, y, batch_size=16)
    theirs = kmodel.evaluate(x, y, batch_size=16, verbose=0)
    np.testing.assert_allclose(mine, theirs, rtol=2e-6)
    hist = model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)  # batches 16, 16, 16, 2
    khist = kmodel.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert set(hist.history) == set(khist.history)
    for key in hist.history:
        np.testing.assert_allclose(hist.history[key], khist.history[key], rtol=2e-5, atol=1e-6, err_msg=key)


def test_metrics_on_masked_sequence_outputs_count_only_real_steps():
    """As Keras: with a step mask on the output, a metric is sum(v * m) / sum(m) over the real steps."""
    from minirnn import Sequential
    from minirnn.layers import LSTM, Dense, Masking, TimeDistributed

    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5, 2))
    x[0, 3:] = 0.0
    x[2, 1] = 0.0
    y = rng.standard_normal((6, 5, 1))
    model = Sequential([Masking(0.0, input_shape=(5, 2)), LSTM(3, return_sequences=True, seed=0),
                        TimeDistributed(Dense(1, seed=1))])
    model.compile("adam", "mse", metrics=["mae"])
    _, mae = model.evaluate(x, y, batch_size=4)
    pred = model.predict(x)
    m = np.any(x != 0, axis=-1)
    expected = (np.abs(pred - y)[..., 0] * m).sum() / m.sum()
    unmasked = np.abs(pred - y).mean()
    assert mae == pytest.approx(expected, rel=1e-5)
    assert abs(unmasked - expected) > 1e-3


def test_masked_metrics_match_keras():
    pytest.importorskip("tensorflow")
    from minirnn import Sequential
    from minirnn.interop import to_keras
    from minirnn.layers import LSTM, Dense, Masking, TimeDistributed

    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5, 2)).astype(np.float32)
    x[0, 3:] = 0.0
    x[2, 1] = 0.0
    y = rng.standard_normal((6, 5, 1)).astype(np.float32)
    model = Sequential([Masking(0.0, input_shape=(5, 2)), LSTM(3, return_sequences=True, seed=0),
                        TimeDistributed(Dense(1, seed=1))])
    model.compile("adam", "mse", metrics=["mae"])
    keras_model = to_keras(model)
    keras_model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=4), keras_model.evaluate(x, y, batch_size=4, verbose=0),
                               rtol=1e-5)
