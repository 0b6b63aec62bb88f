"""Forward values against independent references (issue 14): mutations that change forward and backward
together are invisible to a gradient check, so every cell's output is compared with a plain formula written
from its paper (``minirnn.testing.assert_forward_matches``), and the driver's options with identities that
hold for any cell: a zero recurrent-dropout mask on one gate block equals zeroing that block of the recurrent
weights (and the same for the input mask and the kernel), go_backwards with a step mask equals the reversed
input with the reversed mask, a row that starts padded shows zeros until its first real step (that row only),
and a padded step carries every state. Fast and NaN-safe (every comparison is elementwise, np.all)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from minirnn.cells import GRUCell, LSTMCell, SimpleRNNCell, driver
from minirnn.layers import Dense
from minirnn.testing import assert_forward_matches

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-12  # float64, the same operations in another order: measured <= 3e-16 relative


def _example(name, filename):
    module = f"minirnn_example_cells.{filename[:-3]}"
    if module not in sys.modules:
        spec = importlib.util.spec_from_file_location(module, ROOT / "examples" / "cells" / filename)
        sys.modules[module] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[module])
    return getattr(sys.modules[module], name)


def sig(z):
    return 1 / (1 + np.exp(-z))


def hard_sig(z):  # Keras 3: relu6(x + 3) / 6
    return np.clip(z / 6 + 0.5, 0, 1)


def relu(z):
    return np.maximum(z, 0)


ACT = {"tanh": np.tanh, "sigmoid": sig, "hard_sigmoid": hard_sig, "relu": relu, "linear": lambda z: z}


def params_for(cell, D, rng):
    return {n: rng.standard_normal(s.shape) * (0.7 if s.role != "gain" else 0.2) + (1.0 if s.role == "gain" else 0)
            for n, s in cell.params(D).items()}


def blocks(a, k):
    n = a.shape[-1] // k
    return [a[..., j * n:(j + 1) * n] for j in range(k)]


def ln(v, gain, bias, eps):
    mu = v.mean(axis=-1, keepdims=True)
    var = ((v - mu) ** 2).mean(axis=-1, keepdims=True)
    return gain * (v - mu) / np.sqrt(var + eps) + bias


def ref_simple(act):
    a = ACT[act]
    return lambda x, s, p: (a(x @ p["kernel"] + s[0] @ p["recurrent_kernel"] + p["bias"]),)


def ref_lstm(act, rec):
    a, s_ = ACT[act], ACT[rec]

    def step(x, s, p):
        h, c = s
        zi, zf, zg, zo = blocks(x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"], 4)
        c = s_(zf) * c + s_(zi) * a(zg)
        return s_(zo) * a(c), c
    return step


def ref_gru(act, rec, reset_after):
    a, s_ = ACT[act], ACT[rec]

    def step(x, s, p):
        (h,) = s
        b = p["bias"]
        bx, bh = (b[0], b[1]) if reset_after else (b, np.zeros_like(b))
        xz, xr, xh = blocks(x @ p["kernel"] + bx, 3)
        Uz, Ur, Uh = blocks(p["recurrent_kernel"], 3)
        bz, br, bhh = blocks(bh, 3)
        z = s_(xz + h @ Uz + bz)
        r = s_(xr + h @ Ur + br)
        n = a(xh + r * (h @ Uh + bhh)) if reset_after else a(xh + (r * h) @ Uh)
        return (z * h + (1 - z) * n,)
    return step


def ref_no_forget(x, s, p):
    h, c = s
    zi, zg, zo = blocks(x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"], 3)
    c = c + sig(zi) * np.tanh(zg)
    return sig(zo) * np.tanh(c), c


def ref_peephole(x, s, p):
    h, c = s
    zi, zf, zg, zo = blocks(x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"], 4)
    i, f = sig(zi + p["p_i"] * c), sig(zf + p["p_f"] * c)
    c = f * c + i * np.tanh(zg)
    return sig(zo + p["p_o"] * c) * np.tanh(c), c


def ref_layer_norm(eps):
    def step(x, s, p):
        h, c = s
        z = ln(x @ p["kernel"], p["gain_x"], p["bias_x"], eps) + ln(h @ p["recurrent_kernel"], p["gain_h"],
                                                                    p["bias_h"], eps)
        zi, zf, zg, zo = blocks(z, 4)
        c = sig(zf) * c + sig(zi) * np.tanh(zg)
        return sig(zo) * np.tanh(ln(c, p["gain_c"], p["bias_c"], eps)), c
    return step


def ref_indrnn(x, s, p):
    return (relu(x @ p["kernel"] + p["u"] * s[0] + p["bias"]),)


def ref_lstmp(x, s, p):
    h, c = s
    zi, zf, zg, zo = blocks(x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"], 4)
    c = sig(zf) * c + sig(zi) * np.tanh(zg)
    return (sig(zo) * np.tanh(c)) @ p["projection"], c


def ref_mgu(x, s, p):
    (h,) = s
    xf, xh = blocks(x @ p["kernel"] + p["bias"], 2)
    Uf, Uh = blocks(p["recurrent_kernel"], 2)
    f = sig(xf + h @ Uf)
    return ((1 - f) * h + f * np.tanh(xh + (f * h) @ Uh),)


CASES = {
    "SimpleRNN tanh": (lambda: SimpleRNNCell(3), ref_simple("tanh")),
    "SimpleRNN relu": (lambda: SimpleRNNCell(3, "relu"), ref_simple("relu")),
    "SimpleRNN linear": (lambda: SimpleRNNCell(3, "linear"), ref_simple("linear")),
    "LSTM": (lambda: LSTMCell(3), ref_lstm("tanh", "sigmoid")),
    "LSTM relu hard_sigmoid": (lambda: LSTMCell(3, "relu", "hard_sigmoid"), ref_lstm("relu", "hard_sigmoid")),
    "GRU": (lambda: GRUCell(3), ref_gru("tanh", "sigmoid", True)),
    "GRU reset_after=False": (lambda: GRUCell(3, reset_after=False), ref_gru("tanh", "sigmoid", False)),
    "GRU hard_sigmoid": (lambda: GRUCell(3, "tanh", "hard_sigmoid"), ref_gru("tanh", "hard_sigmoid", True)),
    "NoForgetLSTM": (lambda: _example("NoForgetLSTMCell", "no_forget_lstm.py")(3), ref_no_forget),
    "PeepholeLSTM": (lambda: _example("PeepholeLSTMCell", "peephole_lstm.py")(3), ref_peephole),
    "LayerNormLSTM": (lambda: _example("LayerNormLSTMCell", "layer_norm_lstm.py")(3), ref_layer_norm(1e-5)),
    "LayerNormLSTM eps 0.1": (lambda: _example("LayerNormLSTMCell", "layer_norm_lstm.py")(3, epsilon=0.1),
                              ref_layer_norm(0.1)),
    "IndRNN": (lambda: _example("IndRNNCell", "indrnn.py")(3), ref_indrnn),
    "LSTMP": (lambda: _example("LSTMPCell", "lstmp.py")(4, proj_units=3), ref_lstmp),
    "MGU": (lambda: _example("MGUCell", "mgu.py")(3), ref_mgu),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_equals_the_papers_formula(name):
    make, reference = CASES[name]
    cell = make()
    rng = np.random.default_rng(0)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((3, 4, 2))
    states = [0.5 * rng.standard_normal((3, n)) for n in cell.state_sizes.values()]
    assert assert_forward_matches(cell, reference, x, p, states, tol=TOL) <= 1
    assert assert_forward_matches(cell, reference, x, p, tol=TOL) <= 1  # zero initial states
    # outputs are the first state at every step, final states the last
    y, final, _ = driver.forward(cell, x, p, states)
    s = tuple(states)
    for t in range(4):
        s = reference(x[:, t], s, p)
        assert np.all(np.abs(y[:, t] - s[0]) <= TOL * np.maximum(1, np.abs(s[0])))
    for a, b in zip(final, s):
        assert np.all(np.abs(a - b) <= TOL * np.maximum(1, np.abs(b)))


def test_assert_forward_matches_names_the_first_wrong_step():
    wrong = lambda x, s, p: (np.tanh(x @ p["kernel"] + s[0] @ p["recurrent_kernel"]),)  # noqa: E731  (no bias)
    cell = SimpleRNNCell(2)
    rng = np.random.default_rng(1)
    p = params_for(cell, 2, rng)
    with pytest.raises(AssertionError, match="state 'h' at step 1 of 3"):
        assert_forward_matches(cell, wrong, rng.standard_normal((2, 3, 2)), p)
    nan = lambda x, s, p: (np.full(s[0].shape, np.nan),)  # noqa: E731  a NaN never passes
    with pytest.raises(AssertionError, match="differs"):
        assert_forward_matches(cell, nan, rng.standard_normal((2, 3, 2)), p)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear", "hard_sigmoid"])
def test_dense_output_is_the_activation_of_the_affine_map(activation):
    layer = Dense(3, activation=activation, dtype="float64", seed=0)
    x = np.random.default_rng(2).standard_normal((4, 2))
    layer.build((2,))
    layer.params["bias"][...] = [0.3, -0.2, 0.1]
    y, _ = layer.forward(x)
    ref = ACT[activation](x @ layer.params["kernel"] + layer.params["bias"])
    assert np.all(np.abs(y - ref) <= TOL)


# -- driver options: identities that hold for any cell ------------------------------------------------------

MASKED = {"LSTM": (lambda: LSTMCell(3), 4), "GRU": (lambda: GRUCell(3), 3),
          "GRU reset_after=False": (lambda: GRUCell(3, reset_after=False), 3)}


def _close(a, b):
    return bool(np.all(np.abs(np.asarray(a) - np.asarray(b)) <= TOL * np.maximum(1, np.abs(b))))


@pytest.mark.parametrize("name", list(MASKED))
def test_a_zero_recurrent_mask_on_one_block_equals_zeroing_that_block_of_the_weights(name):
    make, k = MASKED[name]
    cell = make()
    rng = np.random.default_rng(3)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((2, 4, 2))
    for g in range(k):
        mask = np.ones((k, 2, 3))
        mask[g] = 0
        y, final, _ = driver.forward(cell, x, p, recurrent_mask=mask)
        q = dict(p, recurrent_kernel=p["recurrent_kernel"].copy())
        blocks(q["recurrent_kernel"], k)[g][...] = 0
        y0, final0, _ = driver.forward(cell, x, q)
        assert _close(y, y0), (name, g)
        # a mask of 2 on block g equals that block of the weights doubled
        mask[g] = 2
        q["recurrent_kernel"] = p["recurrent_kernel"].copy()
        blocks(q["recurrent_kernel"], k)[g][...] *= 2
        assert _close(driver.forward(cell, x, p, recurrent_mask=mask)[0], driver.forward(cell, x, q)[0]), (name, g)


@pytest.mark.parametrize("name", list(MASKED))
def test_a_zero_input_mask_on_one_block_equals_zeroing_that_block_of_the_kernel(name):
    make, k = MASKED[name]
    cell = make()
    rng = np.random.default_rng(4)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((2, 4, 2))
    for g in range(k):
        mask = np.ones((k, 2, 2))
        mask[g, :, 1] = 0
        q = dict(p, kernel=p["kernel"].copy())
        blocks(q["kernel"], k)[g][1] = 0
        assert _close(driver.forward(cell, x, p, input_mask=mask)[0], driver.forward(cell, x, q)[0]), (name, g)
    one = np.ones((2, 2))
    one[0, 0] = 0
    x0 = x.copy()
    x0[0, :, 0] = 0
    assert _close(driver.forward(cell, x, p, input_mask=one)[0], driver.forward(cell, x0, p)[0])


@pytest.mark.parametrize("name", ["SimpleRNN tanh", "LSTM", "GRU reset_after=False", "MGU", "IndRNN"])
def test_go_backwards_with_a_mask_is_the_reversed_input_with_the_reversed_mask(name):
    cell = CASES[name][0]()
    rng = np.random.default_rng(5)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((3, 5, 2))
    m = np.ones((3, 5), bool)
    m[0, 3:] = False  # padded at the end
    m[1, :2] = False  # padded at the start
    m[2, 2] = False   # padded in the middle
    y, final, cache = driver.forward(cell, x, p, step_mask=m, go_backwards=True)
    yr, final_r, cache_r = driver.forward(cell, x[:, ::-1], p, step_mask=m[:, ::-1])
    assert _close(y, yr)
    assert all(_close(a, b) for a, b in zip(final, final_r))
    d = rng.standard_normal(y.shape)
    g, gr = driver.backward(cache, d), driver.backward(cache_r, d)
    assert _close(g.dx, gr.dx[:, ::-1])
    assert all(_close(g.params[n], gr.params[n]) for n in p)


@pytest.mark.parametrize("name", ["SimpleRNN tanh", "LSTM", "GRU", "PeepholeLSTM", "LSTMP"])
def test_a_row_that_starts_padded_shows_zeros_until_its_first_real_step_and_only_that_row(name):
    cell = CASES[name][0]()
    rng = np.random.default_rng(6)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((2, 5, 2))
    states = [0.5 + rng.random((2, n)) for n in cell.state_sizes.values()]  # nonzero: zeros are not the state
    m = np.ones((2, 5), bool)
    m[0, :2] = False
    m[0, 3] = False
    y, final, _ = driver.forward(cell, x, p, states, step_mask=m)
    assert np.all(y[0, :2] == 0)                       # before row 0's first real step
    assert np.all(y[0, 3] == y[0, 2])                  # a padded step repeats the previous output
    assert np.all(y[1] != 0)                           # row 1 is not padded: nothing is zeroed there
    # row 0 equals running its real steps alone from its initial states
    y_alone, final_alone, _ = driver.forward(cell, x[:1, [2, 4]], p, [s[:1] for s in states])
    assert _close(y[0, [2, 4]], y_alone[0])
    assert all(_close(a[:1], b) for a, b in zip(final, final_alone))
    # zero_output_for_mask: zeros at every padded step
    yz, _, _ = driver.forward(cell, x, p, states, step_mask=m, zero_output_for_mask=True)
    assert np.all(yz[0, 3] == 0) and _close(yz[0, [2, 4]], y[0, [2, 4]]) and _close(yz[1], y[1])


def test_a_fully_padded_row_carries_its_initial_states_and_passes_their_gradient_straight_back():
    cell = LSTMCell(3)
    rng = np.random.default_rng(7)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((2, 4, 2))
    states = [rng.standard_normal((2, 3)) for _ in range(2)]
    m = np.ones((2, 4), bool)
    m[1] = False
    y, final, cache = driver.forward(cell, x, p, states, step_mask=m)
    assert all(np.all(f[1] == s[1]) for f, s in zip(final, states)) and np.all(y[1] == 0)
    d_final = [rng.standard_normal((2, 3)) for _ in range(2)]
    g = driver.backward(cache, None, d_final)
    assert all(np.all(gs[1] == df[1]) for gs, df in zip(g.initial_states, d_final))
    assert np.all(g.dx[1] == 0)


# -- declarations and registration (what loading and the checker read) -----------------------------------

ROLES = {
    "SimpleRNN tanh": {"kernel": "matrix", "recurrent_kernel": "matrix", "bias": "bias"},
    "LSTM": {"kernel": "matrix", "recurrent_kernel": "matrix", "bias": "bias"},
    "GRU": {"kernel": "matrix", "recurrent_kernel": "matrix", "bias": "bias"},
    "NoForgetLSTM": {"kernel": "matrix", "recurrent_kernel": "matrix", "bias": "bias"},
    "PeepholeLSTM": {"kernel": "matrix", "recurrent_kernel": "matrix", "bias": "bias", "p_i": "vector",
                     "p_f": "vector", "p_o": "vector"},
    "LayerNormLSTM": {"kernel": "matrix", "recurrent_kernel": "matrix", "gain_x": "gain", "bias_x": "bias",
                      "gain_h": "gain", "bias_h": "bias", "gain_c": "gain", "bias_c": "bias"},
    "IndRNN": {"kernel": "matrix", "bias": "bias", "u": "vector"},
    "LSTMP": {"kernel": "matrix", "recurrent_kernel": "matrix", "bias": "bias", "projection": "matrix"},
    "MGU": {"kernel": "matrix", "recurrent_kernel": "matrix", "bias": "bias"},
}


@pytest.mark.parametrize("name", list(ROLES))
def test_every_cell_declares_its_parameters_with_their_roles(name):
    cell = CASES[name][0]()
    assert {n: s.role for n, s in cell.params(2).items()} == ROLES[name]


def test_registration_and_registered_names():
    from minirnn.cells import CELLS, Cell, register_cell
    from minirnn.cells.base import registered_name

    assert registered_name(LSTMCell(2)) == "LSTMCell" and CELLS["GRUCell"] is GRUCell

    class Local(SimpleRNNCell):  # never registered: its class name
        pass

    assert registered_name(Local(2)) == "Local" and "Local" not in CELLS
    try:
        named = register_cell(name="_issue14_named")(type("Named", (SimpleRNNCell,), {}))
        assert CELLS["_issue14_named"] is named and registered_name(named(2)) == "_issue14_named"
        assert register_cell(name="_issue14_named")(named) is named  # the same class again: accepted
        with pytest.raises(ValueError, match="already registered"):
            register_cell(name="_issue14_named")(type("Other", (SimpleRNNCell,), {}))
        with pytest.raises(TypeError, match="Cell subclass"):
            register_cell(int)
        assert issubclass(named, Cell)
    finally:
        CELLS.pop("_issue14_named", None)


def test_lstmp_projection_size():
    LSTMP = _example("LSTMPCell", "lstmp.py")
    assert [LSTMP(u).proj_units for u in (1, 2, 3, 5, 8)] == [1, 1, 1, 2, 4]  # max(1, H // 2) by default
    assert LSTMP(4, proj_units=3).state_sizes == {"h": 3, "c": 4}
    cell = LSTMP(3, recurrent_activation="hard_sigmoid")
    assert cell.recurrent_activation == "hard_sigmoid" and cell.activation == "tanh"


# -- initializers and traces of the example cells -------------------------------------------------------------

FORGET_ONE = {"PeepholeLSTM": 4, "LayerNormLSTM": 4, "LSTMP": 4}  # the forget block (second of 4) starts at 1


@pytest.mark.parametrize("name", list(FORGET_ONE))
def test_the_forget_bias_starts_at_one_and_every_other_bias_at_zero(name):
    cell = CASES[name][0]()
    H = cell.units
    spec = cell.params(2)["bias_x" if name == "LayerNormLSTM" else "bias"]
    b = spec.init(spec.shape, np.random.default_rng(0), np.float32)
    assert b.dtype == np.float32 and b.shape == (4 * H,)
    expected = np.zeros(4 * H, np.float32)
    expected[H:2 * H] = 1
    assert np.array_equal(b, expected)


def test_indrnn_recurrent_weights_start_in_zero_to_one():
    spec = CASES["IndRNN"][0]().params(2)["u"]
    u = spec.init((1000,), np.random.default_rng(0), np.float32)
    assert u.dtype == np.float32 and np.all((u >= 0) & (u < 1)) and 0.45 < u.mean() < 0.55 and u.std() > 0.25


TRACED = {"NoForgetLSTM": ("i", "o", "candidate"), "PeepholeLSTM": ("i", "f", "o", "candidate"),
          "LayerNormLSTM": ("i", "f", "o", "candidate"), "IndRNN": (), "LSTMP": ("i", "f", "o", "candidate", "m"),
          "MGU": ("f", "candidate")}


def _gates(name, x, s, p):
    """The traced quantities of one step, from the papers' formulas."""
    if name == "MGU":
        xf, xh = blocks(x @ p["kernel"] + p["bias"], 2)
        Uf, Uh = blocks(p["recurrent_kernel"], 2)
        f = sig(xf + s[0] @ Uf)
        return {"f": f, "candidate": np.tanh(xh + (f * s[0]) @ Uh)}
    if name == "IndRNN":
        return {}
    h, c = s
    if name == "NoForgetLSTM":
        zi, zg, zo = blocks(x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"], 3)
        return {"i": sig(zi), "o": sig(zo), "candidate": np.tanh(zg)}
    if name == "LayerNormLSTM":
        z = ln(x @ p["kernel"], p["gain_x"], p["bias_x"], 1e-5) + ln(h @ p["recurrent_kernel"], p["gain_h"],
                                                                     p["bias_h"], 1e-5)
    else:
        z = x @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]
    zi, zf, zg, zo = blocks(z, 4)
    if name == "PeepholeLSTM":
        i, f = sig(zi + p["p_i"] * c), sig(zf + p["p_f"] * c)
        c_new = f * c + i * np.tanh(zg)
        return {"i": i, "f": f, "o": sig(zo + p["p_o"] * c_new), "candidate": np.tanh(zg)}
    out = {"i": sig(zi), "f": sig(zf), "o": sig(zo), "candidate": np.tanh(zg)}
    if name == "LSTMP":
        out["m"] = out["o"] * np.tanh(out["f"] * c + out["i"] * out["candidate"])
    return out


