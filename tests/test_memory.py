"""minirnn.tools.memory and ``minirnn memory``: the memory horizon experiment and Jaeger's memory capacity."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from minirnn.initializers import orthogonal
from minirnn.layers import GRU, LSTM, SimpleRNN
from minirnn.tools import memory, plot
from minirnn.tools.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def _cli(capsys, *argv):
    status = main(["memory", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


# -- the command ----------------------------------------------------------------------------------------------
def test_quick_run_writes_the_table_json_and_figure(tmp_path, capsys):
    status, out, _ = _cli(capsys, "--budget", "quick", "--json", str(tmp_path / "m.json"), "--out",
                          str(tmp_path / "fig"), "--quiet")
    assert status == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert list(data) == ["simple_rnn", "gru", "lstm"]
    for cell in data.values():
        assert list(cell) == ["adding", "copy"]
        for errors in cell.values():
            assert list(errors) == ["10", "25", "50", "100", "200"]
            assert all(isinstance(v, float) and math.isfinite(v) and v > 0 for v in errors.values())
    # the table: one row per cell with one number per T, the baseline row, the horizons
    for line in ("adding problem, test MSE", "copy task, test crossentropy per step"):
        assert line in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}  # the last block: copy
    assert rows["baseline"] == [f"{10 * math.log(8) / (T + 20):.4f}" for T in (10, 25, 50, 100, 200)]
    assert rows["lstm"][5:] == ["<", "10"]  # five errors, then the horizon
    assert [float(v.rstrip("*")) for v in rows["lstm"][:5]] == pytest.approx(list(data["lstm"]["copy"].values()),
                                                                               abs=5e-5)
    assert "memory horizon of lstm: adding below T = 10, copy below T = 10" in out  # 10 steps teach nothing
    fig = tmp_path / "fig" / "memory_horizon.png"
    if plot.available():
        assert fig.read_bytes()[:8] == PNG and fig.stat().st_size > 10_000
    else:
        assert not fig.exists() and "figure skipped" in out


def test_without_matplotlib_the_table_and_json_are_written_and_the_figure_skipped(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plot, "available", lambda: False)
    status, out, _ = _cli(capsys, "--budget", "quick", "--cell", "lstm", "--task", "adding", "--T", "10",
                          "--json", str(tmp_path / "m.json"), "--out", str(tmp_path), "--quiet")
    assert status == 0
    assert "figure skipped: matplotlib is needed" in out and "T=10" in out
    assert list(json.loads((tmp_path / "m.json").read_text())) == ["lstm"]
    assert not (tmp_path / "memory_horizon.png").exists()


def test_a_cell_from_a_file_and_a_registered_name_run_as_the_builtin_cell_does(tmp_path, capsys):
    (tmp_path / "my_cell.py").write_text("from minirnn.cells import SimpleRNNCell\n\n\n"
                                         "class MyCell(SimpleRNNCell):\n    pass\n")
    spec = f"{tmp_path / 'my_cell.py'}:MyCell"
    status, _, _ = _cli(capsys, "--budget", "quick", "--cell", "simple_rnn", spec, "GRUCell", "--T", "10", "25",
                        "--json", str(tmp_path / "m.json"), "--no-plot", "--quiet")
    assert status == 0
    data = json.loads((tmp_path / "m.json").read_text())
    assert list(data) == ["simple_rnn", spec, "GRUCell"]
    # the same computation (an unchanged subclass, same seeds): the very same numbers
    assert data[spec] == data["simple_rnn"]
    assert data["GRUCell"] != data["simple_rnn"]


@pytest.mark.parametrize("argv, message", [
    (["--cell", "no_such_cell"], "unknown cell 'no_such_cell'"),
    (["--cell", "numpy:ndarray"], "is not a minirnn.cells.Cell subclass"),
    (["--cell", "lstm", "lstm"], "names a cell twice"),
])
def test_a_bad_cell_is_a_usage_error_before_any_training(capsys, argv, message):
    status, out, err = _cli(capsys, "--budget", "quick", *argv)
    assert status == 2 and message in err and "seed 0:" not in out


def test_a_delay_below_2_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["memory", "--T", "1"])
    assert e.value.code == 2 and "expected a delay T >= 2" in capsys.readouterr().err


# -- the experiment -------------------------------------------------------------------------------------------
def test_baselines_bridging_and_the_horizon():
    assert memory.baseline("adding", 100) == pytest.approx(1 / 6)
    assert memory.baseline("copy", 100) == pytest.approx(10 * math.log(8) / 120)  # memory-tasks.md
    assert memory.bridged("adding", 10, 0.1 / 6) and not memory.bridged("adding", 10, 0.1 / 6 * 1.001)
    assert memory.bridged("copy", 30, 0.5 * 10 * math.log(8) / 50)
    assert not memory.bridged("copy", 30, float("nan"))
    errors = {10: 0.001, 25: 0.01, 50: 0.02, 100: 0.001, 200: 0.001}
    assert memory.memory_horizon("adding", errors) == 25  # T = 100 bridged, but not every smaller T
    assert memory.memory_horizon("adding", {10: 0.5, 25: 0.001}) == 0
    assert memory.memory_horizon("adding", {25: 0.001, 10: 0.001}) == 25


def test_a_small_lstm_bridges_the_adding_problem_at_T_10_and_the_runs_do_not_depend_on_jobs():
    budget = memory.Budget("test", units=8, steps={"adding": 300}, batch=32, learning_rate=1e-2, clipnorm=1.0,
                           n_test=500, seeds=1)
    r1 = memory.horizon(["lstm"], tasks=["adding"], delays=[10], budget=budget, log=None)
    assert r1.errors["lstm"]["adding"][10] < 0.1 / 6, r1.errors  # measured 0.0046 (0.028x the baseline)
    assert r1.horizons() == {"lstm": {"adding": 10}}
    r2 = memory.horizon(["lstm"], tasks=["adding"], delays=[10], budget=budget, log=None, jobs=2)
    assert r2.errors == r1.errors


def test_full_budget_reports_the_median_of_three_seeds(monkeypatch):
    scores = {0: 0.3, 1: 0.1, 2: 0.2}
    monkeypatch.setattr(memory, "train_and_score", lambda cell, task, T, budget, seed: scores[seed] * T)
    r = memory.horizon(["gru"], tasks=["adding"], delays=[10, 25], budget="full", log=None)
    assert r.runs["gru"]["adding"] == {10: [3.0, 1.0, 2.0], 25: [7.5, 2.5, 5.0]}
    assert r.errors["gru"]["adding"] == {10: 2.0, 25: 5.0}
    assert r.to_json() == {"gru": {"adding": {"10": 2.0, "25": 5.0}}}


@pytest.mark.parametrize("kwargs, message", [
    ({"tasks": ["adding", "sorting"]}, "task must be one of adding, copy"),
    ({"delays": [10, 1]}, "each delay T must be an integer >= 2; got 1"),
    ({"budget": "huge"}, "budget must be one of quick, default, full"),
    ({"cells": []}, "cells must name at least one cell"),
    ({"cells": ["lstm", "lstm"]}, "cells must be distinct"),
    ({"jobs": 0}, "jobs must be an integer >= 1; got 0"),
])
def test_horizon_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        memory.horizon(**{"cells": ["lstm"], "budget": "quick", "log": None, **kwargs})


# -- memory capacity ------------------------------------------------------------------------------------------
def _linear_rnn(N, recurrent, seed=0):
    layer = SimpleRNN(N, activation="linear", seed=seed, dtype="float64")
    layer.build((10, 1))
    layer.params["recurrent_kernel"][...] = recurrent
    layer.params["bias"][...] = 0.0
    return layer


def test_a_shift_register_remembers_exactly_its_last_n_minus_1_inputs():
    # h_t = (u_t, u_{t-1}, ..., u_{t-N+1}): the readout for k = 1..N-1 is exact, for k >= N impossible
    N = 8
    layer = _linear_rnn(N, np.eye(N, k=1))
    layer.params["kernel"][...] = np.eye(1, N)
    mc = memory.memory_capacity(layer, seed=0)
    assert mc.K == 2 * N and mc.per_k.shape == (2 * N,)
    np.testing.assert_allclose(mc.per_k[:N - 1], 1.0, atol=1e-9)
    # no information: r^2 ~ 1 / n_test = 1e-4 each (measured at most 3e-4)
    assert np.all(mc.per_k[N - 1:] < 1e-3), mc.per_k
    assert mc.mc == pytest.approx(N - 1, abs=0.01)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_linear_rnn_with_recurrent_matrix_0_99_orthogonal_reaches_nine_tenths_of_n(seed):
    # MC over k = 1..K is about (N - MC_0)(1 - 0.99^(2K)) with MC_0 ~ N (1 - 0.99^2) = 0.3, so K = 2N = 32
    # would stop at ~0.47 N; K = 320 keeps 99.8%. Over seeds 0-7: MC 14.7-16.3, mean 15.5, sd 0.63.
    N = 16
    layer = _linear_rnn(N, 0.99 * orthogonal((N, N), np.random.default_rng(seed), np.float64), seed)
    mc = memory.memory_capacity(layer, K=320, washout=320, seed=seed)
    assert 0.9 * N <= mc.mc <= N + 2 * 0.63, mc  # seeds 0, 1: 14.93, 15.00
    assert mc.per_k[0] > mc.per_k[-1] and np.all((mc.per_k >= 0) & (mc.per_k <= 1))


@pytest.mark.parametrize("make", [lambda: SimpleRNN(8, seed=0), lambda: LSTM(8, seed=0), lambda: GRU(8, seed=0),
                                  lambda: memory.resolve_cell("gru")(8)])
def test_memory_capacity_of_fresh_layers_is_at_most_n(make):
    # the bound N, plus twice the estimate's standard deviation measured for the slowest (linear 0.99) layer
    mc = memory.memory_capacity(make(), seed=0)
    assert 0.5 < mc.mc <= 8 + 2 * 0.63, mc
    assert mc.n_train == 10000 and mc.n_test == 10000 and mc.washout == 500 and mc.ridge == 1e-6


def test_memory_capacity_reads_a_trained_layer_on_one_channel_and_rejects_bad_arguments():
    layer = LSTM(4, seed=0)
    layer.build((10, 2))  # as for the adding problem
    before = {k: v.copy() for k, v in layer.params.items()}
    mc = memory.memory_capacity(layer, n_train=500, n_test=500, washout=50, channel=0)
    assert mc.K == 8 and 0 < mc.mc <= 4 + 2 * 0.63
    assert all(np.array_equal(before[k], v) for k, v in layer.params.items())
    with pytest.raises(ValueError, match="washout must be at least K = 8"):
        memory.memory_capacity(layer, washout=5)
    with pytest.raises(ValueError, match=r"channel must be an integer in \[0, 2\)"):
        memory.memory_capacity(layer, channel=2)
    with pytest.raises(TypeError, match="layer must be a recurrent layer"):
        memory.memory_capacity(np.zeros(3))
    with pytest.raises(ValueError, match="ridge must be a finite number >= 0"):
        memory.memory_capacity(layer, ridge=float("nan"))
