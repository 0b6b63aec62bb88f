"""minirnn against Keras (TensorFlow backend) for the recurrent options of issue 6: go_backwards,
Bidirectional (every merge mode, return_sequences on and off), Masking with variable-length sequences
(right padding, a padded step in the middle, leading padding) into LSTM/GRU/Bidirectional and stacks,
the masked loss, stacked recurrent models, TimeDistributed(Dense), RNN dropout and recurrent_dropout
with the same masks injected in both (Keras runs its own cell code with them), and stateful layers
over consecutive calls. GRU in both reset modes without these options: tests/test_parity_tf.py.

Every case: forward output, loss, and the gradient of the loss for every weight and for the input,
float32 within 1e-5 relative and float64 within 1e-10 (``minirnn.gradcheck.relative_error``). Keras
weights come from seeded random initializers with every bias replaced by random nonzero values.
Skipped when TensorFlow is not installed.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from keras.src.backend import set_keras_mask  # noqa: E402  (to hand a mask to Keras's loss objects)

from minirnn import losses  # noqa: E402
from minirnn.gradcheck import relative_error  # noqa: E402
from minirnn.interop import (  # noqa: E402
    from_keras,
    inject_dropout_masks,
    keras_loss_and_gradients,
    recurrent_pairs,
    set_keras_dropout_masks,
    to_keras,
)
from minirnn.layers import RNN, Bidirectional, Dense, Masking, TimeDistributed  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}
DTYPES = ["float32", "float64"]
B, T, D, H = 4, 6, 3, 5
L = keras.layers


def rnn(kind, init_seed, dtype, **options):
    """A Keras SimpleRNN/LSTM/GRU with H units and seeded random initializers."""
    return getattr(L, kind)(H, kernel_initializer=keras.initializers.GlorotUniform(seed=init_seed),
                            recurrent_initializer=keras.initializers.Orthogonal(seed=init_seed + 1), dtype=dtype,
                            **options)


def dense(units, seed, dtype, **options):
    return L.Dense(units, kernel_initializer=keras.initializers.GlorotUniform(seed=seed), dtype=dtype, **options)


def keras_model(layers, dtype, rng, batch_size=None):
    """A Keras Sequential on (batch, T, D) whose biases are random nonzero values."""
    model = keras.Sequential([keras.Input(batch_shape=(batch_size, T, D), dtype=dtype), *layers])
    for w in model.weights:
        if w.name == "bias":
            w.assign((rng.standard_normal(w.shape) * 0.5).astype(dtype))
    return model


def padded(x):
    """Variable-length rows: right padding, a padded step in the middle, leading padding, none."""
    x = x.copy()
    x[0, 4:] = 0.0
    x[1, 2] = 0.0
    x[2, 0] = 0.0
    return x


def bidirectional(kind, merge_mode, return_sequences):
    return lambda s, d: [L.Bidirectional(rnn(kind, s, d, return_sequences=return_sequences),
                                         merge_mode=merge_mode, dtype=d)]


# name: (Keras layers after the Input, as a function of (seed, dtype); padded inputs behind Masking?)
CASES = {
    "go_backwards_gru_seq": (lambda s, d: [rnn("GRU", s, d, go_backwards=True, return_sequences=True)], False),
    "go_backwards_gru_reset_before": (lambda s, d: [rnn("GRU", s, d, go_backwards=True, reset_after=False)], False),
    "go_backwards_simple_rnn": (lambda s, d: [rnn("SimpleRNN", s, d, go_backwards=True)], False),
    **{f"bidirectional_{mode}_{kind.lower()}_{'seq' if seq else 'last'}": (bidirectional(kind, mode, seq), False)
       for mode, kind, seq in [("concat", "LSTM", True), ("concat", "GRU", False), ("sum", "GRU", True),
                               ("sum", "SimpleRNN", False), ("mul", "SimpleRNN", True), ("mul", "LSTM", False),
                               ("ave", "LSTM", True), ("ave", "GRU", False)]},
    "stacked": (lambda s, d: [rnn("SimpleRNN", s, d, return_sequences=True),
                              rnn("LSTM", s + 2, d, return_sequences=True), rnn("GRU", s + 4, d), dense(1, s + 6, d)],
                False),
    "stacked_bidirectional": (lambda s, d: [L.Bidirectional(rnn("LSTM", s, d, return_sequences=True), dtype=d),
                                            rnn("GRU", s + 2, d), dense(2, s + 4, d, activation="tanh")], False),
    "time_distributed_dense": (lambda s, d: [L.TimeDistributed(dense(4, s, d, activation="relu"), dtype=d)], False),
    "lstm_time_distributed": (lambda s, d: [rnn("LSTM", s, d, return_sequences=True),
                                            L.TimeDistributed(dense(2, s + 2, d, activation="tanh"), dtype=d)], False),
    # behind Masking(0.0), on padded rows
    "masking_lstm_seq": (lambda s, d: [rnn("LSTM", s, d, return_sequences=True)], True),
    "masking_lstm_last": (lambda s, d: [rnn("LSTM", s, d)], True),
    "masking_gru_seq_dense": (lambda s, d: [rnn("GRU", s, d, return_sequences=True), dense(2, s + 2, d)], True),
    "masking_gru_reset_before_last": (lambda s, d: [rnn("GRU", s, d, reset_after=False)], True),
    "masking_gru_zero_output_seq": (lambda s, d: [rnn("GRU", s, d, return_sequences=True,
                                                      zero_output_for_mask=True)], True),
    # Keras's last output is then the masked output of the last step: zeros for row 0
    "masking_lstm_zero_output_last": (lambda s, d: [rnn("LSTM", s, d, zero_output_for_mask=True)], True),
    "masking_bidirectional_gru_seq": (bidirectional("GRU", "concat", True), True),
    "masking_bidirectional_lstm_last": (bidirectional("LSTM", "ave", False), True),
    "masking_bidirectional_simple_rnn_mul_seq": (bidirectional("SimpleRNN", "mul", True), True),
    # Keras passes the go_backwards layer's input mask on unreversed, to the next layer and the loss
    "masking_go_backwards_stack": (lambda s, d: [rnn("LSTM", s, d, go_backwards=True, return_sequences=True),
                                                 rnn("GRU", s + 2, d, return_sequences=True), dense(1, s + 4, d)],
                                   True),
    "masking_stacked": (lambda s, d: [rnn("SimpleRNN", s, d, return_sequences=True),
                                      rnn("LSTM", s + 2, d, return_sequences=True), rnn("GRU", s + 4, d),
                                      dense(1, s + 6, d)], True),
    "masking_time_distributed": (lambda s, d: [rnn("LSTM", s, d, return_sequences=True),
                                               L.TimeDistributed(dense(2, s + 2, d, activation="tanh"), dtype=d)],
                                 True),
}


def build(case, dtype, seed, batch_size=None):
    make, masked = CASES[case] if isinstance(case, str) else case
    rng = np.random.default_rng(seed)
    layers = make(seed, dtype)
    if masked:
        layers = [L.Masking(0.0, dtype=dtype), *layers]
    kmodel = keras_model(layers, dtype, rng, batch_size)
    x = rng.standard_normal((B, T, D)).astype(dtype)
    if masked:
        x = padded(x)
    y = rng.standard_normal((B, *kmodel.output_shape[1:])).astype(dtype)
    model = from_keras(kmodel)
    model.compile(optimizer="adam", loss="mse")
    return model, kmodel, x, y


def assert_matches(model, kmodel, x, y, dtype, training=False, where=""):
    """Output, loss and every gradient agree; returns minirnn's (loss, grads, dx)."""
    tol = TOL[dtype]
    loss, grads, dx = model.loss_and_gradients(x, y, training=training, return_input_gradient=True)
    k_loss, k_grads, k_dx = keras_loss_and_gradients(kmodel, x, y, training=training)
    assert relative_error(loss, k_loss) < tol, f"{where} loss {loss} vs {k_loss}"
    assert len(grads) == len(k_grads) == len(kmodel.trainable_weights)
    names = [f"{layer.name}.{p}" for layer in model.layers for p in layer.params]
    for name, g, kg in zip(names, grads, k_grads):
        assert g.shape == kg.shape, name
        assert relative_error(g, kg) < tol, f"{where} gradient of {name}: {relative_error(g, kg):.1e}"
    assert relative_error(dx, k_dx) < tol, f"{where} gradient of the input: {relative_error(dx, k_dx):.1e}"
    return loss, grads, dx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_loss_and_gradients_match_keras(case, dtype):
    model, kmodel, x, y = build(case, dtype, sorted(CASES).index(case))
    k_out = kmodel(x)
    out, _, mask = model._forward(x, False, None, return_mask=True)
    assert out.dtype == np.dtype(dtype)
    assert relative_error(out, k_out.numpy()) < TOL[dtype]
    # the step mask that reaches the output (and so the loss) is Keras's, entry for entry
    k_mask = getattr(k_out, "_keras_mask", None)
    assert (mask is None) == (k_mask is None)
    if mask is not None:
        assert np.array_equal(mask, k_mask.numpy()) and not mask.all()
        unmasked = model.loss.value_and_grad(y, out)[0]
        assert abs(unmasked - model.loss_and_gradients(x, y)[0]) > 1e-3 * abs(unmasked)  # the mask matters
    assert_matches(model, kmodel, x, y, dtype, where=f"{case} {dtype}")


