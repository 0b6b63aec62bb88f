"""save/load: an exact round trip for every registered layer class and both dtypes, compile settings and
optimizer state; training resumed after a load is bit-identical to training that never stopped; atomic
writes; a clear ValueError naming the file for every unreadable file, and no code ever executed."""

import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import minirnn
from minirnn import Sequential, load_model, saving
from minirnn.cells import GRUCell, LSTMCell
from minirnn.layers import (
    GRU,
    LAYERS,
    LSTM,
    RNN,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Masking,
    SimpleRNN,
    TimeDistributed,
)
from minirnn.losses import Huber, SparseCategoricalCrossentropy
from minirnn.metrics import BinaryAccuracy, MeanMetricWrapper
from minirnn.optimizers import SGD, Adam, AdamW, RMSprop
from minirnn.schedules import ExponentialDecay

INPUT = (5, 3)  # (timesteps, features) of every test model


def table(dtype):
    """One small model per registered layer class, exercising its non-default options."""
    return {
        "Dense": lambda: [Dense(4, activation="tanh", use_bias=False, seed=1, dtype=dtype),
                          Dense(2, activation="sigmoid", kernel_initializer="orthogonal", seed=2, dtype=dtype)],
        "Dropout": lambda: [Dropout(0.3, seed=5, dtype=dtype), Dense(2, seed=2, dtype=dtype)],
        "Masking": lambda: [Masking(0.25, dtype=dtype), LSTM(3, return_sequences=True, seed=1, dtype=dtype)],
        "GRU": lambda: [GRU(4, reset_after=False, return_sequences=True, dropout=0.1, recurrent_dropout=0.2,
                            go_backwards=True, seed=3, dtype=dtype), GRU(2, seed=4, dtype=dtype)],
        "LSTM": lambda: [LSTM(4, activation="relu", recurrent_activation="hard_sigmoid", unit_forget_bias=False,
                              recurrent_dropout=0.1, seed=6, dtype=dtype)],
        "SimpleRNN": lambda: [SimpleRNN(3, activation="relu", use_bias=False, return_sequences=True,
                                        bias_initializer="ones", seed=7, dtype=dtype)],
        "Bidirectional": lambda: [Bidirectional(LSTM(3, return_sequences=True, seed=8, dtype=dtype), merge_mode="sum"),
                                  Bidirectional(GRU(2, seed=9, dtype=dtype))],
        "TimeDistributed": lambda: [TimeDistributed(Dense(2, activation="relu", seed=10, dtype=dtype))],
        # ids (6, 5, 3) -> (6, 5, 3, 4) -> Dense on the last axis; mask_zero's mask is not read by Dense
        "Embedding": lambda: [Embedding(7, 4, mask_zero=True, seed=13, dtype=dtype), Dense(2, seed=14, dtype=dtype)],
        "RNN": lambda: [RNN(GRUCell(3, reset_after=False, activation="relu"), return_sequences=True,
                            recurrent_dropout=0.2, seed=11, dtype=dtype),
                        Bidirectional(RNN(LSTMCell(2, unit_forget_bias=False), go_backwards=True, seed=12,
                                          dtype=dtype))],
    }


def test_table_covers_exactly_the_registry():
    missing = sorted(set(LAYERS) - set(table("float32")))
    assert not missing, f"registered layer classes without a save/load case in tests/test_saving.py: {missing}"
    assert not set(table("float32")) - set(LAYERS), "cases for classes no longer registered"


def normalized(config):
    return json.loads(json.dumps(config))


