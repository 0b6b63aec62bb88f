"""Dense, Dropout, Masking, Embedding and Input.

Shapes: Dense maps (B, F) -> (B, U) or (B, T, F) -> (B, T, U) (it acts on the last axis, as in Keras);
Dropout keeps the shape.

    Dense:    z = x @ kernel + bias;  y = a(z), a element-wise, or softmax over the last axis:
              y_k = exp(z_k) / sum_j exp(z_j),  backward dz = y * (dy - sum_K dy * y)  (a VJP, no Jacobian)
    Dropout:  y = x * m / (1 - rate), m ~ Bernoulli(1 - rate), in training only; identity otherwise

Example:
    >>> import numpy as np
    >>> from minirnn.layers import Dense, Dropout
    >>> Dense(2, seed=0)(np.ones((3, 5, 4))).shape
    (3, 5, 2)
    >>> bool((Dropout(0.5)(np.ones((2, 2))) == 1).all())   # not training: identity
    True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import activations, initializers
from ..kernels.dense import dense_backward, dense_forward
from ..kernels.dropout import dropout_backward, dropout_forward
from .base import Layer, LayerGrads, check_positive_int, check_rate, refuse_masked

Array = np.ndarray


class _ActivatedCache(NamedTuple):
    inner: Any      # the linear kernel's DenseCache
    z: Array        # (..., U) the logits, kept for the crossentropies as Keras keeps ``_keras_logits``
    y: Array        # (..., U) the activated output


class Dense(Layer):
    """Fully connected layer on the last axis (see the module docstring).

    ``activation``: any element-wise activation of ``minirnn.activations`` or ``'softmax'``. After a
    ``'softmax'`` or ``'sigmoid'`` Dense as the model's last layer, a crossentropy loss is computed from the
    logits z, as Keras computes it from the ``_keras_logits`` its activations attach (``output_logits``).
    """

    keras_name = "dense"

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = "softmax" if activation == "softmax" else activations.get(activation).name
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._init_names = (kernel_initializer, bias_initializer)

    def check_input_shape(self, shape: tuple, name: str = "x") -> None:
        """Any rank >= 2 (Dense acts on the last axis); the last axis must match the kernel."""
        if len(shape) < 2 or shape[-1] != self.built_input_shape[-1]:
            raise ValueError(f"{name}: {self.describe()} was built for inputs whose last axis is "
                             f"{self.built_input_shape[-1]}; got shape {tuple(shape)}")

    def build(self, input_shape: tuple) -> None:
        rng = self._rng()
        self.params = {"kernel": self.kernel_initializer((input_shape[-1], self.units), rng, self.dtype)}
        if self.use_bias:
            self.params["bias"] = self.bias_initializer((self.units,), rng, self.dtype)
        super().build(input_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)

    # the activations whose logits Keras's crossentropies read instead of the clipped probabilities
    LOGIT_ACTIVATIONS = ("softmax", "sigmoid")

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None):
        if self.activation not in self.LOGIT_ACTIVATIONS:
            return dense_forward(x, self.params["kernel"], self.params.get("bias"), self.activation)
        z, inner = dense_forward(x, self.params["kernel"], self.params.get("bias"), None)
        if self.activation == "softmax":
            y = activations.softmax(z)
        else:
            y = activations.get("sigmoid").forward(z, np.empty_like(z))
        return y, _ActivatedCache(inner, z, y)

    def output_logits(self, cache) -> Array | None:
        """The logits z (shaped like the output) of a softmax or sigmoid Dense, else None."""
        return cache.z if isinstance(cache, _ActivatedCache) else None

    def backward(self, cache, dy) -> LayerGrads:
        if isinstance(cache, _ActivatedCache):
            dy = np.asarray(dy, dtype=cache.y.dtype)
            if self.activation == "softmax":
                dz = activations.softmax_vjp(cache.y, dy)
            else:
                dz = dy * cache.y * (1 - cache.y)
            return self.backward_from_logits(cache, dz)
        return self._grads(*dense_backward(cache, dy))

    def backward_from_logits(self, cache, dz) -> LayerGrads:
        """The gradients given dL/dz, the gradient of the logits (see ``output_logits``)."""
        return self._grads(*dense_backward(cache.inner, dz))

    def _grads(self, dx, dk, db) -> LayerGrads:
        grads = {"kernel": dk}
        if self.use_bias:
            grads["bias"] = db
        return LayerGrads(dx, grads)

    def get_config(self) -> dict:
        k, b = self._init_names
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": k, "bias_initializer": b}


class Dropout(Layer):
    """Inverted dropout; active only with ``training=True`` (``fit`` sets it, ``predict`` does not).

    Masks come from the ``rng`` passed to ``forward`` (``fit`` passes its seeded generator), else from
    the layer's own generator seeded by ``seed``.
    """

    keras_name = "dropout"

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = check_rate("rate", rate)
        self._own_rng = np.random.default_rng(seed)

    def check_input_shape(self, shape: tuple, name: str = "x") -> None:
        pass  # any shape

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None,
                mask: Array | None = None):
        """Returns ``(y, mask)``; the mask is None when inactive. ``mask`` injects a given scaled mask."""
        if not training or (self.rate == 0 and mask is None):
            return x, None
        return dropout_forward(x, self.rate, rng if rng is not None else self._own_rng, mask)

    def backward(self, cache, dy) -> LayerGrads:
        return LayerGrads(dy if cache is None else dropout_backward(cache, dy), {})

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


class Masking(Layer):
    """Marks padding steps: a step whose features all equal ``mask_value`` is masked.

    Shapes: x (B, T, D) -> y (B, T, D) and a step mask (B, T), True on real steps.

        keep_t = any_d(x_{t,d} != mask_value);   y_t = x_t * keep_t;   dx_t = dy_t * keep_t

    Recurrent layers after it carry their state through masked steps (see ``recurrent_forward``).

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1.0], [0.0], [2.0]]])
        >>> Masking(0.0).compute_mask(x, None).tolist()
        [[True, False, True]]
    """

    keras_name = "masking"

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.integer, np.floating)):
            raise TypeError(f"mask_value must be a number; got {mask_value!r}")
        self.mask_value = float(mask_value)

    def compute_mask(self, x: Array, mask: Array | None) -> Array:
        return np.any(x != self.mask_value, axis=-1)

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None):
        keep = self.compute_mask(x, None)[..., None]
        return x * keep, keep

    def backward(self, cache, dy) -> LayerGrads:
        return LayerGrads(dy * cache, {})

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_value": self.mask_value}


def _keras_uniform(shape: tuple, rng: np.random.Generator, dtype) -> Array:
    """Keras's ``'uniform'`` (``RandomUniform(-0.05, 0.05)``), Embedding's default initializer."""
    return rng.uniform(-0.05, 0.05, size=shape).astype(dtype)


def as_token_ids(name: str, x: Any, input_dim: int | None = None) -> Array:
    """``x`` as int64 token ids: an integer array, or floats that hold whole numbers (Keras casts its input to
    int32); each id in [0, input_dim) when input_dim is given. Raises a ValueError/TypeError naming x otherwise."""
    refuse_masked(name, x)
    arr = np.asarray(x)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be an array of integer token ids; got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"{name} must hold integer token ids; got non-integer values (dtype {arr.dtype})")
    ids = arr.astype(np.int64, copy=False)
    if input_dim is not None and ids.size and (ids.min() < 0 or ids.max() >= input_dim):
        raise ValueError(f"{name}: token ids must be in [0, input_dim={input_dim}); got values from {ids.min()} "
                         f"to {ids.max()}")
    return ids


class Embedding(Layer):
    """Integer tokens to vectors: a lookup in a learned (input_dim, output_dim) table, Keras's layout.

    Shapes: ids (B, T) (any shape of integers) -> y (B, T, output_dim); ``embeddings`` (input_dim, output_dim).

        y[b, t] = embeddings[ids[b, t]]
        d embeddings[v] = sum over the (b, t) with ids[b, t] = v of dy[b, t]      (a scatter-add, np.add.at)

    The input stays integer: a ``Sequential`` passes the ids to this layer uncast (floats holding whole
    numbers are accepted, as Keras casts them). The ids have no gradient, so the layer's dx is None and a
    model gradient check that starts here has no "x" row (``check_model`` says so). ``mask_zero=True`` makes
    id 0 padding: the layer passes on the step mask ``ids != 0`` (the recurrent layers then skip those
    steps, as after ``Masking``), and input_dim must count the padding id. Initializer: Keras's
    ``'uniform'``, U(-0.05, 0.05).

    Example:
        >>> import numpy as np
        >>> emb = Embedding(10, 3, mask_zero=True, seed=0)
        >>> ids = np.array([[4, 2, 0]])
        >>> y = emb(ids)
        >>> y.shape, bool(np.array_equal(y[0, 0], emb.get_weights()[0][4])), emb.compute_mask(ids, None).tolist()
        ((1, 3, 3), True, [[True, True, False]])
    """

    keras_name = "embedding"
    integer_input = True

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 mask_zero: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.output_dim = check_positive_int("output_dim", output_dim)
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise TypeError(f"mask_zero must be True or False; got {mask_zero!r}")
        self.mask_zero = bool(mask_zero)
        self._init_name = embeddings_initializer
        self.embeddings_initializer = (_keras_uniform if embeddings_initializer == "uniform"
                                       else initializers.get(embeddings_initializer))

    def prepare_input(self, x: Any) -> Array:
        ids = as_token_ids("x", x, self.input_dim)
        if ids.ndim < 1:
            raise ValueError(f"{self.describe()} expects token ids of shape (batch, ...); got shape {ids.shape}")
        if not self.built:
            self.build(ids.shape[1:])
        return ids

    def check_input_shape(self, shape: tuple, name: str = "x") -> None:
        if len(shape) != len(self.built_input_shape) + 1:
            raise ValueError(f"{name}: {self.describe()} was built for ids of shape (batch, "
                             f"{', '.join(map(str, self.built_input_shape))}); got shape {tuple(shape)}")

    def build(self, input_shape: tuple) -> None:
        self.params = {"embeddings": self.embeddings_initializer((self.input_dim, self.output_dim), self._rng(),
                                                                 self.dtype)}
        super().build(input_shape)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape, self.output_dim)

    def compute_mask(self, x: Array, mask: Array | None) -> Array | None:
        return np.asarray(x) != 0 if self.mask_zero else None

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None):
        ids = as_token_ids("x", x, self.input_dim)
        return self.params["embeddings"][ids], ids

    def backward(self, cache, dy) -> LayerGrads:
        ids = cache
        table = np.zeros_like(self.params["embeddings"])
        # a scatter-add: a token that occurs several times gets the sum of its rows' gradients
        np.add.at(table, ids.reshape(-1), np.asarray(dy, dtype=table.dtype).reshape(-1, self.output_dim))
        return LayerGrads(None, {"embeddings": table})

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": self._init_name, "mask_zero": self.mask_zero}


class InputLayer(Layer):
    """What ``Input(shape)`` returns: the input spec of a ``Sequential`` (as ``keras.Input`` in
    ``keras.Sequential([keras.Input((10, 1)), ...])``). Adding it first gives the next layer its
    input_shape; it holds no weights and is not one of ``model.layers`` (as in Keras).

    Example:
        >>> from minirnn import Sequential
        >>> from minirnn.layers import Input, LSTM
        >>> model = Sequential([Input(shape=(10, 1)), LSTM(4, seed=0)])
        >>> model.built, len(model.layers), model.output_shape()
        (True, 1, (4,))
    """

    keras_name = "input_layer"

    def __init__(self, shape: Any, dtype: str | None = None, name: str | None = None, **kwargs):
        if shape is None or isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
            raise TypeError(f"Input shape must be a tuple without the batch axis, e.g. (10, 1); got {shape!r}")
        shape = tuple(shape)
        # an integer dtype is what Keras's Input takes before an Embedding; minirnn layers read ids as integers
        self.input_dtype = None if dtype is None else np.dtype(dtype)
        layer_dtype = "float32" if dtype is None or not np.issubdtype(np.dtype(dtype), np.floating) else dtype
        super().__init__(input_shape=shape, dtype=layer_dtype, name=name, **kwargs)
        self.shape = shape


def Input(shape: Any, dtype: str | None = None, name: str | None = None, **kwargs) -> InputLayer:  # noqa: N802
    """``Input(shape=(T, D))``: the first entry of ``Sequential([...])``, as ``keras.Input`` (see ``InputLayer``).

    Shapes: ``shape`` without the batch axis (None for a length that varies, e.g. ``(None,)`` for token ids).
    """
    return InputLayer(shape, dtype=dtype, name=name, **kwargs)
