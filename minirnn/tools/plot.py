"""Figures for studying recurrent memory (needs matplotlib: ``pip install minirnn[plot]``).

Each drawing function draws on a matplotlib ``Axes`` you give it, so figures can be composed;
``figure(nrows, ncols)`` makes a figure without pyplot (no window, no global state) and ``save``
writes it as a PNG.

    heatmap(ax, trace, "c", sample=0, markers=[t1, t2])     units x time heat map of one traced quantity
    trace_heatmaps(trace, names=("i", "f", "c"))            one heat map per quantity, stacked
    gradient_norms(ax, norms)                               ||dL/dh_t|| against t, log scale
    loss_curves(ax, {"LSTM": losses, ...}, baseline=1/6)    learning curves
    forecast(ax, t, actual, {"model": (t_f, y_f)}, split=t_split)

Shapes: a trace array is (B, T, H) (``minirnn.tools.inspection``); a heat map shows sample b as an (H, T)
image, unit j on the vertical axis and step t = 1 .. T on the horizontal one.

Example (skipped when matplotlib is missing):
    >>> import numpy as np, pytest
    >>> _ = pytest.importorskip("matplotlib")
    >>> from minirnn import plot
    >>> fig, (ax,) = plot.figure(1, 1)
    >>> lines = plot.loss_curves(ax, {"train": [1.0, 0.5, 0.25]}, baseline=0.3)
    >>> len(ax.lines)
    2
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Array = np.ndarray

INSTALL_HINT = "matplotlib is needed for figures: pip install matplotlib (or pip install -e \".[plot]\")"


def available() -> bool:
    """True when matplotlib can be imported."""
    return importlib.util.find_spec("matplotlib") is not None


def _require():
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 8.0, height_per_row: float = 2.6,
           sharex: bool = False) -> tuple[Any, list]:
    """A matplotlib ``Figure`` (not attached to pyplot) and its axes as a flat list."""
    _require()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height_per_row * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=sharex, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def save(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG (parent folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def _trace_image(trace: Any, name: str, sample: int) -> Array:
    arr = trace[name] if not isinstance(trace, np.ndarray) else trace
    arr = np.asarray(arr)
    if arr.ndim == 3:
        if not 0 <= sample < arr.shape[0]:
            raise ValueError(f"sample must be in [0, {arr.shape[0]}); got {sample}")
        arr = arr[sample]
    if arr.ndim != 2:
        raise ValueError(f"a heat map needs a (B, T, H) or (T, H) array; got shape {arr.shape}")
    return arr.T  # (H, T): units down, time across


def heatmap(ax: Any, trace: Any, name: str = "c", *, sample: int = 0, markers: Sequence[int] = (),
            title: str | None = None, cmap: str | None = None, vmin: float | None = None,
            vmax: float | None = None, colorbar: bool = True) -> Any:
    """Draw ``trace[name][sample]`` as an (H, T) image; ``markers`` (0-based steps) get vertical lines.

    ``trace`` may also be a plain (B, T, H) or (T, H) array. Gates (in [0, 1]) use a sequential colour
    map from 0 to 1; other quantities a diverging one centred on 0.
    """
    img = _trace_image(trace, name, sample)
    gate = name in ("i", "f", "o", "z", "r") and img.min() >= 0 and img.max() <= 1
    if gate:
        cmap, vmin, vmax = cmap or "viridis", 0.0 if vmin is None else vmin, 1.0 if vmax is None else vmax
    else:
        bound = float(np.abs(img).max()) or 1.0
        cmap = cmap or "RdBu_r"
        vmin = -bound if vmin is None else vmin
        vmax = bound if vmax is None else vmax
    T = img.shape[1]
    im = ax.imshow(img, aspect="auto", interpolation="nearest", cmap=cmap, vmin=vmin, vmax=vmax,
                   extent=(0.5, T + 0.5, img.shape[0] - 0.5, -0.5))
    for m in markers:
        ax.axvline(m + 1, color="k", lw=1.2, ls="--")
    ax.set_ylabel("unit")
    ax.set_xlabel("step t")
    ax.set_title(title if title is not None else name)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, pad=0.01)
    return im


def trace_heatmaps(trace: Any, names: Sequence[str] | None = None, *, sample: int = 0,
                   markers: Sequence[int] = (), width: float = 9.0) -> Any:
    """One heat map per traced quantity (default: all of them), stacked; returns the figure."""
    names = list(names) if names is not None else list(trace.names)
    fig, axes = figure(len(names), 1, width=width, height_per_row=1.9, sharex=True)
    for ax, name in zip(axes, names):
        heatmap(ax, trace, name, sample=sample, markers=markers)
        if ax is not axes[-1]:
            ax.set_xlabel("")
    return fig


def gradient_norms(ax: Any, norms: Any, *, label: str | None = None, title: str | None = None) -> list:
    """||dL/dh_t|| for t = 1 .. T on a log scale: how far back the loss still reaches.

    ``norms`` is (T,) or {label: (T,)} to compare several models.
    """
    series = norms if isinstance(norms, Mapping) else {label: norms}
    lines = []
    for lab, values in series.items():
        v = np.asarray(values, dtype=float).ravel()
        lines += ax.semilogy(np.arange(1, len(v) + 1), v, label=lab)
    ax.set_xlabel("step t")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$")
    if title:
        ax.set_title(title)
    if any(lab is not None for lab in series):
        ax.legend()
    return lines


def loss_curves(ax: Any, curves: Mapping[str, Any], *, baseline: float | None = None,
                baseline_label: str = "baseline", xlabel: str = "epoch", ylabel: str = "loss",
                x: Mapping[str, Any] | None = None, logy: bool = False, title: str | None = None) -> list:
    """One line per entry of ``curves`` ({label: losses, or a History}); ``baseline`` as a dashed line.

    ``x`` optionally gives each curve's horizontal positions (e.g. training steps); default 1, 2, ...
    """
    lines = []
    for lab, values in curves.items():
        v = values.history["loss"] if hasattr(values, "history") else values
        v = np.asarray(v, dtype=float).ravel()
        xs = np.asarray(x[lab]) if x is not None and lab in x else np.arange(1, len(v) + 1)
        lines += ax.plot(xs, v, label=lab)
    if baseline is not None:
        lines.append(ax.axhline(baseline, color="k", ls="--", lw=1, label=baseline_label))
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    return lines


def forecast(ax: Any, t: Any, actual: Any, forecasts: Mapping[str, tuple[Any, Any]] | None = None, *,
             split: float | None = None, actual_label: str = "actual", ylabel: str | None = None,
             title: str | None = None) -> list:
    """The actual series against forecasts ({label: (t_f, y_f)}); ``split`` marks where the test part starts."""
    lines = ax.plot(np.asarray(t), np.asarray(actual), color="k", lw=1.2, label=actual_label)
    for lab, (tf, yf) in (forecasts or {}).items():
        lines += ax.plot(np.asarray(tf), np.asarray(yf), lw=1.2, label=lab)
    if split is not None:
        ax.axvline(split, color="gray", ls=":", lw=1)
        ax.axvspan(split, float(np.max(t)), color="gray", alpha=0.08, lw=0)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    return lines
