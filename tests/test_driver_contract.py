"""The driver's contract where a gradient check cannot see a mistake: dtypes, argument checks, options used by
no built-in cell, and the protocol's small public helpers.

Each test here was written against a mutant of minirnn/cells/ that survived the mutation run of issue 14
(benchmarks/CHECKING.md, section 4): the mutant's forward and backward agree with each other, so only a test
of the contract itself tells the mutant from the code.
"""

import numpy as np
import pytest

from minirnn.cells import GRUCell, LSTMCell, SimpleRNNCell, driver
from minirnn.cells.base import Cell, Param, Projection, StepGrads, split_blocks

TOL = 1e-12  # float64, the same operations: measured 0


def params_for(cell, D, rng, dtype=np.float64):
    return {n: (0.5 * rng.standard_normal(s.shape)).astype(dtype) for n, s in cell.params(D).items()}


def test_a_projection_with_one_output_column_is_a_matrix_product():
    """SimpleRNN(1): kernel (3, 1), one output column; the outer-product shortcut is for one input feature."""
    cell = SimpleRNNCell(1)
    rng = np.random.default_rng(0)
    p = params_for(cell, 3, rng)
    x = rng.standard_normal((2, 4, 3))
    y, _, _ = driver.forward(cell, x, p)
    h = np.zeros((2, 1))
    for t in range(4):
        h = np.tanh(x[:, t] @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"])
        assert np.all(np.abs(y[:, t] - h) <= TOL)


@pytest.mark.parametrize("x_dtype, p_dtype, expected", [
    (np.float32, np.float32, np.float32), (np.float64, np.float32, np.float64),
    (np.float32, np.float64, np.float64), (np.int64, np.int64, np.float64)])
def test_the_computation_dtype_is_the_common_dtype_of_x_and_the_parameters(x_dtype, p_dtype, expected):
    cell = LSTMCell(2)
    rng = np.random.default_rng(1)
    p = {n: (rng.integers(-1, 2, s.shape) if p_dtype is np.int64 else rng.standard_normal(s.shape)).astype(p_dtype)
         for n, s in cell.params(3).items()}
    x = rng.integers(-2, 3, (2, 4, 3)).astype(x_dtype)
    y, final, cache = driver.forward(cell, x, p)
    g = driver.backward(cache, np.ones(y.shape))
    assert y.dtype == expected and all(s.dtype == expected for s in final)
    assert g.dx.dtype == expected and all(v.dtype == expected for v in g.params.values())
    assert all(s.dtype == expected for s in g.initial_states)


def test_float64_masks_and_initial_states_do_not_turn_a_float32_run_into_float64():
    cell = GRUCell(3, reset_after=False)  # a cell that owns a parameter (recurrent_kernel): its gradient too
    rng = np.random.default_rng(2)
    p = params_for(cell, 2, rng, np.float32)
    x = rng.standard_normal((2, 4, 2)).astype(np.float32)
    y, final, cache = driver.forward(cell, x, p, [rng.standard_normal((2, 3))],
                                     input_mask=np.full((3, 2, 2), 1.25), recurrent_mask=np.full((3, 2, 3), 0.8))
    assert y.dtype == np.float32 and final[0].dtype == np.float32
    g = driver.backward(cache, np.ones(y.shape), record_dh=True)
    assert g.dx.dtype == np.float32 and g.initial_states[0].dtype == np.float32
    assert {n: v.dtype for n, v in g.params.items()} == {n: np.float32 for n in p}
    assert g.dh_over_time.dtype == np.float32


def test_dh_over_time_holds_the_gradient_reaching_each_h_t():
    """Without d_outputs the only gradient is dL/dh_T, at the last step; dh_{t-1} = dz_t @ U^T before it."""
    cell = SimpleRNNCell(2)
    rng = np.random.default_rng(3)
    p = params_for(cell, 1, rng)
    y, final, cache = driver.forward(cell, rng.standard_normal((2, 3, 1)), p)
    d = rng.standard_normal((2, 2))
    g = driver.backward(cache, None, [d], record_dh=True)
    h = cache.states["h"]
    assert np.all(g.dh_over_time[2] == d)
    dz = d * (1 - h[3] ** 2)
    assert np.all(np.abs(g.dh_over_time[1] - dz @ p["recurrent_kernel"].T) <= TOL)


def test_an_integer_step_mask_means_what_the_bool_one_means():
    cell = LSTMCell(2)
    rng = np.random.default_rng(4)
    p = params_for(cell, 1, rng)
    x = rng.standard_normal((2, 4, 1))
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1]])
    y_bool, _, c_bool = driver.forward(cell, x, p, step_mask=mask.astype(bool))
    y_int, _, c_int = driver.forward(cell, x, p, step_mask=mask)
    assert np.all(y_int == y_bool)
    assert np.all(driver.backward(c_int, np.ones(y_int.shape)).dx == driver.backward(c_bool, np.ones(y_bool.shape)).dx)


