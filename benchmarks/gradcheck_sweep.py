"""The false-FAIL sweep of minirnn.checking.gradcheck (issue 14): ``check_cell`` with default options on
seeds 0..N-1 of every built-in and example cell, and the sensitivity sweep: an additive error of
1e-6 x max|g| in one entry of one array must FAIL that array's check.

    python benchmarks/gradcheck_sweep.py                   # 300 seeds per cell (tens of minutes on 1 core)
    python benchmarks/gradcheck_sweep.py --seeds 20 --cells LayerNormLSTMCell IndRNNCell
    python benchmarks/gradcheck_sweep.py --fast            # the same sweep in the fast mode
    python benchmarks/gradcheck_sweep.py --speed           # fast mode vs the full check on two models

Prints one line per cell (cases, false FAILs, entries judged at a smaller step or from one side of a kink,
entries not judged, the largest relative error, seconds) and, with ``--sensitivity K``, the first K seeds'
injected errors (every array, three entries each: the largest |g|, the smallest |g|, a random one) that
were missed. The recorded results are in benchmarks/CHECKING.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from minirnn.cells import GRUCell, LSTMCell, SimpleRNNCell
from minirnn.checking.gradcheck import cell_problem, check_cell, check_kernel

ROOT = Path(__file__).resolve().parent.parent


def _examples() -> dict:
    spec = importlib.util.spec_from_file_location("minirnn_example_cells.train_adding",
                                                  ROOT / "examples" / "cells" / "train_adding.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    classes = {name: module.load_cell(name) for name in module.CELLS}
    return {name: (lambda cls=cls: cls(4)) for name, cls in classes.items()}


def all_cells() -> dict:
    """Name -> zero-argument factory of every built-in cell (both GRU forms; SimpleRNN and LSTM with relu too,
    for kinks) and every example cell, units 4."""
    return {"SimpleRNNCell": lambda: SimpleRNNCell(4), "LSTMCell": lambda: LSTMCell(4),
            "GRUCell": lambda: GRUCell(4), "GRUCell(reset_after=False)": lambda: GRUCell(4, reset_after=False),
            "SimpleRNNCell(relu)": lambda: SimpleRNNCell(4, "relu"), "LSTMCell(relu)": lambda: LSTMCell(4, "relu"),
            **_examples()}


def injected_misses(make, seed: int, fast: bool = False, size: float = 1e-6) -> list[str]:
    """Inject an additive error of ``size`` x max|g| into one entry (largest |g|, smallest |g|, a random one) of
    each array of ``check_cell(make(), seed=seed)``'s problem, one at a time; return the cases that passed."""
    forward, backward, inputs = cell_problem(make(), seed=seed)
    rng = np.random.default_rng(1000 + seed)
    misses = []
    for name in inputs:
        for which in ("max", "min", "random"):
            def bad_backward(cache, d, name=name, which=which):
                g = dict(backward(cache, d))
                v = np.array(g[name], dtype=np.float64)
                mag = np.abs(v).reshape(-1)
                k = {"max": int(np.argmax(mag)), "min": int(np.argmin(mag)),
                     "random": int(rng.integers(v.size))}[which]
                v.reshape(-1)[k] += size * mag.max()
                g[name] = v
                return g
            report = check_kernel(forward, bad_backward, inputs, seed=seed + 1, fixed=[n for n in inputs if n != name],
                                  fast=fast, taylor=False)
            if report.passed:
                misses.append(f"{name}[{which}]")
    return misses


def speed_models() -> dict:
    """The founding model (LSTM(50, relu) + Dropout(0.2) + Dense(1) on a (32, 10, 1) batch) and the stacked
    model (LSTM(16, return_sequences=True) -> GRU(8) -> Dense(1) on (8, 12, 3)), compiled with MSE, with
    their (x, y)."""
    from minirnn import Sequential
    from minirnn.layers import GRU, LSTM, Dense, Dropout

    rng = np.random.default_rng(0)
    founding = Sequential([LSTM(50, activation="relu", input_shape=(10, 1), seed=0), Dropout(0.2, seed=1),
                           Dense(1, seed=2)])
    stacked = Sequential([LSTM(16, return_sequences=True, input_shape=(12, 3), seed=0), GRU(8, seed=1),
                          Dense(1, seed=2)])
    out = {}
    for name, model, shape in (("founding", founding, (32, 10, 1)), ("stacked", stacked, (8, 12, 3))):
        model.compile("adam", "mse")
        out[name] = (model, rng.standard_normal(shape), rng.standard_normal((shape[0], 1)))
    return out


def speed() -> None:
    """Time check_model with default options, full and fast, on both models; print the ratio."""
    from minirnn.checking.gradcheck import check_model

    for name, (model, x, y) in speed_models().items():
        times, reports = {}, {}
        for fast in (True, False):
            start = time.perf_counter()
            reports[fast] = check_model(model, x, y, fast=fast)
            times[fast] = time.perf_counter() - start
        entries = sum(c.shape and int(np.prod(c.shape)) or 1 for c in reports[False].checks)
        print(f"{name}: {entries} entries; full {times[False]:.1f} s ({'PASS' if reports[False].passed else 'FAIL'}), "
              f"fast {times[True]:.2f} s ({'PASS' if reports[True].passed else 'FAIL'}): "
              f"{times[False] / times[True]:.0f}x", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=300)
    p.add_argument("--cells", nargs="*", default=None)
    p.add_argument("--fast", action="store_true")
    p.add_argument("--sensitivity", type=int, default=0, metavar="K", help="injected-error sweep on seeds 0..K-1")
    p.add_argument("--speed", action="store_true", help="only the fast-mode speed-up on two models")
    args = p.parse_args(argv)
    if args.speed:
        speed()
        return 0
    cells = all_cells()
    names = args.cells or list(cells)
    total_false = 0
    for name in names:
        make = cells[name]
        start = time.perf_counter()
        fails, shrunk, one_sided, not_judged, worst = [], 0, 0, 0, 0.0
        for seed in range(args.seeds):
            report = check_cell(make(), seed=seed, fast=args.fast)
            if not report.passed:
                fails.append((seed, [c.name for c in report.failures], report.missing, report.problem))
            shrunk += sum(c.shrunk for c in report.checks)
            one_sided += sum(c.one_sided for c in report.checks)
            not_judged += sum(len(c.not_judged) for c in report.checks)
            worst = max(worst, report.max_rel_error)
        total_false += len(fails)
        line = (f"{name:28s} {args.seeds} cases  false FAILs {len(fails)}  entries at a smaller step {shrunk}  "
                f"one-sided {one_sided}  not judged {not_judged}  max rel err {worst:.1e}  "
                f"{time.perf_counter() - start:.0f} s")
        if args.sensitivity:
            missed = [(s, m) for s in range(args.sensitivity) for m in injected_misses(make, s, args.fast)]
            line += f"  | injected 1e-6 errors missed: {len(missed)} {missed[:5]}"
        print(line + (f"  FAILED seeds: {fails[:5]}" if fails else ""), flush=True)
    print(f"total false FAILs: {total_false}")
    return 0 if total_false == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
