"""Float64 gradient checks of the recurrent driver's options, for every cell: the GRU in both modes,
input and recurrent dropout masks (shared and per gate), padded steps (masking), go_backwards."""

import numpy as np
import pytest

from minirnn.gradcheck import numerical_gradient, relative_error
from minirnn.kernels import GRUCell, LSTMCell, SimpleRNNCell, recurrent_backward, recurrent_forward

TOL = 1e-7
CELLS = {
    "simple_rnn": lambda act: SimpleRNNCell(act),
    "lstm": lambda act: LSTMCell(act),
    "gru": lambda act: GRUCell(act, reset_after=True),
    "gru_reset_before": lambda act: GRUCell(act, reset_after=False),
}


def _check(cell, rng, *, in_mask=None, rec_mask=None, step_mask=None, go_backwards=False, zero_output=False,
           B=3, T=5, D=4, H=3):
    k = cell.gates
    x = rng.standard_normal((B, T, D))
    W, U = rng.standard_normal((D, k * H)) * 0.6, rng.standard_normal((H, k * H)) * 0.6
    b = rng.standard_normal(k * H) * 0.5
    rb = rng.standard_normal(k * H) * 0.5 if cell.uses_recurrent_bias else None
    states = [rng.standard_normal((B, H)) for _ in cell.state_names]
    r_seq = rng.standard_normal((B, T, H))
    r_fin = [rng.standard_normal((B, H)) for _ in cell.state_names]
    opts = dict(recurrent_bias=rb, input_mask=in_mask, recurrent_mask=rec_mask, step_mask=step_mask,
                go_backwards=go_backwards, zero_output_for_mask=zero_output)

    def loss():
        y, fin, _ = recurrent_forward(cell, x, W, U, b, states, **opts)
        return float((y * r_seq).sum() + sum((f * r).sum() for f, r in zip(fin, r_fin)))

    y, fin, cache = recurrent_forward(cell, x, W, U, b, states, **opts)
    g = recurrent_backward(cache, r_seq, r_fin)
    pairs = {"dx": (g.dx, x), "kernel": (g.kernel, W), "recurrent_kernel": (g.recurrent_kernel, U),
             "bias": (g.bias, b)}
    if rb is not None:
        pairs["recurrent_bias"] = (g.recurrent_bias, rb)
    for i, s in enumerate(states):
        pairs[f"state{i}"] = (g.initial_states[i], s)
    errors = {n: relative_error(a, numerical_gradient(loss, w)) for n, (a, w) in pairs.items()}
    assert max(errors.values()) < TOL, errors
    return y, fin


def _mask(rng, shape, rate=0.4):
    return (rng.random(shape) >= rate) / (1 - rate)


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_plain(rng, name, activation):
    _check(CELLS[name](activation), rng)


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("per_gate", [False, True])
def test_input_and_recurrent_dropout_masks(rng, name, per_gate):
    cell = CELLS[name]("tanh")
    k = cell.gates if per_gate else 1
    _check(cell, rng, in_mask=_mask(rng, (k, 3, 4)), rec_mask=_mask(rng, (k, 3, 3)))


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
    k, H = cell.gates, 3
    x = rng.standard_normal((2, 6, 4))
    W, U, b = rng.standard_normal((4, k * H)), rng.standard_normal((H, k * H)), rng.standard_normal(k * H)
    rb = rng.standard_normal(k * H) if cell.uses_recurrent_bias else None
    back, fin_b, _ = recurrent_forward(cell, x, W, U, b, recurrent_bias=rb, go_backwards=True)
    fwd, fin_f, _ = recurrent_forward(cell, x[:, ::-1].copy(), W, U, b, recurrent_bias=rb)
    np.testing.assert_array_equal(back, fwd)  # processing order, not flipped back (Keras)
    np.testing.assert_array_equal(fin_b[0], fin_f[0])


def test_fully_padded_rows_keep_initial_state(rng):
    cell = LSTMCell()
    x = rng.standard_normal((2, 4, 3))
    h0, c0 = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    mask = np.array([[0, 0, 0, 0], [1, 1, 1, 1]], bool)
    _, (h, c), _ = recurrent_forward(cell, x, rng.standard_normal((3, 8)), rng.standard_normal((2, 8)),
                                     None, [h0, c0], step_mask=mask)
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
    y, _, _ = recurrent_forward(GRUCell(), x, W, U, b, [h0], recurrent_bias=rb)
    np.testing.assert_allclose(y[:, 0], z * h0 + (1 - z) * n, rtol=1e-12)
    z, r = sig(xp[:, :4] + h0 @ U[:, :4]), sig(xp[:, 4:8] + h0 @ U[:, 4:8])
    n = np.tanh(xp[:, 8:] + (r * h0) @ U[:, 8:])
    y, _, _ = recurrent_forward(GRUCell(reset_after=False), x, W, U, b, [h0])
    np.testing.assert_allclose(y[:, 0], z * h0 + (1 - z) * n, rtol=1e-12)


def test_option_errors(rng):
    x = rng.standard_normal((2, 3, 4))
    W, U = rng.standard_normal((4, 8)), rng.standard_normal((2, 8))
    with pytest.raises(ValueError, match="input_mask"):
        recurrent_forward(LSTMCell(), x, W, U, input_mask=np.ones((3, 2, 4)))
    with pytest.raises(ValueError, match="step_mask"):
        recurrent_forward(LSTMCell(), x, W, U, step_mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="recurrent bias"):
        recurrent_forward(LSTMCell(), x, W, U, recurrent_bias=np.zeros(8))
