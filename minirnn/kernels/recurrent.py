"""Recurrent kernels: one time-loop driver, and the cells it drives.

Shapes (B batch, T time steps, D input features, H units, k gate blocks per cell):

    x                (B, T, D)      input sequence, batch-major as in Keras
    kernel           (D, k H)       input weights, gate blocks side by side (Keras layout)
    recurrent_kernel (H, k H)       recurrent weights, same block order
    bias             (k H,)         or None
    states           [h_0] or [h_0, c_0], each (B, H)
    outputs          (B, T, H)      h_1 .. h_T

Every cell shares the affine pre-activation

    z_t = x_t @ kernel + bias + h_{t-1} @ recurrent_kernel              (B, k H)

so the driver (``recurrent_forward`` / ``recurrent_backward``) owns everything that does not depend on
the cell:

* the input projection of *all* time steps is one matmul before the loop,
  ``Z = X @ kernel + bias`` with X the (T B, D) time-major input;
* inside the loop only the recurrent product ``h_{t-1} @ recurrent_kernel`` and the cell's
  element-wise work remain;
* in backpropagation through time the loop only produces dZ_t = dL/dz_t and carries the state
  gradients backwards; the weight gradients are then single matmuls summed over time,
  ``dkernel = X^T dZ``, ``drecurrent_kernel = H_prev^T dZ``, ``dbias = sum dZ``, ``dx = dZ kernel^T``.

Buffers are time-major ``(T, B, ...)`` so that each step reads and writes contiguous blocks.
A cell stores its activations (not pre-activations) in the cache; derivatives are computed from
them (see ``minirnn.activations``) so nothing is recomputed in the backward pass.

Example:
    >>> import numpy as np
    >>> from minirnn.kernels import lstm_forward, lstm_backward
    >>> rng = np.random.default_rng(0)
    >>> B, T, D, H = 2, 3, 4, 5
    >>> x = rng.standard_normal((B, T, D))
    >>> W, U, b = rng.standard_normal((D, 4 * H)), rng.standard_normal((H, 4 * H)), np.zeros(4 * H)
    >>> y, (h, c), cache = lstm_forward(x, W, U, b)
    >>> y.shape, h.shape, c.shape
    ((2, 3, 5), (2, 5), (2, 5))
    >>> g = lstm_backward(cache, d_outputs=np.ones_like(y))
    >>> g.kernel.shape, g.dx.shape, len(g.initial_states)
    ((4, 20), (2, 3, 4), 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

import numpy as np

from .. import activations

Array = np.ndarray


class RecurrentGrads(NamedTuple):
    """Gradients returned by ``recurrent_backward``; ``bias`` is None when the layer has none."""

    dx: Array
    initial_states: list[Array]
    kernel: Array
    recurrent_kernel: Array
    bias: Array | None
    dh_over_time: Array | None = None  # (T, B, H): dL/dh_t for t = 1..T, when requested


@dataclass
class RecurrentCache:
    """Everything the backward pass needs, and what a student may want to print.

    ``buffers`` holds the cell's time-major arrays: always ``"x"`` (T, B, D) and ``"z"`` (T, B, kH),
    the activated gate values, plus one ``(T + 1, B, H)`` array per state (index 0 is the initial
    state), plus whatever the cell caches (for the LSTM ``"c_act"`` = a(c_t)).
    """

    cell: "RecurrentCell"
    kernel: Array
    recurrent_kernel: Array
    use_bias: bool
    buffers: dict[str, Array] = field(default_factory=dict)

    @property
    def T(self) -> int:
        return self.buffers["z"].shape[0]


class RecurrentCell:
    """Base class and protocol for a cell driven by ``recurrent_forward``/``recurrent_backward``.

    A cell declares ``gates`` (k, the number of H-wide blocks of the pre-activation) and
    ``state_names`` (the first state is the output h), and implements two steps that work in place
    on the time-major buffers of a ``RecurrentCache``:

    * ``step_forward(t, buf, recurrent_kernel, scratch)``: ``buf["z"][t]`` holds
      ``x_t @ kernel + bias`` on entry; add the recurrent product, apply the activations in place
      and write the states of step t into ``buf[name][t + 1]``;
    * ``step_backward(t, buf, d_states, dz, recurrent_kernel_T, scratch)``: given ``d_states``, the
      gradients of the loss with respect to the states of step t (in place, each (B, H)), write
      dL/dz_t into ``dz`` and overwrite ``d_states`` with the gradients of the states of step t-1.

    ``scratch`` is a dict of per-call work arrays the cell allocates once in ``scratch_buffers``.
    """

    gates: int = 1
    state_names: tuple[str, ...] = ("h",)

    def extra_buffers(self, T: int, B: int, H: int, dtype: np.dtype) -> dict[str, Array]:
        return {}

    def scratch_buffers(self, B: int, H: int, dtype: np.dtype) -> dict[str, Array]:
        return {"rec": np.empty((B, self.gates * H), dtype)}

    def step_forward(self, t: int, buf: dict[str, Array], recurrent_kernel: Array, scratch: dict) -> None:
        raise NotImplementedError

    def step_backward(
        self, t: int, buf: dict[str, Array], d_states: list[Array], dz: Array,
        recurrent_kernel_T: Array, scratch: dict,
    ) -> None:
        raise NotImplementedError

    def _add_recurrent_product(self, t: int, buf: dict[str, Array], recurrent_kernel: Array, scratch: dict) -> Array:
        """z_t += h_{t-1} @ recurrent_kernel (into a reused buffer: no allocation per step)."""
        z = buf["z"][t]
        np.matmul(buf["h"][t], recurrent_kernel, out=scratch["rec"])
        z += scratch["rec"]
        return z


@dataclass(frozen=True)
class SimpleRNNCell(RecurrentCell):
    """Elman cell: ``h_t = a(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)``; k = 1.

    Backward, with dh_t the total gradient reaching h_t:
        dz_t = dh_t * a'(z_t)               (a' from the cached h_t)
        dh_{t-1} = dz_t @ recurrent_kernel^T
    """

    activation: str = "tanh"
    gates = 1
    state_names = ("h",)

    def __post_init__(self):
        activations.get(self.activation)  # fail at construction on an unknown name

    def scratch_buffers(self, B: int, H: int, dtype: np.dtype) -> dict[str, Array]:
        return {"rec": np.empty((B, H), dtype), "deriv": np.empty((B, H), dtype)}

    def step_forward(self, t, buf, recurrent_kernel, scratch):
        z = self._add_recurrent_product(t, buf, recurrent_kernel, scratch)
        activations.get(self.activation).forward(z, out=z)
        buf["h"][t + 1] = z

    def step_backward(self, t, buf, d_states, dz, recurrent_kernel_T, scratch):
        (dh,) = d_states
        activations.get(self.activation).derivative(buf["z"][t], out=scratch["deriv"])
        np.multiply(dh, scratch["deriv"], out=dz)
        np.matmul(dz, recurrent_kernel_T, out=dh)


@dataclass(frozen=True)
class LSTMCell(RecurrentCell):
    """Keras LSTM cell; k = 4 blocks in the order i, f, c (candidate g), o.

        z_t = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias
        i = s(z_i)   f = s(z_f)   g = a(z_c)   o = s(z_o)      (s = recurrent_activation)
        c_t = f * c_{t-1} + i * g
        h_t = o * a(c_t)                                        (a = activation, applied twice)

    Backward, with dh, dc the total gradients reaching h_t, c_t:
        dz_o = dh * a(c_t) * s'(o)
        dc  += dh * o * a'(c_t)
        dz_i = dc * g * s'(i);   dz_c = dc * i * a'(g);   dz_f = dc * c_{t-1} * s'(f)
        dc_{t-1} = dc * f;       dh_{t-1} = dz_t @ recurrent_kernel^T
    """

    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    gates = 4
    state_names = ("h", "c")

    def __post_init__(self):
        activations.get(self.activation)
        activations.get(self.recurrent_activation)

    def extra_buffers(self, T, B, H, dtype):
        return {"c_act": np.empty((T, B, H), dtype)}

    def scratch_buffers(self, B, H, dtype):
        return {"rec": np.empty((B, 4 * H), dtype), "tmp": np.empty((B, H), dtype),
                "deriv": np.empty((B, H), dtype)}

    @staticmethod
    def _split(z: Array) -> tuple[Array, Array, Array, Array]:
        H = z.shape[-1] // 4
        return z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]

    def step_forward(self, t, buf, recurrent_kernel, scratch):
        a, s = activations.get(self.activation), activations.get(self.recurrent_activation)
        z = self._add_recurrent_product(t, buf, recurrent_kernel, scratch)
        i, f, g, o = self._split(z)
        H = i.shape[1]
        s.forward(z[:, :2 * H], out=z[:, :2 * H])  # i and f are adjacent: one call
        a.forward(g, out=g)
        s.forward(o, out=o)
        c_prev, c = buf["c"][t], buf["c"][t + 1]
        np.multiply(f, c_prev, out=c)
        np.multiply(i, g, out=scratch["tmp"])
        c += scratch["tmp"]
        c_act = a.forward(c, out=buf["c_act"][t])
        np.multiply(o, c_act, out=buf["h"][t + 1])

    def step_backward(self, t, buf, d_states, dz, recurrent_kernel_T, scratch):
        a, s = activations.get(self.activation), activations.get(self.recurrent_activation)
        dh, dc = d_states
        i, f, g, o = self._split(buf["z"][t])
        dz_i, dz_f, dz_c, dz_o = self._split(dz)
        c_act, c_prev = buf["c_act"][t], buf["c"][t]
        tmp, deriv = scratch["tmp"], scratch["deriv"]
        # output gate and the path through h_t = o * a(c_t)
        np.multiply(dh, c_act, out=dz_o)
        dz_o *= s.derivative(o, out=deriv)
        np.multiply(dh, o, out=tmp)
        tmp *= a.derivative(c_act, out=deriv)
        dc += tmp
        # c_t = f * c_{t-1} + i * g
        np.multiply(dc, g, out=dz_i)
        dz_i *= s.derivative(i, out=deriv)
        np.multiply(dc, i, out=dz_c)
        dz_c *= a.derivative(g, out=deriv)
        np.multiply(dc, c_prev, out=dz_f)
        dz_f *= s.derivative(f, out=deriv)
        dc *= f
        np.matmul(dz, recurrent_kernel_T, out=dh)


def _check_weights(cell: RecurrentCell, x: Array, kernel: Array, recurrent_kernel: Array, bias: Array | None) -> int:
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, timesteps, features); got shape {x.shape}")
    H = recurrent_kernel.shape[0]
    G = cell.gates * H
    D = x.shape[2]
    if kernel.shape != (D, G):
        raise ValueError(f"kernel must have shape {(D, G)} for input features {D} and {H} units; got {kernel.shape}")
    if recurrent_kernel.shape != (H, G):
        raise ValueError(f"recurrent_kernel must have shape {(H, G)}; got {recurrent_kernel.shape}")
    if bias is not None and bias.shape != (G,):
        raise ValueError(f"bias must have shape {(G,)}; got {bias.shape}")
    return H


def recurrent_forward(
    cell: RecurrentCell,
    x: Array,
    kernel: Array,
    recurrent_kernel: Array,
    bias: Array | None = None,
    initial_states: Sequence[Array] | None = None,
) -> tuple[Array, list[Array], RecurrentCache]:
    """Run ``cell`` over a whole sequence.

    Shapes: x (B, T, D), kernel (D, kH), recurrent_kernel (H, kH), bias (kH,) or None,
    initial_states one (B, H) array per ``cell.state_names`` (zeros when None).
    Returns ``(outputs (B, T, H), final_states [(B, H), ...], cache)``.
    The computation dtype is the common dtype of x and the weights.
    """
    H = _check_weights(cell, x, kernel, recurrent_kernel, bias)
    B, T, D = x.shape
    dtype = np.result_type(x, kernel, recurrent_kernel, *(() if bias is None else (bias,)))
    G = cell.gates * H

    buf: dict[str, Array] = {"x": np.ascontiguousarray(x.transpose(1, 0, 2), dtype=dtype)}
    # One matmul for the input projection of every time step (the loop then adds only h @ U).
    z = buf["x"].reshape(T * B, D) @ kernel.astype(dtype, copy=False)
    if bias is not None:
        z += bias
    buf["z"] = z.reshape(T, B, G)
    for k, name in enumerate(cell.state_names):
        states = np.empty((T + 1, B, H), dtype)
        if initial_states is None:
            states[0] = 0
        else:
            s0 = np.asarray(initial_states[k])
            if s0.shape != (B, H):
                raise ValueError(f"initial state {name!r} must have shape {(B, H)}; got {s0.shape}")
            states[0] = s0
        buf[name] = states
    buf.update(cell.extra_buffers(T, B, H, dtype))

    U = np.ascontiguousarray(recurrent_kernel, dtype=dtype)
    scratch = cell.scratch_buffers(B, H, dtype)
    for t in range(T):
        cell.step_forward(t, buf, U, scratch)

    outputs = buf["h"][1:].transpose(1, 0, 2)
    final_states = [buf[name][T].copy() for name in cell.state_names]
    cache = RecurrentCache(cell, kernel, U, bias is not None, buf)
    return outputs, final_states, cache


def recurrent_backward(
    cache: RecurrentCache,
    d_outputs: Array | None = None,
    d_final_states: Sequence[Array | None] | None = None,
    record_dh: bool = False,
) -> RecurrentGrads:
    """Backpropagation through time for ``recurrent_forward``.

    Shapes: d_outputs (B, T, H) = dL/dh_t for every step (None if the loss does not read the
    sequence), d_final_states one (B, H) array or None per state = dL/d(state_T) from outside
    (for a layer that returns only its last output, that gradient is the one for h_T).
    Returns ``RecurrentGrads(dx, initial_states, kernel, recurrent_kernel, bias, dh_over_time)``;
    with ``record_dh=True``, ``dh_over_time[t - 1]`` is the total gradient dL/dh_t reaching step t
    (from the output at t and from every later step), which shows how far back the loss still reaches.
    """
    cell, buf = cache.cell, cache.buffers
    T, B, G = buf["z"].shape
    D = buf["x"].shape[2]
    H = G // cell.gates
    dtype = buf["z"].dtype

    d_states = []
    for k, name in enumerate(cell.state_names):
        given = None if d_final_states is None else d_final_states[k]
        d = np.zeros((B, H), dtype)
        if given is not None:
            if np.shape(given) != (B, H):
                raise ValueError(f"gradient of final state {name!r} must have shape {(B, H)}; got {np.shape(given)}")
            d += given
        d_states.append(d)
    if d_outputs is not None:
        if np.shape(d_outputs) != (B, T, H):
            raise ValueError(f"d_outputs must have shape {(B, T, H)}; got {np.shape(d_outputs)}")
        d_seq = np.ascontiguousarray(np.transpose(d_outputs, (1, 0, 2)), dtype=dtype)

    dZ = np.empty((T, B, G), dtype)
    # A contiguous transposed copy, made once: matmul into out= with a transposed view is slow.
    UT = np.ascontiguousarray(cache.recurrent_kernel.T)
    scratch = cell.scratch_buffers(B, H, dtype)
    dh_over_time = np.empty((T, B, H), dtype) if record_dh else None
    for t in range(T - 1, -1, -1):
        if d_outputs is not None:
            d_states[0] += d_seq[t]
        if record_dh:
            dh_over_time[t] = d_states[0]
        cell.step_backward(t, buf, d_states, dZ[t], UT, scratch)

    # Weight gradients summed over time, each one matmul over all T*B rows.
    dZ2 = dZ.reshape(T * B, G)
    d_kernel = buf["x"].reshape(T * B, D).T @ dZ2
    d_recurrent = buf["h"][:-1].reshape(T * B, H).T @ dZ2
    d_bias = dZ2.sum(axis=0) if cache.use_bias else None
    dx = (dZ2 @ cache.kernel.astype(dtype, copy=False).T).reshape(T, B, D).transpose(1, 0, 2)
    return RecurrentGrads(np.ascontiguousarray(dx), d_states, d_kernel, d_recurrent, d_bias, dh_over_time)


def simple_rnn_forward(x, kernel, recurrent_kernel, bias=None, initial_state=None, activation="tanh"):
    """SimpleRNN over a sequence: ``h_t = a(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)``.

    Shapes as in ``recurrent_forward`` with k = 1; ``initial_state`` is h_0 (B, H) or None.
    Returns ``(outputs (B, T, H), [h_T], cache)``.
    """
    states = None if initial_state is None else [initial_state]
    return recurrent_forward(SimpleRNNCell(activation), x, kernel, recurrent_kernel, bias, states)


def lstm_forward(x, kernel, recurrent_kernel, bias=None, initial_states=None,
                 activation="tanh", recurrent_activation="sigmoid"):
    """LSTM over a sequence (equations in ``LSTMCell``); ``initial_states`` is [h_0, c_0] or None.

    Returns ``(outputs (B, T, H), [h_T, c_T], cache)``.
    """
    return recurrent_forward(LSTMCell(activation, recurrent_activation), x, kernel, recurrent_kernel,
                             bias, initial_states)


# Backward is cell-agnostic: the cache knows its cell.
simple_rnn_backward = recurrent_backward
lstm_backward = recurrent_backward
