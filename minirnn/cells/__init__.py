"""Recurrent cells and the one driver that runs them; read ``minirnn.cells.base`` first.

    base         the protocol: Cell, Param, Projection, StepGrads, register_cell (with a worked example)
    simple_rnn   SimpleRNNCell     h_t = a(W_hh h_{t-1} + W_xh x_t + b_h)
    lstm         LSTMCell          gates i, f, g, o; c_t = f * c_{t-1} + i * g; h_t = o * a(c_t)
    gru          GRUCell           gates z, r, candidate n; h_t = z * h_{t-1} + (1 - z) * n
    driver       forward / backward over a sequence (masks, dropout, go_backwards, projections)
"""

from . import driver
from .base import CELLS, Cell, GatedCell, Param, Projection, StepGrads, register_cell, split_blocks
from .gru import GRUCell
from .lstm import LSTMCell
from .simple_rnn import SimpleRNNCell

__all__ = ["CELLS", "Cell", "GatedCell", "GRUCell", "LSTMCell", "Param", "Projection", "SimpleRNNCell",
           "StepGrads", "driver", "register_cell", "split_blocks"]
