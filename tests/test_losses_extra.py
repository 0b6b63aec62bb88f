"""Huber and the crossentropies: hand-derived gradients (float64 finite differences), stability at
extreme inputs, Keras's clipping, shape rules, and values/gradients against Keras (with TensorFlow)."""

import warnings

import numpy as np
import pytest

from minirnn import losses
from minirnn.gradcheck import numerical_gradient, relative_error
from minirnn.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Huber,
    SparseCategoricalCrossentropy,
)


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _case(kind, from_logits, shape, rng):
    """(loss, y_true, y_pred) away from clip boundaries and Huber's kink, so finite differences apply."""
    if kind == "huber":
        t = rng.standard_normal(shape)
        u = rng.uniform(0.1, 3.0, shape) * rng.choice([-1, 1], shape)
        u[np.abs(np.abs(u) - 1.0) < 0.05] += 0.2  # keep |u| off the kink at delta
        return Huber(), t, t + u
    logits = 2 * rng.standard_normal(shape)
    if kind == "binary":
        t = rng.uniform(0, 1, shape)
        t[..., 0] = np.round(t[..., 0])
        p = logits if from_logits else rng.uniform(0.1, 0.9, shape)
        return BinaryCrossentropy(from_logits=from_logits), t, p
    if kind == "categorical":
        t = _softmax(rng.standard_normal(shape))  # soft targets: exercises sum(t) in the gradient
        t[0] = np.eye(shape[-1])[1]
        p = logits if from_logits else rng.uniform(0.05, 1.0, shape)  # unnormalised: Keras renormalises
        return CategoricalCrossentropy(from_logits=from_logits), t, p
    t = rng.integers(0, shape[-1], shape[:-1])
    p = logits if from_logits else rng.uniform(0.1, 0.9, shape)  # need not sum to 1: Keras's lse renormalises
    return SparseCategoricalCrossentropy(from_logits=from_logits), t, p


KINDS = [("huber", False), ("binary", False), ("binary", True), ("categorical", False),
         ("categorical", True), ("sparse", False), ("sparse", True)]


@pytest.mark.parametrize("kind,from_logits", KINDS)
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 4)])
def test_gradient_matches_finite_differences_float64(rng, kind, from_logits, shape):
    loss, t, p = _case(kind, from_logits, shape, rng)
    value, grad = loss.value_and_grad(t, p)
    assert grad.shape == p.shape and grad.dtype == np.float64
    numeric = numerical_gradient(lambda: float(loss.value_and_grad(t, p)[0]), p)
    assert relative_error(grad, numeric) < 1e-7
    assert np.abs(grad).max() > 1e-3  # a real gradient, not a vacuous zero


@pytest.mark.parametrize("kind,from_logits", KINDS)
def test_float32_follows_inputs(rng, kind, from_logits):
    loss, t, p = _case(kind, from_logits, (6, 4), rng)
    value, grad = loss.value_and_grad(t, p.astype(np.float32))
    assert grad.dtype == np.float32 and np.asarray(value).dtype == np.float32
    v64, g64 = loss.value_and_grad(t, p)
    assert float(value) == pytest.approx(float(v64), rel=1e-5)
    np.testing.assert_allclose(grad, g64, rtol=1e-4, atol=1e-6)


def test_values_by_hand():
    t = np.array([[1.0, 0.0]])
    p = np.array([[0.8, 0.4]])
    expected = -(np.log(0.8) + np.log(0.6)) / 2
    assert BinaryCrossentropy()(t, p) == pytest.approx(expected, rel=1e-12)
    x = np.array([[2.0, -1.0, 0.5]])
    lse = np.log(np.exp(x).sum())
    assert CategoricalCrossentropy(from_logits=True)(np.array([[0, 0, 1.0]]), x) == pytest.approx(lse - 0.5)
    assert SparseCategoricalCrossentropy(from_logits=True)(np.array([0]), x) == pytest.approx(lse - 2.0)
    # Keras renormalises probabilities before the categorical log
    assert CategoricalCrossentropy()(np.array([[0, 1.0]]), np.array([[1.0, 3.0]])) == pytest.approx(-np.log(0.75))
    assert Huber(delta=2.0)(np.zeros((1, 2)), np.array([[1.0, -5.0]])) == pytest.approx((0.5 + 2 * 5 - 2) / 2)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("cls", [BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_finite_and_silent(cls, from_logits, dtype):
    """Logits of magnitude 1e4 (and probabilities of exactly 0 and 1) give finite values and gradients
    without any floating-point warning; a confidently wrong logit costs about its magnitude."""
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0]], dtype)
    if not from_logits:
        x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype)
    t = {BinaryCrossentropy: np.array([[0, 1, 1], [0, 1, 0]], float),
         CategoricalCrossentropy: np.array([[0, 1, 0], [0, 1, 0]], float),
         SparseCategoricalCrossentropy: np.array([1, 1])}[cls]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        value, grad = cls(from_logits=from_logits).value_and_grad(t, x)
    assert np.isfinite(value) and np.isfinite(grad).all()
    if from_logits and cls is not BinaryCrossentropy:
        assert float(value) == pytest.approx(1e4, rel=1e-3)  # row 0 wrong by 2e4, row 1 right: mean 1e4
    if not from_logits:  # a wrong certain probability costs -log(eps)
        assert float(value) > 5


