"""RMSprop, Adam(amsgrad, weight_decay), AdamW, SGD weight decay and the exponential-decay schedule:
the first two steps by hand, 5 steps against Keras (with TensorFlow), config and state round trips,
and the divergence guard with the new optimizers."""

import numpy as np
import pytest

from minirnn import Sequential
from minirnn import optimizers as opt_mod
from minirnn.layers import Dense, SimpleRNN
from minirnn.model import TrainingDivergedError
from minirnn.optimizers import SGD, Adam, AdamW, RMSprop
from minirnn.schedules import ExponentialDecay

W0 = np.array([0.5, -1.0, 2.0])
G1 = np.array([0.1, -0.2, 0.3])
G2 = np.array([-0.05, 0.4, 0.0])


def _two_steps(opt, dtype=np.float64):
    w = W0.astype(dtype)
    opt.apply([w], [G1.astype(dtype)])
    w1 = w.copy()
    opt.apply([w], [G2.astype(dtype)])
    return w1, w


def test_rmsprop_two_steps_by_hand():
    lr, rho, eps = 0.01, 0.9, 1e-7
    s1 = (1 - rho) * G1 ** 2
    w1 = W0 - lr * G1 / np.sqrt(s1 + eps)
    s2 = rho * s1 + (1 - rho) * G2 ** 2
    w2 = w1 - lr * G2 / np.sqrt(s2 + eps)
    got1, got2 = _two_steps(RMSprop(learning_rate=lr))
    np.testing.assert_allclose(got1, w1, rtol=1e-13)
    np.testing.assert_allclose(got2, w2, rtol=1e-13)


def test_rmsprop_momentum_and_centered_by_hand():
    lr, rho, mu, eps = 0.01, 0.8, 0.5, 1e-7
    s1, a1 = (1 - rho) * G1 ** 2, (1 - rho) * G1
    u1 = lr * G1 / np.sqrt(s1 - a1 ** 2 + eps)
    w1 = W0 - u1
    s2, a2 = rho * s1 + (1 - rho) * G2 ** 2, rho * a1 + (1 - rho) * G2
    u2 = mu * u1 + lr * G2 / np.sqrt(s2 - a2 ** 2 + eps)
    w2 = w1 - u2
    opt = RMSprop(learning_rate=lr, rho=rho, momentum=mu, centered=True)
    got1, got2 = _two_steps(opt)
    np.testing.assert_allclose(got1, w1, rtol=1e-13)
    np.testing.assert_allclose(got2, w2, rtol=1e-13)
    assert sorted(opt.slots) == ["average_gradients", "momentums", "velocities"]


def test_adam_amsgrad_uses_running_max_of_v():
    lr, b1, b2, eps = 0.1, 0.9, 0.5, 1e-7  # beta_2 small: v falls at step 2 where G2 is 0 or small
    m1, v1 = (1 - b1) * G1, (1 - b2) * G1 ** 2
    w1 = W0 - lr * np.sqrt(1 - b2) / (1 - b1) * m1 / (np.sqrt(v1) + eps)
    m2, v2 = b1 * m1 + (1 - b1) * G2, b2 * v1 + (1 - b2) * G2 ** 2
    vhat = np.maximum(v1, v2)
    assert (vhat != v2).any()  # the case where amsgrad differs
    w2 = w1 - lr * np.sqrt(1 - b2 ** 2) / (1 - b1 ** 2) * m2 / (np.sqrt(vhat) + eps)
    opt = Adam(learning_rate=lr, beta_2=b2, amsgrad=True)
    got1, got2 = _two_steps(opt)
    np.testing.assert_allclose(got1, w1, rtol=1e-13)
    np.testing.assert_allclose(got2, w2, rtol=1e-13)
    np.testing.assert_allclose(opt.slots["v_hat"][0], vhat, rtol=1e-14)
    plain = _two_steps(Adam(learning_rate=lr, beta_2=b2))[1]
    assert not np.allclose(plain, got2)


