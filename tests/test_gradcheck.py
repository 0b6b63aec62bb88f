"""minirnn.gradcheck: reports, the Taylor-remainder test, the kernel/cell/layer/model checks, and a
deliberately broken backward pass caught three ways (finite differences, Taylor slope, CLI exit code)."""

import importlib.util
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.cells import Cell, GRUCell, LSTMCell, Param, SimpleRNNCell, StepGrads, driver
from minirnn.cli import load_object, main
from minirnn.gradcheck import (
    DEFAULT_MIN_SLOPE,
    DEFAULT_TOLERANCE,
    check_cell,
    check_gradients,
    check_kernel,
    check_layer,
    check_model,
    numerical_gradient,
    relative_error,
    taylor_test,
)
from minirnn.kernels import dense_backward, dense_forward
from minirnn.layers import LSTM, RNN, Dense, Dropout, SimpleRNN

ROOT = Path(__file__).resolve().parents[1]


# -- the basic tools -----------------------------------------------------------------------------------

def test_numerical_gradient_is_central_differences_and_restores_x():
    x = np.array([[0.3, -1.2], [2.0, 0.5]])
    before = x.copy()
    g = numerical_gradient(lambda: float(np.sum(np.sin(x) * x)), x)
    assert np.allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-9, atol=1e-10)
    assert np.array_equal(x, before)
    with pytest.raises(TypeError, match="floating"):
        numerical_gradient(lambda: 0.0, np.array([1, 2]))


def test_relative_error_definition():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0
    assert relative_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="shape"):
        relative_error(np.zeros(2), np.zeros(3))


def test_taylor_slope_is_two_for_the_right_gradient_and_one_for_a_wrong_one():
    w = np.array([0.4, -0.7, 1.1])
    f = lambda: float(np.sum(np.tanh(w) ** 2))  # noqa: E731
    g = 2 * np.tanh(w) * (1 - np.tanh(w) ** 2)
    right = taylor_test(f, w, g)
    assert right.passed and 1.9 < right.slope < 2.1
    wrong = g.copy()
    wrong[1] *= -1
    bad = taylor_test(f, w, wrong)
    assert not bad.passed and 0.9 < bad.slope < 1.1
    assert np.all(np.diff(bad.remainders) < 0)  # remainders still shrink, only too slowly


def test_taylor_test_calls_a_linear_function_exact_unless_the_gradient_is_wrong():
    a = np.array([1.5, -2.0, 0.25])
    w = np.array([0.1, 0.2, 0.3])
    f = lambda: float(a @ w)  # noqa: E731
    exact = taylor_test(f, w, a)
    assert exact.exact and exact.passed and exact.describe() == "exact"
    off = taylor_test(f, w, a + np.array([0.0, 1e-3, 0.0]))
    assert not off.exact and not off.passed and abs(off.slope - 1) < 0.05


def test_taylor_test_restores_w_and_validates():
    w = np.array([0.5, 1.0])
    taylor_test(lambda: float(np.sum(w ** 3)), w, 3 * w ** 2)
    assert w.tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="shape"):
        taylor_test(lambda: 0.0, w, np.zeros(3))
    with pytest.raises(ValueError, match="steps"):
        taylor_test(lambda: 0.0, w, np.zeros(2), steps=[0.1])


# -- the report ----------------------------------------------------------------------------------------

def test_report_rows_worst_index_and_table():
    w = np.array([[0.3, -0.4], [0.9, 0.1]])
    wrong = np.cos(w)
    wrong[1, 0] += 0.5
    report = check_gradients(lambda: float(np.sin(w).sum()), {"w": w}, {"w": wrong}, title="sin")
    row = report["w"]
    assert not report.passed and report.failures == [row]
    assert row.worst_index == (1, 0)
    assert row.abs_error == pytest.approx(0.5, rel=1e-6)
    assert row.analytic_at_worst == pytest.approx(np.cos(0.9) + 0.5)
    assert row.numeric_at_worst == pytest.approx(np.cos(0.9), rel=1e-8)
    assert row.rel_error > DEFAULT_TOLERANCE and not row.fd_passed
    table = str(report)
    assert table.splitlines()[0].startswith("sin  [FAIL")
    assert "FAIL" in table.splitlines()[-1] and "(1, 0)" in table
    d = report.to_dict()
    assert d["passed"] is False and d["arrays"][0]["worst_index"] == [1, 0]
    with pytest.raises(KeyError, match="no array named"):
        report["v"]


