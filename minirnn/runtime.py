"""Process-wide runtime policy, in one place: how the C allocator keeps freed memory between training steps.

Backpropagation through time keeps every step's activations until the backward pass has used them, so one
training step of a recurrent layer allocates its whole working set (T steps of gates and states, the
projections of all steps) and frees it again. glibc's default malloc hands freed memory at the top of the
heap back to the operating system once more than 128 KB is free, and serves blocks of 128 KB and more by
mmap; the next step then touches fresh pages, and every first touch of a page is a page fault.
Measured on the 2-core machine of ``benchmarks/RESULTS.md`` (Intel Xeon, KVM), one LSTM forward+backward
at (B, T, D, H) = (64, 50, 32, 128): 4,379 minor page faults per call and 79 ms of CPU time (both threads)
with glibc's defaults, 0 faults and 50 ms with the policy below; at (64, 100, 2, 32): 2,332 faults,
33 -> 25 ms. The policy is the one PyTorch's caching allocator follows for the same reason: keep memory
the process will need again at the next step.

``keep_freed_memory()`` sets glibc's ``M_TRIM_THRESHOLD`` to 256 MB (freed memory up to that much stays in
the process) and ``M_MMAP_THRESHOLD`` to 32 MB (blocks below that come from the reusable heap). It applies
once per process, only where the C library is glibc, and does nothing when the environment variable
``MINIRNN_MALLOC`` is ``system``. ``Sequential.fit``, ``evaluate``, ``predict`` and ``train_on_batch``
call it; nothing in the cells, the driver or the layers depends on it (their numbers are identical either
way: it changes where memory comes from, never an arithmetic operation).

No BLAS thread policy for training: measured on this machine with the new driver, limiting BLAS to one
thread never paid (1-thread / 2-thread time 0.99-1.10 at the small shapes, 1.6x slower at the large one),
so fit, evaluate and predict leave NumPy's BLAS at its default (see benchmarks/RESULTS.md). The one place
that opts in is ``minirnn memory`` (``single_blas_thread``), whose many small layers are trained in parallel
worker processes.

Example:
    >>> from minirnn import runtime
    >>> runtime.keep_freed_memory() in (True, False)   # True once applied (glibc), False elsewhere or opted out
    True
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 256 * 1024 * 1024
MMAP_THRESHOLD = 32 * 1024 * 1024

_state: dict[str, bool] = {}


def keep_freed_memory() -> bool:
    """Apply the allocator policy of the module docstring once per process; return whether it is in effect."""
    if "applied" in _state:
        return _state["applied"]
    applied = False
    if os.environ.get("MINIRNN_MALLOC", "").lower() != "system" and platform.libc_ver()[0] == "glibc":
        try:
            libc = ctypes.CDLL(None)
            applied = bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and \
                bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        except (OSError, AttributeError):
            applied = False
    _state["applied"] = applied
    return applied


def single_blas_thread():
    """A context (also effective when merely called, for a worker's whole life) limiting BLAS to one thread,
    through threadpoolctl when it is installed; without it, a no-op context.

    For many small layers trained side by side (``minirnn memory``: (32, 32) recurrent matrices): a second
    BLAS thread buys nothing there, and on a loaded machine made each step several times slower (measured:
    9 s vs 49 s for 4000 SimpleRNN(32) steps at T = 100).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)
