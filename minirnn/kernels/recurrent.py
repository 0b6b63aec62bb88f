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

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

import numpy as np

from .. import activations
from . import blas_threads

Array = np.ndarray


class RecurrentGrads(NamedTuple):
    """Gradients returned by ``recurrent_backward``; ``bias`` is None when the layer has none."""

    dx: Array
    initial_states: list[Array]
    kernel: Array
    recurrent_kernel: Array
    bias: Array | None
    dh_over_time: Array | None = None  # (T, B, H): dL/dh_t for t = 1..T, when requested
    recurrent_bias: Array | None = None  # cells with a second, recurrent bias (GRU reset_after)


@dataclass
class RecurrentCache:
    """Everything the backward pass needs, and what a student may want to print.

    ``buffers`` holds the cell's time-major arrays: always ``"x"`` (T, B, D) and ``"z"`` (T, B, kH),
    the activated gate values, plus one ``(T + 1, B, H)`` array per state (index 0 is the initial
    state), plus whatever the cell caches (for the LSTM ``"c_act"`` = a(c_t)).
    """

    cell: RecurrentCell
    kernel: Array
    recurrent_kernel: Array
    use_bias: bool
    buffers: dict[str, Array] = field(default_factory=dict)
    go_backwards: bool = False
    zero_output_for_mask: bool = False

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

    Optionally, ``prepare_backward(buf, scratch, start, stop)`` runs before the backward loop reaches
    steps ``start .. stop - 1``; a cell can use it to compute, for those steps at once, whatever depends
    only on the forward pass (the local derivatives of its gates), so that the loop is left with the
    work that really is sequential. The driver walks back in blocks of steps small enough to stay in
    cache (all T steps at once for small layers).
    """

    gates: int = 1
    state_names: tuple[str, ...] = ("h",)
    supports_recurrent_dropout: bool = False  # True when the steps use the _recurrent_product helpers
    uses_recurrent_bias: bool = False

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

    def backward_buffers(self, T: int, B: int, H: int, dtype: np.dtype) -> dict[str, Array]:
        """Extra arrays for the backward pass only (merged into ``scratch``); none by default."""
        return {}

    def prepare_backward(self, buf: dict[str, Array], scratch: dict, start: int, stop: int) -> None:
        """Called before the backward loop reaches steps start..stop-1 (see the class docstring); no-op here."""

    def recurrent_gradients(self, buf: dict[str, Array], dZ: Array, scratch: dict) -> tuple[Array, Array | None]:
        """(d recurrent_kernel, d recurrent_bias) summed over time, one matmul per gate block at most.

        For cells whose recurrent term is h_{t-1} @ recurrent_kernel added to z_t, dL/d(that product)
        is dL/dz_t itself, so d recurrent_kernel = sum_t h_{t-1}^T dz_t. (The GRU overrides this.)
        """
        return block_weight_grad(buf["h"][:-1], buf.get("rec_mask"), dZ), None

    def _add_recurrent_product(self, t: int, buf: dict[str, Array], recurrent_kernel: Array, scratch: dict) -> Array:
        """z_t += h_{t-1} @ recurrent_kernel (with recurrent dropout: (h_{t-1} * m_g) @ U_g per gate block),
        through a reused buffer, so nothing is allocated per step."""
        z = buf["z"][t]
        mask = buf.get("rec_mask")
        if mask is None:  # the common case, called every step: skip block_matmul's generality
            np.matmul(buf["h"][t], recurrent_kernel, out=scratch["rec"])
        else:
            block_matmul(buf["h"][t], recurrent_kernel, mask, scratch["rec"])
        z += scratch["rec"]
        return z

    def _recurrent_product_backward(self, dz: Array, recurrent_kernel_T: Array, buf: dict[str, Array],
                                    out: Array, scratch: dict) -> Array:
        """out = dL/dh_{t-1} through the recurrent product: dz @ U^T (per gate block, times its mask)."""
        return block_matmul_backward(dz, recurrent_kernel_T, buf.get("rec_mask"), out)


def block_matmul(a: Array, w: Array, masks: Array | None, out: Array) -> Array:
    """out = a @ w, or with dropout masks ``(a * m_g) @ w_g`` for every gate block g.

    Shapes: a (..., B, D), w (D, kH), masks None, (1, B, D) (one mask for all gates) or (k, B, D)
    (one per gate, as Keras draws them when recurrent_dropout > 0); out (..., B, kH), contiguous.
    Leading axes are flattened so that a (T, B, D) input is one (T B, D) @ (D, kH) product.
    """
    D, G = w.shape
    if masks is not None and len(masks) == 1:
        a, masks = a * masks[0], None
    if masks is None:
        if D == 1:
            # one input feature: the product is an outer product, and broadcasting computes it
            # several times faster than a matmul with a summed axis of length 1
            np.multiply(a.reshape(-1, 1), w, out=out.reshape(-1, G))
        else:
            np.matmul(a.reshape(-1, D), w, out=out.reshape(-1, G))
        return out
    H = G // len(masks)
    for g, m in enumerate(masks):
        out[..., g * H:(g + 1) * H] = ((a * m).reshape(-1, D) @ w[:, g * H:(g + 1) * H]).reshape(*a.shape[:-1], H)
    return out


def block_matmul_backward(dout: Array, w_T: Array, masks: Array | None, out: Array) -> Array:
    """out = dL/da for ``block_matmul``: dout @ w^T, or sum_g (dout_g @ w_g^T) * m_g.

    Shapes: dout (..., B, kH), w_T (kH, D) contiguous, out (..., B, D) contiguous.
    """
    G, D = w_T.shape
    if masks is None or len(masks) == 1:
        np.matmul(dout.reshape(-1, G), w_T, out=out.reshape(-1, D))
        if masks is not None:
            out *= masks[0]
        return out
    H = G // len(masks)
    out[...] = 0
    for g, m in enumerate(masks):
        out += (dout[..., g * H:(g + 1) * H] @ w_T[g * H:(g + 1) * H]) * m
    return out


def summed_outer_products(a: Array, d: Array) -> Array:
    """a^T d = sum over the rows n of outer(a_n, d_n), for a (N, D), d (N, G); returns (D, G).

    A weight gradient sums one outer product per time step and sequence, N = T B of them: one matmul.
    """
    return a.T @ d


def block_weight_grad(a: Array, masks: Array | None, dout: Array) -> Array:
    """dL/dw for ``block_matmul`` summed over every leading (time and batch) row: sum (a * m_g)^T dout_g.

    Shapes: a (T, B, D), masks None | (1, B, D) | (k, B, D), dout (T, B, kH); returns (D, kH).
    """
    D, G = a.shape[-1], dout.shape[-1]
    d2 = dout.reshape(-1, G)
    if masks is None:
        return summed_outer_products(a.reshape(-1, D), d2)
    if len(masks) == 1:
        return summed_outer_products((a * masks[0]).reshape(-1, D), d2)
    H = G // len(masks)
    return np.concatenate([summed_outer_products((a * m).reshape(-1, D), d2[:, g * H:(g + 1) * H])
                           for g, m in enumerate(masks)], axis=1)


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
    supports_recurrent_dropout = True

    def __post_init__(self):
        activations.get(self.activation)  # fail at construction on an unknown name

    @cached_property
    def _a(self) -> activations.Activation:  # looked up once, not at every step
        return activations.get(self.activation)

    def scratch_buffers(self, B: int, H: int, dtype: np.dtype) -> dict[str, Array]:
        return {"rec": np.empty((B, H), dtype)}

    def step_forward(self, t, buf, recurrent_kernel, scratch):
        z = self._add_recurrent_product(t, buf, recurrent_kernel, scratch)
        self._a.forward(z, out=z)
        buf["h"][t + 1] = z

    def prepare_backward(self, buf, scratch, start, stop):
        # a'(z_t) depends only on the forward pass: one call for a block of steps instead of one per step
        if "deriv" not in scratch:  # the first block is the largest: allocate once
            scratch["deriv"] = np.empty((stop - start, *buf["z"].shape[1:]), buf["z"].dtype)
        scratch["start"] = start
        self._a.derivative(buf["z"][start:stop], out=scratch["deriv"][:stop - start])

    def step_backward(self, t, buf, d_states, dz, recurrent_kernel_T, scratch):
        (dh,) = d_states
        np.multiply(dh, scratch["deriv"][t - scratch["start"]], out=dz)
        self._recurrent_product_backward(dz, recurrent_kernel_T, buf, dh, scratch)


@dataclass(frozen=True)
class GatedCell(RecurrentCell):
    """Shared by the gated cells (LSTM, GRU): the activation ``a`` and the gates' recurrent activation ``s``,
    validated at construction and looked up once, not at every step."""

    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"

    def __post_init__(self):
        activations.get(self.activation)
        activations.get(self.recurrent_activation)

    @cached_property
    def _a(self) -> activations.Activation:
        return activations.get(self.activation)

    @cached_property
    def _s(self) -> activations.Activation:
        return activations.get(self.recurrent_activation)


@dataclass(frozen=True)
class LSTMCell(GatedCell):
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

    Every factor that multiplies dh or dc above (a(c_t) * s'(o), o * a'(c_t), g * s'(i), ...) depends
    only on the forward pass, so ``prepare_backward`` computes them for a whole block of steps at once;
    the time loop is left with the five products that really are sequential.
    """

    gates = 4
    state_names = ("h", "c")
    supports_recurrent_dropout = True

    def extra_buffers(self, T, B, H, dtype):
        return {"c_act": np.empty((T, B, H), dtype)}

    def scratch_buffers(self, B, H, dtype):
        return {"rec": np.empty((B, 4 * H), dtype), "tmp": np.empty((B, H), dtype)}

    @staticmethod
    def _split(z: Array) -> tuple[Array, Array, Array, Array]:
        H = z.shape[-1] // 4
        return z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]

    def step_forward(self, t, buf, recurrent_kernel, scratch):
        a, s = self._a, self._s
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

    def prepare_backward(self, buf, scratch, start, stop):
        """The local derivatives of steps start..stop-1, each computed for the whole block in one call:

            local[t, :, 0] = g * s'(i)          so that  dz_i = dc_t * local_i
            local[t, :, 1] = c_{t-1} * s'(f)             dz_f = dc_t * local_f
            local[t, :, 2] = i * a'(g)                   dz_c = dc_t * local_c
            local[t, :, 3] = a(c_t) * s'(o)              dz_o = dh_t * local_o
            dc_dh[t]       = o * a'(c_t)                 dc_t += dh_t * dc_dh
        """
        z = buf["z"][start:stop]
        n, B, G = z.shape
        H = G // 4
        if "local" not in scratch:  # the first block is the largest: allocate once
            scratch["local"] = np.empty((n, B, 4, H), z.dtype)
            scratch["dc_dh"] = np.empty((n, B, H), z.dtype)
        scratch["start"] = start
        local, dc_dh = scratch["local"][:n], scratch["dc_dh"][:n]
        gates = z.reshape(n, B, 4, H)  # a view with a gate axis: 0 i, 1 f, 2 c (g), 3 o
        i, g, o = gates[:, :, 0], gates[:, :, 2], gates[:, :, 3]
        c_act = buf["c_act"][start:stop]
        # s' of all four blocks in one pass over contiguous memory (the g block is overwritten next):
        # cheaper than three passes over strided gate views, which cost ~2.5x per value
        self._s.derivative(gates, out=local)
        self._a.derivative(g, out=local[:, :, 2])
        local[:, :, 0] *= g
        local[:, :, 1] *= buf["c"][start:stop]  # c_{t-1}
        local[:, :, 2] *= i
        local[:, :, 3] *= c_act
        self._a.derivative(c_act, out=dc_dh)
        dc_dh *= o

    def step_backward(self, t, buf, d_states, dz, recurrent_kernel_T, scratch):
        dh, dc = d_states
        B, H = dh.shape
        k = t - scratch["start"]
        local, tmp = scratch["local"][k], scratch["tmp"]
        np.multiply(dh, scratch["dc_dh"][k], out=tmp)
        dc += tmp  # dc_t: from step t + 1 and through h_t = o * a(c_t)
        # dz_i, dz_f and dz_c all scale dc_t, so one broadcast product fills the three blocks
        # (dz is one contiguous row dZ[t] of the driver's buffer, so this reshape is a view)
        dz4 = dz.reshape(B, 4, H)
        np.multiply(dc[:, None, :], local[:, :3], out=dz4[:, :3])
        np.multiply(dh, local[:, 3], out=dz4[:, 3])
        dc *= buf["z"][t, :, H:2 * H]  # dc_{t-1} = dc_t * f
        self._recurrent_product_backward(dz, recurrent_kernel_T, buf, dh, scratch)


