"""Losses: Keras's rank matching and broadcasting, values and gradients."""

import warnings

import numpy as np
import pytest

from minirnn.gradcheck import numerical_gradient, relative_error
from minirnn.losses import MeanAbsoluteError, MeanSquaredError, ShapeBroadcastWarning, align_ranks


def test_founding_program_broadcast_is_the_mean_over_steps(rng):
    y_true = rng.standard_normal((7, 10, 1))
    y_pred = rng.standard_normal((7, 1))
    loss = MeanSquaredError()
    with pytest.warns(ShapeBroadcastWarning, match="mean"):
        value, grad = loss.value_and_grad(y_true, y_pred)
    expected = np.mean([np.mean((y_true[n, :, 0] - y_pred[n, 0]) ** 2) for n in range(7)])
    assert value == pytest.approx(expected, rel=1e-12)
    # what is learned: the optimum of each prediction is its window's mean
    _, grad_at_mean = loss.value_and_grad(y_true, y_true.mean(axis=1))
    np.testing.assert_allclose(grad_at_mean, 0, atol=1e-15)
    assert grad.shape == y_pred.shape


def test_warns_only_once(rng):
    loss = MeanSquaredError()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            loss.value_and_grad(rng.standard_normal((4, 3, 1)), rng.standard_normal((4, 1)))
    assert sum(issubclass(w.category, ShapeBroadcastWarning) for w in caught) == 1


@pytest.mark.parametrize("t_shape,p_shape,aligned", [
    ((5,), (5, 1), ((5, 1), (5, 1))),
    ((5, 1), (5,), ((5, 1), (5, 1))),
    ((5, 4, 1), (5, 4), ((5, 4), (5, 4))),
    ((5, 4), (5, 4, 1), ((5, 4), (5, 4))),
    ((5, 4, 1), (5, 4, 1), ((5, 4, 1), (5, 4, 1))),
])
def test_keras_rank_matching(t_shape, p_shape, aligned):
    t, p = align_ranks(np.zeros(t_shape), np.zeros(p_shape))
    assert (t.shape, p.shape) == aligned


def test_matching_shapes_do_not_warn(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MeanSquaredError().value_and_grad(rng.standard_normal((6,)), rng.standard_normal((6, 1)))


def test_incompatible_shapes_raise_clearly(rng):
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        MeanSquaredError().value_and_grad(np.zeros((4, 3)), np.zeros((4, 2)))


@pytest.mark.parametrize("loss_cls", [MeanSquaredError, MeanAbsoluteError])
@pytest.mark.parametrize("t_shape,p_shape", [((6, 3), (6, 3)), ((6, 5, 1), (6, 1)), ((6,), (6, 1)),
                                             ((6, 4, 2), (6, 4, 2))])
def test_loss_gradients(rng, loss_cls, t_shape, p_shape):
    y_true = rng.standard_normal(t_shape)
    y_pred = rng.standard_normal(p_shape)
    loss = loss_cls()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShapeBroadcastWarning)
        _, grad = loss.value_and_grad(y_true, y_pred)
        numeric = numerical_gradient(lambda: float(loss.value_and_grad(y_true, y_pred)[0]), y_pred)
    assert relative_error(grad, numeric) < 1e-7


def test_mae_value(rng):
    t, p = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
    assert MeanAbsoluteError()(t, p) == pytest.approx(np.abs(t - p).mean())
