"""The time-loop driver: runs any cell over a sequence, and backpropagates through time.

Shapes (B batch, T steps, D input features): x (B, T, D); one (B, n) array per state of the cell
(``cell.state_sizes``); outputs (B, T, n_0), the first state at every step.

Forward, for t = 1 .. T (``forward``):

    (h_t, ...), cache_t = cell.forward(x_t, (h_{t-1}, ...), p)

Backward, for t = T .. 1 (``backward``), with dS_t the gradients reaching the states of step t (from the
output at t and from step t + 1):

    StepGrads(dS_{t-1}, dx_t, dp_t) = cell.backward(dS_t, cache_t);      dp = sum_t dp_t

Everything that is not the cell's math lives here, once, for every cell: the initial states, the input
and recurrent dropout masks, padding masks (a padded step carries every state through unchanged, and
passes its gradient straight back), ``go_backwards``, and dL/dh_t over time for the diagnostics.

Speed comes from the cell's declared projections (``minirnn.cells.base``), never from special cases:

* input projection ``x_t @ W + b``: all T steps in one (T B, D) @ (D, n) matmul before the loop, and
  after it dW = X^T dXW, db = sum dXW, dx = dXW W^T, each one product over all T*B rows;
* recurrent projection ``h_{t-1} @ U``: computed here before each step; dU = H_prev^T dHU after the loop.

The driver keeps every step's cache (the cell's own dicts: the gates a student may print) and the states.

Example:
    >>> import numpy as np
    >>> from minirnn.cells import LSTMCell, driver
    >>> rng = np.random.default_rng(0)
    >>> cell = LSTMCell(5)
    >>> p = {n: rng.standard_normal(s.shape) for n, s in cell.params(4).items()}
    >>> y, (h, c), cache = driver.forward(cell, rng.standard_normal((2, 3, 4)), p)
    >>> y.shape, h.shape, c.shape
    ((2, 3, 5), (2, 5), (2, 5))
    >>> g = driver.backward(cache, d_outputs=np.ones_like(y))
    >>> g.dx.shape, sorted(g.params), len(g.initial_states)
    ((2, 3, 4), ['bias', 'kernel', 'recurrent_kernel'], 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .base import Cell, Projection

Array = np.ndarray


class SequenceGrads(NamedTuple):
    """What ``backward`` returns: dx (B, T, D); one gradient per initial state; one per declared parameter
    (in ``cell.params`` order); with ``record_dh``, dh_over_time (T, B, n_0): dL/dh_t reaching step t."""

    dx: Array
    initial_states: list[Array]
    params: dict[str, Array]
    dh_over_time: Array | None = None


@dataclass
class SequenceCache:
    """Everything ``backward`` needs, and what a student may print: the cell, its parameters (in the
    computation dtype), the time-major input, every step's cache and every state (``states[name]``,
    (T + 1, B, n), index 0 the initial state), the masks, and ``T``."""

    cell: Cell
    params: dict[str, Array]
    x: Array
    steps: list[Any]
    states: dict[str, Array]
    input_mask: Array | None = None
    recurrent_mask: Array | None = None
    step_mask: Array | None = None           # (T, B, 1) bool, False where padded (processing order)
    output_mask: Array | None = None         # (T, B, 1) bool, where an output is shown (not zeroed)
    go_backwards: bool = False
    specs: dict = field(default_factory=dict)  # cell.params(D), computed once per sequence

    @property
    def T(self) -> int:
        return len(self.steps)


# -- the products the projections stand for -------------------------------------------------------------

def block_matmul(a: Array, w: Array, masks: Array | None) -> Array:
    """a @ w, or with dropout masks (a * m_g) @ w_g for every gate block g.

    Shapes: a (..., B, D), w (D, k n), masks None, (1, B, D) (one mask for all blocks) or (k, B, D).
    Leading axes are flattened, so a (T, B, D) input is one (T B, D) @ (D, k n) product.
    """
    if masks is not None and len(masks) == 1:
        a, masks = a * masks[0], None
    if masks is None:
        if w.shape[0] == 1:  # one input feature: the outer product, same numbers, ~5x faster than NumPy's matmul
            return a * w[0]
        return a @ w if a.ndim == 2 else (a.reshape(-1, a.shape[-1]) @ w).reshape(*a.shape[:-1], w.shape[1])
    n = w.shape[1] // len(masks)
    return np.concatenate([block_matmul(a * m, w[:, g * n:(g + 1) * n], None) for g, m in enumerate(masks)],
                          axis=-1)


def block_matmul_backward(dout: Array, w_T: Array, masks: Array | None) -> Array:
    """dL/da for ``block_matmul``: dout @ w^T, or sum_g (dout_g @ w_g^T) * m_g; ``w_T`` is w^T, contiguous
    (made once per sequence: a product with a transposed view is markedly slower)."""
    if masks is None or len(masks) == 1:
        da = dout @ w_T if dout.ndim == 2 else (dout.reshape(-1, dout.shape[-1]) @ w_T).reshape(
            *dout.shape[:-1], w_T.shape[1])
        return da if masks is None else da * masks[0]
    n = w_T.shape[0] // len(masks)
    return sum((dout[..., g * n:(g + 1) * n] @ w_T[g * n:(g + 1) * n]) * m for g, m in enumerate(masks))


def block_weight_grad(a: Array, masks: Array | None, dout: Array) -> Array:
    """dL/dw for ``block_matmul``, summed over every leading (time and batch) row: sum (a * m_g)^T dout_g."""
    D, G = a.shape[-1], dout.shape[-1]
    if masks is not None and len(masks) == 1:
        a, masks = a * masks[0], None
    if masks is None:
        return a.reshape(-1, D).T @ dout.reshape(-1, G)
    n = G // len(masks)
    return np.concatenate([block_weight_grad(a * m, None, dout[..., g * n:(g + 1) * n])
                           for g, m in enumerate(masks)], axis=1)


def _bias(p: Mapping[str, Array], proj: Projection) -> Array | None:
    if proj.bias is None:
        return None
    b = p[proj.bias]
    return b if proj.bias_row is None else b[proj.bias_row]


# -- checks (a clear error naming the cell, before anything runs) -----------------------------------------

def _name(cell: Any) -> str:
    return type(cell).__name__


def _check_params(cell: Cell, D: int, params: Mapping[str, Any]) -> dict:
    specs = cell.params(D)
    if set(params) != set(specs):
        raise ValueError(f"{_name(cell)} declares parameters {list(specs)}; got {sorted(params)}")
    for n, spec in specs.items():
        if np.shape(params[n]) != spec.shape:
            raise ValueError(f"{_name(cell)} parameter {n!r} must have shape {spec.shape} for input size {D}; "
                             f"got {np.shape(params[n])}")
    for proj in (cell.input_projection, cell.recurrent_projection):
        if proj is not None:
            for n in (proj.weight, proj.bias):
                if n is not None and n not in specs:
                    raise ValueError(f"{_name(cell)} projects through {n!r}, which it does not declare")
    return specs


def _check_mask(name: str, mask: Any, k: int, B: int, n: int, dtype) -> Array | None:
    """A dropout mask as (1, B, n) or (k, B, n) in the computation dtype."""
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=dtype)
    if mask.ndim == 2:
        mask = mask[None]
    if mask.ndim != 3 or mask.shape[0] not in (1, k) or mask.shape[1:] != (B, n):
        shapes = f"{(B, n)} or (1, {B}, {n})" + (f" or ({k}, {B}, {n}) (one per gate block)" if k > 1 else "")
        raise ValueError(f"{name} must have shape {shapes}; got {mask.shape}")
    return mask


def _check_states(cell: Cell, what: str, states: Any, B: int, dtype=None) -> tuple:
    sizes = cell.state_sizes
    if not isinstance(states, (tuple, list)) or len(states) != len(sizes):
        raise ValueError(f"{_name(cell)}: {what} must be a tuple of {len(sizes)} arrays ({', '.join(sizes)}); "
                         f"got {type(states).__name__} of length {len(states) if hasattr(states, '__len__') else '?'}")
    out = []
    for (n, size), s in zip(sizes.items(), states):
        if s is None:
            out.append(None)
            continue
        if np.shape(s) != (B, size):
            raise ValueError(f"{_name(cell)}: {what} {n!r} must have shape {(B, size)}; got {np.shape(s)}")
        out.append(s if dtype is None else np.asarray(s, dtype=dtype))
    return tuple(out)


def _check_step_grads(cell: Cell, g: Any, B: int, x_shape: tuple, owned: dict, has_recurrent: bool) -> None:
    if not (isinstance(g, tuple) and len(g) >= 3):
        raise ValueError(f"{_name(cell)}.backward must return StepGrads(states, x, params[, recurrent]); "
                         f"got {type(g).__name__}")
    _check_states(cell, "backward's state gradients", g[0], B)
    if np.shape(g[1]) != x_shape:
        raise ValueError(f"{_name(cell)}.backward: the step input's gradient must have shape {x_shape}; "
                         f"got {np.shape(g[1])}")
    params = g[2]
    if not isinstance(params, Mapping) or set(params) != set(owned):
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(f"{_name(cell)}.backward must return the gradient of every parameter it owns "
                         f"{sorted(owned)} (those of a declared projection are the driver's); got {got}")
    for n, shape in owned.items():
        if np.shape(params[n]) != shape:
            raise ValueError(f"{_name(cell)}.backward: gradient of {n!r} must have shape {shape}; "
                             f"got {np.shape(params[n])}")
    rec = g[3] if len(g) > 3 else None
    if has_recurrent and rec is None:
        raise ValueError(f"{_name(cell)} declares a recurrent projection: backward must return its gradient "
                         f"as StepGrads(..., recurrent=d_hu)")


# -- forward ----------------------------------------------------------------------------------------

def forward(
    cell: Cell,
    x: Any,
    params: Mapping[str, Any],
    initial_states: Sequence[Any] | None = None,
    *,
    input_mask: Any = None,
    recurrent_mask: Any = None,
    step_mask: Any = None,
    go_backwards: bool = False,
    zero_output_for_mask: bool = False,
) -> tuple[Array, list[Array], SequenceCache]:
    """Run ``cell`` over a whole sequence. Returns ``(outputs (B, T, n_0), final_states, cache)``.

    ``params`` maps every name the cell declares to an array of the declared shape; the computation dtype
    is the common dtype of x and the parameters. ``initial_states`` one (B, n) array per state (zeros when
    None). Options, all Keras semantics:

    * ``input_mask`` (B, D), (1, B, D) or (k, B, D) and ``recurrent_mask`` (B, n) or (k, B, n): dropout
      masks (already scaled by 1/(1-rate)) applied at every step to x_t and to the recurrent state (one per
      gate block when k are given);
    * ``step_mask`` (B, T) bool, False where a step is padding: the states are carried through unchanged
      and the output repeats the previous output (zeros before the first real step, whatever the initial
      state; zeros at every padded step with ``zero_output_for_mask``);
    * ``go_backwards``: process time reversed; outputs come in processing order (not flipped back).
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, timesteps, features); got shape {x.shape}")
    B, T, D = x.shape
    if T == 0:
        raise ValueError(f"x has zero time steps (shape {x.shape}); a recurrent layer needs at least one")
    specs = _check_params(cell, D, params)
    dtype = np.result_type(x, *params.values())
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype("float64")
    p = {n: np.asarray(v).astype(dtype, copy=False) for n, v in params.items()}
    sizes = cell.state_sizes
    names = list(sizes)
    ip, rp = cell.input_projection, cell.recurrent_projection

    in_mask = _check_mask("input_mask", input_mask, ip.blocks if ip else 1, B, D, dtype)
    rec_mask = None
    if recurrent_mask is not None:
        k = cell.recurrent_dropout_supported
        if not k:
            raise ValueError(f"{_name(cell)} refuses recurrent dropout: it declares no recurrent projection and "
                             f"no recurrent_dropout_blocks")
        rec_state = rp.state if rp is not None else names[0]
        rec_mask = _check_mask("recurrent_mask", recurrent_mask, k, B, sizes[rec_state], dtype)
    pad = None
    if step_mask is not None:
        step_mask = np.asarray(step_mask, dtype=bool)
        if step_mask.shape != (B, T):
            raise ValueError(f"step_mask must have shape {(B, T)}; got {step_mask.shape}")
        if go_backwards:
            step_mask = step_mask[:, ::-1]
        pad = np.ascontiguousarray(step_mask.T)[:, :, None]  # (T, B, 1), broadcasts over units

    if initial_states is None:
        states = tuple(np.zeros((B, n), dtype) for n in sizes.values())
    else:
        states = _check_states(cell, "initial state", tuple(initial_states), B, dtype)

    X = np.ascontiguousarray((x[:, ::-1] if go_backwards else x).transpose(1, 0, 2), dtype=dtype)  # (T, B, D)
    if ip is not None:  # all T input projections in one product
        inputs = block_matmul(X, p[ip.weight], in_mask)
        b = _bias(p, ip)
        if b is not None:
            inputs += b
    else:
        inputs = X if in_mask is None else X * in_mask[0]
    if rp is not None:
        U, rb, r_index = p[rp.weight], _bias(p, rp), names.index(rp.state)
    kwargs = {"recurrent_mask": rec_mask} if (rec_mask is not None and rp is None) else {}

    history, steps = [states], []
    for t in range(T):
        if rp is not None:
            hu = block_matmul(states[r_index], U, rec_mask)
            if rb is not None:
                hu += rb
            new, c = cell.forward(inputs[t], states, p, hu, **kwargs)
        else:
            new, c = cell.forward(inputs[t], states, p, **kwargs)
        if t == 0:
            new = _check_states(cell, "forward's new states", new, B)
        if pad is not None and not pad[t].all():  # a padded step carries every state through unchanged
            new = tuple(np.where(pad[t], s_new, s) for s_new, s in zip(new, states))
        history.append(tuple(new))
        steps.append(c)
        states = tuple(new)

    stacked = {n: np.stack([s[k] for s in history]) for k, n in enumerate(names)}  # (T + 1, B, n)
    outputs = stacked[names[0]][1:]
    output_mask = None
    if pad is not None:
        # Keras's output at a padded step is the previous *output*: zeros before the first real step
        # (not the initial state, which matters for a stateful layer), or always zeros.
        shown = pad if zero_output_for_mask else np.logical_or.accumulate(pad, axis=0)
        if not shown.all():
            output_mask = shown
            outputs = outputs * shown
    cache = SequenceCache(cell, p, X, steps, stacked, in_mask, rec_mask, pad, output_mask, go_backwards, specs)
    return outputs.transpose(1, 0, 2), [s.copy() for s in states], cache


