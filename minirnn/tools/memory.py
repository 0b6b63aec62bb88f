"""How far back a recurrent cell remembers: the memory horizon and the linear memory capacity.

Shapes: ``horizon`` trains ``RNN(cell(units)) -> Dense`` models and returns a ``HorizonResult`` whose
``errors[cell][task][T]`` is the held-out error at delay T; ``memory_capacity`` drives one layer with a
scalar series u (1, L, 1) and returns ``MemoryCapacity`` with ``per_k`` of shape (K,).

Two tasks, each at the delays T in ``DELAYS`` = (10, 25, 50, 100, 200), the same budget for every cell:

    adding  x (B, T, 2), y = u_{t1} + u_{t2}   test MSE; baseline 1/6 (predict 1); bridged when MSE <= 0.1 * 1/6
    copy    x (B, T + 20, 10) one-hot, y (B, T + 20) tokens: 10 symbols from 8, T - 1 blanks, "go", 10
            blanks; the model writes the 10 symbols at the end. Per-symbol crossentropy (nats, averaged over
            all T + 20 steps); baseline 10 log 8 / (T + 20) (blanks, then uniform guesses); bridged at <= 0.5x

A cell's horizon on a task is the largest T such that it bridges T and every smaller delay (0: none).

Linear short-term memory capacity (Jaeger 2001): drive the layer with u(t) ~ U[-0.5, 0.5] i.i.d., drop a
washout, fit one ridge readout per delay k = 1..K from the outputs h(t) (and a constant) on n_train steps,

    y_k(t) = w_k . h(t) + b_k  ~  u(t - k),      MC_k = r^2(u(t - k), y_k(t)) on n_test held-out steps,
    MC = sum_k MC_k  <=  N  for N units (Jaeger's bound)

Example:
    >>> r = horizon(["simple_rnn"], tasks=["adding"], delays=[10], budget="quick", seed=0, log=None)
    >>> sorted(r.to_json()["simple_rnn"]["adding"])
    ['10']
    >>> from minirnn.layers import SimpleRNN
    >>> mc = memory_capacity(SimpleRNN(8, seed=0), n_train=1000, n_test=500, seed=0)
    >>> mc.per_k.shape, bool(0 < mc.mc <= 8 + 0.5)
    ((16,), True)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import runtime
from ..cells import CELLS, Cell, GRUCell, LSTMCell, SimpleRNNCell, driver
from ..layers import RNN, Dense
from ..model import Sequential
from ..training.losses import SparseCategoricalCrossentropy
from ..training.optimizers import Adam
from . import datasets

Array = np.ndarray

DELAYS = (10, 25, 50, 100, 200)
TASKS = ("adding", "copy")
DEFAULT_CELLS = ("simple_rnn", "gru", "lstm")
BUILTIN = {"simple_rnn": SimpleRNNCell, "gru": GRUCell, "lstm": LSTMCell}
#: a cell bridges delay T when its test error is at most this fraction of the task's memoryless baseline
BRIDGE = {"adding": 0.1, "copy": 0.5}
N_SYMBOLS, N_COPY = 8, 10  # the copy task of memory-tasks.md: 10 symbols drawn from 8


@dataclass(frozen=True)
class Budget:
    """What every cell gets, per task: ``units`` (recurrent), ``steps`` optimizer steps of ``batch`` fresh
    sequences (``steps[task]``), Adam(learning_rate, global_clipnorm=clipnorm), ``n_test`` held-out
    sequences, and ``seeds`` runs whose median is reported."""

    name: str
    units: int
    steps: Mapping[str, int]
    batch: int
    learning_rate: float
    clipnorm: float
    n_test: int
    seeds: int

    def describe(self) -> str:
        steps = ", ".join(f"{t} {n} steps" for t, n in self.steps.items())
        return (f"budget {self.name}: {self.units} units, batch {self.batch}, {steps}, "
                f"Adam(learning_rate={self.learning_rate:g}, global_clipnorm={self.clipnorm:g}), "
                f"{self.n_test} test sequences, {self.seeds} seed{'s' if self.seeds > 1 else ''}"
                f"{' (median)' if self.seeds > 1 else ''}")


# default: the settings of the README's T = 100 claim for the adding problem (32 units, batch 32, 4000 steps,
# Adam 2e-3 with global clipping 1, 2000 test sequences); the copy task, whose sequences are longer and whose
# output is read at every step, gets 2000 steps, so that the whole run stays within 10 minutes on 2 cores
# (measured: 756 CPU-seconds in all, 6.3 minutes per core; `--jobs 2` uses both).
BUDGETS = {
    "quick": Budget("quick", units=4, steps={"adding": 10, "copy": 10}, batch=8, learning_rate=2e-3,
                    clipnorm=1.0, n_test=32, seeds=1),
    "default": Budget("default", units=32, steps={"adding": 4000, "copy": 2000}, batch=32, learning_rate=2e-3,
                      clipnorm=1.0, n_test=2000, seeds=1),
}
BUDGETS["full"] = replace(BUDGETS["default"], name="full", seeds=3)


def baseline(task: str, T: int) -> float:
    """The memoryless error: 1/6 for the adding problem, 10 log 8 / (T + 20) nats for the copy task."""
    _check_task(task)
    if task == "adding":
        return datasets.ADDING_BASELINE_MSE
    return datasets.copying_baseline(T, N_SYMBOLS, N_COPY)


def bridged(task: str, T: int, error: float) -> bool:
    """True when ``error`` is at most ``BRIDGE[task]`` times the baseline (NaN never bridges)."""
    return bool(error <= BRIDGE[task] * baseline(task, T))


def memory_horizon(task: str, errors: Mapping[int, float]) -> int:
    """The largest T such that every delay up to and including T is bridged; 0 when the smallest is not.

    Example:
        >>> memory_horizon("adding", {10: 0.001, 25: 0.002, 50: 0.1, 100: 0.001})
        25
    """
    h = 0
    for T in sorted(errors):
        if not bridged(task, T, errors[T]):
            break
        h = T
    return h


# -- cells ----------------------------------------------------------------------------------------------------
def resolve_cell(spec: str | type) -> type:
    """The cell class for ``spec``: ``simple_rnn``/``gru``/``lstm``, a name registered with
    ``minirnn.cells.register_cell`` (``minirnn.cells.CELLS``), ``path/to/file.py:Class`` or ``module:Class``
    (loaded as ``minirnn gradcheck --cell`` loads it), or a ``Cell`` subclass itself."""
    if isinstance(spec, type):
        cls = spec
    elif not isinstance(spec, str):
        raise TypeError(f"cell must be a name, 'file.py:Class', 'module:Class' or a Cell subclass; got {spec!r}")
    elif spec.lower() in BUILTIN:
        cls = BUILTIN[spec.lower()]
    elif spec in CELLS:
        cls = CELLS[spec]
    elif ":" in spec:
        from .cli.objects import load_object

        cls = load_object(spec)
    else:
        raise ValueError(f"unknown cell {spec!r}: expected one of {', '.join(BUILTIN)}, a registered cell "
                         f"({', '.join(sorted(CELLS))}), 'path/to/file.py:Class' or 'module:Class'")
    if not (isinstance(cls, type) and issubclass(cls, Cell)):
        raise TypeError(f"cell {spec!r} is not a minirnn.cells.Cell subclass (the protocol is in "
                        f"minirnn.cells.base); got {cls!r}")
    return cls


def _label(spec: str | type) -> str:
    return spec if isinstance(spec, str) else spec.__name__


def _check_task(task: Any) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    return task


# -- one training run -----------------------------------------------------------------------------------------
def make_model(cell: Cell, task: str, T: int, budget: Budget, seed: int) -> Sequential:
    """``RNN(cell) -> Dense(1)`` (adding, mse) or ``RNN(cell, return_sequences=True) -> Dense(9)`` on every
    step (copy, sparse crossentropy from the logits), compiled with the budget's Adam."""
    _check_task(task)
    if task == "adding":
        layers = [RNN(cell, input_shape=(T, 2), seed=seed), Dense(1, seed=seed + 1)]
        loss: Any = "mse"
    else:
        layers = [RNN(cell, return_sequences=True, input_shape=(T + 2 * N_COPY, N_SYMBOLS + 2), seed=seed),
                  Dense(N_SYMBOLS + 1, seed=seed + 1)]
        loss = SparseCategoricalCrossentropy(from_logits=True)
    model = Sequential(layers)
    model.compile(optimizer=Adam(learning_rate=budget.learning_rate, global_clipnorm=budget.clipnorm), loss=loss)
    return model


