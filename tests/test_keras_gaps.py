"""The semantics gaps found by running Keras's own tests against minirnn (issue 16), each against Keras 3:
Bidirectional with initial_state and return_state (outputs, states and every gradient, the initial states'
included), TimeDistributed with a step mask (Embedding(mask_zero=True) -> TimeDistributed(Dense) -> LSTM),
SparseCategoricalAccuracy on shapes Keras broadcasts, and TerminateOnNaN(raise_error=True).

Weights are built by seeded Keras initializers (random nonzero biases) and copied into minirnn. float64
outputs and gradients agree within 1e-10 relative (``relative_error``); measured: at most 4.8e-16 over the
Bidirectional cases, 3.3e-16 over the masked TimeDistributed models (their losses and every gradient).
"""

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from minirnn import Sequential  # noqa: E402
from minirnn.checking.gradcheck import check_layer, check_model, relative_error  # noqa: E402
from minirnn.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN, TimeDistributed  # noqa: E402
from minirnn.model import TrainingDivergedError  # noqa: E402
from minirnn.training.callbacks import Callback, TerminateOnNaN  # noqa: E402
from minirnn.training.losses import ShapeBroadcastWarning  # noqa: E402
from minirnn.training.metrics import MeanTracker, SparseCategoricalAccuracy  # noqa: E402
from minirnn.training.optimizers import SGD  # noqa: E402

TOL64 = 1e-10


def assert_close(a, b, tol=TOL64, what=""):
    err = relative_error(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    assert err < tol, f"{what}: relative error {err:.3g} >= {tol}"


def random_biases(layer, rng):
    for w in layer.weights:
        if "bias" in w.name:
            w.assign(rng.standard_normal(w.shape) * 0.5)


# -- Bidirectional: initial_state and return_state ----------------------------------------------------------

KERAS_RNN = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}
MINI_RNN = {"lstm": LSTM, "gru": GRU, "simple_rnn": SimpleRNN}


def bidirectional_pair(kind, rng, merge_mode="concat", **options):
    """A Keras Bidirectional (float64, built on (5, 4) inputs) and minirnn's with the same weights."""
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    kb = keras.layers.Bidirectional(KERAS_RNN[kind](3, dtype="float64", **options), merge_mode=merge_mode,
                                    dtype="float64")
    kb.build((None, 5, 4))
    random_biases(kb, rng)
    mb = Bidirectional(MINI_RNN[kind](3, dtype="float64", **options), merge_mode=merge_mode)
    mb.build((5, 4))
    mb.set_weights(kb.get_weights())
    return kb, mb


def keras_outputs_and_grads(kb, x, states, rs, mask=None):
    """Keras's outputs and the gradients of J = sum_k <r_k, y_k> for x, the initial states and the weights."""
    xt, st = tf.constant(x), [tf.constant(s) for s in states]
    kwargs = {} if mask is None else {"mask": tf.constant(mask)}
    with tf.GradientTape() as tape:
        tape.watch([xt, *st])
        ys = kb(xt, initial_state=st, **kwargs)
        ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
        J = tf.add_n([tf.reduce_sum(y * r) for y, r in zip(ys, rs)])
    grads = tape.gradient(J, [xt, *st, *kb.trainable_weights])
    return [y.numpy() for y in ys], [g.numpy() for g in grads]


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_lstm_initial_state_and_return_state_match_keras(merge_mode, return_sequences):
    rng = np.random.default_rng(1)
    kb, mb = bidirectional_pair("lstm", rng, merge_mode, return_sequences=return_sequences, return_state=True)
    x = rng.standard_normal((2, 5, 4))
    states = [rng.standard_normal((2, 3)) * 0.5 for _ in range(4)]  # forward h, c, then backward h, c
    ys, cache = mb.forward(x, initial_state=states)
    n_out = 2 if merge_mode is None else 1
    assert len(ys) == n_out + 4  # [output(s), *forward_states, *backward_states], as Keras returns them
    rs = [rng.standard_normal(y.shape) for y in ys]
    k_ys, k_grads = keras_outputs_and_grads(kb, x, states, rs)
    assert len(k_ys) == len(ys)
    for k, (a, b) in enumerate(zip(ys, k_ys)):
        assert_close(a, b, what=f"output {k}")
    g = mb.backward(cache, rs)
    mine = [g.dx, *g.initial_state, *g.params.values()]
    assert len(mine) == len(k_grads)
    for k, (a, b) in enumerate(zip(mine, k_grads)):
        assert_close(a, b, what=f"gradient {k} (x, 4 initial states, then the weights)")


