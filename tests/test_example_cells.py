"""The cells from papers in examples/cells: each is gradient-checked (and a wrong gradient of any of its
parameters is caught), trains on the adding problem, saves and loads, and can be traced.

examples/ is not a package: the cells are loaded from their files by examples/cells/train_adding.py's
``load_cell``, which executes each file once per process (``@register_cell`` refuses a second, different
class under the same name).
"""

from __future__ import annotations

import copy
import doctest
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import minirnn
from minirnn.cells import CELLS, GRUCell, LSTMCell, SimpleRNNCell
from minirnn.cli import main
from minirnn.gradcheck import check_cell
from minirnn.inspection import trace
from minirnn.layers import RNN

ROOT = Path(__file__).resolve().parent.parent
CELL_DIR = ROOT / "examples" / "cells"


def _load_train_adding():
    name = "minirnn_example_cells.train_adding"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CELL_DIR / "train_adding.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


ta = _load_train_adding()
NAMES = list(ta.CELLS)
EXAMPLES = {name: ta.load_cell(name) for name in NAMES}


def test_every_file_in_examples_cells_is_covered():
    files = {p.name for p in CELL_DIR.glob("*.py")} - {"train_adding.py"}
    assert files == {f for f, *_ in ta.CELLS.values()}


# -- 1. gradient checks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_check_cell_passes_with_one_row_per_declared_array(name):
    cell = EXAMPLES[name](4)
    report = check_cell(cell, batch=3, steps=5, features=4, seed=0)
    assert report.passed, report.table()
    assert [c.name for c in report.checks] == ["x", *(f"initial {s}" for s in cell.state_sizes), *cell.params(4)]
    # another shape and seed: units 5 (LSTMP: P = 2, which does not divide H = 5), features 3
    assert check_cell(EXAMPLES[name](5), batch=2, steps=4, features=3, seed=1).passed


