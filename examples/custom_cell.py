"""A custom recurrent cell, written against minirnn's cell protocol and gradient-checked.

The cell is the original LSTM of Hochreiter & Schmidhuber (1997), before Gers et al. (2000) added
the forget gate: the cell state is a pure accumulator, the "constant error carousel". Three gate
blocks (k = 3) in the order i, c (candidate g), o:

    z_t = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias                  (B, 3H)
    i = s(z_i)   g = a(z_c)   o = s(z_o)              s = recurrent_activation, a = activation
    c_t = c_{t-1} + i * g
    h_t = o * a(c_t)

Backward, with dh, dc the total gradients reaching h_t, c_t:

    dz_o = dh * a(c_t) * s'(o)
    dc  += dh * o * a'(a(c_t))
    dz_i = dc * g * s'(i);   dz_c = dc * i * a'(g)
    dc_{t-1} = dc            (no forget gate: the cell-state gradient passes back unchanged)
    dh_{t-1} = dz_t @ recurrent_kernel^T

Everything else (the input projection of all steps in one matmul, the weight gradients summed over
time, dx) is done by minirnn's shared driver, ``recurrent_forward`` / ``recurrent_backward``; the
cell implements only ``step_forward`` and ``step_backward`` (the protocol is described in
``minirnn.gradcheck`` and ``minirnn.kernels.recurrent.RecurrentCell``). ``NoForgetLSTM`` turns the
cell into a layer by subclassing ``minirnn.layers.recurrent.RNN``.

Check it (every gradient against finite differences and the Taylor test, in float64):

    python -m minirnn gradcheck --cell examples.custom_cell:NoForgetLSTMCell
    python -m minirnn gradcheck --cell examples/custom_cell.py:NoForgetLSTMCell --activation relu
    python examples/custom_cell.py          # the cell, the layer, and a short training run

Why not a peephole LSTM? Peepholes add weights (w_ci, w_cf, w_co) beyond kernel, recurrent_kernel and
bias. The driver owns the weights and returns gradients for exactly those three, so peephole
gradients would have to be smuggled out of ``step_backward`` through the cache; a cell with no weights
of its own fits the protocol as it is.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from minirnn import activations
from minirnn.kernels.recurrent import RecurrentCell
from minirnn.layers.recurrent import RNN


@dataclass(frozen=True)
class NoForgetLSTMCell(RecurrentCell):
    """LSTM without a forget gate (1997): ``c_t = c_{t-1} + i * g``; k = 3 blocks i, c, o.

    Shapes: buffers as in ``minirnn.kernels.recurrent`` with k = 3; states h and c, each (B, H).

    Example:
        >>> import numpy as np
        >>> from minirnn.kernels import recurrent_forward
        >>> rng = np.random.default_rng(0)
        >>> x, W, U = rng.standard_normal((2, 4, 3)), rng.standard_normal((3, 6)), rng.standard_normal((2, 6))
        >>> y, (h, c), cache = recurrent_forward(NoForgetLSTMCell(), x, W, U)
        >>> y.shape, c.shape
        ((2, 4, 2), (2, 2))
    """

    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"
    gates = 3
    state_names = ("h", "c")
    # both recurrent products go through the base class's helpers, so recurrent dropout works too
    supports_recurrent_dropout = True

    def __post_init__(self):
        activations.get(self.activation)  # an unknown name fails here, not at the first step
        activations.get(self.recurrent_activation)

    def extra_buffers(self, T, B, H, dtype):
        # a(c_t) is needed twice in backward (dz_o and a'); cache it rather than recompute it
        return {"c_act": np.empty((T, B, H), dtype)}

    def scratch_buffers(self, B, H, dtype):
        return {"rec": np.empty((B, 3 * H), dtype), "tmp": np.empty((B, H), dtype),
                "deriv": np.empty((B, H), dtype)}

    @staticmethod
    def _split(z):
        H = z.shape[-1] // 3
        return z[:, :H], z[:, H:2 * H], z[:, 2 * H:]

    def step_forward(self, t, buf, recurrent_kernel, scratch):
        a, s = activations.get(self.activation), activations.get(self.recurrent_activation)
        z = self._add_recurrent_product(t, buf, recurrent_kernel, scratch)
        i, g, o = self._split(z)
        s.forward(i, out=i)  # activations overwrite the pre-activations: backward needs only these
        a.forward(g, out=g)
        s.forward(o, out=o)
        c = buf["c"][t + 1]
        np.multiply(i, g, out=c)
        c += buf["c"][t]
        c_act = a.forward(c, out=buf["c_act"][t])
        np.multiply(o, c_act, out=buf["h"][t + 1])

    def step_backward(self, t, buf, d_states, dz, recurrent_kernel_T, scratch):
        a, s = activations.get(self.activation), activations.get(self.recurrent_activation)
        dh, dc = d_states
        i, g, o = self._split(buf["z"][t])
        dz_i, dz_c, dz_o = self._split(dz)
        c_act, tmp, deriv = buf["c_act"][t], scratch["tmp"], scratch["deriv"]
        np.multiply(dh, c_act, out=dz_o)
        dz_o *= s.derivative(o, out=deriv)
        np.multiply(dh, o, out=tmp)
        tmp *= a.derivative(c_act, out=deriv)
        dc += tmp
        np.multiply(dc, g, out=dz_i)
        dz_i *= s.derivative(i, out=deriv)
        np.multiply(dc, i, out=dz_c)
        dz_c *= a.derivative(g, out=deriv)
        # dc_{t-1} = dc: already in place, the carousel needs no work
        self._recurrent_product_backward(dz, recurrent_kernel_T, buf, dh, scratch)  # dh_{t-1} = dz @ U^T


class NoForgetLSTM(RNN):
    """A layer around ``NoForgetLSTMCell`` (weights kernel (D, 3H), recurrent_kernel (H, 3H), bias (3H,)).

    Example:
        >>> import numpy as np
        >>> layer = NoForgetLSTM(5, seed=0)
        >>> layer(np.ones((2, 7, 3))).shape, [w.shape for w in layer.get_weights()]
        ((2, 5), [(3, 15), (5, 15), (15,)])
    """

    keras_name = "no_forget_lstm"

    def __init__(self, units: int, activation: str | None = "tanh", recurrent_activation: str | None = "sigmoid",
                 **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation).name

    def make_cell(self) -> NoForgetLSTMCell:
        return NoForgetLSTMCell(self.activation, self.recurrent_activation)

    def get_config(self) -> dict:
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation}


def main(quick: bool = False) -> int:
    from minirnn import Sequential
    from minirnn.gradcheck import check_cell, check_layer, check_model
    from minirnn.layers import Dense

    rng = np.random.default_rng(0)
    reports = [check_cell(NoForgetLSTMCell()), check_cell(NoForgetLSTMCell("relu"), seed=1),
               check_layer(NoForgetLSTM(4, return_sequences=True, return_state=True, seed=0),
                           rng.standard_normal((3, 5, 2))),
               check_layer(NoForgetLSTM(4, dropout=0.2, recurrent_dropout=0.3, seed=0),
                           rng.standard_normal((3, 5, 2)), training=True)]
    model = Sequential([NoForgetLSTM(8, input_shape=(12, 1), seed=0), Dense(1, seed=1)])
    model.compile("adam", "mse")
    # the adding-style task the carousel is good at: the target is the sum of the inputs
    x = rng.uniform(-1, 1, (256, 12, 1)) / 4
    y = x.sum(axis=1)
    reports.append(check_model(model, x[:4], y[:4]))
    for r in reports:
        print(r, end="\n\n")
    history = model.fit(x, y, epochs=3 if quick else 40, batch_size=32, verbose=0, seed=0)
    loss = history.history["loss"]
    print(f"training a NoForgetLSTM(8) to sum 12 inputs: mse {loss[0]:.4f} -> {loss[-1]:.4f} "
          f"(predicting the mean scores {float(y.var()):.4f})")
    return 0 if all(r.passed for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main(quick="--quick" in sys.argv))
