"""A catalogue of bad inputs across the API. Each must raise ValueError or TypeError naming the argument and
showing what was expected and received, and leave the model untouched (weights, optimizer state, generators).
Then Hypothesis fuzzing of fit and predict with arbitrary shapes and dtypes."""

import os
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirnn import Sequential
from minirnn.datasets import make_windows
from minirnn.gradcheck import numerical_gradient
from minirnn.layers import GRU, LSTM, Bidirectional, Dense, Dropout, Masking, SimpleRNN
from minirnn.losses import MeanSquaredError, ShapeBroadcastWarning
from minirnn.optimizers import SGD, Adam, RMSprop

N = 12


def founding(compiled=True):
    model = Sequential([LSTM(5, activation="relu", input_shape=(10, 1), seed=0, dropout=0.1), Dropout(0.2, seed=1),
                        Dense(1, seed=2)])
    if compiled:
        model.compile("adam", "mse")
    return model


def data(n=N, t=10, d=1):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, t, d)).astype(np.float32), rng.standard_normal((n, 1)).astype(np.float32)


X, Y = data()


def with_nan(a, value=np.nan):
    a = a.copy()
    a.flat[3] = value
    return a


def snapshot(model):
    """Everything that must not change: weights, optimizer state, every generator's state."""
    gens = []
    for layer in model.layers:
        for attr in ("_mask_rng", "_own_rng"):
            g = getattr(layer, attr, None)
            if g is not None:
                gens.append(repr(g.bit_generator.state))
    opt = None
    if model.optimizer is not None:
        st_ = model.optimizer.get_state()
        opt = (st_["iterations"], {k: [a.copy() for a in v] for k, v in st_.items() if k != "iterations"})
    return [w.copy() for w in model.weights], opt, gens


def assert_same(before, after):
    (w0, o0, g0), (w1, o1, g1) = before, after
    assert len(w0) == len(w1)
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    assert g0 == g1
    if o0 is None:
        assert o1 is None
    else:
        assert o0[0] == o1[0]
        for k in o0[1]:
            for a, b in zip(o0[1][k], o1[1][k]):
                np.testing.assert_array_equal(a, b)


def trained():
    """A compiled model whose optimizer already holds state, so that a change would show."""
    model = founding()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShapeBroadcastWarning)
        model.fit(X, Y, epochs=1, batch_size=6, verbose=0, seed=0)
    return model


