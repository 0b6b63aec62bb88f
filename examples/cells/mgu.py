"""The minimal gated unit, MGU (Zhou, Wu, Zhang & Zhou 2016, "Minimal gated unit for recurrent neural
networks").

A GRU with one gate: the forget gate f both resets the state entering the candidate and mixes old state
and candidate, so the cell has two weight blocks where a GRU has three. h_{t-1} enters the candidate as
(f * h_{t-1}) @ U_h, not as h_{t-1} @ U, so the recurrent products are the cell's own (as in Keras's GRU
with reset_after=False); the input products are the driver's.

Shapes: x_t (B, D); h (B, H); kernel (D, 2H), recurrent_kernel (H, 2H), bias (2H,), blocks in the order
f (the gate), h (the candidate n): kernel = [W_f, W_h], recurrent_kernel = [U_f, U_h], bias = [b_f, b_h].

    f_t = s(x_t W_f + h_{t-1} U_f + b_f)
    n_t = a(x_t W_h + (f_t * h_{t-1}) U_h + b_h)
    h_t = (1 - f_t) * h_{t-1} + f_t * n_t

Backward, with dh the total gradient reaching h_t (every derivative from cached outputs):

    dz_n = dh * f * a'(n)                            (the candidate's pre-activation)
    d(fh) = dz_n @ U_h^T
    dz_f = (dh * (n - h_{t-1}) + d(fh) * h_{t-1}) * s'(f)
    dh_{t-1} = dh * (1 - f) + d(fh) * f + dz_f @ U_f^T
    dU_f = sum_b h_{t-1}^T dz_f     dU_h = sum_b (f * h_{t-1})^T dz_n
    dkernel = sum_t x_t^T [dz_f, dz_n],  dbias = sum_t [dz_f, dz_n]         (the driver's: input projection)

Example:
    >>> import numpy as np
    >>> cell = MGUCell(2)
    >>> p = {"recurrent_kernel": np.zeros((2, 4))}
    >>> (h,), cache = cell.forward(np.zeros((1, 4)), (np.ones((1, 2)),), p)
    >>> h.tolist()        # f = s(0) = 1/2, n = a(0) = 0: half of the old state is kept
    [[0.5, 0.5]]
    >>> from minirnn.gradcheck import check_cell
    >>> check_cell(cell).passed
    True

    python -m minirnn gradcheck --cell examples/cells/mgu.py:MGUCell
"""

from __future__ import annotations

import numpy as np

from minirnn.cells import GatedCell, Param, Projection, StepGrads, register_cell, split_blocks


@register_cell
class MGUCell(GatedCell):
    """Minimal gated unit: one gate f; ``h_t = (1 - f) * h_{t-1} + f * n``; see the module docstring."""

    input_projection = Projection("kernel", bias="bias", blocks=2)

    @property
    def state_sizes(self):
        return {"h": self.units}

    def params(self, input_size):
        H = self.units
        return {"kernel": Param((input_size, 2 * H), "glorot_uniform", "matrix"),
                "recurrent_kernel": Param((H, 2 * H), "orthogonal", "matrix"),
                "bias": Param((2 * H,), "zeros", "bias")}

    def forward(self, xw, states, p):
        """xw = x_t @ kernel + bias, from the driver."""
        (h_prev,) = states
        x_f, x_h = split_blocks(xw, 2)
        U_f, U_h = split_blocks(p["recurrent_kernel"], 2)
        f = self.s(x_f + h_prev @ U_f)
        fh = f * h_prev
        n = self.a(x_h + fh @ U_h)
        h = (1 - f) * h_prev + f * n
        return (h,), {"f": f, "n": n, "h_prev": h_prev, "fh": fh, "U_f": U_f, "U_h": U_h}

    def backward(self, d_states, cache):
        (dh,) = d_states
        f, n, h_prev, fh, U_f, U_h = (cache[k] for k in ("f", "n", "h_prev", "fh", "U_f", "U_h"))
        dz_n = dh * f * self.a.grad(n)
        d_fh = dz_n @ U_h.T
        dz_f = (dh * (n - h_prev) + d_fh * h_prev) * self.s.grad(f)
        dh_prev = dh * (1 - f) + d_fh * f + dz_f @ U_f.T
        dU = np.concatenate([h_prev.T @ dz_f, fh.T @ dz_n], axis=1)
        return StepGrads(states=(dh_prev,), x=np.concatenate([dz_f, dz_n], axis=1),
                         params={"recurrent_kernel": dU})

    def trace(self, cache):
        return {"f": cache["f"], "candidate": cache["n"]}
