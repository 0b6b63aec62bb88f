"""minirnn against Keras (TensorFlow backend) on what a Keras user reaches for first: softmax and sigmoid output
layers with the crossentropies (computed from the logits, as Keras's graph-mode losses do), Embedding (with
mask_zero through an LSTM), sample_weight / class_weight, the callbacks' effect on a short fit, Bidirectional
with initial_state / return_state and TimeDistributed with a mask.

Keras runs in graph mode (tf.function), as in its fit and evaluate: that is where its activations attach
``_keras_logits`` that its crossentropies read. The float64 cases give Keras's loss objects dtype float64: with
the default (floatx, float32) Keras casts a float64 output to float32 first, and that new tensor has lost
``_keras_logits`` (a Keras quirk minirnn does not copy: its float64 models read the logits as float32 ones do).
Weights come from seeded Keras initializers with random nonzero biases, copied into minirnn. float64 outputs,
losses and gradients agree within 1e-10 relative (``relative_error``) unless a test states its measured bound,
float32 within 1e-5.
"""

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from minirnn import Sequential  # noqa: E402
from minirnn.checking.gradcheck import relative_error  # noqa: E402
from minirnn.layers import LSTM, Dense, TimeDistributed  # noqa: E402
from minirnn.training.optimizers import SGD  # noqa: E402

TOL64 = 1e-10


def keras_model(layers, input_shape, rng, dtype="float64", input_dtype=None):
    keras.utils.set_random_seed(int(rng.integers(2**31)))  # initializers drawn in build: independent of test order
    model = keras.Sequential([keras.Input(input_shape, dtype=input_dtype or dtype), *layers])
    for w in model.weights:
        if w.name == "bias":
            w.assign((rng.standard_normal(w.shape) * 0.5).astype(dtype))
    return model


def keras_loss_grads(model, loss_obj, x, y, sample_weight=None):
    """Keras's loss and weight gradients in graph mode (as in fit), where ``_keras_logits`` exists."""
    xt, yt = tf.constant(x), tf.constant(y)
    sw = None if sample_weight is None else tf.constant(sample_weight, dtype=model.layers[-1].compute_dtype)

    @tf.function
    def run():
        with tf.GradientTape() as tape:
            value = loss_obj(yt, model(xt, training=False), sample_weight=sw)
        return value, tape.gradient(value, model.trainable_weights)

    value, grads = run()
    return float(value), [g.numpy() for g in grads]


def mini_copy(keras_model_, layers, loss):
    model = Sequential(layers)
    model.compile("sgd", loss)
    model.set_weights(keras_model_.get_weights())
    return model