def test_zero_output_for_mask_zeroes_the_last_output_like_keras():
    model, kmodel, x, _ = build("masking_lstm_zero_output_last", "float64", 0)
    out = model.predict(x)
    assert not out[0].any() and out[1:].all()  # row 0 ends in padding
    np.testing.assert_array_equal(kmodel(x).numpy()[0], 0)


@pytest.mark.parametrize("merge_mode", ["mul", "concat"])
def test_float32_bidirectional_around_float64_layers_matches_keras(merge_mode):
    """Keras casts the wrapper's input and both outputs to its dtype and keeps the wrapped layers' weights at
    theirs; minirnn rounds at the same places, so a float64 model agrees to float64 precision."""
    d = "float64"
    rng = np.random.default_rng(7)
    kmodel = keras_model([L.Masking(0.0, dtype=d),
                          L.Bidirectional(rnn("GRU", 1, d, return_sequences=True), merge_mode=merge_mode,
                                          dtype="float32"), dense(1, 3, d)], d, rng)
    model = from_keras(kmodel)
    model.compile(optimizer="sgd", loss="mse")
    assert model.layers[1].dtype == np.float32 and model.layers[1].forward_layer.dtype == np.float64
    x = padded(rng.standard_normal((B, T, D)))
    y = rng.standard_normal((B, T, 1))
    assert relative_error(model.predict(x), kmodel(x).numpy()) < TOL[d]
    assert_matches(model, kmodel, x, y, d, where=f"mixed {merge_mode}")


