"""``minirnn demo``: the founding architecture forecasting a real series, against the naive forecasts.

The data are NOAA's monthly mean CO2 at Mauna Loa (shipped with minirnn, public domain; see
``minirnn.tools.datasets.load_mauna_loa_co2``). The network is the founding program's

    LSTM(50, activation="relu") -> Dropout(0.2) -> Dense(1),   adam, mse

and the task is to forecast next month's CO2 from the last ``lookback`` months:

    d_t = y_t - y_{t-1}                         the series is differenced (it has a trend the network
                                                  would otherwise have to extrapolate beyond its training range)
    z_t = (d_t - mean_train) / std_train        standardised with statistics of the training part only
    X = windows of z (N, lookback, 1)  ->  next z (N, 1)      (``make_windows``)
    forecast  y_hat_t = y_{t-1} + (std_train * z_hat_t + mean_train)

Training: 40 epochs in batches of 64 (by default), dropout active, Keras's ``fit`` semantics.
The last ``test_fraction`` of the months is the test part (a chronological split: the model never sees
it while training). The test RMSE in ppm is compared with two forecasts that need no learning:

    persistence       y_hat_t = y_{t-1}          (no change)
    seasonal naive    y_hat_t = y_{t-12}         (same month last year)

Measured with the defaults (seed 0): test RMSE 0.52 ppm, against 1.35 for persistence and 2.71 for the
seasonal-naive forecast; seeds 0 to 2 and other epoch counts give 0.47 to 0.54. It takes a few seconds on
an idle 2-core machine.

Run it as ``minirnn demo`` or ``python -m minirnn demo`` (``python -m minirnn.tools.demo`` also works);
``--out`` receives ``forecast.png`` when matplotlib is installed.

Example (a tiny run):
    >>> from minirnn.tools.demo import run
    >>> r = run(epochs=1, units=4, lookback=6, verbose=False, out=None)
    >>> sorted(r.rmse), r.n_test
    (['model', 'persistence', 'seasonal_naive'], 124)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import layers
from ..model import History, Sequential
from . import datasets
from .argtypes import output_folder_problem, positive_int

Array = np.ndarray


def cell_types() -> dict[str, type]:
    """Recurrent layer name -> class, for ``--cell`` (a GRU appears here once minirnn.layers has one)."""
    table = {"lstm": layers.LSTM, "simple_rnn": layers.SimpleRNN}
    if hasattr(layers, "GRU"):
        table["gru"] = layers.GRU
    return table


def build_model(lookback: int, units: int = 50, cell: str = "lstm", seed: int = 0) -> Sequential:
    """The founding architecture: ``cell(units, relu) -> Dropout(0.2) -> Dense(1)``, compiled with adam and mse."""
    table = cell_types()
    if cell not in table:
        raise ValueError(f"cell must be one of {', '.join(table)}; got {cell!r}")
    model = Sequential([table[cell](units, activation="relu", input_shape=(lookback, 1), seed=seed),
                        layers.Dropout(0.2), layers.Dense(1, seed=seed + 1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def rmse(forecast: Any, actual: Any) -> float:
    """Root mean squared error sqrt(mean((forecast - actual)^2)) of two equal-shape arrays."""
    f, a = np.asarray(forecast, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if f.shape != a.shape:
        raise ValueError(f"forecast and actual must have the same shape; got {f.shape} and {a.shape}")
    return float(np.sqrt(np.mean((f - a) ** 2)))


def naive_forecasts(values: Any, n_test: int, period: int) -> dict[str, Array]:
    """One-step forecasts of the last ``n_test`` values that need no learning.

    Shapes: values (L,); each forecast (n_test,) for values[L - n_test:]:
    ``persistence`` y_hat_t = y_{t-1} and ``seasonal_naive`` y_hat_t = y_{t-period}.

    Example:
        >>> f = naive_forecasts(np.arange(10.0), n_test=3, period=4)
        >>> f["persistence"].tolist(), f["seasonal_naive"].tolist()
        ([6.0, 7.0, 8.0], [3.0, 4.0, 5.0])
    """
    v = np.asarray(values, dtype=np.float64)
    L = len(v)
    if not 1 <= n_test <= L - period:
        raise ValueError(f"n_test must be in [1, {L - period}] for {L} values and period {period}; got {n_test}")
    return {"persistence": v[L - n_test - 1:L - 1].copy(), "seasonal_naive": v[L - n_test - period:L - period].copy()}


@dataclass
class DemoResult:
    """What ``run`` measured: test RMSE (ppm) per forecast, the forecasts (n_test,), the training history,
    the wall time, the trained model and the figure's path (None when none was written)."""

    rmse: dict[str, float]
    n_test: int
    forecasts: dict[str, Array]
    actual: Array
    test_time: Array
    history: History
    seconds: float
    model: Sequential | None = None
    figure: Path | None = None


