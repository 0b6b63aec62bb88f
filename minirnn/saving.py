"""``save_model`` / ``load_model``: a model, its compile settings and its optimizer state in one file.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, each with a CRC-32), holding

    __config__              uint8: UTF-8 JSON {format, format_version, model: {name, layers: [{class_name,
                            config}], input_shape}, compile: {optimizer, loss, metrics} or null,
                            optimizer_state: {iterations, slots: {name: count}}}
    weights/0000, ...       every weight in ``get_weights()`` order, in its own dtype
    optimizer/<slot>/0000   every optimizer slot array (Adam's m, v, ...), aligned with the weights

Why one ``.npz`` file rather than a directory (config.json + weights.npz): a single file can be replaced
atomically. ``save_model`` writes a temporary file in the same directory (``.<name>~<pid>-<random>.tmp``,
the name shortened to fit NAME_MAX), fsyncs it, then ``os.replace``-s it over the target (and fsyncs the
directory), so an interrupted or killed save leaves the previous file intact and loadable. Saving never
damages what is at the path: a directory, FIFO, device or socket is refused; a symlink is followed (the
file it points to is replaced, the link itself stays); an existing file keeps its permission bits (a new
one gets 0666 minus the umask). Each save removes the temporary files that earlier saves of the same
name left behind when they were killed, and only those whose writer's PID is no longer alive (a
concurrent save's file is never touched).

Custom classes. Files name classes, never code: layers are looked up by class name in
``minirnn.layers.LAYERS`` (the built-in layers, ``RNN`` included), cells inside ``RNN(cell)`` in the
cell registry filled by the ``@minirnn.cells.register_cell`` decorator (``register_cell(name=...)`` for
another name), models in ``MODEL_CLASSES`` (``register_model_class``), and losses, optimizers, schedules
and metrics in their fixed built-in tables. A model with an unregistered cell cannot be saved.

What loading trusts, and what it does not. ``load_model`` treats the file as untrusted input: it never
unpickles (``.npy`` headers are parsed by NumPy's literal-only header reader, object arrays refused) and
never imports or runs code named by the file; it reads only the zip entries the config names (an entry
it does not name, or an entry present twice, is refused unread), bounds the zip directory, the config
(1 MiB, JSON nested at most 32 levels, no repeated keys, no NaN/Infinity) and every entry by the size
its declared shape needs; it computes every parameter's shape from the layers' configs and the cells'
declarations (``cell.params(input_size)``) and checks the arrays' shapes and dtypes, and the total
memory against the machine and the process's ``RLIMIT_AS``, before building or allocating anything;
weights and optimizer state must be finite. Every failure is a ``ValueError`` naming the file and what
was wrong. What it trusts: the code of the registered classes (a registered cell's constructor and
``params`` run on values from the file), and NumPy's zip and inflate implementations; a file that passes
every check may still hold weights that make the model compute nonsense (loading checks form, not
intent), and a model the machine can hold may still be large.

What round-trips exactly: every layer's config (``get_config`` / ``from_config``) and weights (dtype
included), the loss, metrics and optimizer config (a learning-rate schedule included), and the optimizer
state (slots and ``iterations``). So ``fit(epochs=2, seed=s)``, save, load, ``fit(epochs=4,
initial_epoch=2, seed=s)`` ends bit-identical to ``fit(epochs=4, seed=s)`` (fit derives each epoch's
shuffling and dropout generators from (seed, epoch)). Not saved: a stateful layer's carried state
(a loaded layer starts from zeros) and the layers' own generators (re-created from their seeds; fit
does not use them).

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> from minirnn import Sequential, load_model
    >>> from minirnn.layers import LSTM, Dense
    >>> model = Sequential([LSTM(4, input_shape=(5, 1), seed=0), Dense(1, seed=1)])
    >>> model.compile("adam", "mse")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> model.save(path)
    >>> again = load_model(path)
    >>> x = np.ones((2, 5, 1), np.float32)
    >>> bool((again.predict(x) == model.predict(x)).all()), type(again.optimizer).__name__
    (True, 'Adam')
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from .training import losses as losses_mod
from .training import metrics as metrics_mod
from .training import optimizers as optimizers_mod

Array = np.ndarray

FORMAT = "minirnn.model"
FORMAT_VERSION = 1
CONFIG_KEY = "__config__"


# -- model classes ------------------------------------------------------------------------------------

# The model classes a file may name, by class name. ``minirnn.model`` registers ``Sequential`` when it is
# imported: the model module imports this one (``model.save``), never the other way round.
MODEL_CLASSES: dict[str, type] = {}


def register_model_class(cls: type) -> type:
    """Let ``save_model`` write, and ``load_model`` build, models of class ``cls`` (under its class name).

    Re-registering the same definition (same module and qualified name, e.g. after a reload) replaces it;
    a different class under a taken name is refused. Usable as a class decorator.
    """
    name = cls.__name__
    old = MODEL_CLASSES.get(name)
    if old is not None and old is not cls and (old.__module__, old.__qualname__) != (cls.__module__,
                                                                                     cls.__qualname__):
        raise ValueError(f"a different model class is already registered as {name!r}: {old.__module__}."
                         f"{old.__qualname__}")
    MODEL_CLASSES[name] = cls
    return cls


def _model_class_name(model: Any) -> str | None:
    """The registered name of ``model``'s class, or of the registered class it derives from."""
    for name, cls in MODEL_CLASSES.items():
        if type(model) is cls:
            return name
    return next((name for name, cls in MODEL_CLASSES.items() if isinstance(model, cls)), None)


