"""TensorFlow parity: minirnn against Keras (TensorFlow backend) on the same weights and data.

Needs the tf extra: ``pip install -e ".[tf]"``, then ``python benchmarks/tf_parity.py``.

1. Gradients. For every case in CASES (SimpleRNN tanh/relu, LSTM tanh/relu, GRU with reset_after True
   and False, Dense, the founding model; go_backwards; Bidirectional in every merge mode; Masking with
   variable-length rows (right padding, a padded step in the middle, leading padding) into LSTM, GRU,
   Bidirectional and stacks, where Keras's loss counts only the real steps; stacked SimpleRNN -> LSTM ->
   GRU -> Dense; TimeDistributed(Dense); RNN dropout and recurrent_dropout with the same masks injected
   in both (``minirnn.interop.set_keras_dropout_masks`` on the Keras side: Keras runs its own cell with
   them); stateful layers on their second call, from the state the first call left; a case whose
   minirnn layer does not exist is reported as such), in float32 and float64: a Keras model with
   randomly initialised weights and random nonzero biases is copied into minirnn
   (``minirnn.interop.from_keras``); both compute the forward output, the mse loss and its gradient
   with respect to every weight and the input (Keras: ``tf.GradientTape``; minirnn: its hand-written
   backward). Each row shows the max absolute difference and the relative error
   ``max|a - b| / max(|a| + |b|)`` (``minirnn.gradcheck``). ``--summary`` prints one row per case
   (the worst quantity) instead of one row per quantity.
   Targets: float32 within 1e-5, float64 within 1e-10.
2. Trajectory. The founding model (LSTM(50, relu), Dropout(0), Dense(1), Adam, mse, targets = inputs
   as in the founding program) trained for 100 steps in both frameworks from the same random weights
   on the same batches in a fixed order (1000 samples, batch 32, like fit with shuffle=False): the loss
   of every step (target: within 1e-4 relative) and the final weights.
3. Time per training step (``train_on_batch``) in both frameworks, medians over the trajectory.
4. Dropout. The founding model with Dropout(0.2) and the *same* mask in both (injected: minirnn's
   ``Dropout.forward(mask=...)``, and on the Keras side a layer doing TensorFlow's dropout arithmetic,
   ``x * f32(1/(1-rate))`` then a select, with that mask): loss, gradients and weights after one step.

Exits with status 1 if any target is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

try:
    import keras  # noqa: E402
    import tensorflow as tf  # noqa: E402
except ImportError:
    sys.exit('benchmarks/tf_parity.py needs TensorFlow: pip install -e ".[tf]"')

import minirnn  # noqa: E402
from minirnn import Sequential  # noqa: E402
from minirnn.gradcheck import relative_error  # noqa: E402
from minirnn.interop import (  # noqa: E402
    fixed_dropout_pair,
    from_keras,
    inject_dropout_masks,
    keras_loss_and_gradients,
)
from minirnn.kernels.dropout import dropout_mask  # noqa: E402
from minirnn.layers import LAYERS  # noqa: E402
from minirnn.losses import ShapeBroadcastWarning  # noqa: E402

TARGETS = {"float32": 1e-5, "float64": 1e-10}
TRAJECTORY_TARGET = 1e-4
DTYPES = ("float32", "float64")


# -- the cases --------------------------------------------------------------------------------------

def rnn_opts(seed: int, dtype: str) -> dict:
    """dtype and seeded Keras initializers: a random reference, reproducible without global seeding."""
    return {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed),
            "recurrent_initializer": keras.initializers.Orthogonal(seed=seed + 1), "dtype": dtype}


def dense_opts(seed: int, dtype: str) -> dict:
    return {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed), "dtype": dtype}


def founding_layers(seed: int, dtype: str, rate: float = 0.2) -> list:
    """The founding program's model: LSTM(50, relu) -> Dropout -> Dense(1)."""
    return [keras.layers.LSTM(50, activation="relu", **rnn_opts(seed, dtype)), keras.layers.Dropout(rate, dtype=dtype),
            keras.layers.Dense(1, **dense_opts(seed + 2, dtype))]


