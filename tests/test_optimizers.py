"""Optimizers against hand computations of Keras's formulas."""

import numpy as np
import pytest

from minirnn.optimizers import SGD, Adam


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_first_two_steps_by_hand(dtype):
    w0 = np.array([0.5, -1.0, 2.0], dtype)
    g1 = np.array([0.1, -0.2, 0.3], dtype)
    g2 = np.array([-0.05, 0.4, 0.0], dtype)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    w = w0.copy()
    opt = Adam(learning_rate=lr)
    opt.apply([w], [g1])
    # step 1 by hand: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(1 - b2) / (1 - b1)
    m1, v1 = (1 - b1) * g1.astype(float), (1 - b2) * g1.astype(float) ** 2
    alpha1 = lr * np.sqrt(1 - b2) / (1 - b1)
    w1 = w0 - alpha1 * m1 / (np.sqrt(v1) + eps)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(w, w1, rtol=tol, atol=tol)
    np.testing.assert_allclose(opt.m[0], m1, rtol=tol)
    np.testing.assert_allclose(opt.v[0], v1, rtol=tol)
    opt.apply([w], [g2])
    m2 = b1 * m1 + (1 - b1) * g2
    v2 = b2 * v1 + (1 - b2) * g2.astype(float) ** 2
    alpha2 = lr * np.sqrt(1 - b2 ** 2) / (1 - b1 ** 2)
    w2 = w1 - alpha2 * m2 / (np.sqrt(v2) + eps)
    np.testing.assert_allclose(w, w2, rtol=tol, atol=tol)
    assert opt.iterations == 2
    assert w.dtype == dtype and opt.m[0].dtype == dtype


def test_adam_epsilon_is_added_to_uncorrected_root():
    """Keras's epsilon-hat: a tiny gradient moves w by lr * m/(sqrt(v)+eps) with alpha's correction,
    which differs measurably from PyTorch's eps-after-correction form."""
    w = np.array([0.0])
    g = np.array([1e-6])
    Adam(learning_rate=1.0).apply([w], [g])
    keras_step = np.sqrt(1 - 0.999) / (1 - 0.9) * (0.1e-6) / (np.sqrt(0.001) * 1e-6 + 1e-7)
    torch_step = 1 / (1 - 0.9) * (0.1e-6) / (np.sqrt(0.001) * 1e-6 / np.sqrt(1 - 0.999) + 1e-7)
    assert w[0] == pytest.approx(-keras_step, rel=1e-12)
    assert abs(keras_step - torch_step) > 0.01


def test_sgd_momentum_and_nesterov_by_hand():
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    lr, mu = 0.1, 0.9
    w = np.zeros(2)
    opt = SGD(learning_rate=lr, momentum=mu)
    opt.apply([w], [g1])
    opt.apply([w], [g2])
    v1 = -lr * g1
    v2 = mu * v1 - lr * g2
    np.testing.assert_allclose(w, v1 + v2)
    wn = np.zeros(2)
    nest = SGD(learning_rate=lr, momentum=mu, nesterov=True)
    nest.apply([wn], [g1])
    nest.apply([wn], [g2])
    np.testing.assert_allclose(wn, (mu * v1 - lr * g1) + (mu * v2 - lr * g2))
    plain = np.ones(2)
    SGD(learning_rate=lr).apply([plain], [g1])
    np.testing.assert_allclose(plain, 1 - lr * g1)


def test_clipping_rules():
    g = [np.array([3.0, 4.0]), np.array([0.0, 12.0])]  # norms 5 and 12, global 13
    per = SGD(learning_rate=1.0, clipnorm=6.0).clip(g)
    np.testing.assert_allclose(per[0], g[0])            # norm 5 <= 6: untouched
    np.testing.assert_allclose(per[1], [0.0, 6.0])      # norm 12 -> 6
    glob = SGD(learning_rate=1.0, global_clipnorm=6.5).clip(g)
    np.testing.assert_allclose(glob[0], g[0] * 0.5)
    np.testing.assert_allclose(glob[1], g[1] * 0.5)
    val = SGD(learning_rate=1.0, clipvalue=3.5).clip(g)
    np.testing.assert_allclose(val[0], [3.0, 3.5])
    np.testing.assert_allclose(val[1], [0.0, 3.5])


def test_clipping_is_applied_before_the_update():
    w = np.zeros(2)
    SGD(learning_rate=1.0, clipnorm=1.0).apply([w], [np.array([30.0, 40.0])])
    np.testing.assert_allclose(w, [-0.6, -0.8])


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="only one of clipnorm"):
        Adam(clipnorm=1.0, clipvalue=0.5)


def test_optimizer_state_is_inspectable():
    w = [np.ones((2, 3)), np.ones(4)]
    opt = Adam()
    opt.apply(w, [np.full((2, 3), 0.5), np.full(4, -1.0)])
    state = opt.get_state()
    assert state["iterations"] == 1
    assert [a.shape for a in state["m"]] == [(2, 3), (4,)]
    np.testing.assert_allclose(state["m"][1], -0.1)
    state["m"][1][...] = 7  # a copy: the optimizer is not affected
    assert opt.m[1][0] == pytest.approx(-0.1)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_updates_all_parameters_in_one_pass_with_the_per_parameter_numbers(amsgrad):
    # Parameters of one dtype share flat slot buffers and are updated in one pass (Adam._update_all);
    # with mixed dtypes each parameter is updated alone (Adam.update). Same parameters, same gradients:
    # the float32 results must be bit-identical (guaranteed: the arrays' lengths differ, so NumPy runs other
    # SIMD loops and remainders, but every operation in the step is one IEEE 754 rounds exactly, and alpha is
    # the same scalar), and the per-parameter slots must be views of the flat ones.
    rng = np.random.default_rng(3)
    shapes = [(1, 8), (4, 8), (8,), (4, 1), (1,)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    steps = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(4)]
    flat_params = [p.copy() for p in init]
    flat = Adam(learning_rate=0.01, amsgrad=amsgrad)
    flat.update = lambda *args: pytest.fail("one dtype: the one-pass update should run, not update()")
    # the same values, but one parameter stored as float64 forces the per-parameter path; its twin below
    # is float32 throughout, so it is compared on the float32 parameters only
    alone_params = [p.copy() for p in init] + [np.zeros(2, np.float64)]
    alone = Adam(learning_rate=0.01, amsgrad=amsgrad)
    for grads in steps:
        flat.apply(flat_params, grads)
        alone.apply(alone_params, grads + [np.ones(2)])
    assert flat._flat_slots is not None and alone._flat_slots is None
    for a, b in zip(flat_params, alone_params):
        np.testing.assert_array_equal(a, b)
    for name in flat.slot_names:
        for k, s in enumerate(flat.slots[name]):
            np.testing.assert_array_equal(s, alone.slots[name][k])
            assert np.shares_memory(s, flat._flat_slots[name])
    # restoring a state writes through the views, so the next one-pass step starts from it
    state = flat.get_state()
    flat.apply(flat_params, steps[0])
    flat.set_state(state)
    assert all(np.shares_memory(s, flat._flat_slots["m"]) for s in flat.slots["m"])
    np.testing.assert_array_equal(flat._flat_slots["m"], np.concatenate([a.ravel() for a in state["m"]]))