@pytest.mark.parametrize("name", list(TRACED))
def test_each_example_cells_trace_shows_its_gates(name):
    from minirnn.cells.trace import trace_from_cache

    cell = CASES[name][0]()
    rng = np.random.default_rng(8)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((2, 3, 2))
    states = [0.5 * rng.standard_normal((2, n)) for n in cell.state_sizes.values()]
    _, _, cache = driver.forward(cell, x, p, states)
    tr = trace_from_cache(cache)
    assert tr.names == (*TRACED[name], *reversed(tuple(cell.state_sizes)))
    assert all(n in tr for n in tr.names) and "nope" not in tr
    assert repr(tr) == f"Trace(cell={tr.cell!r}, names={list(tr.names)}, shape={tr[tr.names[0]].shape})"
    s = tuple(states)
    reference = CASES[name][1]
    for t in range(3):
        for n, v in _gates(name, x[:, t], s, p).items():
            assert _close(tr[n][:, t], v), (n, t)
        s = reference(x[:, t], s, p)
    assert all(_close(tr.initial_state[n], s0) for n, s0 in zip(cell.state_sizes, states))
    with pytest.raises(KeyError, match="has no 'nope'"):
        tr["nope"]


def test_the_lstm_bias_initializer_sets_the_forget_block_to_one_and_passes_the_generator_on():
    seen = []

    def init(shape, rng, dtype):
        seen.append(rng)
        return np.full(shape, 0.25, dtype)

    rng = np.random.default_rng(0)
    spec = LSTMCell(2, bias_initializer=init).params(3)["bias"]
    b = spec.init((8,), rng, np.float32)
    assert seen == [rng] and b.dtype == np.float32
    assert np.array_equal(b, np.array([0.25, 0.25, 1, 1, 0.25, 0.25, 0.25, 0.25], np.float32))
    plain = LSTMCell(2, unit_forget_bias=False, bias_initializer=init).params(3)["bias"].init((8,), rng, np.float32)
    assert np.all(plain == 0.25)


