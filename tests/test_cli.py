"""The minirnn command line: the subcommand registry, `gradcheck` over every built-in layer, one layer
with options, user cells by module or file path, and exit statuses."""

import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from minirnn import cli
from minirnn.cli import SUBCOMMANDS, default_grid, load_object, main, subcommand

ROOT = Path(__file__).resolve().parents[1]


def test_gradcheck_passes_on_every_builtin_layer(capsys):
    from minirnn.layers import LAYERS

    cases = default_grid()
    assert {c.layer for c in cases} == {"simple_rnn", "lstm", "gru", "dense", "dropout", "bidirectional",
                                        "time_distributed", "masking"}
    # every layer class minirnn registers is in the grid (a new one must be added to the CLI)
    assert {name.lower() for name in LAYERS} == {"simplernn", "lstm", "gru", "dense", "dropout", "bidirectional",
                                                 "timedistributed", "masking"}
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


def test_gradcheck_user_cell_by_module_and_by_file(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["gradcheck", "--cell", "examples.custom_cell:NoForgetLSTMCell"]) == 0
    out = capsys.readouterr().out
    assert "NoForgetLSTMCell" in out and "PASS" in out and "12" in out  # kernel (4, 3 * 4)
    assert main(["gradcheck", "--cell", "examples/custom_cell.py:NoForgetLSTMCell", "--activation", "relu",
                 "--cell-kwargs", '{"recurrent_activation": "hard_sigmoid"}', "-q"]) == 0
    assert "activation='relu', recurrent_activation='hard_sigmoid'" in capsys.readouterr().out


@pytest.mark.parametrize("spec, message", [
    ("examples.custom_cell:Missing", "has no attribute 'Missing'"),
    ("no_such_module_xyz:Cell", "cannot import module"),
    ("examples/none.py:Cell", "no such file"),
    ("examples.custom_cell:NoForgetLSTM", "not a recurrent cell"),
    ("NoColon", "module:Name"),
])
def test_gradcheck_user_cell_errors_exit_2(capsys, monkeypatch, spec, message):
    monkeypatch.chdir(ROOT)
    assert main(["gradcheck", "--cell", spec]) == 2
    assert message in capsys.readouterr().err


def test_gradcheck_cell_kwargs_must_be_a_json_object(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["gradcheck", "--cell", "examples.custom_cell:NoForgetLSTMCell", "--cell-kwargs", "[1]"]) == 2
    assert "JSON object" in capsys.readouterr().err


def test_a_cell_that_crashes_fails_with_exit_1(tmp_path, capsys):
    path = tmp_path / "crashing.py"
    path.write_text("from minirnn.kernels import SimpleRNNCell\n\n"
                    "class Crashing(SimpleRNNCell):\n"
                    "    def step_backward(self, *args):\n"
                    "        raise RuntimeError('not written yet')\n")
    assert main(["gradcheck", "--cell", f"{path}:Crashing"]) == 1
    assert "not written yet" in capsys.readouterr().err


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
    assert "minirnn = minirnn.cli:main" in parser["options.entry_points"]["console_scripts"]


def test_python_dash_m_minirnn(tmp_path):
    run = subprocess.run([sys.executable, "-m", "minirnn", "gradcheck", "--layer", "simple_rnn", "--steps", "3",
                          "-q"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("PASS  SimpleRNN(")