def assert_close(a, b, tol=TOL64, what=""):
    err = relative_error(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    assert err < tol, f"{what}: relative error {err:.3g} >= {tol}"


# -- softmax / sigmoid outputs and the crossentropies ---------------------------------------------------------

LOSSES = {
    "sparse_categorical_crossentropy": keras.losses.SparseCategoricalCrossentropy,
    "categorical_crossentropy": keras.losses.CategoricalCrossentropy,
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
}


def targets(loss, rng, shape, classes):
    ids = rng.integers(0, classes, shape)
    if loss == "sparse_categorical_crossentropy":
        return ids
    if loss == "categorical_crossentropy":
        return np.eye(classes)[ids]
    return rng.integers(0, 2, (*shape, classes)).astype(np.float64)


@pytest.mark.parametrize("saturate", [1.0, 1000.0], ids=["moderate", "saturated"])
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_crossentropy_after_a_softmax_or_sigmoid_dense_matches_keras(loss, activation, saturate):
    rng = np.random.default_rng(3)
    km = keras_model([keras.layers.LSTM(5, dtype="float64"),
                      keras.layers.Dense(4, activation=activation, dtype="float64")], (6, 3), rng)
    km.layers[-1].kernel.assign(km.layers[-1].kernel.numpy() * saturate)
    x = rng.standard_normal((7, 6, 3))
    y = targets(loss, rng, (7,), 4)
    model = mini_copy(km, [LSTM(5, input_shape=(6, 3), dtype="float64"), Dense(4, activation, dtype="float64")],
                      loss)
    assert_close(model.predict(x), km(x).numpy(), what="outputs")
    value, grads = keras_loss_grads(km, LOSSES[loss](dtype="float64"), x, y)
    mine, my_grads = model.loss_and_gradients(x, y)
    assert_close(mine, value, what="loss")
    for k, (a, b) in enumerate(zip(my_grads, grads)):
        assert_close(a, b, what=f"gradient {k}")
    assert_close(model.evaluate(x, y, batch_size=7), value, what="evaluate")
    if saturate > 1:
        # the saturated case is where the logits matter: clipped probabilities cap each entry's loss at
        # -log(1e-7) = 16.1 (and give it zero gradient); the logit form grows with |z|
        clipped = float(model.loss(y, model.predict(x)))  # the loss object on probabilities
        # (categorical on all-saturated sigmoids normalises 0 / 0: NaN on probabilities, finite on logits)
        assert np.isnan(clipped) or abs(value - clipped) > 10, (value, clipped)  # measured 95 to 416


def test_time_distributed_softmax_uses_clipped_probabilities_as_keras_does():
    """Keras's TimeDistributed reshapes the Dense output, which drops ``_keras_logits``: the loss then reads the
    (clipped) probabilities, so a saturated wrong step costs -log(1e-7) = 16.118; minirnn does the same."""
    rng = np.random.default_rng(4)
    km = keras_model([keras.layers.LSTM(5, return_sequences=True, dtype="float64"),
                      keras.layers.TimeDistributed(keras.layers.Dense(3, activation="softmax", dtype="float64"))],
                     (4, 2), rng)
    inner = km.layers[-1].layer
    inner.kernel.assign(inner.kernel.numpy() * 80)
    x, y = rng.standard_normal((5, 4, 2)), rng.integers(0, 3, (5, 4))
    model = mini_copy(km, [LSTM(5, return_sequences=True, input_shape=(4, 2), dtype="float64"),
                           TimeDistributed(Dense(3, "softmax", dtype="float64"))], "sparse_categorical_crossentropy")
    value, grads = keras_loss_grads(km, keras.losses.SparseCategoricalCrossentropy(dtype="float64"), x, y)
    mine, my_grads = model.loss_and_gradients(x, y)
    assert_close(mine, value, 1e-7, what="loss")  # measured 7.4e-9: the clipped entries' log(1e-7) in TF
    for k, (a, b) in enumerate(zip(my_grads, grads)):
        assert_close(a, b, 1e-6, what=f"gradient {k}")  # measured 3.4e-8, from the same clip bound
    assert 0 < mine < 16.2


@pytest.mark.filterwarnings("ignore:.*received `from_logits=True`:UserWarning:keras")
def test_from_logits_true_after_softmax_warns_and_reads_the_logits_as_keras():
    rng = np.random.default_rng(5)
    km = keras_model([keras.layers.Dense(3, activation="softmax", dtype="float64")], (4,), rng)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    model = mini_copy(km, [Dense(3, "softmax", input_shape=(4,), dtype="float64")], "sparse_categorical_crossentropy")
    from minirnn.training.losses import SparseCategoricalCrossentropy

    model.compile("sgd", SparseCategoricalCrossentropy(from_logits=True))
    with pytest.warns(UserWarning, match="from_logits=True"):
        mine = model.evaluate(x, y)
    value, _ = keras_loss_grads(km, keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype="float64"),
                                x, y)
    assert_close(mine, value, what="loss")


