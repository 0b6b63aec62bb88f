"""Wrappers: a stateful Bidirectional reports ``stateful`` and forgets both directions' states on reset_states,
so that ``Sequential.reset_states`` (and gradcheck's per-probe reset) reach the wrapped layers; a wrapper of
another dtype than its wrapped layers keeps their weights' precision and rounds as Keras does."""

import numpy as np

from minirnn import Sequential
from minirnn.gradcheck import check_layer
from minirnn.layers import GRU, Bidirectional, Dense, TimeDistributed


def test_sequential_reset_states_reaches_a_stateful_bidirectional(rng):
    model = Sequential([Bidirectional(GRU(3, stateful=True, return_sequences=True, seed=0), input_shape=(4, 2)),
                        Dense(1, seed=1)])
    bi = model.layers[0]
    assert bi.stateful and not Bidirectional(GRU(3)).stateful
    x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    first = model.predict(x)
    assert bi.forward_layer.states is not None and bi.backward_layer.states is not None
    assert np.abs(model.predict(x) - first).max() > 1e-4  # the carried states matter
    model.reset_states()
    assert bi.forward_layer.states is None and bi.backward_layer.states is None
    np.testing.assert_array_equal(model.predict(x), first)


def test_gradcheck_of_a_stateful_bidirectional(rng):
    layer = Bidirectional(GRU(3, stateful=True, return_sequences=True, seed=0, dtype="float64"), merge_mode="ave")
    report = check_layer(layer, rng.standard_normal((2, 4, 2)))
    assert report.passed, report


def test_wrappers_of_another_dtype_keep_the_wrapped_weights_precision_and_merge_in_their_own(rng):
    """A float32 wrapper around float64 layers (Keras allows it): weights are stored at the wrapped layers'
    precision, the merge runs in the wrapper's dtype (Keras casts both directions' outputs to it), and so
    do the input gradients."""
    bi = Bidirectional(GRU(3, return_sequences=True, seed=0, dtype="float64"), merge_mode="mul", dtype="float32")
    x = rng.standard_normal((2, 4, 2))
    bi.build(x.shape[1:])
    weights = [rng.standard_normal(w.shape) for w in bi.get_weights()]
    bi.set_weights(weights)
    assert all(w.dtype == np.float64 and np.array_equal(w, v) for w, v in zip(bi.get_weights(), weights))
    y, cache = bi.forward(x.astype(np.float32))
    assert y.dtype == np.float32
    assert bi.backward(cache, np.ones_like(y)).dx.dtype == np.float32
    td = TimeDistributed(Dense(2, seed=0, dtype="float64"), dtype="float32")
    td.build(x.shape[1:])
    y, cache = td.forward(x.astype(np.float32))
    assert td.backward(cache, np.ones_like(y)).dx.dtype == np.float32
