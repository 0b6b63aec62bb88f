"""The Elman cell (Keras's SimpleRNN), one step forward and one step backward.

Shapes: x_t (B, D), h_{t-1} and h_t (B, H); kernel W_xh^T (D, H), recurrent_kernel W_hh^T (H, H), bias (H,).

    h_t = a(W_hh h_{t-1} + W_xh x_t + b_h)          (Keras's row-vector form: x_t @ kernel + h_{t-1} @ U + b)

Backward, with dh_t the total gradient reaching h_t:

    dz_t     = dh_t * a'(z_t)                        (a' from the cached output h_t)
    dh_{t-1} = dz_t @ recurrent_kernel^T             (the driver's: recurrent projection)
    dkernel  = sum_t x_t^T dz_t,  dU = sum_t h_{t-1}^T dz_t,  db = sum_t dz_t   (the driver's: one matmul each)

Example:
    >>> import numpy as np
    >>> from minirnn.cells import SimpleRNNCell
    >>> cell = SimpleRNNCell(3)
    >>> cell.state_sizes, {n: p.shape for n, p in cell.params(2).items()}
    ({'h': 3}, {'kernel': (2, 3), 'recurrent_kernel': (3, 3), 'bias': (3,)})
"""

from __future__ import annotations

from .. import activations
from .base import Cell, Param, Projection, StepGrads, check_units, register_cell


@register_cell
class SimpleRNNCell(Cell):
    """``h_t = a(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``; see the module docstring."""

    input_projection = Projection("kernel", bias="bias")
    recurrent_projection = Projection("recurrent_kernel", state="h")

    def __init__(self, units: int, activation: str | None = "tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros"):
        self.units = check_units(units)
        self.activation = activations.get(activation).name
        self.a = activations.get(self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        if not self.use_bias:
            self.input_projection = Projection("kernel")

    @property
    def state_sizes(self):
        return {"h": self.units}

    def params(self, input_size):
        H = self.units
        p = {"kernel": Param((input_size, H), self.kernel_initializer, "matrix"),
             "recurrent_kernel": Param((H, H), self.recurrent_initializer, "matrix")}
        if self.use_bias:
            p["bias"] = Param((H,), self.bias_initializer, "bias")
        return p

    def forward(self, xw, states, p, hu):
        """xw = x_t @ kernel + bias and hu = h_{t-1} @ recurrent_kernel, both from the driver."""
        h = self.a(xw + hu)
        return (h,), {"h": h}

    def backward(self, d_states, cache):
        (dh,) = d_states
        dz = dh * self.a.grad(cache["h"])
        return StepGrads(states=(None,), x=dz, params={}, recurrent=dz)