def assert_same_model(a, b, x):
    assert [type(la) for la in a.layers] == [type(lb) for lb in b.layers]
    assert [normalized(la.get_config()) for la in a.layers] == [normalized(lb.get_config()) for lb in b.layers]
    assert a.name == b.name
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_round_trip_every_layer_class(tmp_path, rng, kind, dtype):
    cases = table(dtype)
    if kind not in cases:
        pytest.fail(f"registered layer class {kind!r} has no case in tests/test_saving.py::table")
    model = Sequential(cases[kind](), name=f"m_{kind.lower()}")
    model.build(INPUT)
    x = rng.standard_normal((6, *INPUT)).astype(dtype)
    x[:, -1] = 0.25  # padding steps for Masking
    if kind == "Embedding":
        x = rng.integers(0, 7, (6, *INPUT))  # token ids, kept integer
    y = model.predict(x) + 1
    model.compile(Adam(0.01, amsgrad=True), "mse", metrics=["mae"])
    model.fit(x, y, epochs=1, batch_size=4, verbose=0, seed=0)  # optimizer state to save
    path = tmp_path / "model.npz"
    model.save(path)
    again = load_model(path)
    assert_same_model(model, again, x)
    assert all(str(w.dtype) == dtype for w in again.weights)
    assert again.optimizer.get_config() == model.optimizer.get_config()
    s0, s1 = model.optimizer.get_state(), again.optimizer.get_state()
    assert s0["iterations"] == s1["iterations"] == 2 and set(s0) == set(s1)
    for k in s0:
        if k != "iterations":
            for u, v in zip(s0[k], s1[k]):
                np.testing.assert_array_equal(u, v)
    assert again.evaluate(x, y) == model.evaluate(x, y)


def test_mixed_dtypes_and_without_optimizer(tmp_path, rng):
    model = Sequential([LSTM(3, input_shape=INPUT, seed=0, dtype="float64"), Dense(1, seed=1)])
    model.save(tmp_path / "plain.npz")  # never compiled
    again = load_model(tmp_path / "plain.npz")
    assert again.optimizer is None and [w.dtype for w in again.weights] == [w.dtype for w in model.weights]
    model.compile("adam", "mse")
    model.save(tmp_path / "no_opt.npz", include_optimizer=False)
    assert load_model(tmp_path / "no_opt.npz").optimizer is None
    assert_same_model(model, again, rng.standard_normal((2, *INPUT)))


@pytest.mark.parametrize("opt,loss,metrics", [
    (RMSprop(0.01, momentum=0.9, centered=True, weight_decay=0.01), Huber(0.5), ["mae", "mse"]),
    (AdamW(ExponentialDecay(0.01, 3, 0.5, staircase=True), clipnorm=1.0), "mse", [BinaryAccuracy(threshold=0.2)]),
    (SGD(0.1, 0.9, nesterov=True), "mae", []),
])
def test_compile_settings_round_trip(tmp_path, rng, opt, loss, metrics):
    model = Sequential([SimpleRNN(3, input_shape=INPUT, seed=0), Dense(1, seed=1)])
    model.compile(opt, loss, metrics=metrics)
    x, y = rng.standard_normal((8, *INPUT)), rng.uniform(size=(8, 1))
    model.fit(x, y, epochs=2, batch_size=3, verbose=0, seed=0)
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert type(again.optimizer) is type(model.optimizer)
    assert again.optimizer.get_config() == model.optimizer.get_config()
    assert again.optimizer.learning_rate == model.optimizer.learning_rate
    assert again.loss.get_config() == model.loss.get_config() and again.metrics_names == model.metrics_names
    assert again.evaluate(x, y) == model.evaluate(x, y)


