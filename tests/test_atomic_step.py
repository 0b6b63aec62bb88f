"""A training step is applied whole or not at all: a KeyboardInterrupt raised at each line executed in
minirnn's modules during one optimizer update and one training step, in turn (sys.settrace), leaves every
parameter and all the optimizer state either exactly as before or exactly as after an uninterrupted step.
A step that makes a weight non-finite restores weights and optimizer state, the first step included.
A second KeyboardInterrupt at each line executed while the step restores its snapshot (after a first one at
points spread over the step) still leaves all or nothing, and the BLAS setting as it was.
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


def run_with_two_interrupts(fn, first_at, second_at):
    """Run fn, raising a KeyboardInterrupt at the first_at-th line event in minirnn's modules, then a second
    one at the second_at-th line event in them after the first, that is, during the restore (second_at=None:
    count those lines). A trace function stops at the exception it raises; a profile function arms a fresh
    one at the next event (the interrupted frame unwinding), on every minirnn frame of the stack, so that the
    handlers' lines are seen. Returns (lines after the first, the interrupts raised, the exception that
    escaped or None)."""
    count, after, raised = [0], [0], []

    def inside(frame):
        return frame.f_code.co_filename.startswith(PACKAGE)

    def local(frame, event, arg):
        if event == "line":
            if raised:
                after[0] += 1
                if after[0] == second_at:
                    raised.append("second")
                    raise KeyboardInterrupt("second")
            else:
                count[0] += 1
                if count[0] == first_at:
                    raised.append("first")
                    raise KeyboardInterrupt("first")
        return local

    def tracer(frame, event, arg):
        return local if inside(frame) else None

    def rearm(frame, event, arg):
        if raised == ["first"] and sys.gettrace() is None:
            sys.settrace(tracer)
            while frame is not None:
                if inside(frame):
                    frame.f_trace = local
                frame = frame.f_back

    sys.settrace(tracer)
    sys.setprofile(rearm)
    try:
        fn()
        escaped = None
    except KeyboardInterrupt as err:
        escaped = err
    finally:
        sys.settrace(None)
        sys.setprofile(None)
    return after[0], raised, escaped


def check_second_interrupts(fresh, run, snapshot_of, n_first):
    """For each of n_first first interrupts spread evenly over the step's lines, a second at every line of the
    restore that follows: the outcome is exactly before or exactly after the step, a KeyboardInterrupt
    escapes, the optimizer guards its own steps again, and the BLAS setting is unchanged. Returns the runs
    checked and the restore's line count after each first interrupt."""
    subject, before = fresh()
    lines, _ = run_with_interrupt(lambda: run(subject), None)
    after = snapshot_of(subject)
    assert not same(before, after)
    threads = blas_threads()
    runs, restore_lines = 0, []
    for first in np.unique(np.linspace(1, lines, n_first).astype(int)):
        subject, _ = fresh()
        lines, raised, _ = run_with_two_interrupts(lambda s=subject: run(s), first, None)
        assert raised == ["first"], first
        restore_lines.append(lines)
        for second in range(1, lines + 1):
            subject, _ = fresh()
            _, raised, escaped = run_with_two_interrupts(lambda s=subject: run(s), first, second)
            assert raised == ["first", "second"]
            assert str(escaped) in ("first", "second")
            now = snapshot_of(subject)
            assert same(now, before) or same(now, after), (
                f"half-restored: first interrupt after line event {first}, second at restore line {second}")
            opt = subject.optimizer if hasattr(subject, "optimizer") else subject[0]
            assert not opt.__dict__.get("_caller_guards_step"), (first, second)
            runs += 1
    assert blas_threads() == threads
    return runs, restore_lines


