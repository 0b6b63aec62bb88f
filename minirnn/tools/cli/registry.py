"""The registry of ``minirnn`` subcommands: ``Subcommand`` records and the ``@subcommand`` decorator.

Each subcommand module (``minirnn.tools.cli.gradcheck``, ``.demo``, ...) registers itself here when
imported; ``minirnn.tools.cli`` imports them and builds the parser from ``SUBCOMMANDS``. This module
imports no subcommand (so the subcommands and the parser never import each other in a cycle).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Subcommand:
    """One ``minirnn <name>``: ``arguments(parser)`` declares its options, ``run(args)`` returns the exit status."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], Any]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(name: str, *, help: str, arguments: Callable[[argparse.ArgumentParser], Any],
               description: str | None = None) -> Callable[[Callable[[argparse.Namespace], int]], Callable]:
    """Decorator registering ``run(args) -> int`` as ``minirnn <name>``."""
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        if name in SUBCOMMANDS:
            raise ValueError(f"subcommand {name!r} is already registered")
        SUBCOMMANDS[name] = Subcommand(name, help, arguments, run, description)
        return run
    return register
