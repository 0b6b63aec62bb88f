"""``minirnn gradcheck`` options of issue 14: --h/--step, --tol, --fast (--directions); --cell NAME as a class,
an instance or a factory; options that do not apply refused with exit 2 naming the option; a cell that cannot
be built for the sizes is a usage error (exit 2, no traceback); an overflowing forward pass says so."""

import subprocess
import sys
import textwrap

import pytest

from minirnn.cli import main

SOURCE = textwrap.dedent('''
    import numpy as np
    from minirnn.cells import Cell, Param, StepGrads, LSTMCell


    class Plain(Cell):
        """h_t = tanh(x_t W + h_{t-1} U): no activation, no bias option."""

        def __init__(self, units):
            self.units = units

        @property
        def state_sizes(self):
            return {"h": self.units}

        def params(self, input_size):
            return {"W": Param((input_size, self.units), "glorot_uniform", "matrix"),
                    "U": Param((self.units, self.units), "orthogonal", "matrix")}

        def forward(self, x, states, p):
            h = np.tanh(x @ p["W"] + states[0] @ p["U"])
            return (h,), (x, states[0], h, p)

        def backward(self, d_states, cache):
            x, h_prev, h, p = cache
            dz = d_states[0] * (1 - h ** 2)
            return StepGrads(states=(dz @ p["U"].T,), x=dz @ p["W"].T,
                             params={"W": x.T @ dz, "U": h_prev.T @ dz})


    class NeedsEvenFeatures(Plain):
        def params(self, input_size):
            if input_size % 2:
                raise ValueError(f"input size must be even; got {input_size}")
            return super().params(input_size)


    class Exploding(Plain):
        def forward(self, x, states, p):
            h = 1e200 * states[0] + x @ p["W"]
            return (h,), (x, states[0], h, p)


    def small_lstm():
        return LSTMCell(2)


    def sized_lstm(units=3, activation="tanh"):
        return LSTMCell(units, activation=activation)


    instance = Plain(2)
''')


@pytest.fixture
def cells(tmp_path, monkeypatch):
    (tmp_path / "user_cells.py").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*argv):
    return main(["gradcheck", *argv])


def test_step_tolerance_and_fast_options(cells, capsys):
    assert run("--cell", "user_cells.py:Plain", "--h", "2e-5", "--tol", "1e-6") == 0
    out = capsys.readouterr().out
    assert "rel err <= 1e-06" in out and " 2e-05" in out  # the step column shows the step used
    assert run("--cell", "user_cells.py:Plain", "--step", "3e-5", "-q") == 0
    capsys.readouterr()
    assert run("--cell", "user_cells.py:Plain", "--fast", "--directions", "3") == 0
    assert "fast: 3 random directions per array; rel err <= 1e-08" in capsys.readouterr().out
    assert run("--layer", "gru", "--fast", "-q") == 0
    assert capsys.readouterr().out.startswith("PASS  GRU(")


def test_a_factory_an_instance_and_a_class(cells, capsys):
    assert run("--cell", "user_cells.py:small_lstm", "-q") == 0  # a zero-argument factory
    assert "LSTMCell(units=2" in capsys.readouterr().out
    assert run("--cell", "user_cells.py:sized_lstm", "--units", "5", "--activation", "relu", "-q") == 0
    assert "LSTMCell(units=5, activation='relu'" in capsys.readouterr().out
    assert run("--cell", "user_cells.py:instance", "-q") == 0
    assert run("--cell", "user_cells.py:Plain", "--units", "3", "-q") == 0
    assert "Plain(units=3)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--return-sequences"], "--return-sequences applies to the built-in layers (--layer), not to --cell"),
    (["--dropout", "0.2", "--training"], "--dropout, --training apply to the built-in layers"),
    (["--inner", "gru"], "--inner applies"),
    (["--merge-mode", "sum"], "--merge-mode applies"),
    (["--rate", "0.3"], "--rate applies"),
    (["--activation", "relu"], "--activation does not apply: Plain takes no 'activation' argument"),
    (["--no-bias"], "--no-bias does not apply: Plain takes no 'use_bias' argument"),
    (["--directions", "3"], "--directions applies to --fast only"),
])
def test_options_that_do_not_apply_to_the_cell_exit_2_naming_the_option(cells, capsys, argv, message):
    assert run("--cell", "user_cells.py:Plain", *argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("spec, argv, message", [
    ("user_cells.py:instance", ["--units", "3"], "takes no options; got --units"),
    ("user_cells.py:instance", ["--activation", "relu"], "takes no options; got --activation"),
    ("user_cells.py:small_lstm", ["--units", "3"], "--units does not apply: the factory small_lstm takes no 'units'"),
    ("user_cells.py:NeedsEvenFeatures", ["--features", "3"],
     "cannot be built for features D=3: ValueError: input size must be even; got 3"),
    ("minirnn.cells:LSTMCell", ["--cell-kwargs", '{"activation": "nope"}'], "nope"),
])
def test_a_cell_that_cannot_be_built_or_configured_is_a_usage_error(cells, capsys, spec, argv, message):
    assert run("--cell", spec, *argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cell_kwargs_without_a_cell_exit_2(capsys):
    assert run("--layer", "lstm", "--cell-kwargs", "{}") == 2
    assert "--cell-kwargs applies to --cell only" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        run("--layer", "lstm", "--h", "2")
    assert e.value.code == 2
    assert "the step must be a number in (0, 1)" in capsys.readouterr().err


def test_an_overflowing_forward_pass_says_so_not_nan(cells, capsys):
    assert run("--cell", "user_cells.py:Exploding", "--steps", "4", "-q") == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL") and "the forward pass overflowed at step 2 (of 4); try smaller weights/steps" in out
    assert "nan" not in out


def test_the_cli_prints_what_it_did_not_check(capsys):
    assert run("--layer", "masking", "--inner", "gru", "-q", "--fast") == 0
    assert "[x: not checked: input_gradient=False" in capsys.readouterr().out


def test_the_real_command_exits_2_without_a_traceback(cells):
    for argv in (["--cell", "user_cells.py:NeedsEvenFeatures", "--features", "5"],
                 ["--cell", "user_cells.py:Plain", "--go-backwards"]):
        run_ = subprocess.run([sys.executable, "-m", "minirnn", "gradcheck", *argv], capture_output=True, text=True,
                              cwd=cells, timeout=120)
        assert run_.returncode == 2 and "Traceback" not in run_.stderr and "error:" in run_.stderr, run_.stderr
