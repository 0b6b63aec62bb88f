"""Float64 checks of the recurrent driver's options, for every built-in cell: the GRU in both modes,
input and recurrent dropout masks (shared and per gate), padded steps (masking), go_backwards.

Gradients against central differences; forward values against plain per-step NumPy formulas written
out here from the equations in the cell modules' docstrings, and option by option against an
equivalent run without the option (a zero dropout mask = a zeroed recurrent-kernel block; go_backwards
= the reversed input; leading padded steps = a shorter sequence)."""

import numpy as np
import pytest

from minirnn.cells import Cell, GRUCell, LSTMCell, Param, SimpleRNNCell, StepGrads, driver
from minirnn.gradcheck import numerical_gradient, relative_error

TOL = 1e-7
H = 3
CELLS = {
    "simple_rnn": lambda act, units=H: SimpleRNNCell(units, act),
    "lstm": lambda act, units=H: LSTMCell(units, act),
    "gru": lambda act, units=H: GRUCell(units, act, reset_after=True),
    "gru_reset_before": lambda act, units=H: GRUCell(units, act, reset_after=False),
}
GATES = {"simple_rnn": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}


def _params(cell, D, rng, scale=0.6):
    """Random values for every parameter the cell declares: matrices N(0, scale^2), biases N(0, 0.5^2)."""
    return {n: rng.standard_normal(s.shape) * (scale if s.role == "matrix" else 0.5)
            for n, s in cell.params(D).items()}


def _check(cell, rng, *, in_mask=None, rec_mask=None, step_mask=None, go_backwards=False, zero_output=False,
           B=3, T=5, D=4):
    x = rng.standard_normal((B, T, D))
    p = _params(cell, D, rng)
    states = [rng.standard_normal((B, n)) for n in cell.state_sizes.values()]
    r_seq = rng.standard_normal((B, T, cell.output_size))
    r_fin = [rng.standard_normal((B, n)) for n in cell.state_sizes.values()]
    opts = dict(input_mask=in_mask, recurrent_mask=rec_mask, step_mask=step_mask,
                go_backwards=go_backwards, zero_output_for_mask=zero_output)

    def loss():
        y, fin, _ = driver.forward(cell, x, p, states, **opts)
        return float((y * r_seq).sum() + sum((f * r).sum() for f, r in zip(fin, r_fin)))

    y, fin, cache = driver.forward(cell, x, p, states, **opts)
    g = driver.backward(cache, r_seq, r_fin)
    assert list(g.params) == list(cell.params(D))
    pairs = {"dx": (g.dx, x), **{n: (g.params[n], w) for n, w in p.items()}}
    for i, s in enumerate(states):
        pairs[f"state{i}"] = (g.initial_states[i], s)
    errors = {n: relative_error(a, numerical_gradient(loss, w)) for n, (a, w) in pairs.items()}
    assert all(e < TOL for e in errors.values()), errors  # NaN fails too (max() would skip it)
    return y, fin


def _mask(rng, shape, rate=0.4):
    return (rng.random(shape) >= rate) / (1 - rate)


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_plain(rng, name, activation):
    _check(CELLS[name](activation), rng)


def test_gru_reset_after_has_one_two_row_bias():
    assert {n: s.shape for n, s in GRUCell(H).params(4).items()} == {
        "kernel": (4, 3 * H), "recurrent_kernel": (H, 3 * H), "bias": (2, 3 * H)}
    assert GRUCell(H, reset_after=False).params(4)["bias"].shape == (3 * H,)


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("per_gate", [False, True])
def test_input_and_recurrent_dropout_masks(rng, name, per_gate):
    cell = CELLS[name]("tanh")
    assert cell.dropout_blocks == cell.recurrent_dropout_supported == GATES[name]
    k = GATES[name] if per_gate else 1
    _check(cell, rng, in_mask=_mask(rng, (k, 3, 4)), rec_mask=_mask(rng, (k, 3, H)))


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("zero_output", [False, True])
def test_padded_steps(rng, name, zero_output):
    step_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 1, 1, 0]], bool)
    y, fin = _check(CELLS[name]("tanh"), rng, step_mask=step_mask, zero_output=zero_output)
    # row 1 stops after 3 steps: its states and (carried) outputs freeze
    if zero_output:
        np.testing.assert_array_equal(y[1, 3:], 0)
    else:
        np.testing.assert_array_equal(y[1, 3], y[1, 2])
    np.testing.assert_array_equal(fin[0][1], y[1, 2])


