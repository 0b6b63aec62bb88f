"""The GRU cell (Cho et al. 2014), Keras's layout and both of Keras's forms.

Shapes: x_t (B, D); h (B, H); kernel (D, 3H), recurrent_kernel (H, 3H), gate blocks in Keras's order
z (update), r (reset), h (candidate n). bias (2, 3H) with ``reset_after`` (row 0 input, row 1 recurrent),
else (3H,). With xw = x_t @ kernel + b_in split into blocks x_z, x_r, x_h:

reset_after=True (Keras's default), u = h_{t-1} @ recurrent_kernel + b_rec split into u_z, u_r, u_h:

    z = s(x_z + u_z)      r = s(x_r + u_r)      n = a(x_h + r * u_h)
    h_t = z * h_{t-1} + (1 - z) * n

    backward:  dn = dh * (1 - z) * a'(n)     dz = dh * (h_{t-1} - n) * s'(z)     dr = dn * u_h * s'(r)
               d xw = [dz, dr, dn]           d u = [dz, dr, dn * r]              dh_{t-1} = dh * z (+ d u @ U^T)
    (z and r are side by side in the blocks, so s and s' run once over both)

reset_after=False (the reset gate applied before the product):

    z = s(x_z + h_{t-1} @ U_z)    r = s(x_r + h_{t-1} @ U_r)    n = a(x_h + (r * h_{t-1}) @ U_h)
    h_t = z * h_{t-1} + (1 - z) * n

    backward:  d(rh) = dn @ U_h^T     dr = d(rh) * h_{t-1} * s'(r)
               dh_{t-1} = dh * z + d(rh) * r + dz @ U_z^T + dr @ U_r^T
               dU = [h^T dz, h^T dr, (r h)^T dn]

With recurrent dropout, the h_{t-1} entering each block's product is h_{t-1} * m_block, as in Keras.

Example:
    >>> from minirnn.cells import GRUCell
    >>> {n: p.shape for n, p in GRUCell(4).params(3).items()}
    {'kernel': (3, 12), 'recurrent_kernel': (4, 12), 'bias': (2, 12)}
"""

from __future__ import annotations

import numpy as np

from .base import GatedCell, Param, Projection, StepGrads, register_cell, split_blocks


@register_cell
class GRUCell(GatedCell):
    """Keras GRU cell; the equations of both forms are in the module docstring."""

    def __init__(self, units: int, activation: str | None = "tanh", recurrent_activation: str | None = "sigmoid",
                 use_bias: bool = True, reset_after: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros"):
        super().__init__(units, activation, recurrent_activation)
        self.use_bias, self.reset_after = bool(use_bias), bool(reset_after)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        bias = "bias" if self.use_bias else None
        if self.reset_after:
            self.input_projection = Projection("kernel", bias=bias, bias_row=0 if bias else None, blocks=3)
            self.recurrent_projection = Projection("recurrent_kernel", bias=bias, bias_row=1 if bias else None,
                                                   state="h", blocks=3)
        else:
            self.input_projection = Projection("kernel", bias=bias, blocks=3)
            self.recurrent_dropout_blocks = 3  # the cell applies the masks itself (forward's recurrent_mask)

    @property
    def state_sizes(self):
        return {"h": self.units}

    def params(self, input_size):
        H = self.units
        p = {"kernel": Param((input_size, 3 * H), self.kernel_initializer, "matrix"),
             "recurrent_kernel": Param((H, 3 * H), self.recurrent_initializer, "matrix")}
        if self.use_bias:
            p["bias"] = Param((2, 3 * H) if self.reset_after else (3 * H,), self.bias_initializer, "bias")
        return p

    def forward(self, xw, states, p, hu=None, recurrent_mask=None):
        (h_prev,) = states
        H = self.units
        if self.reset_after:
            u_h = hu[:, 2 * H:]
            zr = self.s(xw[:, :2 * H] + hu[:, :2 * H])   # z = s(x_z + u_z), r = s(x_r + u_r): one call, both gates
            z, r = split_blocks(zr, 2)
            n = self.a(xw[:, 2 * H:] + r * u_h)
            cache = {"zr": zr, "n": n, "u_h": u_h, "h_prev": h_prev}
        else:
            x_z, x_r, x_h = split_blocks(xw, 3)
            U_z, U_r, U_h = split_blocks(p["recurrent_kernel"], 3)
            m = (1, 1, 1) if recurrent_mask is None else recurrent_mask[[0, 0, 0] if len(recurrent_mask) == 1
                                                                         else [0, 1, 2]]
            h_z, h_r, h_h = h_prev * m[0], h_prev * m[1], h_prev * m[2]
            z, r = self.s(x_z + h_z @ U_z), self.s(x_r + h_r @ U_r)
            rh = r * h_h
            n = self.a(x_h + rh @ U_h)
            cache = {"z": z, "r": r, "n": n, "h_prev": h_prev, "h_z": h_z, "h_r": h_r, "h_h": h_h, "rh": rh,
                     "m": m, "U": (U_z, U_r, U_h)}
        h = z * h_prev + (1 - z) * n
        return (h,), cache

    def backward(self, d_states, cache):
        (dh,) = d_states
        n, h_prev = cache["n"], cache["h_prev"]
        if self.reset_after:
            zr, u_h = cache["zr"], cache["u_h"]
            z, r = split_blocks(zr, 2)
            dn = dh * (1 - z) * self.a.grad(n)
            dz = dh * (h_prev - n)
            dr = dn * u_h
            d_zr = np.concatenate([dz, dr], axis=1) * self.s.grad(zr)    # through s, both gates at once
            d_xw = np.concatenate([d_zr, dn], axis=1)
            d_u = np.concatenate([d_zr, dn * r], axis=1)
            return StepGrads(states=(dh * z,), x=d_xw, params={}, recurrent=d_u)
        z, r, (U_z, U_r, U_h), m = cache["z"], cache["r"], cache["U"], cache["m"]
        dn = dh * (1 - z) * self.a.grad(n)
        dz = dh * (h_prev - n) * self.s.grad(z)
        d_rh = dn @ U_h.T
        dr = d_rh * cache["h_h"] * self.s.grad(r)
        dh_prev = dh * z + (d_rh * r) * m[2] + (dz @ U_z.T) * m[0] + (dr @ U_r.T) * m[1]
        dU = np.concatenate([cache["h_z"].T @ dz, cache["h_r"].T @ dr, cache["rh"].T @ dn], axis=1)
        return StepGrads(states=(dh_prev,), x=np.concatenate([dz, dr, dn], axis=1),
                         params={"recurrent_kernel": dU})

    def trace(self, cache):
        z, r = split_blocks(cache["zr"], 2) if self.reset_after else (cache["z"], cache["r"])
        return {"z": z, "r": r, "candidate": cache["n"]}
