"""fit's progress output: rendered as a terminal renders it, and one line per epoch when not on a terminal."""

import io
import re
import sys

import numpy as np
import pytest

from minirnn import Sequential
from minirnn import model as model_mod
from minirnn.layers import LSTM, Dense


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def render(text: str) -> list[str]:
    """The screen lines a terminal shows for ``text``: a carriage return moves to column 0 and later
    characters overwrite earlier ones; a newline starts a new line."""
    lines, line, col = [], [], 0
    for ch in text:
        if ch == "\r":
            col = 0
        elif ch == "\n":
            lines.append("".join(line))
            line, col = [], 0
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    if line:
        lines.append("".join(line))
    return lines


def small_model(units=3):
    model = Sequential([LSTM(units, input_shape=(4, 1), seed=0), Dense(1, seed=0)])
    model.compile("adam", "mse")
    return model


def data(n=40):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 4, 1)).astype(np.float32), rng.standard_normal((n, 1)).astype(np.float32)


def test_terminal_epoch_line_holds_no_leftover_bar_text(monkeypatch):
    out = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(model_mod._ProgressBar, "INTERVAL", 0.0)  # draw at every batch
    x, y = data()
    small_model().fit(x, y, epochs=2, batch_size=4, seed=0)
    raw = out.getvalue()
    assert raw.count("\r") >= 2 * 10  # the bar was redrawn in place at every batch
    screen = render(raw)
    assert len(screen) == 4, screen  # "Epoch e/E" and its summary line, twice
    assert screen[0] == "Epoch 1/2" and screen[2] == "Epoch 2/2"
    summary = re.compile(r"^10/10 - \d+\.\d\ds - loss: \d+\.\d{4}$")
    for line in (screen[1], screen[3]):
        visible = line.rstrip(" ")  # padding spaces erase the longer bar, they are not text
        assert summary.match(visible), line
        assert "ETA" not in line and "[" not in line and "=" not in line


def test_terminal_redraws_are_throttled(monkeypatch):
    out = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(model_mod._ProgressBar, "INTERVAL", 1e9)  # only the first and the last batch draw
    x, y = data()
    small_model().fit(x, y, epochs=1, batch_size=4, seed=0)
    bars = out.getvalue().count("[")
    assert bars == 2, out.getvalue()   # batch 1 (first draw) and batch 10 (always drawn), of 10 batches


def test_not_a_terminal_writes_one_line_per_epoch(tmp_path, monkeypatch):
    path = tmp_path / "log.txt"
    x, y = data(400)
    with open(path, "w") as f:
        monkeypatch.setattr(sys, "stdout", f)
        small_model().fit(x, y, epochs=3, batch_size=2, seed=0)  # 200 batches per epoch
    text = path.read_text()
    lines = text.splitlines()
    assert len(lines) == 3 and "\r" not in text, text
    for e, line in enumerate(lines, 1):
        assert re.match(rf"^Epoch {e}/3 - 200/200 - \d+\.\d\ds - loss: \d+\.\d{{4}}$", line), line
    assert len(text) < 200  # one epoch of 200 batches used to write ~12 KB of carriage-return updates


@pytest.mark.parametrize("terminal", [True, False])
def test_verbose_2_is_one_line_per_epoch_and_verbose_0_is_silent(monkeypatch, terminal):
    out = FakeTerminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    x, y = data()
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=8, seed=0, verbose=2, validation_split=0.2)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in out.getvalue()
    assert all("val_loss" in line for line in lines)
    out.seek(0)
    out.truncate()
    model.fit(x, y, epochs=2, batch_size=8, seed=0, verbose=0)
    assert out.getvalue() == ""