@pytest.mark.parametrize("cls,wd", [(AdamW, 0.004), (AdamW, 0.1), (Adam, 0.1)])
def test_weight_decay_applied_before_the_adam_step(cls, wd):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-7
    opt = cls(learning_rate=lr) if wd == 0.004 else cls(learning_rate=lr, weight_decay=wd)
    assert opt.weight_decay == wd
    w, m, v = W0.copy(), 0 * W0, 0 * W0
    expected = []
    for t, g in enumerate((G1, G2), start=1):
        w = w - w * wd * lr  # uses the current w; the gradient was computed before
        m, v = m + (g - m) * (1 - b1), v + (g * g - v) * (1 - b2)
        w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
        expected.append(w)
    got = _two_steps(opt)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-13)


def test_sgd_weight_decay_and_momentum_by_hand():
    lr, wd, mu = 0.1, 0.01, 0.9
    w1 = W0 - W0 * wd * lr
    v1 = -lr * G1
    w1 = w1 + v1
    w2 = w1 - w1 * wd * lr
    v2 = mu * v1 - lr * G2
    w2 = w2 + v2
    got1, got2 = _two_steps(SGD(learning_rate=lr, momentum=mu, weight_decay=wd))
    np.testing.assert_allclose(got1, w1, rtol=1e-14)
    np.testing.assert_allclose(got2, w2, rtol=1e-14)


def test_schedule_evaluated_at_the_step_counter_before_each_step():
    sched = ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = SGD(learning_rate=sched, weight_decay=0.1)
    w1, w2 = _two_steps(opt)
    lr1, lr2 = 0.1, 0.05  # steps 0 and 1
    e1 = W0 - W0 * 0.1 * lr1 - lr1 * G1
    e2 = e1 - e1 * 0.1 * lr2 - lr2 * G2
    np.testing.assert_allclose(w1, e1, rtol=1e-7)  # the schedule is float32, as Keras's
    np.testing.assert_allclose(w2, e2, rtol=1e-7)
    assert opt.learning_rate == pytest.approx(0.05) and opt.iterations == 2
    s = ExponentialDecay(1.0, 4, 0.5, staircase=False)
    assert s(2) == pytest.approx(0.5 ** 0.5, rel=1e-7)
    # Keras's float32 rate at step 4, exactly (issue 12): float32(0.9)^4 is 0.25 ulp above 0.6560999, which
    # powf (what minirnn and TensorFlow call) returns; np.power's AVX-512 loop returned 0.6561, giving 0.032805.
    assert np.float32(ExponentialDecay(0.05, 1, 0.9)(4)) == np.float32(0.032804996)
    with pytest.raises(ValueError, match="decay_steps"):
        ExponentialDecay(1.0, 0, 0.5)


@pytest.mark.parametrize("opt", [
    RMSprop(0.01, momentum=0.5, centered=True), Adam(0.02, amsgrad=True, weight_decay=0.1, clipnorm=1.0),
    AdamW(learning_rate=ExponentialDecay(0.01, 3, 0.9, staircase=True)), SGD(0.1, 0.9, True, weight_decay=0.01)])
def test_config_and_state_round_trip_continue_identically(opt, rng):
    params = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(4)]
    for g in grads[:2]:
        opt.apply(params, g)
    clone = opt_mod.from_config(opt.get_config())
    assert clone.get_config() == opt.get_config() and type(clone) is type(opt)
    clone_params = [p.copy() for p in params]
    clone.build(clone_params)
    clone.set_state(opt.get_state())
    for g in grads[2:]:
        opt.apply(params, g)
        clone.apply(clone_params, g)
    for a, b in zip(params, clone_params):
        np.testing.assert_array_equal(a, b)
    assert clone.iterations == opt.iterations == 4