# -- RNN dropout with injected masks ---------------------------------------------------------------

DROPOUT_CASES = {
    "simple_rnn_seq": (lambda s, d: [rnn("SimpleRNN", s, d, dropout=0.3, recurrent_dropout=0.4,
                                         return_sequences=True)], False),
    "lstm_dropout": (lambda s, d: [rnn("LSTM", s, d, dropout=0.3)], False),  # one input mask for all gates
    "lstm_recurrent_dropout_seq": (lambda s, d: [rnn("LSTM", s, d, recurrent_dropout=0.4, return_sequences=True)],
                                   False),
    "lstm_both": (lambda s, d: [rnn("LSTM", s, d, dropout=0.3, recurrent_dropout=0.4)], False),
    "gru_both_seq": (lambda s, d: [rnn("GRU", s, d, dropout=0.3, recurrent_dropout=0.4, return_sequences=True)],
                     False),
    "gru_dropout": (lambda s, d: [rnn("GRU", s, d, dropout=0.3)], False),
    "gru_reset_before_both": (lambda s, d: [rnn("GRU", s, d, dropout=0.3, recurrent_dropout=0.4,
                                                reset_after=False)], False),
    "gru_go_backwards_both_seq": (lambda s, d: [rnn("GRU", s, d, dropout=0.3, recurrent_dropout=0.4,
                                                    go_backwards=True, return_sequences=True)], False),
    "bidirectional_lstm_both": (lambda s, d: [L.Bidirectional(rnn("LSTM", s, d, dropout=0.3, recurrent_dropout=0.4,
                                                                  return_sequences=True), dtype=d),
                                              dense(2, s + 2, d)], False),
    "stacked_both": (lambda s, d: [rnn("SimpleRNN", s, d, dropout=0.2, recurrent_dropout=0.3, return_sequences=True),
                                   rnn("GRU", s + 2, d, dropout=0.3, recurrent_dropout=0.2), dense(1, s + 4, d)],
                     False),
    "masking_lstm_both_seq": (lambda s, d: [rnn("LSTM", s, d, dropout=0.3, recurrent_dropout=0.4,
                                                return_sequences=True)], True),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(DROPOUT_CASES))
