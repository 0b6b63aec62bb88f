"""The LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), Keras's layout.

Shapes: x_t (B, D); h and c (B, H); kernel (D, 4H), recurrent_kernel (H, 4H), bias (4H,), the four gate
blocks side by side in Keras's order i, f, c (the candidate g), o.

    z_t = W_xh x_t + W_hh h_{t-1} + b                (x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)
    i_t = s(z_i)     f_t = s(z_f)     g_t = a(z_g)     o_t = s(z_o)       (s = recurrent_activation)
    c_t = f_t * c_{t-1} + i_t * g_t                  (the memory: kept across steps when f ~ 1, i ~ 0)
    h_t = o_t * a(c_t)                               (what the layer shows)

Backward, with dh, dc the total gradients reaching h_t and c_t (every derivative from cached outputs):

    do = dh * a(c_t)
    dc = dc + dh * o * a'(c_t)                       (c_t reaches the loss directly and through h_t)
    di = dc * g      df = dc * c_{t-1}     dg = dc * i      dc_{t-1} = dc * f
    dz = [di, df, dg, do] * [s'(i), s'(f), a'(g), s'(o)]
    dh_{t-1} = dz @ recurrent_kernel^T;  dW, dU, db summed over time       (the driver's: projections)

Example:
    >>> import numpy as np
    >>> from minirnn.cells import LSTMCell
    >>> cell = LSTMCell(2)
    >>> (h, c), cache = cell.forward(np.zeros((1, 8)), (np.zeros((1, 2)), np.ones((1, 2))), {}, np.zeros((1, 8)))
    >>> c.tolist()        # all gates at s(0) = 1/2, g = 0: the memory halves
    [[0.5, 0.5]]
"""

from __future__ import annotations

import numpy as np

from .base import GatedCell, Param, Projection, StepGrads, register_cell, split_blocks


@register_cell
class LSTMCell(GatedCell):
    """Keras LSTM cell; the equations are in the module docstring."""

    input_projection = Projection("kernel", bias="bias", blocks=4)
    recurrent_projection = Projection("recurrent_kernel", state="h", blocks=4)

    def __init__(self, units: int, activation: str | None = "tanh", recurrent_activation: str | None = "sigmoid",
                 use_bias: bool = True, unit_forget_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros"):
        super().__init__(units, activation, recurrent_activation)
        self.use_bias, self.unit_forget_bias = bool(use_bias), bool(unit_forget_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        if not self.use_bias:
            self.input_projection = Projection("kernel", blocks=4)

    @property
    def state_sizes(self):
        return {"h": self.units, "c": self.units}

    def params(self, input_size):
        H = self.units
        p = {"kernel": Param((input_size, 4 * H), self.kernel_initializer, "matrix"),
             "recurrent_kernel": Param((H, 4 * H), self.recurrent_initializer, "matrix")}
        if self.use_bias:
            p["bias"] = Param((4 * H,), self._bias_init, "bias")
        return p

    def _bias_init(self, shape, rng, dtype):
        from .. import initializers

        b = initializers.get(self.bias_initializer)(shape, rng, dtype)
        if self.unit_forget_bias:  # Keras: the forget gate starts at s(1), so the cell remembers at first
            b[self.units:2 * self.units] = 1
        return b

    def forward(self, xw, states, p, hu):
        """xw = x_t @ kernel + bias and hu = h_{t-1} @ recurrent_kernel, both from the driver."""
        h_prev, c_prev = states
        z = xw + hu                                    # z_t, blocks i, f, g, o
        s_z = self.s(z)                                # s of all four blocks in one call (the g block unused)
        i, f, _, o = split_blocks(s_z, 4)              # i = s(z_i), f = s(z_f), o = s(z_o)
        g = self.a(split_blocks(z, 4)[2])              # g = a(z_g)
        c = f * c_prev + i * g
        a_c = self.a(c)
        h = o * a_c
        return (h, c), {"s_z": s_z, "g": g, "c_prev": c_prev, "a_c": a_c}

    def backward(self, d_states, cache):
        dh, dc = d_states
        s_z, g, c_prev, a_c = cache["s_z"], cache["g"], cache["c_prev"], cache["a_c"]
        i, f, _, o = split_blocks(s_z, 4)
        do = dh * a_c
        dc = dc + dh * o * self.a.grad(a_c)
        di, df, dg = dc * g, dc * c_prev, dc * i
        dc_prev = dc * f
        local = self.s.grad(s_z)                       # s'(z) of all four blocks in one call ...
        split_blocks(local, 4)[2][...] = self.a.grad(g)  # ... with a'(z_g) in the g block
        dz = np.concatenate([di, df, dg, do], axis=1) * local
        return StepGrads(states=(None, dc_prev), x=dz, params={}, recurrent=dz)

    def trace(self, cache):
        i, f, _, o = split_blocks(cache["s_z"], 4)
        return {"i": i, "f": f, "o": o, "candidate": cache["g"]}
