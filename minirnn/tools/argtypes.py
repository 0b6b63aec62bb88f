"""Argument types shared by the command line (``minirnn.tools.cli``) and the demo's own parser: each
turns a command-line string into a value or raises ``argparse.ArgumentTypeError`` (a usage error, exit 2).

Imports no subcommand and nothing of minirnn, so any command-line module can use it.

    >>> positive_int("3"), positive_float("0.5"), rate("0"), seed("7")
    (3, 0.5, 0.0, 7)
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


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


def output_folder_problem(option: str, value: str) -> str | None:
    """Why ``value`` cannot be the output folder of ``option`` (None if it can): it exists and is not a
    folder, or the nearest existing folder on its path is not writable. Checked before any training, so
    that a bad path never costs a run.

        >>> output_folder_problem("--out", ".") is None
        True
    """
    out = Path(value)
    if out.exists() and not out.is_dir():
        return f"{option} {value!r} exists and is not a folder; give a folder"
    return _writable_parent_problem(option, value, out if out.exists() else None)


def output_file_problem(option: str, value: str) -> str | None:
    """Why ``value`` cannot be written as the output file of ``option`` (None if it can): it is a folder,
    or the nearest existing folder on its path is not writable (its missing folders are created).

        >>> output_file_problem("--json", ".")
        "--json '.' is a folder; give a file name"
    """
    path = Path(value)
    if path.is_dir():
        return f"{option} {value!r} is a folder; give a file name"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{option} {value!r} exists and is not writable"
    return _writable_parent_problem(option, value, None)


def _writable_parent_problem(option: str, value: str, folder: Path | None) -> str | None:
    path = Path(value)
    probe = folder or next((p for p in path.absolute().parents if p.exists()), Path("."))
    if not probe.is_dir():
        return f"{option} {value!r}: {str(probe)!r} on its path is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{option} {value!r}: the folder {str(probe)!r} is not writable"
    return None
