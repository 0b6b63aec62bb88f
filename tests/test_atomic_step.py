"""A training step is applied whole or not at all: a KeyboardInterrupt raised at each line executed in
minirnn's modules during one optimizer update and one training step, in turn (sys.settrace), leaves every
parameter and all the optimizer state either exactly as before or exactly as after an uninterrupted step.
A step that makes a weight non-finite restores weights and optimizer state, the first step included.
Stateful layers keep their carried state when predict, evaluate or fit raise."""

import copy
import os
import sys
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import minirnn
from minirnn import NonFiniteOutputError, Sequential, TrainingDivergedError
from minirnn.layers import LSTM, Bidirectional, Dense, SimpleRNN
from minirnn.optimizers import SGD, Adam, AdamW, RMSprop

PACKAGE = os.path.dirname(minirnn.__file__) + os.sep


def run_with_interrupt(fn, at):
    """Run fn, raising KeyboardInterrupt at the at-th line event in minirnn's modules (at=None: count them).
    Returns (lines counted, whether it was interrupted)."""
    count = [0]

    def local(frame, event, arg):
        if event == "line":
            count[0] += 1
            if count[0] == at:
                raise KeyboardInterrupt  # tracing stops here: exactly one interrupt per run
        return local

    def new_frame(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    sys.settrace(new_frame)
    try:
        fn()
        return count[0], False
    except KeyboardInterrupt:
        return count[0], True
    finally:
        sys.settrace(None)


def opt_state(opt):
    state = opt.get_state()
    return state["iterations"], opt.learning_rate, {k: [a.copy() for a in v] for k, v in state.items()
                                                     if k != "iterations"}


def same(a, b):
    (wa, (ia, la, sa)), (wb, (ib, lb, sb)) = a, b
    return (ia == ib and la == lb and set(sa) == set(sb) and len(wa) == len(wb)
            and all(np.array_equal(u, v) for u, v in zip(wa, wb))
            and all(np.array_equal(u, v) for k in sa for u, v in zip(sa[k], sb[k])))


def blas_threads():
    return sorted((i["internal_api"], i["num_threads"]) for i in threadpool_info())


@pytest.mark.parametrize("make", [lambda: Adam(0.1, amsgrad=True, weight_decay=0.01),
                                  lambda: RMSprop(0.1, momentum=0.5, centered=True, clipnorm=1.0),
                                  lambda: SGD(0.1, momentum=0.9, nesterov=True, global_clipnorm=0.5)],
                         ids=["adam", "rmsprop", "sgd"])
def test_interrupt_at_every_line_of_an_optimizer_update(make):
    rng = np.random.default_rng(0)
    params0 = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)]
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params0]
    base = make()
    base.apply([p.copy() for p in params0], grads)  # one step done: the slots hold state

    def fresh():
        opt, params = copy.deepcopy(base), [p.copy() for p in params0]
        return opt, params, (params0, opt_state(opt))

    opt, params, before = fresh()
    lines, _ = run_with_interrupt(lambda: opt.apply(params, grads), None)
    after = ([p.copy() for p in params], opt_state(opt))
    assert not same(before, after) and lines > 20
    threads = blas_threads()
    outcomes = {"before": 0, "after": 0}
    for at in range(1, lines + 1):
        opt, params, _ = fresh()
        _, interrupted = run_with_interrupt(lambda opt=opt, params=params: opt.apply(params, grads), at)
        now = ([p.copy() for p in params], opt_state(opt))
        assert interrupted
        if same(now, before):
            outcomes["before"] += 1
        else:
            assert same(now, after), f"half-applied update when interrupted at line event {at} of {lines}"
            outcomes["after"] += 1
    assert outcomes["before"] > 0 and sum(outcomes.values()) == lines
    assert blas_threads() == threads


