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
from .base import Layer, LayerGrads, check_positive_int, check_rate

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
