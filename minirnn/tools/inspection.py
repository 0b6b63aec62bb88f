"""Look inside a recurrent layer while it runs: the trace of every gate and state at every step.

Shapes: x (B, T, D); every traced array is batch-major (B, T, H), step t = 1 .. T along axis 1.

    LSTM         i, f, o        input, forget and output gates, s(z_i), s(z_f), s(z_o)
                 candidate      g = a(z_c), what the input gate lets into the cell
                 c              c_t = f * c_{t-1} + i * g        (the memory)
                 h              h_t = o * a(c_t)                 (what the layer shows)
    GRU          z, r           update and reset gates
                 candidate      n, the proposed new state
                 h              h_t = z * h_{t-1} + (1 - z) * n
    SimpleRNN    h              h_t = a(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)

Axis 1 is the order in which the steps were processed: for a ``go_backwards`` layer, index t is the
input step T - 1 - t. At steps masked out (``mask``) the states are carried through, as in the layer;
the gate values recorded there were computed but not used.

Nothing is recomputed: the driver already keeps every step's cache (the cell's gates) and every state
for the backward pass; a trace is a batch-major copy of them with names. Which names a cell shows is
its own ``trace(cache)`` method (``minirnn.cells.Cell.trace``; by default every (B, n) array of a dict
cache), so any cell, yours included, can be traced.

Example:
    >>> import numpy as np
    >>> from minirnn.layers import LSTM
    >>> from minirnn.tools.inspection import trace
    >>> lstm = LSTM(3, seed=0)
    >>> tr = trace(lstm, np.ones((2, 5, 1), dtype=np.float32))
    >>> tr.names, tr["c"].shape
    (('i', 'f', 'o', 'candidate', 'c', 'h'), (2, 5, 3))
    >>> bool(np.allclose(tr["h"][:, -1], lstm(np.ones((2, 5, 1)))))
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..cells.trace import Trace, trace_from_cache
from ..layers.recurrent import RNN

Array = np.ndarray

__all__ = ["Trace", "register_tracer", "trace", "trace_from_cache"]  # Trace, trace_from_cache: minirnn.cells.trace


def register_tracer(cell_type: type) -> Callable:
    """Gone: a cell names what a trace shows in its own ``trace(cache)`` method (``minirnn.cells.Cell.trace``)."""
    raise TypeError("register_tracer is gone: give the cell a trace(self, cache) method returning "
                    "{name: (B, n) array} for one step (see minirnn.cells.base.Cell.trace)")


def trace(target: Any, x: Any, *, layer: int | str | None = None,
          initial_state: Sequence[Any] | None = None, mask: Any = None) -> Trace:
    """Run a recurrent layer on x (inference mode) and return the trace of every step.

    ``target`` is a recurrent layer, or a ``Sequential`` model: then the layer traced is ``layer``
    (an index or a name; by default the first recurrent one) and its input is x passed through the
    layers before it (with the step mask a ``Masking`` layer makes, as in ``fit``). ``initial_state``
    and ``mask`` (B, T) are as for the layer's ``forward``. Nothing changes: not the weights, and not
    the carried state of a stateful layer.

    Shapes: x (B, T, D) for the traced layer (or for the model); returns a ``Trace`` of (B, T, H) arrays.
    """
    from ..model import Sequential  # the model module imports the layers; import it only when needed

    if isinstance(target, Sequential):
        if layer is None:
            index = next((k for k, lay in enumerate(target.layers) if isinstance(lay, RNN)), None)
            if index is None:
                raise ValueError("trace: the model has no recurrent layer to trace")
        elif isinstance(layer, str):
            names = [lay.name for lay in target.layers]
            if layer not in names:
                raise ValueError(f"trace: layer must name one of the model's layers {names}; got {layer!r}")
            index = names.index(layer)
        elif isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
            if not -len(target.layers) <= layer < len(target.layers):
                raise ValueError(f"trace: layer index must be in [0, {len(target.layers)}); got {layer}")
            index = int(layer) % len(target.layers)
        else:
            raise TypeError(f"trace: layer must be an index, a layer name or None; got {layer!r}")
        chosen = target.layers[index]
        if not isinstance(chosen, RNN):
            raise TypeError(f"trace: {chosen.describe()} is not a recurrent layer")
        h = target._check_x(x)
        for lay in target.layers[:index]:
            h = h.astype(lay.dtype, copy=False)
            if getattr(lay, "uses_mask", False) and mask is not None:
                y, _ = lay.forward(h, training=False, mask=mask)
            else:
                y, _ = lay.forward(h, training=False)
            mask = lay.compute_mask(h, mask) if hasattr(lay, "compute_mask") else None
            h = y
        target, x = chosen, h
    elif layer is not None:
        raise TypeError("trace: layer= selects a layer of a Sequential model; got a layer as target")
    if not isinstance(target, RNN):
        raise TypeError(f"trace needs a recurrent layer or a Sequential model; got {type(target).__name__}")
    return target.trace(x, initial_state=initial_state, mask=mask)
