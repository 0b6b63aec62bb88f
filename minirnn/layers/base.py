"""The layer protocol: parameters, gradients and config around a pure kernel.

A layer owns its parameters (``params``, an ordered dict in Keras's ``get_weights`` order) and its
config; it keeps no per-call state. ``forward`` returns the output and an explicit cache;
``backward`` takes that cache and the upstream gradient and returns a ``LayerGrads``:

    y, cache = layer.forward(x, training=True, rng=rng)
    g = layer.backward(cache, dy)       # g.dx, g.params["kernel"], g.initial_state (RNNs)

Example:
    >>> import numpy as np
    >>> from minirnn.layers import Dense
    >>> layer = Dense(3, seed=0)
    >>> y = layer(np.ones((2, 4), dtype=np.float32))
    >>> y.shape, [w.shape for w in layer.get_weights()]
    ((2, 3), [(4, 3), (3,)])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

Array = np.ndarray

FLOAT_DTYPES = ("float32", "float64")


class LayerGrads(NamedTuple):
    """dx: gradient of the layer input; params: one gradient per parameter, same keys and order;
    initial_state: gradients of the initial states (recurrent layers), else None."""

    dx: Array
    params: dict[str, Array]
    initial_state: list[Array] | None = None


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer; got {value!r} of type {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return int(value)


def check_rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, 1); got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1); got {value}")
    return float(value)


def refuse_masked(name: str, x: Any) -> None:
    """A NumPy masked array is refused: np.asarray would drop the mask and keep the masked values."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name} is a NumPy masked array; minirnn would silently use its masked values: pass "
                        f"{name}.filled(value) (and mask steps with a Masking layer)")


def as_float_array(name: str, x: Any, dtype: np.dtype | None = None) -> Array:
    """``x`` as a floating array (cast to ``dtype`` when given), with a clear error otherwise."""
    refuse_masked(name, x)
    arr = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a numeric array; got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real; got dtype {arr.dtype}")
    if dtype is None:
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype("float32")
    with np.errstate(over="ignore"):  # an overflow to Inf is reported by the callers' finiteness checks
        return arr.astype(dtype, copy=False)


def check_finite_weight(name: str, given: Any, converted: Array) -> None:
    """Weights must be finite in the parameter's dtype: NaN/Inf, or values that overflow it (1e39 in float32)."""
    if np.isfinite(converted).all():
        return
    source = np.asarray(given)
    if np.issubdtype(source.dtype, np.floating) and not np.isfinite(source).all():
        raise ValueError(f"{name} contains NaN or Inf")
    raise ValueError(f"{name} has values that overflow {converted.dtype} (largest magnitude "
                     f"{float(np.max(np.abs(source))):.3g}; {converted.dtype} holds at most "
                     f"{float(np.finfo(converted.dtype).max):.3g})")


_REGULARIZER = "minirnn has no weight regularizers: add a penalty to the loss, or use weight_decay on the optimizer"
_CONSTRAINT = "minirnn has no weight constraints"
# Keras layer options minirnn knows and refuses (each with why), so that none is silently accepted and ignored.
KERAS_UNIMPLEMENTED: dict[str, str] = {
    **{f"{w}_regularizer": _REGULARIZER for w in ("kernel", "recurrent", "bias", "embeddings")},
    "activity_regularizer": "minirnn has no activity regularizers",
    **{f"{w}_constraint": _CONSTRAINT for w in ("kernel", "recurrent", "bias", "embeddings")},
    "unroll": "minirnn's time loop is always a Python loop; unrolling would give the same numbers",
    "use_cudnn": "minirnn runs on the CPU with NumPy only",
    "implementation": "minirnn computes each gate block as Keras's default; with recurrent_dropout > 0 it draws "
                      "one mask per gate as Keras 3 does",
    "time_major": "inputs are always (batch, time, features)",
    "trainable": "every minirnn layer is trained",
    "batch_input_shape": "give input_shape (without the batch axis)",
    "batch_size": "give input_shape (without the batch axis); stateful layers take the batch size from the data",
    "input_dim": "give input_shape=(..., input_dim)",
    "weights": "call set_weights after building the layer",
    "autocast": "dtype is the layer's; inputs are cast to it",
    "lora_rank": "minirnn has no LoRA",
    "lora_alpha": "minirnn has no LoRA",
    "sparse": "minirnn has no sparse gradients",
    "quantization_config": "minirnn has no quantization",
}


