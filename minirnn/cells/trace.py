"""``Trace``: the named, batch-major record of every step of a driver run, and ``trace_from_cache``,
which builds one from a ``minirnn.cells.driver.forward`` cache (nothing is recomputed).

Shapes: every traced array is (B, T, n), step t = 1 .. T along axis 1 in the order the steps were
processed; ``initial_state[name]`` is (B, n). Which per-step arrays appear beside the states is the
cell's own ``trace(step_cache)`` (``minirnn.cells.Cell.trace``). Layers trace through ``RNN.trace``,
models and layers through ``minirnn.tools.inspection.trace``.

Example:
    >>> import numpy as np
    >>> from minirnn.cells import GRUCell, driver
    >>> from minirnn.cells.trace import trace_from_cache
    >>> rng = np.random.default_rng(0)
    >>> cell = GRUCell(2)
    >>> p = {n: rng.standard_normal(s.shape) for n, s in cell.params(3).items()}
    >>> _, _, cache = driver.forward(cell, np.ones((4, 5, 3)), p)
    >>> tr = trace_from_cache(cache)
    >>> tr.names, tr["h"].shape
    (('z', 'r', 'candidate', 'h'), (4, 5, 2))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .driver import SequenceCache

Array = np.ndarray


@dataclass
class Trace:
    """The recorded run: ``arrays[name]`` (B, T, H) per traced quantity, ``initial_state[name]`` (B, H).

    Index it like a dict: ``tr["f"][b, t, j]`` is unit j's forget gate at step t + 1 of sequence b.
    """

    cell: str
    arrays: dict[str, Array]
    initial_state: dict[str, Array] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Array:
        try:
            return self.arrays[name]
        except KeyError:
            raise KeyError(f"this {self.cell} trace has no {name!r}; it has {', '.join(self.arrays)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.arrays

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.arrays)

    def __repr__(self) -> str:
        shape = next(iter(self.arrays.values())).shape if self.arrays else ()
        return f"Trace(cell={self.cell!r}, names={list(self.arrays)}, shape={shape})"


def trace_from_cache(cache: SequenceCache) -> Trace:
    """Name the arrays of a ``minirnn.cells.driver.forward`` cache; copies, batch-major (B, T, n).

    Each step's named arrays come from ``cell.trace(step_cache)`` (the gates), then the states, last
    state first (so that h comes last, after c for an LSTM).
    """
    cell = cache.cell
    per_step = [cell.trace(c) for c in cache.steps]
    arrays = {n: np.stack([step[n] for step in per_step], axis=1) for n in per_step[0]}
    for n in reversed(tuple(cell.state_sizes)):
        arrays[n] = np.ascontiguousarray(np.swapaxes(cache.states[n][1:], 0, 1))
    initial = {n: cache.states[n][0].copy() for n in cell.state_sizes}
    return Trace(type(cell).__name__.removesuffix("Cell").lower(), arrays, initial)
