"""minirnn: recurrent networks in pure NumPy, every forward and backward pass written out by hand.

The package, by role (lower layers never import higher ones; ``tests/test_import_graph.py`` checks):

    cells/       the cell protocol, the built-in cells and the one driver that runs any cell over time
    kernels/     pure forward/backward functions (dense, dropout)
    activations, initializers
    layers/      parameters, gradients and config around the kernels and cells
    model, saving     ``Sequential`` (compile, fit, evaluate, predict) and its one-file format
    training/    losses, optimizers, schedules, metrics, callbacks
    checking/    gradcheck, testing (strategies and assertions), diagnostics
    tools/       datasets, inspection (traces), plot, interop (Keras, PyTorch), demo, cli

Layers (``minirnn.layers``) wrap pure kernels (``minirnn.kernels``); ``Sequential`` trains them with
Keras's API and numbers. The old flat paths (``minirnn.gradcheck``, ``minirnn.losses``,
``minirnn.cli``, ...) still import, lazily, as the same module objects (``minirnn._aliases``).
"""

import importlib as _importlib

from . import _aliases, activations, initializers, kernels, layers, saving, training
from .layers import GRU, LSTM, Bidirectional, Dense, Dropout, Masking, SimpleRNN, TimeDistributed
from .model import History, NonFiniteOutputError, Sequential, TrainingDivergedError
from .saving import load_model

_aliases.install()

__version__ = "0.1.0"

__all__ = ["activations", "callbacks", "initializers", "kernels", "layers", "losses", "metrics", "optimizers",
           "saving", "schedules", "training", "load_model",
           "GRU", "LSTM", "Bidirectional", "Dense", "Dropout", "Masking", "SimpleRNN", "TimeDistributed",
           "History", "NonFiniteOutputError", "Sequential", "TrainingDivergedError"]


def __getattr__(name: str):
    # minirnn.losses, minirnn.diagnostics, ...: the moved modules, imported on first use
    if name in _aliases.MOVED:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_aliases.MOVED))