@pytest.mark.parametrize("name", list(CELLS))
def test_go_backwards(rng, name):
    _check(CELLS[name]("tanh"), rng, go_backwards=True,
           step_mask=np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]], bool))


@pytest.mark.parametrize("name", list(CELLS))
def test_go_backwards_equals_reversed_input(rng, name):
    cell = CELLS[name]("tanh")
    x = rng.standard_normal((2, 6, 4))
    p = _params(cell, 4, rng, scale=1.0)
    back, fin_b, _ = driver.forward(cell, x, p, go_backwards=True)
    fwd, fin_f, _ = driver.forward(cell, x[:, ::-1].copy(), p)
    np.testing.assert_array_equal(back, fwd)  # processing order, not flipped back (Keras)
    np.testing.assert_array_equal(fin_b[0], fin_f[0])


def test_fully_padded_rows_keep_initial_state(rng):
    cell = LSTMCell(2, use_bias=False)
    x = rng.standard_normal((2, 4, 3))
    h0, c0 = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    mask = np.array([[0, 0, 0, 0], [1, 1, 1, 1]], bool)
    p = {"kernel": rng.standard_normal((3, 8)), "recurrent_kernel": rng.standard_normal((2, 8))}
    _, (h, c), _ = driver.forward(cell, x, p, [h0, c0], step_mask=mask)
    np.testing.assert_array_equal(h[0], h0[0])
    np.testing.assert_array_equal(c[0], c0[0])
    assert not np.allclose(h[1], h0[1])


def test_gru_keras_equations_by_hand(rng):
    """One reset_after step and one reset-before step written out from the Keras equations."""
    x, h0 = rng.standard_normal((2, 1, 3)), rng.standard_normal((2, 4))
    W, U = rng.standard_normal((3, 12)), rng.standard_normal((4, 12))
    b, rb = rng.standard_normal(12), rng.standard_normal(12)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    xp = x[:, 0] @ W + b
    up = h0 @ U + rb
    z, r = sig(xp[:, :4] + up[:, :4]), sig(xp[:, 4:8] + up[:, 4:8])
    n = np.tanh(xp[:, 8:] + r * up[:, 8:])
    # reset_after: one (2, 3H) bias, row 0 the input bias, row 1 the recurrent bias
    y, _, _ = driver.forward(GRUCell(4), x, {"kernel": W, "recurrent_kernel": U, "bias": np.stack([b, rb])}, [h0])
    np.testing.assert_allclose(y[:, 0], z * h0 + (1 - z) * n, rtol=1e-12)
    z, r = sig(xp[:, :4] + h0 @ U[:, :4]), sig(xp[:, 4:8] + h0 @ U[:, 4:8])
    n = np.tanh(xp[:, 8:] + (r * h0) @ U[:, 8:])
    y, _, _ = driver.forward(GRUCell(4, reset_after=False), x, {"kernel": W, "recurrent_kernel": U, "bias": b},
                             [h0])
    np.testing.assert_allclose(y[:, 0], z * h0 + (1 - z) * n, rtol=1e-12)


class _NoRecurrentProjection(Cell):
    """h_t = tanh(x_t @ W + h_{t-1} @ V): no declared projection, no recurrent_dropout_blocks."""

    def __init__(self, units):
        self.units = units

    @property
    def state_sizes(self):
        return {"h": self.units}

    def params(self, input_size):
        return {"W": Param((input_size, self.units)), "V": Param((self.units, self.units))}

    def forward(self, x, states, p):
        h = np.tanh(x @ p["W"] + states[0] @ p["V"])
        return (h,), {"x": x, "h_prev": states[0], "h": h, "p": p}

    def backward(self, d_states, cache):
        dz = d_states[0] * (1 - cache["h"] ** 2)
        p = cache["p"]
        return StepGrads((dz @ p["V"].T,), dz @ p["W"].T,
                         {"W": cache["x"].T @ dz, "V": cache["h_prev"].T @ dz})


