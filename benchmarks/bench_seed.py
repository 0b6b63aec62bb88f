"""The founding program end to end in minirnn, Keras and PyTorch: wall time and peak memory, each in its own process.

The program (the same in every framework, 1000 x 10 x 1 standard-normal data, float32 models):

    model = Sequential([LSTM(50, activation='relu', input_shape=(10, 1)), Dropout(0.2), Dense(1)])
    model.compile(optimizer='adam', loss='mse')
    model.fit(data, data, epochs=100, verbose=0)
    predictions = model.predict(data)

Each run is a fresh ``python`` child process (so imports, thread pools and memory are its own). The
child reports, as JSON: the time to import the framework, to build and compile, to fit, to predict,
and its peak resident set size from ``resource.getrusage`` (ru_maxrss, the high-water mark of the
whole process, imports included). The parent measures the child's whole wall time, interpreter start
included. Runs alternate between the frameworks so that load from elsewhere hits them alike; the
medians and every ratio among keras, minirnn and torch (and the floor, when run) are printed.

``torch`` is a reference for what a compiled, fused C++ LSTM reaches on this machine: PyTorch on the
CPU, eager mode, written as close to the program as PyTorch allows, with Keras's initializers
(glorot-uniform kernels, orthogonal recurrent kernel, forget-gate bias 1, zero biases), a fresh
permutation each epoch, batches of 32 with the last one of 8 kept, and Keras's loss for these shapes:
the (N, 10, 1) targets are squeezed to (N, 10) and the (N, 1) prediction broadcasts against them, so
the loss is, per sample, the mean over the 10 steps of (x_t - y_hat)^2, then the batch mean; the epoch
loss is the batch-size-weighted mean of the batch losses, each taken before that batch's update. It
differs from the program in two ways, both printed with its results:

* the cell activation is tanh, not relu: ``torch.nn.LSTM`` has no activation option, and a cell
  written by hand would not be PyTorch's fused kernel, which is the point of the comparison
  (so its loss trajectory is close to Keras's, not equal);
* ``torch.optim.Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-7, fused=True)`` adds epsilon after the bias correction,
  Keras before it (Keras's effective epsilon is eps / sqrt(1 - beta_2^t): 32x larger at the first
  step, within 2% of eps by the last of the 3200 steps); negligible for gradients far above 1e-7.

``floor`` is not a framework: it runs, for the same 3200 training steps (100 epochs of 31 batches of
32 and one of 8), only the matrix products one minirnn training step cannot avoid at this shape, on
one BLAS thread, float32: forward h_{t-1} @ W_hh (B, 50) @ (50, 200) for each of the 10 steps, backward
dz_t @ W_hh^T (B, 200) @ (200, 50) for each step, the weight gradients H^T @ dZ (50, 10 B) @ (10 B, 200)
and X^T @ dZ (1, 10 B) @ (10 B, 200), and the Dense products (B, 50) @ (50, 1), (50, B) @ (B, 1),
(B, 1) @ (1, 50); predict runs the forward products over the 1000 samples. Its fit time is the
matrix-product floor of the founding program on this machine.

Threads: BLAS / OpenMP pools are pinned in the child with threadpoolctl (the ``bench`` extra), for
TensorFlow with tf.config.threading and for PyTorch with torch.set_num_threads /
set_num_interop_threads; the environment variables OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and
MKL_NUM_THREADS are set too. The floor always uses one BLAS thread.

Run:
    python benchmarks/bench_seed.py                          # 2 threads, 3 runs each, minirnn and keras
    python benchmarks/bench_seed.py --threads 2 --runs 3 --frameworks minirnn,keras,torch,floor
    python benchmarks/bench_seed.py --threads 1 --runs 5 --frameworks minirnn
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

BATCH = 32
UNITS = 50
STEPS = 10

TORCH_NOTE = ("torch differs from the program: LSTM cell activation tanh (nn.LSTM has no relu option), "
              "Adam (fused) epsilon 1e-7 added after bias correction (Keras: before)")
FLOOR_NOTE = "floor = the matrix products of a minirnn training step only, 1 BLAS thread (not a framework)"

# A framework's program: build() -> model; fit(model, data, epochs) -> epoch losses (None for the
# floor); predict(model, data) -> predictions.
Program = tuple[Callable[[], Any], Callable[[Any, Any, int], Any], Callable[[Any, Any], Any]]


def _keras_api_program(framework: str, threads: int) -> Program:
    """minirnn and Keras run the program's own text."""
    if framework == "keras":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        from keras.layers import LSTM, Dense, Dropout
        from keras.models import Sequential

        keras.utils.set_random_seed(1)
    else:
        from minirnn import Sequential
        from minirnn.layers import LSTM, Dense, Dropout
    extra = {} if framework == "keras" else {"seed": 1}

    def build():
        model = Sequential()
        model.add(LSTM(UNITS, activation="relu", input_shape=(STEPS, 1), **extra))
        model.add(Dropout(0.2))
        model.add(Dense(1, **extra))
        model.compile(optimizer="adam", loss="mse")
        return model

    def fit(model, data, epochs):
        return model.fit(data, data, epochs=epochs, verbose=0, **extra).history["loss"]

    def predict(model, data):
        return model.predict(data, verbose=0)

    return build, fit, predict