def test_registration_by_direct_call_and_options_of_the_layer_normalised_lstm():
    from minirnn.cells import CELLS, register_cell

    try:
        direct = type("_Issue14Direct", (SimpleRNNCell,), {})
        assert register_cell(direct) is direct and CELLS["_Issue14Direct"] is direct
    finally:
        CELLS.pop("_Issue14Direct", None)
    cell = CASES["LayerNormLSTM"][0]().__class__(3, recurrent_activation="hard_sigmoid")
    assert cell.recurrent_activation == "hard_sigmoid" and cell.epsilon == 1e-5


def test_a_one_step_trace_and_an_empty_trace():
    from minirnn.cells.trace import Trace, trace_from_cache

    cell = LSTMCell(2)
    p = params_for(cell, 1, np.random.default_rng(9))
    _, _, cache = driver.forward(cell, np.ones((1, 1, 1)), p)
    tr = trace_from_cache(cache)
    assert tr.names == ("i", "f", "o", "candidate", "c", "h") and tr["h"].shape == (1, 1, 2)
    assert repr(Trace("empty", {})) == "Trace(cell='empty', names=[], shape=())"


def test_the_driver_keeps_float32_and_records_dh_only_when_asked():
    cell = GRUCell(3)  # a 2-D bias: _put_bias builds it
    rng = np.random.default_rng(10)
    p = {n: v.astype(np.float32) for n, v in params_for(cell, 2, rng).items()}
    x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    y, final, cache = driver.forward(cell, x, p)
    g = driver.backward(cache, np.ones(y.shape), [np.ones((2, 3), np.float32)])  # float64 d_outputs: float32 out
    assert g.dx.dtype == np.float32 and all(v.dtype == np.float32 for v in g.params.values())
    assert all(s.dtype == np.float32 for s in g.initial_states) and g.dh_over_time is None
    assert driver.backward(cache, np.ones(y.shape), record_dh=True).dh_over_time.shape == (4, 2, 3)


