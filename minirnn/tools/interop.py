"""Moving models and weights between minirnn, Keras and PyTorch.

TensorFlow/Keras and PyTorch are optional extras (``pip install minirnn[tf]``, ``minirnn[torch]``):
this module imports them only inside the functions that need them.

Keras (``from_keras`` / ``to_keras``): a ``keras.Sequential`` of SimpleRNN, LSTM, GRU, Dense, Dropout,
Masking, Bidirectional (any merge mode, around SimpleRNN/LSTM/GRU) and TimeDistributed (around Dense or
Dropout) layers and a minirnn ``Sequential`` store the same arrays in the same order and shapes
(SimpleRNN: kernel (D, H), recurrent_kernel (H, H), bias (H,); LSTM: kernel (D, 4H),
recurrent_kernel (H, 4H), bias (4H,), gate blocks i, f, c, o; GRU: kernel (D, 3H), recurrent_kernel
(H, 3H), bias (2, 3H) with reset_after=True or (3H,), blocks z, r, h; Dense: kernel (D, U), bias (U,);
a wrapper: its wrapped layers' arrays, Bidirectional's forward layer first), so the conversion copies
the config (units, activations, use_bias, unit_forget_bias, reset_after, return_sequences,
go_backwards, dropout, recurrent_dropout, stateful, zero_output_for_mask, seeds, rate, mask_value,
merge_mode, dtype, name, the input shape; one table entry per layer type, wrapped layers through
the same table) and the weights unchanged. Options the conversion does not carry (return_state,
regularizers, constraints, frozen layers, mixed precision) raise ``ValueError`` rather than silently
computing something else. Random draws (initializers, dropout masks) cannot agree across frameworks;
``set_keras_dropout_masks`` makes a Keras RNN layer use given masks, and ``fixed_dropout_pair`` gives a
Keras and a minirnn dropout layer that drop the same units, for comparisons.

PyTorch (``to_torch_state_dict`` / ``from_torch_state_dict``), for one recurrent layer, with
torch's ``batch_first=True`` modules ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` (one layer, one direction):

    weight_ih_l0 = kernel^T              (k H, D)   gate blocks in torch's order
    weight_hh_l0 = recurrent_kernel^T    (k H, H)
    bias_ih_l0 + bias_hh_l0 = bias       SimpleRNN, LSTM: torch adds two biases where Keras has one; to
                                         torch the bias goes to bias_ih and bias_hh is zero, from torch
                                         they are summed
    bias_ih_l0, bias_hh_l0 = bias[0], bias[1]    GRU (reset_after=True, the only GRU torch computes)

torch's LSTM gate order i, f, g, o is Keras's i, f, c, o; torch's GRU order r, z, n is Keras's
z, r, h permuted, which the conversion does. torch computes only tanh/sigmoid LSTMs and GRUs,
tanh/relu RNNs and no go_backwards: the weights convert regardless, but the numbers agree only
when torch computes the same function.

Keras's own numbers for a minirnn question: ``keras_loss_and_gradients`` is
``Sequential.loss_and_gradients(..., return_input_gradient=True)`` computed by Keras with
``tf.GradientTape`` (used by ``benchmarks/tf_parity.py`` and the parity tests).

Example (needs neither extra: the state dict may hold NumPy arrays):
    >>> import numpy as np
    >>> from minirnn.layers import LSTM
    >>> from minirnn.tools.interop import from_torch_state_dict
    >>> lstm = LSTM(2, input_shape=(None, 3))
    >>> rng = np.random.default_rng(0)
    >>> sd = {"weight_ih_l0": rng.standard_normal((8, 3)), "weight_hh_l0": rng.standard_normal((8, 2)),
    ...       "bias_ih_l0": np.ones(8), "bias_hh_l0": np.full(8, 0.5)}
    >>> from_torch_state_dict(lstm, sd)
    >>> lstm.params["bias"].tolist() == [1.5] * 8, lstm.params["kernel"].shape
    (True, (3, 8))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import initializers
from ..kernels.dropout import dropout_mask
from ..layers import LAYERS
from ..layers.base import Layer, check_positive_int
from ..layers.core import Dropout
from ..layers.recurrent import RNN
from ..layers.wrappers import Bidirectional
from ..model import Sequential

Array = np.ndarray

# -- Keras ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _KerasSpec:
    """How one layer type maps between Keras and minirnn (the class name is the same in both).

    ``keys``: config entries copied as they are (same name and meaning in both; read from the Keras
    config, written as the minirnn layer's attributes of that name);
    ``required``: Keras options minirnn does not implement, with the only value it can match;
    ``initializers``: initializer config entries, carried over when both sides know the initializer;
    ``wrapped``: for wrappers, (constructor argument, attribute) of each wrapped layer, the same in both
    (the wrapped layers convert through this table too).
    """

    keys: tuple[str, ...] = ()
    required: tuple[tuple[str, Any], ...] = ()
    initializers: tuple[str, ...] = ()
    wrapped: tuple[tuple[str, str], ...] = ()


_RNN_KEYS = ("units", "activation", "use_bias", "return_sequences", "go_backwards", "dropout", "recurrent_dropout",
             "stateful", "zero_output_for_mask")
_RNN_REQUIRED = (("return_state", False),)
_RNN_INITIALIZERS = ("kernel_initializer", "recurrent_initializer", "bias_initializer")

# One entry per layer type; a new minirnn layer with Keras's layout is one more line.
_KERAS_SPECS: dict[str, _KerasSpec] = {
    "SimpleRNN": _KerasSpec(_RNN_KEYS, _RNN_REQUIRED, _RNN_INITIALIZERS),
    # Keras's SimpleRNN does not serialize its (dropout) seed; LSTM and GRU do
    "LSTM": _KerasSpec(_RNN_KEYS + ("recurrent_activation", "unit_forget_bias", "seed"), _RNN_REQUIRED,
                       _RNN_INITIALIZERS),
    "GRU": _KerasSpec(_RNN_KEYS + ("recurrent_activation", "reset_after", "seed"), _RNN_REQUIRED, _RNN_INITIALIZERS),
    "Dense": _KerasSpec(("units", "activation", "use_bias"), (), ("kernel_initializer", "bias_initializer")),
    "Dropout": _KerasSpec(("rate", "seed"), (("noise_shape", None),)),
    "Masking": _KerasSpec(("mask_value",)),
    "Bidirectional": _KerasSpec(("merge_mode",), wrapped=(("layer", "forward_layer"),
                                                          ("backward_layer", "backward_layer"))),
    "TimeDistributed": _KerasSpec(wrapped=(("layer", "layer"),)),
}

# Keras initializer class name <-> minirnn initializer name (GlorotUniform <-> glorot_uniform, ...)
_INITIALIZER_CLASSES = {"".join(p.capitalize() for p in name.split("_")): name
                        for name in initializers.INITIALIZERS}


def _spec(kind: str, where: str) -> _KerasSpec:
    if kind not in _KERAS_SPECS or kind not in LAYERS:
        known = sorted(k for k in _KERAS_SPECS if k in LAYERS)
        raise ValueError(f"{where}: layer type {kind!r} has no minirnn counterpart; supported: {', '.join(known)}")
    return _KERAS_SPECS[kind]


def _initializer_from_keras(value: Any) -> str | None:
    """The minirnn name of a serialized Keras initializer, or None when minirnn has no equivalent."""
    if isinstance(value, str):
        return value if value in initializers.INITIALIZERS else None
    if isinstance(value, dict):
        name = _INITIALIZER_CLASSES.get(value.get("class_name"))
        config = value.get("config") or {}
        if name == "orthogonal" and config.get("gain", 1.0) != 1.0:
            return None
        return name
    return None


def _layer_from_keras(klayer: Any, where: str, input_shape: tuple | None = None) -> Layer:
    """The minirnn layer (unbuilt) with ``klayer``'s config; wrapped layers convert recursively."""
    kind = type(klayer).__name__
    spec = _spec(kind, where)
    config = klayer.get_config()
    problems = [f"{key}={config.get(key)!r} (minirnn supports only {value!r})"
                for key, value in spec.required if config.get(key, value) != value]
    problems += [f"{key}={value!r} (minirnn has none)" for key, value in config.items()
                 if key.endswith(("_regularizer", "_constraint")) and value is not None]
    if not config.get("trainable", True):
        problems.append("trainable=False (minirnn trains every layer)")
    policy = klayer.dtype_policy
    if policy.compute_dtype != policy.variable_dtype or policy.variable_dtype not in ("float32", "float64"):
        problems.append(f"dtype policy {policy.name!r} (minirnn supports float32 and float64)")
    if problems:
        raise ValueError(f"{where} cannot be converted: {'; '.join(problems)}")
    kwargs = {key: config[key] for key in spec.keys}
    for key in spec.initializers:
        name = _initializer_from_keras(config.get(key))
        if name is not None:
            kwargs[key] = name
    for arg, attr in spec.wrapped:
        inner = getattr(klayer, attr)
        kwargs[arg] = _layer_from_keras(inner, f"{where}, wrapped {attr} ({inner.name!r})")
    kwargs.update(name=klayer.name, dtype=policy.variable_dtype)
    if input_shape is not None:
        kwargs["input_shape"] = input_shape
    return LAYERS[kind](**kwargs)


def from_keras(model: Any) -> Sequential:
    """A minirnn ``Sequential`` with the layers, config and weights of a built ``keras.Sequential``.

    Shapes: the input shape is taken from the Keras model; weights are copied unchanged (same layout;
    a wrapper's weights are those of its wrapped layers, Bidirectional's forward ones first). A stateful
    Keras layer's current (nonzero) states become the minirnn layer's carried ``states``.

    Example (with the ``tf`` extra; tests/test_parity_tf.py runs it):

        k = keras.Sequential([keras.Input((10, 1)), keras.layers.LSTM(50, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(1)])
        m = from_keras(k)     # minirnn Sequential: LSTM(50, relu), Dropout(0.2), Dense(1), Keras's weights
    """
    import keras

    if not isinstance(model, keras.Sequential):
        raise TypeError(f"model must be a keras.Sequential; got {type(model).__name__}")
    if not model.built or not model.inputs:
        raise ValueError("model must be built: give it a keras.Input(shape) first or call it on data")
    input_shape = tuple(model.inputs[0].shape[1:])
    layers = [_layer_from_keras(klayer, f"layer {i} ({klayer.name!r})", input_shape if i == 0 else None)
              for i, klayer in enumerate(model.layers)]
    result = Sequential(layers, name=model.name)
    if not result.built:
        result.build(input_shape)
    for layer, klayer in zip(layers, model.layers):
        layer.set_weights(klayer.get_weights())
        for sub, ksub in _with_wrapped(layer, klayer):
            if isinstance(sub, RNN) and sub.stateful and ksub.states is not None:
                states = [np.asarray(s) for s in ksub.states]
                if any(s.any() for s in states):
                    sub.reset_states(states)
    return result


def _layer_to_keras(layer: Layer, where: str) -> Any:
    import keras

    kind = type(layer).__name__
    spec = _spec(kind, where)
    kwargs = {key: getattr(layer, key) for key in spec.keys}
    config = layer.get_config()
    kwargs.update({key: config[key] for key in spec.initializers if isinstance(config.get(key), str)})
    for arg, attr in spec.wrapped:
        kwargs[arg] = _layer_to_keras(getattr(layer, attr), f"{where}, wrapped {attr}")
    if layer.name is not None:
        kwargs["name"] = layer.name
    return getattr(keras.layers, kind)(dtype=layer.dtype.name, **kwargs)


def _with_wrapped(layer: Any, klayer: Any):
    """(layer, Keras layer) and, for wrappers, the pairs of wrapped layers, recursively."""
    yield layer, klayer
    for _, attr in _KERAS_SPECS[type(layer).__name__].wrapped:
        yield from _with_wrapped(getattr(layer, attr), getattr(klayer, attr))


def to_keras(model: Sequential, batch_size: int | None = None) -> Any:
    """A built ``keras.Sequential`` with the layers, config and weights of a built minirnn ``Sequential``.

    Keras's stateful layers need a fixed batch size: ``batch_size``, by default that of the carried
    states (which are copied over); without either, a model with a stateful layer is refused.

    Example (with the ``tf`` extra; tests/test_parity_tf.py runs it):

        k = to_keras(Sequential([LSTM(4, input_shape=(10, 1)), Dense(1)]))
        k.predict(x)          # equals the minirnn model's predict(x) to float rounding
    """
    import keras

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a minirnn Sequential; got {type(model).__name__}")
    model._require_built("to_keras")
    if batch_size is not None:
        batch_size = check_positive_int("batch_size", batch_size)
    klayers = [_layer_to_keras(layer, f"layer {i} ({layer.name!r})") for i, layer in enumerate(model.layers)]
    pairs = [pair for layer, klayer in zip(model.layers, klayers) for pair in _with_wrapped(layer, klayer)]
    carried = [(sub, ksub) for sub, ksub in pairs if isinstance(sub, RNN) and sub.states is not None]
    if batch_size is None and carried:
        batch_size = carried[0][0].states[0].shape[0]
    if batch_size is None and any(isinstance(sub, RNN) and sub.stateful for sub, _ in pairs):
        raise ValueError("the model has a stateful layer, and Keras needs its batch size: pass batch_size=")
    for sub, _ in carried:
        if sub.states[0].shape[0] != batch_size:
            raise ValueError(f"{sub.describe()} carries states for batch size {sub.states[0].shape[0]}; "
                             f"got batch_size={batch_size}")
    first = model.layers[0]
    inputs = keras.Input(batch_shape=(batch_size, *first.built_input_shape), dtype=first.dtype.name)
    kmodel = keras.Sequential([inputs, *klayers], name=model.name)
    for layer, klayer in zip(model.layers, klayers):
        klayer.set_weights(layer.get_weights())
    for sub, ksub in carried:
        for variable, state in zip(ksub.states, sub.states):
            variable.assign(state)
    return kmodel


def set_keras_dropout_masks(layer: Any, input_mask: Any = None, recurrent_mask: Any = None) -> None:
    """Make a Keras SimpleRNN/LSTM/GRU layer use the given RNN dropout masks in its next call.

    Shapes: minirnn's, as ``RNN.forward(dropout_masks=(input_mask, recurrent_mask))`` takes them: input
    (k, B, D), recurrent (k, B, H), already scaled by 1/(1 - rate); k is 1, or one mask per gate block
    when Keras draws one per gate (recurrent_dropout > 0). Keras's cell (``DropoutRNNCell``) caches
    the masks it draws for one call and only draws when none is cached; this sets that cache, so the
    next call (``training=True``) runs Keras's own step with these masks, then Keras clears it.
    """
    import keras

    cell = layer.cell
    count = getattr(cell, "dropout_mask_count", None)
    for mask, attr in ((input_mask, "_dropout_mask"), (recurrent_mask, "_recurrent_dropout_mask")):
        if mask is None:
            setattr(cell, attr, None)
            continue
        mask = np.asarray(mask, dtype=cell.compute_dtype)
        k = 1 if count is None else count
        if mask.ndim != 3 or mask.shape[0] != k:
            raise ValueError(f"{attr.strip('_')} for Keras layer {layer.name!r} must have shape (k={k}, batch, n); "
                             f"got {mask.shape}")
        tensors = [keras.ops.convert_to_tensor(m) for m in mask]
        setattr(cell, attr, tensors[0] if count is None else tensors)


def keras_loss_and_gradients(model: Any, x: Any, y: Any, loss: str = "mse",
                             training: bool = False) -> tuple[float, list[Array], Array]:
    """Keras's ``(loss, [dL/dw for w in model.trainable_weights], dL/dx)``, by ``tf.GradientTape``.

    The Keras counterpart of minirnn's ``Sequential.loss_and_gradients(x, y, return_input_gradient=True)``;
    ``loss`` is 'mse' or 'mae', reduced as Keras reduces it (mean per sample, then over the batch;
    when the output carries a step mask, as after ``Masking`` with return_sequences, only over the real
    steps), in the model's output dtype. Arrays are returned as NumPy arrays.
    """
    import keras
    import tensorflow as tf

    classes = {"mse": keras.losses.MeanSquaredError, "mae": keras.losses.MeanAbsoluteError}
    if loss not in classes:
        raise ValueError(f"loss must be one of {sorted(classes)}; got {loss!r}")
    loss_fn = classes[loss](dtype=model.layers[-1].compute_dtype)
    xt = tf.constant(np.asarray(x), dtype=model.layers[0].compute_dtype)
    yt = tf.constant(np.asarray(y), dtype=model.layers[-1].compute_dtype)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        value = loss_fn(yt, model(xt, training=training))  # the loss reads the output's mask, as fit does
    *grads, dx = tape.gradient(value, [*model.trainable_weights, xt])
    return float(value), [g.numpy() for g in grads], dx.numpy()


# -- PyTorch ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TorchLayout:
    """How a minirnn recurrent layer's weights sit in a torch module's state dict.

    ``module``: the torch.nn class with this layout; ``blocks[j]``: the Keras gate block stored as
    torch's block j; ``bias``: ``"sum"`` when Keras's bias (kH,) is torch's bias_ih + bias_hh, or
    ``"rows"`` when Keras keeps the two biases as rows of a (2, kH) array; ``requires``: layer
    options torch's module needs, with the only value it computes.
    """

    module: str
    blocks: tuple[int, ...]
    bias: str = "sum"
    requires: tuple[tuple[str, Any], ...] = ()


# One entry per layer type.
_TORCH_LAYOUTS: dict[str, _TorchLayout] = {
    "SimpleRNN": _TorchLayout("RNN", (0,)),
    "LSTM": _TorchLayout("LSTM", (0, 1, 2, 3)),  # torch i, f, g, o = Keras i, f, c, o
    # torch's GRU is Keras's reset_after=True with the blocks r, z, n where Keras has z, r, h
    "GRU": _TorchLayout("GRU", (1, 0, 2), "rows", (("reset_after", True),)),
}


def _torch_layout(layer: Any) -> _TorchLayout:
    kind = type(layer).__name__
    if not isinstance(layer, RNN) or kind not in _TORCH_LAYOUTS:
        raise TypeError(f"layer must be one of the minirnn layers {', '.join(_TORCH_LAYOUTS)}; got {kind}")
    layout = _TORCH_LAYOUTS[kind]
    for option, value in layout.requires:
        if getattr(layer, option) != value:
            raise ValueError(f"{layer.describe()} has {option}={getattr(layer, option)!r}; torch.nn.{layout.module} "
                             f"computes only {option}={value!r}")
    return layout


def _torch_keys(layer: RNN) -> list[str]:
    return ["weight_ih_l0", "weight_hh_l0"] + (["bias_ih_l0", "bias_hh_l0"] if layer.use_bias else [])


def _permute_blocks(w: Array, order: tuple[int, ...], H: int) -> Array:
    """The gate blocks of ``w`` (along its last axis, each H wide) in the order ``order``."""
    return np.concatenate([w[..., b * H:(b + 1) * H] for b in order], axis=-1)


def _inverse(order: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(j) for j in np.argsort(order))


def to_torch_state_dict(layer: RNN) -> dict[str, Any]:
    """The state dict (torch tensors, the layer's dtype) of the matching one-layer torch module.

    SimpleRNN -> ``torch.nn.RNN(D, H, batch_first=True, nonlinearity=...)``, LSTM ->
    ``torch.nn.LSTM(D, H, batch_first=True)``, with ``bias=layer.use_bias``; load it with
    ``module.load_state_dict(sd)``. See the module docstring for the layout.
    """
    import torch

    layout = _torch_layout(layer)
    if not layer.built:
        raise ValueError(f"{layer.describe()} is not built yet: call it on data or give input_shape first")
    H, p = layer.units, layer.params
    arrays = {"weight_ih_l0": _permute_blocks(p["kernel"], layout.blocks, H).T,
              "weight_hh_l0": _permute_blocks(p["recurrent_kernel"], layout.blocks, H).T}
    if layer.use_bias:
        bias = _permute_blocks(p["bias"], layout.blocks, H)
        if layout.bias == "sum":
            arrays["bias_ih_l0"], arrays["bias_hh_l0"] = bias, np.zeros_like(bias)
        else:
            arrays["bias_ih_l0"], arrays["bias_hh_l0"] = bias[0], bias[1]
    return {k: torch.from_numpy(np.array(v, dtype=layer.dtype, order="C")) for k, v in arrays.items()}


def from_torch_state_dict(layer: RNN, state_dict: dict[str, Any]) -> None:
    """Set ``layer``'s weights from a one-layer, one-direction torch RNN/LSTM state dict, in place.

    Values may be torch tensors or arrays. An unbuilt layer is built for the input size of
    ``weight_ih_l0``. Everything is checked before any weight changes.
    """
    layout = _torch_layout(layer)
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict must be a dict of arrays or tensors; got {type(state_dict).__name__}")
    expected = _torch_keys(layer)
    missing = [k for k in expected if k not in state_dict]
    extra = [k for k in state_dict if k not in expected]
    if missing or extra:
        raise ValueError(f"state_dict for {layer.describe()} (use_bias={layer.use_bias}) must have exactly the keys "
                         f"{expected}; missing {missing}, unexpected {extra} (only one-layer, one-direction "
                         f"modules convert)")
    arrays = {}
    for k in expected:
        v = state_dict[k]
        if hasattr(v, "detach"):  # a torch tensor; no torch import needed to read it
            v = v.detach().cpu().numpy()
        arrays[k] = np.asarray(v)
    G, H = len(layout.blocks) * layer.units, layer.units
    D = arrays["weight_ih_l0"].shape[-1] if arrays["weight_ih_l0"].ndim == 2 else None
    if layer.built:
        D = layer.built_input_shape[-1]
    expected_shapes = {"weight_ih_l0": (G, D), "weight_hh_l0": (G, H), "bias_ih_l0": (G,), "bias_hh_l0": (G,)}
    for k in expected:
        if arrays[k].shape != expected_shapes[k]:
            raise ValueError(f"{k} must have shape {expected_shapes[k]} for {layer.describe()} with {H} units"
                             f"{'' if D is None else f' and input size {D}'}; got {arrays[k].shape}")
    if not layer.built:
        layer.build((None, D))
    inverse = _inverse(layout.blocks)
    weights = [_permute_blocks(arrays[k].T, inverse, H) for k in ("weight_ih_l0", "weight_hh_l0")]
    if layer.use_bias:
        b_ih, b_hh = (arrays[k].astype(layer.dtype) for k in ("bias_ih_l0", "bias_hh_l0"))
        bias = b_ih + b_hh if layout.bias == "sum" else np.stack([b_ih, b_hh])
        weights.append(_permute_blocks(bias, inverse, H))
    layer.set_weights(weights)


def recurrent_pairs(model: Sequential, keras_model: Any):
    """The (minirnn, Keras) recurrent layer pairs of two converted models, wrapped layers included."""
    for layer, klayer in zip(model.layers, keras_model.layers):
        if isinstance(layer, RNN):
            yield layer, klayer
        elif isinstance(layer, Bidirectional):
            yield layer.forward_layer, klayer.forward_layer
            yield layer.backward_layer, klayer.backward_layer


def inject_dropout_masks(model: Sequential, keras_model: Any, batch: int, rng: np.random.Generator) -> None:
    """For parity checks: draw every RNN layer's dropout masks once (minirnn's layout: one per gate when
    recurrent_dropout > 0, as Keras) and make both frameworks use them in their next training-mode call:
    minirnn through ``RNN.forward(dropout_masks=)`` (the layer's ``forward`` is wrapped on the instance),
    Keras through its cell's mask cache (``set_keras_dropout_masks``)."""
    for layer, klayer in recurrent_pairs(model, keras_model):
        k, dtype = layer.dropout_mask_count(), layer.dtype
        masks = (dropout_mask((k, batch, layer.built_input_shape[-1]), layer.dropout, rng, dtype)
                 if layer.dropout else None,
                 dropout_mask((k, batch, layer.units), layer.recurrent_dropout, rng, dtype)
                 if layer.recurrent_dropout else None)
        forward = type(layer).forward

        def injected(x, *, forward=forward, layer=layer, masks=masks, **kwargs):
            if kwargs.get("training"):
                kwargs["dropout_masks"] = masks
            return forward(layer, x, **kwargs)

        layer.forward = injected
        set_keras_dropout_masks(klayer, *masks)


class FixedMaskDropout(Dropout):
    """minirnn's ``Dropout`` that applies one given scaled mask (``Dropout.forward(mask=...)``) in training."""

    def __init__(self, rate: float, mask: Array, **kwargs):
        super().__init__(rate, **kwargs)
        self.mask = mask

    def forward(self, x, *, training=False, rng=None, mask=None):
        return super().forward(x, training=training, rng=rng, mask=self.mask if training else None)


def fixed_dropout_pair(rate: float, mask: Array) -> tuple[Any, FixedMaskDropout]:
    """For parity checks: a Keras layer and a minirnn ``Dropout`` that drop the same units in training.

    ``mask`` is minirnn's scaled mask (``minirnn.kernels.dropout.dropout_mask``: 0 or 1/(1-rate)). The Keras
    layer does TensorFlow's dropout arithmetic, ``where(keep, x * f32(1/(1-rate)), 0)``, with keep = mask != 0,
    so both frameworks compute bit-for-bit the same training-mode output.
    """
    import keras
    import tensorflow as tf

    class InjectedDropout(keras.layers.Layer):
        def __init__(self, keep, **kwargs):
            super().__init__(**kwargs)
            self.keep = tf.constant(keep)

        def call(self, x, training=False):
            if not training:
                return x
            return tf.where(self.keep, x * tf.constant(1.0 / (1.0 - rate), dtype=x.dtype), tf.zeros_like(x))

    return InjectedDropout(mask != 0), FixedMaskDropout(rate, mask)
