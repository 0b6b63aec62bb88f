"""Forward + backward through time of one recurrent layer: minirnn against its baselines, side by side.

What one call measures (every implementation does the same work, float32):

    outputs = layer(x)                       x (B, T, D), one layer with H units
    L = sum(outputs[:, -1])                  the loss reads the last output only
    dL/dx, dL/dkernel, dL/drecurrent_kernel, dL/dbias

Implementations (each one runs in its own worker process, so thread pools never meet):

    minirnn   minirnn.cells.driver (forward / backward) with the built-in cell, under minirnn.runtime's
              allocator policy (as fit and predict apply it)
    usercell  the same driver with benchmarks/user_lstm_cell.py, a verbatim copy of LSTMCell defined outside
              minirnn (LSTM only): a user's cell is no slower than a built-in one
    naive     benchmarks/naive_lstm.py: per-step NumPy as a first course writes it (LSTM, SimpleRNN, GRU)
    floor     only the matrix products an RNN cannot avoid (see ``floor_step``): X @ kernel once, T products
              h @ recurrent_kernel, T products dz @ recurrent_kernel^T, and the three products over all steps
              X^T dZ, H^T dZ, dZ kernel^T; no element-wise work at all; on the worker's pinned BLAS threads,
              importing nothing from minirnn
    npfloor   the floor plus the gate nonlinearities a NumPy cell must evaluate step by step (``npfloor_step``):
              a lower bound for ANY NumPy/SciPy implementation of the cell, however clever its element-wise
              code, because NumPy has no fused cell and its sigmoid and tanh cost 7-10 ns per float32 here
    torch     torch.nn.LSTM / RNN / GRU on the CPU (when torch is installed)
    tf        keras.layers.LSTM / SimpleRNN / GRU under TensorFlow inside one tf.function (when installed)

Noise control: the machine is shared. Workers are started once per thread count and then measured in
rounds; every round runs each implementation for a few calls in a shuffled order, so a burst of load
from elsewhere hits all of them alike. Between turns the harness sleeps briefly so that the spinning
BLAS / OpenMP threads of the implementation that just ran have gone to sleep. Reported: the median of
all calls, the spread (25th-75th percentile, as % of the median) and the ratios of medians.

Threads: the BLAS (and OpenMP) thread count of each worker is pinned with threadpoolctl, torch's with
torch.set_num_threads, TensorFlow's with tf.config.threading; the harness prints what each worker saw.

Before timing, every worker computes the loss and dL/dkernel for the same weights and input, and the
harness checks they agree (the gate layouts of torch are mapped from Keras's), so a fast wrong
implementation cannot win.

Run (needs the bench extra; torch and tf columns appear when those are installed):

    python benchmarks/bench_rnn.py                       # all shapes, LSTM + SimpleRNN (+ GRU), 1 and 2 threads
    python benchmarks/bench_rnn.py --shapes seed --cells lstm --threads 2 --repeats 30
    python benchmarks/bench_rnn.py --json results.json   # also save every timing
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import sys
import time

SHAPES = {  # name: (B, T, D, H)
    "seed": (32, 10, 1, 50),
    "small": (32, 50, 8, 64),
    "medium": (64, 50, 32, 128),
    "large": (64, 100, 256, 512),
}
GATES = {"simplernn": 1, "gru": 3, "lstm": 4}
IMPLS = ("minirnn", "usercell", "naive", "floor", "npfloor", "torch", "tf")

HERE = os.path.dirname(os.path.abspath(__file__))


# -------------------------------------------------------------------------------------------------
# The implementations. Each ``make_*`` returns (step, check): ``step()`` runs one forward + backward;
# ``check()`` returns (loss, dL/dkernel in Keras layout) for the correctness cross-check.
# Weights arrive in Keras layout: kernel (D, kH), recurrent_kernel (H, kH), bias (kH,) or, for the
# GRU (reset_after=True, Keras's default), bias (2, 3H): input bias and recurrent bias.
# -------------------------------------------------------------------------------------------------
def make_minirnn(cell, x, W, U, b, cell_factory=None):
    import numpy as np

    from minirnn import runtime
    from minirnn.cells import GRUCell, LSTMCell, SimpleRNNCell, driver

    runtime.keep_freed_memory()  # minirnn's allocator policy, as fit/predict apply it
    H = U.shape[0]
    if cell_factory is not None:
        c = cell_factory(H)
    else:
        c = {"lstm": LSTMCell, "simplernn": SimpleRNNCell, "gru": GRUCell}[cell](H)  # GRU: reset_after=True
    params = {"kernel": W, "recurrent_kernel": U, "bias": b}
    ones = np.ones((x.shape[0], H), x.dtype)

    def run():
        y, final, cache = driver.forward(c, x, params)
        g = driver.backward(cache, None, [ones] + [None] * (len(final) - 1))
        return final[0], g

    def step():
        run()

    def check():
        h_last, g = run()
        return float(h_last.astype(np.float64).sum()), g.params["kernel"]

    return step, check


def make_usercell(cell, x, W, U, b):
    """minirnn's driver with a verbatim copy of the built-in LSTM cell defined outside the package
    (benchmarks/user_lstm_cell.py): a user's cell runs exactly as fast as a built-in one."""
    if cell != "lstm":
        raise NotImplementedError("the user-cell copy is an LSTM")
    sys.path.insert(0, HERE)
    from user_lstm_cell import UserLSTMCell

    return make_minirnn(cell, x, W, U, b, cell_factory=UserLSTMCell)