def _torch_program(threads: int) -> Program:
    """The program in PyTorch's eager mode around its fused nn.LSTM kernel (differences: module docstring).

    On the CPU in float32, nn.LSTM runs oneDNN's fused RNN primitive (``aten::mkldnn_rnn_layer`` and its
    backward in torch's profiler) for all 10 steps in one call."""
    import torch
    import torch._dynamo  # noqa: F401 - see below

    # torch.optim's first optimizer imports torch._dynamo lazily (~1.9 s here, measured); importing it
    # here counts that cost as import time, where Keras's TensorFlow imports are counted too.
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)  # allowed only before any inter-op work starts
    torch.manual_seed(1)  # initializers, dropout masks and shuffles

    class Founding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(1, UNITS, batch_first=True)
            self.dropout = torch.nn.Dropout(0.2)
            self.dense = torch.nn.Linear(UNITS, 1)
            # Keras's initializers, so that training starts from the same distribution. torch stores
            # the transposed matrices ((4H, D), (4H, H)); glorot's limit and orthogonality are
            # unchanged by transposing, and torch's two biases sum to Keras's one.
            with torch.no_grad():
                torch.nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
                torch.nn.init.orthogonal_(self.lstm.weight_hh_l0)
                self.lstm.bias_ih_l0.zero_()
                self.lstm.bias_ih_l0[UNITS:2 * UNITS] = 1.0  # forget gate (unit_forget_bias)
                self.lstm.bias_hh_l0.zero_()
                torch.nn.init.xavier_uniform_(self.dense.weight)
                self.dense.bias.zero_()

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.dense(self.dropout(out[:, -1]))

    def build():
        model = Founding()
        # fused=True: the whole update in one C++ kernel, PyTorch's fastest Adam on the CPU (the default
        # per-parameter loop took 0.65 ms a step here against 0.2 ms, of a ~3.5 ms step; measured)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7, fused=True)
        return model, optimizer

    def fit(built, data, epochs):
        model, optimizer = built
        x = torch.from_numpy(data.astype("float32"))
        y = x[..., 0]  # Keras squeezes the targets' trailing 1: (N, 10), against predictions (N, 1)
        n, losses = len(x), []
        model.train()
        for _ in range(epochs):
            order = torch.randperm(n)
            xs, ys = x[order], y[order]  # gathered once per epoch; the batches are views
            total = 0.0
            for s in range(0, n, BATCH):
                xb, yb = xs[s:s + BATCH], ys[s:s + BATCH]
                optimizer.zero_grad(set_to_none=True)
                # (B, 10) - (B, 1) broadcasts; one mean over B x 10 equals the batch mean of the
                # per-sample means over the 10 steps, as every sample has 10 terms.
                loss = ((yb - model(xb)) ** 2).mean()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(xb)
            losses.append(total / n)
        return losses

    def predict(built, data):
        model, _ = built
        x = torch.from_numpy(data.astype("float32"))
        model.eval()
        with torch.inference_mode():
            return torch.cat([model(x[s:s + BATCH]) for s in range(0, len(x), BATCH)]).numpy()

    return build, fit, predict


def _floor_program() -> Program:
    """The matrix products of the founding program's training steps and predict, nothing else."""
    import numpy as np

    rng = np.random.default_rng(1)
    gates = 4 * UNITS

    def arrays(batch):
        """Contiguous operands of one step's products for a batch (the floor's best case: plain GEMMs)."""
        shapes = {"h": (batch, UNITS), "w_hh": (UNITS, gates), "dz": (batch, gates), "w_hh_t": (gates, UNITS),
                  "h_all_t": (UNITS, STEPS * batch), "x_all_t": (1, STEPS * batch), "dz_all": (STEPS * batch, gates),
                  "w_d": (UNITS, 1), "h_t_t": (UNITS, batch), "dy": (batch, 1), "w_d_t": (1, UNITS)}
        return {k: rng.standard_normal(s, dtype=np.float32) for k, s in shapes.items()}

    def forward(a):
        for _ in range(STEPS):
            a["h"] @ a["w_hh"]
        return a["h"] @ a["w_d"]

    def build():
        # minirnn's kernels prime OpenBLAS once per process (minirnn.kernels.blas_threads.prime_openblas:
        # small products run 2-3x slower before it); the floor gets the same priming.
        np.ones((64, 384), np.float32) @ np.ones((384, 384), np.float32)
        return {b: arrays(b) for b in (BATCH, 8)}

    def fit(built, data, epochs):
        sizes = [min(BATCH, len(data) - s) for s in range(0, len(data), BATCH)]
        for _ in range(epochs):
            for b in sizes:
                a = built[b]
                forward(a)
                a["h_t_t"] @ a["dy"]       # Dense weight gradient
                a["dy"] @ a["w_d_t"]       # Dense input gradient
                for _ in range(STEPS):
                    a["dz"] @ a["w_hh_t"]  # gradient into h_{t-1}
                a["h_all_t"] @ a["dz_all"]  # recurrent kernel gradient, all steps at once
                a["x_all_t"] @ a["dz_all"]  # input kernel gradient
        return None

    def predict(built, data):
        return np.concatenate([forward(built[min(BATCH, len(data) - s)]) for s in range(0, len(data), BATCH)])

    return build, fit, predict