def test_bidirectional_gru_with_a_mask_and_initial_state_only_matches_keras():
    """initial_state without return_state (the output alone), GRU (one state per direction), padded steps."""
    rng = np.random.default_rng(2)
    kb, mb = bidirectional_pair("gru", rng, "concat", return_sequences=True)
    x = rng.standard_normal((3, 5, 4))
    mask = np.arange(5)[None, :] < np.array([[5], [3], [1]])
    states = [rng.standard_normal((3, 3)) * 0.5 for _ in range(2)]
    y, cache = mb.forward(x, initial_state=states, mask=mask)
    r = rng.standard_normal(y.shape)
    (k_y,), k_grads = keras_outputs_and_grads(kb, x, states, [r], mask=mask)
    assert_close(y, k_y, what="output")
    g = mb.backward(cache, r)
    for k, (a, b) in enumerate(zip([g.dx, *g.initial_state, *g.params.values()], k_grads)):
        assert_close(a, b, what=f"gradient {k}")


@pytest.mark.parametrize("kind, merge_mode, return_sequences, return_state", [
    ("lstm", "concat", True, True), ("lstm", None, False, True), ("gru", "mul", True, True),
    ("simple_rnn", "ave", False, False)])
def test_bidirectional_backward_with_initial_states_passes_the_float64_gradient_check(
        kind, merge_mode, return_sequences, return_state):
    layer = Bidirectional(MINI_RNN[kind](3, return_sequences=return_sequences, return_state=return_state,
                                         dtype="float64", seed=0), merge_mode=merge_mode)
    x = np.random.default_rng(3).standard_normal((2, 4, 3))
    report = check_layer(layer, x)  # random initial states for both directions, checked as inputs
    names = [c.name for c in report.checks]
    assert names[:1 + 2 * layer.forward_layer.n_states] == ["x", *(f"initial {n}" for n in layer.state_names)]
    assert report.passed, report


def test_bidirectional_initial_state_gradient_reaches_the_right_direction():
    """Only the backward states' gradients are nonzero when only the backward final state is read."""
    layer = Bidirectional(LSTM(2, return_state=True, dtype="float64", seed=0))
    x = np.random.default_rng(4).standard_normal((2, 3, 2))
    ys, cache = layer.forward(layer.prepare_input(x), initial_state=[np.full((2, 2), 0.3)] * 4)
    g = layer.backward(cache, [None, None, None, np.ones((2, 2)), None])  # d(backward h_T) only
    assert [float(np.abs(s).max()) == 0 for s in g.initial_state] == [True, True, False, False]


def test_bidirectional_return_state_config_round_trip_gives_the_same_numbers():
    import json

    layer = Bidirectional(LSTM(3, return_state=True, return_sequences=True, seed=0),
                          backward_layer=GRU(3, return_state=True, return_sequences=True, go_backwards=True, seed=1))
    x = np.random.default_rng(5).standard_normal((2, 4, 3)).astype(np.float32)
    states = [np.full((2, 3), 0.1, np.float32)] * 3  # LSTM h, c forwards, GRU h backwards
    ys = layer(x, initial_state=states)
    again = Bidirectional.from_config(json.loads(json.dumps(layer.get_config())))
    again.build((4, 3))
    again.set_weights(layer.get_weights())
    assert again.return_state and again.state_names == ("forward h", "forward c", "backward h")
    for a, b in zip(again(x, initial_state=states), ys):
        np.testing.assert_array_equal(a, b)  # the same operations in the same order


def test_bidirectional_refuses_bad_initial_states_before_anything_changes():
    layer = Bidirectional(LSTM(3, stateful=True, return_state=True, seed=0))
    x = np.ones((2, 4, 3), np.float32)
    layer(x)
    carried = [s.copy() for s in layer.forward_layer.states]
    with pytest.raises(ValueError, match=r"list of 4 arrays \(forward h, forward c, backward h, backward c.*got 2"):
        layer(x, initial_state=[np.zeros((2, 3))] * 2)
    with pytest.raises(ValueError, match=r"initial_state 'c' must have shape \(2, 3\); got \(2, 4\)"):
        layer(x, initial_state=[np.zeros((2, 3))] * 3 + [np.zeros((2, 4))])  # the backward c is checked too
    assert all(np.array_equal(a, b) for a, b in zip(layer.forward_layer.states, carried))
    with pytest.raises(TypeError, match="must be a list of 4 arrays"):
        layer(x, initial_state=np.zeros((2, 3)))


def test_bidirectional_backward_layer_must_agree_as_keras_requires():
    with pytest.raises(ValueError, match="same return_state; got True for layer and False for backward_layer"):
        Bidirectional(LSTM(3, return_state=True), backward_layer=LSTM(3, go_backwards=True))
    with pytest.raises(ValueError, match="different go_backwards"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))
    with pytest.raises(ValueError, match="return_state=True, which a Sequential model cannot pass on"):
        Sequential([Bidirectional(LSTM(3, return_state=True), input_shape=(4, 2))])


