"""minirnn.diagnostics.gradient_norms_over_time: the rho^(T-1) law of a near-linear tanh RNN, and
agreement with finite differences of the loss with respect to each state h_t."""

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.cells import driver
from minirnn.checking.diagnostics import gradient_norms_over_time, upstream_gradient
from minirnn.checking.gradcheck import numerical_gradient
from minirnn.initializers import orthogonal
from minirnn.layers import LSTM, Dense, Dropout, SimpleRNN


def _rho_model(rho, T, H=16, input_scale=1e-3, seed=0):
    """tanh SimpleRNN(H) with recurrent_kernel = rho * Q (Q orthogonal) and zero bias, then Dense(1):
    the loss reads only the last step h_T."""
    rng = np.random.default_rng(seed)
    model = Sequential([SimpleRNN(H, input_shape=(T, 2), dtype="float64", seed=seed + 1),
                        Dense(1, dtype="float64", seed=seed + 2)])
    model.compile("sgd", "mse")
    model.layers[0].params["recurrent_kernel"][...] = rho * orthogonal((H, H), rng, np.float64)
    x = input_scale * rng.standard_normal((8, T, 2))
    y = rng.standard_normal((8, 1))
    return model, x, y


@pytest.mark.parametrize("rho", [0.9, 1.1])
def test_gradient_norm_ratio_follows_rho_to_the_t_minus_1(rho):
    # Small inputs keep h_t ~ 0, so tanh' ~ 1 and each step back multiplies dL/dh by W_hh^T = rho Q^T,
    # which scales every vector's norm by exactly rho.
    T = 20
    model, x, y = _rho_model(rho, T)
    norms = gradient_norms_over_time(model, x, y)
    assert norms.shape == (T,) and norms.dtype == np.float64
    assert norms[0] / norms[-1] == pytest.approx(rho ** (T - 1), rel=0.01)
    assert np.allclose(norms[:-1] / norms[1:], rho, rtol=1e-3)  # the law holds step by step


def test_the_law_needs_small_inputs():
    # With inputs of order one tanh saturates (tanh' < 1): the gradient vanishes faster than rho^(T-1).
    T, rho = 20, 1.1
    model, x, y = _rho_model(rho, T, input_scale=3.0)
    norms = gradient_norms_over_time(model, x, y)
    assert norms[0] / norms[-1] < 0.5 * rho ** (T - 1)


def _states_at(layer, x, t):
    """The states (h_t, c_t, ...) after t steps of a recurrent layer."""
    return driver.forward(layer.cell, x[:, :t], layer.params)[1]


def _loss_given_h(model, index, x, y, t, h):
    """The model's loss when the recurrent layer ``index`` has h_t replaced by ``h`` (other states kept)."""
    layer = model.layers[index]
    inp = x
    for lay in model.layers[:index]:
        inp, _ = lay.forward(inp)
    prefix = driver.forward(layer.cell, inp[:, :t], layer.params)
    states = [h, *prefix[1][1:]]
    pieces = [prefix[0][:, :t - 1], h[:, None]]
    if t < inp.shape[1]:
        suffix = driver.forward(layer.cell, inp[:, t:], layer.params, states)
        pieces.append(suffix[0])
    seq = np.concatenate(pieces, axis=1)
    out = seq if layer.return_sequences else seq[:, -1]
    for lay in model.layers[index + 1:]:
        out, _ = lay.forward(out)
    return float(model.loss.value_and_grad(y, out)[0])


@pytest.mark.parametrize("build", ["lstm_last", "stacked_sequences"])
def test_norms_equal_finite_differences_of_the_loss_in_each_h_t(rng, build):
    if build == "lstm_last":
        model = Sequential([LSTM(3, input_shape=(5, 2), dtype="float64", seed=1), Dense(2, dtype="float64", seed=2)])
        index, y = 0, rng.standard_normal((3, 2))
    else:  # a sequence layer under another recurrent layer: the loss reaches h_t directly and through time
        model = Sequential([SimpleRNN(3, return_sequences=True, input_shape=(5, 2), dtype="float64", seed=1),
                            LSTM(4, return_sequences=True, dtype="float64", seed=2), Dense(1, dtype="float64", seed=3)])
        index, y = 1, rng.standard_normal((3, 5, 1))
    model.compile("sgd", "mse")
    for layer in model.layers:
        if "bias" in layer.params:
            layer.params["bias"][...] = 0.5 * rng.standard_normal(layer.params["bias"].shape)
    x = rng.standard_normal((3, 5, 2))
    norms = gradient_norms_over_time(model, x, y, layer=index)
    inp = x if index == 0 else model.layers[0].forward(x)[0]
    for t in range(1, 6):
        h = _states_at(model.layers[index], inp, t)[0].copy()
        numeric = numerical_gradient(lambda t=t, h=h: _loss_given_h(model, index, x, y, t, h), h)
        assert norms[t - 1] == pytest.approx(np.linalg.norm(numeric), rel=1e-6)