def test_option_errors(rng):
    x = rng.standard_normal((2, 3, 4))
    p = {"kernel": rng.standard_normal((4, 8)), "recurrent_kernel": rng.standard_normal((2, 8))}
    cell = LSTMCell(2, use_bias=False)
    with pytest.raises(ValueError, match="input_mask"):
        driver.forward(cell, x, p, input_mask=np.ones((3, 2, 4)))
    with pytest.raises(ValueError, match="recurrent_mask"):
        driver.forward(cell, x, p, recurrent_mask=np.ones((3, 2, 2)))
    with pytest.raises(ValueError, match="step_mask"):
        driver.forward(cell, x, p, step_mask=np.ones((2, 4), bool))
    # a parameter the cell does not declare (the old separate recurrent bias), or one missing
    with pytest.raises(ValueError, match=r"LSTMCell declares parameters \['kernel', 'recurrent_kernel'\]"):
        driver.forward(cell, x, {**p, "recurrent_bias": np.zeros(8)})
    with pytest.raises(ValueError, match="LSTMCell declares parameters"):
        driver.forward(LSTMCell(2), x, p)  # bias missing
    with pytest.raises(ValueError, match=r"parameter 'recurrent_kernel' must have shape \(2, 8\)"):
        driver.forward(cell, x, {**p, "recurrent_kernel": np.zeros((8, 2))})
    with pytest.raises(ValueError, match="initial state 'c' must have shape"):
        driver.forward(cell, x, p, [np.zeros((2, 2)), np.zeros((2, 3))])
    # a cell with no recurrent projection and no recurrent_dropout_blocks refuses recurrent dropout
    plain = _NoRecurrentProjection(2)
    q = {"W": rng.standard_normal((4, 2)), "V": rng.standard_normal((2, 2))}
    driver.forward(plain, x, q)
    with pytest.raises(ValueError, match="_NoRecurrentProjection refuses recurrent dropout"):
        driver.forward(plain, x, q, recurrent_mask=np.ones((2, 2)))


def test_a_cell_without_projections_passes_its_input_mask_and_gradients(rng):
    """The driver multiplies x_t by the input mask itself when the cell declares no input projection."""
    _check(_NoRecurrentProjection(3), rng, in_mask=_mask(rng, (3, 4)),
           step_mask=np.array([[1, 1, 0, 1, 1], [0, 1, 1, 1, 1], [1, 1, 1, 1, 0]], bool))


# -- (a) forward values against plain per-step formulas (the cell docstrings' equations) ----------------

ACT = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0), "linear": lambda z: z,
       "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "hard_sigmoid": lambda z: np.clip(z / 6 + 0.5, 0.0, 1.0)}


def _reference(name, x, p, states, a, s):
    """Outputs (B, T, H) and final states, one plain step at a time, batch-major, no driver."""
    W, U = p["kernel"], p["recurrent_kernel"]
    k = GATES[name]
    Hn = U.shape[0]
    bias = p.get("bias")
    if name == "gru":
        b_in, b_rec = (bias[0], bias[1]) if bias is not None else (np.zeros(k * Hn), np.zeros(k * Hn))
    else:
        b_in = bias if bias is not None else np.zeros(k * Hn)
    h = states[0]
    c = states[1] if name == "lstm" else None
    out = []
    for t in range(x.shape[1]):
        xw = x[:, t] @ W + b_in
        if name == "simple_rnn":                       # h_t = a(x_t @ kernel + h_{t-1} @ U + b)
            h = a(xw + h @ U)
        elif name == "lstm":                           # gates i, f, c (g), o
            z = xw + h @ U
            i, f = s(z[:, :Hn]), s(z[:, Hn:2 * Hn])
            g, o = a(z[:, 2 * Hn:3 * Hn]), s(z[:, 3 * Hn:])
            c = f * c + i * g
            h = o * a(c)
        elif name == "gru":                            # reset_after: r multiplies (h @ U_h + b_rec_h)
            u = h @ U + b_rec
            z, r = s(xw[:, :Hn] + u[:, :Hn]), s(xw[:, Hn:2 * Hn] + u[:, Hn:2 * Hn])
            n = a(xw[:, 2 * Hn:] + r * u[:, 2 * Hn:])
            h = z * h + (1 - z) * n
        else:                                          # reset before the product: (r * h) @ U_h
            z = s(xw[:, :Hn] + h @ U[:, :Hn])
            r = s(xw[:, Hn:2 * Hn] + h @ U[:, Hn:2 * Hn])
            n = a(xw[:, 2 * Hn:] + (r * h) @ U[:, 2 * Hn:])
            h = z * h + (1 - z) * n
        out.append(h)
    return np.stack(out, axis=1), [h] if c is None else [h, c]