# -- TimeDistributed with a mask --------------------------------------------------------------------------

def ids(rng, lengths, T, vocab):
    x = rng.integers(1, vocab, (len(lengths), T))
    x[np.arange(T)[None, :] >= np.array(lengths)[:, None]] = 0
    return x.astype(np.int32)


def masked_pair(rng, return_sequences):
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    tail = ([keras.layers.LSTM(3, return_sequences=True, dtype="float64"),
             keras.layers.TimeDistributed(keras.layers.Dense(2, dtype="float64"), dtype="float64")] if return_sequences
            else [keras.layers.LSTM(3, dtype="float64"), keras.layers.Dense(2, dtype="float64")])
    km = keras.Sequential([keras.Input((6,), dtype="int32"),
                           keras.layers.Embedding(10, 4, mask_zero=True, dtype="float64"),
                           keras.layers.TimeDistributed(keras.layers.Dense(5, activation="tanh", dtype="float64"),
                                                        dtype="float64"),  # else Keras casts to float32
                           *tail])
    random_biases(km, rng)
    mini_tail = ([LSTM(3, return_sequences=True, dtype="float64"), TimeDistributed(Dense(2, dtype="float64"))]
                 if return_sequences else [LSTM(3, dtype="float64"), Dense(2, dtype="float64")])
    model = Sequential([Embedding(10, 4, mask_zero=True, dtype="float64"),
                        TimeDistributed(Dense(5, "tanh", dtype="float64")), *mini_tail])
    model.compile("sgd", "mse")
    model.build((6,))
    model.set_weights(km.get_weights())
    return km, model


@pytest.mark.parametrize("return_sequences", [False, True], ids=["lstm_last", "masked_sequence_loss"])
def test_embedding_mask_through_time_distributed_dense_into_lstm_matches_keras(return_sequences):
    """The mask passes through TimeDistributed(Dense) to the LSTM (and, on sequence outputs, to the loss)."""
    rng = np.random.default_rng(6)
    km, model = masked_pair(rng, return_sequences)
    x = ids(rng, [6, 2, 4, 1], 6, 10)
    y = rng.standard_normal((4, 6, 2) if return_sequences else (4, 2))
    assert_close(model.predict(x), km(x).numpy(), what="outputs")
    with tf.GradientTape() as tape:
        value = keras.losses.MeanSquaredError(dtype="float64")(tf.constant(y), km(tf.constant(x)))
    k_grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(value, km.trainable_weights)]
    loss, grads = model.loss_and_gradients(x, y)
    assert_close(loss, float(value), what="loss")
    for k, (a, b) in enumerate(zip(grads, k_grads)):
        assert_close(a, b, what=f"gradient {k}")
    if return_sequences:  # the mask reached the loss: the padded steps are left out
        unmasked = float(np.mean((model.predict(x) - y) ** 2))
        assert abs(loss - unmasked) > 0.05 * unmasked, (loss, unmasked)
    assert np.abs(grads[0][0]).max() == 0  # the padding id's embedding row gets no gradient
    report = check_model(model, x, y)  # float64 finite differences; no "x" row (integer ids)
    assert report.passed and report.checks[0].name != "x", report


def test_time_distributed_takes_a_mask_and_passes_it_on_unchanged():
    layer = TimeDistributed(Dense(2, seed=0))
    x = np.random.default_rng(7).standard_normal((2, 4, 3)).astype(np.float32)
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    y, _ = layer.forward(layer.prepare_input(x), mask=mask)
    np.testing.assert_array_equal(y, layer(x))  # every step is computed, as Keras's TimeDistributed does
    assert layer.compute_mask(x, mask) is mask
    with pytest.raises(ValueError, match=r"mask for TimeDistributed layer must have shape \(2, 4\).*got \(2, 3\)"):
        layer(x, mask=mask[:, :3])


# -- SparseCategoricalAccuracy on shapes Keras broadcasts ---------------------------------------------------

