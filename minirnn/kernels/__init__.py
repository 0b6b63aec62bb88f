"""Pure kernels: forward and backward functions with explicit caches and no hidden state."""

from .dense import DenseCache, dense_backward, dense_forward
from .dropout import dropout_backward, dropout_forward, dropout_mask
from .recurrent import (
    GRUCell,
    LSTMCell,
    RecurrentCache,
    RecurrentCell,
    RecurrentGrads,
    SimpleRNNCell,
    gru_backward,
    gru_forward,
    lstm_backward,
    lstm_forward,
    recurrent_backward,
    recurrent_forward,
    simple_rnn_backward,
    simple_rnn_forward,
)

__all__ = [
    "DenseCache", "dense_backward", "dense_forward",
    "dropout_backward", "dropout_forward", "dropout_mask",
    "GRUCell", "gru_backward", "gru_forward",
    "LSTMCell", "RecurrentCache", "RecurrentCell", "RecurrentGrads", "SimpleRNNCell",
    "lstm_backward", "lstm_forward", "recurrent_backward", "recurrent_forward",
    "simple_rnn_backward", "simple_rnn_forward",
]