def test_get_by_name_and_bad_arguments():
    assert isinstance(opt_mod.get("rmsprop"), RMSprop) and isinstance(opt_mod.get("AdamW"), AdamW)
    assert AdamW().weight_decay == 0.004 and Adam().weight_decay is None
    r = RMSprop()
    assert (r.learning_rate, r.rho, r.momentum, r.epsilon, r.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    with pytest.raises(ValueError, match="rho"):
        RMSprop(rho=1.5)
    with pytest.raises(ValueError, match="weight_decay"):
        Adam(weight_decay=-1)
    with pytest.raises(TypeError, match="amsgrad"):
        Adam(amsgrad="no")
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=None)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the forward pass overflows on purpose
@pytest.mark.parametrize("opt", [RMSprop(learning_rate=1e30), AdamW(learning_rate=1e30),
                                 Adam(learning_rate=1e30, amsgrad=True)])
def test_divergence_guard_with_new_optimizers(rng, opt):
    from minirnn.callbacks import LambdaCallback

    model = Sequential([SimpleRNN(4, activation="relu", input_shape=(5, 2), seed=0), Dense(1, seed=1)])
    model.compile(opt, "mse")
    x, y = rng.standard_normal((16, 5, 2)), 1e3 * rng.standard_normal((16, 1))
    after_step = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: after_step.append(model.get_weights()))
    with pytest.raises(TrainingDivergedError, match=r"epoch \d+, batch \d+"):
        model.fit(x, y, epochs=20, batch_size=8, verbose=0, seed=0, callbacks=[record])
    assert after_step, "diverged at the first step: restoring would not be shown"
    for a, b in zip(model.get_weights(), after_step[-1]):  # the weights after the last finite step
        np.testing.assert_array_equal(a, b)


# -- against Keras --------------------------------------------------------------------------------------

KERAS_CASES = [
    ("RMSprop", {}), ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "centered": True, "momentum": 0.5}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}), ("Adam", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("AdamW", {}), ("AdamW", {"learning_rate": 0.02, "weight_decay": 0.05, "amsgrad": True}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    ("SGD", {"learning_rate": ("schedule", 0.05, 2, 0.7, False), "nesterov": True, "momentum": 0.8}),
    ("Adam", {"learning_rate": ("schedule", 0.01, 2, 0.5, True), "weight_decay": 0.1}),
]


@pytest.mark.parametrize("name,kwargs", KERAS_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_five_steps_match_keras(name, kwargs, dtype):
    """Five steps of each optimizer against Keras's (eager ``apply_gradients``, TensorFlow backend).

    float32: bit for bit, on every CPU, because both sides do the same operations on the same numbers in
    the same order: +, -, *, /, sqrt, maximum and floor, which IEEE 754 rounds exactly (so every SIMD path
    gives the same bits), and the powers beta_1^t, beta_2^t (Adam's bias correction) and decay_rate^p
    (ExponentialDecay), which both compute with the C library's powf: TensorFlow's Pow kernel on Keras's
    0-d tensors, and NumPy's scalar ``**`` in minirnn. The powers were the one operation that differed
    (issue 12): minirnn used ``np.power``, whose AVX-512 loop is not correctly rounded; on an Intel Xeon
    Sapphire Rapids (AVX-512), NumPy 2.4.6, it gave 0.9^4 = 0.6561 (powf and Keras: 0.6560999, the correctly
    rounded value) and 0.05 * 0.7^1.5 = 0.029283097 (Keras: 0.0292831), which failed six float32 cases from
    step 4 on: worst 2 ulp at step 4 and 64 ulp at step 5 (AdamW, one element near zero). Measured after
    the change: 0 ulp in all cases, with NumPy's default dispatch and with its AVX-512 targets disabled.
    (Under ``jit_compile`` XLA would compute Keras's powers with its own pow, and this would not hold.)
    """
    pytest.importorskip("tensorflow")
    import keras

    rng = np.random.default_rng(7)
    shapes = [(4, 3), (3,), (2, 5)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    steps = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(5)]

    def build(module, schedule_cls):
        kw = dict(kwargs)
        if isinstance(kw.get("learning_rate"), tuple):
            kw["learning_rate"] = schedule_cls(*kw["learning_rate"][1:])
        return getattr(module, name)(**kw)

    kopt = build(keras.optimizers, keras.optimizers.schedules.ExponentialDecay)
    mopt = build(opt_mod, ExponentialDecay)
    kvars = [keras.Variable(p, dtype=dtype) for p in params]
    mine = [p.copy() for p in params]
    for grads in steps:
        kopt.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], kvars))
        mopt.apply(mine, grads)
    for kv, w, p0 in zip(kvars, mine, params):
        kw = np.asarray(kv.numpy())
        if dtype == "float32":
            np.testing.assert_array_equal(w, kw)  # bit for bit: the same IEEE operations and powf (docstring)
        else:
            # In float64 Keras rounds some scalars through float32 (the learning-rate variable, and
            # ops.cast of beta_1/beta_2, SGD's momentum and weight_decay: f32(0.999) alone changes Adam's
            # sqrt(1 - beta_2^t) by ~6e-6 relative); minirnn keeps them in float64. Compare displacements.
            tol = 2e-5 if name.startswith("Adam") else 1e-6
            np.testing.assert_allclose(w - p0, kw - p0, rtol=0, atol=tol * np.abs(kw - p0).max())