def _batch(task: str, n: int, T: int, rng: np.random.Generator) -> tuple[Array, Array]:
    if task == "adding":
        return datasets.adding_problem(n, T, seed=rng)
    x, y = datasets.copying_memory(n, T, n_symbols=N_SYMBOLS, n_copy=N_COPY, seed=rng)
    return datasets.one_hot(x, N_SYMBOLS + 2), y


def train_and_score(cell: str | type, task: str, T: int, budget: Budget | str = "default", seed: int = 0) -> float:
    """Train a fresh model of ``cell`` on ``task`` at delay ``T`` with ``budget`` and return its held-out
    error (adding: MSE; copy: crossentropy per step). Training batches, test set and weights come from
    separate streams of ``seed``, so a run is the same whichever other runs are made or in what order."""
    return train_model(cell, task, T, budget, seed)[1]


def train_model(cell: str | type, task: str, T: int, budget: Budget | str = "default",
                seed: int = 0) -> tuple[Sequential, float]:
    """``train_and_score``, also returning the trained model (e.g. for
    ``minirnn.diagnostics.gradient_norms_over_time`` or ``memory_capacity(model.layers[0])``)."""
    budget = _check_budget(budget)
    k = TASKS.index(_check_task(task))
    model = make_model(resolve_cell(cell)(budget.units), task, T, budget, seed)
    train_rng = np.random.default_rng([seed, k, T, 0])
    for _ in range(budget.steps[task]):
        model.train_on_batch(*_batch(task, budget.batch, T, train_rng))
    x_test, y_test = _batch(task, budget.n_test, T, np.random.default_rng([seed, k, T, 1]))
    return model, float(model.evaluate(x_test, y_test, batch_size=500))