def make_naive(cell, x, W, U, b):
    import numpy as np

    sys.path.insert(0, HERE)
    import naive_lstm

    fwd, bwd = {"lstm": (naive_lstm.lstm_forward, naive_lstm.lstm_backward),
                "simplernn": (naive_lstm.rnn_forward, naive_lstm.rnn_backward),
                "gru": (naive_lstm.gru_forward, naive_lstm.gru_backward)}[cell]
    B, T, _ = x.shape
    H = U.shape[0]
    h0 = np.zeros((B, H), x.dtype)
    dh = np.zeros((B, T, H), x.dtype)
    dh[:, -1] = 1

    def run():
        h, caches = fwd(x, h0, W, U, b)
        return h, bwd(dh, caches)

    def step():
        run()

    def check():
        h, (dx, dh0, dW, dU, db) = run()
        return float(h[:, -1].astype(np.float64).sum()), dW

    return step, check


def floor_step(X, W, U, UT, WT, Hs, Z, dZ, dh, loop_threads, bulk_threads):
    """The unavoidable matrix products of one forward + backward, nothing else.

    X (T B, D) time-major inputs, Hs (T + 1, B, H) states, Z and dZ (T, B, kH); UT, WT contiguous transposes.
    ``loop_threads`` and ``bulk_threads`` are context-manager factories that set the BLAS threads for the
    per-step products and for those over all T B rows, as minirnn's kernels do.
    """
    import numpy as np

    T = Z.shape[0]
    with bulk_threads():
        np.matmul(X, W, out=Z.reshape(-1, Z.shape[-1]))  # input projection of all steps
    with loop_threads():
        for t in range(T):  # the recurrent product of each step
            np.matmul(Hs[t], U, out=Z[t])
        for t in range(T - 1, -1, -1):  # its transpose in backpropagation through time
            np.matmul(dZ[t], UT, out=dh)
    dZ2 = dZ.reshape(-1, dZ.shape[-1])
    with bulk_threads():
        X.T @ dZ2  # dL/dkernel
        Hs[:-1].reshape(-1, Hs.shape[-1]).T @ dZ2  # dL/drecurrent_kernel
        dZ2 @ WT  # dL/dx


#: per cell, the H-wide blocks of each step that go through the recurrent activation (sigmoid) and through
#: the activation (tanh): LSTM i, f, o and g, a(c_t); GRU z, r and the candidate; SimpleRNN h_t
NONLINEAR_BLOCKS = {"lstm": (3, 2), "gru": (2, 1), "simplernn": (0, 1)}


