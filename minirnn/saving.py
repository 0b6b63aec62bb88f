"""``save_model`` / ``load_model``: a model, its compile settings and its optimizer state in one file.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, each with a CRC-32), holding

    __config__              uint8: UTF-8 JSON {format, format_version, model: {name, layers: [{class_name,
                            config}], input_shape}, compile: {optimizer, loss, metrics} or null,
                            optimizer_state: {iterations, slots: {name: count}}}
    weights/0000, ...       every weight in ``get_weights()`` order, in its own dtype
    optimizer/<slot>/0000   every optimizer slot array (Adam's m, v, ...), aligned with the weights

Why one ``.npz`` file rather than a directory (config.json + weights.npz): a single file can be replaced
atomically. ``save_model`` writes a temporary file in the same directory, flushes and fsyncs it, then
``os.replace``-s it over the target (and fsyncs the directory), so an interrupted save leaves the previous
file intact. Loading uses ``numpy.load(allow_pickle=False)`` only and looks classes up in fixed
registries (``minirnn.layers.LAYERS``, the losses, optimizers and metrics tables): reading a file never
executes code. Every failure (missing, truncated, corrupt, pickled or object arrays, another format
or version, inconsistent contents) is a ``ValueError`` naming the file.

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
import os
import tempfile
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

    ``include_optimizer=False`` leaves out the compile settings and the optimizer state.
    """
    path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise TypeError(f"path must be a non-empty file path; got {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"path {path!r} is a directory; give a file name such as 'model.npz'")
    config = _model_config(model, include_optimizer)
    arrays = _arrays(model, config)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"cannot save to {path!r}: the directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it an ordinary file's mode
        os.replace(tmp, path)
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- reading ------------------------------------------------------------------------------------------

def _read(path: str) -> tuple[dict, dict[str, Array]]:
    if not os.path.exists(path):
        raise ValueError(f"cannot load a model from {path!r}: no such file")
    if os.path.isdir(path):
        raise ValueError(f"cannot load a model from {path!r}: it is a directory, not a minirnn model file")
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not a minirnn model archive")
        with archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as e:
        # numpy's messages: pickled data or object arrays refused (allow_pickle=False), bad headers
        raise ValueError(f"cannot load a model from {path!r}: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise ValueError(f"cannot load a model from {path!r}: the file is truncated or corrupt "
                         f"({type(e).__name__}: {e})") from None
    if CONFIG_KEY not in arrays:
        raise ValueError(f"cannot load a model from {path!r}: it is an .npz archive but not a minirnn model "
                         f"(no {CONFIG_KEY!r} entry)")
    raw = arrays.pop(CONFIG_KEY)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"cannot load a model from {path!r}: its {CONFIG_KEY!r} entry is not UTF-8 JSON bytes")
    try:
        config = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot load a model from {path!r}: its config is not valid JSON ({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"cannot load a model from {path!r}: not a {FORMAT!r} file")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"cannot load a model from {path!r}: format version {version!r}; this minirnn reads "
                         f"version {FORMAT_VERSION}")
    return config, arrays


def _build(path: str, config: dict, arrays: dict[str, Array]) -> Any:
    from .layers import LAYERS

    spec = config.get("model")
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list) or not spec["layers"]:
        raise ValueError(f"cannot load a model from {path!r}: the config has no layers")
    model_class = MODEL_CLASSES.get(spec.get("class_name", "Sequential"))
    if model_class is None:
        raise ValueError(f"cannot load a model from {path!r}: unknown model class {spec.get('class_name')!r}; "
                         f"known: {sorted(MODEL_CLASSES)} (minirnn.model registers Sequential when imported)")
    layers = []
    for i, layer_spec in enumerate(spec["layers"]):
        cls = LAYERS.get(layer_spec.get("class_name")) if isinstance(layer_spec, dict) else None
        if cls is None:
            raise ValueError(f"cannot load a model from {path!r}: layer {i} has unknown class "
                             f"{layer_spec.get('class_name') if isinstance(layer_spec, dict) else layer_spec!r}; "
                             f"known: {sorted(LAYERS)}")
        try:
            layers.append(cls.from_config(layer_spec["config"]))
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"cannot load a model from {path!r}: layer {i} ({cls.__name__}) config is "
                             f"invalid: {e}") from None
    model = model_class(layers, name=spec.get("name", "sequential"))
    if not model.built:
        model.build(spec["input_shape"])

    names = sorted(k for k in arrays if k.startswith("weights/"))
    expected = [f"weights/{i:04d}" for i in range(len(model.weights))]
    if names != expected:
        raise ValueError(f"cannot load a model from {path!r}: it holds {len(names)} weight arrays but its layers "
                         f"have {len(expected)}")
    for key, w in zip(expected, model.weights):
        a = arrays[key]
        if a.shape != w.shape or a.dtype != w.dtype:
            raise ValueError(f"cannot load a model from {path!r}: {key} has shape {a.shape} and dtype {a.dtype}; "
                             f"the layer expects {w.shape} {w.dtype}")
    model.set_weights([arrays[k] for k in expected])

    compile_spec = config.get("compile")
    if compile_spec is not None:
        try:
            optimizer = optimizers_mod.from_config(compile_spec["optimizer"])
            loss = losses_mod.from_config(compile_spec["loss"])
            metrics = [_metric_from_config(m) for m in compile_spec.get("metrics", [])]
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"cannot load a model from {path!r}: its compile config is invalid: {e}") from None
        model.compile(optimizer, loss, metrics=metrics)
        _restore_optimizer_state(path, model, config.get("optimizer_state"), arrays)
    return model


def _restore_optimizer_state(path: str, model: Any, state_spec: Any, arrays: dict[str, Array]) -> None:
    if not isinstance(state_spec, dict) or not isinstance(state_spec.get("slots"), dict):
        raise ValueError(f"cannot load a model from {path!r}: the optimizer state description is missing")
    opt = model.optimizer
    slots = state_spec["slots"]
    if slots:
        opt.build(model.weights)
        if set(slots) != set(opt.slots):
            raise ValueError(f"cannot load a model from {path!r}: the optimizer state holds slots {sorted(slots)}; "
                             f"a {type(opt).__name__} with this config has {sorted(opt.slots)}")
        state: dict[str, Any] = {}
        for name, count in slots.items():
            keys = [f"optimizer/{name}/{i:04d}" for i in range(len(model.weights))]
            if count != len(keys) or any(k not in arrays for k in keys):
                raise ValueError(f"cannot load a model from {path!r}: optimizer slot {name!r} is incomplete")
            for k, w in zip(keys, model.weights):
                if arrays[k].shape != w.shape or arrays[k].dtype != w.dtype:
                    raise ValueError(f"cannot load a model from {path!r}: {k} does not match its weight "
                                     f"({arrays[k].shape} {arrays[k].dtype} vs {w.shape} {w.dtype})")
            state[name] = [arrays[k] for k in keys]
        state["iterations"] = state_spec.get("iterations", 0)
        opt.set_state(state)
    iterations = state_spec.get("iterations", 0)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"cannot load a model from {path!r}: optimizer iterations must be an integer >= 0; "
                         f"got {iterations!r}")
    opt.iterations = iterations
    if opt.schedule is not None:  # the rate of the latest step, as before saving
        opt.learning_rate = opt.schedule(max(iterations - 1, 0))


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
    its optimizer state; raises ``ValueError`` naming the file if it cannot be read."""
    path = os.fspath(path)
    config, arrays = _read(path)
    return _build(path, config, arrays)