def test_huber_and_regression_at_1e4_silent():
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
        warnings.simplefilter("error")
        v, g = Huber().value_and_grad(np.zeros((2, 2), np.float32), np.full((2, 2), 1e4, np.float32))
    assert float(v) == pytest.approx(1e4 - 0.5) and np.all(g == np.float32(0.25))


def test_probability_clip_blocks_gradient_outside_and_uses_keras_epsilon():
    t = np.array([[1.0, 0.0, 1.0]])
    p = np.array([[0.0, 1.0, 0.5]])
    value, grad = BinaryCrossentropy().value_and_grad(t, p)
    assert float(value) == pytest.approx((-2 * np.log(1e-7) + np.log(2)) / 3, rel=1e-9)
    assert grad[0, 0] == 0 and grad[0, 1] == 0 and grad[0, 2] == pytest.approx(-1 / 0.5 / 3)
    p32 = np.array([[0.0, 1.0, 0.5]], np.float32)
    v32 = BinaryCrossentropy()(t, p32)  # 1 - eps rounds in float32 exactly as Keras's clip_by_value does
    hi = np.float32(1 - 1e-7)
    assert v32 == pytest.approx(float((-np.log(np.float32(1e-7)) - np.log(np.float32(1) - hi) + np.log(2)) / 3),
                                rel=1e-6)


def test_shape_rules():
    bce = BinaryCrossentropy()
    # rank matching as Keras: (N,) targets against (N, 1) predictions
    assert bce(np.array([1.0, 0.0]), np.array([[0.9], [0.2]])) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)
    with pytest.raises(ValueError, match="binary_crossentropy.*shape"):
        bce(np.zeros((3, 2)), np.full((3, 1), 0.5))  # no broadcasting for crossentropies (Keras raises too)
    sce = SparseCategoricalCrossentropy()
    p = np.array([[0.2, 0.8], [0.6, 0.4]])
    assert sce(np.array([[1], [0]]), p) == pytest.approx(sce(np.array([1, 0]), p))
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\)"):
        sce(np.array([2, 0]), p)
    with pytest.raises(ValueError, match="integer class ids"):
        sce(np.array([0.5, 0]), p)
    with pytest.raises(ValueError, match="without their class axis"):
        sce(np.array([0, 1, 1]), p)
    with pytest.raises(TypeError, match="from_logits"):
        BinaryCrossentropy(from_logits="yes")
    with pytest.raises(ValueError, match="delta"):
        Huber(delta=-1)


def test_get_and_config_round_trip():
    for name in ["huber", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]:
        assert losses.get(name).name == name
    for loss in [Huber(0.3), BinaryCrossentropy(True), SparseCategoricalCrossentropy(from_logits=True)]:
        again = losses.from_config(loss.get_config())
        assert type(again) is type(loss) and again.get_config() == loss.get_config()
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("hinge")


def test_per_sample_is_the_mean_over_non_batch_axes(rng):
    t, p = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    np.testing.assert_allclose(Huber().per_sample(t, p), Huber().values(t, p)[0].mean(axis=1))


# -- against Keras ------------------------------------------------------------------------------------

KERAS_CLASSES = {"huber": "Huber", "binary": "BinaryCrossentropy", "categorical": "CategoricalCrossentropy",
                 "sparse": "SparseCategoricalCrossentropy"}


@pytest.mark.parametrize("kind,from_logits", KINDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("extreme", [False, True])
def test_matches_keras_value_and_gradient(rng, kind, from_logits, dtype, extreme):
    tf = pytest.importorskip("tensorflow")
    import keras

    loss, t, p = _case(kind, from_logits, (8, 3, 4), rng)
    if extreme:  # saturated logits, clipped probabilities, the linear part of Huber
        p = p * (1e3 if from_logits or kind == "huber" else 1.0)
        if not from_logits and kind != "huber":
            p[0, 0, 0] = 0.0
            p[1, 0, 0] = 1.0
    p = p.astype(dtype)
    kwargs = {} if kind == "huber" else {"from_logits": from_logits}
    kloss = getattr(keras.losses, KERAS_CLASSES[kind])(dtype=dtype, **kwargs)
    pt = tf.constant(p)
    with tf.GradientTape() as tape:
        tape.watch(pt)
        kvalue = kloss(tf.constant(t.astype(dtype) if kind != "sparse" else t), pt)
    kgrad = tape.gradient(kvalue, pt).numpy()
    value, grad = loss.value_and_grad(t, p)
    rtol = 1e-6 if dtype == "float32" else 1e-12
    assert float(value) == pytest.approx(float(kvalue.numpy()), rel=rtol)
    if kind == "categorical" and from_logits:
        # TensorFlow's kernel gradient is softmax - t (it assumes sum(t) = 1); ours is the exact
        # s softmax - t, equal when the targets sum to 1
        t = t / t.sum(axis=-1, keepdims=True)
        grad = loss.value_and_grad(t, p)[1]
        with tf.GradientTape() as tape:
            tape.watch(pt)
            kvalue = kloss(tf.constant(t.astype(dtype)), pt)
        kgrad = tape.gradient(kvalue, pt).numpy()
    np.testing.assert_allclose(grad, kgrad, rtol=rtol * 10, atol=rtol * np.abs(kgrad).max())
