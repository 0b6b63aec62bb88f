"""The LSTM with a recurrent projection layer, LSTMP (Sak, Senior & Beaufays 2014, "Long short-term memory
recurrent neural network architectures for large scale acoustic modeling").

The cell keeps H memory units but shows (and feeds back) only P < H projected units, so the recurrent
kernel is (P, 4H) instead of (H, 4H): the memory is large, the recurrent matrix small. The states differ
in size: h has P units, c has H (P need not divide H).

Shapes: x_t (B, D); h (B, P); c (B, H); kernel (D, 4H), recurrent_kernel (P, 4H), bias (4H,), gate blocks in
Keras's order i, f, c (the candidate g), o; projection W_proj (H, P).

    z_t = W_xh x_t + W_hh h_{t-1} + b                (x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)
    i_t = s(z_i)     f_t = s(z_f)     g_t = a(z_g)     o_t = s(z_o)
    c_t = f_t * c_{t-1} + i_t * g_t
    m_t = o_t * a(c_t)                               (the LSTM's output, H units)
    h_t = m_t @ W_proj                               (the projection, P units)

Backward, with dh, dc the total gradients reaching h_t and c_t (every derivative from cached outputs):

    dm = dh @ W_proj^T       dW_proj = sum_b m_t^T dh
    do = dm * a(c_t)
    dc = dc + dm * o * a'(c_t)
    di = dc * g      df = dc * c_{t-1}     dg = dc * i      dc_{t-1} = dc * f
    dz = [di * s'(i), df * s'(f), dg * a'(g), do * s'(o)]
    dh_{t-1} = dz @ recurrent_kernel^T;  dW, dU, db summed over time       (the driver's: projections)

Example:
    >>> cell = LSTMPCell(5)
    >>> cell.state_sizes, {n: p.shape for n, p in cell.params(3).items()}
    ({'h': 2, 'c': 5}, {'kernel': (3, 20), 'recurrent_kernel': (2, 20), 'bias': (20,), 'projection': (5, 2)})
    >>> from minirnn.gradcheck import check_cell
    >>> check_cell(LSTMPCell(5, proj_units=3)).passed
    True

    python -m minirnn gradcheck --cell examples/cells/lstmp.py:LSTMPCell
"""

from __future__ import annotations

import numpy as np

from minirnn.cells import GatedCell, Param, Projection, StepGrads, register_cell, split_blocks
from minirnn.cells.base import check_units


@register_cell
class LSTMPCell(GatedCell):
    """LSTM whose output m_t = o * a(c_t) (H units) is projected to h_t = m_t @ W_proj (P units)."""

    input_projection = Projection("kernel", bias="bias", blocks=4)
    recurrent_projection = Projection("recurrent_kernel", state="h", blocks=4)

    def __init__(self, units: int, proj_units: int | None = None, activation: str | None = "tanh",
                 recurrent_activation: str | None = "sigmoid"):
        super().__init__(units, activation, recurrent_activation)
        self.proj_units = check_units(max(1, self.units // 2) if proj_units is None else proj_units)

    @property
    def state_sizes(self):
        return {"h": self.proj_units, "c": self.units}

    def params(self, input_size):
        H, P = self.units, self.proj_units
        return {"kernel": Param((input_size, 4 * H), "glorot_uniform", "matrix"),
                "recurrent_kernel": Param((P, 4 * H), "orthogonal", "matrix"),
                "bias": Param((4 * H,), self._bias_init, "bias"),
                "projection": Param((H, P), "glorot_uniform", "matrix")}

    def _bias_init(self, shape, rng, dtype):
        b = np.zeros(shape, dtype)
        b[self.units:2 * self.units] = 1  # the forget gate starts at s(1): the cell remembers at first
        return b

    def forward(self, xw, states, p, hu):
        """xw = x_t @ kernel + bias and hu = h_{t-1} @ recurrent_kernel, both from the driver."""
        h_prev, c_prev = states
        z_i, z_f, z_g, z_o = split_blocks(xw + hu, 4)
        i, f, g, o = self.s(z_i), self.s(z_f), self.a(z_g), self.s(z_o)
        c = f * c_prev + i * g
        a_c = self.a(c)
        m = o * a_c
        h = m @ p["projection"]
        return (h, c), {"i": i, "f": f, "g": g, "o": o, "c_prev": c_prev, "a_c": a_c, "m": m,
                        "W_proj": p["projection"]}

    def backward(self, d_states, cache):
        dh, dc = d_states
        i, f, g, o, c_prev, a_c, m = (cache[k] for k in ("i", "f", "g", "o", "c_prev", "a_c", "m"))
        dm = dh @ cache["W_proj"].T
        d_proj = m.T @ dh
        do = dm * a_c
        dc = dc + dm * o * self.a.grad(a_c)
        di, df, dg = dc * g, dc * c_prev, dc * i
        dc_prev = dc * f
        dz = np.concatenate([di * self.s.grad(i), df * self.s.grad(f), dg * self.a.grad(g), do * self.s.grad(o)],
                            axis=1)
        return StepGrads(states=(None, dc_prev), x=dz, params={"projection": d_proj}, recurrent=dz)

    def trace(self, cache):
        return {"i": cache["i"], "f": cache["f"], "o": cache["o"], "candidate": cache["g"], "m": cache["m"]}