@dataclass(frozen=True)
class GRUCell(GatedCell):
    """Keras GRU cell; k = 3 blocks in the order z (update), r (reset), h (candidate).

    With x_z, x_r, x_h the blocks of x_t @ kernel + bias and s = recurrent_activation, a = activation:

    reset_after=True (Keras's default; a second, recurrent bias b_rec):
        u_z, u_r, u_h = blocks of h_{t-1} @ recurrent_kernel + b_rec
        z = s(x_z + u_z);  r = s(x_r + u_r);  n = a(x_h + r * u_h)
    reset_after=False (one bias):
        z = s(x_z + h_{t-1} @ U_z);  r = s(x_r + h_{t-1} @ U_r);  n = a(x_h + (r * h_{t-1}) @ U_h)
    then
        h_t = z * h_{t-1} + (1 - z) * n

    Backward, with dh the total gradient reaching h_t:
        dz_h = dh * (1 - z) * a'(n);   dz_z = dh * (h_{t-1} - n) * s'(z)
        reset_after:  dz_r = dz_h * u_h * s'(r);   du = [dz_z, dz_r, dz_h * r]
                      dh_{t-1} = dh * z + du @ recurrent_kernel^T
        otherwise:    d(rh) = dz_h @ U_h^T;  dz_r = d(rh) * h_{t-1} * s'(r)
                      dh_{t-1} = dh * z + d(rh) * r + [dz_z, dz_r] @ [U_z, U_r]^T
    (with recurrent dropout, h_{t-1} inside each product is h_{t-1} * m_g, as in Keras.)
    """

    reset_after: bool = True
    gates = 3
    state_names = ("h",)
    supports_recurrent_dropout = True

    @property
    def uses_recurrent_bias(self) -> bool:
        return self.reset_after

    def extra_buffers(self, T, B, H, dtype):
        # reset_after: u_h = h_{t-1} @ U_h + b_rec_h (needed for dz_r); otherwise r * h_{t-1} (input of U_h)
        return {"rec_h": np.empty((T, B, H), dtype)}

    def scratch_buffers(self, B, H, dtype):
        return {"rec": np.empty((B, 3 * H), dtype), "rec_zr": np.empty((B, 2 * H), dtype),
                "tmp": np.empty((B, H), dtype), "deriv": np.empty((B, H), dtype), "d_rh": np.empty((B, H), dtype)}

    def backward_buffers(self, T, B, H, dtype):
        return {"d_rec": np.empty((T, B, 3 * H), dtype)} if self.reset_after else {}

    @staticmethod
    def _masks(buf: dict[str, Array]) -> tuple[Array | None, Array | None]:
        """The recurrent dropout masks of the z, r blocks and of the h block."""
        m = buf.get("rec_mask")
        if m is None:
            return None, None
        return (m, m[0]) if len(m) == 1 else (m[:2], m[2])

    def step_forward(self, t, buf, recurrent_kernel, scratch):
        a, s = self._a, self._s
        z_all = buf["z"][t]
        H = z_all.shape[1] // 3
        h_prev, rec, rec_h = buf["h"][t], scratch["rec"], buf["rec_h"][t]
        m_zr, m_h = self._masks(buf)
        if self.reset_after:
            block_matmul(h_prev, recurrent_kernel, buf.get("rec_mask"), rec)
            if "recurrent_bias" in buf:
                rec += buf["recurrent_bias"]
            z_all[:, :2 * H] += rec[:, :2 * H]
            s.forward(z_all[:, :2 * H], out=z_all[:, :2 * H])
            r = z_all[:, H:2 * H]
            rec_h[...] = rec[:, 2 * H:]
            np.multiply(r, rec_h, out=scratch["tmp"])
        else:
            block_matmul(h_prev, recurrent_kernel[:, :2 * H], m_zr, scratch["rec_zr"])
            z_all[:, :2 * H] += scratch["rec_zr"]
            s.forward(z_all[:, :2 * H], out=z_all[:, :2 * H])
            r = z_all[:, H:2 * H]
            np.multiply(r, h_prev, out=rec_h)
            if m_h is not None:
                rec_h *= m_h
            np.matmul(rec_h, recurrent_kernel[:, 2 * H:], out=scratch["tmp"])
        n = z_all[:, 2 * H:]
        n += scratch["tmp"]
        a.forward(n, out=n)
        zg, h = z_all[:, :H], buf["h"][t + 1]
        # h_t = z * h_{t-1} + (1 - z) * n, in Keras's operation order
        np.multiply(zg, h_prev, out=h)
        np.subtract(1, zg, out=scratch["tmp"])
        scratch["tmp"] *= n
        h += scratch["tmp"]

    def step_backward(self, t, buf, d_states, dz, recurrent_kernel_T, scratch):
        a, s = self._a, self._s
        (dh,) = d_states
        z_all = buf["z"][t]
        H = z_all.shape[1] // 3
        zg, r, n = z_all[:, :H], z_all[:, H:2 * H], z_all[:, 2 * H:]
        dz_z, dz_r, dz_h = dz[:, :H], dz[:, H:2 * H], dz[:, 2 * H:]
        h_prev, rec_h, tmp, deriv = buf["h"][t], buf["rec_h"][t], scratch["tmp"], scratch["deriv"]
        m_zr, m_h = self._masks(buf)
        # h_t = z * h_{t-1} + (1 - z) * n
        np.subtract(h_prev, n, out=tmp)
        np.multiply(dh, tmp, out=dz_z)
        dz_z *= s.derivative(zg, out=deriv)
        np.subtract(1, zg, out=tmp)
        np.multiply(dh, tmp, out=dz_h)
        dz_h *= a.derivative(n, out=deriv)
        if self.reset_after:
            np.multiply(dz_h, rec_h, out=dz_r)
            dz_r *= s.derivative(r, out=deriv)
            d_rec = scratch["d_rec"][t]
            d_rec[:, :2 * H] = dz[:, :2 * H]
            np.multiply(dz_h, r, out=d_rec[:, 2 * H:])
            dh *= zg
            dh += block_matmul_backward(d_rec, recurrent_kernel_T, buf.get("rec_mask"), scratch["d_rh"])
        else:
            d_rh = scratch["d_rh"]
            np.matmul(dz_h, recurrent_kernel_T[2 * H:], out=d_rh)
            # r * h_{t-1} (times the h-block mask) feeds U_h
            h_in = h_prev if m_h is None else h_prev * m_h
            np.multiply(d_rh, h_in, out=dz_r)
            dz_r *= s.derivative(r, out=deriv)
            dh *= zg
            d_rh *= r
            if m_h is not None:
                d_rh *= m_h
            dh += d_rh
            dh += block_matmul_backward(dz[:, :2 * H], recurrent_kernel_T[:2 * H], m_zr, tmp)

    def recurrent_gradients(self, buf, dZ, scratch):
        H = dZ.shape[2] // 3
        if self.reset_after:
            d_rec = scratch["d_rec"]
            return block_weight_grad(buf["h"][:-1], buf.get("rec_mask"), d_rec), d_rec.sum(axis=(0, 1))
        m_zr, _ = self._masks(buf)
        d_zr = block_weight_grad(buf["h"][:-1], m_zr, np.ascontiguousarray(dZ[..., :2 * H]))
        d_h = block_weight_grad(buf["rec_h"], None, np.ascontiguousarray(dZ[..., 2 * H:]))
        return np.concatenate([d_zr, d_h], axis=1), None