@dataclass(frozen=True)
class Case:
    name: str
    layers: Callable[[int, str], list]  # (seed, dtype) -> Keras layers (after the Input)
    input_shape: tuple              # without the batch axis
    target: str                     # "random" (normal, the output's shape) or "input" (fit(data, data))
    needs: str                      # the minirnn layer type the case needs
    padded: bool = False            # Masking(0.0) first, variable-length rows
    dropout: bool = False           # training mode with the same RNN dropout masks injected in both
    stateful: bool = False          # compared on the second call (fixed batch size)


B, T, D, H = 32, 20, 8, 32
L = keras.layers


def rnn(kind: str, seed: int, dtype: str, **options):
    return getattr(L, kind)(H, **rnn_opts(seed, dtype), **options)


def bidirectional(kind: str, merge_mode: str, return_sequences: bool) -> Callable[[int, str], list]:
    return lambda s, d: [L.Bidirectional(rnn(kind, s, d, return_sequences=return_sequences), merge_mode=merge_mode,
                                         dtype=d)]


def stacked(s: int, d: str, **options) -> list:
    """SimpleRNN -> LSTM -> GRU -> Dense(1)."""
    return [rnn("SimpleRNN", s, d, return_sequences=True, **options), rnn("LSTM", s + 2, d, return_sequences=True,
                                                                          **options),
            rnn("GRU", s + 4, d, **options), L.Dense(1, **dense_opts(s + 6, d))]


