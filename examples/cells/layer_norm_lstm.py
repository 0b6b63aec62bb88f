"""The layer-normalised LSTM (Ba, Kiros & Hinton 2016, "Layer normalization", section 3.1 and eq. 20-22).

Layer normalisation rescales each sample's vector of summed inputs to zero mean and unit variance, then
applies a learned gain and bias, so the statistics need no batch and work at every step of a recurrent
net. The input and recurrent contributions are normalised separately (each over all 4H gate entries, as
in the paper), and the memory is normalised before the output activation.

Shapes: x_t (B, D); h and c (B, H); kernel (D, 4H), recurrent_kernel (H, 4H), gate blocks in Keras's order
i, f, c (the candidate g), o; gain_x, bias_x, gain_h, bias_h (4H,); gain_c, bias_c (H,).

    LN(v; gain, bias) = gain * (v - mean(v)) / sqrt(var(v) + eps) + bias      (over the last axis, per row)
    z_t = LN(x_t @ kernel; gain_x, bias_x) + LN(h_{t-1} @ recurrent_kernel; gain_h, bias_h)
    i_t = s(z_i)     f_t = s(z_f)     g_t = a(z_g)     o_t = s(z_o)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * a(LN(c_t; gain_c, bias_c))

(The paper's extra bias b would only add to bias_x + bias_h, so it is left out; bias_x carries Keras's
forget bias 1.)

Backward, with dh, dc the total gradients reaching h_t and c_t; the layer norm's from its cached output
v_hat = (v - mean) / std and 1 / std, with dy the gradient reaching y = LN(v):

    LN':  dgain = sum_b dy * v_hat     dbias = sum_b dy     d_hat = dy * gain
          dv = (d_hat - mean(d_hat) - v_hat * mean(d_hat * v_hat)) / std
    do = dh * a(n_t)                       (n_t = LN(c_t))
    dc = dc + LN'(dh * o * a'(n_t))
    di = dc * g      df = dc * c_{t-1}     dg = dc * i      dc_{t-1} = dc * f
    dz = [di * s'(i), df * s'(f), dg * a'(g), do * s'(o)]
    d(x_t @ kernel) = LN'(dz);  d(h_{t-1} @ recurrent_kernel) = LN'(dz)        (with their own gains)
    dh_{t-1} = d(h_{t-1} @ recurrent_kernel) @ recurrent_kernel^T; dW, dU summed over time (the driver's)

Example:
    >>> import numpy as np
    >>> v_hat, inv_std = layer_norm(np.array([[1.0, 2.0, 3.0]]), 0.0)
    >>> v_hat.round(4).tolist()
    [[-1.2247, 0.0, 1.2247]]
    >>> cell = LayerNormLSTMCell(3)
    >>> [n for n, p in cell.params(2).items() if p.role == "gain"]
    ['gain_x', 'gain_h', 'gain_c']
    >>> from minirnn.gradcheck import check_cell
    >>> check_cell(cell).passed
    True

    python -m minirnn gradcheck --cell examples/cells/layer_norm_lstm.py:LayerNormLSTMCell
"""

from __future__ import annotations

import numpy as np

from minirnn.cells import GatedCell, Param, Projection, StepGrads, register_cell, split_blocks


def layer_norm(v, eps):
    """(v - mean) / sqrt(var + eps) over the last axis, and 1 / sqrt(var + eps) (B, 1)."""
    mu = v.mean(axis=-1, keepdims=True)
    inv_std = 1 / np.sqrt(((v - mu) ** 2).mean(axis=-1, keepdims=True) + eps)
    return (v - mu) * inv_std, inv_std


def layer_norm_backward(dy, v_hat, inv_std, gain):
    """dL/dv, dL/dgain, dL/dbias for y = gain * v_hat + bias, from the cached v_hat and 1 / std."""
    d_hat = dy * gain
    dv = inv_std * (d_hat - d_hat.mean(axis=-1, keepdims=True)
                    - v_hat * (d_hat * v_hat).mean(axis=-1, keepdims=True))
    return dv, (dy * v_hat).sum(axis=0), dy.sum(axis=0)