def make_npfloor(cell, x, W, U, b):
    """``floor`` plus, for every time step, the cell's sigmoid and tanh evaluations, nothing else.

    They run on contiguous (B, kH) arrays (the cheapest case: a real cell works on strided gate views),
    and the sigmoid is whichever of three NumPy/SciPy formulations is fastest at this size, timed at setup:
    scipy's ``expit``, ``1 / (1 + exp(-z))`` (NumPy's ``exp`` is vectorised on contiguous arrays, so
    on large arrays four calls beat one ``expit``; overflow only makes exp(-z) inf, and 1 / inf = 0), or
    ``(1 + tanh(z / 2)) / 2`` (the form minirnn's activations use).
    The nonlinearities of step t need the recurrent product of step t, so no implementation can batch
    them over time; the backward pass needs no transcendental function (derivatives come from the cached
    outputs), so one evaluation per step is the minimum.
    """
    import numpy as np
    from scipy.special import expit

    B, T, H = x.shape[0], x.shape[1], U.shape[0]
    n_sigmoid, n_tanh = NONLINEAR_BLOCKS[cell]
    rng = np.random.default_rng(1)
    S0 = rng.standard_normal((B, n_sigmoid * H)).astype(x.dtype)
    A0 = rng.standard_normal((B, n_tanh * H)).astype(x.dtype)
    S, A = S0.copy(), A0.copy()
    floor, _ = make_floor(cell, x, W, U, b)

    def sigmoid_expit():
        expit(S0, out=S)  # from the same inputs every step: values stay in the usual range

    def sigmoid_exp():
        np.negative(S0, out=S)
        np.exp(S, out=S)
        np.add(S, 1, out=S)
        np.reciprocal(S, out=S)

    def sigmoid_tanh():  # s(z) = (1 + tanh(z / 2)) / 2: np.tanh is a vectorised loop on every CPU
        np.multiply(S0, 0.5, out=S)
        np.tanh(S, out=S)
        np.multiply(S, 0.5, out=S)
        np.add(S, 0.5, out=S)

    def best_of_five(fn):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(20):
                fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    with np.errstate(over="ignore"):
        sigmoid = min((sigmoid_expit, sigmoid_exp, sigmoid_tanh), key=best_of_five) if n_sigmoid else None

    def step():
        floor()
        with np.errstate(over="ignore"):
            for _ in range(T):
                if sigmoid is not None:
                    sigmoid()
                np.tanh(A0, out=A)

    return step, None


def make_floor(cell, x, W, U, b):
    """The matrix products alone (``floor_step``), on the BLAS threads the worker was pinned to: it uses no
    minirnn module, so the bound does not move when minirnn changes."""
    import contextlib

    import numpy as np

    B, T, D = x.shape
    H, G = U.shape
    rng = np.random.default_rng(0)
    X = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(T * B, D)
    Hs = rng.standard_normal((T + 1, B, H)).astype(x.dtype)
    Z = np.empty((T, B, G), x.dtype)
    dZ = rng.standard_normal((T, B, G)).astype(x.dtype)
    dh = np.empty((B, H), x.dtype)
    UT, WT = np.ascontiguousarray(U.T), np.ascontiguousarray(W.T)

    def step():
        floor_step(X, W, U, UT, WT, Hs, Z, dZ, dh, contextlib.nullcontext, contextlib.nullcontext)

    return step, None


def _torch_layout(cell, W, U, b):
    """Keras weights -> torch's (weight_ih, weight_hh, bias_ih, bias_hh) and the column order of kernel."""
    import numpy as np

    H = U.shape[0]
    if cell == "gru":
        # Keras blocks z, r, h; torch r, z, n (same equations with reset_after=True)
        perm = np.concatenate([np.arange(H, 2 * H), np.arange(0, H), np.arange(2 * H, 3 * H)])
        return W[:, perm].T, U[:, perm].T, b[0][perm], b[1][perm], perm
    perm = np.arange(U.shape[1])  # LSTM i, f, g, o == Keras i, f, c, o; SimpleRNN one block
    return W.T, U.T, b, np.zeros_like(b), perm