DROP = {"dropout": 0.2, "recurrent_dropout": 0.3}
CASES = [
    Case("SimpleRNN tanh", lambda s, d: [keras.layers.SimpleRNN(H, return_sequences=True, **rnn_opts(s, d))],
         (T, D), "random", "SimpleRNN"),
    Case("SimpleRNN relu", lambda s, d: [keras.layers.SimpleRNN(H, activation="relu", **rnn_opts(s, d))],
         (T, D), "random", "SimpleRNN"),
    Case("LSTM tanh", lambda s, d: [keras.layers.LSTM(H, return_sequences=True, **rnn_opts(s, d))],
         (T, D), "random", "LSTM"),
    Case("LSTM relu", lambda s, d: [keras.layers.LSTM(H, activation="relu", **rnn_opts(s, d))],
         (T, D), "random", "LSTM"),
    Case("GRU tanh", lambda s, d: [keras.layers.GRU(H, return_sequences=True, **rnn_opts(s, d))],
         (T, D), "random", "GRU"),
    Case("GRU reset_before", lambda s, d: [keras.layers.GRU(H, reset_after=False, **rnn_opts(s, d))],
         (T, D), "random", "GRU"),
    Case("Dense", lambda s, d: [keras.layers.Dense(H, activation="tanh", **dense_opts(s, d))],
         (D,), "random", "Dense"),
    Case("founding model", founding_layers, (10, 1), "input", "LSTM"),
    Case("GRU go_backwards", lambda s, d: [rnn("GRU", s, d, go_backwards=True, return_sequences=True)],
         (T, D), "random", "GRU"),
    Case("SimpleRNN go_backwards", lambda s, d: [rnn("SimpleRNN", s, d, go_backwards=True)], (T, D), "random",
         "SimpleRNN"),
    Case("Bi(LSTM) concat seq", bidirectional("LSTM", "concat", True), (T, D), "random", "Bidirectional"),
    Case("Bi(GRU) concat", bidirectional("GRU", "concat", False), (T, D), "random", "Bidirectional"),
    Case("Bi(GRU) sum seq", bidirectional("GRU", "sum", True), (T, D), "random", "Bidirectional"),
    Case("Bi(SimpleRNN) mul", bidirectional("SimpleRNN", "mul", False), (T, D), "random", "Bidirectional"),
    Case("Bi(LSTM) ave", bidirectional("LSTM", "ave", False), (T, D), "random", "Bidirectional"),
    Case("Bi(SimpleRNN) mul seq", bidirectional("SimpleRNN", "mul", True), (T, D), "random", "Bidirectional"),
    Case("stacked", stacked, (T, D), "random", "GRU"),
    Case("TimeDistributed(Dense)", lambda s, d: [L.TimeDistributed(L.Dense(H, activation="relu", **dense_opts(s, d)),
                                                                   dtype=d)], (T, D), "random", "TimeDistributed"),
    Case("LSTM -> TimeDistributed", lambda s, d: [rnn("LSTM", s, d, return_sequences=True),
                                                  L.TimeDistributed(L.Dense(4, **dense_opts(s + 2, d)), dtype=d)],
         (T, D), "random", "TimeDistributed"),
    Case("Masking -> LSTM seq", lambda s, d: [rnn("LSTM", s, d, return_sequences=True)], (T, D), "random",
         "Masking", padded=True),
    Case("Masking -> GRU", lambda s, d: [rnn("GRU", s, d)], (T, D), "random", "Masking", padded=True),
    Case("Masking -> GRU zero_out", lambda s, d: [rnn("GRU", s, d, zero_output_for_mask=True)], (T, D), "random",
         "Masking", padded=True),
    Case("Masking -> Bi(GRU) seq", bidirectional("GRU", "concat", True), (T, D), "random", "Masking", padded=True),
    Case("Masking -> Bi(LSTM) ave", bidirectional("LSTM", "ave", False), (T, D), "random", "Masking", padded=True),
    Case("Masking -> go_back stack", lambda s, d: [rnn("LSTM", s, d, go_backwards=True, return_sequences=True),
                                                   rnn("GRU", s + 2, d, return_sequences=True),
                                                   L.Dense(1, **dense_opts(s + 4, d))],
         (T, D), "random", "Masking", padded=True),
    Case("Masking -> stacked", stacked, (T, D), "random", "Masking", padded=True),
    Case("SimpleRNN dropout", lambda s, d: [rnn("SimpleRNN", s, d, return_sequences=True, **DROP)], (T, D),
         "random", "SimpleRNN", dropout=True),
    Case("LSTM dropout", lambda s, d: [rnn("LSTM", s, d, **DROP)], (T, D), "random", "LSTM", dropout=True),
    Case("LSTM input dropout only", lambda s, d: [rnn("LSTM", s, d, dropout=0.2)], (T, D), "random", "LSTM",
         dropout=True),
    Case("GRU dropout seq", lambda s, d: [rnn("GRU", s, d, return_sequences=True, **DROP)], (T, D), "random", "GRU",
         dropout=True),
    Case("GRU reset_before dropout", lambda s, d: [rnn("GRU", s, d, reset_after=False, **DROP)], (T, D), "random",
         "GRU", dropout=True),
    Case("Bi(LSTM) dropout", lambda s, d: [L.Bidirectional(rnn("LSTM", s, d, **DROP), dtype=d)], (T, D), "random",
         "Bidirectional", dropout=True),
    Case("stacked dropout", lambda s, d: stacked(s, d, **DROP), (T, D), "random", "GRU", dropout=True),
    Case("stateful LSTM -> GRU", lambda s, d: [rnn("LSTM", s, d, stateful=True, return_sequences=True),
                                               rnn("GRU", s + 2, d, stateful=True), L.Dense(1, **dense_opts(s + 4, d))],
         (T, D), "random", "GRU", stateful=True),
    Case("stateful Masking -> GRU", lambda s, d: [rnn("GRU", s, d, stateful=True, return_sequences=True)], (T, D),
         "random", "Masking", padded=True, stateful=True),
]


