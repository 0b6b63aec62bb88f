"""The founding program end to end, minirnn against Keras: wall time and peak memory, each in its own process.

The program (the same in both, 1000 x 10 x 1 standard-normal data, float32 models):

    model = Sequential([LSTM(50, activation='relu', input_shape=(10, 1)), Dropout(0.2), Dense(1)])
    model.compile(optimizer='adam', loss='mse')
    model.fit(data, data, epochs=100, verbose=0)
    predictions = model.predict(data)

Each run is a fresh ``python`` child process (so imports, thread pools and memory are its own). The
child reports, as JSON: the time to import the framework, to build and compile, to fit, to predict,
and its peak resident set size from ``resource.getrusage`` (ru_maxrss, the high-water mark of the
whole process, imports included). The parent measures the child's whole wall time, interpreter start
included. Runs alternate between the frameworks so that load from elsewhere hits both alike; the
medians and the ratio Keras / minirnn are printed.

Threads: BLAS / OpenMP pools are pinned in the child with threadpoolctl (the ``bench`` extra) and, for
TensorFlow, with tf.config.threading; the environment variables OMP_NUM_THREADS, OPENBLAS_NUM_THREADS
and MKL_NUM_THREADS are set too.

Run:
    python benchmarks/bench_seed.py                          # 2 threads, 3 runs each, both frameworks
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


def child(framework: str, threads: int, epochs: int) -> None:
    t0 = time.perf_counter()
    limiter = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    import numpy as np

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
    if threadpool_limits is not None:
        limiter = threadpool_limits(threads)  # noqa: F841 - every pool loaded so far, for the whole run
    t_import = time.perf_counter()

    import warnings

    warnings.simplefilter("ignore")  # Keras's input_shape= notice, minirnn's broadcasting notice
    data = np.random.default_rng(1).standard_normal((1000, 10, 1))
    extra = {} if framework == "keras" else {"seed": 1}
    model = Sequential()
    model.add(LSTM(50, activation="relu", input_shape=(10, 1), **extra))
    model.add(Dropout(0.2))
    model.add(Dense(1, **extra))
    model.compile(optimizer="adam", loss="mse")
    t_build = time.perf_counter()
    history = model.fit(data, data, epochs=epochs, verbose=0, **extra)
    t_fit = time.perf_counter()
    predictions = model.predict(data, verbose=0)
    t_predict = time.perf_counter()

    import resource

    losses = history.history["loss"]
    print(json.dumps({
        "framework": framework, "threads": threads, "epochs": epochs,
        "import_s": t_import - t0, "build_s": t_build - t_import, "fit_s": t_fit - t_build,
        "predict_s": t_predict - t_fit, "program_s": t_predict - t_import,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "first_loss": float(losses[0]), "last_loss": float(losses[-1]),
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3, help="runs of each framework, alternating")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--frameworks", default="minirnn,keras")
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
                  f"loss {r['first_loss']:.4f} -> {r['last_loss']:.4f}", flush=True)
    print(f"load average at end: {os.getloadavg()}")
    keys = ("wall_s", "fit_s", "predict_s", "import_s", "peak_rss_mb")
    med = {f: {k: statistics.median(r[k] for r in runs[f]) for k in keys} for f in frameworks}
    print(f"\nmedians over {args.runs} run(s), {args.threads} thread(s), {args.epochs} epochs:")
    print(f"{'':10s}" + "".join(f"{k:>14s}" for k in keys))
    for f in frameworks:
        print(f"{f:10s}" + "".join(f"{med[f][k]:14.2f}" for k in keys))
    if "minirnn" in med and "keras" in med:
        print("keras / minirnn: " + "  ".join(f"{k} {med['keras'][k] / med['minirnn'][k]:.1f}x" for k in keys))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "runs": runs, "medians": med}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