def make_torch(cell, x, W, U, b):
    import numpy as np
    import torch

    D, H = x.shape[2], U.shape[0]
    layer = {"lstm": torch.nn.LSTM, "simplernn": torch.nn.RNN, "gru": torch.nn.GRU}[cell](D, H, batch_first=True)
    wih, whh, bih, bhh, perm = _torch_layout(cell, W, U, b)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", wih), ("weight_hh_l0", whh), ("bias_ih_l0", bih), ("bias_hh_l0", bhh)):
            getattr(layer, name).copy_(torch.from_numpy(np.ascontiguousarray(value)))
    xt = torch.from_numpy(x).requires_grad_(True)

    def run():
        layer.zero_grad(set_to_none=True)
        xt.grad = None
        out, _ = layer(xt)
        loss = out[:, -1].sum()
        loss.backward()
        return loss

    def step():
        run()

    def check():
        loss = run()
        dW = np.empty_like(W)
        dW[:, perm] = layer.weight_ih_l0.grad.numpy().T
        return float(loss.detach()), dW

    return step, check


def make_tf(cell, x, W, U, b):
    import keras
    import tensorflow as tf

    H = U.shape[0]
    cls = {"lstm": keras.layers.LSTM, "simplernn": keras.layers.SimpleRNN, "gru": keras.layers.GRU}[cell]
    layer = cls(H)
    layer.build(x.shape)
    layer.set_weights([W, U, b])
    xt = tf.constant(x)

    @tf.function
    def run(xt):
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.reduce_sum(layer(xt))
        grads = tape.gradient(loss, [xt] + layer.trainable_weights)
        return loss, grads

    def step():
        loss, _ = run(xt)
        loss.numpy()  # make sure the work is done before the clock stops

    def check():
        loss, grads = run(xt)
        return float(loss.numpy()), grads[1].numpy()

    return step, check


MAKERS = {"minirnn": make_minirnn, "usercell": make_usercell, "naive": make_naive, "floor": make_floor,
          "npfloor": make_npfloor, "torch": make_torch, "tf": make_tf}


