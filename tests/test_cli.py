"""The minirnn command line: the subcommand registry, `gradcheck` over every built-in layer, one layer
with options, user cells by module or file path, and exit statuses."""

import configparser
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minirnn.tools import cli
from minirnn.tools.cli import SUBCOMMANDS, default_grid, load_object, main, subcommand

ROOT = Path(__file__).resolve().parents[1]


def test_gradcheck_passes_on_every_builtin_layer(capsys):
    from minirnn.layers import LAYERS

    cases = default_grid()
    assert {c.layer for c in cases} == {"simple_rnn", "lstm", "gru", "dense", "dropout", "bidirectional",
                                        "time_distributed", "masking", "embedding"}
    # every layer class minirnn registers is in the grid (a new one must be added to the CLI); RNN(cell) is
    # the class SimpleRNN, LSTM and GRU are configurations of (every recurrent case runs its code), and any
    # other cell is checked with --cell
    assert {name.lower() for name in LAYERS} == {"simplernn", "lstm", "gru", "dense", "dropout", "bidirectional",
                                                 "timedistributed", "masking", "rnn", "embedding"}
    assert all(issubclass(LAYERS[name], LAYERS["RNN"]) for name in ("SimpleRNN", "LSTM", "GRU"))
    for layer in ("simple_rnn", "lstm", "gru"):
        assert {c.activation for c in cases if c.layer == layer} >= {"tanh", "relu", "sigmoid", "linear",
                                                                     "hard_sigmoid"}
        assert {(c.return_sequences, c.return_state) for c in cases if c.layer == layer} == {
            (False, False), (False, True), (True, False), (True, True)}
        options = {k for c in cases if c.layer == layer for k, _ in c.options}
        assert {"go_backwards", "dropout", "recurrent_dropout"} <= options
    assert ("reset_after", False) in {o for c in cases for o in c.options}
    assert {c.merge_mode for c in cases if c.layer == "bidirectional"} == {"concat", "sum", "mul", "ave", None}
    assert main(["gradcheck", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(cases) + 1
    assert all(line.startswith("PASS") for line in lines[:-1])
    assert lines[-1] == f"{len(cases)} of {len(cases)} configurations passed"


def test_gradcheck_one_layer_with_the_options_of_the_issue(capsys):
    argv = ["gradcheck", "--layer", "lstm", "--activation", "relu", "--batch", "3", "--steps", "5", "--units", "4",
            "--seed", "0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "LSTM(4, activation=relu" in out and "on x(3, 5, 3)" in out
    for row in ("x ", "initial h", "initial c", "kernel", "recurrent_kernel", "bias"):
        assert row in out
    assert out.count(" ok") == 6 and "FAIL" not in out


@pytest.mark.parametrize("argv, expected", [
    (["--layer", "simple_rnn", "--return-sequences", "--return-state", "--no-bias"], "use_bias=False"),
    (["--layer", "gru", "--no-reset-after", "--go-backwards"], "go_backwards, reset_after=False"),
    (["--layer", "lstm", "--dropout", "0.2", "--recurrent-dropout", "0.3", "--training"],
     "dropout=0.2, recurrent_dropout=0.3"),
    (["--layer", "bidirectional", "--inner", "gru", "--merge-mode", "none", "--return-sequences"],
     "Bidirectional(GRU(4"),
    (["--layer", "time_distributed", "--activation", "relu"], "TimeDistributed(Dense(4, activation=relu))"),
    (["--layer", "masking", "--inner", "simple_rnn"], "Masking(0.0) + SimpleRNN(4"),
    (["--layer", "dense", "--activation", "tanh", "--features", "2"], "Dense(4, activation=tanh) on x(3, 5, 2)"),
    (["--layer", "dropout", "--training", "--rate", "0.5"], "Dropout(0.5)"),
    (["--activation", "sigmoid", "--batch", "1", "--steps", "2", "--features", "1", "--units", "1"],
     "configurations passed"),
])
def test_gradcheck_variants(capsys, argv, expected):
    assert main(["gradcheck", "-q", *argv]) == 0
    assert expected in capsys.readouterr().out


# -- user cells: small cells written on the protocol of minirnn.cells.base, in files under tmp_path ------

CELLS_SOURCE = textwrap.dedent('''
    import numpy as np

    from minirnn.cells import Cell, GatedCell, Param, Projection, SimpleRNNCell, StepGrads


    class Elman(Cell):
        """h_t = a(x_t @ W_xh + h_{t-1} @ W_hh + b_h): its own parameter names, no declared projection."""

        def __init__(self, units, activation="tanh"):
            self.units, self.activation = units, activation

        @property
        def state_sizes(self):
            return {"h": self.units}

        def params(self, input_size):
            return {"W_xh": Param((input_size, self.units), "glorot_uniform", "matrix"),
                    "W_hh": Param((self.units, self.units), "orthogonal", "matrix"),
                    "b_h": Param((self.units,), "zeros", "bias")}

        def forward(self, x, states, p):
            (h_prev,) = states
            z = x @ p["W_xh"] + h_prev @ p["W_hh"] + p["b_h"]
            h = np.tanh(z) if self.activation == "tanh" else np.maximum(z, 0.0)
            return (h,), {"x": x, "h_prev": h_prev, "h": h, "p": p}

        def backward(self, d_states, cache):
            (dh,), p, h = d_states, cache["p"], cache["h"]
            dz = dh * ((1 - h ** 2) if self.activation == "tanh" else (h > 0))
            return StepGrads(states=(dz @ p["W_hh"].T,), x=dz @ p["W_xh"].T,
                             params={"W_xh": cache["x"].T @ dz, "W_hh": cache["h_prev"].T @ dz,
                                     "b_h": dz.sum(axis=0)})


    class NoForgetLSTMCell(GatedCell):
        """An LSTM without a forget gate, c_t = c_{t-1} + i g; both projections declared, three gate blocks."""

        input_projection = Projection("kernel", bias="bias", blocks=3)
        recurrent_projection = Projection("recurrent_kernel", state="h", blocks=3)

        @property
        def state_sizes(self):
            return {"h": self.units, "c": self.units}

        def params(self, input_size):
            H = self.units
            return {"kernel": Param((input_size, 3 * H), "glorot_uniform", "matrix"),
                    "recurrent_kernel": Param((H, 3 * H), "orthogonal", "matrix"),
                    "bias": Param((3 * H,), "zeros", "bias")}

        def forward(self, xw, states, p, hu):
            h_prev, c_prev = states
            z, H = xw + hu, self.units
            i, g, o = self.s(z[:, :H]), self.a(z[:, H:2 * H]), self.s(z[:, 2 * H:])
            c = c_prev + i * g
            a_c = self.a(c)
            return (o * a_c, c), {"i": i, "g": g, "o": o, "a_c": a_c}

        def backward(self, d_states, cache):
            dh, dc = d_states
            i, g, o, a_c = cache["i"], cache["g"], cache["o"], cache["a_c"]
            dc = dc + dh * o * self.a.grad(a_c)
            dz = np.concatenate([dc * g * self.s.grad(i), dc * i * self.a.grad(g), dh * a_c * self.s.grad(o)],
                                axis=1)
            return StepGrads(states=(None, dc), x=dz, params={}, recurrent=dz)


    class WrongBiasElman(Elman):
        """A well-formed but wrong backward: the bias gradient doubled."""

        def backward(self, d_states, cache):
            g = super().backward(d_states, cache)
            return g._replace(params={**g.params, "b_h": 2 * g.params["b_h"]})


    class OmitsBiasElman(Elman):
        """A malformed backward: no gradient for b_h."""

        def backward(self, d_states, cache):
            g = super().backward(d_states, cache)
            return g._replace(params={k: v for k, v in g.params.items() if k != "b_h"})


    class Crashing(SimpleRNNCell):
        def backward(self, d_states, cache):
            raise RuntimeError("not written yet")


    class NotACell:
        pass


    an_instance = Elman(2)
''')

PACKAGE = "minirnn_cli_test_cells"  # imported by module path from a tmp_path working directory


@pytest.fixture
def user_cells(tmp_path, monkeypatch):
    """tmp_path/cells.py (for file paths) and the package PACKAGE.cells under tmp_path (for module paths),
    with tmp_path the working directory."""
    (tmp_path / "cells.py").write_text(CELLS_SOURCE)
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (tmp_path / PACKAGE / "cells.py").write_text(CELLS_SOURCE)
    for name in (PACKAGE, f"{PACKAGE}.cells"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # restored (removed) after the test
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_gradcheck_user_cell_by_module_and_by_file(capsys, user_cells):
    assert main(["gradcheck", "--cell", f"{PACKAGE}.cells:NoForgetLSTMCell"]) == 0
    out = capsys.readouterr().out
    assert "NoForgetLSTMCell" in out and "PASS" in out and "4x12" in out  # kernel (D=4, 3 * 4)
    assert "FAIL" not in out and out.count(" ok") == 6  # x, initial h, initial c, kernel, recurrent_kernel, bias
    assert main(["gradcheck", "--cell", "cells.py:NoForgetLSTMCell", "--activation", "relu",
                 "--cell-kwargs", '{"recurrent_activation": "hard_sigmoid"}', "-q"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PASS") and "activation='relu', recurrent_activation='hard_sigmoid'" in out
    # a cell with its own parameter names: they are the rows of the report
    assert main(["gradcheck", "--cell", f"{user_cells / 'cells.py'}:Elman", "--units", "3", "--steps", "4"]) == 0
    out = capsys.readouterr().out
    for row in ("x ", "initial h", "W_xh", "W_hh", "b_h"):
        assert row in out
    assert out.count(" ok") == 5 and "Elman(units=3, activation='tanh')" in out
    # an instance is used as it is
    assert main(["gradcheck", "--cell", "cells.py:an_instance", "-q"]) == 0
    assert "Elman(units=2" in capsys.readouterr().out


def test_a_wrong_user_backward_fails_with_exit_1(capsys, user_cells):
    assert main(["gradcheck", "--cell", "cells.py:WrongBiasElman", "-q"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL") and out.rstrip().endswith("failing: b_h")
    assert main(["gradcheck", "--cell", f"{PACKAGE}.cells:WrongBiasElman"]) == 1
    table = capsys.readouterr().out
    assert "FAIL" in table.splitlines()[0] and sum("FAIL" in line for line in table.splitlines()[3:]) == 1


def test_a_malformed_user_backward_fails_with_exit_1_and_the_drivers_message(capsys, user_cells):
    assert main(["gradcheck", "--cell", "cells.py:OmitsBiasElman"]) == 1
    err = capsys.readouterr().err
    assert "FAIL" in err and "raised ValueError" in err
    assert "OmitsBiasElman.backward must return the gradient of every parameter it owns" in err


@pytest.mark.parametrize("spec, message", [
    (f"{PACKAGE}.cells:Missing", "has no attribute 'Missing'"),
    ("no_such_module_xyz:Cell", "cannot import module"),
    ("none.py:Cell", "no such file"),
    (f"{PACKAGE}.cells:NotACell", "not a recurrent cell"),
    ("cells.py:NotACell", "not a minirnn.cells.Cell subclass"),
    ("NoColon", "module:Name"),
])
def test_gradcheck_user_cell_errors_exit_2(capsys, user_cells, spec, message):
    assert main(["gradcheck", "--cell", spec]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--cell-kwargs", '{"bogus": 1}'], "unexpected keyword argument 'bogus'"),    # the cell's own TypeError
    (["--no-bias"], "use_bias"),                                                   # Elman takes no use_bias
])
def test_cell_options_the_cell_does_not_take_exit_2(capsys, user_cells, argv, message):
    assert main(["gradcheck", "--cell", "cells.py:Elman", *argv]) == 2
    err = capsys.readouterr().err
    assert "error: --cell cells.py:Elman" in err and message in err
    assert main(["gradcheck", "--cell", "cells.py:an_instance", "--cell-kwargs", '{"units": 3}']) == 2
    assert "takes no options" in capsys.readouterr().err


def test_a_user_cell_file_with_a_syntax_error_exits_2(capsys, tmp_path):
    (tmp_path / "bad.py").write_text("class Broken(:\n")
    assert main(["gradcheck", "--cell", f"{tmp_path / 'bad.py'}:Broken"]) == 2
    assert "error: --cell" in capsys.readouterr().err


def test_gradcheck_cell_kwargs_must_be_a_json_object(capsys, user_cells):
    assert main(["gradcheck", "--cell", f"{PACKAGE}.cells:NoForgetLSTMCell", "--cell-kwargs", "[1]"]) == 2
    assert "JSON object" in capsys.readouterr().err
    assert main(["gradcheck", "--cell", "cells.py:Elman", "--cell-kwargs", "{nope"]) == 2
    assert "JSON object" in capsys.readouterr().err


def test_a_cell_that_crashes_fails_with_exit_1(capsys, user_cells):
    assert main(["gradcheck", "--cell", "cells.py:Crashing"]) == 1
    assert "not written yet" in capsys.readouterr().err


def test_the_builtin_cells_by_module_path(capsys):
    for name in ("SimpleRNNCell", "LSTMCell", "GRUCell"):
        assert main(["gradcheck", "--cell", f"minirnn.cells:{name}", "--steps", "3", "-q"]) == 0
        assert capsys.readouterr().out.startswith(f"PASS  minirnn.cells:{name} {name}(units=4")
    assert main(["gradcheck", "--cell", "minirnn.cells:GRUCell", "--cell-kwargs", '{"reset_after": false}',
                 "--no-bias", "--activation", "relu", "-q"]) == 0
    assert "reset_after=False" in capsys.readouterr().out


def test_the_real_command_on_a_user_cell_file(user_cells):
    ok = subprocess.run([sys.executable, "-m", "minirnn", "gradcheck", "--cell", "cells.py:Elman", "--steps", "3",
                         "-q"], capture_output=True, text=True, cwd=user_cells, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("PASS"), ok.stdout + ok.stderr
    bad = subprocess.run([sys.executable, "-m", "minirnn", "gradcheck", "--cell", "cells.py:WrongBiasElman",
                          "--steps", "3", "-q"], capture_output=True, text=True, cwd=user_cells, timeout=120)
    assert bad.returncode == 1 and bad.stdout.startswith("FAIL"), bad.stdout + bad.stderr


@pytest.mark.parametrize("argv", [["gradcheck", "--layer", "conv1d"], ["gradcheck", "--batch", "0"],
                                  ["gradcheck", "--inner", "dense"], ["gradcheck", "--merge-mode", "max"],
                                  ["gradcheck", "--rate", "1"], ["gradcheck", "--layer", "lstm", "--cell", "a:B"],
                                  ["nonsense"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--layer", "dense", "--dropout", "0.2"], "apply to recurrent layers"),
    (["--layer", "lstm", "--no-reset-after"], "applies to the GRU"),
    (["--layer", "bidirectional", "--return-state"], "--return-state is not available"),
])
def test_option_combinations_that_do_not_apply_exit_2(argv, message, capsys):
    assert main(["gradcheck", *argv]) == 2
    assert message in capsys.readouterr().err


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "gradcheck" in capsys.readouterr().out


def test_subcommands_are_a_registry(capsys):
    assert "gradcheck" in SUBCOMMANDS
    try:
        @subcommand("echo-test", help="repeat a word", arguments=lambda p: p.add_argument("word"))
        def run_echo(args):
            print(args.word * 2)
            return 3

        assert main(["echo-test", "ab"]) == 3
        assert capsys.readouterr().out == "abab\n"
        with pytest.raises(ValueError, match="already registered"):
            subcommand("echo-test", help="", arguments=lambda p: None)(run_echo)
    finally:
        SUBCOMMANDS.pop("echo-test", None)
    assert "echo-test" not in cli.build_parser().format_help()


def test_load_object_dotted_attribute(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("class Outer:\n    class Inner:\n        value = 7\n")
    assert load_object(f"{path}:Outer.Inner").value == 7


def test_console_script_is_declared():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    assert "minirnn = minirnn.tools.cli:main" in parser["options.entry_points"]["console_scripts"]


def test_python_dash_m_minirnn(tmp_path):
    run = subprocess.run([sys.executable, "-m", "minirnn", "gradcheck", "--layer", "simple_rnn", "--steps", "3",
                          "-q"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("PASS  SimpleRNN(")
