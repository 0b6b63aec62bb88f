"""The independently recurrent cell, IndRNN (Li, Li, Cook, Zhu & Gao 2018, "Independently recurrent neural
network (IndRNN): building a longer and deeper RNN").

Each unit sees only its own past: the recurrent weight is a vector u (a diagonal matrix), so unit j's
gradient through time is a product of u_j * relu'(.) factors, which stays bounded when |u_j| <= 1 and
the unit is active, instead of the powers of a full matrix. Units interact only through the input (and
through the next layer).

Shapes: x_t (B, D); h (B, H); kernel (D, H), bias (H,), recurrent weight u (H,).

    h_t = relu(x_t @ kernel + u * h_{t-1} + b)       (the activation is a parameter; relu as in the paper)

Backward, with dh the total gradient reaching h_t:

    dz = dh * relu'(h_t)                             (1 where h_t > 0, from the cached output)
    dh_{t-1} = dz * u         du = sum_b dz * h_{t-1}
    dkernel = sum_t x_t^T dz,  db = sum_t dz         (the driver's: the input projection)

u starts uniform in [0, 1): no unit's memory grows at first (the paper constrains |u_j| so that u_j^T,
the gain of T steps, stays in a chosen range).

A relu cell is piecewise linear: a finite difference across a kink (a pre-activation within h = 1e-5 of
0) measures neither side's derivative. Keeping the pre-activations away from 0 in a gradient check is the
checker's job (``minirnn.gradcheck`` and its Taylor test tolerate the rare crossing), not the cell's.

Example:
    >>> import numpy as np
    >>> cell = IndRNNCell(2)
    >>> (h,), cache = cell.forward(np.array([[1.0, -1.0]]), (np.array([[2.0, 2.0]]),),
    ...                            {"u": np.array([0.5, 0.25])})
    >>> h.tolist()        # relu(1 + 0.5 * 2), relu(-1 + 0.25 * 2)
    [[2.0, 0.0]]
    >>> from minirnn.gradcheck import check_cell
    >>> check_cell(cell).passed
    True

    python -m minirnn gradcheck --cell examples/cells/indrnn.py:IndRNNCell
"""

from __future__ import annotations

from minirnn import activations
from minirnn.cells import Cell, Param, Projection, StepGrads, register_cell
from minirnn.cells.base import check_units


def uniform_0_1(shape, rng, dtype):
    """u ~ U[0, 1): every unit starts remembering a little, none explodes."""
    return rng.uniform(0.0, 1.0, size=shape).astype(dtype)


@register_cell
class IndRNNCell(Cell):
    """``h_t = relu(x_t @ kernel + u * h_{t-1} + bias)``, u a vector; see the module docstring."""

    input_projection = Projection("kernel", bias="bias")

    def __init__(self, units: int, activation: str | None = "relu"):
        self.units = check_units(units)
        self.activation = activations.get(activation).name
        self.a = activations.get(self.activation)

    @property
    def state_sizes(self):
        return {"h": self.units}

    def params(self, input_size):
        H = self.units
        return {"kernel": Param((input_size, H), "glorot_uniform", "matrix"),
                "bias": Param((H,), "zeros", "bias"),
                "u": Param((H,), uniform_0_1, "vector")}

    def forward(self, xw, states, p):
        """xw = x_t @ kernel + bias, from the driver."""
        (h_prev,) = states
        h = self.a(xw + p["u"] * h_prev)
        return (h,), {"h": h, "h_prev": h_prev, "u": p["u"]}

    def backward(self, d_states, cache):
        (dh,) = d_states
        dz = dh * self.a.grad(cache["h"])
        dh_prev = dz * cache["u"]
        return StepGrads(states=(dh_prev,), x=dz, params={"u": (dz * cache["h_prev"]).sum(axis=0)})

    def trace(self, cache):
        return {}