def keras_model(layers: list, input_shape: tuple, dtype: str, rng: np.random.Generator, batch_size: int | None = None):
    """A Keras Sequential of ``layers`` (all in ``dtype``) whose biases are replaced by random nonzero values."""
    model = keras.Sequential([keras.Input(batch_shape=(batch_size, *input_shape), dtype=dtype), *layers])
    for w in model.weights:
        if w.name == "bias":
            w.assign((rng.standard_normal(w.shape) * 0.5).astype(dtype))
    return model


def make_data(case: Case, model, dtype: str, rng: np.random.Generator):
    x = rng.standard_normal((B, *case.input_shape)).astype(dtype)
    if case.padded:  # lengths T/2..T (right padding), a padded step in the middle of every 3rd row,
        for i, length in enumerate(rng.integers(T // 2, T + 1, B)):  # leading padding in every 5th
            x[i, length:] = 0
            if i % 3 == 0:
                x[i, length // 2] = 0
            if i % 5 == 0:
                x[i, 0] = 0
    if case.target == "input":
        return x, x
    return x, rng.standard_normal((B, *model.output_shape[1:])).astype(dtype)


# -- 1. gradients -----------------------------------------------------------------------------------

def compare_case(case: Case, dtype: str, seed: int) -> list[tuple[str, float, float]]:
    """[(quantity, max abs difference, relative error)] for the output, the loss, every gradient, dx."""
    rng = np.random.default_rng(seed)
    layers = case.layers(seed, dtype)
    if case.padded:
        layers = [L.Masking(0.0, dtype=dtype), *layers]
    kmodel = keras_model(layers, case.input_shape, dtype, rng, B if case.stateful else None)
    x, y = make_data(case, kmodel, dtype, rng)
    model = from_keras(kmodel)
    model.compile(optimizer="adam", loss="mse")
    if case.stateful:  # a first call in both leaves the (nonzero) states the compared calls start from
        x0 = rng.standard_normal(x.shape).astype(dtype)
        model.predict(x0, batch_size=B)
        kmodel(x0)
    rows = [(f"output {tuple(kmodel.output_shape[1:])}", model.predict(x, batch_size=B), kmodel(x).numpy())]
    if case.dropout:
        inject_dropout_masks(model, kmodel, B, rng)
    loss, grads, dx = model.loss_and_gradients(x, y, training=case.dropout, return_input_gradient=True)
    k_loss, k_grads, k_dx = keras_loss_and_gradients(kmodel, x, y, training=case.dropout)
    rows.append(("loss", np.float64(loss), np.float64(k_loss)))
    names = [f"d {type(layer).__name__}.{p}" for layer in model.layers for p in layer.params]
    rows += [(f"{n} {g.shape}", g, kg) for n, g, kg in zip(names, grads, k_grads)]
    rows.append((f"d input {dx.shape}", dx, k_dx))
    return [(q, float(np.max(np.abs(np.float64(a) - np.float64(b)))), relative_error(a, b)) for q, a, b in rows]


def gradient_table(seed: int, summary: bool = False, only: str = "") -> bool:
    print("1. Forward outputs, mse loss and gradients: minirnn vs Keras (tf.GradientTape), same weights")
    print(f"   batch {B}; relative error = max|a - b| / max(|a| + |b|); targets: float32 {TARGETS['float32']:g}, "
          f"float64 {TARGETS['float64']:g}" + ("; per case the worst of its output, loss, gradients and dx" if summary
                                               else "") + "\n")
    width = max(len(case.name) for case in CASES) + 2
    if summary:
        header = f"{'case':<{width}}{'rows':>5}" + "".join(f"{d + ' worst':>34}{'rel':>10}" for d in DTYPES) + "  ok"
    else:
        header = f"{'case':<{width}}{'quantity':<52}" + "".join(f"{d + ' max|d|':>17}{'rel':>10}" for d in DTYPES) + \
            "  ok"
    print(header)
    print("-" * len(header))
    all_ok = True
    for case in CASES:
        if only.lower() not in case.name.lower():
            continue
        if case.needs not in LAYERS:
            print(f"{case.needs}: not implemented yet")
            continue
        results = {dtype: compare_case(case, dtype, seed) for dtype in DTYPES}
        if summary:
            line, ok = f"{case.name:<{width}}{len(results[DTYPES[0]]):>5}", True
            for dtype in DTYPES:
                quantity, _, rel = max(results[dtype], key=lambda row: row[2])
                ok &= rel <= TARGETS[dtype]
                line += f"{quantity.split(' (')[0][:32]:>34}{rel:>10.1e}"
            all_ok &= ok
            print(line + ("  ok" if ok else "  MISSED"))
            continue
        for k, (quantity, *_) in enumerate(results[DTYPES[0]]):
            line = f"{case.name if k == 0 else '':<{width}}{quantity:<52}"
            ok = True
            for dtype in DTYPES:
                _, abs_diff, rel = results[dtype][k]
                ok &= rel <= TARGETS[dtype]
                line += f"{abs_diff:>17.1e}{rel:>10.1e}"
            all_ok &= ok
            print(line + ("  ok" if ok else "  MISSED"))
    return all_ok


# -- 2. trajectory and 4. timing --------------------------------------------------------------------

def batches(n: int, batch_size: int, steps: int):
    """Batch index ranges in a fixed order, epoch after epoch, the last partial batch kept (fit, shuffle=False)."""
    starts = list(range(0, n, batch_size))
    for step in range(steps):
        start = starts[step % len(starts)]
        yield slice(start, min(start + batch_size, n))


def trajectory(seed: int, steps: int = 100, n: int = 1000) -> bool:
    print(f"\n2. Training trajectory: founding model, dropout rate 0, Adam, {steps} steps, batch 32, "
          f"{n} samples in a fixed order, float32")
    rng = np.random.default_rng(seed + 1)
    kmodel = keras_model(founding_layers(seed + 1, "float32", rate=0.0), (10, 1), "float32", rng)
    model = from_keras(kmodel)
    kmodel.compile(optimizer="adam", loss="mse")
    model.compile(optimizer="adam", loss="mse")
    data = rng.standard_normal((n, 10, 1)).astype("float32")
    k_losses, losses, k_times, times = [], [], [], []
    for sl in batches(n, 32, steps):
        xb = data[sl]
        t0 = time.perf_counter()
        k_losses.append(float(kmodel.train_on_batch(xb, xb)))
        t1 = time.perf_counter()
        losses.append(model.train_on_batch(xb, xb))
        t2 = time.perf_counter()
        k_times.append(t1 - t0)
        times.append(t2 - t1)
    k_losses, losses = np.array(k_losses), np.array(losses)
    rel = np.abs(losses - k_losses) / np.abs(k_losses)
    print(f"\n{'step':>6}{'keras loss':>14}{'minirnn loss':>14}{'rel diff':>11}")
    for i in sorted({0, *range(9, steps, 10), steps - 1}):
        print(f"{i + 1:>6}{k_losses[i]:>14.8f}{losses[i]:>14.8f}{rel[i]:>11.1e}")
    ok = bool(rel.max() <= TRAJECTORY_TARGET)
    print(f"max relative loss difference over all {steps} steps: {rel.max():.1e} at step {rel.argmax() + 1} "
          f"(target {TRAJECTORY_TARGET:g}) {'ok' if ok else 'MISSED'}")
    print(f"loss went from {losses[0]:.6f} to {losses[-1]:.6f}")
    print(f"\n{'final weight':<34}{'max|d|':>10}{'rel':>10}")
    for layer in model.layers:
        for name, w in layer.params.items():
            kw = next(v for v in kmodel.get_layer(layer.name).weights if v.name == name).numpy()
            print(f"{type(layer).__name__ + '.' + name + ' ' + str(w.shape):<34}{np.max(np.abs(w - kw)):>10.1e}"
                  f"{relative_error(w, kw):>10.1e}")

    print("\n3. Time per training step (train_on_batch, batch 32, float32; median over steps 2.."
          f"{steps}, first step excluded: Keras traces its graph there)")
    k_med, m_med = np.median(k_times[1:]), np.median(times[1:])
    print(f"   Keras (TensorFlow {tf.__version__}, Keras {keras.__version__}): {k_med * 1e3:7.2f} ms")
    print(f"   minirnn {minirnn.__version__} (NumPy {np.__version__}):{'':>14}{m_med * 1e3:7.2f} ms")
    print(f"   minirnn / Keras: {m_med / k_med:.2f}   (first step: Keras {k_times[0] * 1e3:.0f} ms, "
          f"minirnn {times[0] * 1e3:.0f} ms; {os.cpu_count()} CPUs)")
    return ok


# -- 3. dropout with injected masks ----------------------------------------------------------------

def dropout_step(seed: int, rate: float = 0.2) -> bool:
    print(f"\n4. Dropout({rate}) with the same mask injected in both: one Adam step, float32")
    rng = np.random.default_rng(seed + 2)
    kbase = keras_model(founding_layers(seed + 2, "float32", rate), (10, 1), "float32", rng)
    base = from_keras(kbase)
    x = rng.standard_normal((B, 10, 1)).astype("float32")
    mask = dropout_mask((B, 50), rate, rng, np.float32)
    lstm, dense = kbase.layers[0], kbase.layers[2]
    kdrop, drop = fixed_dropout_pair(rate, mask)
    kmodel = keras.Sequential([keras.Input((10, 1)), lstm, kdrop, dense])
    model = Sequential([base.layers[0], drop, base.layers[2]])
    kmodel.compile(optimizer="adam", loss="mse")
    model.compile(optimizer="adam", loss="mse")
    loss, grads, dx = model.loss_and_gradients(x, x, training=True, return_input_gradient=True)
    k_loss, k_grads, k_dx = keras_loss_and_gradients(kmodel, x, x, training=True)
    k_step, step = float(kmodel.train_on_batch(x, x)), model.train_on_batch(x, x)
    names = [f"{type(layer).__name__}.{p}" for layer in model.layers for p in layer.params]
    rows = [("loss (training, masked)", np.float64(loss), np.float64(k_loss)),
            ("train_on_batch loss", np.float64(step), np.float64(k_step)),
            *[(f"d {n}", g, kg) for n, g, kg in zip(names, grads, k_grads)],
            ("d input", dx, k_dx),
            *[(f"{n} after the step", w, kw) for n, w, kw in zip(names, model.get_weights(), kmodel.get_weights())]]
    ok = True
    print(f"{'quantity':<38}{'max|d|':>10}{'rel':>10}")
    for name, a, b in rows:
        rel = relative_error(a, b)
        ok &= rel <= TARGETS["float32"]
        print(f"{name:<38}{np.max(np.abs(np.float64(a) - np.float64(b))):>10.1e}{rel:>10.1e}")
    no_mask = model.loss_and_gradients(x, x, training=False)[0]
    print(f"(the mask matters: loss without dropout {no_mask:.6f}, with the mask {loss:.6f}) "
          f"{'ok' if ok else 'MISSED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--summary", action="store_true", help="one row per gradient case (its worst quantity)")
    parser.add_argument("--only", default="", help="run only the gradient cases whose name contains this")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ShapeBroadcastWarning)  # the founding model's targets, as in Keras
    print(f"minirnn {minirnn.__version__}, NumPy {np.__version__}; TensorFlow {tf.__version__}, "
          f"Keras {keras.__version__} ({keras.backend.backend()} backend)\n")
    ok = gradient_table(args.seed, args.summary, args.only)
    if not args.only:
        ok &= trajectory(args.seed)
        ok &= dropout_step(args.seed)
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