# (id, action on a trained model, exception type, message fragment)
MODEL_CASES = [
    ("x rank 2", lambda m: m.fit(X[:, :, 0], Y, verbose=0), ValueError, "shape"),
    ("x rank 4", lambda m: m.predict(X[..., None]), ValueError, "(12, 10, 1, 1)"),
    ("x features", lambda m: m.fit(data(d=3)[0], Y, verbose=0), ValueError, "(batch, 10, 1)"),
    ("x/y lengths", lambda m: m.fit(X, Y[:5], verbose=0), ValueError, "same number of samples"),
    ("y incompatible", lambda m: m.fit(X, np.zeros((N, 2, 3)), verbose=0), ValueError, "do not broadcast"),
    ("x object", lambda m: m.fit(X.astype(object), Y, verbose=0), TypeError, "numeric"),
    ("x strings", lambda m: m.predict(np.full((2, 10, 1), "a")), TypeError, "numeric"),
    ("x complex", lambda m: m.predict(X.astype(complex)), TypeError, "real"),
    ("y object", lambda m: m.fit(X, Y.astype(object), verbose=0), TypeError, "numeric"),
    ("x NaN", lambda m: m.fit(with_nan(X), Y, verbose=0), ValueError, "NaN"),
    ("x Inf", lambda m: m.predict(with_nan(X, np.inf)), ValueError, "Inf"),
    ("y NaN", lambda m: m.fit(X, with_nan(Y), verbose=0), ValueError, "NaN"),
    ("y Inf evaluate", lambda m: m.evaluate(X, with_nan(Y, -np.inf)), ValueError, "Inf"),
    ("x empty", lambda m: m.fit(X[:0], Y[:0], verbose=0), ValueError, "empty"),
    ("zero time steps", lambda m: m.predict(X[:, :0]), ValueError, "time steps"),
    ("epochs 0", lambda m: m.fit(X, Y, epochs=0, verbose=0), ValueError, "epochs"),
    ("epochs float", lambda m: m.fit(X, Y, epochs=1.5, verbose=0), TypeError, "epochs"),
    ("batch_size 0", lambda m: m.fit(X, Y, batch_size=0, verbose=0), ValueError, "batch_size"),
    ("batch_size str", lambda m: m.predict(X, batch_size="32"), TypeError, "batch_size"),
    ("validation_split 1", lambda m: m.fit(X, Y, validation_split=1.0, verbose=0), ValueError, "validation_split"),
    ("validation_split negative", lambda m: m.fit(X, Y, validation_split=-0.1, verbose=0), ValueError,
     "validation_split"),
    ("validation_split too small", lambda m: m.fit(X[:2], Y[:2], validation_split=0.6, verbose=0), ValueError,
     "validation"),
    ("validation_data shape", lambda m: m.fit(X, Y, validation_data=(X,), verbose=0), ValueError, "validation_data"),
    ("validation_data features", lambda m: m.fit(X, Y, validation_data=(data(d=2)[0], Y), verbose=0), ValueError,
     "validation x"),
    ("evaluate lengths", lambda m: m.evaluate(X, Y[:3]), ValueError, "same number of samples"),
    ("train_on_batch NaN", lambda m: m.train_on_batch(with_nan(X), Y), ValueError, "NaN"),
    ("set_weights count", lambda m: m.set_weights(m.get_weights()[:-1]), ValueError, "expects 5 arrays"),
    ("set_weights shape", lambda m: m.set_weights(m.get_weights()[:-1] + [np.zeros(3)]), ValueError, "shape (1,)"),
    ("set_weights dtype", lambda m: m.set_weights([w.astype(object) for w in m.get_weights()]), TypeError, "numeric"),
    ("set_weights strings", lambda m: m.set_weights([np.full(w.shape, "x") for w in m.get_weights()]), TypeError,
     "numeric"),
    ("initial_state shape", lambda m: m.layers[0](X, initial_state=[np.zeros((N, 4)), np.zeros((N, 5))]),
     ValueError, "(12, 5)"),
    ("initial_state count", lambda m: m.layers[0](X, initial_state=[np.zeros((N, 5))]), ValueError, "2 arrays"),
    ("add non-layer", lambda m: m.add("dense"), TypeError, "Layer"),
    ("add return_state", lambda m: m.add(LSTM(2, return_state=True)), ValueError, "return_state"),
    ("loss shapes", lambda m: m.loss_and_gradients(X, np.zeros((N, 4, 3))), ValueError, "broadcast"),
    # issue 15: what made training silently wrong
    ("y complex", lambda m: m.fit(X, Y.astype(complex), verbose=0), TypeError, "y must be real"),
    ("x masked array", lambda m: m.predict(np.ma.masked_array(X, mask=X > 1)), TypeError, "x is a NumPy masked"),
    ("y masked array", lambda m: m.fit(X, np.ma.masked_array(Y, mask=Y > 0), verbose=0), TypeError,
     "y is a NumPy masked"),
    ("sample_weight masked array", lambda m: m.fit(X, Y, sample_weight=np.ma.masked_array(np.ones(N), np.arange(N) > 5),
                                                   verbose=0), TypeError, "sample_weight is a NumPy masked array"),
    ("validation y masked array", lambda m: m.fit(X, Y, validation_data=(X, np.ma.masked_array(Y, mask=Y > 0)),
                                                  verbose=0), TypeError, "validation y is a NumPy masked array"),
    ("token ids masked array", lambda m: _embedding_model().predict(np.ma.masked_array(np.ones((2, 3), int))),
     TypeError, "x is a NumPy masked array"),
    ("set_weights NaN", lambda m: m.set_weights([with_nan(w) if w.size > 3 else w for w in m.get_weights()]),
     ValueError, "contains NaN or Inf"),
    ("set_weights overflow", lambda m: m.set_weights([np.full(w.shape, 1e39) for w in m.get_weights()]),
     ValueError, "overflow float32 (largest magnitude 1e+39"),
    ("layer set_weights Inf", lambda m: m.layers[2].set_weights([np.full((5, 1), np.inf), np.zeros(1)]),
     ValueError, "Dense layer 'dense' weight 'kernel' contains NaN or Inf"),
    ("optimizer of another model", lambda m: Sequential([Dense(1)]).compile(m.optimizer, "mse"), ValueError,
     "already compiled into model 'sequential'"),
    ("load a CSV", lambda m: _load_text_file(), ValueError, "not a minirnn model file"),
    ("save over a FIFO", lambda m: m.save(_fifo()), ValueError, "not a regular file"),
]


