"""minirnn.kernels.blas_threads: small products run on one OpenBLAS thread, and the count comes back."""

import sys

import numpy as np

from minirnn.kernels import blas_threads, lstm_backward, lstm_forward


def _uses_openblas_on_linux() -> bool:
    blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    return sys.platform.startswith("linux") and "openblas" in str(blas.get("name", "")).lower()


def _counts(controls):
    return [get() for get, _ in controls]


def test_limited_sets_one_thread_and_restores_nested_counts(monkeypatch):
    controls = blas_threads._find_controls()
    if not _uses_openblas_on_linux():
        # nothing to control: the context manager must still be a harmless no-op
        with blas_threads.limited(True):
            assert np.ones((2, 2)) @ np.ones((2, 2)) is not None
        return
    assert controls, "NumPy's OpenBLAS should be found in /proc/self/maps"
    for _, set_ in controls:
        set_(2)
    monkeypatch.setattr(blas_threads, "ENABLED", True)
    try:
        with blas_threads.limited(True):
            assert _counts(controls) == [1] * len(controls)
            with blas_threads.limited(True):
                assert _counts(controls) == [1] * len(controls)
            assert _counts(controls) == [1] * len(controls)  # the outer block still holds
        assert _counts(controls) == [2] * len(controls)
        with blas_threads.limited(False):
            assert _counts(controls) == [2] * len(controls)
        monkeypatch.setattr(blas_threads, "ENABLED", False)
        with blas_threads.limited(True):
            assert _counts(controls) == [2] * len(controls)
    finally:
        for (_, set_), n in zip(controls, [2] * len(controls)):
            set_(n)


def test_restored_after_an_exception_inside(monkeypatch):
    monkeypatch.setattr(blas_threads, "ENABLED", True)
    controls = blas_threads._find_controls()
    before = _counts(controls)
    try:
        with blas_threads.limited(True):
            raise KeyError("boom")
    except KeyError:
        pass
    assert _counts(controls) == before
    assert blas_threads._depth == 0


def test_small_product_rule_and_kernels_leave_counts_unchanged():
    assert blas_threads.is_small(32, 50, 200)           # the founding program's per-step product
    assert not blas_threads.is_small(64, 512, 2048)     # a large layer keeps every thread
    controls = blas_threads._find_controls()
    before = _counts(controls)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 2))
    y, _, cache = lstm_forward(x, rng.standard_normal((2, 12)), rng.standard_normal((3, 12)), np.zeros(12))
    lstm_backward(cache, np.ones_like(y))
    assert _counts(controls) == before


def test_the_same_call_gives_the_same_numbers_every_time():
    # OpenBLAS's results change in the last bits with its thread count (measured: benchmarks/RESULTS.md), so
    # the kernels must choose the count from the layer's size alone, never from the clock or the load: two
    # identical calls of a layer whose products OpenBLAS would split over threads give identical numbers.
    rng = np.random.default_rng(1)
    B, T, D, H = 64, 6, 16, 128  # per-step product (64, 128) @ (128, 512): above OpenBLAS's threading size
    x = rng.standard_normal((B, T, D)).astype(np.float32)
    W = rng.standard_normal((D, 4 * H)).astype(np.float32) * 0.2
    U = rng.standard_normal((H, 4 * H)).astype(np.float32) * 0.1
    b = rng.standard_normal(4 * H).astype(np.float32) * 0.1
    results = []
    for _ in range(3):
        y, _, cache = lstm_forward(x, W, U, b)
        g = lstm_backward(cache, np.ones_like(y))
        results.append([y, g.dx, g.kernel, g.recurrent_kernel, g.bias])
    for first, later in zip(results[0], results[1]):
        np.testing.assert_array_equal(first, later)
    for first, later in zip(results[0], results[2]):
        np.testing.assert_array_equal(first, later)