@register_cell
class LayerNormLSTMCell(GatedCell):
    """LSTM with layer norms of x W and h U (each its own gain and bias) and of c_t; see the module docstring."""

    input_projection = Projection("kernel", blocks=4)
    recurrent_projection = Projection("recurrent_kernel", state="h", blocks=4)

    def __init__(self, units: int, activation: str | None = "tanh", recurrent_activation: str | None = "sigmoid",
                 epsilon: float = 1e-5):
        super().__init__(units, activation, recurrent_activation)
        self.epsilon = float(epsilon)

    @property
    def state_sizes(self):
        return {"h": self.units, "c": self.units}

    def params(self, input_size):
        H = self.units
        return {"kernel": Param((input_size, 4 * H), "glorot_uniform", "matrix"),
                "recurrent_kernel": Param((H, 4 * H), "orthogonal", "matrix"),
                "gain_x": Param((4 * H,), "ones", "gain"), "bias_x": Param((4 * H,), self._bias_init, "bias"),
                "gain_h": Param((4 * H,), "ones", "gain"), "bias_h": Param((4 * H,), "zeros", "bias"),
                "gain_c": Param((H,), "ones", "gain"), "bias_c": Param((H,), "zeros", "bias")}

    def _bias_init(self, shape, rng, dtype):
        b = np.zeros(shape, dtype)
        b[self.units:2 * self.units] = 1  # the forget gate starts at s(1): the cell remembers at first
        return b

    def forward(self, xw, states, p, hu):
        """xw = x_t @ kernel and hu = h_{t-1} @ recurrent_kernel, both from the driver."""
        h_prev, c_prev = states
        xw_hat, x_inv = layer_norm(xw, self.epsilon)
        hu_hat, h_inv = layer_norm(hu, self.epsilon)
        z = p["gain_x"] * xw_hat + p["bias_x"] + p["gain_h"] * hu_hat + p["bias_h"]
        z_i, z_f, z_g, z_o = split_blocks(z, 4)
        i, f, g, o = self.s(z_i), self.s(z_f), self.a(z_g), self.s(z_o)
        c = f * c_prev + i * g
        c_hat, c_inv = layer_norm(c, self.epsilon)
        a_n = self.a(p["gain_c"] * c_hat + p["bias_c"])
        h = o * a_n
        return (h, c), {"i": i, "f": f, "g": g, "o": o, "c_prev": c_prev, "a_n": a_n, "p": p,
                        "xw_hat": xw_hat, "x_inv": x_inv, "hu_hat": hu_hat, "h_inv": h_inv,
                        "c_hat": c_hat, "c_inv": c_inv}

    def backward(self, d_states, cache):
        dh, dc = d_states
        i, f, g, o, c_prev, a_n, p = (cache[k] for k in ("i", "f", "g", "o", "c_prev", "a_n", "p"))
        do = dh * a_n
        dc_ln, d_gain_c, d_bias_c = layer_norm_backward(dh * o * self.a.grad(a_n), cache["c_hat"],
                                                        cache["c_inv"], p["gain_c"])
        dc = dc + dc_ln
        di, df, dg = dc * g, dc * c_prev, dc * i
        dc_prev = dc * f
        dz = np.concatenate([di * self.s.grad(i), df * self.s.grad(f), dg * self.a.grad(g), do * self.s.grad(o)],
                            axis=1)
        d_xw, d_gain_x, d_bias_x = layer_norm_backward(dz, cache["xw_hat"], cache["x_inv"], p["gain_x"])
        d_hu, d_gain_h, d_bias_h = layer_norm_backward(dz, cache["hu_hat"], cache["h_inv"], p["gain_h"])
        return StepGrads(states=(None, dc_prev), x=d_xw, recurrent=d_hu,
                         params={"gain_x": d_gain_x, "bias_x": d_bias_x, "gain_h": d_gain_h, "bias_h": d_bias_h,
                                 "gain_c": d_gain_c, "bias_c": d_bias_c})

    def trace(self, cache):
        return {"i": cache["i"], "f": cache["f"], "o": cache["o"], "candidate": cache["g"]}
