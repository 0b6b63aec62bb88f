"""Traces of every step (minirnn.tools.inspection, minirnn.cells.trace) against a step-by-step
recomputation written out here."""

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.cells import Cell, Param, StepGrads, driver
from minirnn.cells.trace import Trace, trace_from_cache
from minirnn.layers import LSTM, RNN, Dense, Dropout, SimpleRNN
from minirnn.tools.inspection import register_tracer, trace


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def random_lstm(units=4, features=3, activation="tanh", seed=0):
    layer = LSTM(units, activation=activation, dtype="float64", seed=seed)
    layer.build((None, features))
    rng = np.random.default_rng(seed + 100)
    layer.set_weights([0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()])  # nonzero biases too
    return layer


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_lstm_trace_matches_a_step_by_step_recomputation(activation):
    B, T, D, H = 3, 6, 2, 4
    layer = random_lstm(H, D, activation)
    x = np.random.default_rng(1).standard_normal((B, T, D))
    h0, c0 = np.random.default_rng(2).standard_normal((2, B, H))
    tr = layer.trace(x, initial_state=[h0, c0])

    a = np.tanh if activation == "tanh" else (lambda v: np.maximum(v, 0.0))
    W, U, b = layer.get_weights()
    h, c = h0, c0
    for t in range(T):
        z = x[:, t] @ W + h @ U + b
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), a(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * a(c)
        for name, want in (("i", i), ("f", f), ("candidate", g), ("o", o), ("c", c), ("h", h)):
            np.testing.assert_allclose(tr[name][:, t], want, rtol=1e-12, atol=1e-12, err_msg=f"{name} at t={t}")
    np.testing.assert_array_equal(tr.initial_state["h"], h0)
    np.testing.assert_array_equal(tr.initial_state["c"], c0)
    assert tr.cell == "lstm" and tr.names == ("i", "f", "o", "candidate", "c", "h")
    assert all(tr[n].shape == (B, T, H) and tr[n].flags.c_contiguous for n in tr.names)


def test_simple_rnn_trace_is_the_sequence_of_hidden_states():
    layer = SimpleRNN(5, return_sequences=True, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 7, 3)).astype(np.float32)
    tr = trace(layer, x)
    assert tr.cell == "simplernn" and tr.names == ("h",) and tr["h"].dtype == np.float32
    np.testing.assert_array_equal(tr["h"], layer(x))