@pytest.mark.parametrize("name", NAMES)
def test_cli_gradcheck_of_the_file_exits_0(name, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    # the CLI executes the file afresh: let its class take the name while the test runs (restored after)
    monkeypatch.delitem(CELLS, name)
    assert main(["gradcheck", "--cell", f"examples/cells/{ta.CELLS[name][0]}:{name}", "-q"]) == 0
    assert capsys.readouterr().out.startswith("PASS")


@pytest.mark.parametrize("name", NAMES)
def test_module_doctests_pass(name):
    module = ta.load_module(ta.CELLS[name][0])
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# -- 2. a wrong gradient of any parameter is caught -----------------------------------------------------

def perturbed(cell, name):
    """A copy of ``cell`` whose backward is wrong for parameter ``name``: at the first backward step (the
    last time step) one entry, the largest, of the gradient that carries ``name`` is shifted by 1e-3 of that
    array's largest |entry|. A parameter of a declared projection gets its gradient from the driver, through
    the projection's gradient the cell returns (``StepGrads.x`` for the input projection, ``.recurrent`` for
    the recurrent one); a parameter the cell owns, through ``StepGrads.params``."""
    ip, rp = cell.input_projection, cell.recurrent_projection
    if ip is not None and name in (ip.weight, ip.bias):
        field = "x"
    elif rp is not None and name in (rp.weight, rp.bias):
        field = "recurrent"
    else:
        field = "params"
    base = type(cell)

    def bump(a):
        a = np.array(a, dtype=np.float64)
        k = np.unravel_index(np.argmax(np.abs(a)), a.shape)
        a[k] += 1e-3 * np.abs(a).max() * np.sign(a[k])
        return a

    class Perturbed(base):  # not registered: it is never saved
        def backward(self, d_states, cache):
            g = base.backward(self, d_states, cache)
            self.calls += 1
            if self.calls > 1:
                return g
            if field == "params":
                return g._replace(params={**g.params, name: bump(g.params[name])})
            # a new array: when x and recurrent are one array (LSTM), only the named one changes
            return g._replace(**{field: bump(getattr(g, field))})

    bad = copy.copy(cell)
    bad.__class__ = Perturbed
    bad.calls = 0
    return bad


BUILTINS = {"SimpleRNNCell": lambda: SimpleRNNCell(4), "LSTMCell": lambda: LSTMCell(4),
            "GRUCell(reset_after=True)": lambda: GRUCell(4, reset_after=True),
            "GRUCell(reset_after=False)": lambda: GRUCell(4, reset_after=False)}
FACTORIES = {**{name: (lambda cls=cls: cls(4)) for name, cls in EXAMPLES.items()}, **BUILTINS}
BUG_CASES = [(cell, param) for cell, make in FACTORIES.items() for param in make().params(4)]


@pytest.mark.parametrize("cell_name, param", BUG_CASES, ids=[f"{c}-{p}" for c, p in BUG_CASES])
def test_a_wrong_gradient_of_any_parameter_fails_the_check(cell_name, param, monkeypatch, capsys):
    cell = FACTORIES[cell_name]()
    assert check_cell(cell, batch=2, steps=3, features=4, seed=0).passed
    report = check_cell(perturbed(cell, param), batch=2, steps=3, features=4, seed=0)
    assert not report.passed, report.table()
    assert param in [c.name for c in report.failures], report.table()
    # and the CLI, given the same perturbed cell instance by module:NAME, exits 1 naming the parameter
    module = types.ModuleType("perturbed_cells_for_cli")
    module.cell = perturbed(cell, param)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    capsys.readouterr()
    code = main(["gradcheck", "--cell", f"{module.__name__}:cell", "--batch", "2", "--steps", "3",
                 "--features", "4", "--seed", "0", "-q"])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("FAIL") and param in out, out


def test_cli_exits_1_on_a_perturbed_cell_in_a_file(tmp_path):
    path = tmp_path / "broken_mgu.py"
    path.write_text(
        "import importlib.util\n\n"
        f"spec = importlib.util.spec_from_file_location('mgu_example', {str(CELL_DIR / 'mgu.py')!r})\n"
        "mgu = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(mgu)\n\n\n"
        "class BrokenMGUCell(mgu.MGUCell):\n"
        "    def backward(self, d_states, cache):\n"
        "        g = super().backward(d_states, cache)\n"
        "        dU = g.params['recurrent_kernel'].copy()\n"
        "        dU[0, 0] += 1e-3 * abs(dU).max()\n"
        "        return g._replace(params={'recurrent_kernel': dU})\n")
    # the real command, in its own process (the file registers MGUCell once there)
    run = subprocess.run([sys.executable, "-m", "minirnn", "gradcheck", "--cell", f"{path}:BrokenMGUCell", "-q"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.startswith("FAIL") and "recurrent_kernel" in run.stdout


# -- 3. training on the adding problem --------------------------------------------------------------------

# Quick budgets (ta.CELLS: batch 32, T = 20, Adam(3e-3, global_clipnorm=1), seed 0) and the held-out MSE
# they reached (1000 sequences; baseline 1/6 = 0.167), measured; seeds 1-3 gave at most the value in brackets:
#   NoForgetLSTMCell   600 steps  0.030 [0.037]     PeepholeLSTMCell   600 steps  0.009 [0.029]
#   LayerNormLSTMCell  200 steps  0.005 [0.013]     LSTMPCell          700 steps  0.010 [0.013]
#   MGUCell            500 steps  0.006 [0.012]     IndRNNCell        1500 steps  0.136 [0.134] (the full run)
# The bound is the full spec's: 0.05 (IndRNN 0.15).

@pytest.mark.parametrize("name", NAMES)
def test_training_on_the_adding_problem_beats_the_baseline(name):
    _, bound, steps = ta.CELLS[name]
    model = ta.make_model(EXAMPLES[name](16), T=20, seed=0)
    ta.train(model, T=20, steps=steps, batch=32, seed=0)
    mse = ta.held_out_mse(model, T=20, seed=0)
    assert mse < bound, f"{name}: held-out MSE {mse:.4f} after {steps} steps (bound {bound})"


def test_train_adding_script_runs(capsys):
    assert ta.main(["--quick", "--cells", "MGUCell"]) == 0
    assert "MGUCell              500 steps  held-out MSE" in capsys.readouterr().out


# -- 4. save and load, 5. trace --------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_give_the_same_predictions(name, tmp_path):
    model = ta.make_model(EXAMPLES[name](5), T=6, seed=3)
    x, y = minirnn.datasets.adding_problem(8, 6, seed=0)
    model.train_on_batch(x, y)
    path = tmp_path / "model.npz"
    model.save(str(path))
    loaded = minirnn.load_model(str(path))
    assert type(loaded.layers[0].cell) is EXAMPLES[name]
    assert loaded.layers[0].cell.get_config() == model.layers[0].cell.get_config()
    assert np.array_equal(loaded.predict(x), model.predict(x))
    # the optimizer state came back too: one more step on each gives the same weights
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))


@pytest.mark.parametrize("name", NAMES)
def test_trace_shows_the_states(name):
    cell = EXAMPLES[name](5)
    layer = RNN(cell, return_sequences=True, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 7, 3)).astype(np.float32)
    tr = trace(layer, x)
    assert set(cell.state_sizes) <= set(tr.names)
    for state, size in cell.state_sizes.items():
        assert tr[state].shape == (2, 7, size)
    assert np.array_equal(tr["h"], layer(x))