_BLOCK_BYTES = 512 * 1024  # see recurrent_backward: about half of this machine's L2 cache per core


def _check_weights(cell: RecurrentCell, x: Array, kernel: Array, recurrent_kernel: Array, bias: Array | None,
                   recurrent_bias: Array | None) -> int:
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, timesteps, features); got shape {x.shape}")
    H = recurrent_kernel.shape[0]
    G = cell.gates * H
    D = x.shape[2]
    if kernel.shape != (D, G):
        raise ValueError(f"kernel must have shape {(D, G)} for input features {D} and {H} units; got {kernel.shape}")
    if recurrent_kernel.shape != (H, G):
        raise ValueError(f"recurrent_kernel must have shape {(H, G)}; got {recurrent_kernel.shape}")
    for name, b in (("bias", bias), ("recurrent_bias", recurrent_bias)):
        if b is not None and b.shape != (G,):
            raise ValueError(f"{name} must have shape {(G,)}; got {b.shape}")
    if recurrent_bias is not None and not cell.uses_recurrent_bias:
        raise ValueError(f"{type(cell).__name__} has no recurrent bias; got recurrent_bias")
    return H


def _check_mask(name: str, mask: Array | None, k: int, B: int, n: int, dtype) -> Array | None:
    """A dropout mask as (1, B, n) or (k, B, n) in the computation dtype."""
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=dtype)
    if mask.ndim == 2:
        mask = mask[None]
    if mask.ndim != 3 or mask.shape[0] not in (1, k) or mask.shape[1:] != (B, n):
        raise ValueError(f"{name} must have shape {(B, n)}, (1, {B}, {n}) or ({k}, {B}, {n}) (one per gate); "
                         f"got {mask.shape}")
    return mask


