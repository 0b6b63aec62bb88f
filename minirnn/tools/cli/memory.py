"""``minirnn memory``: the memory horizon of each cell on the adding problem and the copy task
(``minirnn.tools.memory``, imported when run). Exit status 0, or 2 on a usage error (a bad cell, delay or path).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..argtypes import output_file_problem, output_folder_problem, positive_int, seed
from .registry import subcommand

BUDGET_NAMES = ("quick", "default", "full")


def _delay(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected a delay T >= 2; got {value}")
    return value


def _memory_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cell", nargs="+", metavar="CELL", default=["simple_rnn", "gru", "lstm"],
                   help="cells: simple_rnn, gru, lstm, a registered cell name, 'path/to/file.py:Class' or "
                        "'module:Class' (default: simple_rnn gru lstm)")
    p.add_argument("--task", nargs="+", choices=("adding", "copy"), default=["adding", "copy"],
                   help="tasks (default: adding copy)")
    p.add_argument("--T", nargs="+", type=_delay, metavar="T", default=[10, 25, 50, 100, 200], dest="delays",
                   help="delays (default: 10 25 50 100 200)")
    p.add_argument("--budget", choices=BUDGET_NAMES, default="default",
                   help="quick: seconds, for tests; default: one seed, <= 10 min on 2 cores; full: 3 seeds, medians")
    p.add_argument("--seed", type=seed, default=0, help="first seed (default 0; full uses seed .. seed + 2)")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="worker processes, one BLAS thread each (default 1; 2 uses both cores of a 2-core machine)")
    p.add_argument("--out", default="minirnn-memory",
                   help="folder for memory_horizon.png (default ./minirnn-memory)")
    p.add_argument("--json", metavar="PATH", help="write {cell: {task: {\"T\": error}}} to PATH")
    p.add_argument("--no-plot", action="store_true", help="do not write the figure")
    p.add_argument("-q", "--quiet", action="store_true", help="no line per training run")


@subcommand("memory", help="measure how far back each cell remembers: adding problem and copy task over delays T",
            arguments=_memory_arguments, description=(
                "Train RNN(cell) + Dense on the adding problem and the copy task at each delay T with the same\n"
                "budget for every cell, and report the held-out error against the memoryless baseline (adding:\n"
                "MSE vs 1/6, bridged at <= 0.1x; copy: crossentropy per step vs 10 log 8 / (T + 20), bridged at\n"
                "<= 0.5x), each cell's memory horizon (the largest T bridged together with every smaller T), a\n"
                "figure (<out>/memory_horizon.png, with matplotlib) and optionally the errors as JSON.\n\n"
                "examples:\n"
                "  minirnn memory --budget quick\n"
                "  minirnn memory --jobs 2 --json memory_horizon.json --out figures\n"
                "  minirnn memory --cell lstm examples/cells/mgu.py:MGUCell --task adding --T 50 100"))
def run_memory(args: argparse.Namespace) -> int:
    from .. import memory, plot

    start = time.perf_counter()
    try:
        for spec in args.cell:
            memory.resolve_cell(spec)
    except (ValueError, TypeError, ImportError, SyntaxError) as e:
        print(f"minirnn memory: error: --cell: {e}", file=sys.stderr)
        return 2
    if len(set(args.cell)) != len(args.cell):
        print(f"minirnn memory: error: --cell names a cell twice: {' '.join(args.cell)}", file=sys.stderr)
        return 2
    # the output paths before the runs (up to 10 minutes of them), not when writing after them
    for problem in (None if args.no_plot else output_folder_problem("--out", args.out),
                    None if args.json is None else output_file_problem("--json", args.json)):
        if problem is not None:
            print(f"minirnn memory: error: {problem}", file=sys.stderr)
            return 2
    log = None if args.quiet else (lambda line: print(line, flush=True))
    result = memory.horizon(args.cell, tasks=args.task, delays=args.delays, budget=args.budget, seed=args.seed,
                            jobs=args.jobs, log=log)
    print()
    print(result.table())
    print()
    for cell, h in result.horizons().items():
        print(f"memory horizon of {cell}: " + ", ".join(
            f"{task} {f'T = {v}' if v else f'below T = {min(result.delays)}'}" for task, v in h.items()))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
        print(f"errors: {path}")
    if not args.no_plot:
        if plot.available():
            print(f"figure: {result.figure(Path(args.out) / 'memory_horizon.png')}")
        else:
            print(f"figure skipped: {plot.INSTALL_HINT}")
    print(f"total {time.perf_counter() - start:.1f} s ({result.budget.name} budget, {args.jobs} "
          f"job{'s' if args.jobs > 1 else ''})")
    return 0
