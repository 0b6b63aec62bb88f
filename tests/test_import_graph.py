"""The package's import graph (issue 13): acyclic, layered by role, and the old flat paths still work.

The graph is read from the source with ``ast``: every ``import`` / ``from ... import`` of the package,
those inside functions included, relative ones resolved; ``from pkg import name`` is an edge to the
submodule ``pkg.name`` when there is one, else to ``pkg`` itself (its ``__init__``).
"""

from __future__ import annotations

import ast
import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import minirnn

ROOT = Path(minirnn.__file__).resolve().parent  # .../minirnn
REPO = ROOT.parent

# old flat module -> its place in the layout
MOVED = {
    "losses": "training.losses", "optimizers": "training.optimizers", "schedules": "training.schedules",
    "metrics": "training.metrics", "callbacks": "training.callbacks",
    "gradcheck": "checking.gradcheck", "testing": "checking.testing", "diagnostics": "checking.diagnostics",
    "datasets": "tools.datasets", "inspection": "tools.inspection", "plot": "tools.plot",
    "interop": "tools.interop", "demo": "tools.demo", "cli": "tools.cli",
}

# group -> the groups it must not import (a module is in a group when its name is the group or under it)
FORBIDDEN = {
    "minirnn.activations": ("minirnn.cells", "minirnn.kernels", "minirnn.layers", "minirnn.model", "minirnn.saving",
                            "minirnn.training", "minirnn.checking", "minirnn.tools"),
    "minirnn.initializers": ("minirnn.cells", "minirnn.kernels", "minirnn.layers", "minirnn.model", "minirnn.saving",
                             "minirnn.training", "minirnn.checking", "minirnn.tools"),
    "minirnn.cells": ("minirnn.layers", "minirnn.model", "minirnn.saving", "minirnn.training",
                      "minirnn.checking", "minirnn.tools"),
    "minirnn.kernels": ("minirnn.layers", "minirnn.model", "minirnn.saving", "minirnn.training",
                        "minirnn.checking", "minirnn.tools"),
    "minirnn.layers": ("minirnn.model", "minirnn.saving", "minirnn.training", "minirnn.checking", "minirnn.tools"),
    "minirnn.model": ("minirnn.checking", "minirnn.tools"),
    "minirnn.saving": ("minirnn.model", "minirnn.checking", "minirnn.tools"),
    "minirnn.training": ("minirnn.checking", "minirnn.tools"),
    "minirnn.checking": ("minirnn.tools",),
}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package: dotted name -> (file, is a package ``__init__``)."""
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts.pop()
        mods[".".join(parts)] = (path, is_pkg)
    return mods


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, int]]:
    """The package-internal modules ``name`` imports, with line numbers (unresolved names kept as they are)."""
    path, is_pkg = MODULES[name]
    package = name if is_pkg else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "minirnn"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                assert node.level <= len(parts), f"{path}:{node.lineno}: relative import beyond the package"
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "minirnn":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
    return found


GRAPH = {name: sorted({target for target, _ in _imports(name)}) for name in MODULES}


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(u: str) -> list[str] | None:
        state[u] = 1
        path.append(u)
        for v in graph.get(u, ()):
            if state.get(v) == 1:
                return path[path.index(v):] + [v]
            if v not in state and (cycle := visit(v)) is not None:
                return cycle
        path.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state and (cycle := visit(u)) is not None:
            return cycle
    return None


def _in(module: str, group: str) -> bool:
    return module == group or module.startswith(group + ".")


def test_the_graph_sees_function_level_and_relative_imports():
    # RNN.trace imports the trace module inside the method; model imports saving at the top
    assert "minirnn.cells.trace" in GRAPH["minirnn.layers.recurrent"]
    assert "minirnn.saving" in GRAPH["minirnn.model"]
    assert "minirnn.tools.argtypes" in GRAPH["minirnn.tools.demo"]
    assert _find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": ["b"], "b": []}) is None


def test_every_internal_import_names_a_module_of_the_tree():
    # the package itself uses the new paths, never the old aliases (and nothing that does not exist)
    bad = [f"{name}:{line} imports {target}" for name in MODULES for target, line in _imports(name)
           if target not in MODULES]
    assert not bad, "\n".join(bad)


def test_the_import_graph_is_acyclic():
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("group", sorted(FORBIDDEN))
def test_layering(group):
    bad = [f"{name}:{line} imports {target}"
           for name in MODULES if _in(name, group)
           for target, line in _imports(name)
           if any(_in(target, f) for f in FORBIDDEN[group])]
    assert not bad, f"{group} must not import {', '.join(FORBIDDEN[group])}:\n" + "\n".join(bad)


def test_no_file_is_left_at_an_old_path():
    # so that pytest's --doctest-modules collects each module once, under its new name
    left = [old for old in MOVED if (ROOT / f"{old}.py").exists() or (ROOT / old).exists()]
    assert not left


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_path_is_the_new_module(old):
    new = importlib.import_module(f"minirnn.{MOVED[old]}")
    assert importlib.import_module(f"minirnn.{old}") is new
    assert sys.modules[f"minirnn.{old}"] is new
    assert getattr(minirnn, old) is new
    assert new.__name__ == new.__spec__.name == f"minirnn.{MOVED[old]}"  # the alias leaves the module as it was


def test_old_from_imports_and_attributes():
    from minirnn.checking.diagnostics import gradient_norms_over_time
    from minirnn.cli import main
    from minirnn.gradcheck import check_cell
    from minirnn.losses import MeanSquaredError
    from minirnn.tools.cli import main as new_main
    from minirnn.training.losses import MeanSquaredError as NewMSE

    assert main is new_main and MeanSquaredError is NewMSE
    assert check_cell is minirnn.checking.gradcheck.check_cell
    assert minirnn.diagnostics.gradient_norms_over_time is gradient_norms_over_time
    # names under an old package path map too
    assert importlib.import_module("minirnn.cli.registry") is importlib.import_module("minirnn.tools.cli.registry")
    assert minirnn.inspection.Trace is importlib.import_module("minirnn.cells.trace").Trace
    with pytest.raises(AttributeError):
        minirnn.no_such_module  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("minirnn.no_such_module")
    assert set(MOVED) <= set(dir(minirnn))


def test_pickles_naming_old_modules_still_load():
    from minirnn.training.losses import MeanSquaredError

    assert pickle.loads(b"cminirnn.losses\nMeanSquaredError\n.") is MeanSquaredError


def _python(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)


def test_import_minirnn_loads_no_checking_or_tools_and_no_alias():
    run = _python("-c", "import sys, minirnn; print(minirnn.__file__); "
                        "print(' '.join(sorted(m for m in sys.modules if m.startswith('minirnn'))))")
    assert run.returncode == 0, run.stderr
    file, loaded = run.stdout.splitlines()
    assert Path(file).resolve() == ROOT / "__init__.py"
    loaded = loaded.split()
    assert "minirnn.layers" in loaded and "minirnn.model" in loaded
    assert not [m for m in loaded if _in(m, "minirnn.checking") or _in(m, "minirnn.tools")], loaded
    assert not [m for m in loaded if m.partition(".")[2].split(".")[0] in MOVED], loaded


def test_python_m_minirnn_and_old_module_paths():
    run = _python("-m", "minirnn", "--version")
    assert run.returncode == 0 and run.stdout.startswith("minirnn "), run.stderr
    run = _python("-m", "minirnn.demo", "--help")  # runpy through the alias runs minirnn.tools.demo
    assert run.returncode == 0 and "--lookback" in run.stdout, run.stderr