def test_trace_is_a_copy_and_does_not_change_the_layer():
    layer = random_lstm()
    x = np.ones((1, 3, 3))
    before = layer.get_weights()
    tr = layer.trace(x)
    tr["c"][...] = 0
    again = layer.trace(x)
    assert np.abs(again["c"]).max() > 0
    for w0, w1 in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_trace_of_a_model_feeds_the_chosen_layer_its_real_input():
    model = Sequential([Dense(3, input_shape=(5, 2), seed=0), LSTM(4, return_sequences=True, seed=1),
                        Dropout(0.5), LSTM(2, seed=2)])
    x = np.random.default_rng(0).standard_normal((3, 5, 2)).astype(np.float32)
    first = trace(model, x)                      # the first recurrent layer, index 1
    np.testing.assert_allclose(first["h"], model.layers[1](model.layers[0](x)), rtol=1e-6)
    last = trace(model, x, layer=model.layers[3].name)
    np.testing.assert_allclose(last["h"][:, -1], model.predict(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(trace(model, x, layer=-1)["c"], last["c"])


@pytest.mark.parametrize("kwargs, exc, fragment", [
    ({"layer": 0}, TypeError, "not a recurrent layer"),
    ({"layer": 9}, ValueError, "layer index must be in"),
    ({"layer": "nope"}, ValueError, "layer must name one of"),
    ({"layer": 1.5}, TypeError, "layer must be an index"),
])
def test_trace_model_errors(kwargs, exc, fragment):
    model = Sequential([Dense(3, input_shape=(5, 2), seed=0), LSTM(4, seed=1)])
    with pytest.raises(exc, match=fragment):
        trace(model, np.zeros((1, 5, 2)), **kwargs)


class ElmanCell(Cell):
    """A user cell with no trace method: h_t = tanh(x_t @ W_xh + h_{t-1} @ W_hh + b_h), its own param names.

    The cache is a dict holding (B, n) arrays (traced by default), the parameter dict and a 1-D array
    (neither is a per-step (B, n) array: both are left out of the trace)."""

    def __init__(self, units):
        self.units = units

    @property
    def state_sizes(self):
        return {"h": self.units}

    def params(self, input_size):
        return {"W_xh": Param((input_size, self.units), "glorot_uniform", "matrix"),
                "W_hh": Param((self.units, self.units), "orthogonal", "matrix"),
                "b_h": Param((self.units,), "zeros", "bias")}

    def forward(self, x, states, p):
        (h_prev,) = states
        pre = x @ p["W_xh"] + h_prev @ p["W_hh"] + p["b_h"]
        h = np.tanh(pre)
        return (h,), {"pre": pre, "h_prev": h_prev, "x": x, "p": p, "row_norms": np.linalg.norm(h, axis=1)}

    def backward(self, d_states, cache):
        (dh,), p = d_states, cache["p"]
        dz = dh * (1 - np.tanh(cache["pre"]) ** 2)
        return StepGrads(states=(dz @ p["W_hh"].T,), x=dz @ p["W_xh"].T,
                         params={"W_xh": cache["x"].T @ dz, "W_hh": cache["h_prev"].T @ dz, "b_h": dz.sum(axis=0)})


class TupleCacheCell(ElmanCell):
    """The same cell keeping a tuple as its cache: nothing to name, so a trace shows the states only."""

    def forward(self, x, states, p):
        (h,), c = super().forward(x, states, p)
        return (h,), (c,)

    def backward(self, d_states, cache):
        return super().backward(d_states, cache[0])


def test_trace_rejects_non_recurrent_targets():
    with pytest.raises(TypeError, match="recurrent layer or a Sequential"):
        trace(Dense(2), np.zeros((1, 2, 2)))


def test_a_user_cell_without_a_trace_method_traces_its_dict_cache():
    B, T, D, H = 2, 4, 3, 5
    layer = RNN(ElmanCell(H), return_sequences=True, dtype="float64", seed=0)
    layer.build((None, D))
    rng = np.random.default_rng(3)
    layer.params["b_h"][...] = 0.5 * rng.standard_normal(H)
    x = rng.standard_normal((B, T, D))
    h0 = rng.standard_normal((B, H))
    tr = trace(layer, x, initial_state=[h0])
    # every (B, n) array of the cache, in the cache's order, then the state; not p, not the 1-D array
    assert tr.cell == "elman" and tr.names == ("pre", "h_prev", "x", "h")
    p = layer.params
    h = h0
    for t in range(T):
        pre = x[:, t] @ p["W_xh"] + h @ p["W_hh"] + p["b_h"]
        np.testing.assert_allclose(tr["pre"][:, t], pre, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(tr["h_prev"][:, t], h)
        np.testing.assert_array_equal(tr["x"][:, t], x[:, t])
        h = np.tanh(pre)
        np.testing.assert_allclose(tr["h"][:, t], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(tr["h"], layer(x, initial_state=[h0]))
    np.testing.assert_array_equal(tr.initial_state["h"], h0)
    assert all(tr[n].shape[:2] == (B, T) and tr[n].flags.c_contiguous for n in tr.names)


def test_a_cell_with_a_non_dict_cache_traces_its_states_only():
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    cell = TupleCacheCell(3)
    p = {"W_xh": np.full((2, 3), 0.3), "W_hh": np.eye(3), "b_h": np.zeros(3)}
    y, _, cache = driver.forward(cell, x, p)
    tr = trace_from_cache(cache)
    assert tr.names == ("h",)
    np.testing.assert_array_equal(tr["h"], y)


def test_a_cell_names_what_its_trace_shows_with_its_own_trace_method():
    class Named(ElmanCell):
        def trace(self, cache):
            return {"pre-activation": cache["pre"]}

    x = np.random.default_rng(1).standard_normal((2, 3, 2))
    p = {"W_xh": np.full((2, 3), 0.3), "W_hh": np.eye(3), "b_h": np.zeros(3)}
    _, _, cache = driver.forward(Named(3), x, p)
    tr = trace_from_cache(cache)
    assert tr.names == ("pre-activation", "h")
    np.testing.assert_allclose(np.tanh(tr["pre-activation"]), tr["h"], rtol=1e-14)


def test_register_tracer_is_gone_and_says_what_replaces_it():
    with pytest.raises(TypeError, match=r"trace\(self, cache\) method"):
        register_tracer(ElmanCell)


def test_missing_name_error_lists_the_available_ones():
    tr = Trace("lstm", {"h": np.zeros((1, 1, 1))})
    with pytest.raises(KeyError, match="has no 'z'; it has h"):
        tr["z"]


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_trace_matches_a_step_by_step_recomputation(reset_after):
    from minirnn.layers import GRU

    B, T, D, H = 2, 5, 3, 4
    layer = GRU(H, reset_after=reset_after, dtype="float64", seed=0)
    layer.build((None, D))
    rng = np.random.default_rng(5)
    layer.set_weights([0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()])
    x = rng.standard_normal((B, T, D))
    tr = layer.trace(x)
    W, U, b = layer.get_weights()
    b_in, b_rec = (b[0], b[1]) if reset_after else (b, np.zeros(3 * H))
    h = np.zeros((B, H))
    for t in range(T):
        xw = x[:, t] @ W + b_in
        if reset_after:
            u = h @ U + b_rec
            z, r = sigmoid(xw[:, :H] + u[:, :H]), sigmoid(xw[:, H:2 * H] + u[:, H:2 * H])
            n = np.tanh(xw[:, 2 * H:] + r * u[:, 2 * H:])
        else:
            z, r = sigmoid(xw[:, :H] + h @ U[:, :H]), sigmoid(xw[:, H:2 * H] + h @ U[:, H:2 * H])
            n = np.tanh(xw[:, 2 * H:] + (r * h) @ U[:, 2 * H:])
        h = z * h + (1 - z) * n
        for name, want in (("z", z), ("r", r), ("candidate", n), ("h", h)):
            np.testing.assert_allclose(tr[name][:, t], want, rtol=1e-12, atol=1e-12, err_msg=f"{name} at t={t}")
    assert tr.cell == "gru" and tr.names == ("z", "r", "candidate", "h")


def test_trace_leaves_a_stateful_layer_where_it_was():
    layer = LSTM(3, stateful=True, seed=0)
    x = np.ones((2, 4, 1), dtype=np.float32)
    layer(x)
    carried = [s.copy() for s in layer.states]
    tr = layer.trace(x)
    for before, after in zip(carried, layer.states):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(tr.initial_state["h"], carried[0])  # it starts from the carried state


def test_trace_passes_a_masking_layers_mask_to_the_traced_layer():
    from minirnn.layers import Masking

    model = Sequential([Masking(0.0, input_shape=(4, 1)), LSTM(3, return_sequences=True, seed=0)])
    x = np.array([[[1.0], [2.0], [0.0], [0.0]]], dtype=np.float32)   # the last two steps are padding
    tr = trace(model, x)
    np.testing.assert_array_equal(tr["c"][0, 2], tr["c"][0, 1])
    np.testing.assert_array_equal(tr["c"][0, 3], tr["c"][0, 1])
    assert not np.array_equal(tr["c"][0, 1], tr["c"][0, 0])


def test_plots_show_the_traced_values():
    pytest.importorskip("matplotlib")
    from minirnn import plot

    tr = random_lstm().trace(np.random.default_rng(0).standard_normal((2, 6, 3)))
    fig = plot.trace_heatmaps(tr, names=("i", "c"), sample=1, markers=[2])
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    np.testing.assert_array_equal(images[0].get_array(), tr["i"][1].T)     # (H, T): units down, time across
    np.testing.assert_array_equal(images[1].get_array(), tr["c"][1].T)
    assert images[0].get_clim() == (0.0, 1.0)                               # gates on a fixed [0, 1] scale
    _, (ax,) = plot.figure(1, 1)
    norms = np.array([1.0, 0.5, 0.25])
    (line,) = plot.gradient_norms(ax, norms)
    np.testing.assert_array_equal(line.get_ydata(), norms)
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError, match="sample must be in"):
        plot.heatmap(ax, tr, "c", sample=5)
