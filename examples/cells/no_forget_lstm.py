"""The original LSTM, without a forget gate (Hochreiter & Schmidhuber 1997, "Long short-term memory").

Before Gers et al. (2000) added the forget gate, the cell state was a pure accumulator, the "constant
error carousel": nothing ever decays it, so its gradient passes back through time unchanged.

Shapes: x_t (B, D); h and c (B, H); kernel (D, 3H), recurrent_kernel (H, 3H), bias (3H,), the three gate
blocks side by side in the order i, c (the candidate g), o.

    z_t = W_xh x_t + W_hh h_{t-1} + b                (x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)
    i_t = s(z_i)     g_t = a(z_g)     o_t = s(z_o)   (s = recurrent_activation, a = activation)
    c_t = c_{t-1} + i_t * g_t                        (no forget gate: the memory only accumulates)
    h_t = o_t * a(c_t)

Backward, with dh, dc the total gradients reaching h_t and c_t (every derivative from cached outputs):

    do = dh * a(c_t)
    dc = dc + dh * o * a'(c_t)
    di = dc * g      dg = dc * i      dc_{t-1} = dc  (the carousel: the gradient passes back unchanged)
    dz = [di * s'(i), dg * a'(g), do * s'(o)]
    dh_{t-1} = dz @ recurrent_kernel^T;  dW, dU, db summed over time       (the driver's: projections)

Example:
    >>> import numpy as np
    >>> cell = NoForgetLSTMCell(2)
    >>> (h, c), cache = cell.forward(np.zeros((1, 6)), (np.zeros((1, 2)), np.ones((1, 2))), {}, np.zeros((1, 6)))
    >>> c.tolist()        # i = s(0) = 1/2, g = a(0) = 0: the memory is kept as it is (an LSTM would halve it)
    [[1.0, 1.0]]
    >>> from minirnn.gradcheck import check_cell
    >>> check_cell(cell).passed
    True

    python -m minirnn gradcheck --cell examples/cells/no_forget_lstm.py:NoForgetLSTMCell
"""

from __future__ import annotations

import numpy as np

from minirnn.cells import GatedCell, Param, Projection, StepGrads, register_cell, split_blocks


@register_cell
class NoForgetLSTMCell(GatedCell):
    """LSTM without a forget gate, ``c_t = c_{t-1} + i * g``; the equations are in the module docstring."""

    input_projection = Projection("kernel", bias="bias", blocks=3)
    recurrent_projection = Projection("recurrent_kernel", state="h", blocks=3)

    @property
    def state_sizes(self):
        return {"h": self.units, "c": self.units}

    def params(self, input_size):
        H = self.units
        return {"kernel": Param((input_size, 3 * H), "glorot_uniform", "matrix"),
                "recurrent_kernel": Param((H, 3 * H), "orthogonal", "matrix"),
                "bias": Param((3 * H,), "zeros", "bias")}

    def forward(self, xw, states, p, hu):
        """xw = x_t @ kernel + bias and hu = h_{t-1} @ recurrent_kernel, both from the driver."""
        h_prev, c_prev = states
        z_i, z_g, z_o = split_blocks(xw + hu, 3)
        i, g, o = self.s(z_i), self.a(z_g), self.s(z_o)
        c = c_prev + i * g
        a_c = self.a(c)
        h = o * a_c
        return (h, c), {"i": i, "g": g, "o": o, "a_c": a_c}

    def backward(self, d_states, cache):
        dh, dc = d_states
        i, g, o, a_c = (cache[k] for k in ("i", "g", "o", "a_c"))
        do = dh * a_c
        dc = dc + dh * o * self.a.grad(a_c)
        di, dg = dc * g, dc * i
        dc_prev = dc
        dz = np.concatenate([di * self.s.grad(i), dg * self.a.grad(g), do * self.s.grad(o)], axis=1)
        return StepGrads(states=(None, dc_prev), x=dz, params={}, recurrent=dz)

    def trace(self, cache):
        return {"i": cache["i"], "o": cache["o"], "candidate": cache["g"]}
