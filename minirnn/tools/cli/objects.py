"""Objects named on the command line: ``load_object("module.path:Name")`` or ``"path/to/file.py:Name"``."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any


def load_object(spec: str) -> Any:
    """The object named by ``"module.path:Name"`` or ``"path/to/file.py:Name"`` (``Name`` may be dotted).

    A module path is imported with the current directory on ``sys.path`` (as ``python -m`` would);
    a file path is loaded as a fresh module.
    """
    if not isinstance(spec, str) or spec.count(":") < 1:
        raise ValueError(f"expected 'module:Name' or 'path/to/file.py:Name'; got {spec!r}")
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise ValueError(f"expected 'module:Name' or 'path/to/file.py:Name'; got {spec!r}")
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = os.path.abspath(target)
        if not os.path.isfile(path):
            raise ValueError(f"no such file {target!r} (from {spec!r})")
        name = "_minirnn_user_" + "".join(c if c.isalnum() else "_" for c in path)
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ValueError(f"cannot load {target!r} as a Python file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module  # dataclasses and pickling look classes up through sys.modules
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
    else:
        # the console script does not put the current directory on sys.path (python -m does)
        added = os.getcwd() not in sys.path and "" not in sys.path
        if added:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as e:
            raise ValueError(f"cannot import module {target!r} (from {spec!r}): {e}") from None
        finally:
            if added:
                sys.path.remove(os.getcwd())
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"{target!r} has no attribute {attr!r}") from None
    return obj

