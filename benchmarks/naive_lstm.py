"""The naive baseline: LSTM, SimpleRNN and GRU written step by step, the way a first course writes them.

This is the straightforward translation of the equations that most people write first (the style of
Stanford's CS231n assignment): one function per time step that computes its own input projection,
allocates fresh arrays for every intermediate, keeps a list of per-step caches, and in the backward
pass accumulates the weight gradients with one small matmul per step. It is correct, and it is the
reference point that ``bench_rnn.py`` measures minirnn against (``minirnn/naive``).

Shapes and gate order follow minirnn and Keras so the benchmark can check that both compute the
same numbers: x (B, T, D), Wx (D, 4H), Wh (H, 4H), b (4H,), gate blocks i, f, c (candidate g), o.

    a_t = x_t Wx + h_{t-1} Wh + b
    i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_c)  o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 3, 4)); Wx = rng.standard_normal((4, 20)) * 0.1
    >>> Wh = rng.standard_normal((5, 20)) * 0.1; b = np.zeros(20)
    >>> h, cache = lstm_forward(x, np.zeros((2, 5)), Wx, Wh, b)
    >>> dx, dh0, dWx, dWh, db = lstm_backward(np.ones_like(h), cache)
    >>> h.shape, dx.shape, dWx.shape
    ((2, 3, 5), (2, 3, 4), (4, 20))
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# -- LSTM -----------------------------------------------------------------------------------------
def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, i, f, g, o, tanh_c, Wx, Wh)


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, i, f, g, o, tanh_c, Wx, Wh = cache
    do = dnext_h * tanh_c
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """Returns all hidden states (B, T, H) and the list of per-step caches."""
    B, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((B, T, H), dtype=x.dtype)
    prev_h, prev_c = h0, np.zeros_like(h0)
    caches = []
    for t in range(T):
        prev_h, prev_c, cache = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(cache)
    return h, caches


def lstm_backward(dh, caches):
    """dh (B, T, H) = dL/dh_t from the outputs. Returns dx, dh0, dWx, dWh, db."""
    B, T, H = dh.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((B, T, D), dtype=dh.dtype)
    dWx = np.zeros(caches[0][8].shape, dtype=dh.dtype)
    dWh = np.zeros(caches[0][9].shape, dtype=dh.dtype)
    db = np.zeros(4 * H, dtype=dh.dtype)
    dprev_h = np.zeros((B, H), dtype=dh.dtype)
    dprev_c = np.zeros((B, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx_t, dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c, caches[t])
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# -- SimpleRNN (tanh) -----------------------------------------------------------------------------
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, next_h, Wx, Wh)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, next_h, Wx, Wh = cache
    da = dnext_h * (1 - next_h ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    B, T, _ = x.shape
    h = np.zeros((B, T, h0.shape[1]), dtype=x.dtype)
    prev_h, caches = h0, []
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    B, T, H = dh.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((B, T, D), dtype=dh.dtype)
    dWx = np.zeros(caches[0][3].shape, dtype=dh.dtype)
    dWh = np.zeros(caches[0][4].shape, dtype=dh.dtype)
    db = np.zeros(H, dtype=dh.dtype)
    dprev_h = np.zeros((B, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# -- GRU (Keras's default reset_after=True; gate blocks z, r, h; b = (input bias, recurrent bias)) ---------
def gru_step_forward(x, prev_h, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + b[0]
    inner = prev_h @ Wh + b[1]
    z = sigmoid(a[:, :H] + inner[:, :H])
    r = sigmoid(a[:, H:2 * H] + inner[:, H:2 * H])
    hh = np.tanh(a[:, 2 * H:] + r * inner[:, 2 * H:])
    next_h = z * prev_h + (1 - z) * hh
    return next_h, (x, prev_h, z, r, hh, inner[:, 2 * H:], Wx, Wh)


def gru_step_backward(dnext_h, cache):
    x, prev_h, z, r, hh, inner_h, Wx, Wh = cache
    da_h = dnext_h * (1 - z) * (1 - hh ** 2)
    da_z = dnext_h * (prev_h - hh) * z * (1 - z)
    da_r = da_h * inner_h * r * (1 - r)
    da = np.concatenate([da_z, da_r, da_h], axis=1)
    dinner = np.concatenate([da_z, da_r, da_h * r], axis=1)
    dprev_h = dnext_h * z + dinner @ Wh.T
    return da @ Wx.T, dprev_h, x.T @ da, prev_h.T @ dinner, np.stack([da.sum(axis=0), dinner.sum(axis=0)])


def gru_forward(x, h0, Wx, Wh, b):
    B, T, _ = x.shape
    h = np.zeros((B, T, h0.shape[1]), dtype=x.dtype)
    prev_h, caches = h0, []
    for t in range(T):
        prev_h, cache = gru_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(cache)
    return h, caches


def gru_backward(dh, caches):
    B, T, H = dh.shape
    D = caches[0][0].shape[1]
    dx = np.zeros((B, T, D), dtype=dh.dtype)
    dWx = np.zeros(caches[0][6].shape, dtype=dh.dtype)
    dWh = np.zeros(caches[0][7].shape, dtype=dh.dtype)
    db = np.zeros((2, 3 * H), dtype=dh.dtype)
    dprev_h = np.zeros((B, H), dtype=dh.dtype)
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = gru_step_backward(dh[:, t, :] + dprev_h, caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
