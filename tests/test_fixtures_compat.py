"""Saved-model compatibility: files written by an earlier minirnn still load and compute the same numbers.

The fixtures in tests/fixtures/ were written by minirnn at commit
919e7d8af652bbb13353641644252173fe381f07 (before the rewrite of the recurrent core: cells, driver, layers),
with tests/fixtures/make_fixtures.py. Each NAME.npz is a ``model.save`` file; NAME_io.npz holds a fixed
input ``x`` and that commit's ``model.predict(x)`` as ``y`` (plus, for ``trained_adam``, the optimizer
state and one further training step). Every case must load with today's code and reproduce those numbers.

Regenerating: ``python tests/fixtures/make_fixtures.py`` in a clean checkout rewrites every file from
that checkout's code. Do not regenerate them to make this test pass after changing the recurrent code:
that would throw away the very record of the old numbers that this test exists to compare against. Add
new cases only with the old code (a worktree at the commit above), or as new files next to these.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from minirnn import load_model
from minirnn.optimizers import Adam

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SOURCE_COMMIT = "919e7d8af652bbb13353641644252173fe381f07"

NAMES = ["simple_rnn_relu_seq", "lstm_founding", "lstm_seq_time_distributed", "gru_reset_after",
         "gru_reset_before", "bidirectional_concat", "bidirectional_sum", "masking_lstm", "stacked_lstm_gru",
         "go_backwards", "stacked_float64", "trained_adam"]

# Tolerances (absolute, scaled by max(1, max|y|)); saved weights load exactly, so today the difference is 0
# for every case, but a rewrite may evaluate the same formulas in another floating-point order.
# Measured at the commit above: each float32 fixture's predictions differ from the same model evaluated in
# float64 (same weights, same input) by at most 0.7 eps32 * max(1, |y|max) (1.1e-7 for simple_rnn_relu_seq,
# <= 8e-8 for the others), so any other float32 evaluation order lands within about twice that of the
# stored y. 1e-6 (8.4 eps32) leaves a margin of ~6 over that and still catches any change of formula
# (a different gate order, activation or masking rule moves the outputs by 1e-3 or more). float64: the
# same reasoning with eps64 = 2.2e-16; 1e-12 is ~4500 eps64, tight enough to flag anything but rounding.
ATOL = {np.dtype("float32"): 1e-6, np.dtype("float64"): 1e-12}
# After one Adam step from the saved state: the update lr * m / (sqrt(v) + eps) amplifies rounding in the
# gradients; measured, the stepped float32 predictions differ from a float64 step by 4.7e-7 (~4 eps32).
# 1e-5 (84 eps32) is a margin of ~20 over that; a wrong gradient or update moves them by ~1e-3.
ATOL_AFTER_STEP = 1e-5


def fixture(name):
    with np.load(FIXTURES / f"{name}_io.npz", allow_pickle=False) as f:
        io = {k: f[k] for k in f.files}
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as f:
        stored = {k: f[k] for k in f.files}
    config = json.loads(stored.pop("__config__").tobytes().decode("utf-8"))
    return load_model(FIXTURES / f"{name}.npz"), io, config, stored


def bound(y, atol=None):
    return (ATOL[y.dtype] if atol is None else atol) * max(1.0, float(np.abs(y).max()))


def test_every_fixture_is_listed():
    on_disk = sorted(p.name[:-len("_io.npz")] for p in FIXTURES.glob("*_io.npz"))
    assert on_disk == sorted(NAMES)
    for name in NAMES:
        assert (FIXTURES / f"{name}.npz").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_fixture_predictions_reproduce(name):
    model, io, _, _ = fixture(name)
    assert str(io["source_commit"]) == SOURCE_COMMIT
    x, y = io["x"], io["y"]
    pred = model.predict(x)
    assert pred.dtype == y.dtype and pred.shape == y.shape
    np.testing.assert_allclose(pred, y, rtol=0, atol=bound(y), err_msg=f"{name}: predictions moved")


@pytest.mark.parametrize("name", NAMES)
def test_fixture_layers_and_weights_round_trip(name):
    model, io, config, stored = fixture(name)
    assert [type(layer).__name__ for layer in model.layers] == io["layer_classes"].tolist()
    assert model.name == config["model"]["name"] == name
    # every option the old code saved is still understood with the same value (new options may be added)
    for layer, spec in zip(model.layers, config["model"]["layers"]):
        now = json.loads(json.dumps(layer.get_config()))
        assert {k: now.get(k) for k in spec["config"]} == spec["config"], f"{name}: {layer.describe()}"
    # the public weight order (Keras's get_weights order) is what the file holds, exactly
    weights = model.get_weights()
    keys = sorted(k for k in stored if k.startswith("weights/"))
    assert len(weights) == len(keys)
    for w, k in zip(weights, keys):
        assert w.dtype == stored[k].dtype and w.shape == stored[k].shape, k
        np.testing.assert_array_equal(w, stored[k], err_msg=f"{name}: {k}")


def test_trained_fixture_optimizer_state():
    model, io, config, _ = fixture("trained_adam")
    opt = model.optimizer
    assert isinstance(opt, Adam) and opt.learning_rate == pytest.approx(0.01)
    assert type(model.loss).__name__ == "MeanSquaredError"
    assert opt.iterations == int(io["iterations"]) == config["optimizer_state"]["iterations"] == 6
    assert sorted(opt.slots) == sorted(io["slot_names"].tolist()) == ["m", "v"]
    for n, arrays in opt.slots.items():
        assert len(arrays) == len(model.weights)
        for i, a in enumerate(arrays):
            want = io[f"slot_{n}_{i:04d}"]
            assert a.dtype == want.dtype and a.shape == want.shape
            np.testing.assert_array_equal(a, want, err_msg=f"slot {n}[{i}]")


def test_trained_fixture_resumes_training():
    """One more step from the saved optimizer state: the loss before it and the predictions after it."""
    model, io, _, _ = fixture("trained_adam")
    loss = model.train_on_batch(io["x_step"], io["y_step"])
    want_loss = float(io["loss_step"])
    assert abs(loss - want_loss) <= ATOL[np.dtype("float32")] * max(1.0, abs(want_loss))
    assert model.optimizer.iterations == int(io["iterations"]) + 1
    after = model.predict(io["x"])
    want = io["y_after_step"]
    np.testing.assert_allclose(after, want, rtol=0, atol=bound(want, ATOL_AFTER_STEP))