# -- writing ------------------------------------------------------------------------------------------

def _metric_config(m: Any) -> dict:
    if isinstance(m, str):
        return {"identifier": m}
    config = m.get_config()
    if config["class_name"] not in _METRIC_CLASSES:
        raise ValueError(f"metric {m.name!r} ({type(m).__name__}) cannot be saved: only named metrics and "
                         f"{sorted(_METRIC_CLASSES)} can (saving never stores code); save with "
                         f"include_optimizer=False or compile with a named metric")
    return config


def _model_config(model: Any, include_optimizer: bool) -> dict:
    class_name = _model_class_name(model)
    if class_name is None:
        raise TypeError(f"model must be a minirnn Sequential; got {type(model).__name__}")
    model._require_built("save")
    layers = []
    for i, layer in enumerate(model.layers):
        spec = {"class_name": type(layer).__name__, "config": layer.get_config()}
        try:
            json.dumps(spec, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ValueError(f"layer {i} ({layer.describe()}) has a config that cannot be saved as JSON ({e}); "
                             f"callable initializers cannot be saved, use their names") from None
        layers.append(spec)
    config: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model": {"class_name": class_name, "name": model.name, "layers": layers,
                  "input_shape": list(model.layers[0].built_input_shape)},
        "compile": None, "optimizer_state": None,
    }
    if include_optimizer and model.optimizer is not None and model.loss is not None:
        loss_config = model.loss.get_config()
        if type(model.loss) is not losses_mod.LOSSES.get(loss_config.get("name")):
            raise ValueError(f"loss {model.loss!r} cannot be saved: only the built-in losses can (saving never "
                             f"stores code); save with include_optimizer=False")
        opt_config = model.optimizer.get_config()
        if type(model.optimizer) is not optimizers_mod.OPTIMIZERS.get(opt_config.get("name")):
            raise ValueError(f"optimizer {type(model.optimizer).__name__} cannot be saved: only the built-in "
                             f"optimizers can; save with include_optimizer=False")
        config["compile"] = {"optimizer": opt_config, "loss": loss_config,
                             "metrics": [_metric_config(m) for m in model.compiled_metrics]}
        config["optimizer_state"] = {"iterations": int(model.optimizer.iterations),
                                     "slots": {n: len(v) for n, v in model.optimizer.slots.items()}}
    return config