def test_a_backward_may_return_a_plain_three_tuple():
    from minirnn.cells import Cell, Param

    class Plain(Cell):  # no projections: StepGrads as a plain (states, x, params) tuple is accepted
        units = 2
        state_sizes = {"h": 2}

        def params(self, input_size):
            return {"W": Param((input_size, 2), "zeros", "matrix")}

        def forward(self, x, states, p):
            return (np.tanh(x @ p["W"] + states[0]),), (x, np.tanh(x @ p["W"] + states[0]))

        def backward(self, d_states, cache):
            x, h = cache
            dz = d_states[0] * (1 - h ** 2)
            return (dz,), np.zeros((dz.shape[0], x.shape[1])), {"W": x.T @ dz}

    x = np.random.default_rng(11).standard_normal((2, 3, 1))
    y, _, cache = driver.forward(Plain(), x, {"W": np.full((1, 2), 0.5)})
    g = driver.backward(cache, np.ones(y.shape))
    assert g.params["W"].shape == (1, 2) and np.all(np.isfinite(g.params["W"]))


def test_a_two_block_input_mask_reaches_each_block_in_the_backward_pass_too():
    """MGU's input projection has exactly two gate blocks (f, candidate): the only built-in or example cell where
    a per-block input mask holds two masks, so a shortcut taken for "one mask" must not be taken for two.
    Zeroing feature j of x on block g by the mask is the model whose kernel has row j of block g zeroed: the
    same dx, the same kernel gradient off that row, and no gradient on it."""
    cell = _example("MGUCell", "mgu.py")(3)
    rng = np.random.default_rng(12)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((2, 4, 2))
    for g, j in ((0, 1), (1, 0)):
        mask = np.ones((2, 2, 2))
        mask[g, :, j] = 0
        q = dict(p, kernel=p["kernel"].copy())
        blocks(q["kernel"], 2)[g][j] = 0
        y, _, cache = driver.forward(cell, x, p, input_mask=mask)
        y0, _, cache0 = driver.forward(cell, x, q)
        assert _close(y, y0), g
        d = rng.standard_normal(y.shape)
        grads, grads0 = driver.backward(cache, d), driver.backward(cache0, d)
        assert _close(grads.dx, grads0.dx), g
        dk, dk0 = grads.params["kernel"], grads0.params["kernel"].copy()
        assert np.all(blocks(dk, 2)[g][j] == 0), g
        blocks(dk0, 2)[g][j] = 0
        assert _close(dk, dk0) and np.any(blocks(dk, 2)[1 - g] != 0), g