def _run(job: tuple) -> tuple[tuple, float, float]:
    start = time.perf_counter()
    error = train_and_score(*job)
    return job, error, time.perf_counter() - start


def _single_thread_worker() -> None:
    runtime.single_blas_thread()  # a worker process keeps the limit for its whole life


# -- the experiment -------------------------------------------------------------------------------------------
@dataclass
class HorizonResult:
    """``errors[cell][task][T]``: the median held-out error over the seeds (``runs`` holds each seed's)."""

    cells: list[str]
    tasks: list[str]
    delays: list[int]
    budget: Budget
    seed: int
    errors: dict[str, dict[str, dict[int, float]]]
    runs: dict[str, dict[str, dict[int, list[float]]]]
    seconds: float
    run_seconds: dict[str, float] = field(default_factory=dict)

    def horizons(self) -> dict[str, dict[str, int]]:
        """``{cell: {task: horizon}}`` (see ``memory_horizon``)."""
        return {c: {t: memory_horizon(t, self.errors[c][t]) for t in self.tasks} for c in self.cells}

    def to_json(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{cell: {task: {"T": error}}}``, T as a string key (what ``minirnn memory --json`` writes)."""
        return {c: {t: {str(T): self.errors[c][t][T] for T in self.delays} for t in self.tasks} for c in self.cells}

    def table(self) -> str:
        """One block per task: one row per cell, one column per T, the baseline row, the horizon column;
        a ``*`` marks a bridged delay."""
        width = max(12, *(len(c) + 2 for c in self.cells))
        lines = [self.budget.describe()]
        what = {"adding": "adding problem, test MSE", "copy": "copy task, test crossentropy per step (nats)"}
        h = self.horizons()
        for task in self.tasks:
            lines += ["", f"{what[task]}; * bridged (<= {BRIDGE[task]:g} x baseline)",
                      f"{'cell':<{width}}" + "".join(f"{'T=' + str(T):>10}" for T in self.delays) + "   horizon"]
            for c in self.cells:
                e = self.errors[c][task]
                cells = "".join(f"{e[T]:>9.4f}{'*' if bridged(task, T, e[T]) else ' '}" for T in self.delays)
                lines.append(f"{c:<{width}}{cells}   {h[c][task] if h[c][task] else '< ' + str(min(self.delays))}")
            lines.append(f"{'baseline':<{width}}" + "".join(f"{baseline(task, T):>9.4f} " for T in self.delays))
        return "\n".join(lines)

    def figure(self, path: str | Path) -> Path:
        """Error against T (log-log), one curve per cell and the baseline dashed, one panel per task."""
        from . import plot

        fig, axes = plot.figure(1, len(self.tasks), width=5.0 * len(self.tasks) + 0.5, height_per_row=3.8)
        ylabel = {"adding": "test MSE", "copy": "test crossentropy per step (nats)"}
        title = {"adding": "adding problem", "copy": "copy task (10 symbols of 8)"}
        for ax, task in zip(axes, self.tasks):
            for c in self.cells:
                ax.plot(self.delays, [self.errors[c][task][T] for T in self.delays], marker="o", label=c)
            base = [baseline(task, T) for T in self.delays]
            ax.plot(self.delays, base, "k--", label="memoryless baseline")
            ax.plot(self.delays, [BRIDGE[task] * b for b in base], "k:", lw=1,
                    label=f"bridged below ({BRIDGE[task]:g} x baseline)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(self.delays, [str(T) for T in self.delays])
            ax.set_xlabel("delay T (steps)")
            ax.set_ylabel(ylabel[task])
            ax.set_title(title[task])
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        seeds = f"median of {self.budget.seeds} seeds" if self.budget.seeds > 1 else f"seed {self.seed}"
        fig.suptitle(f"memory horizon, budget {self.budget.name}: {self.budget.units} units, {seeds}")
        return plot.save(fig, path)


def horizon(cells: Sequence[str | type] = DEFAULT_CELLS, *, tasks: Sequence[str] = TASKS,
            delays: Sequence[int] = DELAYS, budget: Budget | str = "default", seed: int = 0, jobs: int = 1,
            log: Callable[[str], Any] | None = print) -> HorizonResult:
    """Train every cell on every task at every delay with the same ``budget``; return the held-out errors.

    Shapes: for each (cell, task, T, seed) one model, ``make_model``; errors are scalars.

        error[c][task][T] = median over seeds s = seed .. seed + budget.seeds - 1 of train_and_score(c, task, T, s)

    ``cells``: names (``simple_rnn``, ``gru``, ``lstm``, registered names), ``file.py:Class`` /
    ``module:Class`` strings or Cell subclasses; ``jobs`` > 1 runs that many worker processes (one BLAS
    thread each; the results do not depend on it, only the time). ``log`` gets one line per run.

    Example:
        >>> r = horizon(["lstm"], tasks=["copy"], delays=[10], budget="quick", log=None)
        >>> list(r.to_json()["lstm"]["copy"]), r.horizons()["lstm"]["copy"]
        (['10'], 0)
    """
    budget = _check_budget(budget)
    cells = list(cells)
    if not cells:
        raise ValueError("cells must name at least one cell; got none")
    labels = [_label(c) for c in cells]
    if len(set(labels)) != len(labels):
        raise ValueError(f"cells must be distinct; got {labels}")
    for c in cells:
        resolve_cell(c)  # fail on a bad name before any training
    tasks = [_check_task(t) for t in tasks]
    if not tasks:
        raise ValueError("tasks must name at least one of adding, copy; got none")
    delays = sorted(set(_check_delay(T) for T in delays))
    if not delays:
        raise ValueError("delays must hold at least one T; got none")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1; got {jobs!r}")

    job_list = [(c, t, T, budget, int(seed) + s) for c in cells for t in tasks for T in delays
                for s in range(budget.seeds)]
    # longest first, so that with several workers the last one to finish is a short run
    job_list.sort(key=lambda j: -j[2])
    start = time.perf_counter()
    runs: dict[str, dict[str, dict[int, list[float]]]] = {lab: {t: {T: [] for T in delays} for t in tasks}
                                                           for lab in labels}
    run_seconds: dict[str, float] = {lab: 0.0 for lab in labels}

    def record(job: tuple, error: float, seconds: float) -> None:
        lab = _label(job[0])
        runs[lab][job[1]][job[2]].append(error)
        run_seconds[lab] += seconds
        if log is not None:
            mark = "bridged" if bridged(job[1], job[2], error) else "not bridged"
            log(f"  {lab:<14} {job[1]:<7} T={job[2]:<4} seed {job[4]}: {error:.4f} (baseline "
                f"{baseline(job[1], job[2]):.4f}, {mark})  {seconds:6.1f} s")

    if log is not None:
        log(f"memory horizon: {', '.join(labels)} on {', '.join(tasks)} at T = {', '.join(map(str, delays))}; "
            f"{budget.describe()}")
    if jobs == 1:
        with runtime.single_blas_thread():
            for job in job_list:
                record(*_run(job))
    else:
        import concurrent.futures
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        saved = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ.update({k: "1" for k in saved})  # read by the workers' BLAS when they import numpy
        try:
            with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx,
                                                        initializer=_single_thread_worker) as pool:
                for fut in concurrent.futures.as_completed([pool.submit(_run, j) for j in job_list]):
                    record(*fut.result())
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    errors = {lab: {t: {T: float(np.median(runs[lab][t][T])) for T in delays} for t in tasks} for lab in labels}
    return HorizonResult(labels, tasks, delays, budget, int(seed), errors, runs, time.perf_counter() - start,
                         run_seconds)


def _check_budget(budget: Any) -> Budget:
    if isinstance(budget, Budget):
        return budget
    if isinstance(budget, str) and budget in BUDGETS:
        return BUDGETS[budget]
    raise ValueError(f"budget must be one of {', '.join(BUDGETS)} or a Budget; got {budget!r}")


def _check_delay(T: Any) -> int:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
        raise ValueError(f"each delay T must be an integer >= 2; got {T!r}")
    return int(T)


# -- linear memory capacity (Jaeger 2001) ---------------------------------------------------------------------
@dataclass(frozen=True)
class MemoryCapacity:
    """``mc`` = sum of ``per_k`` (K,), the held-out r^2 of the delay-k readouts, k = 1..K, for ``units``
    outputs; with the sample counts, washout and ridge parameter that measured it."""

    mc: float
    per_k: Array
    units: int
    K: int
    n_train: int
    n_test: int
    washout: int
    ridge: float

    def __str__(self) -> str:
        return (f"MC = {self.mc:.3f} of at most N = {self.units} (K = {self.K} delays, {self.n_train} training and "
                f"{self.n_test} held-out steps after a washout of {self.washout}, ridge {self.ridge:g})")


def memory_capacity(layer: RNN | Cell, *, K: int | None = None, n_train: int = 10000, n_test: int = 10000,
                    washout: int = 500, ridge: float = 1e-6, channel: int = 0, seed: int = 0) -> MemoryCapacity:
    """Jaeger's linear short-term memory capacity of a recurrent layer (trained or fresh) or a cell.

    Shapes: the layer reads u as x (1, washout + n_train + n_test, D) with u in feature ``channel`` and
    the other features 0 (D = 1 for an unbuilt layer or a cell); its outputs h (L, N) after the washout
    are the features of K ridge readouts (K = 2N by default), one per delay:

        [w_k; b_k] = argmin sum_{t in train} (w_k . h(t) + b_k - u(t - k))^2 + alpha ||w_k||^2
        alpha = ridge * trace(Hc^T Hc) / N          (Hc: the centred training outputs; relative, scale-free)
        MC_k = corr(u(t - k), y_k(t))^2 over the held-out steps,    MC = sum_k MC_k

    ``washout`` must be at least K. The estimate is noisy: a readout that carries nothing still scores
    r^2 ~ 1 / n_test (K / n_test in all), and a slow layer's outputs are strongly autocorrelated, so the
    held-out steps count as far fewer independent samples: for a linear SimpleRNN(16) with recurrent
    matrix 0.99 Q, MC over 8 seeds had a standard deviation of 0.63 (K = 320) and 0.53 (K = 160) with
    10000 + 10000 steps, 1.2 (K = 160) with 4000 + 2000. The truncation at K loses about
    (N - MC_0) rho^(2K) for such a layer (MC_0, the r^2 of u(t) itself, is about N (1 - rho^2)), so
    K = 2N is enough only for short memories.

    Example:
        >>> from minirnn.cells import LSTMCell
        >>> mc = memory_capacity(LSTMCell(4), n_train=500, n_test=300, washout=50)
        >>> mc.K, bool(mc.mc <= 4 + 8 / 300 * 5)
        (8, True)
    """
    if isinstance(layer, Cell):
        layer = RNN(layer, seed=seed)
    if not isinstance(layer, RNN):
        raise TypeError(f"layer must be a recurrent layer (minirnn.layers.RNN, SimpleRNN, ...) or a Cell; "
                        f"got {type(layer).__name__}")
    for name, value, low in (("n_train", n_train, 1), ("n_test", n_test, 2), ("washout", washout, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    L = washout + n_train + n_test
    if not layer.built:
        layer.build((L, 1))
    D = layer.built_input_shape[-1]
    N = layer.cell.output_size
    K = 2 * N if K is None else K
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
        raise ValueError(f"K must be an integer >= 1; got {K!r}")
    if washout < K:
        raise ValueError(f"washout must be at least K = {K} so that u(t - K) exists for every kept step; "
                         f"got washout={washout}")
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not ridge >= 0 or not math.isfinite(ridge):
        raise ValueError(f"ridge must be a finite number >= 0; got {ridge!r}")
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or not 0 <= channel < D:
        raise ValueError(f"channel must be an integer in [0, {D}) (the layer reads {D} features); got {channel!r}")

    u = np.random.default_rng(seed).uniform(-0.5, 0.5, L)
    x = np.zeros((1, L, D), layer.dtype)
    x[0, :, channel] = u
    seq, _, _ = driver.forward(layer.cell, x, layer.params, None)
    h = np.asarray(seq[0, washout:], np.float64)                                # (n_train + n_test, N)
    t = np.arange(washout, L)
    targets = u[t[:, None] - np.arange(1, K + 1)[None, :]]                       # (n_train + n_test, K)
    h_tr, h_te, y_tr, y_te = h[:n_train], h[n_train:], targets[:n_train], targets[n_train:]
    mean_h, mean_y = h_tr.mean(0), y_tr.mean(0)
    hc = h_tr - mean_h
    gram = hc.T @ hc
    alpha = ridge * max(np.trace(gram), np.finfo(np.float64).tiny) / N
    w = np.linalg.solve(gram + alpha * np.eye(N), hc.T @ (y_tr - mean_y))      # (N, K)
    pred = (h_te - mean_h) @ w + mean_y
    pc, yc = pred - pred.mean(0), y_te - y_te.mean(0)
    denom = np.sqrt((pc ** 2).sum(0) * (yc ** 2).sum(0))
    # a constant readout (e.g. a dead unit set) has no correlation: r^2 = 0, not NaN
    r = np.divide((pc * yc).sum(0), denom, out=np.zeros(K), where=denom > 0)
    per_k = r ** 2
    return MemoryCapacity(float(per_k.sum()), per_k, N, int(K), int(n_train), int(n_test), int(washout),
                          float(ridge))