def test_check_gradients_validates_its_arguments():
    w = np.ones(2)
    missing = check_gradients(lambda: 0.0, {"w": w}, {})  # no gradient for w: no row, listed, no PASS
    assert not missing.passed and missing.missing == ["w"] and "no gradient" in missing.unchecked["w"]
    assert "w: not checked: the backward pass returned no gradient" in missing.table()
    with pytest.raises(ValueError, match="shape"):
        check_gradients(lambda: 0.0, {"w": w}, {"w": np.ones(3)})
    with pytest.raises(TypeError, match="float64"):
        check_gradients(lambda: 0.0, {"w": w.astype(np.float32)}, {"w": w})
    with pytest.raises(ValueError, match="tol"):
        check_gradients(lambda: 0.0, {"w": w}, {"w": w}, tol=0)


# -- kernels, cells, layers, models --------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_check_kernel_on_the_dense_kernel(rng, activation):
    inputs = {"x": rng.standard_normal((3, 4, 2)), "kernel": rng.standard_normal((2, 3)),
              "bias": rng.standard_normal(3)}
    report = check_kernel(lambda a: dense_forward(a["x"], a["kernel"], a["bias"], activation),
                          lambda c, dy: dict(zip(["x", "kernel", "bias"], dense_backward(c, dy))), inputs)
    assert report.passed, report
    assert [c.name for c in report.checks] == ["x", "kernel", "bias"]


def test_check_kernel_catches_a_wrong_dense_backward(rng):
    inputs = {"x": rng.standard_normal((3, 2)), "kernel": rng.standard_normal((2, 3)), "bias": rng.standard_normal(3)}

    def wrong_backward(cache, dy):
        dx, dk, db = dense_backward(cache, dy)
        return {"x": dx, "kernel": dk, "bias": -db}

    report = check_kernel(lambda a: dense_forward(a["x"], a["kernel"], a["bias"], "tanh"), wrong_backward, inputs)
    assert [c.name for c in report.failures] == ["bias"]


@pytest.mark.parametrize("cell", [SimpleRNNCell(3, "tanh"), SimpleRNNCell(3, "relu"), LSTMCell(3),
                                  LSTMCell(3, "relu", "hard_sigmoid"), GRUCell(3), GRUCell(3, reset_after=False),
                                  GRUCell(3, "relu", "hard_sigmoid")], ids=repr)
def test_check_cell_passes_the_builtin_cells(cell):
    report = check_cell(cell, batch=2, steps=4, features=3, seed=1)
    assert report.passed, report
    names = ["x", *(f"initial {s}" for s in cell.state_sizes), "kernel", "recurrent_kernel", "bias"]
    assert [c.name for c in report.checks] == names
    assert all(c.rel_error < 1e-8 for c in report.checks)


def test_check_cell_rejects_what_is_not_a_cell():
    with pytest.raises(TypeError, match="class"):
        check_cell(LSTMCell)
    with pytest.raises(TypeError, match="protocol"):
        check_cell(object())

    class NoStates(SimpleRNNCell):
        state_sizes = {}

    with pytest.raises(ValueError, match="state_sizes must be a non-empty dict"):
        check_cell(NoStates(2))

    class ZeroSizedState(SimpleRNNCell):
        state_sizes = {"h": 0}

    with pytest.raises(ValueError, match="state_sizes must be a non-empty dict"):
        check_cell(ZeroSizedState(2))
    with pytest.raises(ValueError, match="units"):
        LSTMCell(0)  # units are the cell's now, validated when it is made
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        check_cell(LSTMCell(2), batch=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'units'"):
        check_cell(LSTMCell(2), units=3)  # the old keyword is gone: no silent default


@pytest.mark.parametrize("layer", [
    SimpleRNN(3, return_sequences=True, seed=0), LSTM(3, activation="relu", return_state=True, seed=0),
    Dense(2, activation="sigmoid", seed=0)], ids=lambda lay: type(lay).__name__)
def test_check_layer_checks_a_float32_layer_through_a_float64_copy(rng, layer):
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    layer.build(x.shape[1:])
    before = layer.get_weights()
    report = check_layer(layer, x)
    assert report.passed, report
    assert layer.dtype == np.float32 and all(np.array_equal(a, b) for a, b in zip(before, layer.get_weights()))
    expected = {"x", *layer.params} | ({"initial h"} if isinstance(layer, (SimpleRNN, LSTM)) else set())
    assert expected <= {c.name for c in report.checks}


def test_check_layer_copies_wrapped_layers_to_float64_too(rng):
    from minirnn.gradcheck import float64_copy
    from minirnn.layers import GRU, Bidirectional, TimeDistributed

    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    for layer in (Bidirectional(GRU(3, return_sequences=True, seed=0), merge_mode="mul"),
                  TimeDistributed(Dense(2, activation="tanh", seed=0))):
        layer.build(x.shape[1:])
        copy = float64_copy(layer)
        assert all(w.dtype == np.float64 for w in copy.params.values())
        assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), copy.get_weights()))
        report = check_layer(layer, x)
        assert report.passed, report