def test_rnn_dropout_with_injected_masks_matches_keras(case, dtype):
    model, kmodel, x, y = build(DROPOUT_CASES[case], dtype, 40 + sorted(DROPOUT_CASES).index(case))
    _, plain_grads = model.loss_and_gradients(x, y)
    inject_dropout_masks(model, kmodel, B, np.random.default_rng(3))
    _, grads, _ = assert_matches(model, kmodel, x, y, dtype, training=True, where=f"{case} {dtype}")
    # the masks change every recurrent layer's gradients, so Keras did run with them
    for layer, g, g0 in zip([la for la in model.layers for _ in la.params], grads, plain_grads):
        if isinstance(layer, (RNN, Bidirectional)):
            assert relative_error(g, g0) > 1e-3


def test_injected_masks_are_used_once_then_keras_draws_again():
    model, kmodel, x, y = build(DROPOUT_CASES["lstm_both"], "float64", 1)
    inject_dropout_masks(model, kmodel, B, np.random.default_rng(0))
    first = keras_loss_and_gradients(kmodel, x, y, training=True)[0]
    assert kmodel.layers[0].cell._dropout_mask is None  # Keras clears its cache after the call
    assert relative_error(first, model.loss_and_gradients(x, y, training=True)[0]) < TOL["float64"]
    with pytest.raises(ValueError, match="must have shape"):
        set_keras_dropout_masks(kmodel.layers[0], np.ones((1, B, D)), None)  # recurrent_dropout > 0: 4 masks


# -- stateful ---------------------------------------------------------------------------------------

STATEFUL_CASES = {
    "stacked": (lambda s, d: [rnn("LSTM", s, d, stateful=True, return_sequences=True),
                              rnn("GRU", s + 2, d, stateful=True), dense(1, s + 4, d)], False),
    "bidirectional_concat_seq": (lambda s, d: [L.Bidirectional(rnn("GRU", s, d, stateful=True, return_sequences=True),
                                                               dtype=d)], False),
    # leading padding after the first call starts from a nonzero state: Keras outputs zeros there
    "masking_gru_seq": (lambda s, d: [rnn("GRU", s, d, stateful=True, return_sequences=True)], True),
    "masking_simple_rnn_last": (lambda s, d: [rnn("SimpleRNN", s, d, stateful=True)], True),
}


def carried_states(model, kmodel):
    return [(np.asarray(s), np.asarray(ks)) for layer, klayer in recurrent_pairs(model, kmodel)
            for s, ks in zip(layer.states, klayer.states)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(STATEFUL_CASES))
