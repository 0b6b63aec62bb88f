"""Layers: parameters, gradients and config around the pure kernels."""

from .base import LAYERS, Layer, LayerGrads
from .core import Dense, Dropout, Embedding, Input, InputLayer, Masking
from .recurrent import GRU, LSTM, RNN, SimpleRNN
from .wrappers import Bidirectional, TimeDistributed

__all__ = ["Layer", "LayerGrads", "Dense", "Dropout", "Embedding", "Input", "InputLayer", "Masking", "GRU", "LSTM",
           "RNN", "SimpleRNN", "Bidirectional", "TimeDistributed", "LAYERS"]

# The one registry of layer classes by name (used by from_config, saving and interop; see layers.base).
LAYERS.update({cls.__name__: cls for cls in (
    Dense, Dropout, Embedding, Masking, GRU, LSTM, RNN, SimpleRNN, Bidirectional, TimeDistributed)})
