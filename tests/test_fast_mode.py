"""The fast mode of minirnn.checking.gradcheck (``fast=True``): a few seeded random unit directions per array
instead of every entry. It must still catch every injected bug of tests/test_example_cells.py and an error of
1e-3 in one entry of any array; its speed-up is measured in benchmarks/gradcheck_sweep.py --speed
(recorded in benchmarks/CHECKING.md), never here."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.cells import LSTMCell
from minirnn.checking.gradcheck import (
    DEFAULT_FAST_TOLERANCE,
    cell_problem,
    check_cell,
    check_kernel,
    check_model,
    random_directions,
)
from minirnn.layers import GRU, LSTM, RNN, Dense, Dropout

ROOT = Path(__file__).resolve().parents[1]


def _example_cell_tests():
    name = "_minirnn_tests_example_cells"  # the protocol issue's injected bugs, reused as they are
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "test_example_cells.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


ex = _example_cell_tests()


@pytest.mark.parametrize("cell_name, param", ex.BUG_CASES, ids=[f"{c}-{p}" for c, p in ex.BUG_CASES])
def test_fast_mode_catches_every_injected_bug(cell_name, param):
    cell = ex.FACTORIES[cell_name]()
    good = check_cell(cell, batch=2, steps=3, features=4, seed=0, fast=True)
    assert good.passed and good.fast, good.table()
    report = check_cell(ex.perturbed(cell, param), batch=2, steps=3, features=4, seed=0, fast=True)
    assert not report.passed and param in [c.name for c in report.failures], report.table()


@pytest.mark.parametrize("cell_name", ["LSTMCell", "LayerNormLSTMCell", "IndRNNCell", "LSTMPCell"])
def test_fast_mode_catches_an_error_of_1e_3_in_one_entry_of_any_array(cell_name):
    """In each array: the largest gradient entry made 1e-3 relatively wrong, and a random entry moved by
    1e-3 of the array's largest |gradient| (an error relative to a gradient near 0 is no error at all)."""
    forward, backward, inputs = cell_problem(ex.FACTORIES[cell_name](), seed=0)
    rng = np.random.default_rng(3)
    for name in inputs:
        for which in ("largest", "random"):
            def bad(cache, d, name=name, which=which):
                grads = dict(backward(cache, d))
                v = np.array(grads[name])
                mag = np.abs(v).reshape(-1)
                k = int(np.argmax(mag)) if which == "largest" else int(rng.integers(v.size))
                v.reshape(-1)[k] += 1e-3 * (v.reshape(-1)[k] if which == "largest" else mag.max())
                return {**grads, name: v}

            report = check_kernel(forward, bad, inputs, seed=1, fast=True, taylor=False,
                                  fixed=[n for n in inputs if n != name])
            assert not report.passed, (name, which, report.table())


def test_fast_mode_is_seeded_and_checks_the_founding_and_stacked_models(rng):
    founding = Sequential([LSTM(50, activation="relu", input_shape=(10, 1), seed=0), Dropout(0.2, seed=1),
                           Dense(1, seed=2)])
    founding.compile("adam", "mse")
    x, y = rng.standard_normal((32, 10, 1)), rng.standard_normal((32, 1))
    a, b = check_model(founding, x, y, fast=True), check_model(founding, x, y, fast=True)
    assert a.passed, a.table()
    assert a.to_dict() == b.to_dict()  # the same directions: the same numbers, bit for bit
    assert a.tolerance == DEFAULT_FAST_TOLERANCE and all(c.directions == 2 for c in a.checks)
    stacked = Sequential([LSTM(16, return_sequences=True, input_shape=(12, 3), seed=0), GRU(8, seed=1),
                          Dense(1, seed=2)])
    stacked.compile("adam", "mse")
    report = check_model(stacked, rng.standard_normal((8, 12, 3)), rng.standard_normal((8, 1)), fast=True,
                         directions=3)
    assert report.passed and all(c.directions == 3 for c in report.checks), report.table()


def test_fast_mode_catches_a_wrong_cell_inside_a_model(rng):
    bad = ex.perturbed(LSTMCell(4), "recurrent_kernel")
    model = Sequential([RNN(bad, input_shape=(5, 3), dtype="float64", seed=0), Dense(1, dtype="float64", seed=1)])
    model.compile("sgd", "mse")
    bad.calls = -10**9  # perturbed() shifts only its first backward call: here, every call
    report = check_model(model, rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 1)), fast=True)
    assert not report.passed and "rnn.recurrent_kernel" in [c.name for c in report.failures], report.table()


def test_random_directions_are_unit_and_use_every_entry():
    rng = np.random.default_rng(0)
    for v in random_directions((4, 6), 3, rng):
        assert np.linalg.norm(v) == pytest.approx(1.0)
        ratio = np.abs(v).min() / np.abs(v).max()
        assert ratio >= 1 / 3  # magnitudes in [0.5, 1.5] before normalising
