"""Every example runs in its --quick mode (seconds), so that none of them rots.

The quick modes prove only that the scripts run end to end (data, training, inspection, sampling, report,
figure); the results they are written to show need their full runs (see each script's docstring).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minirnn import plot

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


def run_example(name: str, *args: str) -> str:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"{name} {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("name, expected", [
    ("adding_problem.py", ["predicting 1 gives test MSE", "final test MSE: LSTM", "SimpleRNN"]),
    ("mackey_glass.py", ["one step ahead, NRMSE", "no change", "free-running"]),
    ("memory_inspection.py", ["i at markers", "corr(c_T, y)", "input gates:", "forget gates between"]),
])
def test_example_quick_mode_reports_and_writes_its_figure_or_says_why_not(name, expected, tmp_path):
    path = tmp_path / "figure.png"
    out = run_example(name, "--quick", "--out", str(path))
    for text in expected:
        assert text in out, f"{name} --quick did not print {text!r}:\n{out}"
    if plot.available():
        assert path.read_bytes()[:8] == PNG and f"figure: {path}" in out
    else:
        assert not path.exists() and "no figure: matplotlib is needed" in out


def test_char_rnn_quick_mode_trains_and_samples_from_the_priming_text():
    out = run_example("char_rnn.py", "--quick", "--prime", "Down the", "--temperature", "0.5",
                      "--temperature", "1.0")
    assert "bits/char" in out and "held out" in out
    sample = out.split("--- temperature 0.5, primed with 'Down the' ---\n", 1)[1].split("\n\n--- temperature", 1)[0]
    assert sample.startswith("Down the") and len(sample) == len("Down the") + 40
    assert "--- temperature 1.0, primed with 'Down the' ---" in out
