"""Where the time goes: cProfile of minirnn's LSTM forward + backward, and of the founding program's fit.

The profiler's clock is the thread's CPU time (``time.thread_time``), not the wall clock: on a shared
machine the wall clock also counts the time the process waited for a core, which says nothing about
minirnn. BLAS is pinned to one thread (threadpoolctl, the ``bench`` extra) so that CPU time is the work.
cProfile adds a few microseconds per Python call, so absolute figures are inflated; the shares are
what to read. NumPy ufuncs are not Python calls: their time counts in the function that calls them
(``step_forward``'s own time is its element-wise products, for example).

Run:
    python benchmarks/profile_rnn.py                    # LSTM at the four benchmark shapes, then fit
    python benchmarks/profile_rnn.py --shapes seed --no-fit --top 25
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
import warnings

import numpy as np

SHAPES = {"seed": (32, 10, 1, 50), "small": (32, 50, 8, 64), "medium": (64, 50, 32, 128),
          "large": (64, 100, 256, 512)}


def table(profile: cProfile.Profile, calls: int, top: int) -> str:
    stats = pstats.Stats(profile)
    total = sum(v[2] for v in stats.stats.values())  # total own time
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]
    lines = [f"{'own ms/call':>12s} {'share':>6s} {'calls/call':>10s}  function"]
    for (file, line, name), (_, nc, tt, _, _) in rows:
        where = f"{file.split('/minirnn/')[-1] if '/minirnn/' in file else file.split('/')[-1]}:{line}"
        lines.append(f"{1e3 * tt / calls:12.3f} {100 * tt / total:5.1f}% {nc / calls:10.1f}  {name} ({where})")
    lines.append(f"{1e3 * total / calls:12.3f} 100.0%              total CPU time per call (profiled)")
    return "\n".join(lines)


def profile_lstm(shape: str, top: int) -> None:
    from minirnn import runtime
    from minirnn.cells import LSTMCell, driver

    runtime.keep_freed_memory()  # as fit applies it

    B, T, D, H = SHAPES[shape]
    rng = np.random.default_rng(0)
    f = np.float32
    x = rng.standard_normal((B, T, D)).astype(f)
    W = (rng.standard_normal((D, 4 * H)) / np.sqrt(D)).astype(f)
    U = (rng.standard_normal((H, 4 * H)) / np.sqrt(H)).astype(f)
    b = (0.1 * rng.standard_normal(4 * H)).astype(f)
    ones = np.ones((B, H), f)

    cell, params = LSTMCell(H), {"kernel": W, "recurrent_kernel": U, "bias": b}

    def run():
        y, final, cache = driver.forward(cell, x, params)
        driver.backward(cache, None, [ones, None])

    run()
    calls = {"seed": 200, "small": 40, "medium": 10, "large": 2}[shape]
    prof = cProfile.Profile(time.thread_time)
    prof.enable()
    for _ in range(calls):
        run()
    prof.disable()
    print(f"\n== LSTM forward + backward, {shape} (B, T, D, H) = {SHAPES[shape]}, {calls} calls ==")
    print(table(prof, calls, top))


def profile_fit(top: int, epochs: int) -> None:
    from minirnn import Sequential
    from minirnn.layers import LSTM, Dense, Dropout

    warnings.simplefilter("ignore")
    data = np.random.default_rng(1).standard_normal((1000, 10, 1))
    model = Sequential()
    model.add(LSTM(50, activation="relu", input_shape=(10, 1), seed=1))
    model.add(Dropout(0.2))
    model.add(Dense(1, seed=1))
    model.compile(optimizer="adam", loss="mse")
    model.fit(data, data, epochs=1, verbose=0, seed=0)
    prof = cProfile.Profile(time.thread_time)
    prof.enable()
    model.fit(data, data, epochs=epochs, verbose=0, seed=1)
    prof.disable()
    batches = epochs * 32
    print(f"\n== the founding program's fit: {epochs} epochs = {batches} training steps (figures per step) ==")
    print(table(prof, batches, top))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--top", type=int, default=16)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--no-fit", action="store_true")
    args = p.parse_args(argv)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        print("threadpoolctl missing (pip install -e .[bench]): BLAS threads not pinned", file=sys.stderr)
    for shape in args.shapes.split(","):
        profile_lstm(shape, args.top)
    if not args.no_fit:
        profile_fit(args.top, args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
