"""Moved: the cells are in ``minirnn.cells`` (protocol: ``minirnn.cells.base``), the time loop in
``minirnn.cells.driver``. Importing one of the old names from here raises an ImportError saying where it went."""


def __getattr__(name: str):
    from . import _MOVED

    if name not in _MOVED or name in ("recurrent", "blas_threads"):
        raise AttributeError(f"module 'minirnn.kernels.recurrent' has no attribute {name!r} (it moved: "
                             f"{_MOVED['recurrent']})")
    raise ImportError(f"minirnn.kernels.recurrent.{name} moved: use {_MOVED[name]}")
