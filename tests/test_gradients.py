"""Float64 central-difference gradient checks (h = 1e-5, relative error < 1e-7) of every kernel, layer
and whole models, with respect to the input, the initial states and every weight, using nonzero random
biases and a random upstream gradient."""

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.cells import LSTMCell, SimpleRNNCell, driver
from minirnn.gradcheck import numerical_gradient, relative_error
from minirnn.kernels import dense_backward, dense_forward, dropout_backward, dropout_forward
from minirnn.layers import LSTM, Dense, Dropout, SimpleRNN

TOL = 1e-7
ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear", "hard_sigmoid"]


def _random_weights(rng, D, H, k):
    """{"kernel", "recurrent_kernel", "bias"} for a cell with k gate blocks (the names the built-in cells declare)."""
    return {"kernel": rng.standard_normal((D, k * H)) * 0.6, "recurrent_kernel": rng.standard_normal((H, k * H)) * 0.6,
            "bias": rng.standard_normal(k * H) * 0.5}


@pytest.mark.parametrize("cell_type", ["simple_rnn", "lstm"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_recurrent_kernel_gradients(rng, cell_type, activation):
    B, T, D, H = 3, 6, 4, 5
    cell = LSTMCell(H, activation) if cell_type == "lstm" else SimpleRNNCell(H, activation)
    k = 4 if cell_type == "lstm" else 1
    x = rng.standard_normal((B, T, D))
    p = _random_weights(rng, D, H, k)
    assert {n: s.shape for n, s in cell.params(D).items()} == {n: w.shape for n, w in p.items()}
    states = [rng.standard_normal((B, H)) for _ in cell.state_sizes]
    r_seq = rng.standard_normal((B, T, H))
    r_final = [rng.standard_normal((B, H)) for _ in cell.state_sizes]

    def loss():
        y, final, _ = driver.forward(cell, x, p, states)
        return float((y * r_seq).sum() + sum((s * r).sum() for s, r in zip(final, r_final)))

    _, _, cache = driver.forward(cell, x, p, states)
    g = driver.backward(cache, r_seq, r_final)
    assert list(g.params) == ["kernel", "recurrent_kernel", "bias"]
    checks = {"dx": (g.dx, x), **{n: (g.params[n], w) for n, w in p.items()}}
    for name, s, gs in zip(cell.state_sizes, states, g.initial_states):
        checks[f"initial {name}"] = (gs, s)
    for name, (analytic, wrt) in checks.items():
        err = relative_error(analytic, numerical_gradient(loss, wrt))
        assert err < TOL, f"{cell_type}/{activation}: {name} relative error {err:.2e}"


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh"])
@pytest.mark.parametrize("rank", [2, 3])
def test_dense_kernel_gradients(rng, activation, rank):
    x = rng.standard_normal((3, 4, 5) if rank == 3 else (3, 5))
    W, b = rng.standard_normal((5, 2)), rng.standard_normal(2)
    r = rng.standard_normal(x.shape[:-1] + (2,))

    def loss():
        return float((dense_forward(x, W, b, activation)[0] * r).sum())

    y, cache = dense_forward(x, W, b, activation)
    dx, dW, db = dense_backward(cache, r)
    for analytic, wrt in ((dx, x), (dW, W), (db, b)):
        assert relative_error(analytic, numerical_gradient(loss, wrt)) < TOL


def test_dropout_kernel_backward_uses_forward_mask(rng):
    x = rng.standard_normal((50, 8))
    y, mask = dropout_forward(x, 0.3, np.random.default_rng(0))
    r = rng.standard_normal(x.shape)
    numeric = numerical_gradient(lambda: float((dropout_forward(x, 0.3, None, mask)[0] * r).sum()), x)
    assert relative_error(dropout_backward(mask, r), numeric) < TOL
    assert np.array_equal(y == 0, mask == 0)
    assert 0 < (mask == 0).mean() < 1


def _layer_loss_check(layer, x, initial_state, rng):
    """Check every gradient of sum(r * outputs) for a layer called with float64 data."""
    y, _ = layer.forward(x, initial_state=initial_state) if initial_state is not None else layer.forward(x)
    outs = y if isinstance(y, list) else [y]
    rs = [rng.standard_normal(o.shape) for o in outs]

    def loss():
        yy, _ = layer.forward(x, initial_state=initial_state) if initial_state is not None else layer.forward(x)
        yy = yy if isinstance(yy, list) else [yy]
        return float(sum((o * r).sum() for o, r in zip(yy, rs)))

    _, cache = layer.forward(x, initial_state=initial_state) if initial_state is not None else layer.forward(x)
    g = layer.backward(cache, rs if isinstance(y, list) else rs[0])
    errors = {"dx": relative_error(g.dx, numerical_gradient(loss, x))}
    for name, w in layer.params.items():
        errors[name] = relative_error(g.params[name], numerical_gradient(loss, w))
    if initial_state is not None:
        for k, s in enumerate(initial_state):
            errors[f"initial_state[{k}]"] = relative_error(g.initial_state[k], numerical_gradient(loss, s))
    return errors


@pytest.mark.parametrize("layer_cls", [SimpleRNN, LSTM])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("use_bias", [True, False])
def test_recurrent_layer_gradients(rng, layer_cls, activation, return_sequences, return_state, use_bias):
    B, T, D, H = 2, 5, 3, 4
    layer = layer_cls(H, activation=activation, return_sequences=return_sequences, return_state=return_state,
                      use_bias=use_bias, dtype="float64", seed=3)
    x = rng.standard_normal((B, T, D))
    layer.build(x.shape[1:])
    if use_bias:
        layer.params["bias"][...] = rng.standard_normal(layer.params["bias"].shape) * 0.5
    n_states = 2 if layer_cls is LSTM else 1
    initial = [rng.standard_normal((B, H)) for _ in range(n_states)]
    errors = _layer_loss_check(layer, x, initial, rng)
    assert set(errors) >= {"dx", "kernel", "recurrent_kernel", "initial_state[0]"}
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, bad


def test_recurrent_layer_gradients_without_initial_state(rng):
    layer = LSTM(4, return_sequences=True, dtype="float64", seed=0)
    x = rng.standard_normal((2, 4, 3))
    layer.build(x.shape[1:])
    layer.params["bias"][...] = rng.standard_normal(16)
    errors = _layer_loss_check(layer, x, None, rng)
    assert errors and all(e < TOL for e in errors.values()), errors  # NaN fails too


@pytest.mark.parametrize("activation", [None, "tanh", "relu"])
def test_dense_layer_gradients(rng, activation):
    layer = Dense(3, activation=activation, dtype="float64", seed=1)
    x = rng.standard_normal((4, 6, 5))
    layer.build(x.shape[1:])
    layer.params["bias"][...] = rng.standard_normal(3)
    errors = _layer_loss_check(layer, x, None, rng)
    assert errors and all(e < TOL for e in errors.values()), errors  # NaN fails too


def test_dropout_layer_gradient_in_training(rng):
    layer = Dropout(0.4, dtype="float64")
    x = rng.standard_normal((6, 7))
    y, mask = layer.forward(x, training=True, rng=np.random.default_rng(5))
    r = rng.standard_normal(x.shape)
    numeric = numerical_gradient(lambda: float((layer.forward(x, training=True, mask=mask)[0] * r).sum()), x)
    assert relative_error(layer.backward(mask, r).dx, numeric) < TOL


def _model_gradient_errors(model, x, y):
    loss, grads = model.loss_and_gradients(x, y)
    assert len(grads) == len(model.weights)
    errors = []
    for w, g in zip(model.weights, grads):
        assert g.shape == w.shape
        errors.append(relative_error(g, numerical_gradient(lambda: model.loss_and_gradients(x, y)[0], w)))
    return loss, errors


def _randomise_biases(model, rng):
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"][...] = rng.standard_normal(layer.params["bias"].shape) * 0.5


@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_founding_model_gradients(rng, loss, quiet_broadcast):
    model = Sequential([LSTM(6, activation="relu", input_shape=(5, 1), dtype="float64", seed=0),
                        Dropout(0.2, dtype="float64"), Dense(1, dtype="float64", seed=0)])
    model.compile("adam", loss)
    _randomise_biases(model, rng)
    x = rng.standard_normal((4, 5, 1))
    _, errors = _model_gradient_errors(model, x, x)  # the founding program's broadcast targets
    assert errors and all(e < TOL for e in errors), errors  # NaN fails too


def test_stacked_model_gradients(rng):
    model = Sequential([
        SimpleRNN(4, return_sequences=True, input_shape=(6, 3), dtype="float64", seed=1),
        LSTM(5, return_sequences=True, dtype="float64", seed=2),
        LSTM(3, activation="relu", dtype="float64", seed=3),
        Dense(2, activation="tanh", dtype="float64", seed=4),
    ])
    model.compile("adam", "mse")
    _randomise_biases(model, rng)
    x, y = rng.standard_normal((3, 6, 3)), rng.standard_normal((3, 2))
    _, errors = _model_gradient_errors(model, x, y)
    assert len(errors) == 3 + 3 + 3 + 2
    assert errors and all(e < TOL for e in errors), errors  # NaN fails too


def test_sequence_output_model_gradients(rng):
    model = Sequential([LSTM(4, return_sequences=True, input_shape=(5, 2), dtype="float64", seed=1),
                        Dense(1, dtype="float64", seed=2)])
    model.compile("adam", "mse")
    _randomise_biases(model, rng)
    x, y = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 5, 1))
    _, errors = _model_gradient_errors(model, x, y)
    assert errors and all(e < TOL for e in errors), errors  # NaN fails too


def test_gradient_check_detects_a_wrong_gradient(rng):
    """The check itself can fail: a gradient off by a sign in one block is caught."""
    cell = LSTMCell(2)
    x = rng.standard_normal((2, 4, 3))
    p = _random_weights(rng, 3, 2, 4)
    r = rng.standard_normal((2, 4, 2))
    _, _, cache = driver.forward(cell, x, p)
    g = driver.backward(cache, r)
    wrong = g.params["kernel"].copy()
    wrong[:, 2:4] *= -1  # the forget-gate block
    numeric = numerical_gradient(lambda: float((driver.forward(cell, x, p)[0] * r).sum()), p["kernel"])
    assert relative_error(g.params["kernel"], numeric) < TOL
    assert relative_error(wrong, numeric) > 1e-2