class Layer:
    """Base class. Subclasses implement ``build``, ``compute_output_shape``, ``forward``, ``backward``."""

    def __init__(self, *, input_shape: Sequence[int] | None = None, dtype: str | np.dtype = "float32",
                 name: str | None = None, seed: int | None = None, **unknown: Any):
        if unknown:
            self._refuse_keywords(unknown)
        dtype = np.dtype(dtype)
        if dtype.name not in FLOAT_DTYPES:
            raise ValueError(f"dtype must be one of {FLOAT_DTYPES}; got {dtype.name!r}")
        if input_shape is not None:
            input_shape = tuple(input_shape)
            for d in input_shape:
                if d is not None:
                    check_positive_int("input_shape entries", d)
        self.dtype = dtype
        self.input_shape = input_shape
        self.name = name
        self.seed = seed
        self.params: dict[str, Array] = {}
        self.built = False
        self.built_input_shape: tuple | None = None

    def _accepted_keywords(self) -> list[str]:
        """Every keyword the layer's constructors take (its class and the classes it builds on)."""
        import inspect

        names: list[str] = []
        own = True  # the first constructor is the class's own; a parent's required arguments come from the child
        for klass in type(self).__mro__:
            init = klass.__dict__.get("__init__")
            if init is None or klass is object:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name == "self" or p.name in names:
                    continue
                if own or p.default is not p.empty:
                    names.append(p.name)
            own = False
        return names

    def _refuse_keywords(self, unknown: dict) -> None:
        """A Keras option minirnn does not implement, or an unknown keyword: a TypeError naming the layer, the
        option and the accepted keywords (never accepted and ignored)."""
        layer = type(self).__name__
        accepted = ", ".join(self._accepted_keywords())
        for key in unknown:
            if key in KERAS_UNIMPLEMENTED:
                raise TypeError(f"{layer} does not implement Keras's option {key!r} ({KERAS_UNIMPLEMENTED[key]}); "
                                f"remove it. {layer} accepted keywords: {accepted}")
        key = next(iter(unknown))
        raise TypeError(f"{layer} got an unexpected keyword argument {key!r}; accepted keywords: {accepted}")

    # -- building ---------------------------------------------------------------------------------
    def build(self, input_shape: tuple) -> None:
        """Create the parameters for inputs of shape ``(batch,) + input_shape``."""
        self.built_input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    # Masking (Keras semantics): a (B, T) bool step mask, True on real steps, flows along a Sequential.
    supports_masking = True   # False: the mask stops here
    uses_mask = False         # True: forward takes ``mask=``

    def compute_mask(self, x: Array, mask: Array | None) -> Array | None:
        """The step mask this layer passes on, given its input and the incoming mask."""
        return mask if self.supports_masking else None

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    # -- running ----------------------------------------------------------------------------------
    def prepare_input(self, x: Any) -> Array:
        """Validate ``x``, cast it to the layer dtype and build the layer on first use."""
        x = as_float_array("x", x, self.dtype)
        if x.ndim < 2:
            raise ValueError(f"{self.describe()} expects input of shape (batch, ...); got shape {x.shape}")
        if not self.built:
            self.build(x.shape[1:])
        self.check_input_shape(x.shape)
        return x

    def check_input_shape(self, shape: tuple, name: str = "x") -> None:
        """Rank and feature size must match the built layer (other axes, such as time, may vary)."""
        expected = self.built_input_shape
        if len(shape) != len(expected) + 1 or shape[-1] != expected[-1]:
            raise ValueError(
                f"{name}: {self.describe()} was built for input of shape (batch, {', '.join(map(str, expected))}); "
                f"got shape {tuple(shape)}")

    def forward(self, x: Array, *, training: bool = False, rng: np.random.Generator | None = None):
        raise NotImplementedError

    def backward(self, cache: Any, dy: Any) -> LayerGrads:
        raise NotImplementedError

    def __call__(self, x: Any, training: bool = False, **kwargs):
        y, _ = self.forward(self.prepare_input(x), training=training, **kwargs)
        return y

    # -- weights ----------------------------------------------------------------------------------
    @property
    def weights(self) -> list[Array]:
        return list(self.params.values())

    def get_weights(self) -> list[Array]:
        return [w.copy() for w in self.params.values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Copy ``weights`` (Keras order and shapes) into the parameters, all checked before any is changed."""
        if not self.built:
            raise ValueError(f"{self.describe()} is not built yet: call it on data or give input_shape first")
        names = list(self.params)
        weights = list(weights)
        if len(weights) != len(names):
            raise ValueError(f"{self.describe()} expects {len(names)} weight arrays ({', '.join(names)}); "
                             f"got {len(weights)}")
        converted = []
        for n, w in zip(names, weights):
            # each parameter's own dtype: a wrapper's may differ from the wrapped layers' (mixed dtypes)
            arr = as_float_array(f"weight {n!r}", w, self.params[n].dtype)
            check_finite_weight(f"{self.describe()} weight {n!r}", w, arr)
            if arr.shape != self.params[n].shape:
                raise ValueError(f"{self.describe()} weight {n!r} must have shape {self.params[n].shape}; "
                                 f"got {arr.shape}")
            converted.append(arr)
        for n, arr in zip(names, converted):
            self.params[n][...] = arr

    def count_params(self) -> int:
        return int(sum(w.size for w in self.params.values()))

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype.name, "input_shape": self.input_shape, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def describe(self) -> str:
        return f"{type(self).__name__} layer{'' if self.name is None else ' ' + repr(self.name)}"

    @property
    def default_name(self) -> str:
        """The Keras-style base name, e.g. 'lstm', 'simple_rnn', 'dense'."""
        return self.keras_name

    keras_name = "layer"


# The one registry of layer classes by name (used by from_config, saving and interop). It lives here so
# that the wrappers can rebuild their inner layers without importing the package; minirnn.layers fills it.
LAYERS: dict[str, type[Layer]] = {}
