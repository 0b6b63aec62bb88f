"""A verbatim copy of minirnn.cells.lstm.LSTMCell, defined outside the package (not registered) for
bench_rnn.py's ``usercell`` column: the driver treats a user's cell exactly like a built-in one."""

from __future__ import annotations

import numpy as np

from minirnn.cells.base import GatedCell, Param, Projection, StepGrads, split_blocks


class UserLSTMCell(GatedCell):
    """The built-in LSTMCell, copied verbatim (equations in minirnn/cells/lstm.py)."""

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
        z_i, z_f, z_g, z_o = split_blocks(xw + hu, 4)
        i, f, g, o = self.s(z_i), self.s(z_f), self.a(z_g), self.s(z_o)
        c = f * c_prev + i * g
        a_c = self.a(c)
        h = o * a_c
        return (h, c), {"i": i, "f": f, "g": g, "o": o, "c_prev": c_prev, "a_c": a_c}

    def backward(self, d_states, cache):
        dh, dc = d_states
        i, f, g, o, c_prev, a_c = (cache[k] for k in ("i", "f", "g", "o", "c_prev", "a_c"))
        do = dh * a_c
        dc = dc + dh * o * self.a.grad(a_c)
        di, df, dg = dc * g, dc * c_prev, dc * i
        dc_prev = dc * f
        dz = np.concatenate([di * self.s.grad(i), df * self.s.grad(f), dg * self.a.grad(g), do * self.s.grad(o)],
                            axis=1)
        return StepGrads(states=(None, dc_prev), x=dz, params={}, recurrent=dz)

    def trace(self, cache):
        return {"i": cache["i"], "f": cache["f"], "o": cache["o"], "candidate": cache["g"]}