def test_check_layer_resets_a_stateful_layer_before_every_probe(rng):
    layer = LSTM(3, stateful=True, dtype="float64", seed=0)
    x = rng.standard_normal((2, 4, 2))
    layer.build(x.shape[1:])
    report = check_layer(layer, x, initial_state=None)
    assert report.passed, report


def test_check_layer_dropout_in_training_uses_one_fixed_mask(rng):
    report = check_layer(Dropout(0.5), rng.standard_normal((4, 6)), training=True)
    assert report.passed and report["x"].taylor.exact  # y = x * mask is linear in x


def test_check_layer_without_x_needs_a_built_layer():
    with pytest.raises(ValueError, match="needs x"):
        check_layer(LSTM(2))
    layer = LSTM(2, seed=0)
    layer.build((3, 2))
    assert check_layer(layer, batch=2).passed


def test_check_model_founding_architecture_with_dropout(rng, quiet_broadcast):
    model = Sequential([LSTM(4, activation="relu", input_shape=(5, 1), seed=0), Dropout(0.2), Dense(1, seed=0)])
    model.compile("adam", "mse")
    x = rng.standard_normal((3, 5, 1))
    report = check_model(model, x, x, training=True)
    assert report.passed, report
    assert [c.name for c in report.checks] == ["x", "lstm.kernel", "lstm.recurrent_kernel", "lstm.bias",
                                                "dense.kernel", "dense.bias"]
    with pytest.raises(ValueError, match="compile"):
        check_model(Sequential([Dense(1, input_shape=(2,))]), np.ones((2, 2)), np.ones((2, 1)))


# -- a deliberately broken backward: a copy of LSTMCell.backward with one sign flipped -------------------

def _broken_cell_source() -> str:
    source = textwrap.dedent(inspect.getsource(LSTMCell.backward))
    flip = "dc = dc + dh * o * self.a.grad(a_c)"
    assert source.count(flip) == 1, "the cell changed: pick another sign to flip"
    # dc += dh * o * a'(c_t) is the path from h_t back into the cell state; flip it
    broken = source.replace(flip, flip.replace("dc + dh", "dc - dh"))
    # the copied method runs in a copy of the cell module's namespace, so it finds every name it uses
    return ("import minirnn.cells.lstm as _cell_module\n\n"
            "globals().update({k: v for k, v in vars(_cell_module).items() if not k.startswith('__')})\n\n\n"
            "class BrokenLSTMCell(LSTMCell):\n"
            "    \"\"\"LSTMCell with one sign flipped in backward (built by a test).\"\"\"\n\n"
            + textwrap.indent(broken, "    "))


@pytest.fixture
def broken_cell_file(tmp_path):
    path = tmp_path / "broken_cell.py"
    path.write_text(_broken_cell_source())
    return path


def test_broken_backward_is_caught_by_finite_differences_and_by_the_taylor_test(broken_cell_file):
    broken = load_object(f"{broken_cell_file}:BrokenLSTMCell")(4)
    assert isinstance(broken, LSTMCell)
    good = check_cell(LSTMCell(4), seed=3)
    bad = check_cell(broken, seed=3)
    assert good.passed, good
    assert not bad.passed
    # the forward pass is untouched, so only gradients that flow through the cell state are wrong
    failed = {c.name for c in bad.failures}
    assert {"x", "kernel", "recurrent_kernel", "bias", "initial h"} <= failed
    for name in failed:
        assert bad[name].rel_error > 1e-3, bad
        assert 0.8 < bad[name].taylor.slope < 1.2, bad  # first-order error: slope ~1
        # right gradient: the Taylor remainder is O(h^2), measured slopes 2.000 +- 0.001 for this seed
        assert abs(good[name].taylor.slope - 2) < 0.05, good
    assert bad.min_taylor_slope < DEFAULT_MIN_SLOPE <= good.min_taylor_slope


def test_broken_backward_inside_a_layer_is_caught_by_check_layer(broken_cell_file, rng):
    broken_cls = load_object(f"{broken_cell_file}:BrokenLSTMCell")
    x = rng.standard_normal((2, 4, 2))
    good = check_layer(RNN(LSTMCell(3), return_sequences=True, dtype="float64", seed=0), x)
    assert good.passed, good
    report = check_layer(RNN(broken_cls(3), return_sequences=True, dtype="float64", seed=0), x)
    assert not report.passed and "kernel" in {c.name for c in report.failures}


