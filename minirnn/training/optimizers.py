"""Optimizers in Keras's formulation, updating parameters in place.

Per parameter w with gradient g, at step t = 1, 2, ...:

    SGD:   v = momentum * v - lr * g;   w = w + v            (nesterov: w = w + momentum * v - lr * g)
           (momentum = 0: w = w - lr * g)
    Adam:  m = m + (g - m) * (1 - beta_1)
           v = v + (g^2 - v) * (1 - beta_2)
           alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
           w = w - alpha * m / (sqrt(v) + epsilon)           (Keras's "epsilon-hat" placement)
           amsgrad: v_hat = max(v_hat, v), used in place of v
    AdamW: Adam with weight_decay = 0.004 by default
    RMSprop: s = rho * s + (1 - rho) * g^2                 (centered: a = rho * a + (1 - rho) * g,
           d = lr * g / sqrt(s + epsilon)                    d = lr * g / sqrt(s - a^2 + epsilon))
           w = w - d                                        (momentum: u = momentum * u + d; w = w - u)

Weight decay (any optimizer, ``weight_decay=wd``), applied after clipping and before the update,
with the step's learning rate: ``w = w - w * wd * lr``. ``learning_rate`` may be a schedule
(``minirnn.training.optimizers.schedules``), evaluated at the step counter before each step (0 first).

Gradient clipping before the update (at most one of them):
    clipnorm          g = g * c / max(||g||, c)             per tensor
    global_clipnorm   g = g * c / max(||(g_1, ..., g_n)||, c)  over all tensors
    clipvalue         g = clip(g, -c, c)

Scalars are computed in each parameter's dtype, as Keras does, so float32 training follows Keras's
float32 arithmetic bit for bit: the same operations in the same order, all of them ones IEEE 754 rounds
exactly (+, -, *, /, sqrt, max) except Adam's powers beta^t, which minirnn computes as TensorFlow's kernel
does on Keras's scalars, with the C library's ``powf`` (NumPy's scalar ``**``; ``np.power``'s vectorised
loop is not correctly rounded and differs between SIMD targets). The state (``iterations`` and the slot
arrays ``m``, ``v``, ``momentums``) is plain NumPy, aligned with the parameter list, for inspection.

Example:
    >>> import numpy as np
    >>> from minirnn.training.optimizers import Adam
    >>> w = np.array([1.0]); opt = Adam(learning_rate=0.1)
    >>> opt.apply([w], [np.array([0.5])]); opt.iterations, w.round(4).tolist()
    (1, [0.9])
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._atomic import all_or_nothing
from . import schedules

Array = np.ndarray


def _check_nonneg(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value}")
    return float(value)


def _check_positive(name: str, value, allow_none: bool = False):
    """A finite number > 0: a clip bound or an epsilon of 0 makes training silently wrong (a clipnorm,
    clipvalue or global_clipnorm of 0 zeroes every gradient, so nothing ever moves; epsilon = 0 divides
    0 by 0 on the first exactly-zero gradient)."""
    value = _check_nonneg(name, value, allow_none)
    if value is not None and value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value}")
    return value


# optimizer -> weakref to the model it is compiled into; outside the instance so that copies start unbound
_OWNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class Optimizer:
    """Base class: clipping, the step counter, and slot creation; subclasses implement ``update``."""

    name = "optimizer"

    def __init__(self, learning_rate: float | schedules.LearningRateSchedule = 0.001, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 weight_decay: float | None = None):
        # With a schedule, ``learning_rate`` holds the rate of the latest step (the first step's before any).
        self.schedule = learning_rate if isinstance(learning_rate, schedules.LearningRateSchedule) else None
        self.learning_rate = (self.schedule(0) if self.schedule is not None
                              else _check_nonneg("learning_rate", learning_rate))
        self.weight_decay = _check_nonneg("weight_decay", weight_decay, True)
        given = [n for n, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                ("global_clipnorm", global_clipnorm)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"only one of clipnorm, clipvalue, global_clipnorm may be set; got {', '.join(given)}")
        self.clipnorm = _check_positive("clipnorm", clipnorm, True)
        self.clipvalue = _check_positive("clipvalue", clipvalue, True)
        self.global_clipnorm = _check_positive("global_clipnorm", global_clipnorm, True)
        self.iterations = 0
        self.slots: dict[str, list[Array]] = {}

    def __setstate__(self, state: dict) -> None:
        # copy.deepcopy and pickle copy the flat slot buffers and the per-parameter arrays separately: make the
        # per-parameter arrays views into the copied buffers again (``build``), as ``update`` relies on
        self.__dict__.update(state)
        flat = state.get("_flat_slots")
        if flat is not None:
            self.slots = {n: [buf[end - a.size:end].reshape(a.shape) for a, end in
                              zip(self.slots[n], np.cumsum([a.size for a in self.slots[n]]))]
                          for n, buf in flat.items()}

    # -- the model it belongs to ------------------------------------------------------------------
    def bind(self, model: Any) -> None:
        """Make this optimizer ``model``'s (``Sequential.compile`` calls it). An instance belongs to one
        model: compiled into a second one it would silently share its moments and step counter, so that is
        refused while the first model is alive. ``copy.deepcopy(optimizer)`` gives an unbound copy."""
        ref = _OWNERS.get(self)
        owner = ref() if ref is not None else None
        if owner is not None and owner is not model:
            raise ValueError(f"optimizer: this {type(self).__name__} instance is already compiled into model "
                             f"{getattr(owner, 'name', owner)!r} (its moments and step counter belong to that "
                             f"model); give each model its own optimizer: a new instance, or "
                             f"copy.deepcopy(optimizer)")
        _OWNERS[self] = weakref.ref(model)

    def release(self, model: Any) -> None:
        """Forget ``model`` as the owner (when it is compiled with another optimizer)."""
        ref = _OWNERS.get(self)
        if ref is not None and ref() is model:
            del _OWNERS[self]

    # -- slots ------------------------------------------------------------------------------------
    slot_names: tuple[str, ...] = ()

    def build(self, params: Sequence[Array]) -> None:
        """Slots of zeros shaped like the parameters, ``slots[name][k]`` for parameter k.

        When every parameter has one dtype, the arrays of each slot are views into one flat buffer
        (``_flat_slots[name]``, the parameters' values end to end), so that an element-wise update can
        run one NumPy call per operation over all parameters (Adam's ``_update_all``) instead of one per
        operation and parameter; the per-parameter arrays are still what ``slots``, ``get_state`` and
        ``set_state`` show and take (``set_state`` copies into them in place, keeping the views).
        """
        params = list(params)
        if len({p.dtype for p in params}) != 1:
            slots = {name: [np.zeros_like(p) for p in params] for name in self.slot_names}
            self._flat_slots, self.slots = None, slots  # one statement: never half-built
            return
        dtype = params[0].dtype
        ends = np.cumsum([p.size for p in params])
        flat_slots = {name: np.zeros(int(ends[-1]), dtype) for name in self.slot_names}
        slots = {name: [flat[end - p.size:end].reshape(p.shape) for p, end in zip(params, ends)]
                 for name, flat in flat_slots.items()}
        self._flat_slots, self.slots = flat_slots, slots

    def _check_built(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
        for k, (p, g) in enumerate(zip(params, grads)):
            if np.shape(g) != p.shape:
                raise ValueError(f"gradient {k} must have the parameter's shape {p.shape}; got {np.shape(g)}")
        if self.slot_names and (not self.slots or len(self.slots[self.slot_names[0]]) != len(params)
                                or any(s.shape != p.shape for s, p in zip(self.slots[self.slot_names[0]], params))):
            if self.iterations:
                raise ValueError("this optimizer was used with different parameters; create a new one")
            self.build(params)

    # -- clipping ---------------------------------------------------------------------------------
    def clip(self, grads: Sequence[Array]) -> list[Array]:
        grads = list(grads)
        if self.clipnorm is not None:
            out = []
            for g in grads:
                c = g.dtype.type(self.clipnorm)
                out.append(g * c / np.maximum(np.sqrt(np.sum(g * g)), c))
            return out
        if self.global_clipnorm is not None:
            norm = np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
            c = self.global_clipnorm
            if norm > c:
                return [g * g.dtype.type(c / norm) for g in grads]
            return grads
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    # -- stepping ---------------------------------------------------------------------------------
    def apply(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        """One step: clip, then update every parameter in place; ``iterations`` counts steps.

        All or nothing: if anything raises during the step (KeyboardInterrupt included), every parameter
        and all the optimizer state are put back as they were before it (``snapshot`` / ``restore``).
        """
        self._check_built(params, grads)  # the slots exist before the snapshot, so that it holds them
        if self.__dict__.get("_caller_guards_step"):  # Sequential's training step took the snapshot
            self._apply(params, grads)
            return
        saved = self.snapshot(params)
        # the restore itself completes under a further KeyboardInterrupt (minirnn._atomic)
        all_or_nothing(lambda: self._apply(params, grads), lambda: self.restore(params, saved))

    def prepare(self, params: Sequence[Array]) -> None:
        """Create the slots for ``params`` if they do not exist yet (what the first ``apply`` would do)."""
        params = list(params)
        self._check_built(params, params)

    def snapshot(self, params: Sequence[Array]) -> tuple:
        """Copies of ``params`` and of all the optimizer state (step counter, learning rate, every slot);
        ``restore(params, snapshot)`` puts them back in place. Take it after the slots exist (``prepare``)."""
        flat = self.__dict__.get("_flat_slots")
        slots = ({n: a.copy() for n, a in flat.items()} if flat is not None
                 else {n: [a.copy() for a in v] for n, v in self.slots.items()})
        return [p.copy() for p in params], self.iterations, self.learning_rate, flat is not None, slots

    def restore(self, params: Sequence[Array], saved: tuple) -> None:
        """Put back what ``snapshot`` copied: parameters and slots in place (views and buffers kept)."""
        weights, iterations, learning_rate, was_flat, slots = saved
        for p, w in zip(params, weights):
            np.copyto(p, w)
        flat = self.__dict__.get("_flat_slots")
        if was_flat and flat is not None and set(flat) == set(slots):
            for n, a in slots.items():
                np.copyto(flat[n], a)
        elif not was_flat and set(self.slots) == set(slots):
            for n, arrays in slots.items():
                for b, a in zip(self.slots[n], arrays):
                    np.copyto(b, a)
        self.iterations, self.learning_rate = iterations, learning_rate

    def _apply(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        """The step itself, in place and not atomic (``apply`` and ``Sequential``'s training step guard it)."""
        grads = self.clip(grads)
        if self.schedule is not None:
            self.learning_rate = self.schedule(self.iterations)
        if self.weight_decay:
            for p in params:  # Keras: after clipping, before the step, with the step's learning rate
                f = p.dtype.type
                p -= p * f(self.weight_decay) * f(self.learning_rate)
        self.iterations += 1
        self._update_all(params, grads)

    def _update_all(self, params: Sequence[Array], grads: Sequence[Array]) -> None:
        for k, (p, g) in enumerate(zip(params, grads)):
            self.update(k, p, np.asarray(g, dtype=p.dtype))

    def update(self, k: int, w: Array, g: Array) -> None:
        raise NotImplementedError

    def _work_arrays(self, k: int, w: Array, n: int = 2) -> list[Array]:
        """n work arrays shaped like parameter k, made once and reused at every step (not state)."""
        work = self.__dict__.setdefault("_work", {})
        arrays = work.get(k)
        if arrays is None or len(arrays) < n or arrays[0].shape != w.shape or arrays[0].dtype != w.dtype:
            arrays = work[k] = [np.empty_like(w) for _ in range(n)]
        return arrays

    def get_config(self) -> dict:
        lr = schedules.serialize(self.schedule) if self.schedule is not None else self.learning_rate
        return {"name": self.name, "learning_rate": lr, "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm, "weight_decay": self.weight_decay}

    def get_state(self) -> dict:
        """Copies of the step counter and every slot array (inspectable; saved with a model)."""
        return {"iterations": self.iterations, **{n: [a.copy() for a in v] for n, v in self.slots.items()}}

    def set_state(self, state: dict) -> None:
        """Restore what ``get_state`` returned (slot arrays are copied in place)."""
        names = set(state) - {"iterations"}
        if names != set(self.slots):
            raise ValueError(f"optimizer state must hold {sorted(self.slots)}; got {sorted(names)}")
        for n in names:
            if len(state[n]) != len(self.slots[n]) or any(
                    np.shape(a) != b.shape for a, b in zip(state[n], self.slots[n])):
                raise ValueError(f"optimizer slot {n!r} does not match this optimizer's parameters")
        for n in names:
            for a, b in zip(state[n], self.slots[n]):
                b[...] = a
        self.iterations = int(state["iterations"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as in Keras."""

    name = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        momentum = _check_nonneg("momentum", momentum)
        if momentum > 1:
            raise ValueError(f"momentum must be in [0, 1]; got {momentum}")
        self.momentum = momentum
        self.nesterov = bool(nesterov)
        self.slot_names = ("momentums",) if momentum else ()

    def update(self, k, w, g):
        lr = w.dtype.type(self.learning_rate)
        if not self.momentum:
            w -= lr * g
            return
        v = self.slots["momentums"][k]
        mom = w.dtype.type(self.momentum)
        v *= mom
        v -= lr * g
        if self.nesterov:
            w += mom * v - lr * g
        else:
            w += v

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with Keras's defaults (lr 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7) and update order;
    ``amsgrad=True`` keeps the running maximum ``v_hat`` of v and divides by its root instead."""

    name = "adam"
    slot_names = ("m", "v")

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        for n, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if _check_nonneg(n, b) >= 1:
                raise ValueError(f"{n} must be in [0, 1); got {b}")
        self.beta_1, self.beta_2 = float(beta_1), float(beta_2)
        self.epsilon = _check_positive("epsilon", epsilon)
        if not isinstance(amsgrad, (bool, np.bool_)):
            raise TypeError(f"amsgrad must be True or False; got {amsgrad!r}")
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self.slot_names = ("m", "v", "v_hat")

    @property
    def m(self) -> list[Array]:
        return self.slots.get("m", [])

    @property
    def v(self) -> list[Array]:
        return self.slots.get("v", [])

    def _alpha(self, dtype: np.dtype):
        """lr * sqrt(1 - beta_2^t) / (1 - beta_1^t), in the variable's dtype as Keras computes it; once per step."""
        key = (self.iterations, self.learning_rate, dtype)
        cached = self.__dict__.get("_alpha_cache")
        if cached is None or cached[0] != key:
            f = dtype.type
            t = f(self.iterations)
            # ``**`` on two NumPy scalars is NumPy's scalar math, which calls the C library's pow/powf, the
            # function TensorFlow's Pow kernel calls on Keras's 0-d beta tensors; ``np.power`` would run
            # NumPy's vectorised pow loop instead, which is not correctly rounded and differs between SIMD
            # targets (float32 0.9^4: 0.6561 under AVX-512; 0.6560999 without it, in powf and in Keras).
            b1_power, b2_power = f(self.beta_1) ** t, f(self.beta_2) ** t
            cached = self._alpha_cache = (key, f(self.learning_rate) * np.sqrt(f(1) - b2_power) / (f(1) - b1_power))
        return cached[1]

    def update(self, k, w, g):
        a, b = self._work_arrays(k, w)
        v_hat = self.slots["v_hat"][k] if self.amsgrad else None
        w -= self._step(self.slots["m"][k], self.slots["v"][k], v_hat, g, a, b)

    def _update_all(self, params, grads):
        flat = getattr(self, "_flat_slots", None)
        if flat is None:
            return super()._update_all(params, grads)
        # Every parameter in one pass: the gradients end to end in one array, then each operation of
        # ``_step`` is one NumPy call over all of them (12 calls a step instead of 12 per parameter; the
        # same operations on the same numbers, so the same results). Only the last subtraction is per
        # parameter: the parameters themselves are separate arrays.
        m, v = flat["m"], flat["v"]
        g, a, b = self._work_arrays("all", m, 3)
        np.concatenate([np.ravel(x) for x in grads], out=g)
        self._step(m, v, flat.get("v_hat"), g, a, b)
        end = 0
        for p in params:
            p -= a[end:end + p.size].reshape(p.shape)
            end += p.size

    def _step(self, m: Array, v: Array, v_hat: Array | None, g: Array, a: Array, b: Array) -> Array:
        """Update m and v (and v_hat) in place and return the step in ``a``: w -= a is the update.

        Keras's operations in Keras's order, each one IEEE 754 rounds exactly (so float32 results are
        Keras's bit for bit, whichever SIMD loop NumPy runs; the power in alpha is powf, see ``_alpha``),
        written into two work arrays a, b instead of fresh temporaries: a step allocates nothing.
        """
        f = m.dtype.type
        alpha = self._alpha(m.dtype)
        np.subtract(g, m, out=a)
        a *= f(1 - self.beta_1)
        m += a  # m += (g - m) * (1 - beta_1)
        np.multiply(g, g, out=a)
        a -= v
        a *= f(1 - self.beta_2)
        v += a  # v += (g^2 - v) * (1 - beta_2)
        if v_hat is not None:  # amsgrad
            v = np.maximum(v_hat, v, out=v_hat)
        np.multiply(m, alpha, out=a)
        np.sqrt(v, out=b)
        b += f(self.epsilon)
        a /= b
        return a  # (m * alpha) / (sqrt(v) + epsilon)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay, Keras's ``AdamW``: the same update with ``weight_decay``
    defaulting to 0.004 (``w = w - w * wd * lr`` before each step)."""

    name = "adamw"

    def __init__(self, learning_rate: float = 0.001, weight_decay: float = 0.004, **kwargs):
        if weight_decay is None:
            raise ValueError("weight_decay must be a number for AdamW; got None")
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop in Keras's form (lr 1e-3, rho 0.9, momentum 0, epsilon 1e-7 inside the root, centered False).

    Slots: ``velocities`` (the running mean of g^2), ``momentums`` when momentum > 0,
    ``average_gradients`` when centered.
    """

    name = "rmsprop"

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        for n, b in (("rho", rho), ("momentum", momentum)):
            if _check_nonneg(n, b) > 1:
                raise ValueError(f"{n} must be in [0, 1]; got {b}")
        self.rho, self.momentum = float(rho), float(momentum)
        self.epsilon = _check_positive("epsilon", epsilon)
        if not isinstance(centered, (bool, np.bool_)):
            raise TypeError(f"centered must be True or False; got {centered!r}")
        self.centered = bool(centered)
        self.slot_names = ("velocities",) + (("momentums",) if self.momentum else ()) + (
            ("average_gradients",) if self.centered else ())

    def update(self, k, w, g):
        f = w.dtype.type
        rho = f(self.rho)
        s = self.slots["velocities"][k]
        s *= rho
        s += f(1 - self.rho) * (g * g)
        if self.centered:
            a = self.slots["average_gradients"][k]
            a *= rho
            a += f(1 - self.rho) * g
            denominator = s - a * a + f(self.epsilon)
        else:
            denominator = s + f(self.epsilon)
        increment = (f(self.learning_rate) * g) / np.sqrt(denominator)
        if self.momentum:
            u = self.slots["momentums"][k]
            u *= f(self.momentum)
            u += increment
            w -= u
        else:
            w -= increment

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


OPTIMIZERS = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop, "adamw": AdamW}


def get(optimizer: str | Optimizer) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    raise ValueError(f"unknown optimizer {optimizer!r}; expected an Optimizer instance or one of {sorted(OPTIMIZERS)}")


def from_config(config: dict) -> Optimizer:
    """A fresh optimizer (no state) from ``get_config()``; the state is restored by ``set_state``."""
    if not isinstance(config, dict) or config.get("name") not in OPTIMIZERS:
        raise ValueError(f"optimizer config must be a dict with 'name' one of {sorted(OPTIMIZERS)}; got {config!r}")
    kwargs = {k: v for k, v in config.items() if k != "name"}
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = schedules.deserialize(kwargs["learning_rate"])
    return OPTIMIZERS[config["name"]](**kwargs)
