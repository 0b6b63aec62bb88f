"""GRU, RNN dropout/recurrent_dropout, stateful, go_backwards, Bidirectional, Masking, TimeDistributed:
float64 gradient checks at layer and model level, and their Keras behaviours."""

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.gradcheck import numerical_gradient, relative_error
from minirnn.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Masking, SimpleRNN, TimeDistributed
from minirnn.optimizers import Adam

TOL = 1e-7
F64 = {"dtype": "float64"}


def _randomise(layer, rng):
    for name, w in layer.params.items():
        if "bias" in name:
            w[...] = rng.standard_normal(w.shape) * 0.5


def _layer_errors(layer, x, rng, **fw):
    y, _ = layer.forward(x, **fw)
    ys = y if isinstance(y, list) else [y]
    rs = [rng.standard_normal(o.shape) for o in ys]

    def loss():
        out, _ = layer.forward(x, **fw)
        out = out if isinstance(out, list) else [out]
        return float(sum((o * r).sum() for o, r in zip(out, rs)))

    _, cache = layer.forward(x, **fw)
    g = layer.backward(cache, rs if isinstance(y, list) else rs[0])
    errors = {"dx": relative_error(g.dx, numerical_gradient(loss, x))}
    for name, w in layer.params.items():
        errors[name] = relative_error(g.params[name], numerical_gradient(loss, w))
    return errors


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_gru_layer_gradients(rng, reset_after, return_sequences, activation):
    layer = GRU(4, activation=activation, reset_after=reset_after, return_sequences=return_sequences, seed=0, **F64)
    x = rng.standard_normal((3, 5, 2))
    layer.build(x.shape[1:])
    _randomise(layer, rng)
    assert layer.params["bias"].shape == ((2, 12) if reset_after else (12,))
    errors = _layer_errors(layer, x, rng)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("rates", [(0.3, 0.0), (0.0, 0.4), (0.3, 0.4)])
def test_rnn_dropout_gradients_in_training(rng, cls, rates):
    layer = cls(3, dropout=rates[0], recurrent_dropout=rates[1], return_sequences=True, seed=0, **F64)
    x = rng.standard_normal((4, 5, 2))
    layer.build(x.shape[1:])
    _randomise(layer, rng)
    in_mask, rec_mask = layer._draw_dropout_masks(x, True, np.random.default_rng(3))
    k = {SimpleRNN: 1, LSTM: 4, GRU: 3}[cls] if rates[1] else 1  # Keras: one mask per gate with recurrent dropout
    if rates[0]:
        assert in_mask.shape == (k, 4, 2) and (in_mask == 0).any()
    if rates[1]:
        assert rec_mask.shape == (k, 4, 3) and (rec_mask == 0).any()
    errors = _layer_errors(layer, x, rng, training=True, dropout_masks=(in_mask, rec_mask))
    assert max(errors.values()) < TOL, errors


def test_rnn_dropout_only_in_training_and_masks_fixed_over_time(rng):
    layer = LSTM(3, dropout=0.5, return_sequences=True, seed=0)
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), layer(x))  # inference: no dropout
    a = layer(x, training=True, rng=np.random.default_rng(0))
    b = layer(x, training=True, rng=np.random.default_rng(1))
    assert not np.allclose(a, b)
    # masks are drawn once per sequence: zeroing a feature of x at every step changes nothing when dropped
    in_mask, _ = layer._draw_dropout_masks(x, True, np.random.default_rng(0))
    dropped = np.argwhere(in_mask[0] == 0)
    bi, d = dropped[0]
    x2 = x.copy()
    x2[bi, :, d] = 100.0
    np.testing.assert_array_equal(layer.forward(x, training=True, dropout_masks=(in_mask, None))[0][bi],
                                  layer.forward(x2, training=True, dropout_masks=(in_mask, None))[0][bi])