def _arrays(model: Any, config: dict) -> dict[str, Array]:
    arrays = {f"weights/{i:04d}": w for i, w in enumerate(model.weights)}
    if config["optimizer_state"] is not None:
        for name, slot in model.optimizer.slots.items():
            arrays.update({f"optimizer/{name}/{i:04d}": a for i, a in enumerate(slot)})
    text = json.dumps(config, allow_nan=False)
    arrays[CONFIG_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    return arrays


def _write_npz(f: Any, arrays: dict[str, Array]) -> None:
    np.savez(f, **arrays)


def save_model(model: Any, path: str | os.PathLike, include_optimizer: bool = True) -> None:
    """Write ``model`` to ``path`` atomically (see the module docstring for the format).

    ``include_optimizer=False`` leaves out the compile settings and the optimizer state. A symlink at
    ``path`` is followed (the file it points to is replaced; the link stays); a path that is a directory,
    a FIFO, a device or a socket is refused; an existing file keeps its permission bits.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or not path:
        raise TypeError(f"path must be a non-empty file path; got {path!r}")
    target = os.path.realpath(path)  # follow symlinks: replace the file the link points to, keep the link
    mode = None
    try:
        st = os.stat(target)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISDIR(st.st_mode):
            raise ValueError(f"path {path!r} is a directory; give a file name such as 'model.npz'")
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"path {path!r} is not a regular file (a FIFO, device or socket); model.save "
                             f"replaces only regular files, and would destroy this one")
        mode = stat.S_IMODE(st.st_mode)
    config = _model_config(model, include_optimizer)
    arrays = _arrays(model, config)
    directory, base = os.path.split(target)
    if not os.path.isdir(directory):
        raise ValueError(f"cannot save to {path!r}: the directory {directory!r} does not exist")
    _remove_stale_temporaries(directory, base)
    tmp = os.path.join(directory, _temporary_name(directory, base))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
            # an existing file keeps its mode; a new one gets an ordinary file's (mkstemp-like 0600 until now)
            os.fchmod(f.fileno(), mode if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX; not possible everywhere)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# Temporary files are ".<base>~<pid>-<8 hex>.tmp" beside the target (<base> shortened to fit NAME_MAX): the
# writer's PID lets a later save remove the leftovers of a killed writer, and only those (a live writer's
# file, including a concurrent save's, is never touched).
_TMP_SUFFIX = ".tmp"


def _name_max(directory: str) -> int:
    try:
        return int(os.pathconf(directory, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def _temporary_stem(directory: str, base: str) -> str:
    """``.<base>~`` with base cut (on a character boundary) so that the whole name fits NAME_MAX bytes."""
    room = _name_max(directory) - len(f".~{2 ** 22}-{'0' * 8}{_TMP_SUFFIX}") - 8  # PIDs up to 2**22, spare
    while len(os.fsencode(base)) > room:
        base = base[:-1]
    return f".{base}~"


def _temporary_name(directory: str, base: str) -> str:
    return f"{_temporary_stem(directory, base)}{os.getpid()}-{os.urandom(4).hex()}{_TMP_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be saving right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: keep its file
    return True


def _remove_stale_temporaries(directory: str, base: str) -> None:
    stem = _temporary_stem(directory, base)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(stem) and name.endswith(_TMP_SUFFIX)):
            continue
        pid_part, _, token = name[len(stem):-len(_TMP_SUFFIX)].partition("-")
        if not (pid_part.isdigit() and len(token) == 8 and all(c in "0123456789abcdef" for c in token)):
            continue
        if not _pid_alive(int(pid_part)):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- reading ------------------------------------------------------------------------------------------
#
# Loading is a parser of untrusted input: every size it reads is bounded before it is read, every shape and
# dtype is checked against what the config declares before anything is allocated, and only the members the
# config names are ever decompressed.

MAX_CONFIG_BYTES = 1 << 20   # a real config is a few KB; 1 MiB bounds what the JSON parser may be given
MAX_MEMBERS = 65_535          # zip entries in the archive's directory (checked before Python parses it)
MAX_DIRECTORY_BYTES = 16 << 20
MAX_DEPTH = 32                # nesting of the JSON config (wrappers of wrappers need a few levels)
MAX_LAYERS = 10_000
MAX_RANK = 8                  # of the model's input shape
MAX_ITERATIONS = 2 ** 62
_CHUNK = 1 << 20              # members are decompressed into their final array in pieces of this size


class _Refused(ValueError):
    """Why a file cannot be loaded; ``load_model`` adds the file's name."""


def _no_duplicate_keys(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise _Refused(f"its config repeats the JSON key(s) {dup} (a reader could take either value)")
    return dict(pairs)


def _no_constant(name: str):
    raise _Refused(f"its config holds the non-standard JSON number {name}")


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise _Refused(f"its config is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for v in value.values():
            _check_depth(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_depth(v, depth + 1)


def _sniff(f: Any, size: int) -> None:
    """Refuse anything that is not a zip archive, saying what it is (never suggesting to unpickle it)."""
    if size == 0:
        raise _Refused("the file is empty, not a minirnn model file")
    head = f.read(8)
    f.seek(0)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return
    if head.startswith(b"\x93NUMPY"):
        try:
            _, _, dtype = _read_npy_header(f)
        except _Refused:
            dtype = None
        extra = " of Python objects (pickled data, which minirnn never loads)" if (
            dtype is not None and dtype.hasobject) else ""
        raise _Refused(f"it holds a single array{extra}, not a minirnn model archive (.npy, not .npz)")
    if head[:1] == b"\x80":
        raise _Refused("it is a Python pickle, not a minirnn model file (minirnn never unpickles)")
    raise _Refused(f"it is not a minirnn model file: a minirnn model is a zip archive (.npz) and this file "
                   f"begins with {head!r}")


def _check_directory(f: Any, size: int) -> None:
    """Bound the zip directory from its end record before ``zipfile`` parses it into Python objects."""
    tail_size = min(size, 22 + 65535)
    f.seek(size - tail_size)
    tail = f.read(tail_size)
    f.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise _Refused("the file is truncated or corrupt (no zip directory at its end)")
    entries, directory_bytes = struct.unpack("<HI", tail[at + 10:at + 16])
    if entries >= MAX_MEMBERS or directory_bytes > MAX_DIRECTORY_BYTES:
        raise _Refused(f"its zip directory lists {entries} entries in {directory_bytes} bytes; a minirnn model "
                       f"has at most {MAX_MEMBERS - 1} entries in {MAX_DIRECTORY_BYTES} bytes")


def _read_npy_header(f: Any) -> tuple[tuple, bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        if version in ((2, 0), (3, 0)):
            return np.lib.format.read_array_header_2_0(f)
    except (ValueError, SyntaxError, EOFError) as e:
        raise _Refused(f"an entry is not a valid .npy array ({e})") from None
    raise _Refused(f"an entry has .npy format version {version}, which this minirnn does not read")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, dtype: np.dtype | None,
                 shape: tuple | None, max_bytes: int | None = None) -> Array:
    """The array of one member, its header checked (dtype, shape, size) before its data is decompressed,
    and decompressed into the final array in pieces (never more than the declared size)."""
    with zf.open(info) as f:
        got_shape, fortran, got_dtype = _read_npy_header(f)
        if got_dtype.hasobject:
            raise _Refused(f"{key} holds Python objects (pickled data), which minirnn never loads")
        if (dtype is not None and got_dtype != dtype) or (shape is not None and tuple(got_shape) != shape):
            raise _Refused(f"{key} has shape {tuple(got_shape)} and dtype {got_dtype}; the layer expects "
                           f"{shape} {dtype}")
        nbytes = math.prod(got_shape) * got_dtype.itemsize
        if max_bytes is not None and nbytes > max_bytes:
            raise _Refused(f"{key} is {nbytes} bytes; at most {max_bytes} are accepted")
        header = f.tell()
        if info.file_size != header + nbytes:
            raise _Refused(f"{key} holds {info.file_size - header} bytes of data; its shape {tuple(got_shape)} "
                           f"{got_dtype} needs {nbytes}")
        out = np.empty(nbytes, np.uint8)
        view, pos = memoryview(out), 0
        while pos < nbytes:
            n = f.readinto(view[pos:pos + _CHUNK])
            if not n:
                raise _Refused(f"{key} is truncated")
            pos += n
        if f.read(1):  # also makes zipfile check the CRC-32 of the whole member
            raise _Refused(f"{key} holds more data than its shape")
    arr = out.view(got_dtype)
    if fortran:
        return np.ascontiguousarray(arr.reshape(tuple(got_shape)[::-1]).T)
    return arr.reshape(got_shape)


def _read_config(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> dict:
    info = members.get(CONFIG_KEY + ".npy")
    if info is None:
        raise _Refused(f"it is an .npz archive but not a minirnn model (no {CONFIG_KEY!r} entry)")
    if info.file_size > MAX_CONFIG_BYTES + 4096:
        raise _Refused(f"its config entry is {info.file_size} bytes; at most {MAX_CONFIG_BYTES} are accepted")
    raw = _read_member(zf, info, CONFIG_KEY, None, None, MAX_CONFIG_BYTES)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _Refused(f"its {CONFIG_KEY!r} entry is not UTF-8 JSON bytes")
    try:
        config = json.loads(raw.tobytes().decode("utf-8"), object_pairs_hook=_no_duplicate_keys,
                            parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _Refused(f"its config is not valid JSON ({e})") from None
    except RecursionError:
        raise _Refused(f"its config is nested more than {MAX_DEPTH} levels deep") from None
    _check_depth(config)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise _Refused(f"not a {FORMAT!r} file")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise _Refused(f"format version {version!r}; this minirnn reads version {FORMAT_VERSION}")
    return config


# -- what a config declares, computed without building anything ----------------------------------------

def _declared(layer: Any, shape: tuple) -> tuple[list[tuple[tuple, np.dtype]], tuple]:
    """``([(shape, dtype) of every parameter, in get_weights order], output shape)`` of ``layer`` built for
    inputs ``(batch,) + shape``, from the layer's config and its cell's declarations: nothing allocated."""
    from .layers import RNN, Bidirectional, Dense, TimeDistributed
    from .layers.base import Layer

    if isinstance(layer, RNN):
        if len(shape) != 2 or not isinstance(shape[-1], int):
            raise _Refused(f"{layer.describe()} needs inputs (batch, timesteps, features); the model gives "
                           f"(batch, {', '.join(map(str, shape))})")
        params = [(spec.shape, layer.dtype) for spec in layer.cell.params(shape[-1]).values()]
        return params, layer.compute_output_shape(shape)
    if isinstance(layer, Dense):
        if not shape or not isinstance(shape[-1], int):
            raise _Refused(f"{layer.describe()} needs a known last input axis; got {shape}")
        params = [((shape[-1], layer.units), layer.dtype)] + ([((layer.units,), layer.dtype)] if layer.use_bias
                                                               else [])
        return params, layer.compute_output_shape(shape)
    if isinstance(layer, Bidirectional):
        forward, out = _declared(layer.forward_layer, shape)
        backward, _ = _declared(layer.backward_layer, shape)
        return forward + backward, layer.compute_output_shape(shape)
    if isinstance(layer, TimeDistributed):
        if len(shape) < 2:
            raise _Refused(f"{layer.describe()} needs inputs (batch, timesteps, ...); got (batch, {shape})")
        inner, out = _declared(layer.layer, tuple(shape[1:]))
        return inner, (shape[0], *out)
    if type(layer).build is Layer.build:  # Dropout, Masking: no parameters
        return [], layer.compute_output_shape(shape)
    # A layer class registered in LAYERS without a declaration here: its own build tells (its code is trusted
    # like every registered class's; see the module docstring).
    layer.build(shape)
    return [(w.shape, w.dtype) for w in layer.params.values()], layer.compute_output_shape(shape)


def _input_shape(value: Any) -> tuple:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RANK or not all(
            d is None or (type(d) is int and d > 0) for d in value):
        raise _Refused(f"its input_shape must be a list of 1 to {MAX_RANK} positive integers; got {value!r}")
    return tuple(value)


def _memory_limit() -> tuple[int | None, str]:
    """The bytes this process can still allocate (its address-space limit minus what it maps, and the
    machine's physical memory), or None when neither is known."""
    limits = []
    try:
        limits.append((os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "the machine's memory"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as statm:
                mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limits.append((max(soft - mapped, 0), "this process's address-space limit (RLIMIT_AS)"))
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else (None, "")


def _layer_from_spec(i: int, layer_spec: Any) -> Any:
    from .layers import LAYERS

    if not isinstance(layer_spec, dict) or not isinstance(layer_spec.get("class_name"), str) \
            or not isinstance(layer_spec.get("config"), dict):
        raise _Refused(f"layer {i} must be {{'class_name': str, 'config': dict}}; got {str(layer_spec)[:200]}")
    cls = LAYERS.get(layer_spec["class_name"])
    if cls is None:
        raise _Refused(f"layer {i} has unknown class {layer_spec['class_name'][:200]!r}; known: {sorted(LAYERS)}")
    try:
        return cls.from_config(layer_spec["config"])
    except Exception as e:  # noqa: BLE001 -- a crafted config may make a constructor raise anything
        raise _Refused(f"layer {i} ({cls.__name__}) config is invalid: {type(e).__name__}: {str(e)[:300]}") from None


def _plan(config: dict) -> dict:
    """Everything the config declares, checked, with no array allocated: the layers (constructed, not
    built), the input shape, the (key, shape, dtype) of every array the file must hold, the compile objects."""
    spec = config.get("model")
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list) or not spec["layers"]:
        raise _Refused("the config has no layers")
    if len(spec["layers"]) > MAX_LAYERS:
        raise _Refused(f"the config has {len(spec['layers'])} layers; at most {MAX_LAYERS} are accepted")
    class_name = spec.get("class_name", "Sequential")
    model_class = MODEL_CLASSES.get(class_name) if isinstance(class_name, str) else None
    if model_class is None:
        raise _Refused(f"unknown model class {str(class_name)[:200]!r}; known: {sorted(MODEL_CLASSES)} "
                       f"(minirnn.model registers Sequential when imported)")
    name = spec.get("name", "sequential")
    if not isinstance(name, str):
        raise _Refused(f"the model name must be a string; got {type(name).__name__}")
    layers = [_layer_from_spec(i, s) for i, s in enumerate(spec["layers"])]
    shape = _input_shape(spec.get("input_shape"))
    if layers[0].input_shape is not None and tuple(layers[0].input_shape) != shape:
        raise _Refused(f"layer 0 declares input_shape {layers[0].input_shape} but the model {list(shape)}")
    weights: list[tuple[str, tuple, np.dtype]] = []
    for i, layer in enumerate(layers):
        try:
            params, shape = _declared(layer, shape)
        except _Refused:
            raise
        except Exception as e:  # noqa: BLE001 -- e.g. a cell whose declarations fail on this input size
            raise _Refused(f"layer {i} ({type(layer).__name__}) cannot be built for the declared input shape: "
                           f"{type(e).__name__}: {str(e)[:300]}") from None
        weights += [(f"weights/{len(weights) + k:04d}", tuple(s), np.dtype(d)) for k, (s, d) in enumerate(params)]
    plan: dict[str, Any] = {"model_class": model_class, "name": name, "layers": layers,
                            "input_shape": tuple(spec["input_shape"]), "weights": weights, "compile": None,
                            "slots": {}, "iterations": 0}
    compile_spec = config.get("compile")
    if compile_spec is None:
        return plan
    try:
        if not isinstance(compile_spec, dict):
            raise TypeError(f"it must be a dict; got {type(compile_spec).__name__}")
        optimizer = optimizers_mod.from_config(compile_spec["optimizer"])
        loss = losses_mod.from_config(compile_spec["loss"])
        metric_specs = compile_spec.get("metrics", [])
        if not isinstance(metric_specs, list):
            raise TypeError("metrics must be a list")
        metrics = [_metric_from_config(m) for m in metric_specs]
    except Exception as e:  # noqa: BLE001 -- a crafted config may make a constructor raise anything
        raise _Refused(f"its compile config is invalid: {type(e).__name__}: {str(e)[:300]}") from None
    plan["compile"] = (optimizer, loss, metrics)
    state = config.get("optimizer_state")
    if not isinstance(state, dict) or not isinstance(state.get("slots"), dict):
        raise _Refused("the optimizer state description is missing")
    iterations = state.get("iterations", 0)
    if type(iterations) is not int or not 0 <= iterations < MAX_ITERATIONS:
        raise _Refused(f"optimizer iterations must be an integer in [0, 2**62); got {str(iterations)[:100]}")
    slots = state["slots"]
    if slots and set(slots) != set(optimizer.slot_names):
        raise _Refused(f"the optimizer state holds slots {sorted(slots)}; a {type(optimizer).__name__} with this "
                       f"config has {sorted(optimizer.slot_names)}")
    for slot, count in slots.items():
        if count != len(weights) or type(count) is not int:
            raise _Refused(f"optimizer slot {slot!r} is incomplete: {str(count)[:50]} arrays for {len(weights)} "
                           f"weights")
    plan["slots"] = {slot: [(f"optimizer/{slot}/{k:04d}", s, d) for k, (_, s, d) in enumerate(weights)]
                     for slot in slots}
    plan["iterations"] = iterations
    return plan


def _check_members(members: dict[str, zipfile.ZipInfo], plan: dict) -> None:
    held = sum(1 for m in members if m.startswith("weights/"))
    if held != len(plan["weights"]) or any(k + ".npy" not in members for k, _, _ in plan["weights"]):
        raise _Refused(f"it holds {held} weight arrays but its layers have {len(plan['weights'])}")
    expected = {CONFIG_KEY + ".npy"} | {k + ".npy" for k, _, _ in plan["weights"]}
    for slot, decls in plan["slots"].items():
        missing = [k for k, _, _ in decls if k + ".npy" not in members]
        if missing:
            raise _Refused(f"optimizer slot {slot!r} is incomplete (no {missing[0]})")
        expected |= {k + ".npy" for k, _, _ in decls}
    extra = sorted(set(members) - expected)
    if extra:
        raise _Refused(f"it holds {len(extra)} entr{'y' if len(extra) == 1 else 'ies'} its config does not name "
                       f"({', '.join(repr(e[:80]) for e in extra[:3])}{', ...' if len(extra) > 3 else ''}); "
                       f"a minirnn model file holds only its config, weights and optimizer slots")


def _check_memory(plan: dict) -> None:
    count = sum(math.prod(s) for _, s, _ in plan["weights"])
    nbytes = sum(math.prod(s) * d.itemsize for _, s, d in plan["weights"])
    # the arrays read from the file and the model's own copies of them, weights and optimizer slots
    need = 2 * nbytes * (1 + len(plan["slots"]))
    limit, what = _memory_limit()
    if limit is not None and need > limit:
        raise _Refused(f"its layers declare {count:,} parameters ({nbytes:,} bytes); loading needs about "
                       f"{need:,} bytes and {what} allows {limit:,}")


def _read_arrays(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], decls: list) -> list[Array]:
    arrays = []
    for key, shape, dtype in decls:
        a = _read_member(zf, members[key + ".npy"], key, dtype, shape)
        if not np.isfinite(a).all():
            raise _Refused(f"{key} holds NaN or Inf; a minirnn model file holds finite numbers only")
        arrays.append(a)
    return arrays


def _load(path: str) -> Any:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _Refused("no such file") from None
    if stat.S_ISDIR(st.st_mode):
        raise _Refused("it is a directory, not a minirnn model file")
    if not stat.S_ISREG(st.st_mode):
        raise _Refused("it is not a regular file (a FIFO, device or socket), not a minirnn model file")
    with open(path, "rb") as f:
        _sniff(f, st.st_size)
        _check_directory(f, st.st_size)
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            members = {i.filename: i for i in infos}
            if len(members) != len(names):
                dup = sorted({n for n in names if names.count(n) > 1})
                raise _Refused(f"it holds the zip entry {dup[0][:80]!r} more than once (a reader could take "
                               f"either copy)")
            config = _read_config(zf, members)
            plan = _plan(config)
            _check_members(members, plan)
            _check_memory(plan)
            weights = _read_arrays(zf, members, plan["weights"])
            slots = {slot: _read_arrays(zf, members, decls) for slot, decls in plan["slots"].items()}
    model = plan["model_class"](plan["layers"], name=plan["name"])
    if not model.built:
        model.build(plan["input_shape"])
    model.set_weights(weights)
    if plan["compile"] is not None:
        optimizer, loss, metrics = plan["compile"]
        model.compile(optimizer, loss, metrics=metrics)
        if slots:
            optimizer.build(model.weights)
            optimizer.set_state({"iterations": plan["iterations"], **slots})
        optimizer.iterations = plan["iterations"]
        if optimizer.schedule is not None:  # the rate of the latest step, as before saving
            optimizer.learning_rate = optimizer.schedule(max(plan["iterations"] - 1, 0))
    return model


_METRIC_CLASSES = {cls.__name__: cls for cls in (metrics_mod.LossMetric, metrics_mod.BinaryAccuracy,
                                                 metrics_mod.CategoricalAccuracy,
                                                 metrics_mod.SparseCategoricalAccuracy)}


def _metric_from_config(config: dict) -> Any:
    if "identifier" in config:
        return config["identifier"]
    config = dict(config)
    cls = _METRIC_CLASSES.get(config.pop("class_name", None))
    if cls is None:
        raise ValueError(f"unknown metric config {config!r}")
    return cls(**config)


def load_model(path: str | os.PathLike) -> Any:
    """The ``Sequential`` saved at ``path`` by ``save_model`` / ``model.save``, compiled as it was, with
    its optimizer state. Every failure is a ``ValueError`` naming the file and what was wrong (see the
    module docstring for what loading checks and what it trusts)."""
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    try:
        return _load(path)
    except _Refused as e:
        raise ValueError(f"cannot load a model from {path!r}: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as e:
        raise ValueError(f"cannot load a model from {path!r}: the file is truncated or corrupt or cannot be "
                         f"read ({type(e).__name__}: {str(e)[:300]})") from None
    except Exception as e:  # noqa: BLE001 -- the documented contract: a ValueError naming the file, whatever the input
        raise ValueError(f"cannot load a model from {path!r}: its contents are invalid "
                         f"({type(e).__name__}: {str(e)[:300]})") from None