def test_crossentropy_metric_reads_the_logits_as_keras():
    rng = np.random.default_rng(6)
    km = keras_model([keras.layers.Dense(3, activation="softmax", dtype="float32")], (2,), rng, "float32")
    km.layers[-1].kernel.assign(km.layers[-1].kernel.numpy() * 100)
    x = rng.standard_normal((8, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    km.compile("sgd", "mse", metrics=["categorical_crossentropy"])
    k_loss, k_metric = km.evaluate(x, y, verbose=0, batch_size=8)
    model = mini_copy(km, [Dense(3, "softmax", input_shape=(2,))], "mse")
    model.compile("sgd", "mse", metrics=["categorical_crossentropy"])
    loss, metric = model.evaluate(x, y, batch_size=8)
    assert_close(loss, k_loss, 1e-6, what="mse")
    assert_close(metric, k_metric, 1e-6, what="metric")
    assert metric > 16.2  # beyond the clipped-probability cap


def test_float32_softmax_training_trajectory_matches_keras():
    rng = np.random.default_rng(7)
    km = keras_model([keras.layers.LSTM(4, dtype="float32"), keras.layers.Dense(3, activation="softmax",
                                                                                 dtype="float32")],
                     (5, 2), rng, dtype="float32")
    x = rng.standard_normal((16, 5, 2)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    model = mini_copy(km, [LSTM(4, input_shape=(5, 2)), Dense(3, "softmax")], "sparse_categorical_crossentropy")
    km.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    model.compile(SGD(0.5), "sparse_categorical_crossentropy")
    k_hist = km.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
    m_hist = model.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
    assert_close(m_hist, k_hist, 1e-5, what="epoch losses")
    for a, b in zip(model.get_weights(), km.get_weights()):
        assert_close(a, b, 1e-5, what="weights after fit")


def test_no_stray_warnings_from_the_parity_models():
    rng = np.random.default_rng(8)
    model = Sequential([Dense(3, "softmax", input_shape=(2,), dtype="float64", seed=0)])
    model.compile("sgd", "categorical_crossentropy")
    model.set_weights([np.full((2, 3), 1e4) * [1, -1, 0], np.zeros(3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = model.evaluate(rng.standard_normal((4, 2)) * 1e3, np.eye(3)[[0, 1, 2, 0]])
    assert np.isfinite(loss) and loss > 1e5  # the logit form: |z| grows without bound, never inf or a warning


# -- sample_weight / class_weight and the callbacks, on short fits (SGD, no shuffling, float32) ----------------

def short_fit_pair(rng, loss="mse", classes=1, activation=None):
    km = keras_model([keras.layers.LSTM(4, dtype="float32"),
                      keras.layers.Dense(classes, activation=activation, dtype="float32")], (5, 2), rng, "float32")
    model = mini_copy(km, [LSTM(4, input_shape=(5, 2)), Dense(classes, activation)], loss)
    km.compile(keras.optimizers.SGD(0.1), loss)
    model.compile(SGD(0.1), loss)
    return km, model


def fit_both(km, model, x, y, **kwargs):
    k = km.fit(x, y, shuffle=False, verbose=0, **kwargs).history
    m = model.fit(x, y, shuffle=False, verbose=0, **kwargs).history
    return k, m


def test_fit_with_sample_weight_matches_keras():
    rng = np.random.default_rng(10)
    km, model = short_fit_pair(rng)
    x, y = rng.standard_normal((20, 5, 2)).astype(np.float32), rng.standard_normal((20, 1)).astype(np.float32)
    sw = rng.uniform(0, 3, 20).astype(np.float32)
    k, m = fit_both(km, model, x, y, epochs=3, batch_size=8, sample_weight=sw, validation_split=0.25)
    assert_close(m["loss"], k["loss"], 1e-5, what="loss")
    assert_close(m["val_loss"], k["val_loss"], 1e-5, what="val_loss")
    for a, b in zip(model.get_weights(), km.get_weights()):
        assert_close(a, b, 1e-5, what="weights")
    unweighted = mini_copy(km, [LSTM(4, input_shape=(5, 2)), Dense(1)], "mse")
    assert abs(unweighted.evaluate(x, y) - model.evaluate(x, y, sample_weight=sw)) > 1e-3  # the weights count


def test_fit_with_class_weight_matches_keras():
    rng = np.random.default_rng(11)
    km, model = short_fit_pair(rng, "sparse_categorical_crossentropy", 3, "softmax")
    km.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.compile(SGD(0.1), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = rng.standard_normal((24, 5, 2)).astype(np.float32), rng.integers(0, 3, 24)
    k, m = fit_both(km, model, x, y, epochs=3, batch_size=8, class_weight={0: 0.5, 2: 4.0})
    assert_close(m["loss"], k["loss"], 1e-5, what="loss")
    assert_close(m["accuracy"], k["accuracy"], 1e-6, what="accuracy")  # not weighted: Keras's compiled metrics
    for a, b in zip(model.get_weights(), km.get_weights()):
        assert_close(a, b, 1e-5, what="weights")


def test_reduce_lr_on_plateau_matches_keras():
    rng = np.random.default_rng(12)
    km, model = short_fit_pair(rng)
    x, y = rng.standard_normal((16, 5, 2)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    args = {"monitor": "loss", "factor": 0.5, "patience": 1, "min_delta": 0.05, "cooldown": 1}
    from minirnn.training.callbacks import ReduceLROnPlateau

    k = km.fit(x, y, epochs=6, batch_size=8, shuffle=False, verbose=0,
               callbacks=[keras.callbacks.ReduceLROnPlateau(**args)]).history
    m = model.fit(x, y, epochs=6, batch_size=8, shuffle=False, verbose=0, callbacks=[ReduceLROnPlateau(**args)]).history
    assert_close(m["learning_rate"], k["learning_rate"], 1e-7, what="learning rates")
    assert len(set(m["learning_rate"])) > 1  # it did reduce
    assert_close(m["loss"], k["loss"], 1e-5, what="loss")


def test_csv_logger_writes_keras_columns_and_values(tmp_path):
    rng = np.random.default_rng(13)
    km, model = short_fit_pair(rng)
    x, y = rng.standard_normal((16, 5, 2)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    from minirnn.training.callbacks import CSVLogger

    km.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, callbacks=[keras.callbacks.CSVLogger(
        str(tmp_path / "k.csv"))])
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0, callbacks=[CSVLogger(tmp_path / "m.csv")])
    k_rows = [r.split(",") for r in (tmp_path / "k.csv").read_text().splitlines()]
    m_rows = [r.split(",") for r in (tmp_path / "m.csv").read_text().splitlines()]
    assert m_rows[0] == k_rows[0] == ["epoch", "loss", "val_loss"]
    for mr, kr in zip(m_rows[1:], k_rows[1:]):
        assert mr[0] == kr[0] and mr[2] == kr[2] == "NA"
        assert_close(float(mr[1]), float(kr[1]), 1e-5, what="csv loss")


def test_model_checkpoint_best_only_keeps_the_epoch_keras_keeps(tmp_path):
    rng = np.random.default_rng(14)
    km, model = short_fit_pair(rng)
    x, y = rng.standard_normal((16, 5, 2)).astype(np.float32), rng.standard_normal((16, 1)).astype(np.float32)
    xv, yv = rng.standard_normal((8, 5, 2)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    km.compile(keras.optimizers.SGD(2.0), "mse")   # a large step: val_loss goes up and down
    model.compile(SGD(2.0), "mse")
    import minirnn
    from minirnn.training.callbacks import ModelCheckpoint

    k_ckpt = keras.callbacks.ModelCheckpoint(str(tmp_path / "k.keras"), save_best_only=True)
    m_ckpt = ModelCheckpoint(tmp_path / "m.minirnn", save_best_only=True)
    k = km.fit(x, y, epochs=6, batch_size=8, shuffle=False, verbose=0, validation_data=(xv, yv),
               callbacks=[k_ckpt]).history
    m = model.fit(x, y, epochs=6, batch_size=8, shuffle=False, verbose=0, validation_data=(xv, yv),
                  callbacks=[m_ckpt]).history
    assert_close(m["val_loss"], k["val_loss"], 1e-4, what="val_loss")
    assert int(np.argmin(m["val_loss"])) == int(np.argmin(k["val_loss"]))
    assert_close(m_ckpt.best, k_ckpt.best, 1e-4, what="best")
    saved_k = keras.models.load_model(tmp_path / "k.keras").get_weights()
    saved_m = minirnn.load_model(tmp_path / "m.minirnn").get_weights()
    for a, b in zip(saved_m, saved_k):
        assert_close(a, b, 1e-4, what="checkpointed weights")


def test_terminate_on_nan_stops_where_keras_stops(capsys):
    rng = np.random.default_rng(15)
    km, model = short_fit_pair(rng)
    x = (rng.standard_normal((32, 5, 2)) * 50).astype(np.float32)
    y = (rng.standard_normal((32, 1)) * 1e4).astype(np.float32)
    km.compile(keras.optimizers.SGD(1e6), "mse")
    model.compile(SGD(1e6), "mse")
    from minirnn.training.callbacks import TerminateOnNaN

    k = km.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()])
    before = model.get_weights()
    m = model.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    out = capsys.readouterr().out
    assert len(m.epoch) == len(k.epoch) == 1
    assert not np.isfinite(m.history["loss"][0]) and not np.isfinite(k.history["loss"][0])
    assert "Epoch 1, batch" in out and "invalid loss, terminating training" in out
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # finite steps were taken
