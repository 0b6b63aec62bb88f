"""What a Keras user reaches for first: softmax Dense (VJP backward, float64 gradient checks), recurrent layers
refusing softmax, crossentropies from the output logits, no stray NumPy warnings on divergence, unknown and
unimplemented keywords refused, submodules as attributes."""

import warnings

import numpy as np
import pytest

import minirnn
from minirnn import Sequential
from minirnn.activations import softmax, softmax_vjp
from minirnn.checking.gradcheck import check_layer, check_model
from minirnn.layers import GRU, LSTM, Dense, SimpleRNN, TimeDistributed
from minirnn.model import TrainingDivergedError
from minirnn.training.optimizers import SGD


def test_softmax_rows_sum_to_one_and_survive_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]])
    y = softmax(z)
    assert np.isfinite(y).all() and np.allclose(y.sum(axis=-1), 1, atol=1e-15)
    assert y[0, 0] == 1.0 and np.allclose(y[1], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum(), rtol=1e-15)


def test_softmax_vjp_equals_the_full_jacobian_product():
    rng = np.random.default_rng(0)
    y = softmax(rng.standard_normal((4, 5)))
    dy = rng.standard_normal((4, 5))
    jac = np.einsum("bi,ij->bij", y, np.eye(5)) - np.einsum("bi,bj->bij", y, y)   # dy_i/dz_j
    assert np.abs(softmax_vjp(y, dy) - np.einsum("bi,bij->bj", dy, jac)).max() < 1e-15


@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
@pytest.mark.parametrize("shape", [(4, 6), (3, 5, 6)], ids=["2d", "3d"])
def test_softmax_and_sigmoid_dense_backward_gradient_checks(activation, shape):
    x = np.random.default_rng(1).standard_normal(shape)
    report = check_layer(Dense(4, activation, seed=0), x)
    assert report.passed, report
    assert {c.name for c in report.checks} == {"x", "kernel", "bias"}


def test_time_distributed_softmax_dense_gradient_checks():
    x = np.random.default_rng(2).standard_normal((3, 5, 6))
    report = check_layer(TimeDistributed(Dense(4, "softmax", seed=0)), x)
    assert report.passed, report


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "categorical_crossentropy",
                                  "binary_crossentropy", "mse"])
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_models_ending_in_softmax_or_sigmoid_gradient_check(loss, activation):
    rng = np.random.default_rng(3)
    model = Sequential([LSTM(4, return_sequences=True, input_shape=(5, 2), seed=0), Dense(3, activation, seed=1)])
    model.compile("sgd", loss)
    ids = rng.integers(0, 3, (3, 5))
    y = ids if loss.startswith("sparse") else np.eye(3)[ids]
    report = check_model(model, rng.standard_normal((3, 5, 2)), y)
    assert report.passed, report


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_recurrent_layers_refuse_softmax_with_a_clear_message(cls):
    with pytest.raises(ValueError, match="'softmax' is not element-wise.*Dense accepts it"):
        cls(3, activation="softmax")
    if cls is not SimpleRNN:
        with pytest.raises(ValueError, match="not element-wise"):
            cls(3, recurrent_activation="softmax")


def test_softmax_dense_trains_and_saves(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(axis=1) > 0).astype(int) + (x[:, :, 1].sum(axis=1) > 0)
    model = Sequential([LSTM(8, input_shape=(6, 2), seed=0), Dense(3, activation="softmax", seed=1)])
    model.compile(minirnn.optimizers.Adam(0.02), "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0, seed=0)
    assert hist.history["loss"][-1] < 0.7 * hist.history["loss"][0], hist.history["loss"]
    p = model.predict(x)
    assert np.allclose(p.sum(axis=-1), 1, atol=1e-6)
    model.save(tmp_path / "m.minirnn")
    again = minirnn.load_model(tmp_path / "m.minirnn")
    assert again.layers[-1].activation == "softmax" and np.array_equal(again.predict(x), p)


def test_saturated_sigmoid_output_trains_from_the_logits():
    """Clipped probabilities give a saturated wrong prediction zero gradient; Keras (and minirnn) use the
    logits, so the gradient is the full sigmoid(z) - t = 1 per entry and training moves."""
    model = Sequential([Dense(1, "sigmoid", input_shape=(1,), seed=0, dtype="float64")])
    model.compile("sgd", "binary_crossentropy")
    model.set_weights([np.array([[50.0]]), np.array([0.0])])
    x, y = np.ones((4, 1)), np.zeros((4, 1))
    loss, grads = model.loss_and_gradients(x, y)
    assert abs(loss - 50.0) < 1e-12           # max(z, 0) - z t + log(1 + exp(-|z|)) = 50 + 2e-22
    assert abs(grads[0][0, 0] - 1.0) < 1e-12  # mean over the batch of (sigmoid(50) - 0) * x


# -- divergence: one clear error, no NumPy RuntimeWarnings -------------------------------------------------------

def diverging_model():
    model = Sequential([LSTM(8, activation="relu", input_shape=(5, 1), seed=0), Dense(1, seed=0)])
    model.compile(SGD(learning_rate=1e12), "mse")
    return model


def test_divergence_raises_once_without_runtime_warnings():
    x = np.abs(np.random.default_rng(5).standard_normal((16, 5, 1))) * 1e3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TrainingDivergedError, match="epoch"):
            diverging_model().fit(x, np.ones((16, 1)) * 1e3, epochs=20, batch_size=4, verbose=0, seed=0)
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert runtime == [], [str(w.message) for w in runtime]


# -- keywords: unknown ones listed, Keras options minirnn does not implement refused --------------------------

@pytest.mark.parametrize("make, option", [
    (lambda: LSTM(3, recurrent_regularizer="l2"), "recurrent_regularizer"),
    (lambda: LSTM(3, unroll=True), "unroll"),
    (lambda: GRU(3, use_cudnn=False), "use_cudnn"),
    (lambda: SimpleRNN(3, kernel_constraint="max_norm"), "kernel_constraint"),
    (lambda: Dense(3, activity_regularizer="l1"), "activity_regularizer"),
    (lambda: Dense(3, kernel_regularizer="l2"), "kernel_regularizer"),
    (lambda: LSTM(3, implementation=1), "implementation"),
])
def test_unimplemented_keras_options_are_refused_naming_layer_and_option(make, option):
    with pytest.raises(TypeError, match=rf"^(LSTM|GRU|SimpleRNN|Dense) does not implement Keras's option "
                                        rf"{option!r}") as info:
        make()
    assert "accepted" in str(info.value)


def test_an_unknown_keyword_lists_the_accepted_ones():
    with pytest.raises(TypeError, match="LSTM got an unexpected keyword argument 'retrun_sequences'") as info:
        LSTM(3, retrun_sequences=True)
    for name in ("return_sequences", "dropout", "stateful", "go_backwards", "unit_forget_bias", "input_shape",
                 "seed"):
        assert name in str(info.value)


def test_submodules_are_attributes_of_the_package():
    for name in ("diagnostics", "gradcheck", "inspection", "datasets", "testing", "plot", "interop"):
        module = getattr(minirnn, name)
        assert module.__name__.startswith("minirnn."), name