def test_the_wrong_number_of_initial_states_is_refused():
    cell = LSTMCell(2)
    p = params_for(cell, 1, np.random.default_rng(5))
    with pytest.raises(ValueError, match="initial state"):
        driver.forward(cell, np.zeros((2, 3, 1)), p, [np.zeros((2, 2))])


def test_bad_new_states_are_refused_at_the_first_step_even_of_a_one_step_sequence():
    class Truncating(SimpleRNNCell):
        def forward(self, *args):
            (h,), cache = super().forward(*args)
            return (h[:, :1],), cache

    cell = Truncating(2)
    p = params_for(cell, 1, np.random.default_rng(6))
    with pytest.raises(ValueError, match="forward's new states"):
        driver.forward(cell, np.zeros((2, 1, 1)), p)


class Plain(Cell):
    """No projections: h_t = tanh(x_t W + h_{t-1} U)."""

    units = 2
    state_sizes = {"h": 2}

    def params(self, input_size):
        return {"W": Param((input_size, 2), "zeros", "matrix"), "U": Param((2, 2), "zeros", "matrix")}

    def forward(self, x, states, p):
        h = np.tanh(x @ p["W"] + states[0] @ p["U"])
        return (h,), (x, states[0], h, p)

    def backward(self, d_states, cache):
        x, h_prev, h, p = cache
        dz = d_states[0] * (1 - h ** 2)
        return StepGrads((dz @ p["U"].T,), dz @ p["W"].T, {"W": x.T @ dz, "U": h_prev.T @ dz})


def test_a_cell_without_an_input_projection_takes_one_input_mask_not_one_per_block():
    p = {"W": np.ones((3, 2)), "U": np.eye(2)}
    with pytest.raises(ValueError, match="input_mask"):
        driver.forward(Plain(), np.ones((2, 4, 3)), p, input_mask=np.ones((2, 2, 3)))
    mask = np.ones((1, 2, 3))
    mask[0, :, 0] = 0
    x = np.random.default_rng(9).standard_normal((2, 4, 3))
    y, _, cache = driver.forward(Plain(), x, p, input_mask=mask)
    x0 = x.copy()
    x0[:, :, 0] = 0
    y0, _, cache0 = driver.forward(Plain(), x0, p)
    assert np.all(y == y0)
    dx = driver.backward(cache, np.ones(y.shape)).dx
    assert np.all(dx[:, :, 0] == 0) and np.all(dx[:, :, 1:] == driver.backward(cache0, np.ones(y.shape)).dx[:, :, 1:])


class ReadOut(Cell):
    """Two states of different sizes, the recurrent one second: h_t = tanh(x_t W + h_{t-1} U), y_t = h_t V.
    The recurrent projection (and so a recurrent dropout mask) is on h (2 units), not on the first state."""

    units = 3
    state_sizes = {"y": 3, "h": 2}
    input_projection = Projection("W")
    recurrent_projection = Projection("U", state="h")

    def params(self, input_size):
        return {"W": Param((input_size, 2)), "U": Param((2, 2)), "V": Param((2, 3))}

    def forward(self, xw, states, p, hu):
        h = np.tanh(xw + hu)
        return (h @ p["V"], h), (h, p["V"])

    def backward(self, d_states, cache):
        h, V = cache
        dy, dh = d_states
        dz = (dy @ V.T + dh) * (1 - h ** 2)
        return StepGrads((None, None), dz, {"V": h.T @ dy}, dz)


