"""Pure kernels of the feed-forward layers: forward and backward functions with explicit caches.

The recurrent math moved to ``minirnn.cells`` (one module per cell, the protocol in ``minirnn.cells.base``)
and its time loop to ``minirnn.cells.driver``; the old names here raise an error saying where they went.
"""

from .dense import DenseCache, dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward, dropout_mask

__all__ = ["DenseCache", "dense_backward", "dense_forward", "dropout_backward", "dropout_forward", "dropout_mask"]

_MOVED = {
    "SimpleRNNCell": "minirnn.cells.SimpleRNNCell(units, ...)",
    "LSTMCell": "minirnn.cells.LSTMCell(units, ...)",
    "GRUCell": "minirnn.cells.GRUCell(units, ...)",
    "RecurrentCell": "minirnn.cells.Cell (the protocol is documented in minirnn.cells.base)",
    "RecurrentCache": "minirnn.cells.driver.SequenceCache",
    "RecurrentGrads": "minirnn.cells.driver.SequenceGrads",
    "recurrent_forward": "minirnn.cells.driver.forward(cell, x, params, initial_states, ...)",
    "recurrent_backward": "minirnn.cells.driver.backward(cache, d_outputs, d_final_states)",
    **{f"{kind}_{d}": f"minirnn.cells.driver.{d}(minirnn.cells.{cell}(units), x, params, ...)"
       for kind, cell in (("lstm", "LSTMCell"), ("gru", "GRUCell"), ("simple_rnn", "SimpleRNNCell"))
       for d in ("forward", "backward")},
    "recurrent": "minirnn.cells (cells) and minirnn.cells.driver (the time loop)",
    "blas_threads": "minirnn.runtime (the BLAS thread policy around fit/predict/evaluate)",
}


def __getattr__(name: str):
    if name in _MOVED:
        # an ImportError (not AttributeError) so that ``from minirnn.kernels import name`` shows the hint too
        raise ImportError(f"minirnn.kernels.{name} moved: use {_MOVED[name]}")
    raise AttributeError(f"module 'minirnn.kernels' has no attribute {name!r}")