def test_a_second_interrupt_during_the_restore_of_an_optimizer_update():
    """Before: a second KeyboardInterrupt while Optimizer.apply restored its snapshot left the restore half
    done (some parameters or slots back, others not)."""
    rng = np.random.default_rng(0)
    params0 = [rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)]
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params0]
    base = Adam(0.1, amsgrad=True, weight_decay=0.01)
    base.apply([p.copy() for p in params0], grads)

    def fresh():
        opt, params = copy.deepcopy(base), [p.copy() for p in params0]
        return (opt, params), ([p.copy() for p in params], opt_state(opt))

    runs, restore = check_second_interrupts(fresh, lambda s: s[0].apply(s[1], grads),
                                            lambda s: ([p.copy() for p in s[1]], opt_state(s[0])), 10**6)
    # measured: 3,197 runs; 64 first points interrupt the update itself, each then restoring over 47-50 lines
    assert runs > 1000 and sum(n >= 40 for n in restore) > 50


def test_a_second_interrupt_during_the_restore_of_a_training_step():
    """The same for Sequential's step (weights, optimizer state and a stateful layer's carried state),
    the first interrupt at points spread over the step: the forward pass, the backward pass, the update."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((4, 3, 2)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)
    base = Sequential([SimpleRNN(3, stateful=True, input_shape=(3, 2), seed=0), Dense(1, seed=1)])
    base.compile(Adam(0.05), "mse")
    base.train_on_batch(x, y)

    def snapshot_of(model):
        return model.get_weights() + [s.copy() for s in model.layers[0].states], opt_state(model.optimizer)

    def fresh():
        model = copy.deepcopy(base)
        return model, snapshot_of(model)

    runs, restore = check_second_interrupts(fresh, lambda m: m.train_on_batch(x, y), snapshot_of, 60)
    # measured: 1,618 runs; 7 first points in the update (a restore of 70-71 lines), 37 in the forward and
    # backward passes (only the carried states and the guard flag to restore: 28-29 lines)
    assert runs > 1000 and sum(n >= 60 for n in restore) >= 5


def test_the_restore_is_rerun_until_it_completes_and_the_original_error_propagates():
    """Three interrupts in a row, each half-way through the restore: it is rerun from the start until a run
    completes; then the exception that started it propagates (not the interrupts that arrived during it)."""
    from minirnn._atomic import all_or_nothing

    w, saved, interrupts = np.zeros(4), np.zeros(4), [3]

    def step():
        w[:] = 1.0
        raise TrainingDivergedError("the step")

    def undo():
        for i in range(len(w)):
            w[i] = saved[i]
            if i == 1 and interrupts[0]:
                interrupts[0] -= 1
                raise KeyboardInterrupt

    w[:] = 5.0
    saved[:] = 5.0
    with pytest.raises(TrainingDivergedError, match="the step"):
        all_or_nothing(step, undo)
    assert interrupts == [0] and w.tolist() == [5.0] * 4


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


def test_a_child_forked_during_training_starts_with_the_normal_blas_setting():
    """Training changes no process-wide setting (runtime.py: no BLAS thread policy for fit), so a process
    forked in the middle of fit, and one forked while a step is interrupted, get the parent's normal BLAS
    threads; the allocator policy, applied once per process, is inherited as applied."""
    import json

    from minirnn import runtime
    from minirnn.callbacks import Callback

    normal = blas_threads()
    reports = []

    def fork_and_report():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report and leave at once, running no test machinery
            try:
                os.write(write, json.dumps([blas_threads(), runtime._state.get("applied")]).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as f:
            reports.append(json.loads(f.read()))
        os.waitpid(pid, 0)

    class ForkMidEpoch(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                fork_and_report()

    model = Sequential([SimpleRNN(3, input_shape=(4, 2), seed=0), Dense(1, seed=1)])
    model.compile(Adam(0.01), "mse")
    x, y = np.ones((8, 4, 2), np.float32), np.ones((8, 1), np.float32)
    model.fit(x, y, batch_size=2, verbose=0, callbacks=[ForkMidEpoch()])
    lines, _ = run_with_interrupt(lambda: model.train_on_batch(x, y), None)
    run_with_interrupt(lambda: model.train_on_batch(x, y), lines // 2)
    fork_and_report()
    applied = runtime.keep_freed_memory()
    assert reports == [[[list(t) for t in normal], applied]] * 2
    assert blas_threads() == normal
