"""A stateful Bidirectional reports ``stateful`` and forgets both directions' states on reset_states,
so that ``Sequential.reset_states`` (and gradcheck's per-probe reset) reach the wrapped layers."""

import numpy as np

from minirnn import Sequential
from minirnn.gradcheck import check_layer
from minirnn.layers import GRU, Bidirectional, Dense


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