def test_sparse_classifier_round_trip(tmp_path, rng):
    model = Sequential([GRU(4, input_shape=INPUT, seed=0), Dense(3, seed=1)])
    model.compile("rmsprop", SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x, y = rng.standard_normal((9, *INPUT)), rng.integers(0, 3, 9)
    model.fit(x, y, epochs=1, verbose=0, seed=0)
    model.save(tmp_path / "c.npz")
    again = load_model(tmp_path / "c.npz")
    assert again.loss.from_logits and again.evaluate(x, y) == model.evaluate(x, y)


def founding_like(seed=0):
    model = Sequential([LSTM(6, input_shape=(7, 2), dropout=0.2, recurrent_dropout=0.1, seed=seed),
                        Dropout(0.3, seed=seed + 1), Dense(1, seed=seed + 2)])
    model.compile(Adam(ExponentialDecay(0.01, 4, 0.8), amsgrad=True, weight_decay=0.01), "mse", metrics=["mae"])
    return model


def test_resume_after_load_is_bit_identical(tmp_path, rng):
    """fit 2 epochs, save, load, fit epochs 2..3 == fit 4 epochs without stopping (same seed), bit for bit:
    fit draws epoch e's shuffle and dropout masks from (seed, e) alone, and the file keeps every weight,
    optimizer slot, the step counter (which also drives the learning-rate schedule)."""
    x = rng.standard_normal((45, 7, 2)).astype(np.float32)
    y = x[:, :, :1].mean(axis=1) + 0.1 * rng.standard_normal((45, 1)).astype(np.float32)
    straight = founding_like()
    h_straight = straight.fit(x, y, epochs=4, batch_size=8, validation_split=0.2, verbose=0, seed=11)

    first = founding_like()
    h1 = first.fit(x, y, epochs=2, batch_size=8, validation_split=0.2, verbose=0, seed=11)
    first.save(tmp_path / "ckpt.npz")
    del first
    resumed = load_model(tmp_path / "ckpt.npz")
    h2 = resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=8, validation_split=0.2, verbose=0, seed=11)

    assert h2.epoch == [2, 3]
    for key in h_straight.history:
        assert h1.history[key] + h2.history[key] == h_straight.history[key], key
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == straight.optimizer.iterations == 4 * 5
    # and a different seed for the second half would have differed (the test can fail)
    other = load_model(tmp_path / "ckpt.npz")
    other.fit(x, y, epochs=4, initial_epoch=2, batch_size=8, validation_split=0.2, verbose=0, seed=12)
    assert any(not np.array_equal(a, b) for a, b in zip(straight.get_weights(), other.get_weights()))


def test_initial_epoch_checked():
    model = founding_like()
    x, y = np.zeros((4, 7, 2)), np.zeros((4, 1))
    for bad in (4, -1, 1.0, True):
        with pytest.raises(ValueError, match="initial_epoch"):
            model.fit(x, y, epochs=4, initial_epoch=bad, verbose=0)
    assert model.optimizer.iterations == 0


# -- atomicity ---------------------------------------------------------------------------------------------

def test_interrupted_save_keeps_the_previous_file(tmp_path, rng, monkeypatch):
    model = Sequential([SimpleRNN(3, input_shape=INPUT, seed=0), Dense(1, seed=1)])
    model.compile("adam", "mse")
    path = tmp_path / "model.npz"
    model.save(path)
    before = path.read_bytes()
    model.set_weights([w + 1 for w in model.get_weights()])

    def dies_halfway(f, arrays):
        f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt  # e.g. Ctrl-C or a kill in the middle of writing

    monkeypatch.setattr(saving, "_write_npz", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    monkeypatch.undo()
    model.save(path)  # a completed save replaces it
    np.testing.assert_array_equal(load_model(path).get_weights()[0], model.get_weights()[0])
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # an ordinary file's mode, not mkstemp's 0600


# -- bad files ------------------------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    model = Sequential([LSTM(3, input_shape=INPUT, seed=0), Dense(1, seed=1)])
    model.compile("adam", "mse")
    model.fit(np.ones((4, *INPUT)), np.ones((4, 1)), verbose=0, seed=0)
    path = tmp_path / "good.npz"
    model.save(path)
    return path


def _rewrite_config(src, dst, change):
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    config = json.loads(arrays["__config__"].tobytes())
    change(config)
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), np.uint8)
    np.savez(dst, **arrays)


