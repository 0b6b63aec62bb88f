"""Layers: parameters, gradients and config around the pure kernels."""

from .base import Layer, LayerGrads
from .core import Dense, Dropout
from .recurrent import LSTM, RNN, SimpleRNN

__all__ = ["Layer", "LayerGrads", "Dense", "Dropout", "LSTM", "RNN", "SimpleRNN"]

LAYERS = {cls.__name__: cls for cls in (Dense, Dropout, LSTM, SimpleRNN)}
