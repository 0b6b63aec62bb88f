"""CLI exit statuses: a bad option exits 2 naming the option and the accepted range before any training,
Ctrl-C exits 130 without a traceback, and a closed pipe stops the command quietly (141)."""

import os
import signal
import subprocess
import sys

import pytest

from minirnn.tools.cli import main


@pytest.mark.parametrize("argv,fragment", [
    (["--lookback", "1000"], "--lookback must be in [1, "),
    (["--seed", "-1"], "--seed must be an integer in [0, 2**63); got -1"),
    (["--units", "1000000000"], "--units 1000000000 needs about 112,000,000"),
    (["--out", "{file}"], "exists and is not a folder"),
    (["--out", "{file}/figures"], "on its path is a file, not a folder"),
])
def test_bad_demo_options_exit_2_before_training(tmp_path, capsys, argv, fragment):
    existing = tmp_path / "taken"
    existing.write_text("x")
    argv = [a.replace("{file}", os.fspath(existing)) for a in argv]
    assert main(["demo", *argv]) == 2
    out, err = capsys.readouterr()
    assert fragment in err, err
    assert "Epoch" not in out and "minirnn demo:" not in out  # nothing ran
    assert existing.read_text() == "x"


@pytest.mark.parametrize("argv,fragment", [
    (["--out", "{file}"], "--out '{file}' exists and is not a folder"),
    (["--out", "{file}/figures"], "--out '{file}/figures': '{file}' on its path is a file, not a folder"),
    (["--no-plot", "--json", "{dir}"], "--json '{dir}' is a folder; give a file name"),
    (["--no-plot", "--json", "{file}/m.json"], "--json '{file}/m.json': '{file}' on its path is a file"),
])
def test_bad_memory_output_paths_exit_2_before_any_run(tmp_path, capsys, argv, fragment):
    """Before: the paths were used only after the runs (up to 10 minutes), and then failed with a traceback."""
    existing = tmp_path / "taken"
    existing.write_text("x")
    fill = lambda a: a.replace("{file}", os.fspath(existing)).replace("{dir}", os.fspath(tmp_path))  # noqa: E731
    assert main(["memory", "--budget", "quick", "--cell", "simple_rnn", "--task", "adding", "--T", "10",
                 *map(fill, argv)]) == 2
    out, err = capsys.readouterr()
    assert fill(fragment) in err, err
    assert "memory horizon" not in out  # no run started
    assert existing.read_text() == "x"


def _spawn(*args):
    return subprocess.Popen([sys.executable, "-m", "minirnn", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_ctrl_c_exits_130_quietly():
    child = _spawn("demo", "--epochs", "1000", "--no-plot")
    try:
        assert child.stdout.readline().startswith("minirnn demo:")  # running
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)  # guards against a hang only
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err


def test_closed_pipe_exits_quietly():
    child = _spawn("demo", "--epochs", "1000", "--no-plot")  # flushes a line at every epoch
    try:
        child.stdout.readline()
        child.stdout.close()  # the reader goes away, as with `minirnn demo | head -1`
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize("argv", [["gradcheck", "--units", "1000000", "-q"],
                                  ["gradcheck", "--layer", "lstm", "--units", "1000000", "-q"],
                                  ["gradcheck", "--cell", "minirnn.cells:LSTMCell", "--units", "1000000", "-q"]])
def test_gradcheck_sizes_beyond_the_machine_exit_2_up_front(argv, capsys):
    """Sizes whose check would need more memory than the machine has are a usage error, before any array
    is allocated (before: an ArrayMemoryError traceback after trying to allocate 7.3 TiB)."""
    from minirnn.tools.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--units" in err and "GiB" in err and "this machine has" in err
