"""The ``minirnn`` command line (also ``python -m minirnn``): a registry of subcommands.

    minirnn gradcheck                                   every built-in layer over a grid of configurations
    minirnn gradcheck --layer lstm --activation relu --batch 3 --steps 5 --units 4 --seed 0
    minirnn gradcheck --cell my_module:MyCell           a user's cell (or path/to/file.py:MyCell)

Exit status: 0 when every check passes, 1 when any fails, 2 on a usage error (a bad option, checked
before any work starts), 130 on Ctrl-C, 141 when the reader of the output goes away (a closed pipe).

A subcommand is a name, a help line, a function adding its arguments to an ``argparse`` parser and
a function running it (``args -> exit status``), registered in ``registry.SUBCOMMANDS``. Each lives in
its own module here (``gradcheck``, ``demo``) imported below; argument types shared with other parsers
are in ``minirnn.tools.argtypes``, the ``module:Name`` loader in ``objects``. Adding one is a module
with a single decorated function, and its import here:

    @subcommand("hello", help="say hello", arguments=lambda p: p.add_argument("--name", default="world"))
    def run_hello(args):
        print(f"hello, {args.name}")
        return 0

Example:
    >>> from minirnn.tools.cli import main
    >>> main(["gradcheck", "--layer", "simple_rnn", "--batch", "2", "--steps", "3", "--units", "2",
    ...       "--quiet"])  # doctest: +ELLIPSIS
    PASS  SimpleRNN(2, activation=tanh) on x(2, 3, 3): max rel err ..., min Taylor slope ...
    0
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from ... import __version__
from ..argtypes import positive_float, positive_int
from .objects import load_object
from .registry import SUBCOMMANDS, Subcommand, subcommand

# The subcommands, in the order ``minirnn --help`` lists them: each module registers itself on import.
# isort: off
from . import gradcheck as gradcheck
from . import demo as demo
from . import memory as memory
# isort: on

# the names ``minirnn.cli`` had before the split by subcommand
from .demo import run_demo
from .gradcheck import (
    LAYER_ALIASES,
    LAYER_NAMES,
    MERGE_MODES,
    RECURRENT,
    LayerCase,
    build_cell,
    default_grid,
    run_case,
    run_gradcheck,
)

__all__ = ["SUBCOMMANDS", "Subcommand", "subcommand", "build_parser", "main", "positive_int", "positive_float",
           "load_object", "LAYER_ALIASES", "LAYER_NAMES", "MERGE_MODES", "RECURRENT", "LayerCase", "build_cell",
           "default_grid", "run_case", "run_gradcheck", "run_demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minirnn", description="minirnn: recurrent networks in pure NumPy.")
    parser.add_argument("--version", action="version", version=f"minirnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in SUBCOMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description or cmd.help,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args))
    except KeyboardInterrupt:  # Ctrl-C: the shell's convention (128 + SIGINT), no traceback
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (``minirnn ... | head``): stop quietly
        # Python would report the failed flush of stdout at exit; point stdout at /dev/null instead
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer whose pipe closed
