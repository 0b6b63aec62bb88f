"""minirnn.datasets: each generator's definition, the windowing and splitting plumbing, and the shipped series."""

import math

import numpy as np
import pytest

from minirnn.tools import datasets as ds


# -- adding problem -------------------------------------------------------------------------------
def test_adding_problem_markers_one_in_each_half_and_target_is_their_sum():
    T = 11
    x, y = ds.adding_problem(500, T, seed=3)
    assert x.shape == (500, T, 2) and y.shape == (500, 1) and x.dtype == np.float32
    markers = x[:, :, 1]
    assert set(np.unique(markers)) == {0.0, 1.0}
    assert (markers[:, : T // 2].sum(axis=1) == 1).all()
    assert (markers[:, T // 2:].sum(axis=1) == 1).all()
    np.testing.assert_allclose(y[:, 0], (x[:, :, 0] * markers).sum(axis=1), rtol=1e-6)
    assert 0 <= x[:, :, 0].min() and x[:, :, 0].max() < 1


def test_adding_problem_constant_one_baseline_is_one_sixth():
    _, y = ds.adding_problem(200_000, 20, seed=0, dtype=np.float64)
    mse = float(np.mean((y - 1.0) ** 2))
    # sd of the estimate is about sqrt(Var((y-1)^2) / n) ~ 4e-4: 0.005 is over ten standard deviations
    assert abs(mse - ds.ADDING_BASELINE_MSE) < 0.005


def test_adding_problem_positions_cover_each_half_uniformly():
    x, _ = ds.adding_problem(20_000, 10, seed=1)
    first = x[:, :5, 1].argmax(axis=1)
    counts = np.bincount(first, minlength=5)
    assert counts.min() > 0.9 * 4000 and counts.max() < 1.1 * 4000


def test_seeds_reproduce_and_differ():
    a, _ = ds.adding_problem(5, 8, seed=7)
    b, _ = ds.adding_problem(5, 8, seed=np.random.default_rng(7))
    c, _ = ds.adding_problem(5, 8, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# -- copying memory -------------------------------------------------------------------------------
def test_copying_memory_layout():
    T, n, K = 30, 10, 8
    x, y = ds.copying_memory(64, T, n_symbols=K, n_copy=n, seed=0)
    assert x.shape == y.shape == (64, T + 2 * n)
    assert ((1 <= x[:, :n]) & (x[:, :n] <= K)).all()
    assert (x[:, n:n + T - 1] == 0).all() and (x[:, n + T - 1] == K + 1).all() and (x[:, n + T:] == 0).all()
    assert (y[:, : T + n] == 0).all()
    np.testing.assert_array_equal(y[:, -n:], x[:, :n])


def test_copying_baseline_formula():
    assert ds.copying_baseline(100) == pytest.approx(10 * math.log(8) / 120)


def test_one_hot_and_its_errors():
    np.testing.assert_array_equal(ds.one_hot(np.array([[1, 0]]), 2), [[[0, 1], [1, 0]]])
    with pytest.raises(ValueError, match="tokens must lie in"):
        ds.one_hot([3], 3)
    with pytest.raises(TypeError, match="tokens must be integers"):
        ds.one_hot([0.5], 3)


# -- sine waves -------------------------------------------------------------------------------------
def test_sine_waves_have_the_requested_periods():
    s = ds.sine_waves(4, 400, period_range=(20.0, 20.0), seed=0, dtype=np.float64)
    # with period exactly 20, each series repeats itself after 20 steps
    np.testing.assert_allclose(s[:, 20:], s[:, :-20], atol=1e-12)
    assert not np.allclose(s[0], s[1])


# -- Mackey-Glass ---------------------------------------------------------------------------------
def test_mackey_glass_rk4_is_fourth_order():
    """Halving dt must divide the error by about 2^4 = 16 (against a much finer reference)."""
    ref = ds.mackey_glass(120, dt=0.0125, discard=0)
    e_coarse = np.abs(ds.mackey_glass(120, dt=0.2, discard=0) - ref).max()
    e_fine = np.abs(ds.mackey_glass(120, dt=0.1, discard=0) - ref).max()
    assert 12 < e_coarse / e_fine < 20


def test_mackey_glass_satisfies_the_delay_equation():
    """dx/dt from a fourth-order central difference of the samples (every 0.2) matches the right-hand side."""
    s = ds.mackey_glass(200, dt=0.05, sample_every=0.05 * 4, discard=300)   # sampled every 0.2
    h, lag = 0.2, int(round(17 / 0.2))
    t = np.arange(lag + 2, len(s) - 2)
    dxdt = (-s[t + 2] + 8 * s[t + 1] - 8 * s[t - 1] + s[t - 2]) / (12 * h)
    rhs = 0.2 * s[t - lag] / (1 + s[t - lag] ** 10) - 0.1 * s[t]
    np.testing.assert_allclose(dxdt, rhs, atol=1e-4)


def test_mackey_glass_one_step_persistence_nrmse_is_about_0_15():
    s = ds.mackey_glass(3000)
    nrmse = np.sqrt(np.mean((s[1:] - s[:-1]) ** 2)) / s.std()
    assert 0.12 < nrmse < 0.18
    assert 0.2 < s.min() and s.max() < 1.5


def test_mackey_glass_rejects_a_step_that_does_not_divide_tau():
    with pytest.raises(ValueError, match="dt must divide tau"):
        ds.mackey_glass(10, dt=0.3)


# -- windows, split, scaling ------------------------------------------------------------------------
def test_make_windows_univariate_and_multivariate():
    s = np.arange(10.0)
    X, y = ds.make_windows(s, lookback=4, horizon=2)
    assert X.shape == (5, 4, 1) and y.shape == (5, 2)
    for n in range(5):
        np.testing.assert_array_equal(X[n, :, 0], s[n:n + 4])
        np.testing.assert_array_equal(y[n], s[n + 4:n + 6])
    m = np.stack([s, -s], axis=1)
    X2, y2 = ds.make_windows(m, lookback=3)
    assert X2.shape == (7, 3, 2) and y2.shape == (7, 1, 2)
    np.testing.assert_array_equal(X2[2], m[2:5])
    np.testing.assert_array_equal(y2[2, 0], m[5])
    X[0, 0, 0] = 99.0
    assert s[0] == 0.0  # windows are copies, not views of the caller's array


@pytest.mark.parametrize("kwargs, exc, fragment", [
    ({"series": np.arange(5.0), "lookback": 5}, ValueError, "too short"),
    ({"series": np.arange(5.0), "lookback": 0}, ValueError, "lookback must be"),
    ({"series": np.arange(5.0), "lookback": 2.0}, TypeError, "lookback must be"),
    ({"series": np.zeros((3, 2, 2)), "lookback": 1}, ValueError, "series must have shape"),
    ({"series": np.array(["a", "b"]), "lookback": 1}, TypeError, "series must be a real numeric"),
])
def test_make_windows_errors(kwargs, exc, fragment):
    with pytest.raises(exc, match=fragment):
        ds.make_windows(**kwargs)


def test_chronological_split_keeps_order_and_overlap_gives_one_window_per_test_value():
    s = np.arange(100.0)
    train, test = ds.chronological_split(s, test_fraction=0.25, overlap=6)
    np.testing.assert_array_equal(train, s[:75])
    np.testing.assert_array_equal(test, s[69:])
    _, y = ds.make_windows(test, lookback=6)
    np.testing.assert_array_equal(y[:, 0], s[75:])


@pytest.mark.parametrize("kwargs, fragment", [
    ({"test_fraction": 0}, "test_fraction"),
    ({"test_fraction": 1.5}, "test_fraction"),
    ({"test_fraction": 0.5, "overlap": 6}, "overlap must be at most"),
])
def test_chronological_split_errors(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ds.chronological_split(np.arange(10.0), **kwargs)


def test_standardizer_uses_training_statistics_only():
    train, test = np.array([1.0, 2.0, 3.0, 4.0]), np.array([100.0, 200.0])
    sc = ds.Standardizer.fit(train)
    assert sc.mean == pytest.approx(2.5) and sc.scale == pytest.approx(np.std(train))
    np.testing.assert_allclose(sc.transform(test), (test - 2.5) / np.std(train))
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(test)), test)
    z = sc.transform(train.astype(np.float32))
    assert z.dtype == np.float32 and abs(z.mean()) < 1e-6 and z.std() == pytest.approx(1.0, rel=1e-6)


def test_standardizer_per_feature_and_constant_feature():
    m = np.array([[1.0, 5.0], [3.0, 5.0]])
    sc = ds.Standardizer.fit(m)
    np.testing.assert_allclose(sc.transform(m), [[-1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="finite"):
        ds.Standardizer.fit(np.array([1.0, np.nan]))


# -- the shipped series -----------------------------------------------------------------------------
def test_co2_series_loads_offline_with_provenance():
    co2 = ds.load_mauna_loa_co2()
    L = len(co2.values)
    assert L == 621 and co2.year.shape == co2.month.shape == co2.interpolated.shape == (L,)
    for word in ("NOAA", "public domain", "ppm", "Source", "Licence", "Units"):
        assert word in co2.provenance
    # consecutive months with no gaps
    months = co2.year * 12 + co2.month - 1
    np.testing.assert_array_equal(np.diff(months), 1)
    assert (co2.year[0], co2.month[0], co2.year[-1], co2.month[-1]) == (1974, 5, 2026, 1)
    assert 320 < co2.values.min() < 335 and 420 < co2.values.max() < 440
    # the yearly cycle: the seasonal difference is the yearly growth, always positive and small
    yearly = co2.values[12:] - co2.values[:-12]
    assert 0 < yearly.min() and yearly.max() < 5
    assert co2.decimal_year[0] == pytest.approx(1974 + 4.5 / 12)
    assert ds.load_mauna_loa_co2(np.float32).values.dtype == np.float32