def _embedding_model():
    from minirnn.layers import Embedding

    return Sequential([Embedding(5, 2, input_shape=(3,), seed=0), SimpleRNN(2, seed=1)])


def _load_text_file():
    import tempfile

    from minirnn import load_model

    path = os.path.join(tempfile.mkdtemp(), "data.csv")
    with open(path, "w") as f:
        f.write("a,b\n1,2\n")
    load_model(path)


def _fifo():
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "model.npz")
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_bad_model_input(case):
    _, action, exc, fragment = case
    model = trained()
    layers_before = list(model.layers)
    before = snapshot(model)
    with pytest.raises(exc) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShapeBroadcastWarning)
            action(model)
    assert fragment in str(info.value), str(info.value)
    assert model.layers == layers_before
    assert_same(before, snapshot(model))


# (id, action, exception type, message fragment) for construction and configuration
BUILD_CASES = [
    ("units 0", lambda: LSTM(0), ValueError, "units"),
    ("units float", lambda: SimpleRNN(2.5), TypeError, "units"),
    ("units bool", lambda: GRU(True), TypeError, "units"),
    ("dense units negative", lambda: Dense(-1), ValueError, "units"),
    ("dropout rate 1", lambda: Dropout(1.0), ValueError, "[0, 1)"),
    ("dropout rate negative", lambda: Dropout(-0.1), ValueError, "rate"),
    ("rnn dropout", lambda: LSTM(3, dropout=1.5), ValueError, "dropout"),
    ("rnn recurrent_dropout", lambda: GRU(3, recurrent_dropout=-1), ValueError, "recurrent_dropout"),
    ("unknown activation", lambda: LSTM(3, activation="relu6"), ValueError, "'tanh'"),
    ("activation type", lambda: Dense(3, activation=3), TypeError, "activation"),
    ("unknown initializer", lambda: Dense(2, kernel_initializer="he_normal"), ValueError, "glorot_uniform"),
    ("int dtype", lambda: LSTM(3, dtype="int32"), ValueError, "float32"),
    ("input_shape 0", lambda: LSTM(3, input_shape=(10, 0)), ValueError, "input_shape"),
    ("bidirectional non-rnn", lambda: Bidirectional(Dense(2)), TypeError, "recurrent"),
    ("bidirectional merge", lambda: Bidirectional(LSTM(2), merge_mode="max"), ValueError, "merge_mode"),
    ("masking value", lambda: Masking("a"), TypeError, "mask_value"),
    ("unknown loss", lambda: Sequential([Dense(1)]).compile("adam", "cross"), ValueError, "'mse'"),
    ("unknown optimizer", lambda: Sequential([Dense(1)]).compile("adamax", "mse"), ValueError, "'adam'"),
    ("fit before compile", lambda: founding(compiled=False).fit(X, Y, verbose=0), ValueError, "compile"),
    ("conflicting clipping", lambda: Adam(clipnorm=1.0, clipvalue=1.0), ValueError, "only one of"),
    ("negative learning rate", lambda: Adam(learning_rate=-1), ValueError, "learning_rate"),
    ("beta_1 1", lambda: Adam(beta_1=1.0), ValueError, "beta_1"),
    ("momentum 2", lambda: SGD(momentum=2), ValueError, "momentum"),
    ("clipnorm 0", lambda: Adam(clipnorm=0), ValueError, "clipnorm must be a finite number > 0"),
    ("clipvalue 0", lambda: SGD(clipvalue=0.0), ValueError, "clipvalue must be a finite number > 0"),
    ("global_clipnorm 0", lambda: Adam(global_clipnorm=0), ValueError, "global_clipnorm must be"),
    ("adam epsilon 0", lambda: Adam(epsilon=0), ValueError, "epsilon must be a finite number > 0"),
    ("rmsprop epsilon 0", lambda: RMSprop(epsilon=0.0), ValueError, "epsilon must be a finite number > 0"),
    ("summary unbuilt", lambda: Sequential([Dense(1)]).summary(), ValueError, "not built"),
    ("stateful batch change", lambda: _stateful_batch_change(), ValueError, "reset_states"),
    ("make_windows lookback 0", lambda: make_windows(np.arange(10.0), 0), ValueError, "lookback"),
    ("gradcheck int array", lambda: numerical_gradient(lambda: 0.0, np.arange(3)), TypeError, "floating"),
    ("loss object targets", lambda: MeanSquaredError()(np.array([None, 1]), np.zeros(2)), TypeError, "numeric"),
]