def test_broken_backward_makes_the_cli_exit_nonzero(broken_cell_file, capsys):
    assert main(["gradcheck", "--cell", f"{broken_cell_file}:BrokenLSTMCell"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "BrokenLSTMCell" in out
    assert main(["gradcheck", "--cell", "minirnn.cells:LSTMCell", "-q"]) == 0
    assert capsys.readouterr().out.startswith("PASS")


def test_broken_backward_exit_status_of_the_real_command(broken_cell_file):
    run = subprocess.run([sys.executable, "-m", "minirnn", "gradcheck", "--cell",
                          f"{broken_cell_file}:BrokenLSTMCell", "--steps", "3", "--quiet"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.startswith("FAIL")


# -- user cells written on the protocol of minirnn.cells.base ------------------------------------------

class Elman(Cell):
    """h_t = tanh(x_t @ W_xh + h_{t-1} @ W_hh + b_h), its own parameter names, no declared projection."""

    def __init__(self, units):
        self.units = units

    @property
    def state_sizes(self):
        return {"h": self.units}

    def params(self, input_size):
        return {"W_xh": Param((input_size, self.units), "glorot_uniform", "matrix"),
                "W_hh": Param((self.units, self.units), "orthogonal", "matrix"),
                "b_h": Param((self.units,), "zeros", "bias")}

    def forward(self, x, states, p):
        (h_prev,) = states
        h = np.tanh(x @ p["W_xh"] + h_prev @ p["W_hh"] + p["b_h"])
        return (h,), {"x": x, "h_prev": h_prev, "h": h, "p": p}

    def grads(self, d_states, cache):
        (dh,), p = d_states, cache["p"]
        dz = dh * (1 - cache["h"] ** 2)
        return dz, dz @ p["W_hh"].T, dz @ p["W_xh"].T, {"W_xh": cache["x"].T @ dz, "W_hh": cache["h_prev"].T @ dz,
                                                        "b_h": dz.sum(axis=0)}

    def backward(self, d_states, cache):
        _, dh_prev, dx, dp = self.grads(d_states, cache)
        return StepGrads(states=(dh_prev,), x=dx, params=dp)


def _example_module(filename):
    """examples/cells/<filename>, loaded once per process under the name examples/cells/train_adding.py
    uses (examples/ is not a package), so its @register_cell sees one class."""
    name = "minirnn_example_cells." + Path(filename).stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "cells" / filename)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# the 1997 LSTM without a forget gate (c_t = c_{t-1} + i g): both projections declared, three gate blocks
NoForgetLSTMCell = _example_module("no_forget_lstm.py").NoForgetLSTMCell


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_user_cells_pass_check_cell(activation):
    report = check_cell(NoForgetLSTMCell(4, activation), seed=2)
    assert report.passed, report
    assert [c.name for c in report.checks] == ["x", "initial h", "initial c", "kernel", "recurrent_kernel", "bias"]
    assert report["kernel"].shape == (4, 12)  # three gate blocks
    elman = check_cell(Elman(3), batch=2, steps=4, features=2, seed=2)
    assert elman.passed, elman
    assert [c.name for c in elman.checks] == ["x", "initial h", "W_xh", "W_hh", "b_h"]
    assert all(c.rel_error < 1e-8 for c in elman.checks)


def test_a_user_cell_differs_from_an_lstm_as_its_equations_say():
    # without a forget gate the cell state only accumulates, c_T = c_0 + sum_t i_t g_t: with no
    # recurrent weights (gates see x only) and only c_T read, dL/dc_0 = dL/dc_T exactly, for any T
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 50, 3))
    p = {"kernel": rng.standard_normal((3, 6)), "recurrent_kernel": np.zeros((2, 6)), "bias": np.zeros(6)}
    _, _, cache = driver.forward(NoForgetLSTMCell(2), x, p)
    r = rng.standard_normal((2, 2))
    g = driver.backward(cache, None, [None, r])
    assert np.array_equal(g.initial_states[1], r)
    # an LSTM with its forget gate at s(z_f) < 1 forgets: the same gradient shrinks over 50 steps
    q = {"kernel": rng.standard_normal((3, 8)), "recurrent_kernel": np.zeros((2, 8)), "bias": np.zeros(8)}
    g_lstm = driver.backward(driver.forward(LSTMCell(2), x, q)[2], None, [None, r])
    assert np.abs(g_lstm.initial_states[1]).max() < 1e-3 * np.abs(r).max()


def test_a_user_cell_gets_a_layer(rng):
    layer = RNN(Elman(3), return_sequences=True, dtype="float64", seed=0)
    report = check_layer(layer, rng.standard_normal((2, 4, 2)))
    assert report.passed, report
    assert {"x", "initial h", "W_xh", "W_hh", "b_h"} == {c.name for c in report.checks}


def test_a_wrong_but_well_formed_backward_fails_check_cell_on_exactly_the_wrong_array():
    class WrongBias(Elman):
        def backward(self, d_states, cache):
            g = super().backward(d_states, cache)
            return g._replace(params={**g.params, "b_h": 2 * g.params["b_h"]})

    report = check_cell(WrongBias(3), seed=4)
    assert not report.passed
    assert [c.name for c in report.failures] == ["b_h"]
    assert report["b_h"].rel_error > 0.1 and 0.8 < report["b_h"].taylor.slope < 1.2


class _OmitsAGradient(Elman):
    def backward(self, d_states, cache):
        _, dh_prev, dx, dp = self.grads(d_states, cache)
        del dp["b_h"]
        return StepGrads((dh_prev,), dx, dp)


class _WrongGradientShape(Elman):
    def backward(self, d_states, cache):
        _, dh_prev, dx, dp = self.grads(d_states, cache)
        return StepGrads((dh_prev,), dx, {**dp, "b_h": dp["b_h"][None]})  # (1, H), not (H,)


class _UndeclaredGradient(Elman):
    def backward(self, d_states, cache):
        _, dh_prev, dx, dp = self.grads(d_states, cache)
        return StepGrads((dh_prev,), dx, {**dp, "gain": np.ones(self.units)})


class _WrongInputGradientShape(Elman):
    def backward(self, d_states, cache):
        _, dh_prev, dx, dp = self.grads(d_states, cache)
        return StepGrads((dh_prev,), dx.T, dp)


class _WrongStateGradientShape(Elman):
    def backward(self, d_states, cache):
        _, dh_prev, dx, dp = self.grads(d_states, cache)
        return StepGrads((dh_prev[:, :1],), dx, dp)


class _ReturnsAProjectionsGradient(NoForgetLSTMCell):
    def backward(self, d_states, cache):
        g = super().backward(d_states, cache)
        return g._replace(params={"kernel": np.zeros((4, 12))})


class _NoRecurrentGradient(NoForgetLSTMCell):
    def backward(self, d_states, cache):
        return super().backward(d_states, cache)._replace(recurrent=None)


@pytest.mark.parametrize("cls, message", [
    (_OmitsAGradient, r"_OmitsAGradient.backward must return the gradient of every parameter it owns "
                      r"\['W_hh', 'W_xh', 'b_h'\].*got \['W_hh', 'W_xh'\]"),
    (_WrongGradientShape, r"_WrongGradientShape.backward: gradient of 'b_h' must have shape \(3,\); got \(1, 3\)"),
    (_UndeclaredGradient, r"every parameter it owns .*got \['W_hh', 'W_xh', 'b_h', 'gain'\]"),
    (_WrongInputGradientShape, r"the step input's gradient must have shape \(2, 4\); got \(4, 2\)"),
    (_WrongStateGradientShape, r"backward's state gradients 'h' must have shape \(2, 3\); got \(2, 1\)"),
    (_ReturnsAProjectionsGradient, r"those of a declared projection are the driver's\); got \['kernel'\]"),
    (_NoRecurrentGradient, r"declares a recurrent projection: backward must return its gradient"),
])
def test_a_malformed_backward_gets_the_drivers_value_error(rng, cls, message):
    cell = cls(3)
    x = rng.standard_normal((2, 5, 4))
    p = {n: rng.standard_normal(s.shape) for n, s in cell.params(4).items()}
    y, _, cache = driver.forward(cell, x, p)
    with pytest.raises(ValueError, match=message):
        driver.backward(cache, np.ones_like(y))
    with pytest.raises(ValueError, match=cls.__name__):  # check_cell does not hide it
        check_cell(cell, batch=2, features=4)


def test_check_layer_of_a_float32_layer_around_an_unregistered_cell_says_what_to_do(rng):
    x = rng.standard_normal((2, 4, 2))
    with pytest.raises(ValueError, match=r"float64 copy of RNN\(Elman\).*register_cell.*dtype='float64'"):
        check_layer(RNN(Elman(3), seed=0), x.astype(np.float32))
    assert check_layer(RNN(Elman(3), dtype="float64", seed=0), x).passed
