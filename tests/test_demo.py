"""``minirnn demo``: the data pipeline, the baselines, the CLI, and the figure (tiny runs only)."""

import numpy as np
import pytest

from minirnn import datasets
from minirnn.cli import main
from minirnn.demo import build_model, naive_forecasts, rmse, run

TINY = {"epochs": 1, "units": 4, "lookback": 6, "verbose": False, "out": None}


def test_baselines_and_rmse_by_hand():
    v = np.array([1.0, 2.0, 4.0, 7.0, 11.0, 16.0])
    f = naive_forecasts(v, n_test=2, period=3)
    np.testing.assert_array_equal(f["persistence"], [7.0, 11.0])
    np.testing.assert_array_equal(f["seasonal_naive"], [2.0, 4.0])
    assert rmse([1.0, 3.0], [0.0, 0.0]) == pytest.approx(np.sqrt(5.0))
    with pytest.raises(ValueError, match="n_test must be in"):
        naive_forecasts(v, n_test=4, period=3)
    with pytest.raises(ValueError, match="same shape"):
        rmse([1.0], [1.0, 2.0])


def test_demo_forecasts_are_last_value_plus_predicted_change_with_training_statistics_only():
    r = run(**TINY, seed=3)
    co2 = datasets.load_mauna_loa_co2().values
    n_test, lb = r.n_test, TINY["lookback"]
    assert n_test == round(0.2 * (len(co2) - 1))
    d = np.diff(co2)
    train = d[: len(d) - n_test]
    mean, std = train.mean(), train.std()          # statistics of the training part only
    z = ((d - mean) / std).astype(np.float32)
    X = np.stack([z[k - lb:k] for k in range(len(d) - n_test, len(d))])[:, :, None]
    expected = co2[-n_test - 1:-1] + std * r.model.predict(X)[:, 0].astype(np.float64) + mean
    np.testing.assert_allclose(r.forecasts["model"], expected, rtol=1e-12)
    np.testing.assert_array_equal(r.actual, co2[-n_test:])
    assert r.rmse["persistence"] == pytest.approx(np.sqrt(np.mean((co2[-n_test:] - co2[-n_test - 1:-1]) ** 2)))
    assert r.rmse["seasonal_naive"] == pytest.approx(np.sqrt(np.mean((co2[-n_test:] - co2[-n_test - 12:-12]) ** 2)))
    assert r.rmse["model"] == pytest.approx(rmse(expected, co2[-n_test:]))
    assert len(r.history.history["loss"]) == 1 and r.figure is None


def test_demo_is_deterministic_for_a_seed():
    a, b, c = run(**TINY, seed=1), run(**TINY, seed=1), run(**TINY, seed=2)
    assert a.rmse == b.rmse
    assert a.rmse["model"] != c.rmse["model"]


def test_founding_architecture_and_cell_choice():
    model = build_model(lookback=12)
    assert [type(layer).__name__ for layer in model.layers] == ["LSTM", "Dropout", "Dense"]
    assert model.layers[0].units == 50 and model.layers[0].activation == "relu" and model.layers[1].rate == 0.2
    assert type(build_model(12, 8, "simple_rnn").layers[0]).__name__ == "SimpleRNN"
    assert type(build_model(12, 8, "gru").layers[0]).__name__ == "GRU"
    with pytest.raises(ValueError, match="cell must be one of"):
        build_model(12, cell="transformer")


def test_cli_demo_prints_progress_and_the_rmse_table(capsys):
    status = main(["demo", "--epochs", "2", "--units", "4", "--lookback", "6", "--cell", "simple_rnn", "--no-plot"])
    out = capsys.readouterr().out
    assert status == 0
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    for text in ("test RMSE", "persistence (no change)", "seasonal naive (12 months ago)", "SimpleRNN"):
        assert text in out


def test_cli_demo_rejects_bad_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["demo", "--epochs", "0"])
    assert e.value.code == 2 and "positive integer" in capsys.readouterr().err


def test_demo_writes_the_forecast_png(tmp_path):
    pytest.importorskip("matplotlib")
    r = run(**{**TINY, "out": tmp_path / "figs"})
    assert r.figure == tmp_path / "figs" / "forecast.png"
    assert r.figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