def test_bias_corrections_and_schedule_match_keras_for_a_thousand_steps():
    """Adam's alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) and ExponentialDecay's rate, float32, against
    the same expressions in ``keras.ops`` on 0-d tensors (as Keras's optimizer and schedule evaluate them)
    for t = 1..1000 (schedule: steps 0..999, decay_steps 1 and 7, staircase or not): bit for bit.

    The five-step test sees t <= 5 only, where ``np.power`` happened to be wrong once (0.9^4). The powers
    are the one non-IEEE operation here; minirnn computes them with NumPy's scalar ``**`` (the C library's
    powf, which TensorFlow's Pow kernel calls too). Measured on an Intel Xeon Sapphire Rapids (AVX-512),
    NumPy 2.4.6: 0 of these 5000 values differ, with NumPy's default dispatch and with its AVX-512 targets
    disabled. With ``np.power``, as before issue 12, 788 differed under the default dispatch (134 alphas, by
    up to 45 ulp: 1 - beta^t near 0 magnifies a 1-ulp power; 654 rates, by up to 2 ulp) and none with the
    AVX-512 targets disabled. The rates stay normal numbers: TensorFlow flushes subnormal results to zero,
    NumPy does not (0.05 * 0.9^step differs from step 801 on, where it falls below 1.2e-38).
    """
    pytest.importorskip("tensorflow")
    import keras
    from keras import ops

    f = np.float32
    lr, b1, b2 = 0.01, 0.9, 0.999
    opt = Adam(learning_rate=lr, beta_1=b1, beta_2=b2)
    kb1, kb2, klr = (ops.cast(x, "float32") for x in (b1, b2, lr))
    mine, theirs = [], []
    for t in range(1, 1001):
        opt.iterations = t  # _alpha is what a step at counter t uses (computed once per step, cached)
        mine.append(opt._alpha(np.dtype(np.float32)))
        kt = ops.cast(t, "float32")  # Keras's Adam.update_step, line by line
        theirs.append(klr * ops.sqrt(1 - ops.power(kb2, kt)) / (1 - ops.power(kb1, kt)))
    for args in ((0.05, 1, 0.99, False), (0.05, 7, 0.7, False), (0.05, 7, 0.7, True), (1.0, 1, 0.999, False)):
        ours, kers = ExponentialDecay(*args), keras.optimizers.schedules.ExponentialDecay(*args)
        for step in range(1000):
            mine.append(f(ours(step)))
            theirs.append(kers(step))
    mine, theirs = np.array(mine, f), np.array([np.asarray(x) for x in theirs], f)
    np.testing.assert_array_equal(mine, theirs)
