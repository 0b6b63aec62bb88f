"""minirnn against Keras (TensorFlow backend) on the same weights: outputs, losses, gradients, a training
trajectory, an injected-mask dropout step, and the Keras <-> minirnn model conversion.

Keras weights come from seeded random initializers and every bias is replaced by random nonzero values
(constant weights cannot tell a transposed matrix or swapped gates apart). Targets, as in issue 4:
float32 within 1e-5 relative, float64 within 1e-10 (``minirnn.gradcheck.relative_error``); trajectory
losses within 1e-4 relative at every step. Skipped when TensorFlow is not installed.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from minirnn import Sequential  # noqa: E402
from minirnn.gradcheck import relative_error  # noqa: E402
from minirnn.interop import fixed_dropout_pair, from_keras, keras_loss_and_gradients, to_keras  # noqa: E402
from minirnn.kernels.dropout import dropout_mask  # noqa: E402
from minirnn.layers import LAYERS, LSTM, Dense, Dropout, SimpleRNN  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}
B = 4


def rnn_opts(seed, dtype):
    return {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed),
            "recurrent_initializer": keras.initializers.Orthogonal(seed=seed + 1), "dtype": dtype}


def dense_opts(seed, dtype):
    return {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed), "dtype": dtype}


def founding(seed, dtype, rate=0.2, units=8):
    return [keras.layers.LSTM(units, activation="relu", **rnn_opts(seed, dtype)),
            keras.layers.Dropout(rate, dtype=dtype), keras.layers.Dense(1, **dense_opts(seed + 2, dtype))]


def keras_model(layers, input_shape, dtype, rng):
    model = keras.Sequential([keras.Input(input_shape, dtype=dtype), *layers])
    for w in model.weights:
        if w.name == "bias":
            w.assign((rng.standard_normal(w.shape) * 0.5).astype(dtype))
    return model


# name: (keras layers (seed, dtype), input shape, targets "random" or "input" as in fit(data, data))
CASES = {
    "simple_rnn_tanh_seq": (lambda s, d: [keras.layers.SimpleRNN(6, return_sequences=True, **rnn_opts(s, d))],
                            (5, 3), "random", "SimpleRNN"),
    "simple_rnn_relu": (lambda s, d: [keras.layers.SimpleRNN(6, activation="relu", **rnn_opts(s, d))],
                        (5, 3), "random", "SimpleRNN"),
    "lstm_tanh_seq": (lambda s, d: [keras.layers.LSTM(6, return_sequences=True, **rnn_opts(s, d))],
                      (5, 3), "random", "LSTM"),
    "lstm_relu": (lambda s, d: [keras.layers.LSTM(6, activation="relu", **rnn_opts(s, d))],
                  (5, 3), "random", "LSTM"),
    # Keras 3's hard_sigmoid is relu6(x + 3) / 6, not the Keras 2 form 0.2 x + 0.5
    "lstm_hard_sigmoid_gates": (lambda s, d: [keras.layers.LSTM(6, recurrent_activation="hard_sigmoid",
                                                                return_sequences=True, **rnn_opts(s, d))],
                                (5, 3), "random", "LSTM"),
    "lstm_go_backwards": (lambda s, d: [keras.layers.LSTM(6, go_backwards=True, return_sequences=True,
                                                          **rnn_opts(s, d))], (5, 3), "random", "LSTM"),
    "gru_seq": (lambda s, d: [keras.layers.GRU(6, return_sequences=True, **rnn_opts(s, d))],
                (5, 3), "random", "GRU"),
    "gru_reset_before_relu": (lambda s, d: [keras.layers.GRU(6, activation="relu", reset_after=False,
                                                             **rnn_opts(s, d))], (5, 3), "random", "GRU"),
    "dense_2d": (lambda s, d: [keras.layers.Dense(4, activation="tanh", **dense_opts(s, d))], (3,), "random", "Dense"),
    "dense_3d_relu": (lambda s, d: [keras.layers.Dense(4, activation="relu", **dense_opts(s, d))],
                      (5, 3), "random", "Dense"),
    "founding_model": (founding, (10, 1), "input", "LSTM"),
}
# Only cases whose minirnn layer exists are collected (a GRU case joins when minirnn has GRU).
CASES = {k: v for k, v in CASES.items() if v[3] in LAYERS}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_loss_and_gradients_match_keras(case, dtype, quiet_broadcast):
    make_layers, input_shape, target, _ = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    kmodel = keras_model(make_layers(7, dtype), input_shape, dtype, rng)
    x = rng.standard_normal((B, *input_shape)).astype(dtype)
    y = x if target == "input" else rng.standard_normal((B, *kmodel.output_shape[1:])).astype(dtype)
    model = from_keras(kmodel)
    model.compile(optimizer="adam", loss="mse")

    out = model.predict(x)
    assert out.dtype == np.dtype(dtype)
    loss, grads, dx = model.loss_and_gradients(x, y, return_input_gradient=True)
    k_loss, k_grads, k_dx = keras_loss_and_gradients(kmodel, x, y)

    tol = TOL[dtype]
    assert relative_error(out, kmodel(x).numpy()) < tol
    assert relative_error(loss, k_loss) < tol
    assert len(grads) == len(k_grads) == len(kmodel.get_weights())
    for name, g, kg in zip([f"{la.name}.{p}" for la in model.layers for p in la.params], grads, k_grads):
        assert g.shape == kg.shape, name
        assert relative_error(g, kg) < tol, f"{case} {dtype}: gradient of {name}"
    assert relative_error(dx, k_dx) < tol, f"{case} {dtype}: gradient of the input"


def test_mixed_dtype_model_gradients_match_keras(quiet_broadcast):
    """float64 LSTM and Dense around a float32 Dropout: both frameworks round the activation and its
    gradient to float32 at the boundaries, so they agree to float64 precision."""
    rng = np.random.default_rng(8)
    kmodel = keras_model([keras.layers.LSTM(6, activation="relu", **rnn_opts(1, "float64")),
                          keras.layers.Dropout(0.2, dtype="float32"),
                          keras.layers.Dense(1, **dense_opts(3, "float64"))], (10, 1), "float64", rng)
    model = from_keras(kmodel)
    model.compile(optimizer="adam", loss="mse")
    x = rng.standard_normal((B, 10, 1))
    loss, grads, dx = model.loss_and_gradients(x, x, return_input_gradient=True)
    k_loss, k_grads, k_dx = keras_loss_and_gradients(kmodel, x, x)
    assert relative_error(loss, k_loss) < TOL["float64"]
    for g, kg in zip(grads + [dx], k_grads + [k_dx], strict=True):
        assert relative_error(g, kg) < TOL["float64"]


def test_adam_trajectory_matches_keras(quiet_broadcast):
    """The founding model (dropout rate 0), 30 Adam steps on batches in a fixed order, partial batch included."""
    rng = np.random.default_rng(11)
    kmodel = keras_model(founding(3, "float32", rate=0.0, units=16), (10, 1), "float32", rng)
    model = from_keras(kmodel)
    start = model.get_weights()
    kmodel.compile(optimizer="adam", loss="mse")
    model.compile(optimizer="adam", loss="mse")
    data = rng.standard_normal((120, 10, 1)).astype("float32")  # batches 32, 32, 32, 24
    starts = range(0, len(data), 32)
    losses, k_losses = [], []
    for step in range(30):
        xb = data[starts[step % len(starts)]:][:32]
        k_losses.append(float(kmodel.train_on_batch(xb, xb)))
        losses.append(model.train_on_batch(xb, xb))
    rel = np.abs(np.array(losses) - k_losses) / np.abs(k_losses)
    assert rel.max() < 1e-4, f"step {rel.argmax() + 1}: {losses[rel.argmax()]} vs {k_losses[rel.argmax()]}"
    for w, kw, w0 in zip(model.get_weights(), kmodel.get_weights(), start):
        assert relative_error(w, kw) < TOL["float32"]
        assert relative_error(w, w0) > 1e-3  # the weights did move: the comparison is not vacuous
    assert model.optimizer.iterations == 30


def test_dropout_step_with_injected_mask_matches_keras(quiet_broadcast):
    rate, units = 0.5, 8
    rng = np.random.default_rng(5)
    kbase = keras_model(founding(9, "float32", rate, units), (10, 1), "float32", rng)
    base = from_keras(kbase)
    x = rng.standard_normal((B, 10, 1)).astype("float32")
    mask = dropout_mask((B, units), rate, rng, np.float32)
    assert 0 < np.count_nonzero(mask) < mask.size
    kdrop, drop = fixed_dropout_pair(rate, mask)
    kmodel = keras.Sequential([keras.Input((10, 1)), kbase.layers[0], kdrop,
                               kbase.layers[2]])
    model = Sequential([base.layers[0], drop, base.layers[2]])
    kmodel.compile(optimizer="adam", loss="mse")
    model.compile(optimizer="adam", loss="mse")

    loss, grads, dx = model.loss_and_gradients(x, x, training=True, return_input_gradient=True)
    k_loss, k_grads, k_dx = keras_loss_and_gradients(kmodel, x, x, training=True)
    assert abs(loss - model.loss_and_gradients(x, x)[0]) > 1e-3  # the mask changes the loss
    assert relative_error(loss, k_loss) < TOL["float32"]
    for g, kg in zip(grads, k_grads):
        assert relative_error(g, kg) < TOL["float32"]
    assert relative_error(dx, k_dx) < TOL["float32"]
    assert relative_error(model.train_on_batch(x, x), float(kmodel.train_on_batch(x, x))) < TOL["float32"]
    for w, kw in zip(model.get_weights(), kmodel.get_weights()):
        assert relative_error(w, kw) < TOL["float32"]


# -- conversion ---------------------------------------------------------------------------------------


def test_from_keras_carries_config_and_weights_and_back():
    rng = np.random.default_rng(2)
    d = "float64"
    kmodel = keras_model([
        keras.layers.SimpleRNN(5, activation="relu", use_bias=False, return_sequences=True, name="rnn", dtype=d),
        keras.layers.LSTM(4, recurrent_activation="hard_sigmoid", unit_forget_bias=False, return_sequences=True,
                          name="memory", dtype=d),
        keras.layers.Dropout(0.3, seed=7, dtype=d),
        keras.layers.Dense(2, activation="tanh", dtype=d),
    ], (6, 3), d, rng)
    model = from_keras(kmodel)

    rnn, lstm, drop, dense = model.layers
    assert [type(la) for la in model.layers] == [SimpleRNN, LSTM, Dropout, Dense]
    assert (rnn.units, rnn.activation, rnn.use_bias, rnn.return_sequences, rnn.name) == (5, "relu", False, True, "rnn")
    assert (lstm.units, lstm.activation, lstm.recurrent_activation, lstm.unit_forget_bias, lstm.name) == \
        (4, "tanh", "hard_sigmoid", False, "memory")
    assert (drop.rate, drop.seed) == (0.3, 7)
    assert (dense.units, dense.activation) == (2, "tanh")
    assert all(la.dtype == np.float64 for la in model.layers)
    assert model.layers[0].built_input_shape == (6, 3)
    for w, kw in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        assert w.dtype == np.float64 and np.array_equal(w, kw)
    x = rng.standard_normal((3, 6, 3))
    assert relative_error(model.predict(x), kmodel(x).numpy()) < TOL[d]

    back = to_keras(model)
    for kl, bl in zip(kmodel.layers, back.layers, strict=True):
        assert type(kl) is type(bl) and kl.name == bl.name
        kc, bc = kl.get_config(), bl.get_config()
        for key in ("units", "activation", "recurrent_activation", "use_bias", "unit_forget_bias",
                    "return_sequences", "rate", "seed", "dtype"):
            assert kc.get(key) == bc.get(key), (kl.name, key)
    for w, bw in zip(kmodel.get_weights(), back.get_weights(), strict=True):
        assert np.array_equal(w, bw)
    assert back.inputs[0].shape[1:] == (6, 3)


def test_to_keras_predicts_what_minirnn_predicts():
    model = Sequential([LSTM(6, activation="relu", return_sequences=True, input_shape=(7, 2), seed=1),
                        SimpleRNN(5, seed=2), Dropout(0.2), Dense(3, activation="relu", seed=3)])
    rng = np.random.default_rng(4)
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"][...] = rng.standard_normal(layer.params["bias"].shape)
    kmodel = to_keras(model)
    x = rng.standard_normal((5, 7, 2)).astype("float32")
    assert kmodel.layers[0].get_config()["activation"] == "relu"
    assert relative_error(model.predict(x), kmodel.predict(x, verbose=0)) < TOL["float32"]


@pytest.mark.parametrize("layer, message", [
    (lambda: keras.layers.LSTM(3, return_state=True), "return_state"),
    (lambda: keras.layers.GRU(3, recurrent_constraint="non_neg"), "recurrent_constraint"),
    (lambda: keras.layers.Dense(3, kernel_regularizer="l2"), "kernel_regularizer"),
    (lambda: keras.layers.Dense(3, dtype="mixed_float16"), "mixed_float16"),
    (lambda: keras.layers.Conv1D(3, 2), "no minirnn counterpart"),
])
def test_from_keras_refuses_what_minirnn_cannot_compute(layer, message):
    kmodel = keras.Sequential([keras.Input((4, 2)), layer()])
    with pytest.raises(ValueError, match=message):
        from_keras(kmodel)


def test_from_keras_needs_a_built_keras_sequential():
    with pytest.raises(ValueError, match="must be built"):
        from_keras(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(TypeError, match="keras.Sequential"):
        from_keras(Sequential([Dense(2, input_shape=(3,))]))
