"""Argument types shared by the command line (``minirnn.tools.cli``) and the demo's own parser: each
turns a command-line string into a value or raises ``argparse.ArgumentTypeError`` (a usage error, exit 2).

Imports no subcommand and nothing of minirnn, so any command-line module can use it.

    >>> positive_int("3"), positive_float("0.5"), rate("0"), seed("7")
    (3, 0.5, 0.0, 7)
"""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number; got {text!r}")
    return value


def seed(text: str) -> int:
    """A seed for ``numpy.random.default_rng``: an integer in [0, 2**63)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed in [0, 2**63); got {text!r}") from None
    if not 0 <= value < 2 ** 63:
        raise argparse.ArgumentTypeError(f"expected an integer seed in [0, 2**63); got {value}")
    return value


def rate(text: str) -> float:
    """A dropout-style rate in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a rate in [0, 1); got {text!r}")
    return value