def recurrent_forward(
    cell: RecurrentCell,
    x: Array,
    kernel: Array,
    recurrent_kernel: Array,
    bias: Array | None = None,
    initial_states: Sequence[Array] | None = None,
    *,
    recurrent_bias: Array | None = None,
    input_mask: Array | None = None,
    recurrent_mask: Array | None = None,
    step_mask: Array | None = None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
) -> tuple[Array, list[Array], RecurrentCache]:
    """Run ``cell`` over a whole sequence.

    Shapes: x (B, T, D), kernel (D, kH), recurrent_kernel (H, kH), bias (kH,) or None,
    initial_states one (B, H) array per ``cell.state_names`` (zeros when None).
    Returns ``(outputs (B, T, H), final_states [(B, H), ...], cache)``.
    The computation dtype is the common dtype of x and the weights.

    Options, all Keras semantics:

    * ``recurrent_bias`` (kH,): a second bias inside the recurrent term (the GRU with reset_after);
    * ``input_mask`` (B, D) or (k, B, D), ``recurrent_mask`` (B, H) or (k, B, H): dropout masks
      (already scaled by 1/(1-rate)) drawn once per sequence and applied at every step to x_t and to
      h_{t-1} in the recurrent product (one per gate block when k masks are given);
    * ``step_mask`` (B, T) bool, False where a step is padding: there the states are carried
      through unchanged, and the output repeats the previous output (zeros before the first real
      step, whatever the initial state; zeros at every padded step if ``zero_output_for_mask``);
    * ``go_backwards``: process time reversed; outputs come in processing order (not flipped back).
    """
    H = _check_weights(cell, x, kernel, recurrent_kernel, bias, recurrent_bias)
    blas_threads.prime_openblas()  # once per process; see its docstring
    B, T, D = x.shape
    dtype = np.result_type(x, kernel, recurrent_kernel, *(() if bias is None else (bias,)))
    G = cell.gates * H
    if recurrent_mask is not None and not cell.supports_recurrent_dropout:
        raise ValueError(f"{type(cell).__name__} does not support recurrent dropout")

    if go_backwards:
        x = x[:, ::-1]
    buf: dict[str, Array] = {"x": np.ascontiguousarray(x.transpose(1, 0, 2), dtype=dtype)}
    in_mask = _check_mask("input_mask", input_mask, cell.gates, B, D, dtype)
    rec_mask = _check_mask("recurrent_mask", recurrent_mask, cell.gates, B, H, dtype)
    if in_mask is not None:
        buf["in_mask"] = in_mask
    if rec_mask is not None:
        buf["rec_mask"] = rec_mask
    if recurrent_bias is not None:
        buf["recurrent_bias"] = np.asarray(recurrent_bias, dtype=dtype)
    if step_mask is not None:
        step_mask = np.asarray(step_mask, dtype=bool)
        if step_mask.shape != (B, T):
            raise ValueError(f"step_mask must have shape {(B, T)}; got {step_mask.shape}")
        if go_backwards:
            step_mask = step_mask[:, ::-1]
        buf["step_mask"] = np.ascontiguousarray(step_mask.T)[:, :, None]  # (T, B, 1), broadcasts over units

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
    padded = buf.get("step_mask")
    # Small products run on one BLAS thread (see minirnn.kernels.blas_threads for why), decided per phase:
    # the input projection is (T B, D) @ (D, kH), the loop's products (B, H) @ (H, kH). When both are small
    # the outer block switches once (switching costs ~13 us; the inner blocks then only count).
    projection_small, loop_small = blas_threads.is_small(T * B, D, G), blas_threads.is_small(B, H, G)
    with blas_threads.limited(projection_small and loop_small):
        with blas_threads.limited(projection_small):
            # One matmul for the input projection of every time step (the loop then adds only h @ U).
            z = block_matmul(buf["x"], kernel.astype(dtype, copy=False), in_mask, np.empty((T, B, G), dtype))
            if bias is not None:
                z += bias
        buf["z"] = z
        with blas_threads.limited(loop_small):
            for t in range(T):
                cell.step_forward(t, buf, U, scratch)
                if padded is not None and not padded[t].all():
                    for name in cell.state_names:  # a padded step carries every state through unchanged
                        np.copyto(buf[name][t + 1], buf[name][t], where=~padded[t])

    outputs = buf["h"][1:]
    if padded is not None:
        # Keras's output at a padded step is the previous *output*, which is zeros before the first real
        # step (not the initial state, which matters for a stateful layer), or always zeros.
        shown = padded if zero_output_for_mask else np.logical_or.accumulate(padded, axis=0)
        if not shown.all():
            buf["output_mask"] = shown
            outputs = outputs * shown
    final_states = [buf[name][T].copy() for name in cell.state_names]
    cache = RecurrentCache(cell, kernel, U, bias is not None, buf, go_backwards=go_backwards,
                           zero_output_for_mask=zero_output_for_mask)
    return outputs.transpose(1, 0, 2), final_states, cache


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
    Returns ``RecurrentGrads(dx, initial_states, kernel, recurrent_kernel, bias, dh_over_time,
    recurrent_bias)``; with ``record_dh=True``, ``dh_over_time[t - 1]`` is the total gradient dL/dh_t
    reaching step t (from the output at t and from every later step), which shows how far back the
    loss still reaches. With ``go_backwards`` the time axes of d_outputs and dh_over_time are in
    processing order, like the outputs, and dx is in the input's order.
    """
    cell, buf = cache.cell, cache.buffers
    T, B, G = buf["z"].shape
    H = G // cell.gates
    D = buf["x"].shape[2]
    dtype = buf["z"].dtype
    padded = buf.get("step_mask")

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
        if "output_mask" in buf:
            d_seq *= buf["output_mask"]  # a zeroed output passes no gradient

    dZ = np.empty((T, B, G), dtype)
    # A contiguous transposed copy, made once: matmul into out= with a transposed view is slow.
    UT = np.ascontiguousarray(cache.recurrent_kernel.T)
    scratch = cell.scratch_buffers(B, H, dtype)
    time_buffers = cell.backward_buffers(T, B, H, dtype)
    scratch.update(time_buffers)
    dh_over_time = np.empty((T, B, H), dtype) if record_dh else None
    # The cell prepares its local derivatives a block of steps at a time, a block being as many steps as
    # hold about _BLOCK_BYTES of gate values: written by the block's whole-array calls, they are read
    # back by its steps while still in cache (measured ~2x faster than all T steps at once at H = 128).
    block = max(1, _BLOCK_BYTES // (B * G * dtype.itemsize))
    start = T
    loop_small, gradients_small = blas_threads.is_small(B, H, G), blas_threads.is_small(T * B, max(D, H), G)
    with blas_threads.limited(loop_small and gradients_small):  # one switch when both are small
        with blas_threads.limited(loop_small):  # the loop's products, as in recurrent_forward
            for t in range(T - 1, -1, -1):
                if t < start:
                    start = max(0, t + 1 - block)
                    cell.prepare_backward(buf, scratch, start, t + 1)
                if d_outputs is not None:
                    d_states[0] += d_seq[t]
                if record_dh:
                    dh_over_time[t] = d_states[0]
                skip = None if padded is None or padded[t].all() else ~padded[t]
                if skip is not None:
                    carried = [d.copy() for d in d_states]
                cell.step_backward(t, buf, d_states, dZ[t], UT, scratch)
                if skip is not None:
                    # a padded step was the identity on the states: its gradient passes straight through
                    for d, c in zip(d_states, carried):
                        np.copyto(d, c, where=skip)
                    for arr in (dZ, *time_buffers.values()):
                        np.copyto(arr[t], 0, where=skip)

        # Weight gradients summed over time, each one matmul over all T*B rows: products T times larger than the
        # loop's, so they may get every BLAS thread where the loop's do not (same rule, see blas_threads).
        with blas_threads.limited(gradients_small):
            kernel = cache.kernel.astype(dtype, copy=False)
            d_kernel = block_weight_grad(buf["x"], buf.get("in_mask"), dZ)
            d_recurrent, d_recurrent_bias = cell.recurrent_gradients(buf, dZ, scratch)
            d_bias = dZ.reshape(T * B, G).sum(axis=0) if cache.use_bias else None
            dx = block_matmul_backward(dZ, np.ascontiguousarray(kernel.T), buf.get("in_mask"),
                                       np.empty(buf["x"].shape, dtype)).transpose(1, 0, 2)
    if cache.go_backwards:
        dx = dx[:, ::-1]
    return RecurrentGrads(np.ascontiguousarray(dx), d_states, d_kernel, d_recurrent, d_bias, dh_over_time,
                          d_recurrent_bias)


def simple_rnn_forward(x, kernel, recurrent_kernel, bias=None, initial_state=None, activation="tanh"):
    """SimpleRNN over a sequence: ``h_t = a(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)``.

    Shapes as in ``recurrent_forward`` with k = 1; ``initial_state`` is h_0 (B, H) or None.
    Returns ``(outputs (B, T, H), [h_T], cache)``.
    """
    states = None if initial_state is None else [initial_state]
    return recurrent_forward(SimpleRNNCell(activation), x, kernel, recurrent_kernel, bias, states)


def gru_forward(x, kernel, recurrent_kernel, bias=None, initial_state=None, activation="tanh",
                recurrent_activation="sigmoid", reset_after=True):
    """GRU over a sequence (equations in ``GRUCell``). With reset_after, ``bias`` is Keras's (2, 3H) array
    (row 0 input bias, row 1 recurrent bias); otherwise (3H,). Returns ``(outputs, [h_T], cache)``."""
    cell = GRUCell(activation, recurrent_activation, reset_after)
    b, rb = (bias[0], bias[1]) if (bias is not None and reset_after) else (bias, None)
    states = None if initial_state is None else [initial_state]
    return recurrent_forward(cell, x, kernel, recurrent_kernel, b, states, recurrent_bias=rb)


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
gru_backward = recurrent_backward