P2 = [[[0.1, 0.6, 0.3], [0.05, 0.95, 0.0]]]           # (1, 2, 3): predicted ids [[1, 1]]
P4 = [[0.1, 0.6, 0.3], [0.05, 0.15, 0.8], [0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]  # (4, 3): ids [1, 2, 0, 1]


def keras_sparse_accuracy(y_true, y_pred):
    m = keras.metrics.SparseCategoricalAccuracy()
    m.update_state(np.array(y_true, np.float32), np.array(y_pred, np.float32))
    return float(m.result())


@pytest.mark.parametrize("y_true, y_pred, expected", [
    ([[1], [1]], P2, 1.0),                 # issue 16's case: (2, 1) against (1, 2, 3)
    ([[2], [1]], P2, 0.5),                 # compared as (2, 2): rows [0, 0] and [1, 1]
    ([[0], [1], [2]], [[P4[0], P4[1]]], 1 / 3),
    ([1], P4, 0.5),                        # (1,) against ids (4,)
    ([[1, 2]], [P4[:2], [P4[2], P4[0]]], 0.5),   # ids [[1, 2], [0, 1]] against [[1, 2]] broadcast
])
def test_sparse_categorical_accuracy_broadcasts_as_keras_and_warns_once(y_true, y_pred, expected):
    keras_value = keras_sparse_accuracy(y_true, y_pred)
    assert abs(keras_value - expected) < 1e-7  # Keras's float32 mean
    metric = SparseCategoricalAccuracy()
    tracker = MeanTracker([metric])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tracker.update(np.array(y_true), np.array(y_pred))
        tracker.update(np.array(y_true), np.array(y_pred))
    assert abs(tracker.result()["sparse_categorical_accuracy"] - expected) < 1e-12
    shape_warnings = [w for w in caught if issubclass(w.category, ShapeBroadcastWarning)]
    assert len(shape_warnings) == 1, [str(w.message) for w in caught]
    assert f"targets of shape {np.shape(y_true)} and predictions of shape {np.shape(y_pred)}" in \
        str(shape_warnings[0].message)


def test_sparse_categorical_accuracy_on_matching_shapes_is_silent_and_refuses_what_keras_cannot_compute():
    metric = SparseCategoricalAccuracy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metric.per_sample(np.array([[1], [0], [0], [1]]), np.array(P4)).tolist() == [1, 0, 1, 1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="reshape"):
        keras_sparse_accuracy([[1]], P4)  # Keras's reshape back to (1, 1) fails
    with pytest.raises(ValueError, match=r"needs targets of shape \(4,\) or \(4, 1\); got \(1, 1\)"):
        metric.per_sample(np.array([[1]]), np.array(P4))
    with pytest.raises(ValueError, match=r"broadcast against \(4,\).*got \(3,\)"):
        metric.per_sample(np.array([0, 1, 2]), np.array(P4))


# -- TerminateOnNaN(raise_error=True) ---------------------------------------------------------------------

class EndRecorder(Callback):
    def __init__(self):
        super().__init__()
        self.ended, self.epochs_ended = False, 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_ended += 1

    def on_train_end(self, logs=None):
        self.ended = True


class KerasEndRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ended = False

    def on_train_end(self, logs=None):
        self.ended = True


def diverging_data(rng):
    x = (rng.standard_normal((32, 5, 2)) * 50).astype(np.float32)
    y = (rng.standard_normal((32, 1)) * 1e4).astype(np.float32)
    return x, y


def test_terminate_on_nan_raise_error_raises_runtime_error_as_keras_and_keeps_the_last_finite_step():
    """Keras 3.15: raise_error=True raises RuntimeError at the NaN batch and no other callback's on_train_end
    runs. minirnn does the same; as without raise_error, the weights and optimizer state are those of the last
    finite step (Keras's would already hold the NaN update), the cause is the TrainingDivergedError."""
    rng = np.random.default_rng(15)
    x, y = diverging_data(rng)
    keras.utils.set_random_seed(0)
    km = keras.Sequential([keras.Input((5, 2)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    km.compile(keras.optimizers.SGD(1e6), "mse")
    k_rec = KerasEndRecorder()
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
        km.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0,
               callbacks=[keras.callbacks.TerminateOnNaN(raise_error=True), k_rec])
    assert not k_rec.ended

    def fresh():
        model = Sequential([LSTM(4, input_shape=(5, 2), seed=0), Dense(1, seed=1)])
        model.compile(SGD(1e6), "mse")
        return model

    graceful = fresh()
    graceful.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    model, rec = fresh(), EndRecorder()
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at epoch 1, batch \d+\. Loss value: nan"
                       ) as info:
        model.fit(x, y, epochs=5, batch_size=4, shuffle=False, verbose=0,
                  callbacks=[TerminateOnNaN(raise_error=True), rec])
    assert type(info.value) is RuntimeError and isinstance(info.value.__cause__, TrainingDivergedError)
    assert not rec.ended and rec.epochs_ended == 0  # raised at once: no cleanup hooks, as Keras's docstring says
    assert model.history.epoch == []
    assert all(np.isfinite(w).all() for w in model.get_weights())
    for a, b in zip(model.get_weights(), graceful.get_weights()):  # the graceful stop's state: last finite step
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == graceful.optimizer.iterations > 0