def test_layer_can_be_chosen_by_index_name_or_object(rng):
    model = Sequential([SimpleRNN(3, return_sequences=True, input_shape=(4, 2), seed=0, name="first"),
                        SimpleRNN(2, seed=1, name="second"), Dense(1, seed=2)])
    model.compile("sgd", "mse")
    x, y = rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 1))
    default = gradient_norms_over_time(model, x, y)
    assert np.array_equal(default, gradient_norms_over_time(model, x, y, layer="first"))
    second = gradient_norms_over_time(model, x, y, layer=model.layers[1])
    assert np.array_equal(second, gradient_norms_over_time(model, x, y, layer=1))
    assert not np.allclose(default, second)
    assert default.dtype == np.float64 and default.shape == (4,)


def test_dropout_in_training_uses_the_given_generator(rng):
    model = Sequential([LSTM(4, return_sequences=True, input_shape=(6, 1), seed=0), Dropout(0.5),
                        Dense(1, seed=1)])
    model.compile("sgd", "mse")
    x, y = rng.standard_normal((3, 6, 1)), rng.standard_normal((3, 6, 1))
    a = gradient_norms_over_time(model, x, y, training=True, rng=np.random.default_rng(7))
    b = gradient_norms_over_time(model, x, y, training=True, rng=np.random.default_rng(7))
    c = gradient_norms_over_time(model, x, y, training=True, rng=np.random.default_rng(8))
    off = gradient_norms_over_time(model, x, y)
    assert np.array_equal(a, b) and not np.allclose(a, c) and not np.allclose(a, off)


def test_upstream_gradient_of_the_last_layer_is_the_loss_gradient(rng):
    model = Sequential([SimpleRNN(2, input_shape=(3, 1), seed=0), Dense(1, seed=1)])
    model.compile("sgd", "mse")
    x, y = rng.standard_normal((4, 3, 1)), rng.standard_normal((4, 1))
    loss, caches, dy = upstream_gradient(model, x, y, -1)
    y_hat = model.predict(x)
    assert loss == pytest.approx(float(np.mean((y_hat - y) ** 2)), rel=1e-6)
    assert np.allclose(dy, 2 * (y_hat - y) / 4, rtol=1e-5) and len(caches) == 2


@pytest.mark.parametrize("kwargs, error, message", [
    ({"layer": "dense"}, ValueError, "not a recurrent layer|is not"),
    ({"layer": "nope"}, ValueError, "one of"),
    ({"layer": 5}, ValueError, "index"),
    ({"layer": 1.5}, TypeError, "layer must be"),
    ({"layer": SimpleRNN(2)}, ValueError, "not in this model"),
])
def test_bad_layer_choices(rng, kwargs, error, message):
    model = Sequential([SimpleRNN(2, input_shape=(3, 1), seed=0), Dense(1, seed=1, name="dense")])
    model.compile("sgd", "mse")
    with pytest.raises(error, match=message):
        gradient_norms_over_time(model, rng.standard_normal((2, 3, 1)), np.ones((2, 1)), **kwargs)


def test_needs_a_recurrent_layer_and_a_compiled_model(rng):
    dense_only = Sequential([Dense(1, input_shape=(3,))])
    dense_only.compile("sgd", "mse")
    with pytest.raises(ValueError, match="recurrent layer"):
        gradient_norms_over_time(dense_only, np.ones((2, 3)), np.ones((2, 1)))
    uncompiled = Sequential([SimpleRNN(2, input_shape=(3, 1))])
    with pytest.raises(ValueError, match="compile"):
        gradient_norms_over_time(uncompiled, np.ones((2, 3, 1)), np.ones((2, 2)))


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM])
def test_a_zeroed_masked_last_output_passes_no_gradient_back_through_time(rng, cls):
    """return_sequences=False, zero_output_for_mask=True and a padded last step: the layer's output for that
    row is zeros whatever its states, so the loss reaches no h_t of that row (it once did, as if the
    output were h_T)."""
    from minirnn.layers import Masking

    def model():
        m = Sequential([Masking(0.0, input_shape=(4, 2), dtype="float64"),
                        cls(3, zero_output_for_mask=True, dtype="float64", seed=0), Dense(1, dtype="float64", seed=1)])
        m.compile("sgd", "mse")
        return m

    x, y = rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 1))
    x[0, 3] = 0.0                       # row 0's last step is padding; row 1 is all real
    both = gradient_norms_over_time(model(), x, y, layer=1)
    alone = gradient_norms_over_time(model(), x[1:], y[1:], layer=1)
    # the mean over 2 rows halves row 1's gradient; row 0 adds nothing
    np.testing.assert_allclose(both, 0.5 * alone, rtol=1e-12)
    assert np.all(alone > 0)
    x[1, 3] = 0.0
    np.testing.assert_array_equal(gradient_norms_over_time(model(), x, y, layer=1), 0.0)
