"""Masked and weighted losses (Keras's ``reduce_weighted_values``, "sum_over_batch_size"): the step mask
that reaches a model's output (return_sequences after ``Masking``) restricts the loss to the real steps.
Values by hand, hand-derived gradients against float64 finite differences, and the model paths (fit's
step, loss_and_gradients, evaluate, check_model) using the mask. Keras parity: tests/test_parity_tf_options.py.
"""

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.gradcheck import check_model, numerical_gradient, relative_error
from minirnn.layers import LSTM, Dense, Masking
from minirnn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    MeanAbsoluteError,
    MeanSquaredError,
    SparseCategoricalCrossentropy,
    loss_weights,
)

B, T, K = 3, 5, 4
MASK = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=bool)  # padding, a hole, none


def _case(name, rng):
    """(loss, y_true (B, T, ...), y_pred (B, T, K)) away from kinks and clip boundaries."""
    p = rng.uniform(0.1, 0.9, (B, T, K))
    if name == "mse":
        return MeanSquaredError(), rng.standard_normal((B, T, K)), rng.standard_normal((B, T, K))
    if name == "mae":
        t = rng.standard_normal((B, T, K))
        return MeanAbsoluteError(), t, t + rng.uniform(0.1, 1, (B, T, K)) * rng.choice([-1, 1], (B, T, K))
    if name == "huber":
        t = rng.standard_normal((B, T, K))
        u = rng.uniform(0.1, 0.8, (B, T, K)) * rng.choice([-1, 1, 3], (B, T, K))
        return Huber(), t, t + u
    if name == "binary":
        return BinaryCrossentropy(), rng.uniform(0, 1, (B, T, K)), p
    if name == "categorical":
        return CategoricalCrossentropy(from_logits=True), np.eye(K)[rng.integers(0, K, (B, T))], \
            rng.standard_normal((B, T, K))
    return SparseCategoricalCrossentropy(), rng.integers(0, K, (B, T)), p


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "binary", "categorical", "sparse"])
@pytest.mark.parametrize("weighting", ["mask", "mask+weights", "weights"])
def test_masked_weighted_loss_value_and_gradient(name, weighting, rng):
    loss, t, p = _case(name, rng)
    mask = MASK if "mask" in weighting else None
    sw = rng.uniform(0.2, 2.0, (B, T)) if "weights" in weighting else None
    value, grad = loss.value_and_grad(t, p, sample_weight=sw, mask=mask)

    v = loss.values(*loss.prepare(t, p)[:2], False)[0]  # the per-step values (B, T)
    w = np.ones((B, T)) if sw is None else sw
    if mask is not None:
        w = w * np.where(mask, MASK.size / MASK.sum(), 0.0)
    np.testing.assert_allclose(value, (v * w).sum() / v.size, rtol=1e-12)
    if mask is not None and sw is None:  # the mean over the real steps only
        np.testing.assert_allclose(value, v[MASK].mean(), rtol=1e-12)
    assert relative_error(grad, numerical_gradient(lambda: loss.value_and_grad(t, p, sw, mask)[0], p)) < 1e-7
    if mask is not None:
        assert not grad[~MASK].any() and grad[MASK].any()


def test_mask_with_nothing_real_gives_zero_loss_and_gradient(rng):
    value, grad = MeanSquaredError().value_and_grad(np.zeros((2, 3, 1)), rng.standard_normal((2, 3, 1)),
                                                    mask=np.zeros((2, 3), bool))
    assert value == 0 and not grad.any()


def test_full_mask_equals_no_mask_and_dtype_is_kept(rng):
    t, p = rng.standard_normal((B, T, 2)), rng.standard_normal((B, T, 2)).astype(np.float32)
    plain = MeanSquaredError().value_and_grad(t, p)
    masked = MeanSquaredError().value_and_grad(t, p, mask=np.ones((B, T), bool))
    assert masked[0].dtype == masked[1].dtype == np.float32
    np.testing.assert_allclose(masked[0], plain[0], rtol=1e-6)
    np.testing.assert_allclose(masked[1], plain[1], rtol=1e-6)


def test_weights_follow_keras_rank_matching(rng):
    v = rng.standard_normal((B, 1))
    # (B,) against (B, 1): expanded, as Keras's squeeze_or_expand_to_same_rank does
    np.testing.assert_array_equal(loss_weights(v, sample_weight=np.arange(B)), np.arange(B)[:, None])
    assert loss_weights(v) is None


@pytest.mark.parametrize("kwargs, error, message", [
    ({"mask": np.ones((B, T + 1), bool)}, ValueError, "cannot weight"),
    ({"sample_weight": np.ones((2, B, T))}, ValueError, "cannot weight"),
    ({"mask": np.ones((B, T))}, TypeError, "bool"),
    ({"sample_weight": np.array([["a"] * T] * B)}, TypeError, "sample_weight"),
])
def test_bad_mask_or_weights_are_refused(kwargs, error, message, rng):
    with pytest.raises(error, match=message):
        MeanSquaredError().value_and_grad(np.zeros((B, T, 2)), rng.standard_normal((B, T, 2)), **kwargs)


def _masked_model(rng, dtype="float64"):
    model = Sequential([Masking(0.0, input_shape=(T, 2), dtype=dtype),
                        LSTM(3, return_sequences=True, seed=0, dtype=dtype), Dense(1, seed=1, dtype=dtype)])
    for w in model.weights:
        if w.ndim == 1:
            w[...] = 0.5 * rng.standard_normal(w.shape)
    model.compile("sgd", "mse")
    x = rng.standard_normal((B, T, 2)).astype(dtype)
    x[~MASK] = 0.0
    return model, x, rng.standard_normal((B, T, 1)).astype(dtype)


def test_model_loss_ignores_padded_steps(rng):
    model, x, y = _masked_model(rng)
    loss, grads = model.loss_and_gradients(x, y)
    y_hat = model.predict(x)
    np.testing.assert_allclose(loss, ((y_hat - y)[MASK] ** 2).mean(), rtol=1e-12)
    y2 = y.copy()
    y2[~MASK] = 1e3  # targets of padded steps do not matter
    loss2, grads2 = model.loss_and_gradients(x, y2)
    assert loss2 == loss and all(np.array_equal(a, b) for a, b in zip(grads, grads2))
    assert model.evaluate(x, y2, batch_size=2) == pytest.approx(
        (model.loss_and_gradients(x[:2], y2[:2])[0] * 2 + model.loss_and_gradients(x[2:], y2[2:])[0]) / 3,
        rel=1e-12)
    assert model.train_on_batch(x, y2) == loss


def test_masked_model_gradients_pass_the_finite_difference_check(rng):
    model, x, y = _masked_model(rng)
    report = check_model(model, x, y, input_gradient=False)
    assert report.passed, report
    loss, grads, dx = model.loss_and_gradients(x, y, return_input_gradient=True)
    assert not dx[~MASK].any()  # Masking passes no gradient to padded entries