# -------------------------------------------------------------------------------------------------
# Worker processes
# -------------------------------------------------------------------------------------------------
def _limit_threads(impl: str, n: int) -> dict:
    """Pin every thread pool this worker can reach to n threads; return what it now reports."""
    info: dict = {}
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        threadpool_limits = threadpool_info = None
        info["threadpoolctl"] = "missing: BLAS threads follow OPENBLAS_NUM_THREADS / OMP_NUM_THREADS"
    if impl == "torch":
        import torch

        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:
            pass
        info["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                         "interop": torch.get_num_interop_threads(), "mkldnn": torch.backends.mkldnn.is_available()}
    if impl == "tf":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
        info["tf"] = {"version": tf.__version__, "keras": keras.__version__,
                      "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                      "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    import numpy as np

    info["numpy"] = np.__version__
    if threadpool_limits is not None:
        # kept alive for the worker's lifetime: limits every BLAS and OpenMP pool loaded so far
        info["_limiter"] = threadpool_limits(n)
        info["pools"] = [{k: p[k] for k in ("internal_api", "num_threads", "version", "prefix")}
                         for p in threadpool_info()]
    return info


def worker(impl: str, threads: int, conn) -> None:
    try:
        info = _limit_threads(impl, threads)
        limiter = info.pop("_limiter", None)  # noqa: F841 - held for the worker's lifetime
        conn.send(("ready", info))
    except Exception as e:  # noqa: BLE001 - report any import failure to the parent
        conn.send(("error", f"{type(e).__name__}: {e}"))
        return
    step = check = None
    while True:
        msg = conn.recv()
        try:
            if msg[0] == "setup":
                _, cell, x, W, U, b, warmup = msg
                step, check = MAKERS[impl](cell, x, W, U, b)
                for _ in range(warmup):
                    step()
                conn.send(("ok", check() if check is not None else None))
            elif msg[0] == "run":
                times = []
                for _ in range(msg[1]):
                    t0 = time.perf_counter()
                    step()
                    times.append(time.perf_counter() - t0)
                conn.send(("ok", times))
            elif msg[0] == "stop":
                conn.send(("ok", None))
                return
        except Exception as e:  # noqa: BLE001
            conn.send(("error", f"{type(e).__name__}: {e}"))
            step = check = None


class Worker:
    def __init__(self, ctx, impl: str, threads: int):
        self.impl = impl
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=worker, args=(impl, threads, child), daemon=True)
        self.proc.start()
        kind, self.info = self.conn.recv()
        self.ok = kind == "ready"

    def call(self, *msg):
        self.conn.send(msg)
        return self.conn.recv()

    def close(self):
        if self.proc.is_alive():
            try:
                self.call("stop")
            except (EOFError, BrokenPipeError):
                pass
        self.proc.join(timeout=10)


# -------------------------------------------------------------------------------------------------
def problem(cell: str, B: int, T: int, D: int, H: int, seed: int = 0):
    """Shared float32 input and Keras-layout weights (small enough that no activation saturates)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    k = GATES[cell]
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    W = (rng.standard_normal((D, k * H)) / np.sqrt(D)).astype(np.float32)
    U = (rng.standard_normal((H, k * H)) / np.sqrt(H)).astype(np.float32)
    if cell == "gru":
        b = (0.1 * rng.standard_normal((2, k * H))).astype(np.float32)
    else:
        b = (0.1 * rng.standard_normal(k * H)).astype(np.float32)
    return x, W, U, b


def machine_info() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import subprocess

        info["minirnn_commit"] = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                                capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def measure(workers: dict, cell: str, shape: str, repeats: int, per_round: int, settle: float, rng) -> dict:
    import numpy as np

    B, T, D, H = SHAPES[shape]
    x, W, U, b = problem(cell, B, T, D, H)
    warmup = 2 if shape == "large" else 5
    active, checks, notes = [], {}, {}
    for name, w in workers.items():
        kind, payload = w.call("setup", cell, x, W, U, b, warmup)
        if kind == "ok":
            active.append(name)
            checks[name] = payload
        else:
            notes[name] = payload
    # correctness: every implementation's loss and dL/dkernel against minirnn's (or the first one's)
    ref_name = "minirnn" if checks.get("minirnn") is not None else next(
        (n for n in active if checks[n] is not None), None)
    if ref_name is not None:
        ref_loss, ref_dW = checks[ref_name]
        for name in active:
            if checks[name] is None or name == ref_name:
                continue
            loss, dW = checks[name]
            rel = float(np.linalg.norm(dW - ref_dW) / max(np.linalg.norm(ref_dW), 1e-30))
            if abs(loss - ref_loss) > 1e-3 * max(1.0, abs(ref_loss)) or rel > 1e-3:
                raise AssertionError(f"{cell} {shape}: {name} disagrees with {ref_name}: loss {loss} vs {ref_loss}, "
                                     f"relative error of dL/dkernel {rel:.2e}")
    times = {name: [] for name in active}
    rounds = -(-repeats // per_round)
    for _ in range(rounds):
        order = list(active)
        rng.shuffle(order)
        for name in order:
            time.sleep(settle)
            kind, payload = workers[name].call("run", per_round)
            if kind != "ok":
                raise RuntimeError(f"{name}: {payload}")
            times[name].extend(payload)
    stats = {}
    for name, ts in times.items():
        q1, med, q3 = np.percentile(ts, [25, 50, 75])
        stats[name] = {"median_ms": 1e3 * med, "iqr_pct": 100 * (q3 - q1) / med, "min_ms": 1e3 * min(ts),
                       "n": len(ts), "times_ms": [1e3 * t for t in ts]}
    return {"cell": cell, "shape": shape, "BTDH": [B, T, D, H], "stats": stats, "skipped": notes,
            "checked_against": ref_name}


def print_table(results: list, threads: int) -> None:
    print(f"\n== {threads} thread(s): median ms per forward+backward (spread = IQR as % of median) ==")
    head = f"{'cell':10s}{'shape':8s}" + "".join(f"{n:>17s}" for n in IMPLS)
    ratios = ("torch", "tf", "floor", "npfloor", "naive", "usercell")
    # npfloor/torch and npfloor/tf: how close ANY NumPy implementation could come (a bound, see make_npfloor)
    bounds = ("torch", "tf")
    print(head + "".join(f"{'mr/' + r:>11s}" for r in ratios) + "".join(f"{'npf/' + r:>11s}" for r in bounds))
    for r in results:
        s = r["stats"]
        row = f"{r['cell']:10s}{r['shape']:8s}"
        for n in IMPLS:
            row += f"{s[n]['median_ms']:10.3f} ({s[n]['iqr_pct']:3.0f}%)" if n in s else f"{'-':>17s}"
        for n in ratios:
            row += f"{s['minirnn']['median_ms'] / s[n]['median_ms']:11.2f}" if n in s and "minirnn" in s else \
                f"{'-':>11s}"
        bound = s["npfloor"]["median_ms"] if "npfloor" in s else None
        for n in bounds:
            row += f"{bound / s[n]['median_ms']:11.2f}" if n in s and bound else f"{'-':>11s}"
        print(row)
        for n, why in r["skipped"].items():
            print(f"{'':18s}({n} skipped: {why})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default=",".join(SHAPES), help=f"comma list of {list(SHAPES)}")
    p.add_argument("--cells", default="lstm,simplernn,gru", help="comma list of lstm, simplernn, gru")
    p.add_argument("--threads", default="1,2", help="comma list of thread counts, e.g. 1,2")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--repeats", type=int, default=15, help="timed calls per implementation and case")
    p.add_argument("--per-round", type=int, default=0, help="calls per turn (default: 1 for large, else 5)")
    p.add_argument("--settle", type=float, default=0.2, help="seconds to sleep between turns")
    p.add_argument("--json", help="write every timing and the machine description to this file")
    args = p.parse_args(argv)

    shapes = args.shapes.split(",")
    cells = args.cells.split(",")
    impls = args.impls.split(",")
    for s in shapes:
        if s not in SHAPES:
            p.error(f"unknown shape {s!r}; expected one of {list(SHAPES)}")
    for c in cells:
        if c not in GATES:
            p.error(f"unknown cell {c!r}; expected one of {list(GATES)}")

    ctx = mp.get_context("spawn")
    report = {"machine": machine_info(), "args": vars(args), "runs": []}
    print(json.dumps(report["machine"]))
    rng = random.Random(0)
    for n in [int(t) for t in args.threads.split(",")]:
        # inherited by the workers, read by BLAS / OpenMP when they load; threadpoolctl then enforces it
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(n)
        workers = {}
        for impl in impls:
            w = Worker(ctx, impl, n)
            if w.ok:
                workers[impl] = w
                print(f"[{n} thread(s)] {impl}: {json.dumps(w.info)}")
            else:
                print(f"[{n} thread(s)] {impl}: unavailable ({w.info})")
                w.close()
        results = []
        try:
            for cell in cells:
                for shape in shapes:
                    per_round = args.per_round or (1 if shape == "large" else 5)
                    r = measure(workers, cell, shape, args.repeats, per_round, args.settle, rng)
                    if "minirnn" not in r["stats"] and "minirnn" in workers:
                        print(f"{cell}: minirnn skipped ({r['skipped'].get('minirnn')})")
                    r["threads"] = n
                    results.append(r)
                    print(f"  {cell:10s}{shape:8s}" + "  ".join(
                        f"{k} {v['median_ms']:.3f}" for k, v in r["stats"].items()), flush=True)
        finally:
            for w in workers.values():
                w.close()
        print_table(results, n)
        report["runs"].extend(results)
        report.setdefault("workers", {})[n] = {k: w.info for k, w in workers.items()}
    report["machine"]["loadavg_end"] = os.getloadavg()
    print(f"load average at start {report['machine'].get('loadavg_start')}, at end {report['machine']['loadavg_end']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
