"""minirnn: recurrent networks in pure NumPy, every forward and backward pass written out by hand.

Layers (``minirnn.layers``) wrap pure kernels (``minirnn.kernels``); ``Sequential`` trains them with
Keras's API and numbers.
"""

from . import activations, callbacks, initializers, kernels, layers, losses, metrics, optimizers, saving, schedules
from .layers import GRU, LSTM, Bidirectional, Dense, Dropout, Masking, SimpleRNN, TimeDistributed
from .model import History, NonFiniteOutputError, Sequential, TrainingDivergedError
from .saving import load_model

__version__ = "0.1.0"

__all__ = ["activations", "callbacks", "initializers", "kernels", "layers", "losses", "metrics", "optimizers",
           "saving", "schedules", "load_model",
           "GRU", "LSTM", "Bidirectional", "Dense", "Dropout", "Masking", "SimpleRNN", "TimeDistributed",
           "History", "NonFiniteOutputError", "Sequential", "TrainingDivergedError"]