def test_stateful_layers_over_consecutive_calls_match_keras(case, dtype):
    model, kmodel, x, y = build(STATEFUL_CASES[case], dtype, 60 + sorted(STATEFUL_CASES).index(case), batch_size=B)
    rng = np.random.default_rng(9)
    for call in range(3):
        if call:
            x = rng.standard_normal(x.shape).astype(dtype)
            if STATEFUL_CASES[case][1]:
                x[0, :2] = 0.0   # leading padding
                x[1, 3] = 0.0
                x[2] = 0.0       # a row with nothing real
            y = rng.standard_normal(y.shape).astype(dtype)
        assert_matches(model, kmodel, x, y, dtype, where=f"{case} {dtype} call {call + 1}")
        for s, ks in carried_states(model, kmodel):
            assert relative_error(s, ks) < TOL[dtype]
    # the carried state matters, and reset_states forgets it in both
    x = rng.standard_normal(x.shape).astype(dtype)
    carried = model.predict(x)
    assert relative_error(carried, kmodel(x).numpy()) < TOL[dtype]
    model.reset_states()
    for klayer in kmodel.layers:
        if getattr(klayer, "stateful", False):
            klayer.reset_states()
    reset = model.predict(x)
    assert relative_error(carried, reset) > 1e-3
    assert relative_error(reset, kmodel(x).numpy()) < TOL[dtype]


# -- Bidirectional(merge_mode=None): two outputs --------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_without_merge_matches_keras(return_sequences, masked, dtype):
    rng = np.random.default_rng(int(masked) + 2 * int(return_sequences))
    kmodel = keras_model([L.Bidirectional(rnn("LSTM", 5, dtype, return_sequences=return_sequences),
                                          merge_mode=None, dtype=dtype)], dtype, rng)
    klayer = kmodel.layers[0]
    layer = from_keras(kmodel).layers[0]
    x = rng.standard_normal((B, T, D)).astype(dtype)
    mask = None
    if masked:
        x = padded(x)
        mask = Masking(0.0).compute_mask(x, None)
    weights = [rng.standard_normal((B, *layer.compute_output_shape((T, D)))).astype(dtype) for _ in range(2)]
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        k_out = klayer(xt, mask=None if mask is None else tf.constant(mask))
        value = sum(tf.reduce_sum(w * o) for w, o in zip(weights, k_out))
    *k_grads, k_dx = tape.gradient(value, [*klayer.trainable_weights, xt])
    out, cache = layer.forward(x, mask=mask)
    g = layer.backward(cache, weights)
    tol = TOL[dtype]
    for o, ko in zip(out, k_out, strict=True):
        assert relative_error(o, ko.numpy()) < tol
    for name, kg in zip(layer.params, k_grads, strict=True):
        assert relative_error(g.params[name], kg.numpy()) < tol, name
    assert relative_error(g.dx, k_dx.numpy()) < tol


# -- the masked loss and training -----------------------------------------------------------------

LOSSES = {
    "mse": (losses.MeanSquaredError(), keras.losses.MeanSquaredError, "normal"),
    "mae": (losses.MeanAbsoluteError(), keras.losses.MeanAbsoluteError, "normal"),
    "huber": (losses.Huber(), keras.losses.Huber, "normal"),
    "binary_crossentropy": (losses.BinaryCrossentropy(), keras.losses.BinaryCrossentropy, "probabilities"),
    "categorical_crossentropy": (losses.CategoricalCrossentropy(from_logits=True),
                                 lambda **kw: keras.losses.CategoricalCrossentropy(from_logits=True, **kw), "one_hot"),
    "sparse_categorical_crossentropy": (losses.SparseCategoricalCrossentropy(),
                                        keras.losses.SparseCategoricalCrossentropy, "ids"),
}


