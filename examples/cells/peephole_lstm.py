"""The peephole LSTM (Gers & Schmidhuber 2000, "Recurrent nets that time and count"), Keras's gate layout.

The gates look at the memory itself: diagonal "peephole" weights let i and f see c_{t-1}, and o see the
new c_t, so a cell can time its output by the value it holds. The peepholes are vectors (one weight per
unit, a diagonal matrix), so they are the cell's own parameters; the products with x and h are the driver's.

Shapes: x_t (B, D); h and c (B, H); kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,), gate blocks in
Keras's order i, f, c (the candidate g), o; peepholes p_i, p_f, p_o (H,) each.

    z_t = W_xh x_t + W_hh h_{t-1} + b                (x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)
    i_t = s(z_i + p_i * c_{t-1})     f_t = s(z_f + p_f * c_{t-1})     g_t = a(z_g)
    c_t = f_t * c_{t-1} + i_t * g_t
    o_t = s(z_o + p_o * c_t)                         (the output gate peeks at the new memory)
    h_t = o_t * a(c_t)

Backward, with dh, dc the total gradients reaching h_t and c_t (every derivative from cached outputs):

    dz_o = dh * a(c_t) * s'(o)
    dc = dc + dh * o * a'(c_t) + dz_o * p_o          (c_t reaches h_t twice: through a(c_t) and through o)
    dz_i = dc * g * s'(i)     dz_f = dc * c_{t-1} * s'(f)     dz_g = dc * i * a'(g)
    dc_{t-1} = dc * f + dz_i * p_i + dz_f * p_f
    dp_i = sum_b dz_i * c_{t-1}     dp_f = sum_b dz_f * c_{t-1}     dp_o = sum_b dz_o * c_t
    dh_{t-1} = dz @ recurrent_kernel^T;  dW, dU, db summed over time       (the driver's: projections)

The peepholes start at zero (the cell starts as a plain LSTM); the forget bias starts at 1, as Keras's.

Example:
    >>> import numpy as np
    >>> cell = PeepholeLSTMCell(3)
    >>> {n: (p.shape, p.role) for n, p in cell.params(2).items() if n.startswith("p_")}
    {'p_i': ((3,), 'vector'), 'p_f': ((3,), 'vector'), 'p_o': ((3,), 'vector')}
    >>> from minirnn.gradcheck import check_cell
    >>> check_cell(cell).passed
    True

    python -m minirnn gradcheck --cell examples/cells/peephole_lstm.py:PeepholeLSTMCell
"""

from __future__ import annotations

import numpy as np

from minirnn.cells import GatedCell, Param, Projection, StepGrads, register_cell, split_blocks


@register_cell
class PeepholeLSTMCell(GatedCell):
    """LSTM with diagonal peepholes p_i, p_f (from c_{t-1}) and p_o (from c_t); see the module docstring."""

    input_projection = Projection("kernel", bias="bias", blocks=4)
    recurrent_projection = Projection("recurrent_kernel", state="h", blocks=4)

    @property
    def state_sizes(self):
        return {"h": self.units, "c": self.units}

    def params(self, input_size):
        H = self.units
        return {"kernel": Param((input_size, 4 * H), "glorot_uniform", "matrix"),
                "recurrent_kernel": Param((H, 4 * H), "orthogonal", "matrix"),
                "bias": Param((4 * H,), self._bias_init, "bias"),
                "p_i": Param((H,), "zeros", "vector"),
                "p_f": Param((H,), "zeros", "vector"),
                "p_o": Param((H,), "zeros", "vector")}

    def _bias_init(self, shape, rng, dtype):
        b = np.zeros(shape, dtype)
        b[self.units:2 * self.units] = 1  # the forget gate starts at s(1): the cell remembers at first
        return b

    def forward(self, xw, states, p, hu):
        """xw = x_t @ kernel + bias and hu = h_{t-1} @ recurrent_kernel, both from the driver."""
        h_prev, c_prev = states
        z_i, z_f, z_g, z_o = split_blocks(xw + hu, 4)
        i = self.s(z_i + p["p_i"] * c_prev)
        f = self.s(z_f + p["p_f"] * c_prev)
        g = self.a(z_g)
        c = f * c_prev + i * g
        o = self.s(z_o + p["p_o"] * c)
        a_c = self.a(c)
        h = o * a_c
        return (h, c), {"i": i, "f": f, "g": g, "o": o, "c_prev": c_prev, "c": c, "a_c": a_c, "p": p}

    def backward(self, d_states, cache):
        dh, dc = d_states
        i, f, g, o, c_prev, c, a_c = (cache[k] for k in ("i", "f", "g", "o", "c_prev", "c", "a_c"))
        p = cache["p"]
        dz_o = dh * a_c * self.s.grad(o)
        dc = dc + dh * o * self.a.grad(a_c) + dz_o * p["p_o"]
        dz_i = dc * g * self.s.grad(i)
        dz_f = dc * c_prev * self.s.grad(f)
        dz_g = dc * i * self.a.grad(g)
        dc_prev = dc * f + dz_i * p["p_i"] + dz_f * p["p_f"]
        dz = np.concatenate([dz_i, dz_f, dz_g, dz_o], axis=1)
        dp = {"p_i": (dz_i * c_prev).sum(axis=0), "p_f": (dz_f * c_prev).sum(axis=0), "p_o": (dz_o * c).sum(axis=0)}
        return StepGrads(states=(None, dc_prev), x=dz, params=dp, recurrent=dz)

    def trace(self, cache):
        return {"i": cache["i"], "f": cache["f"], "o": cache["o"], "candidate": cache["g"]}