def _month(series: datasets.RealSeries, k: int) -> str:
    return f"{series.year[k]}-{series.month[k]:02d}"


def run(epochs: int = 40, lookback: int = 12, units: int = 50, cell: str = "lstm", seed: int = 0,
        out: str | Path | None = "minirnn-demo", test_fraction: float = 0.2, batch_size: int = 64,
        verbose: bool = True) -> DemoResult:
    """Train on the CO2 series and compare with the naive forecasts (see the module docstring).

    Prints the setup, one line per epoch and the RMSE table when ``verbose``; writes
    ``<out>/forecast.png`` when ``out`` is not None and matplotlib is installed.
    """
    start = time.perf_counter()
    say = print if verbose else (lambda *a, **k: None)
    co2 = datasets.load_mauna_loa_co2()
    values = co2.values.astype(np.float64)

    diffs = np.diff(values)                                   # diffs[k] = values[k + 1] - values[k]
    train, test = datasets.chronological_split(diffs, test_fraction, overlap=lookback)
    n_test = len(test) - lookback
    scaler = datasets.Standardizer.fit(train)
    x_train, y_train = datasets.make_windows(scaler.transform(train).astype(np.float32), lookback)
    x_test, _ = datasets.make_windows(scaler.transform(test).astype(np.float32), lookback)

    model = build_model(lookback, units, cell, seed)
    first_test = len(values) - n_test
    say(f"minirnn demo: {cell_types()[cell].__name__}({units}, relu) + Dropout(0.2) + Dense(1), adam, mse")
    say(f"data: {co2.name}, {len(values)} months {_month(co2, 0)} .. {_month(co2, len(values) - 1)}, "
        f"in {co2.units} (public domain)")
    say(f"task: next month's CO2 from the last {lookback} monthly changes, standardised with training statistics")
    say(f"train: {_month(co2, 1)} .. {_month(co2, first_test - 1)} ({len(x_train)} windows); "
        f"test: {_month(co2, first_test)} .. {_month(co2, len(values) - 1)} ({n_test} months, never trained on)")
    history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=2 if verbose else 0,
                        seed=seed)

    predicted_change = scaler.inverse_transform(model.predict(x_test)[:, 0].astype(np.float64))
    actual = values[first_test:]
    forecasts = {"model": values[first_test - 1:-1] + predicted_change,
                 **naive_forecasts(values, n_test, co2.period)}
    scores = {name: rmse(f, actual) for name, f in forecasts.items()}
    seconds = time.perf_counter() - start

    labels = {"model": cell_types()[cell].__name__, "persistence": "persistence (no change)",
              "seasonal_naive": f"seasonal naive ({co2.period} months ago)"}
    say(f"\ntest RMSE, one month ahead, over {n_test} months ({co2.units}):")
    for name, value in scores.items():
        say(f"  {labels[name]:<34} {value:6.3f}")
    best_naive = min(scores["persistence"], scores["seasonal_naive"])
    verdict = "beats" if scores["model"] < best_naive else "does NOT beat"
    say(f"the network {verdict} the best naive forecast: RMSE {scores['model']:.3f} vs {best_naive:.3f} "
        f"({scores['model'] / best_naive:.0%} of it)")

    t = co2.decimal_year
    result = DemoResult(scores, n_test, forecasts, actual, t[first_test:], history, seconds, model)
    if out is not None:
        from . import plot

        if plot.available():
            result.figure = _figure(co2, result, labels, Path(out) / "forecast.png")
            say(f"forecast plot: {result.figure}")
        else:
            say(f"no forecast plot: {plot.INSTALL_HINT}")
    say(f"done in {time.perf_counter() - start:.1f} s")
    return result