@pytest.mark.parametrize("weighting", ["mask", "sample_weight", "mask+sample_weight"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_masked_and_weighted_losses_match_keras(name, weighting):
    ours, theirs, targets = LOSSES[name]
    rng = np.random.default_rng(sorted(LOSSES).index(name))
    K = 4
    p = rng.uniform(0.05, 0.95, (B, T, K)) if targets in ("probabilities", "ids") else rng.standard_normal((B, T, K))
    t = {"normal": lambda: rng.standard_normal((B, T, K)), "probabilities": lambda: rng.uniform(0, 1, (B, T, K)),
         "one_hot": lambda: np.eye(K)[rng.integers(0, K, (B, T))], "ids": lambda: rng.integers(0, K, (B, T))}[targets]()
    mask = padded(np.ones((B, T, 1)))[..., 0] != 0 if "mask" in weighting else None
    sw = rng.uniform(0.2, 2.0, (B, T)) if "sample_weight" in weighting else None

    pt = tf.constant(p)
    with tf.GradientTape() as tape:
        tape.watch(pt)
        masked_p = pt * 1.0
        if mask is not None:
            set_keras_mask(masked_p, tf.constant(mask))
        k_value = theirs(dtype="float64")(tf.constant(t), masked_p, sample_weight=sw)
    k_grad = tape.gradient(k_value, pt).numpy()
    value, grad = ours.value_and_grad(t, p, sample_weight=sw, mask=mask)
    assert relative_error(value, k_value.numpy()) < TOL["float64"]
    assert relative_error(grad, k_grad) < TOL["float64"]
    if mask is not None:
        assert relative_error(value, ours.value_and_grad(t, p, sample_weight=sw)[0]) > 1e-3


def test_masked_training_and_evaluation_match_keras():
    """Adam steps on a return_sequences model behind Masking: Keras applies the output's mask to the loss
    in fit's step and in evaluate, and so does minirnn."""
    model, kmodel, x, y = build("masking_gru_seq_dense", "float32", 5)
    x = np.concatenate([x, padded(np.random.default_rng(1).standard_normal(x.shape).astype("float32"))])
    y = np.concatenate([y, y[::-1]])
    start = model.get_weights()
    kmodel.compile(optimizer="adam", loss="mse")
    for step in range(5):
        xb, yb = x[step % 2 * B:][:B], y[step % 2 * B:][:B]
        k_loss = float(kmodel.train_on_batch(xb, yb))
        assert relative_error(model.train_on_batch(xb, yb), k_loss) < TOL["float32"], f"step {step + 1}"
    for w, kw, w0 in zip(model.get_weights(), kmodel.get_weights(), start, strict=True):
        assert relative_error(w, kw) < TOL["float32"]
        assert relative_error(w, w0) > 1e-4
    assert relative_error(model.evaluate(x, y, batch_size=3), kmodel.evaluate(x, y, batch_size=3, verbose=0)) \
        < TOL["float32"]


# -- conversion ---------------------------------------------------------------------------------------

def test_from_keras_carries_the_new_layers_and_options_and_back():
    d = "float64"
    rng = np.random.default_rng(4)
    kmodel = keras_model([
        L.Masking(-1.0, dtype=d),
        L.Bidirectional(rnn("GRU", 1, d, return_sequences=True, dropout=0.25, recurrent_dropout=0.5, seed=11,
                            reset_after=False, name="gru"), merge_mode="sum", dtype=d, name="bi"),
        rnn("LSTM", 3, d, return_sequences=True, go_backwards=True, zero_output_for_mask=True, name="back"),
        L.TimeDistributed(dense(2, 5, d, activation="tanh"), dtype=d, name="td"),
    ], d, rng)
    model = from_keras(kmodel)
    masking, bi, back, td = model.layers
    assert isinstance(masking, Masking) and masking.mask_value == -1.0
    assert isinstance(bi, Bidirectional) and bi.merge_mode == "sum" and bi.name == "bi"
    fwd, bwd = bi.forward_layer, bi.backward_layer
    assert (fwd.name, bwd.name, fwd.go_backwards, bwd.go_backwards) == ("forward_gru", "backward_gru", False, True)
    for sub in (fwd, bwd):
        assert (sub.dropout, sub.recurrent_dropout, sub.seed, sub.reset_after, sub.zero_output_for_mask) == \
            (0.25, 0.5, 11, False, True)
    assert (back.go_backwards, back.zero_output_for_mask, back.return_sequences) == (True, True, True)
    assert isinstance(td, TimeDistributed) and isinstance(td.layer, Dense) and td.layer.activation == "tanh"
    assert all(la.dtype == np.float64 for la in (*model.layers, fwd, bwd, td.layer))
    for w, kw in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        assert np.array_equal(w, kw)
    x = rng.standard_normal((B, T, D))
    x[0, 3:] = -1.0
    assert relative_error(model.predict(x), kmodel(x).numpy()) < TOL[d]

    back_again = to_keras(model)
    keys = {"Masking": ("mask_value", "dtype"), "Bidirectional": ("merge_mode", "dtype"), "TimeDistributed": ("dtype",),
            "LSTM": ("units", "return_sequences", "go_backwards", "zero_output_for_mask", "dropout", "seed", "dtype")}
    for kl, bl in zip(kmodel.layers, back_again.layers, strict=True):
        assert type(kl) is type(bl) and kl.name == bl.name
        for key in keys[type(kl).__name__]:
            assert bl.get_config()[key] == kl.get_config()[key], (kl.name, key)
    kb = back_again.get_layer("bi")
    for sub, ksub in ((kb.forward_layer, kmodel.get_layer("bi").forward_layer),
                      (kb.backward_layer, kmodel.get_layer("bi").backward_layer)):
        for key in ("units", "dropout", "recurrent_dropout", "seed", "reset_after", "go_backwards",
                    "zero_output_for_mask", "return_sequences", "name"):
            assert sub.get_config()[key] == ksub.get_config()[key], key
    assert back_again.get_layer("back").get_config()["go_backwards"] is True
    assert back_again.get_layer("td").layer.get_config()["activation"] == "tanh"
    assert back_again.layers[0].get_config()["mask_value"] == -1.0
    for w, bw in zip(kmodel.get_weights(), back_again.get_weights(), strict=True):
        assert np.array_equal(w, bw)
    assert relative_error(back_again(x).numpy(), kmodel(x).numpy()) < TOL[d]


def test_stateful_conversion_needs_a_batch_size_and_carries_the_states():
    model, kmodel, x, _ = build(STATEFUL_CASES["stacked"], "float64", 1, batch_size=B)
    assert all(la.stateful for la in model.layers if isinstance(la, RNN))
    with pytest.raises(ValueError, match="batch_size"):
        to_keras(model)
    model.predict(x)  # now the layers carry states for batch B
    kback = to_keras(model)
    assert kback.inputs[0].shape[0] == B
    for (s, ks) in carried_states(model, kback):
        assert np.array_equal(s, ks) and s.any()
    x2 = np.random.default_rng(0).standard_normal(x.shape)
    assert relative_error(kback(x2).numpy(), model.predict(x2)) < TOL["float64"]
    # and Keras's carried states come back too
    again = from_keras(kback)
    for (s, ks) in carried_states(again, kback):
        assert np.array_equal(s, ks) and s.any()


@pytest.mark.parametrize("layers, message", [
    (lambda: [L.LSTM(3, return_state=True)], "return_state"),
    (lambda: [L.Bidirectional(L.GRU(3, kernel_regularizer="l2"))], "wrapped forward_layer.*kernel_regularizer"),
    (lambda: [L.TimeDistributed(L.Dense(3, trainable=False))], "trainable=False"),
    (lambda: [L.TimeDistributed(L.LayerNormalization())], "no minirnn counterpart"),
])
def test_from_keras_refuses_what_minirnn_cannot_compute_inside_wrappers_too(layers, message):
    with pytest.raises(ValueError, match=message):
        from_keras(keras.Sequential([keras.Input((T, D)), *layers()]))
