"""The old import paths of the modules the package layout moved (issue 13), kept working lazily.

``import minirnn.gradcheck``, ``from minirnn.losses import MeanSquaredError``, ``from minirnn.cli
import main`` and ``minirnn.diagnostics`` (an attribute) all still work, and each gives the module at
its new place itself: ``minirnn.gradcheck is minirnn.checking.gradcheck``. No file is left at an old
path and nothing is imported until an old name is used: a meta-path finder maps each old dotted name
(and any name under it, ``minirnn.cli.<x>``) to the new one, and its loader hands back the module
imported under the new name.

    >>> import minirnn.gradcheck, minirnn.checking.gradcheck
    >>> minirnn.gradcheck is minirnn.checking.gradcheck
    True
    >>> minirnn.gradcheck.__name__
    'minirnn.checking.gradcheck'
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from types import ModuleType

PACKAGE = __name__.rpartition(".")[0]

# old name under minirnn -> new name under minirnn
MOVED: dict[str, str] = {
    "losses": "training.losses",
    "optimizers": "training.optimizers",
    "schedules": "training.schedules",
    "metrics": "training.metrics",
    "callbacks": "training.callbacks",
    "gradcheck": "checking.gradcheck",
    "testing": "checking.testing",
    "diagnostics": "checking.diagnostics",
    "datasets": "tools.datasets",
    "inspection": "tools.inspection",
    "plot": "tools.plot",
    "interop": "tools.interop",
    "demo": "tools.demo",
    "cli": "tools.cli",
    "memory": "tools.memory",
}


def new_name(fullname: str) -> str | None:
    """The new dotted name of an old one (``minirnn.cli.x`` -> ``minirnn.tools.cli.x``), else None."""
    prefix = PACKAGE + "."
    if not fullname.startswith(prefix):
        return None
    head, dot, rest = fullname[len(prefix):].partition(".")
    target = MOVED.get(head)
    if target is None:
        return None
    return prefix + target + dot + rest


class _AliasLoader:  # the loader protocol (create_module, exec_module); importlib.abc costs 20-30 ms to import
    """Loads an old name by importing the new one and returning that very module object."""

    def __init__(self, target: str):
        self.target = target
        self._own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system has just set module.__spec__ to the alias's spec: give back the module's own
        if self._own_spec is not None:
            module.__spec__ = self._own_spec

    def get_code(self, fullname: str):
        # runpy: ``python -m minirnn.demo`` runs the code of minirnn.tools.demo as __main__
        import importlib.util

        spec = importlib.util.find_spec(self.target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "get_code"):
            raise ImportError(f"no code object available for {fullname} ({self.target})")
        return spec.loader.get_code(self.target)


class _AliasSpec(importlib.machinery.ModuleSpec):
    """The spec of an old name; its ``parent`` is the new module's package, so that the relative imports
    of the new module's code resolve when runpy runs it under the old name."""

    def __init__(self, name: str, target: str):
        super().__init__(name, _AliasLoader(target))
        self.target = target

    @property
    def parent(self) -> str:
        return self.target.rpartition(".")[0]


class AliasFinder:  # the meta path finder protocol (find_spec), without importlib.abc (see _AliasLoader)
    """Finds the old names (see ``MOVED``); every other name is left to the other finders."""

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        new = new_name(fullname)
        if new is None:
            return None
        return _AliasSpec(fullname, new)


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())