def _figure(co2: datasets.RealSeries, r: DemoResult, labels: dict[str, str], path: Path) -> Path:
    from . import plot

    fig, (whole, zoom, losses) = plot.figure(3, 1, width=9.0, height_per_row=2.8)
    t, split = co2.decimal_year, float(r.test_time[0])
    plot.forecast(whole, t, co2.values, {labels["model"]: (r.test_time, r.forecasts["model"])}, split=split,
                  ylabel=f"CO2 ({co2.units})", title=f"{co2.name}: one-month-ahead forecasts on the test part")
    plot.forecast(zoom, r.test_time, r.actual,
                  {f"{labels[k]}, RMSE {r.rmse[k]:.2f}": (r.test_time, r.forecasts[k])
                   for k in ("model", "persistence", "seasonal_naive")},
                  ylabel=f"CO2 ({co2.units})", title="test part")
    plot.loss_curves(losses, {"training loss (standardised changes)": r.history}, logy=True, title="training")
    return plot.save(fig, path)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The demo's options (shared by ``minirnn demo`` and ``python -m minirnn.tools.demo``)."""
    p.add_argument("--epochs", type=positive_int, default=40, help="training epochs (default 40)")
    p.add_argument("--lookback", type=positive_int, default=12, help="months in each input window (default 12)")
    p.add_argument("--units", type=positive_int, default=50, help="recurrent units (default 50)")
    p.add_argument("--cell", choices=sorted(cell_types()), default="lstm", help="recurrent layer (default lstm)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, shuffling and dropout (default 0)")
    p.add_argument("--out", default="minirnn-demo", help="folder for forecast.png (default ./minirnn-demo)")
    p.add_argument("--no-plot", action="store_true", help="do not write the figure")


def check_args(args: argparse.Namespace, test_fraction: float = 0.2) -> str | None:
    """Why these options cannot run, naming the option and the accepted range (None when they can):
    checked before any training starts, so that a bad option never costs a training run."""
    if not 0 <= args.seed < 2 ** 63:
        return f"--seed must be an integer in [0, 2**63); got {args.seed}"
    n = len(datasets.load_mauna_loa_co2().values) - 1  # the monthly changes the windows are cut from
    longest = n - int(round(test_fraction * n)) - 1       # at least one training window
    if args.lookback > longest:
        return f"--lookback must be in [1, {longest}] for the {n + 1}-month CO2 series; got {args.lookback}"
    # weights, gradients, Adam's two moments and the training step's snapshot: about 7 copies of the weights
    u = args.units
    need = 7 * 4 * (4 * u * (u + 2) + u + 1)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    if memory is not None and need > memory:
        return (f"--units {u} needs about {need:,} bytes for the weights and optimizer state; this machine has "
                f"{memory:,}")
    if not args.no_plot:
        problem = output_folder_problem("--out", args.out)
        if problem is not None:
            return f"{problem} for forecast.png (or use --no-plot)"
    return None


def run_from_args(args: argparse.Namespace) -> int:
    """Run the demo from parsed options: exit status 2 (and the reason on stderr) for an option that
    cannot run, before any training; 0 after a run."""
    problem = check_args(args)
    if problem is not None:
        print(f"minirnn demo: error: {problem}", file=sys.stderr)
        return 2
    run(epochs=args.epochs, lookback=args.lookback, units=args.units, cell=args.cell, seed=args.seed,
        out=None if args.no_plot else args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minirnn.tools.demo", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
