"""minirnn's SimpleRNN, LSTM and GRU against torch.nn.RNN, torch.nn.LSTM and torch.nn.GRU through
``minirnn.interop.to_torch_state_dict`` / ``from_torch_state_dict``: outputs, final states and gradients
agree (float32 within 1e-5 relative, float64 within 1e-10), with random nonzero biases on both sides.
Skipped when PyTorch is not installed.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from minirnn.gradcheck import relative_error  # noqa: E402
from minirnn.interop import from_torch_state_dict, to_torch_state_dict  # noqa: E402
from minirnn.layers import GRU, LSTM, Dense, SimpleRNN  # noqa: E402

TOL = {"float32": 1e-5, "float64": 1e-10}
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
B, T, D, H = 3, 6, 4, 5

# name: (minirnn layer factory, torch module factory, how Keras's bias sits in torch's two biases:
# "sum" = bias_ih + bias_hh, "rows" = [bias_ih; bias_hh]); one entry per layer and activation torch computes
CASES = {
    "simple_rnn_tanh": (lambda **kw: SimpleRNN(H, **kw),
                        lambda **kw: torch.nn.RNN(D, H, batch_first=True, nonlinearity="tanh", **kw), "sum"),
    "simple_rnn_relu": (lambda **kw: SimpleRNN(H, activation="relu", **kw),
                        lambda **kw: torch.nn.RNN(D, H, batch_first=True, nonlinearity="relu", **kw), "sum"),
    "lstm": (lambda **kw: LSTM(H, **kw), lambda **kw: torch.nn.LSTM(D, H, batch_first=True, **kw), "sum"),
    "gru": (lambda **kw: GRU(H, **kw), lambda **kw: torch.nn.GRU(D, H, batch_first=True, **kw), "rows"),
}


def keras_layout(layer, torch_grads, bias, tol):
    """torch's parameter gradients in Keras's layout (from_torch_state_dict on a copy of the layer)."""
    sd = dict(torch_grads)
    if bias == "sum":  # both torch biases enter the sum, so each has Keras's bias gradient
        assert relative_error(sd["bias_ih_l0"], sd["bias_hh_l0"]) < tol
        sd["bias_hh_l0"] = np.zeros_like(sd["bias_hh_l0"])
    copy = type(layer).from_config(layer.get_config())
    from_torch_state_dict(copy, sd)
    return copy.params


def run_torch(module, x, initial, r_seq, r_final):
    """Torch outputs and the gradients of sum(out * r_seq) + sum(final_state * r_final), as NumPy."""
    xt = torch.tensor(x, requires_grad=True)
    init = [torch.tensor(s[None]) for s in initial]
    out, final = module(xt, init[0] if len(init) == 1 else tuple(init))
    final = [final] if isinstance(final, torch.Tensor) else list(final)
    final = [f[0] for f in final]  # drop the (layers * directions) axis
    objective = (out * torch.tensor(r_seq)).sum() + sum((f * torch.tensor(r)).sum() for f, r in zip(final, r_final))
    objective.backward()
    grads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    return out.detach().numpy(), [f.detach().numpy() for f in final], grads, xt.grad.numpy()


def run_minirnn(layer, x, initial, r_seq, r_final):
    y, cache = layer.forward(layer.prepare_input(x), initial_state=initial)
    out, *final = y
    g = layer.backward(cache, [r_seq, *r_final])
    return out, final, g


def random_bias(layer, rng):
    layer.params["bias"][...] = rng.standard_normal(layer.params["bias"].shape) * 0.5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_to_torch_state_dict_gives_torch_the_same_numbers(case, dtype):
    make_layer, make_module, bias = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    layer = make_layer(return_sequences=True, return_state=True, dtype=dtype, seed=3)
    layer.build((T, D))
    random_bias(layer, rng)
    module = make_module(dtype=TORCH_DTYPES[dtype])
    sd = to_torch_state_dict(layer)
    assert all(v.dtype == TORCH_DTYPES[dtype] for v in sd.values())
    assert sd["bias_ih_l0"].all() and (sd["bias_hh_l0"].all() if bias == "rows" else not sd["bias_hh_l0"].any())
    module.load_state_dict(sd, strict=True)

    x = rng.standard_normal((B, T, D)).astype(dtype)
    n_states = layer.n_states
    initial = [rng.standard_normal((B, H)).astype(dtype) for _ in range(n_states)]
    r_seq = rng.standard_normal((B, T, H)).astype(dtype)
    r_final = [rng.standard_normal((B, H)).astype(dtype) for _ in range(n_states)]
    out_t, final_t, grads_t, dx_t = run_torch(module, x, initial, r_seq, r_final)
    out, final, g = run_minirnn(layer, x, initial, r_seq, r_final)

    tol = TOL[dtype]
    assert relative_error(out, out_t) < tol
    for f, ft in zip(final, final_t, strict=True):
        assert relative_error(f, ft) < tol
    assert relative_error(g.dx, dx_t) < tol
    for name, gt in keras_layout(layer, grads_t, bias, tol).items():
        assert relative_error(g.params[name], gt) < tol, name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_from_torch_state_dict_computes_what_torch_computes(case, dtype):
    make_layer, make_module, bias = CASES[case]
    rng = np.random.default_rng(10 + sorted(CASES).index(case))
    module = make_module(dtype=TORCH_DTYPES[dtype])
    with torch.no_grad():  # reproducible random weights, both biases nonzero and different
        for p in module.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, tuple(p.shape))))
    layer = make_layer(return_sequences=True, return_state=True, dtype=dtype)
    from_torch_state_dict(layer, module.state_dict())  # builds the layer for D inputs
    assert layer.built_input_shape[-1] == D
    sd = module.state_dict()
    if bias == "sum":
        expected_bias = (sd["bias_ih_l0"] + sd["bias_hh_l0"]).numpy()
        assert relative_error(layer.params["bias"], expected_bias) < TOL[dtype]

    x = rng.standard_normal((B, T, D)).astype(dtype)
    with torch.no_grad():
        out_t, final_t = module(torch.from_numpy(x))
    final_t = [final_t] if isinstance(final_t, torch.Tensor) else list(final_t)
    out, *final = layer(x)
    assert relative_error(out, out_t.numpy()) < TOL[dtype]
    for f, ft in zip(final, final_t, strict=True):
        assert relative_error(f, ft[0].numpy()) < TOL[dtype]

    # and back: the same module outputs after a round trip through minirnn
    module2 = make_module(dtype=TORCH_DTYPES[dtype])
    module2.load_state_dict(to_torch_state_dict(layer))
    with torch.no_grad():
        assert relative_error(module2(torch.from_numpy(x))[0].numpy(), out_t.numpy()) < TOL[dtype]


def test_layer_without_bias_round_trips():
    rng = np.random.default_rng(0)
    layer = LSTM(H, use_bias=False, return_sequences=True, seed=1)
    layer.build((T, D))
    sd = to_torch_state_dict(layer)
    assert sorted(sd) == ["weight_hh_l0", "weight_ih_l0"]
    module = torch.nn.LSTM(D, H, batch_first=True, bias=False)
    module.load_state_dict(sd)
    x = rng.standard_normal((B, T, D)).astype("float32")
    with torch.no_grad():
        assert relative_error(layer(x), module(torch.from_numpy(x))[0].numpy()) < TOL["float32"]
    other = LSTM(H, use_bias=False, return_sequences=True)
    from_torch_state_dict(other, module.state_dict())
    for w, w2 in zip(layer.get_weights(), other.get_weights(), strict=True):
        assert np.array_equal(w, w2)


@pytest.mark.parametrize("module, message", [
    (lambda: torch.nn.LSTM(D, H, num_layers=2, batch_first=True), "weight_ih_l1"),
    (lambda: torch.nn.LSTM(D, H, bidirectional=True, batch_first=True), "reverse"),
    (lambda: torch.nn.LSTM(D, H + 1, batch_first=True), r"must have shape \(20, 4\)"),
    (lambda: torch.nn.LSTM(D + 1, H, batch_first=True), "input size 4"),
    (lambda: torch.nn.LSTM(D, H, bias=False, batch_first=True), "missing"),
])
def test_from_torch_state_dict_rejects_what_does_not_fit_and_changes_nothing(module, message):
    layer = LSTM(H, seed=0)
    layer.build((T, D))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=message):
        from_torch_state_dict(layer, module().state_dict())
    for w, w0 in zip(layer.get_weights(), before, strict=True):
        assert np.array_equal(w, w0)


def test_gru_blocks_are_reordered_and_reset_before_is_refused():
    layer = GRU(H, seed=0)
    layer.build((T, D))
    sd = to_torch_state_dict(layer)
    k = layer.params["kernel"]  # Keras blocks z, r, h; torch r, z, n
    assert np.array_equal(sd["weight_ih_l0"][:H].numpy(), k[:, H:2 * H].T)
    assert np.array_equal(sd["weight_ih_l0"][H:2 * H].numpy(), k[:, :H].T)
    assert np.array_equal(sd["weight_ih_l0"][2 * H:].numpy(), k[:, 2 * H:].T)
    before = GRU(H, reset_after=False, seed=0)
    before.build((T, D))
    with pytest.raises(ValueError, match="reset_after=False"):
        to_torch_state_dict(before)
    with pytest.raises(ValueError, match="reset_after=False"):
        from_torch_state_dict(before, sd)


def test_only_recurrent_layers_convert():
    with pytest.raises(TypeError, match="SimpleRNN, LSTM, GRU"):
        to_torch_state_dict(Dense(3))
    with pytest.raises(ValueError, match="not built"):
        to_torch_state_dict(LSTM(3))
