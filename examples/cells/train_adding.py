"""Train every cell of examples/cells on the adding problem (T = 20) and print each held-out MSE.

Each model is ``RNN(Cell(16)) -> Dense(1)``, trained with Adam(learning_rate=3e-3, global_clipnorm=1.0) on
1500 batches of 32 fresh sequences (``minirnn.datasets.adding_problem``) and scored on 1000 held-out
sequences. Predicting the constant 1 scores 1/6 = 0.167; the target is MSE < 0.05 (IndRNN < 0.15).
The measured results are in examples/cells/README.md.

    python examples/cells/train_adding.py                 # the full run (a few minutes on 2 cores)
    python examples/cells/train_adding.py --quick         # each cell's short budget (~10 s), as the tests
    python examples/cells/train_adding.py --cells MGUCell IndRNNCell --steps 500

The cells are loaded from their files by ``load_cell``, which the tests use too: each file is executed
once per process (``@register_cell`` refuses a second, different class under the same name).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from minirnn import Sequential, datasets
from minirnn.layers import RNN, Dense
from minirnn.optimizers import Adam

HERE = Path(__file__).resolve().parent

# class name -> (file, held-out MSE to beat, steps of the --quick run). The quick budgets are where each cell
# has left the 1/6 plateau (measured with seeds 0-3, batch 32); IndRNN needs the full run for its bound.
CELLS = {
    "NoForgetLSTMCell": ("no_forget_lstm.py", 0.05, 600),
    "PeepholeLSTMCell": ("peephole_lstm.py", 0.05, 600),
    "LayerNormLSTMCell": ("layer_norm_lstm.py", 0.05, 200),
    "IndRNNCell": ("indrnn.py", 0.15, 1500),
    "LSTMPCell": ("lstmp.py", 0.05, 700),
    "MGUCell": ("mgu.py", 0.05, 500),
}


def load_module(filename: str):
    """The module examples/cells/<filename>, executed once per process (examples/ is not a package)."""
    name = "minirnn_example_cells." + Path(filename).stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / filename)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def load_cell(class_name: str) -> type:
    """The cell class ``class_name`` (a key of ``CELLS``) from its file."""
    return getattr(load_module(CELLS[class_name][0]), class_name)


def make_model(cell, T: int = 20, seed: int = 0, learning_rate: float = 3e-3) -> Sequential:
    model = Sequential([RNN(cell, input_shape=(T, 2), seed=seed), Dense(1, seed=seed + 1)])
    model.compile(optimizer=Adam(learning_rate=learning_rate, global_clipnorm=1.0), loss="mse")
    return model


def train(model: Sequential, T: int = 20, steps: int = 1500, batch: int = 32, seed: int = 0) -> None:
    """``steps`` optimizer steps, each on a fresh batch of adding-problem sequences."""
    rng = np.random.default_rng([seed, 2])
    for _ in range(steps):
        model.train_on_batch(*datasets.adding_problem(batch, T, seed=rng))


def held_out_mse(model: Sequential, T: int = 20, n: int = 1000, seed: int = 0) -> float:
    x, y = datasets.adding_problem(n, T, seed=np.random.default_rng([seed, 1]))
    return float(np.mean((model.predict(x, batch_size=500) - y) ** 2))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="each cell's short budget (CELLS; 200-700 steps, IndRNN 1500): about 10 s in all")
    p.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS))
    p.add_argument("--units", type=int, default=16)
    p.add_argument("--T", type=int, default=20)
    p.add_argument("--steps", type=int, default=1500, help="steps per cell (default 1500; ignored with --quick)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    budget = "each cell's quick budget" if args.quick else f"{args.steps} steps"
    print(f"adding problem, T = {args.T}: RNN(cell({args.units})) -> Dense(1), Adam(3e-3, global_clipnorm=1), "
          f"{budget} of batch {args.batch}; predicting 1 scores {datasets.ADDING_BASELINE_MSE:.4f}")
    failed, begin = [], time.perf_counter()
    for name in args.cells:
        start = time.perf_counter()
        steps = CELLS[name][2] if args.quick else args.steps
        model = make_model(load_cell(name)(args.units), args.T, args.seed)
        train(model, args.T, steps, args.batch, args.seed)
        mse, bound = held_out_mse(model, args.T, seed=args.seed), CELLS[name][1]
        failed += [] if mse < bound else [name]
        print(f"  {name:<18} {steps:5d} steps  held-out MSE {mse:.4f}  (target < {bound:g}"
              f"{'' if mse < bound else ', MISSED'})  {time.perf_counter() - start:5.1f} s", flush=True)
    print(f"total {time.perf_counter() - begin:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
