"""Keras's mask semantics at a recurrent layer's output (confirmed against Keras 3.15 in
tests/test_parity_tf_options.py): the mask passed on by a go_backwards layer is the input's, not
reversed, and with zero_output_for_mask the last output is the last step's masked output (zeros when
that step is padding) even without return_sequences. Gradients: float64 finite differences.
"""

import numpy as np
import pytest

from minirnn import Sequential
from minirnn.gradcheck import check_model, numerical_gradient, relative_error
from minirnn.layers import GRU, LSTM, Dense, Masking, SimpleRNN

F64 = {"dtype": "float64"}


def _padded(rng, B=3, T=5, D=2):
    x = rng.standard_normal((B, T, D))
    x[0, 3:] = 0.0   # the last steps are padding
    x[1, 1] = 0.0    # a hole in the middle
    return x


@pytest.mark.parametrize("go_backwards", [False, True])
def test_go_backwards_passes_the_input_mask_on_unreversed(go_backwards, rng):
    x = _padded(rng)
    mask = Masking(0.0).compute_mask(x, None)
    layer = LSTM(3, return_sequences=True, go_backwards=go_backwards, seed=0)
    assert np.array_equal(layer.compute_mask(x, mask), mask)
    assert LSTM(3, go_backwards=go_backwards).compute_mask(x, mask) is None


@pytest.mark.parametrize("go_backwards", [False, True])
def test_zero_output_for_mask_zeroes_the_last_output_of_a_padded_last_step(go_backwards, rng):
    x = _padded(rng)
    model = Sequential([Masking(0.0, input_shape=x.shape[1:], **F64),
                        GRU(3, zero_output_for_mask=True, go_backwards=go_backwards, seed=0, **F64)])
    carried = Sequential([Masking(0.0, input_shape=x.shape[1:], **F64),
                          GRU(3, go_backwards=go_backwards, seed=0, **F64)])
    out, ref = model.predict(x), carried.predict(x)
    last_is_padding = ~Masking(0.0).compute_mask(x, None)[:, 0 if go_backwards else -1]
    assert last_is_padding.any() == (not go_backwards)
    assert not out[last_is_padding].any()
    np.testing.assert_array_equal(out[~last_is_padding], ref[~last_is_padding])


@pytest.mark.parametrize("layer", [
    lambda: GRU(3, zero_output_for_mask=True, seed=1, **F64),
    lambda: SimpleRNN(3, zero_output_for_mask=True, seed=1, **F64),
    lambda: LSTM(3, go_backwards=True, return_sequences=True, seed=1, **F64),
])
def test_masked_models_gradients(layer, rng):
    x = _padded(rng)
    rnn = layer()
    model = Sequential([Masking(0.0, input_shape=x.shape[1:], **F64), rnn, Dense(2, seed=2, **F64)])
    for w in model.weights:
        if w.ndim == 1:
            w[...] = 0.5 * rng.standard_normal(w.shape)
    model.compile("sgd", "mse")
    y = rng.standard_normal((len(x), *model.output_shape()))
    report = check_model(model, x, y, input_gradient=False)
    assert report.passed, report


@pytest.mark.parametrize("return_sequences", [True, False])
def test_outputs_before_the_first_real_step_are_zeros_whatever_the_initial_state(return_sequences, rng):
    """Keras's output at a padded step is the previous output, and there is none before the first real
    step: zeros, even when a stateful layer (or initial_state) starts from a nonzero state."""
    x = rng.standard_normal((3, 4, 2))
    x[0, :2] = 0.0  # leading padding
    x[1] = 0.0      # nothing real at all
    mask = Masking(0.0).compute_mask(x, None)
    layer = LSTM(3, return_sequences=return_sequences, seed=0, **F64)
    h0 = [rng.standard_normal((3, 3)), rng.standard_normal((3, 3))]
    y, cache = layer.forward(layer.prepare_input(x), mask=mask, initial_state=h0)
    if return_sequences:
        assert not y[0, :2].any() and y[0, 2:].all() and not y[1].any() and y[2].all()
    else:
        assert y[0].all() and not y[1].any() and y[2].all()

    def loss():
        out, _ = layer.forward(x, mask=mask, initial_state=h0)
        return float(np.sum(np.sin(out)))

    g = layer.backward(cache, np.cos(y))
    for name, w in layer.params.items():
        assert relative_error(g.params[name], numerical_gradient(loss, w)) < 1e-7, name
    for s, ds in zip(h0, g.initial_state):
        assert relative_error(ds, numerical_gradient(loss, s)) < 1e-7