def test_stateful_carries_state_between_calls_and_resets(rng):
    layer = LSTM(3, stateful=True, return_sequences=True, seed=0, **F64)
    whole = LSTM(3, return_sequences=True, seed=0, **F64)
    x = rng.standard_normal((2, 8, 2))
    first, second = layer(x[:, :4]), layer(x[:, 4:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole(x), rtol=1e-12)
    layer.reset_states()
    np.testing.assert_allclose(layer(x[:, :4]), first, rtol=1e-12)
    with pytest.raises(ValueError, match="batch size 2"):
        layer(x[:1, :4])
    with pytest.raises(ValueError, match="not stateful"):
        whole.reset_states()


def test_go_backwards_layer_matches_reversed_input(rng):
    x = rng.standard_normal((2, 5, 3))
    back = GRU(4, go_backwards=True, return_sequences=True, seed=1, **F64)
    fwd = GRU(4, return_sequences=True, seed=1, **F64)
    np.testing.assert_allclose(back(x), fwd(x[:, ::-1]), rtol=1e-12)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_gradients(rng, merge_mode, return_sequences):
    layer = Bidirectional(LSTM(3, return_sequences=return_sequences, seed=0, **F64), merge_mode=merge_mode)
    x = rng.standard_normal((2, 4, 2))
    layer.build(x.shape[1:])
    _randomise(layer, rng)
    assert len(layer.get_weights()) == 6
    errors = _layer_errors(layer, x, rng)
    assert max(errors.values()) < TOL, errors


def test_bidirectional_is_forward_and_reversed_run(rng):
    layer = Bidirectional(SimpleRNN(3, return_sequences=True, seed=0, **F64))
    x = rng.standard_normal((2, 5, 2))
    y = layer(x)
    fwd, bwd = layer.forward_layer, layer.backward_layer
    np.testing.assert_allclose(y[..., :3], fwd(x), rtol=1e-12)
    plain = SimpleRNN(3, return_sequences=True, **F64)
    plain.build(x.shape[1:])
    plain.set_weights(bwd.get_weights())
    np.testing.assert_allclose(y[..., 3:], plain(x[:, ::-1])[:, ::-1], rtol=1e-12)


def test_time_distributed_dense_gradients_and_equivalence(rng):
    td = TimeDistributed(Dense(3, activation="tanh", seed=0, **F64))
    x = rng.standard_normal((2, 4, 5))
    td.build(x.shape[1:])
    _randomise(td, rng)
    errors = _layer_errors(td, x, rng)
    assert max(errors.values()) < TOL, errors
    np.testing.assert_allclose(td(x)[:, 2], td.layer(x[:, 2]), rtol=1e-12)


def _model_errors(model, x, y):
    _, grads = model.loss_and_gradients(x, y)
    return [relative_error(g, numerical_gradient(lambda: model.loss_and_gradients(x, y)[0], w))
            for w, g in zip(model.weights, grads)]


def test_masked_model_gradients_and_padding_is_ignored(rng):
    def build():
        return Sequential([Masking(0.0, input_shape=(6, 2), **F64),
                           Bidirectional(GRU(3, return_sequences=True, seed=1, **F64)),
                           LSTM(3, seed=2, **F64), Dense(1, seed=3, **F64)])
    model = build()
    model.compile("adam", "mse")
    for layer in model.layers:
        _randomise(layer, rng)
    x = rng.standard_normal((3, 6, 2))
    x[0, 4:] = 0.0   # padding at the end
    x[2, 2] = 0.0    # a masked step in the middle
    y = rng.standard_normal((3, 1))
    assert max(_model_errors(model, x, y)) < TOL
    # the padded steps' values do not matter: the output of sample 0 equals its unpadded run
    short = model.predict(x[:1, :4])
    np.testing.assert_allclose(model.predict(x[:1]), short, rtol=1e-10)


def test_stacked_gru_model_with_dropout_trains(rng):
    model = Sequential([GRU(8, return_sequences=True, dropout=0.1, recurrent_dropout=0.1, input_shape=(6, 1),
                           seed=0), GRU(4, seed=1), Dropout(0.2), Dense(1, seed=2)])
    model.compile(Adam(learning_rate=0.01), "mse")
    x = rng.standard_normal((64, 6, 1)).astype(np.float32)
    y = x.sum(axis=1) / np.sqrt(6)  # unit variance: the constant predictor's loss is about 1
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0, seed=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


@pytest.mark.parametrize("layer", [
    GRU(3, reset_after=False, dropout=0.1, go_backwards=True, seed=2),
    Bidirectional(LSTM(2, return_sequences=True), merge_mode="sum"),
    TimeDistributed(Dense(2)),
    Masking(-1.0),
])
def test_config_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
