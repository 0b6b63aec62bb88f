"""Embedding and Input: Keras's layout and initializer, the scatter-add gradient (float64 checks), integer ids
reaching the layer as integers, mask_zero through an LSTM against Keras, Input(shape) in a Sequential."""

import os

import numpy as np
import pytest

import minirnn
from minirnn import Sequential
from minirnn.checking.gradcheck import check_model, relative_error
from minirnn.layers import LSTM, Dense, Embedding, Input

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def ids(rng, shape=(4, 7), vocab=12, pad_from=None):
    x = rng.integers(1, vocab, shape)
    if pad_from is not None:
        for row, start in enumerate(pad_from):
            x[row, start:] = 0
    return x


def test_lookup_layout_and_keras_uniform_initializer():
    emb = Embedding(1000, 64, seed=0)
    x = np.array([[3, 3, 999], [0, 1, 2]])
    y = emb(x)
    table = emb.get_weights()[0]
    assert table.shape == (1000, 64) and table.dtype == np.float32 and y.shape == (2, 3, 64)
    assert np.array_equal(y[0, 0], table[3]) and np.array_equal(y[0, 2], table[999])
    assert -0.05 <= table.min() < -0.049 and 0.049 < table.max() <= 0.05   # U(-0.05, 0.05), Keras's 'uniform'
    assert abs(table.mean()) < 2e-3                                          # 64000 draws: sd of mean 1.1e-4


def test_backward_is_a_scatter_add():
    rng = np.random.default_rng(0)
    emb = Embedding(5, 3, seed=0, dtype="float64")
    x = emb.prepare_input(np.array([[1, 1, 4], [1, 0, 4]]))
    _, cache = emb.forward(x)
    dy = rng.standard_normal((2, 3, 3))
    g = emb.backward(cache, dy)
    assert g.dx is None
    expected = np.zeros((5, 3))
    expected[1] = dy[0, 0] + dy[0, 1] + dy[1, 0]   # a repeated token sums its rows' gradients
    expected[4] = dy[0, 2] + dy[1, 2]
    expected[0] = dy[1, 1]
    assert np.abs(g.params["embeddings"] - expected).max() < 1e-15


def test_model_starting_with_embedding_gradient_checks_without_an_input_row():
    rng = np.random.default_rng(1)
    model = Sequential([Embedding(12, 4, mask_zero=True, seed=0), LSTM(3, seed=1), Dense(2, seed=2)])
    model.compile("sgd", "mse")
    x = ids(rng, pad_from=[7, 5, 3, 6])
    report = check_model(model, x, rng.standard_normal((4, 2)))
    assert report.passed, report
    names = [c.name for c in report.checks]
    assert "x" not in names and names[0] == "embedding.embeddings"
    assert "integer token ids" in str(report)


def test_integer_ids_reach_embedding_as_integers():
    model = Sequential([Embedding(2**25, 2, seed=0)])  # ids above 2**24 are not exact in float32
    model.compile("sgd", "mse")
    big = np.array([[2**24 + 1, 2**24 + 3]])
    out = model.predict(big)
    table = model.layers[0].params["embeddings"]
    assert np.array_equal(out[0], table[[2**24 + 1, 2**24 + 3]])
    assert not np.array_equal(table[2**24 + 1], table[2**24])   # float32 would have rounded 2**24 + 1 to 2**24


@pytest.mark.parametrize("x, error, match", [
    (np.array([[1, 12]]), ValueError, r"token ids must be in \[0, input_dim=12\).*1 to 12"),
    (np.array([[1, -1]]), ValueError, r"\[0, input_dim=12\)"),
    (np.array([[1.5, 2.0]]), ValueError, "integer token ids"),
    (np.array([["a", "b"]]), TypeError, "integer token ids"),
])
def test_bad_ids_are_refused_before_any_step(x, error, match):
    model = Sequential([Embedding(12, 3, seed=0), LSTM(2, seed=0)])
    model.compile("sgd", "mse")
    with pytest.raises(error, match=match):
        model.fit(x, np.zeros((1, 2)), verbose=0)
    assert not model.built or model.optimizer.iterations == 0