def test_interrupt_at_every_line_of_a_training_step():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 3, 2)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)
    base = Sequential([SimpleRNN(3, input_shape=(3, 2), seed=0), Dense(1, seed=1)])
    base.compile(Adam(0.05), "mse")
    base.train_on_batch(x, y)

    def fresh():
        model = copy.deepcopy(base)
        return model, (model.get_weights(), opt_state(model.optimizer))

    model, before = fresh()
    lines, _ = run_with_interrupt(lambda: model.train_on_batch(x, y), None)
    after = (model.get_weights(), opt_state(model.optimizer))
    assert not same(before, after) and lines > 100
    threads = blas_threads()
    applied = 0
    for at in range(1, lines + 1):
        model, _ = fresh()
        _, interrupted = run_with_interrupt(lambda model=model: model.train_on_batch(x, y), at)
        assert interrupted
        now = (model.get_weights(), opt_state(model.optimizer))
        if not same(now, before):
            assert same(now, after), f"half-applied training step when interrupted at line event {at} of {lines}"
            applied += 1
    assert applied < lines // 4  # almost every interruption lands before the end, and undoes the step
    assert blas_threads() == threads


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
# weight_decay 1e39 overflows float32 (w -= w * inf * lr): every step makes the weights non-finite
@pytest.mark.parametrize("make", [lambda: Adam(0.1, weight_decay=1e39), lambda: AdamW(0.1, weight_decay=1e39),
                                  lambda: RMSprop(0.1, weight_decay=1e39),
                                  lambda: SGD(0.1, momentum=0.9, weight_decay=1e39)],
                         ids=["adam", "adamw", "rmsprop", "sgd"])
def test_first_step_divergence_restores_everything(make):
    """Before: ValueError 'optimizer state must hold ['m', 'v']; got []' and iterations moved."""
    model = Sequential([SimpleRNN(4, activation="relu", input_shape=(5, 2), seed=0), Dense(1, seed=1)])
    model.compile(make(), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 5, 2)), 1e3 * rng.standard_normal((8, 1))
    weights = model.get_weights()
    with pytest.raises(TrainingDivergedError, match="made a weight non-finite"):
        model.train_on_batch(x, y)
    assert model.optimizer.iterations == 0
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    state = model.optimizer.get_state()
    assert all(not np.any(a) for k, v in state.items() if k != "iterations" for a in v)  # slots still zero
    assert model.optimizer.learning_rate == make().learning_rate


def stateful_model():
    model = Sequential([LSTM(3, stateful=True, activation="relu", input_shape=(4, 1), seed=0), Dense(1, seed=1)])
    model.compile("sgd", "mse")
    return model


def test_stateful_predict_that_overflows_keeps_the_carried_state():
    """Before: the diagnostic second pass reran from the advanced state; the layer was left with NaN."""
    model = stateful_model()
    x = np.ones((2, 4, 1), np.float32)
    model.predict(x)
    carried = [s.copy() for s in model.layers[0].states]
    w = model.get_weights()
    w[0][:] = 1e30  # a kernel that overflows the gates on an input of 1e30
    model.set_weights(w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteOutputError, match="LSTM layer"):
            model.predict(np.full((2, 4, 1), 1e30, np.float32))
    for a, b in zip(carried, model.layers[0].states):
        np.testing.assert_array_equal(a, b)
    model.set_weights([v * 0 for v in w])
    assert np.isfinite(model.predict(x)).all()  # later calls work


@pytest.mark.parametrize("call", ["predict", "evaluate", "fit"])
def test_stateful_layers_keep_state_when_interrupted(call):
    model = Sequential([Bidirectional(LSTM(2, stateful=True, seed=0), input_shape=(4, 1)),
                        Dense(1, seed=1)])
    model.compile("sgd", "mse")
    x = np.ones((2, 4, 1), np.float32)
    model.predict(x)
    layers = (model.layers[0].forward_layer, model.layers[0].backward_layer)
    carried = [layer.states for layer in layers]
    run = {"predict": lambda: model.predict(np.ones((6, 4, 1)), batch_size=2),
           "evaluate": lambda: model.evaluate(np.ones((6, 4, 1)), np.ones((6, 1)), batch_size=2),
           "fit": lambda: model.fit(np.ones((6, 4, 1)), np.ones((6, 1)), batch_size=2, verbose=0, shuffle=False)}
    lines, _ = run_with_interrupt(run[call], None)
    for at in (lines // 3, 2 * lines // 3):  # in the second and the third batch
        for layer, states in zip(layers, carried):
            layer.states = states
        weights = model.get_weights()
        _, interrupted = run_with_interrupt(run[call], at)
        assert interrupted
        if call != "fit":  # fit keeps the steps it completed; only the interrupted one is undone
            assert all(layer.states is states for layer, states in zip(layers, carried))
            for a, b in zip(weights, model.get_weights()):
                np.testing.assert_array_equal(a, b)
        else:
            assert all(np.isfinite(s).all() for layer in layers for s in layer.states)