def test_a_backward_returning_a_list_is_refused():
    class ListBackward(LSTMCell):
        def backward(self, d_states, cache):
            return list(super().backward(d_states, cache))

    cell = ListBackward(2)
    rng = np.random.default_rng(13)
    _, _, cache = driver.forward(cell, rng.standard_normal((2, 3, 1)), params_for(cell, 1, rng))
    with pytest.raises(ValueError, match=r"ListBackward\.backward must return StepGrads.*got list"):
        driver.backward(cache, np.ones((2, 3, 2)))


def test_float32_stays_float32_where_a_cell_returns_no_state_gradient():
    """LSTMCell.backward returns None for dh_{t-1} (the driver adds dz @ U^T): the zeros the driver puts there
    must have the computation's dtype, or a float32 run's initial-state gradient turns float64."""
    cell = LSTMCell(3)
    rng = np.random.default_rng(14)
    p = {n: v.astype(np.float32) for n, v in params_for(cell, 2, rng).items()}
    x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    y, _, cache = driver.forward(cell, x, p)
    g = driver.backward(cache, np.ones(y.shape, np.float32))
    assert [s.dtype for s in g.initial_states] == [np.float32, np.float32]
    assert g.dx.dtype == np.float32 and all(v.dtype == np.float32 for v in g.params.values())