def test_embedding_must_be_first_and_takes_whole_float_ids():
    with pytest.raises(ValueError, match="must be the model's first layer"):
        Sequential([Dense(2, input_shape=(3,)), Embedding(4, 2)])
    model = Sequential([Embedding(6, 2, seed=0)])
    assert np.array_equal(model.predict(np.array([[1.0, 5.0]])), model.predict(np.array([[1, 5]])))


def test_input_gives_the_shape_and_is_not_a_layer(tmp_path):
    model = Sequential([Input(shape=(10, 1)), LSTM(4, seed=0), Dense(1, seed=0)])
    assert model.built and len(model.layers) == 2 and model.layers[0].built_input_shape == (10, 1)
    model.compile("adam", "mse")
    x = np.random.default_rng(2).standard_normal((6, 10, 1))
    model.save(tmp_path / "m.minirnn")
    assert np.array_equal(minirnn.load_model(tmp_path / "m.minirnn").predict(x), model.predict(x))
    text = Sequential([Input(shape=(None,), dtype="int32"), Embedding(9, 3, seed=0), LSTM(2, seed=0)])
    assert text.built and text.predict(np.array([[1, 2, 3, 4, 5]])).shape == (1, 2)
    with pytest.raises(ValueError, match="Input"):
        Sequential([Dense(1, input_shape=(2,)), Input(shape=(2,))])
    with pytest.raises(TypeError, match="Input shape"):
        Input(shape=5)


def test_embedding_config_save_and_unknown_keywords(tmp_path):
    model = Sequential([Embedding(9, 3, mask_zero=True, seed=0), LSTM(2, seed=0)])
    model.compile("adam", "mse")
    x = np.array([[1, 2, 0, 0], [3, 4, 5, 0]])
    model.fit(x, np.zeros((2, 2)), verbose=0, seed=0)
    model.save(tmp_path / "e.minirnn")
    again = minirnn.load_model(tmp_path / "e.minirnn")
    assert again.layers[0].mask_zero and np.array_equal(again.predict(x), model.predict(x))
    with pytest.raises(TypeError, match="Embedding does not implement Keras's option 'embeddings_regularizer'"):
        Embedding(9, 3, embeddings_regularizer="l2")
    with pytest.raises(TypeError, match="Embedding got an unexpected keyword argument 'input_length'.*mask_zero"):
        Embedding(9, 3, input_length=4)


# -- parity with Keras --------------------------------------------------------------------------------------

def test_mask_zero_through_lstm_matches_keras():
    tf = pytest.importorskip("tensorflow")  # noqa: F841
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(3)
    keras.utils.set_random_seed(3)
    km = keras.Sequential([keras.Input((7,), dtype="int32"),
                           keras.layers.Embedding(12, 4, mask_zero=True, dtype="float64"),
                           keras.layers.LSTM(5, return_sequences=True, dtype="float64"),
                           keras.layers.LSTM(3, dtype="float64"), keras.layers.Dense(2, dtype="float64")])
    for w in km.weights:
        if w.name == "bias":
            w.assign(rng.standard_normal(w.shape) * 0.5)
    model = Sequential([Embedding(12, 4, mask_zero=True, dtype="float64"),
                        LSTM(5, return_sequences=True, dtype="float64"), LSTM(3, dtype="float64"),
                        Dense(2, dtype="float64")])
    model.compile("sgd", "mse")
    model.build((7,))
    model.set_weights(km.get_weights())
    x = ids(rng, pad_from=[7, 2, 5, 4]).astype(np.int32)
    y = rng.standard_normal((4, 2))
    assert relative_error(model.predict(x), km(x).numpy()) < 1e-10
    xt, yt = tf.constant(x), tf.constant(y)
    with tf.GradientTape() as tape:
        value = keras.losses.MeanSquaredError(dtype="float64")(yt, km(xt))
    k_grads = tape.gradient(value, km.trainable_weights)
    loss, grads = model.loss_and_gradients(x, y)
    assert relative_error(np.array(loss), np.array(float(value))) < 1e-10
    k_table = tf.convert_to_tensor(k_grads[0]).numpy()  # IndexedSlices -> the dense (12, 4) table
    assert relative_error(grads[0], k_table) < 1e-10
    for a, b in zip(grads[1:], k_grads[1:]):
        assert relative_error(a, b.numpy()) < 1e-10
    assert np.abs(grads[0][0]).max() == 0   # the padding id's row gets no gradient through the masked LSTM