def _builtin(name, units, activation, recurrent_activation, use_bias):
    if name == "simple_rnn":
        return SimpleRNNCell(units, activation, use_bias=use_bias)
    if name == "lstm":
        return LSTMCell(units, activation, recurrent_activation, use_bias=use_bias)
    return GRUCell(units, activation, recurrent_activation, use_bias=use_bias, reset_after=name == "gru")


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("activation, recurrent_activation", [("tanh", "sigmoid"), ("relu", "hard_sigmoid"),
                                                              ("linear", "sigmoid")])
@pytest.mark.parametrize("use_bias", [True, False])
def test_forward_values_equal_the_cell_equations(rng, name, activation, recurrent_activation, use_bias):
    B, T, D, units = 3, 6, 4, 5
    cell = _builtin(name, units, activation, recurrent_activation, use_bias)
    x = rng.standard_normal((B, T, D))
    p = _params(cell, D, rng)
    assert ("bias" in p) == use_bias
    states = [rng.standard_normal((B, n)) for n in cell.state_sizes.values()]
    y, final, _ = driver.forward(cell, x, p, states)
    want_y, want_final = _reference(name, x, p, states, ACT[activation], ACT[recurrent_activation])
    assert y.shape == (B, T, units) and y.dtype == np.float64
    np.testing.assert_allclose(y, want_y, rtol=1e-12, atol=1e-12)
    assert len(final) == len(want_final)
    for got, want in zip(final, want_final):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# -- (b) a zero recurrent-dropout mask on gate block g = that block of the recurrent kernel zeroed ------

@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before", "simple_rnn"])
def test_zero_recurrent_mask_on_a_block_equals_zeroing_that_block_of_the_recurrent_kernel(rng, name):
    cell = CELLS[name]("tanh")
    k = GATES[name]
    B, T, D = 3, 5, 4
    x = rng.standard_normal((B, T, D))
    p = _params(cell, D, rng, scale=1.0)
    states = [rng.standard_normal((B, n)) for n in cell.state_sizes.values()]
    r = rng.standard_normal((B, T, H))
    reference, _, _ = driver.forward(cell, x, p, states)
    for g in range(k):
        mask = np.ones((k, B, H))
        mask[g] = 0.0
        y_m, fin_m, cache_m = driver.forward(cell, x, p, states, recurrent_mask=mask)
        zeroed = {**p, "recurrent_kernel": p["recurrent_kernel"].copy()}
        zeroed["recurrent_kernel"][:, g * H:(g + 1) * H] = 0.0
        y_z, fin_z, cache_z = driver.forward(cell, x, zeroed, states)
        np.testing.assert_allclose(y_m, y_z, rtol=1e-13, atol=1e-14, err_msg=f"{name} block {g}")
        for a, b in zip(fin_m, fin_z):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
        assert not np.allclose(y_m, reference)  # the block mattered
        # the same function of x and the kernel: the same gradients there (the recurrent kernel's differ:
        # a masked block gets no gradient, a zeroed one does)
        g_m, g_z = driver.backward(cache_m, r), driver.backward(cache_z, r)
        np.testing.assert_allclose(g_m.dx, g_z.dx, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(g_m.params["kernel"], g_z.params["kernel"], rtol=1e-12, atol=1e-13)
        for a, b in zip(g_m.initial_states, g_z.initial_states):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
        np.testing.assert_array_equal(g_m.params["recurrent_kernel"][:, g * H:(g + 1) * H], 0.0)


# -- (c) go_backwards with a step mask = the reversed input with the reversed mask ----------------------

@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("zero_output", [False, True])
def test_go_backwards_with_a_step_mask_equals_the_reversed_input_and_mask(rng, name, zero_output):
    cell = CELLS[name]("tanh")
    B, T, D = 3, 6, 4
    x = rng.standard_normal((B, T, D))
    p = _params(cell, D, rng, scale=1.0)
    states = [rng.standard_normal((B, n)) for n in cell.state_sizes.values()]
    mask = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1], [1, 0, 1, 1, 0, 1]], bool)
    back, fin_b, cache_b = driver.forward(cell, x, p, states, step_mask=mask, go_backwards=True,
                                          zero_output_for_mask=zero_output)
    fwd, fin_f, cache_f = driver.forward(cell, x[:, ::-1].copy(), p, states, step_mask=mask[:, ::-1].copy(),
                                         zero_output_for_mask=zero_output)
    np.testing.assert_allclose(back, fwd, rtol=1e-14, atol=1e-15)  # both in processing order
    for a, b in zip(fin_b, fin_f):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    # without the reversal of the mask the runs differ (the mask is not symmetric in time)
    other, _, _ = driver.forward(cell, x[:, ::-1].copy(), p, states, step_mask=mask,
                                 zero_output_for_mask=zero_output)
    assert not np.allclose(other, back)
    r = rng.standard_normal(back.shape)
    g_b, g_f = driver.backward(cache_b, r, fin_b), driver.backward(cache_f, r, fin_f)
    np.testing.assert_allclose(g_b.dx, g_f.dx[:, ::-1], rtol=1e-13, atol=1e-14)  # dx in the input's order
    for n in p:
        np.testing.assert_allclose(g_b.params[n], g_f.params[n], rtol=1e-13, atol=1e-14)
    for a, b in zip(g_b.initial_states, g_f.initial_states):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