def child(framework: str, threads: int, epochs: int) -> None:
    t0 = time.perf_counter()
    limiter = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    import numpy as np

    if framework == "torch":
        build, fit, predict = _torch_program(threads)
    elif framework == "floor":
        if threadpool_limits is None:
            raise SystemExit("the floor needs threadpoolctl to run on one BLAS thread")
        threads = 1
        build, fit, predict = _floor_program()
    elif framework in ("minirnn", "keras"):
        build, fit, predict = _keras_api_program(framework, threads)
    else:
        raise SystemExit(f"unknown framework {framework!r}: expected minirnn, keras, torch or floor")
    if threadpool_limits is not None:
        limiter = threadpool_limits(threads)  # noqa: F841 - every pool loaded so far, for the whole run
    t_import = time.perf_counter()

    import warnings

    warnings.simplefilter("ignore")  # Keras's input_shape= notice, minirnn's broadcasting notice
    data = np.random.default_rng(1).standard_normal((1000, STEPS, 1))
    model = build()
    t_build = time.perf_counter()
    losses = fit(model, data, epochs)
    t_fit = time.perf_counter()
    predictions = predict(model, data)
    t_predict = time.perf_counter()

    import resource

    print(json.dumps({
        "framework": framework, "threads": threads, "epochs": epochs,
        "import_s": t_import - t0, "build_s": t_build - t_import, "fit_s": t_fit - t_build,
        "predict_s": t_predict - t_fit, "program_s": t_predict - t_import,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "first_loss": None if losses is None else float(losses[0]),
        "last_loss": None if losses is None else float(losses[-1]),
        "predictions_shape": list(np.shape(predictions)),
    }))


def run_child(framework: str, threads: int, epochs: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", framework,
                          "--threads", str(threads), "--epochs", str(epochs)],
                         env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{framework} child failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


def _loss_text(r: dict) -> str:
    return "no loss" if r["first_loss"] is None else f"loss {r['first_loss']:.4f} -> {r['last_loss']:.4f}"


# Ratios printed when both sides ran: slower-expected framework over faster-expected one.
RATIOS = (("keras", "minirnn"), ("keras", "torch"), ("minirnn", "torch"),
          ("keras", "floor"), ("minirnn", "floor"), ("torch", "floor"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3, help="runs of each framework, alternating")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--frameworks", default="minirnn,keras", help="comma-separated: minirnn, keras, torch, floor")
    p.add_argument("--json", help="write every run to this file")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.threads, args.epochs)
        return 0

    frameworks = args.frameworks.split(",")
    runs: dict[str, list[dict]] = {f: [] for f in frameworks}
    print(f"load average at start: {os.getloadavg()}")
    for i in range(args.runs):
        for f in (frameworks if i % 2 == 0 else frameworks[::-1]):
            r = run_child(f, args.threads, args.epochs)
            runs[f].append(r)
            print(f"run {i + 1} {f:8s} wall {r['wall_s']:6.2f} s  fit {r['fit_s']:6.2f} s  predict "
                  f"{r['predict_s']:5.2f} s  import {r['import_s']:5.2f} s  peak RSS {r['peak_rss_mb']:6.1f} MB  "
                  f"{_loss_text(r)}", flush=True)
    print(f"load average at end: {os.getloadavg()}")
    keys = ("wall_s", "fit_s", "predict_s", "import_s", "peak_rss_mb")
    med = {f: {k: statistics.median(r[k] for r in runs[f]) for k in keys} for f in frameworks}
    print(f"\nmedians over {args.runs} run(s), {args.threads} thread(s), {args.epochs} epochs:")
    print(f"{'':10s}" + "".join(f"{k:>14s}" for k in keys))
    for f in frameworks:
        print(f"{f:10s}" + "".join(f"{med[f][k]:14.2f}" for k in keys))
    for slow, fast in RATIOS:
        if slow in med and fast in med:
            print(f"{slow + ' / ' + fast:17s}: "
                  + "  ".join(f"{k} {med[slow][k] / med[fast][k]:.2f}x" for k in keys))
    for name, note in (("torch", TORCH_NOTE), ("floor", FLOOR_NOTE)):
        if name in med:
            print(f"note: {note}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "runs": runs, "medians": med}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