def test_missing_directory_and_non_model_files(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.npz.*no such file"):
        load_model(tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="directory"):
        load_model(tmp_path)
    (tmp_path / "text.npz").write_text("hello, not a model")
    with pytest.raises(ValueError, match=r"text\.npz"):
        load_model(tmp_path / "text.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"single\.npy.*single array"):
        load_model(tmp_path / "single.npy")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match=r"other\.npz.*not a minirnn model"):
        load_model(tmp_path / "other.npz")


@pytest.mark.parametrize("cut", [0.0, 0.3, 0.9, 0.999])
def test_truncated_file(saved, cut):
    data = saved.read_bytes()
    saved.write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(ValueError, match=r"good\.npz"):
        load_model(saved)


def test_corrupt_bytes_detected_by_crc(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("weights/0000.npy")
    # flip a byte inside the first weight's data (after its local header and .npy header)
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"good\.npz.*(corrupt|CRC)"):
        load_model(saved)


class _Payload:
    """Unpickling this would create a file: the loader must never unpickle."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_files_refused_without_running_code(tmp_path):
    marker = tmp_path / "executed"
    with open(tmp_path / "pickled.npz", "wb") as f:
        pickle.dump({"__config__": _Payload(marker)}, f)
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(marker)
    np.savez(tmp_path / "objects.npz", __config__=arr)
    np.save(tmp_path / "object.npy", arr)
    for name in ("pickled.npz", "objects.npz", "object.npy"):
        with pytest.raises(ValueError, match=name.replace(".", r"\.") + ".*pickle"):
            load_model(tmp_path / name)
    assert not marker.exists()


def test_wrong_format_version_and_inconsistent_contents(saved, tmp_path):
    bad = tmp_path / "bad.npz"
    _rewrite_config(saved, bad, lambda c: c.update(format_version=2))
    with pytest.raises(ValueError, match=r"bad\.npz.*format version 2.*version 1"):
        load_model(bad)
    _rewrite_config(saved, bad, lambda c: c.update(format="keras"))
    with pytest.raises(ValueError, match=r"bad\.npz.*minirnn\.model"):
        load_model(bad)
    _rewrite_config(saved, bad, lambda c: c["model"]["layers"][0].update(class_name="os.system"))
    with pytest.raises(ValueError, match=r"bad\.npz.*unknown class 'os\.system'"):
        load_model(bad)
    _rewrite_config(saved, bad, lambda c: c["model"]["layers"][0]["config"].update(units=5))
    with pytest.raises(ValueError, match=r"bad\.npz.*weights/0000 has shape"):
        load_model(bad)
    _rewrite_config(saved, bad, lambda c: c["model"]["layers"][0]["config"].update(bogus=1))
    with pytest.raises(ValueError, match=r"bad\.npz.*layer 0 \(LSTM\) config is invalid"):
        load_model(bad)
    _rewrite_config(saved, bad, lambda c: c["compile"]["optimizer"].update(name="sgd"))
    with pytest.raises(ValueError, match=r"bad\.npz.*compile config is invalid.*beta_1"):
        load_model(bad)
    _rewrite_config(saved, bad, lambda c: c["compile"].update(optimizer={"name": "sgd", "momentum": 0.9}))
    with pytest.raises(ValueError, match=r"bad\.npz.*slots \['m', 'v'\].*\['momentums'\]"):
        load_model(bad)
    with np.load(saved) as f:
        arrays = {k: f[k] for k in f.files if k != "weights/0001"}
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match=r"bad\.npz.*weight arrays"):
        load_model(bad)
    arrays = {"__config__": np.frombuffer(b"{not json", np.uint8)}
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match=r"bad\.npz.*JSON"):
        load_model(bad)


def test_unsaveable_models_fail_at_save_and_write_nothing(tmp_path):
    model = Sequential([Dense(1, input_shape=(2,), kernel_initializer=lambda s, r, d: np.ones(s, d))])
    with pytest.raises(ValueError, match="layer 0.*JSON"):
        model.save(tmp_path / "a.npz")
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile("adam", "mse", metrics=[MeanMetricWrapper(lambda t, p: abs(t - p), name="custom")])
    with pytest.raises(ValueError, match="metric 'custom'.*cannot be saved"):
        model.save(tmp_path / "b.npz")
    with pytest.raises(ValueError, match="model"):
        Sequential([Dense(1)]).save(tmp_path / "c.npz")  # not built
    with pytest.raises(ValueError, match="does not exist"):
        Sequential([Dense(1, input_shape=(2,))]).save(tmp_path / "no" / "d.npz")
    assert os.listdir(tmp_path) == []
    assert minirnn.load_model is load_model


# -- saving never damages what is there --------------------------------------------------------------------

def small_model(seed=0):
    model = Sequential([SimpleRNN(3, input_shape=INPUT, seed=seed), Dense(1, seed=seed + 1)])
    model.compile("adam", "mse")
    return model


def test_non_regular_targets_refused_untouched(tmp_path):
    model = small_model()
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"fifo\.npz.*not a regular file"):
        model.save(fifo)
    assert fifo.is_fifo()
    device = tmp_path / "null.npz"
    os.symlink("/dev/null", device)  # a link to a character device: refused, /dev/null stays a device
    with pytest.raises(ValueError, match="not a regular file"):
        model.save(device)
    assert os.path.islink(device) and not os.path.isfile("/dev/null")
    with pytest.raises(ValueError, match="directory"):
        model.save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["fifo.npz", "null.npz"]  # no temporary file either


def test_symlink_is_followed_and_mode_kept(tmp_path):
    real = tmp_path / "store" / "real.npz"
    real.parent.mkdir()
    small_model(0).save(real)
    os.chmod(real, 0o600)
    link = tmp_path / "link.npz"
    os.symlink(real, link)
    model = small_model(5)
    model.save(link)
    assert os.path.islink(link) and os.readlink(link) == os.fspath(real)  # the link stays a link
    assert real.stat().st_mode & 0o777 == 0o600  # the private file stays private (was 0644 before)
    np.testing.assert_array_equal(load_model(real).get_weights()[0], model.get_weights()[0])
    assert sorted(os.listdir(real.parent)) == ["real.npz"]
    dangling = tmp_path / "dangling.npz"
    os.symlink(tmp_path / "store" / "new.npz", dangling)
    model.save(dangling)  # creates the file the link names
    assert (tmp_path / "store" / "new.npz").is_file() and os.path.islink(dangling)


def test_longest_legal_name_saves(tmp_path):
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    path = tmp_path / ("m" * (name_max - 4) + ".npz")  # exactly NAME_MAX bytes
    small_model().save(path)
    load_model(path)
    path = tmp_path / ("é" * ((name_max - 4) // 2) + ".npz")  # multi-byte characters: cut on characters
    small_model().save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(["m" * (name_max - 4) + ".npz", path.name])


def _dead_pid():
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_dead_writers_only_are_removed(tmp_path):
    path = tmp_path / "model.npz"
    small_model().save(path)
    dead = tmp_path / f".model.npz~{_dead_pid()}-0123abcd.tmp"
    alive = tmp_path / f".model.npz~{os.getppid()}-0123abcd.tmp"  # a live process: maybe saving right now
    other = tmp_path / f".other.npz~{_dead_pid()}-0123abcd.tmp"   # another file's: not this save's business
    for p in (dead, alive, other):
        p.write_bytes(b"partial")
    small_model(3).save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(["model.npz", alive.name, other.name])


KILLED_WRITER = """
import os, sys, time
import numpy as np
from minirnn import Sequential, saving
from minirnn.layers import Dense, SimpleRNN
model = Sequential([SimpleRNN(3, input_shape=(5, 3), seed=9), Dense(1, seed=10)])
def writes_slowly(f, arrays):
    f.write(b"PK\\x03\\x04 half a file")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
saving._write_npz = writes_slowly
model.save(sys.argv[1])
"""


def test_sigkill_during_save_leaves_the_previous_file(tmp_path):
    import signal
    import subprocess
    import sys

    path = tmp_path / "model.npz"
    model = small_model()
    model.save(path)
    before = path.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, os.fspath(path)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline() == "writing\n"  # the temporary file is being written, not yet renamed
        temporaries = [n for n in os.listdir(tmp_path) if n != "model.npz"]
        assert temporaries == [f".model.npz~{child.pid}-{temporaries[0][-12:-4]}.tmp"], temporaries
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert path.read_bytes() == before
    np.testing.assert_array_equal(load_model(path).get_weights()[0], model.get_weights()[0])
    small_model(4).save(path)  # the next save removes the killed writer's leftover
    assert os.listdir(tmp_path) == ["model.npz"]