# -- (d) leading padded steps: zero outputs there, the other rows unaffected ---------------------------

@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("zero_output", [False, True])
def test_leading_padded_steps_give_zero_outputs_and_leave_other_rows_alone(rng, name, zero_output):
    cell = CELLS[name]("tanh")
    B, T, D, lead = 3, 6, 4, 2
    x = rng.standard_normal((B, T, D))
    p = _params(cell, D, rng, scale=1.0)
    states = [rng.standard_normal((B, n)) for n in cell.state_sizes.values()]  # nonzero: not what is shown
    mask = np.ones((B, T), bool)
    mask[0, :lead] = False
    y, fin, _ = driver.forward(cell, x, p, states, step_mask=mask, zero_output_for_mask=zero_output)
    np.testing.assert_array_equal(y[0, :lead], 0.0)        # zeros, not the initial state h_0
    assert np.all(np.abs(y[0, lead:]) > 0)
    # row 0 after the padding is the run on its real steps from its initial state (padding carried it)
    tail, tail_fin, _ = driver.forward(cell, x[:1, lead:], p, [s[:1] for s in states])
    np.testing.assert_allclose(y[0, lead:], tail[0], rtol=1e-13, atol=1e-14)
    for a, b in zip(fin, tail_fin):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13, atol=1e-14)
    # the other rows are exactly the unmasked run of those rows
    rest, rest_fin, _ = driver.forward(cell, x[1:], p, [s[1:] for s in states])
    np.testing.assert_allclose(y[1:], rest, rtol=1e-13, atol=1e-14)
    for a, b in zip(fin, rest_fin):
        np.testing.assert_allclose(a[1:], b, rtol=1e-13, atol=1e-14)


def test_gradients_follow_the_computation_dtype_whatever_the_upstream_dtype():
    """A float32 run given float64 upstream gradients returns float32 gradients (dtype follows the inputs)."""
    from minirnn.cells import LSTMCell, driver

    rng = np.random.default_rng(0)
    cell = LSTMCell(3)
    params = {n: rng.standard_normal(s.shape).astype(np.float32) for n, s in cell.params(2).items()}
    y, final, cache = driver.forward(cell, rng.standard_normal((2, 4, 2)).astype(np.float32), params)
    g = driver.backward(cache, rng.standard_normal(y.shape), [np.ones((2, 3)), np.ones((2, 3))])
    assert g.dx.dtype == np.float32
    assert all(s.dtype == np.float32 for s in g.initial_states)
    assert all(v.dtype == np.float32 for v in g.params.values())
