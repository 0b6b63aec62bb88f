"""Run small matrix products on one BLAS thread, without any dependency beyond the standard library.

Why: a recurrent layer multiplies small matrices, once per time step (for the founding program
(32, 50) @ (50, 200), a few microseconds of work). OpenBLAS, the BLAS inside NumPy's wheels, splits a
product over its threads once it has more than about 0.5 million multiply-adds, and then waits for
every thread to finish. On a machine with 2 cores that is also busy with anything else, the second
thread is often not running when the work arrives, and the product waits for the scheduler: measured
on the benchmark machine, the weight-gradient product of the founding program took a median of 44 ms
on 2 threads against 1.2 ms on 1, and one epoch of the founding program 1.2 s against 0.46 s
(benchmarks/RESULTS.md). For products this small a second thread cannot gain much even on an idle
machine, so minirnn runs its recurrent kernels on one BLAS thread when the per-step product is small
(``SMALL_PRODUCT``), and leaves the thread count alone for large layers, where threads pay off.

How: ``threadpoolctl`` does this for every BLAS, but minirnn depends on NumPy and SciPy only. This
module calls OpenBLAS's own ``openblas_get_num_threads`` / ``openblas_set_num_threads`` through
``ctypes`` in every OpenBLAS the process has already loaded (found in ``/proc/self/maps``; NumPy's and
SciPy's wheels each bring one, with prefixed names such as ``scipy_openblas_set_num_threads64_``).
Elsewhere (macOS's Accelerate, MKL, Windows) nothing is found and nothing changes.

``prime_openblas`` (called once by the recurrent kernels) works around a second OpenBLAS behaviour
measured on the benchmark machine; see its docstring.

The trade-off: the thread count is a process-wide setting. While a minirnn kernel runs with a small
product, any other thread of the process that multiplies matrices at the same moment also gets one
BLAS thread; the previous count is restored when the kernel returns (nested and concurrent uses are
counted, the last one out restores). Set ``minirnn.kernels.blas_threads.ENABLED = False`` (or the
environment variable ``MINIRNN_BLAS_THREADS=keep``) to leave BLAS threads entirely to you.

Example:
    >>> from minirnn.kernels.blas_threads import limited, is_small
    >>> is_small(32, 50, 200)       # the founding program's per-step product (B, H) @ (H, 4H)
    True
    >>> with limited(is_small(32, 50, 200)):
    ...     pass                     # matrix products here run on one OpenBLAS thread
"""

from __future__ import annotations

import ctypes
import os
import threading

#: products (B, H) @ (H, G) with B * H * G below this many multiply-adds run on one BLAS thread:
#: 2**24, a few milliseconds of work, e.g. (64, 256) @ (256, 1024). Below it a second thread saves at
#: most ~1 ms per product on an idle machine but can cost a scheduler time slice (~4 ms) whenever the
#: other core is busy; measured at (64, 128) @ (128, 512) x 100 per call: 1.27 s on 2 threads under load
#: against ~0.13 s on one (benchmarks/RESULTS.md).
SMALL_PRODUCT = 2 ** 24
ENABLED = os.environ.get("MINIRNN_BLAS_THREADS", "").lower() != "keep"

_lock = threading.Lock()
_depth = 0
_saved: list[int] = []
_controls: list | None = None  # (get, set) ctypes functions of each loaded OpenBLAS, found at first use


_primed = False


def prime_openblas() -> None:
    """Once per process: one float32 product of (64, 384) @ (384, 384) (about a millisecond).

    Measured, not explained: in a fresh process, NumPy's OpenBLAS (0.3.31 on the benchmark machine)
    runs many small products with a summed axis of 256 or more 2-3x slower than after it has once
    computed a product with a few hundred output columns and a summed axis of 64 or more, and the
    fast state then lasts (a (32, 256) @ (256, 64) product: 94 us before, 35 us after; an epoch of
    the founding program: 123 ms of CPU before, 108 ms after; benchmarks/RESULTS.md). The priming
    product must run on one thread (split over two threads it leaves the slow state). Layers with
    4 H >= 384 reach that state by themselves; this gives it to small layers too. Skipped like the
    thread limit (``ENABLED``, ``MINIRNN_BLAS_THREADS=keep``).
    """
    global _primed
    if _primed or not ENABLED:
        return
    _primed = True
    import numpy as np

    with limited(True):  # on one thread: a product split over threads does not leave this state (measured)
        np.ones((64, 384), np.float32) @ np.ones((384, 384), np.float32)


def is_small(batch: int, units: int, gate_width: int) -> bool:
    """Whether a product (batch, units) @ (units, gate_width) is small enough for one thread.

    The kernels ask per phase: for the per-step products (B, H) @ (H, kH), and for the products over all
    T B rows at once (the input projection, the weight gradients, dL/dx), which are T times larger and
    may get every thread where the per-step ones do not.
    """
    return batch * units * gate_width < SMALL_PRODUCT


def _find_controls() -> list:
    """(get, set) for each loaded OpenBLAS: read /proc/self/maps, open each library only if already loaded."""
    found = []
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted({line.split(None, 5)[-1].strip() for line in maps
                            if "openblas" in line.lower() and ".so" in line})
    except OSError:  # not Linux
        return found
    mode = getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_LOCAL
    for path in paths:
        try:
            lib = ctypes.CDLL(path, mode=mode)
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                try:
                    get = getattr(lib, f"{prefix}get_num_threads{suffix}")
                    set_ = getattr(lib, f"{prefix}set_num_threads{suffix}")
                except AttributeError:
                    continue
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                found.append((get, set_))
                break
            else:
                continue
            break
    return found


class limited:
    """``with limited(active):`` every loaded OpenBLAS uses one thread inside the block (if ``active`` and
    ``ENABLED``). Nested and concurrent uses are counted: the first one in sets the count, the last one
    out restores it, so a nested block costs only a lock and a counter (a class, not a generator-based
    context manager, because the kernels enter it a few times per call)."""

    __slots__ = ("active",)

    def __init__(self, active: bool = True):
        self.active = bool(active) and ENABLED

    def __enter__(self) -> limited:
        global _controls, _depth
        if self.active:
            with _lock:
                if _controls is None:
                    _controls = _find_controls()
                if _depth == 0:
                    _saved[:] = [get() for get, _ in _controls]
                    for (_, set_), n in zip(_controls, _saved):
                        if n > 1:
                            set_(1)
                _depth += 1
        return self

    def __exit__(self, *exc_info) -> None:
        global _depth
        if self.active:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    for (_, set_), n in zip(_controls, _saved):
                        if n > 1:
                            set_(n)