def _stateful_batch_change():
    layer = LSTM(2, stateful=True, seed=0)
    layer(np.zeros((3, 4, 1)))
    layer(np.zeros((2, 4, 1)))


@pytest.mark.parametrize("case", BUILD_CASES, ids=[c[0] for c in BUILD_CASES])
def test_bad_construction(case):
    _, action, exc, fragment = case
    with pytest.raises(exc) as info:
        action()
    assert fragment in str(info.value), str(info.value)


def test_catalogue_size():
    assert len(MODEL_CASES) + len(BUILD_CASES) >= 40


# -- fuzzing: arbitrary shapes and dtypes give success or a clear ValueError/TypeError, nothing else -------
DTYPES = st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.bool_, np.complex64, object, np.str_])
SHAPES = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)


def _array(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(shape) if shape else rng.standard_normal()
    if dtype is np.str_:
        return np.asarray(base).astype(str)
    return np.asarray(base).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(x_shape=SHAPES, y_shape=SHAPES, x_dtype=DTYPES, y_dtype=DTYPES, seed=st.integers(0, 3))
def test_fuzz_fit_and_predict(x_shape, y_shape, x_dtype, y_dtype, seed):
    model = Sequential([SimpleRNN(2, input_shape=(3, 2), seed=0), Dense(1, seed=1)])
    model.compile("sgd", "mse")
    x, y = _array(x_shape, x_dtype, seed), _array(y_shape, y_dtype, seed + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (lambda: model.predict(x), lambda: model.fit(x, y, epochs=1, verbose=0, seed=0)):
            try:
                call()
            except (ValueError, TypeError) as e:
                assert str(e)  # a message, not a bare exception


def test_exploding_relu_lstm_is_reported_not_returned_as_inf():
    from minirnn import NonFiniteOutputError

    model = Sequential([LSTM(4, activation="relu", input_shape=(300, 1), seed=0), Dense(1, seed=1)])
    w = model.get_weights()
    w[1] = np.abs(w[1]) * 3  # a recurrent kernel that makes the relu cell state grow geometrically
    w[2][:] = 5.0
    model.set_weights(w)
    x = np.full((2, 300, 1), 50.0, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy overflow warnings either: one clear error
        with pytest.raises(FloatingPointError, match="LSTM layer 'lstm' produced") as info:
            model.predict(x)
    assert isinstance(info.value, NonFiniteOutputError)


@pytest.mark.parametrize("z", [1e4, -1e4, 1e30, -1e30])
def test_activations_are_stable_at_large_inputs(z):
    from minirnn.activations import ACTIVATIONS

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for act in ACTIVATIONS.values():
            x = np.array([z], np.float32)
            y = act.forward(x, np.empty_like(x))
            assert np.isfinite(y).all() or act.name in ("linear", "relu") and not np.isfinite(z)
            if act.name in ("sigmoid", "hard_sigmoid"):
                assert y[0] == (1.0 if z > 0 else 0.0)
            if act.name == "tanh":
                assert y[0] == np.sign(z)


def _callback_list():
    from minirnn.callbacks import EarlyStopping

    return (EarlyStopping(),)


# (id, action on a compiled, unbuilt model, exception type, message fragment: the argument, what it must be,
# what it got). Every argument of fit / evaluate / predict / train_on_batch / loss_and_gradients / __call__.
UNBUILT_CASES = [
    ("x NaN", lambda m: m.fit(with_nan(X), Y, verbose=0), ValueError, "x contains NaN or Inf"),
    ("lengths", lambda m: m.fit(X, Y[:3], verbose=0), ValueError, "got 12 and 3"),
    ("y complex", lambda m: m.fit(X, Y.astype(complex), verbose=0), TypeError, "y must be real; got dtype complex"),
    ("y shape", lambda m: m.fit(X, np.zeros((N, 2, 3)), verbose=0), ValueError, "(12, 2, 3) cannot be matched"),
    ("predict NaN", lambda m: m.predict(with_nan(X)), ValueError, "x contains NaN or Inf"),
    ("evaluate NaN", lambda m: m.evaluate(X, with_nan(Y)), ValueError, "y contains NaN or Inf"),
    # rejected after the data had built the model (before: it stayed built, weights initialised)
    ("sample_weight rows", lambda m: m.fit(X, Y, sample_weight=np.ones(5), verbose=0), ValueError,
     "sample_weight must have one row per sample (12); got shape (5,)"),
    ("sample_weight NaN", lambda m: m.fit(X, Y, sample_weight=with_nan(np.ones(N)), verbose=0), ValueError,
     "sample_weight contains NaN or Inf"),
    ("sample_weight complex", lambda m: m.fit(X, Y, sample_weight=np.ones(N, complex), verbose=0), TypeError,
     "sample_weight must be a real numeric array; got dtype complex128"),
    ("sample_weight vs loss values", lambda m: m.fit(X, Y, sample_weight=np.ones((N, 3)), verbose=0), ValueError,
     "sample_weight of shape (12, 3): sample_weight/mask of shape (2, 3) cannot weight loss values of shape (2,)"),
    ("sample_weight and class_weight", lambda m: m.fit(X, Y, sample_weight=np.ones(N), class_weight={0: 1.0},
                                                       verbose=0), ValueError, "class_weight or sample_weight"),
    ("class_weight list", lambda m: m.fit(X, Y, class_weight=[1.0, 2.0], verbose=0), TypeError,
     "class_weight must be a dict {class id: weight}; got [1.0, 2.0]"),
    ("class_weight NaN", lambda m: m.fit(X, Y, class_weight={0: float("nan")}, verbose=0), ValueError,
     "class_weight[0] must be a finite number; got nan"),
    ("class_weight 3-D targets", lambda m: m.fit(X, np.zeros((N, 1, 1)), class_weight={0: 2.0}, verbose=0),
     ValueError, "class_weight needs targets of shape (N,), (N, 1) or one-hot (N, C); got (12, 1, 1)"),
    ("validation_data length", lambda m: m.fit(X, Y, validation_data=(X,), verbose=0), ValueError,
     "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val); got a tuple of 1"),
    ("validation_data type", lambda m: m.fit(X, Y, validation_data=X, verbose=0), ValueError,
     "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val); got ndarray"),
    ("validation x features", lambda m: m.fit(X, Y, validation_data=(data(d=2)[0], Y), verbose=0), ValueError,
     "validation x"),
    ("validation y NaN", lambda m: m.fit(X, Y, validation_data=(X, with_nan(Y)), verbose=0), ValueError,
     "validation y contains NaN or Inf"),
    ("validation sample_weight", lambda m: m.fit(X, Y, validation_data=(X, Y, np.ones(3)), verbose=0), ValueError,
     "validation sample_weight must have one row per sample (12); got shape (3,)"),
    ("validation_split empty", lambda m: m.fit(X[:2], Y[:2], validation_split=0.6, verbose=0), ValueError,
     "validation_split=0.6 leaves no training or no validation samples out of 2"),
    ("callbacks type", lambda m: m.fit(X, Y, callbacks=len, verbose=0), TypeError,
     "callbacks must be a list of Callback objects or functions f(epoch, logs); got builtin_function"),
    ("callbacks item", lambda m: m.fit(X, Y, callbacks=[*_callback_list(), 3], verbose=0), TypeError,
     "callbacks[1] must be a Callback or a function f(epoch, logs); got 3"),
    ("shuffle", lambda m: m.fit(X, Y, shuffle="yes", verbose=0), TypeError, "shuffle must be True or False; got 'yes'"),
    ("verbose", lambda m: m.fit(X, Y, verbose=3), ValueError, "verbose must be 0, 1, 2 or 'auto'; got 3"),
    ("seed negative", lambda m: m.fit(X, Y, verbose=0, seed=-1), ValueError,
     "seed must be None or an integer >= 0; got -1"),
    ("seed string", lambda m: m.fit(X, Y, verbose=0, seed="0"), TypeError,
     "seed must be None or an integer >= 0; got '0' of type str"),
    ("evaluate sample_weight rows", lambda m: m.evaluate(X, Y, sample_weight=np.ones(2)), ValueError,
     "sample_weight must have one row per sample (12); got shape (2,)"),
    ("evaluate sample_weight vs loss", lambda m: m.evaluate(X, Y, sample_weight=np.ones((N, 4, 1))), ValueError,
     "sample_weight of shape (12, 4, 1)"),
    ("evaluate verbose", lambda m: m.evaluate(X, Y, verbose=-1), ValueError, "verbose must be 0, 1, 2 or 'auto'"),
    ("predict verbose", lambda m: m.predict(X, verbose="quiet"), ValueError, "got 'quiet'"),
    ("train_on_batch rng", lambda m: m.train_on_batch(X, Y, rng=0), TypeError,
     "rng must be None or a numpy.random.Generator (np.random.default_rng(seed)); got 0 of type int"),
    ("loss_and_gradients rng", lambda m: m.loss_and_gradients(X, Y, training=True, rng=np.random.RandomState(0)),
     TypeError, "got RandomState"),
    ("call training", lambda m: m(X, training="yes"), TypeError, "training must be True or False; got 'yes'"),
]


@pytest.mark.parametrize("case", UNBUILT_CASES, ids=[c[0] for c in UNBUILT_CASES])
def test_rejected_arguments_leave_an_unbuilt_model_unbuilt(case):
    """Before: the data built the model (weights initialised from its shape), then sample_weight,
    class_weight, validation_data, validation_split, callbacks or seed were refused and it stayed built."""
    _, action, exc, fragment = case
    model = Sequential([Bidirectional(LSTM(3, seed=0)), Dense(1, seed=1)])
    model.compile("adam", "mse", metrics=["mae"])
    with pytest.raises(exc) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ShapeBroadcastWarning)
            action(model)
    assert fragment in str(info.value), str(info.value)
    assert not model.built and all(not layer.built and not layer.params for layer in model.layers)
    assert not model.layers[0].forward_layer.built and not model.layers[0].forward_layer.params
    assert model.optimizer.iterations == 0 and model.optimizer.slots == {}
    assert model.resolved_metrics is None
    model.fit(data(d=2)[0], Y, verbose=0)  # and it builds from the first good data
    assert model.layers[0].forward_layer.params["kernel"].shape == (2, 12)
    assert model.optimizer.iterations == 1


def test_one_optimizer_per_model_and_copies():
    import copy

    first, second = founding(compiled=False), founding(compiled=False)
    opt = Adam()
    first.compile(opt, "mse")
    first.compile(opt, "mae")  # the same model again: fine
    with pytest.raises(ValueError, match="already compiled into model"):
        second.compile(opt, "mse")
    assert second.optimizer is None  # refused before anything changed
    second.compile(copy.deepcopy(opt), "mse")  # a copy is a new, unbound optimizer
    first.compile("sgd", "mse")  # the first model lets go of it
    founding(compiled=False).compile(opt, "mse")