# -- backward ---------------------------------------------------------------------------------------

def backward(
    cache: SequenceCache,
    d_outputs: Any = None,
    d_final_states: Sequence[Any] | None = None,
    record_dh: bool = False,
) -> SequenceGrads:
    """Backpropagation through time for ``forward``.

    Shapes: d_outputs (B, T, n_0) = dL/dh_t at every step (None if the loss does not read the sequence);
    d_final_states one (B, n) array or None per state = dL/d(state_T) from outside. Returns
    ``SequenceGrads(dx, initial_states, params, dh_over_time)``: a gradient for every initial state and for
    every declared parameter. With ``go_backwards`` the time axes of d_outputs and dh_over_time are in
    processing order, like the outputs, and dx is in the input's order.
    """
    cell, p, X, pad = cache.cell, cache.params, cache.x, cache.step_mask
    T, B, D = X.shape
    dtype = X.dtype
    sizes, names = cell.state_sizes, list(cell.state_sizes)
    ip, rp = cell.input_projection, cell.recurrent_projection
    specs = cache.specs or cell.params(D)
    driver_owned = {n for proj in (ip, rp) if proj is not None for n in (proj.weight, proj.bias) if n}
    owned = {n: s.shape for n, s in specs.items() if n not in driver_owned}

    d_states = [np.zeros((B, n), dtype) for n in sizes.values()]
    if d_final_states is not None:
        given = _check_states(cell, "gradient of final state", tuple(d_final_states), B, dtype)
        d_states = [d if g is None else d + g for d, g in zip(d_states, given)]
    if d_outputs is not None:
        if np.shape(d_outputs) != (B, T, sizes[names[0]]):
            raise ValueError(f"d_outputs must have shape {(B, T, sizes[names[0]])}; got {np.shape(d_outputs)}")
        d_seq = np.asarray(d_outputs, dtype=dtype).transpose(1, 0, 2)
        if cache.output_mask is not None:
            d_seq = d_seq * cache.output_mask  # a zeroed output passes no gradient

    zeros = [np.zeros((B, n), dtype) for n in sizes.values()]
    step_in = cache.steps  # per-step caches
    d_inputs = None  # (T, B, n_x): gradient of each step's input (or of the input projection)
    d_hu = None
    shared = False  # True when the cell returns one array as both x and recurrent gradients (LSTM, SimpleRNN)
    d_params = {n: np.zeros(shape, dtype) for n, shape in owned.items()}
    dh_over_time = np.empty((T, B, sizes[names[0]]), dtype) if record_dh else None
    if rp is not None:
        U_T, r_index = np.ascontiguousarray(p[rp.weight].T), names.index(rp.state)

    for t in range(T - 1, -1, -1):
        if d_outputs is not None:
            d_states[0] = d_states[0] + d_seq[t]
        if record_dh:
            dh_over_time[t] = d_states[0]
        skip = None if pad is None or pad[t].all() else ~pad[t]
        # a padded step's outputs were discarded: no gradient enters the step there
        d_in = tuple(d_states) if skip is None else tuple(np.where(skip, 0, d) for d in d_states)
        g = cell.backward(d_in, step_in[t])
        if d_inputs is None:  # the first step checked: every declared gradient present, every shape right
            x_shape = (B, (ip and p[ip.weight].shape[1]) or D)
            _check_step_grads(cell, g, B, x_shape, owned, rp is not None)
            d_inputs = np.empty((T, *x_shape), dtype)
            shared = rp is not None and g[3] is g[1] and np.shape(g[3]) == x_shape
            if rp is not None and not shared:
                d_hu = np.empty((T, *np.shape(g[3])), dtype)
        d_inputs[t] = g[1]
        for n, v in g[2].items():
            d_params[n] += v
        new = [z if s is None else s for s, z in zip(g[0], zeros)]
        if rp is not None:
            if not shared:
                d_hu[t] = g[3]
            new[r_index] = new[r_index] + block_matmul_backward(g[3], U_T, cache.recurrent_mask)
        if skip is not None:  # a padded step was the identity on the states: its gradient passes straight back
            new = [np.where(skip, d, n_) for d, n_ in zip(d_states, new)]
        d_states = new

    grads: dict[str, Array] = {}
    if ip is not None:
        W = p[ip.weight]
        grads[ip.weight] = block_weight_grad(X, cache.input_mask, d_inputs)
        if ip.bias is not None:
            _put_bias(grads, specs, ip, d_inputs.sum(axis=(0, 1)), dtype)
        dx = block_matmul_backward(d_inputs, np.ascontiguousarray(W.T), cache.input_mask)
    else:
        dx = d_inputs if cache.input_mask is None else d_inputs * cache.input_mask[0]
    if rp is not None:
        d_hu = d_inputs if shared else d_hu
        h_prev = cache.states[rp.state][:-1]
        grads[rp.weight] = block_weight_grad(h_prev, cache.recurrent_mask, d_hu)
        if rp.bias is not None:
            _put_bias(grads, specs, rp, d_hu.sum(axis=(0, 1)), dtype)
    grads.update(d_params)
    dx = dx.transpose(1, 0, 2)
    if cache.go_backwards:
        dx = dx[:, ::-1]
    return SequenceGrads(np.ascontiguousarray(dx), d_states, {n: grads[n] for n in specs}, dh_over_time)


def _put_bias(grads: dict, specs: dict, proj: Projection, db: Array, dtype) -> None:
    if proj.bias_row is None:
        grads[proj.bias] = db
    else:  # one row of a shared 2-D bias (Keras's GRU)
        if proj.bias not in grads:
            grads[proj.bias] = np.zeros(specs[proj.bias].shape, dtype)
        grads[proj.bias][proj.bias_row] = db
