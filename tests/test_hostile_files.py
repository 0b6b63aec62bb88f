"""load_model as a parser of untrusted input: crafted files end in a ValueError naming the file and what
was wrong, never another exception, never more memory than the model the config declares, never an
unpickling. The zip-bomb and huge-config cases run in a subprocess under an address-space limit of its
size after ``import minirnn`` plus 256 MB."""

import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from minirnn import Sequential, load_model
from minirnn.layers import LSTM, Dense

INPUT = (5, 3)


@pytest.fixture
def good(tmp_path):
    model = Sequential([LSTM(3, input_shape=INPUT, seed=0), Dense(1, seed=1)])
    model.compile("adam", "mse")
    model.train_on_batch(np.ones((4, *INPUT)), np.ones((4, 1)))  # optimizer slots to save
    path = tmp_path / "good.npz"
    model.save(path)
    return path


def members(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def npy(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def config_of(path):
    return json.loads(np.load(io.BytesIO(members(path)["__config__.npy"])).tobytes())


def write(path, entries, compress=zipfile.ZIP_STORED):
    """A zip of (name, bytes) pairs in order (repeats allowed)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on a duplicate name: that is the point of one case
        with zipfile.ZipFile(path, "w", compress) as z:
            for name, data in entries:
                z.writestr(name, data)
    return path


def with_config(src, dst, change=None, text=None, extra=(), drop=()):
    entries = members(src)
    if text is None:
        config = config_of(src)
        change(config)
        text = json.dumps(config)
    entries["__config__.npy"] = npy(np.frombuffer(text.encode(), np.uint8))
    for name in drop:
        del entries[name]
    return write(dst, [*entries.items(), *extra])


def refused(path, fragment):
    with pytest.raises(ValueError) as info:
        load_model(path)
    text = str(info.value)
    assert type(info.value) is ValueError, type(info.value)
    assert os.fspath(path) in text and fragment in text, text
    assert "allow_pickle" not in text
    return text


# -- crafted configs: one ValueError each, naming the file and the fault ---------------------------------

def _layer0(c):
    return c["model"]["layers"][0]


CONFIG_CASES = [
    ("layers not a list", lambda c: c["model"].update(layers={"a": 1}), "has no layers"),
    ("layer spec a string", lambda c: c["model"].update(layers=["LSTM"]), "layer 0 must be"),
    ("class_name a list", lambda c: _layer0(c).update(class_name=["LSTM"]), "layer 0 must be"),
    ("config a list", lambda c: _layer0(c).update(config=[1]), "layer 0 must be"),
    ("units a string", lambda c: _layer0(c)["config"].update(units="3"), "layer 0 (LSTM) config is invalid"),
    ("units None", lambda c: _layer0(c)["config"].update(units=None), "layer 0 (LSTM) config is invalid"),
    ("units Infinity", lambda c: _layer0(c)["config"].update(units=float("inf")), "JSON number Infinity"),
    ("unknown kwarg", lambda c: _layer0(c)["config"].update(bogus=1), "layer 0 (LSTM) config is invalid"),
    ("activation a dict", lambda c: _layer0(c)["config"].update(activation={}), "config is invalid"),
    ("seed a string", lambda c: _layer0(c)["config"].update(seed="x"), "config is invalid"),
    ("model class a list", lambda c: c["model"].update(class_name=[1]), "unknown model class"),
    ("model name a number", lambda c: c["model"].update(name=3), "model name must be a string"),
    ("input_shape missing", lambda c: c["model"].pop("input_shape"), "input_shape must be a list"),
    ("input_shape negative", lambda c: c["model"].update(input_shape=[5, -3]), "input_shape must be a list"),
    ("input_shape rank 20", lambda c: c["model"].update(input_shape=[1] * 20), "input_shape must be a list"),
    ("input_shape disagrees", lambda c: c["model"].update(input_shape=[5, 4]), "declares input_shape"),
    ("compile a list", lambda c: c.update(compile=[1]), "compile config is invalid"),
    ("optimizer a string", lambda c: c["compile"].update(optimizer="adam"), "compile config is invalid"),
    ("learning rate a dict", lambda c: c["compile"]["optimizer"].update(learning_rate={"x": 1}),
     "compile config is invalid"),
    ("schedule without config", lambda c: c["compile"]["optimizer"].update(
        learning_rate={"class_name": "ExponentialDecay"}), "compile config is invalid"),
    ("metrics a dict", lambda c: c["compile"].update(metrics={"a": 1}), "compile config is invalid"),
    ("metric a number", lambda c: c["compile"].update(metrics=[3]), "compile config is invalid"),
    ("loss unknown", lambda c: c["compile"].update(loss={"name": "os.system"}), "compile config is invalid"),
    ("epsilon 0", lambda c: c["compile"]["optimizer"].update(epsilon=0), "epsilon"),
    ("state missing", lambda c: c.pop("optimizer_state"), "optimizer state description is missing"),
    ("iterations negative", lambda c: c["optimizer_state"].update(iterations=-1), "iterations"),
    ("iterations huge", lambda c: c["optimizer_state"].update(iterations=10 ** 30), "iterations"),
    ("iterations a float", lambda c: c["optimizer_state"].update(iterations=2.0), "iterations"),
    ("slot count wrong", lambda c: c["optimizer_state"]["slots"].update(m=2), "slot 'm' is incomplete"),
    ("slot names wrong", lambda c: c["optimizer_state"].update(slots={"x": 5}), "holds slots ['x']"),
    ("format a list", lambda c: c.update(format=[1]), "not a 'minirnn.model' file"),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_crafted_config(good, tmp_path, case):
    _, change, fragment = case
    refused(with_config(good, tmp_path / "bad.npz", change), fragment)


@pytest.mark.parametrize("text,fragment", [
    ('{"format": "minirnn.model", "format": "keras"}', "repeats the JSON key(s) ['format']"),
    ('{"format": "minirnn.model", "format_version": 1, "model": ' + "[" * 5000 + "]" * 5000 + "}", "nested"),
    ('{"format": "minirnn.model", "format_version": 1, "model": ' + "[" * 40 + "]" * 40 + "}", "nested more than"),
    ('{"format": "minirnn.model", "format_version": NaN}', "non-standard JSON number NaN"),
    ("[1, 2]", "not a 'minirnn.model' file"),
    ('{"format": "minirnn.model", "format_version": 1, "model": {"layers": [{"class_name": "LSTM", "config": '
     '{"units": 1e400}}]}}', "layer 0 (LSTM) config is invalid: TypeError"),
    ('"\\ud800"', "not a 'minirnn.model' file"),
])
def test_crafted_json(good, tmp_path, text, fragment):
    refused(with_config(good, tmp_path / "bad.npz", text=text), fragment)


def test_duplicate_members_refused(good, tmp_path):
    entries = members(good)
    zeros = npy(np.zeros((3, 12), np.float32))
    bad = write(tmp_path / "dup.npz", [*entries.items(), ("weights/0000.npy", zeros)])
    refused(bad, "'weights/0000.npy' more than once")


def test_unnamed_member_refused_without_reading_it(good, tmp_path):
    refused(with_config(good, tmp_path / "x.npz", lambda c: None, extra=[("evil.npy", b"not even npy")]),
            "1 entry its config does not name ('evil.npy')")


@pytest.mark.parametrize("key,array,fragment", [
    ("weights/0000.npy", np.zeros((3, 12), np.float64), "has shape (3, 12) and dtype float64"),
    ("weights/0000.npy", np.zeros((12, 3), np.float32), "has shape (12, 3)"),
    ("weights/0000.npy", np.full((3, 12), np.nan, np.float32), "weights/0000 holds NaN or Inf"),
    ("weights/0002.npy", np.array([np.inf] * 12, np.float32), "weights/0002 holds NaN or Inf"),
    ("optimizer/v/0001.npy", np.full((3, 12), -np.inf, np.float32), "optimizer/v/0001 holds NaN or Inf"),
    ("weights/0001.npy", np.array([None] * 36, object).reshape(3, 12), "Python objects"),
])
def test_bad_member_arrays(good, tmp_path, key, array, fragment):
    entries = members(good)
    entries[key] = npy(array)
    refused(write(tmp_path / "bad.npz", entries.items()), fragment)


def test_member_size_must_match_its_header(good, tmp_path):
    entries = members(good)
    entries["weights/0002.npy"] = entries["weights/0002.npy"] + b"\0" * 64  # trailing bytes after the data
    refused(write(tmp_path / "long.npz", entries.items()), "weights/0002 holds 112 bytes of data")
    entries = members(good)
    entries["weights/0002.npy"] = entries["weights/0002.npy"][:-8]
    refused(write(tmp_path / "short.npz", entries.items()), "needs 48")


def test_fortran_order_member_loads_as_its_values(good, tmp_path):
    entries = members(good)
    w = np.load(io.BytesIO(entries["weights/0000.npy"]))
    entries["weights/0000.npy"] = npy(np.asfortranarray(w))
    assert np.load(io.BytesIO(entries["weights/0000.npy"])).flags.f_contiguous
    again = load_model(write(tmp_path / "f.npz", entries.items()))
    np.testing.assert_array_equal(again.get_weights()[0], w)


def test_non_model_files_say_so(tmp_path):
    (tmp_path / "data.csv").write_text("a,b,c\n1,2,3\n")
    refused(tmp_path / "data.csv", "not a minirnn model file")
    np.savetxt(tmp_path / "table.npz", np.eye(3), delimiter=",")
    refused(tmp_path / "table.npz", "not a minirnn model file")
    (tmp_path / "empty.npz").write_bytes(b"")
    refused(tmp_path / "empty.npz", "empty")
    write(tmp_path / "zip.npz", [("readme.txt", b"hello")])
    refused(tmp_path / "zip.npz", "not a minirnn model (no '__config__' entry)")
    os.mkfifo(tmp_path / "fifo.npz")
    refused(tmp_path / "fifo.npz", "not a regular file")  # and no hang waiting for a writer


def test_zip_directory_bounded_before_parsing(tmp_path):
    # an end record claiming 65,535 entries: refused from its numbers, before zipfile builds ZipInfo objects
    eocd = b"PK\x05\x06" + (0).to_bytes(4, "little") + (0xFFFF).to_bytes(2, "little") * 2 + \
        (100).to_bytes(4, "little") + (0).to_bytes(4, "little") + b"\0\0"
    (tmp_path / "dir.npz").write_bytes(b"PK\x03\x04" + b"\0" * 100 + eocd)
    refused(tmp_path / "dir.npz", "lists 65535 entries")


# -- under a memory limit, in a subprocess -------------------------------------------------------------

LIMITED = textwrap.dedent("""
    import resource, sys
    import minirnn
    pages = int(open("/proc/self/statm").read().split()[0])
    vsize = pages * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (vsize + 256 * 2**20, resource.RLIM_INFINITY))
    try:
        minirnn.load_model(sys.argv[1])
    except ValueError as e:
        print("ValueError:", e)
        sys.exit(0)
    except BaseException as e:
        print("WRONG", type(e).__name__, e)
        sys.exit(3)
    print("LOADED")
    sys.exit(4)
""")


def load_limited(path):
    """load_model(path) in a subprocess under RLIMIT_AS = its size after import minirnn + 256 MB."""
    run = subprocess.run([sys.executable, "-c", LIMITED, os.fspath(path)], capture_output=True, text=True,
                         timeout=120)  # the timeout only guards against a hang; nothing here is timed
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def bomb_member(z, name, mb=300):
    """A member of ``mb`` MB of zeros (more than the subprocess may allocate), compressed to about 1.3 MB."""
    with z.open(name, "w", force_zip64=True) as f:
        chunk = bytes(1 << 20)
        for _ in range(mb):
            f.write(chunk)


def test_zip_bomb_members_are_never_decompressed(good, tmp_path):
    """An unreferenced 300 MB member (1.3 MB on disk), and a config entry whose 300 MB of data follow a .npy
    header: the loader before this issue decompressed every member first (MemoryError here)."""
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in members(good).items():
            z.writestr(name, data)
        bomb_member(z, "padding.npy")
    assert path.stat().st_size < 2 << 20
    out = load_limited(path)
    assert "bomb.npz" in out and "does not name ('padding.npy')" in out, out

    path = tmp_path / "config_bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        bomb_member(z, "__config__.npy")
    out = load_limited(path)
    assert "config_bomb.npz" in out and "its config entry is 314572800 bytes" in out, out


def _tiny_config(units, with_weights):
    config = {"format": "minirnn.model", "format_version": 1, "compile": None, "optimizer_state": None,
              "model": {"class_name": "Sequential", "name": "m", "input_shape": [10, 1000],
                        "layers": [{"class_name": "LSTM", "config": {"units": units}}]}}
    entries = [("__config__.npy", npy(np.frombuffer(json.dumps(config).encode(), np.uint8)))]
    if with_weights:  # names only: a few bytes each, whatever the shapes the config declares
        entries += [(f"weights/{i:04d}.npy", b"x") for i in range(3)]
    return entries


def test_huge_config_refused_before_allocating(tmp_path):
    """A ~500-byte file declaring an LSTM of 3000 units and no weights cost 1.5 GB and 10 s before this
    issue (every layer was built and initialised first); units=10**9 ended in a bare MemoryError."""
    path = write(tmp_path / "huge.npz", _tiny_config(3000, False), zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1000
    out = load_limited(path)
    assert "huge.npz" in out and "it holds 0 weight arrays but its layers have 3" in out, out

    path = write(tmp_path / "giga.npz", _tiny_config(10 ** 9, True))
    out = load_limited(path)
    # 4e9 * (1000 + 1e9 + 1) float32 parameters: refused with the numbers, under the limit
    assert "giga.npz" in out and "4,000,004,004,000,000,000 parameters" in out and "allows" in out, out
    # the declared shapes are checked before the member data is even looked at
    refused(path, "loading needs about")