def test_a_recurrent_mask_applies_to_the_state_the_recurrent_projection_reads():
    cell = ReadOut()
    rng = np.random.default_rng(7)
    p = params_for(cell, 1, rng)
    x = rng.standard_normal((2, 4, 1))
    y, _, _ = driver.forward(cell, x, p, recurrent_mask=np.zeros((2, 2)))
    y0, _, _ = driver.forward(cell, x, dict(p, U=np.zeros((2, 2))))
    assert np.all(np.abs(y - y0) <= TOL)
    with pytest.raises(ValueError, match="recurrent_mask"):
        driver.forward(cell, x, p, recurrent_mask=np.zeros((2, 3)))


def test_an_lstm_without_bias_keeps_its_four_input_mask_blocks():
    cell = LSTMCell(3, use_bias=False)
    rng = np.random.default_rng(8)
    p = params_for(cell, 2, rng)
    x = rng.standard_normal((2, 4, 2))
    for g in range(4):
        mask = np.ones((4, 2, 2))
        mask[g] = 0
        q = dict(p, kernel=p["kernel"].copy())
        split_blocks(q["kernel"], 4)[g][...] = 0
        y, _, _ = driver.forward(cell, x, p, input_mask=mask)
        assert np.all(np.abs(y - driver.forward(cell, x, q)[0]) <= TOL), g


def test_param_normalises_its_shape_and_refuses_empty_dimensions():
    assert Param([2, np.int64(3)]).shape == (2, 3) and type(Param([2, 3]).shape) is tuple
    with pytest.raises(ValueError, match="positive"):
        Param((0, 3))


def test_a_cells_repr_shows_its_constructor_arguments():
    assert repr(SimpleRNNCell(2)).startswith("SimpleRNNCell(units=2, activation='tanh', ")


def test_split_blocks_splits_the_last_axis_of_a_sequence_too():
    z = np.arange(2 * 3 * 8).reshape(2, 3, 8)
    i, f, g, o = split_blocks(z, 4)
    assert i.shape == (2, 3, 2) and np.all(o == z[..., 6:])


class RecurrentBiasRow(Cell):
    """A 2-D bias whose only used row is the recurrent projection's: h_t = tanh(x_t W + h_{t-1} U + b[1])
    (b[0] is declared and unused, so its gradient is zero). The driver creates the bias gradient itself."""

    units = 2
    state_sizes = {"h": 2}
    input_projection = Projection("W")
    recurrent_projection = Projection("U", bias="b", bias_row=1, state="h")

    def params(self, input_size):
        return {"W": Param((input_size, 2)), "U": Param((2, 2)), "b": Param((2, 2), "zeros", "bias")}

    def forward(self, xw, states, p, hu):
        h = np.tanh(xw + hu)
        return (h,), h

    def backward(self, d_states, h):
        dz = d_states[0] * (1 - h ** 2)
        return StepGrads((None,), dz, {}, dz)


def test_a_bias_row_on_the_recurrent_projection_alone_gets_its_gradient_in_the_runs_dtype():
    cell = RecurrentBiasRow()
    rng = np.random.default_rng(10)
    p = params_for(cell, 1, rng, np.float32)
    y, _, cache = driver.forward(cell, rng.standard_normal((2, 3, 1)).astype(np.float32), p)
    g = driver.backward(cache, np.ones(y.shape, np.float32))
    db = g.params["b"]
    assert db.shape == (2, 2) and db.dtype == np.float32 and np.all(db[0] == 0)
    assert np.all(np.abs(db[1] - _dz_sum(cache)) <= 1e-5)  # float32 against float64: measured 4.1e-7 (values ~5)


def _dz_sum(cache):
    """sum over steps and rows of dz_t, recomputed: the bias gradient of row 1."""
    h, U = cache.states["h"], cache.params["U"]
    d, total = np.zeros((2, 2)), np.zeros(2)
    for t in range(h.shape[0] - 2, -1, -1):
        dz = (d + 1) * (1 - h[t + 1].astype(np.float64) ** 2)
        total += dz.sum(axis=0)
        d = dz @ U.T
    return total
