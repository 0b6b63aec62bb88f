"""``minirnn gradcheck``: every built-in layer over a grid of configurations, one layer with chosen
options, or a user's cell, checked by ``minirnn.checking.gradcheck``. Exit status 0 when every check
passes, 1 when any fails (or the forward pass overflows, or the cell crashes), 2 on a usage error.

``--cell SPEC`` with SPEC ``module.path:NAME`` or ``path/to/file.py:NAME``, where NAME is

* a Cell class: built as ``NAME(units, **cell_kwargs)`` (``--units``, ``--activation``,
  ``--recurrent-activation``, ``--no-bias`` become its arguments; one it does not take is refused);
* a cell instance: used as it is (no ``--units``, ``--cell-kwargs`` or activation options);
* a factory: called as ``NAME(**cell_kwargs)`` (a zero-argument factory with none; ``--units`` is passed
  as ``units=`` only to a factory that takes it).

Options of the built-in layers (``--return-sequences``, ``--dropout``, ``--inner``, ...) do not apply to
a cell and are refused (exit 2, naming the option), as is a cell that cannot be built for the requested
sizes. ``--h``/``--step``, ``--tol``, ``--fast`` (``--directions``) and ``--no-taylor`` apply everywhere.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import activations
from ..argtypes import positive_float, positive_int
from ..argtypes import rate as _rate
from .objects import load_object
from .registry import subcommand

RECURRENT = ("simple_rnn", "lstm", "gru")
LAYER_NAMES = (*RECURRENT, "dense", "dropout", "bidirectional", "time_distributed", "masking", "embedding")
LAYER_ALIASES = {"simplernn": "simple_rnn", "rnn": "simple_rnn", "simple-rnn": "simple_rnn",
                 "timedistributed": "time_distributed", "time-distributed": "time_distributed"}
MERGE_MODES = ("concat", "sum", "mul", "ave", "none")


def _layer_name(text: str) -> str:
    name = LAYER_ALIASES.get(text.lower(), text.lower())
    if name not in LAYER_NAMES:
        raise argparse.ArgumentTypeError(f"unknown layer {text!r}; expected one of {', '.join(LAYER_NAMES)}")
    return name


def _recurrent_name(text: str) -> str:
    name = _layer_name(text)
    if name not in RECURRENT:
        raise argparse.ArgumentTypeError(f"expected a recurrent layer, one of {', '.join(RECURRENT)}; got {text!r}")
    return name


def _step(text: str) -> float:
    h = positive_float(text)
    if not h < 1:
        raise argparse.ArgumentTypeError(f"the step must be a number in (0, 1); got {text!r}")
    return h


def _gradcheck_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group()
    what.add_argument("--layer", type=_layer_name, metavar="NAME",
                      help=f"check one layer: {', '.join(LAYER_NAMES)} (default: all, over a grid)")
    what.add_argument("--cell", metavar="MODULE:NAME",
                      help="check a user cell, 'module.path:NAME' or 'path/to/file.py:NAME'; NAME a Cell class, "
                           "a cell instance or a factory (called with --cell-kwargs)")
    p.add_argument("--cell-kwargs", metavar="JSON", default=None,
                   help="keyword arguments for the cell class or factory, as a JSON object")
    names = sorted(activations.ACTIVATIONS)
    p.add_argument("--activation", choices=names, help="activation (grid: only this one)")
    p.add_argument("--recurrent-activation", choices=names, help="LSTM/GRU recurrent_activation")
    p.add_argument("--batch", type=positive_int, help="batch size B")
    p.add_argument("--steps", type=positive_int, help="time steps T")
    p.add_argument("--features", type=positive_int, help="input features D")
    p.add_argument("--units", type=positive_int, help="units H")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, inputs and directions (default 0)")
    p.add_argument("--return-sequences", action="store_true")
    p.add_argument("--return-state", action="store_true")
    p.add_argument("--no-bias", action="store_true", help="use_bias=False")
    p.add_argument("--go-backwards", action="store_true", help="recurrent layers: go_backwards=True")
    p.add_argument("--no-reset-after", action="store_true", help="GRU: reset_after=False")
    p.add_argument("--dropout", type=_rate, default=None, help="recurrent layers: input dropout (with --training)")
    p.add_argument("--recurrent-dropout", type=_rate, default=None,
                   help="recurrent layers: recurrent dropout (with --training)")
    p.add_argument("--rate", type=_rate, default=None, help="Dropout layer rate in [0, 1) (default 0.3)")
    p.add_argument("--training", action="store_true", help="dropout active (one fixed set of masks)")
    p.add_argument("--inner", type=_recurrent_name, default=None,
                   help="bidirectional and masking: the recurrent layer inside (default lstm)")
    p.add_argument("--merge-mode", choices=MERGE_MODES, default=None, help="bidirectional merge_mode (default concat)")
    p.add_argument("--tol", type=positive_float, default=None,
                   help="relative-error tolerance (default 1e-7; 1e-8 with --fast)")
    p.add_argument("--h", "--step", dest="h", type=_step, default=None,
                   help="base finite-difference step (default 1e-5, times max(1, rms) of each array)")
    p.add_argument("--fast", action="store_true",
                   help="a few seeded random directions per array instead of every entry (a few forward passes "
                        "per array)")
    p.add_argument("--directions", type=positive_int, default=None, help="with --fast: directions per array "
                                                                         "(default 2)")
    p.add_argument("--no-taylor", action="store_true", help="finite differences only")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-v", "--verbose", action="store_true", help="grid: a table per configuration")
    out.add_argument("-q", "--quiet", action="store_true", help="one line per configuration, no tables")


@dataclass(frozen=True)
class LayerCase:
    """One configuration of a built-in layer for the gradient check.

    ``options`` are extra keyword arguments of the recurrent layer (go_backwards, dropout,
    recurrent_dropout, reset_after); ``inner`` is the recurrent layer a bidirectional or masking case
    wraps; ``rank`` 2 gives Dense and Dropout (B, D) input instead of (B, T, D).
    """

    layer: str
    shape: tuple[int, int, int, int]  # B, T, D, H
    activation: str | None = None
    recurrent_activation: str | None = None
    return_sequences: bool = False
    return_state: bool = False
    use_bias: bool = True
    rate: float = 0.3
    training: bool = False
    rank: int = 3
    options: tuple[tuple[str, Any], ...] = ()
    inner: str = "lstm"
    merge_mode: str | None = "concat"


def _recurrent_layer(name: str, case: LayerCase, seed: int, **overrides: Any) -> Any:
    from ...layers import GRU, LSTM, SimpleRNN

    kwargs: dict[str, Any] = {"return_sequences": case.return_sequences, "return_state": case.return_state,
                              "use_bias": case.use_bias, "dtype": "float64", "seed": seed, **dict(case.options)}
    if case.activation is not None:
        kwargs["activation"] = case.activation
    if name != "simple_rnn" and case.recurrent_activation is not None:
        kwargs["recurrent_activation"] = case.recurrent_activation
    kwargs.update(overrides)
    return {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}[name](case.shape[3], **kwargs)


def _randomise_biases(params: dict, rng: np.random.Generator) -> None:
    # zero biases (the initial value) would hide mistakes in the bias path
    for name, w in params.items():
        if name.endswith("bias"):
            w[...] = 0.5 * rng.standard_normal(w.shape)


def run_case(case: LayerCase, seed: int, **options: Any) -> Any:
    """Build the float64 layer (or, for masking, a model) of ``case`` with random weights and nonzero
    biases, and return its ``GradCheckReport``. ``options`` go to the check (tol, taylor, ...)."""
    from ...checking.gradcheck import check_layer, check_model
    from ...layers import Bidirectional, Dense, Dropout, Masking, TimeDistributed
    from ...model import Sequential

    B, T, D, H = case.shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D) if case.rank == 3 else (B, D))
    if case.layer == "masking":
        # every row but the first ends in padded steps: Masking marks them, the recurrent layer skips them
        x[1:, T - (T // 2):] = 0.0
        inner = _recurrent_layer(case.inner, case, seed, return_state=False)
        model = Sequential([Masking(0.0, input_shape=(T, D), dtype="float64"), inner])
        model.compile("sgd", "mse")
        _randomise_biases(inner.params, rng)
        y = rng.standard_normal((B, *model.output_shape()))
        return check_model(model, x, y, training=case.training, input_gradient=False, seed=seed,
                           title=f"Masking(0.0) + {_describe(inner)} on x{x.shape} with padded steps", **options)
    if case.layer == "embedding":
        # integer ids (0 = padding, mask_zero) into the recurrent layer: no x row, the table by scatter-add
        from ...layers import Embedding

        ids = rng.integers(1, 2 * D + 2, (B, T))
        ids[1:, T - (T // 2):] = 0
        inner = _recurrent_layer(case.inner, case, seed, return_state=False)
        model = Sequential([Embedding(2 * D + 2, D, mask_zero=True, input_shape=(T,), dtype="float64", seed=seed),
                            inner])
        model.compile("sgd", "mse")
        _randomise_biases(inner.params, rng)
        y = rng.standard_normal((B, *model.output_shape()))
        return check_model(model, ids, y, seed=seed,
                           title=f"Embedding(mask_zero) + {_describe(inner)} on ids{ids.shape}", **options)
    if case.layer in RECURRENT:
        layer = _recurrent_layer(case.layer, case, seed)
    elif case.layer == "bidirectional":
        inner = _recurrent_layer(case.inner, case, seed, return_state=False)
        layer = Bidirectional(inner, merge_mode=case.merge_mode)
    elif case.layer == "time_distributed":
        layer = TimeDistributed(Dense(H, activation=case.activation, use_bias=case.use_bias, dtype="float64",
                                      seed=seed))
    elif case.layer == "dense":
        layer = Dense(H, activation=case.activation, use_bias=case.use_bias, dtype="float64", seed=seed)
    else:
        layer = Dropout(case.rate, dtype="float64", seed=seed)
    layer.build(x.shape[1:])
    _randomise_biases(layer.params, rng)
    return check_layer(layer, x, training=case.training, seed=seed, title=f"{_describe(layer)} on x{x.shape}",
                       **options)


def _describe(layer: Any) -> str:
    from ...checking.gradcheck import describe_layer

    inner = getattr(layer, "forward_layer", None) or getattr(layer, "layer", None)
    if inner is not None:
        merge = f", merge_mode={layer.merge_mode}" if hasattr(layer, "merge_mode") else ""
        return f"{type(layer).__name__}({describe_layer(inner)}{merge})"
    return describe_layer(layer)


def default_grid(activation: str | None = None, shape: tuple[int, int, int, int] | None = None) -> list[LayerCase]:
    """Every built-in layer: each recurrent layer with each activation x each return mode, plus no
    bias, a second shape, other recurrent activations, go_backwards and (recurrent) dropout; the GRU
    both ways (reset_after); Dense on (B, D) and (B, T, D); Dropout on and off; Bidirectional with
    every merge mode; TimeDistributed(Dense); Masking in front of each recurrent layer."""
    acts = [activation] if activation else sorted(activations.ACTIVATIONS)
    main_act = activation or "tanh"
    a, b = shape or (2, 4, 3, 3), shape or (3, 7, 2, 5)
    cases = []
    for layer in RECURRENT:
        for act in acts:
            for seq in (False, True):
                for state in (False, True):
                    cases.append(LayerCase(layer, a, act, return_sequences=seq, return_state=state))
        cases.append(LayerCase(layer, a, main_act, use_bias=False))
        cases.append(LayerCase(layer, b, main_act, return_sequences=True))
        cases.append(LayerCase(layer, a, main_act, return_sequences=True, options=(("go_backwards", True),)))
        cases.append(LayerCase(layer, a, main_act, return_sequences=True, training=True,
                               options=(("dropout", 0.3), ("recurrent_dropout", 0.4))))
        if layer != "simple_rnn":
            for rec in ("hard_sigmoid", "tanh"):
                cases.append(LayerCase(layer, a, main_act, recurrent_activation=rec, return_sequences=True))
    for seq in (False, True):
        cases.append(LayerCase("gru", a, main_act, return_sequences=seq, options=(("reset_after", False),)))
    for act in acts:
        for rank in (2, 3):
            cases.append(LayerCase("dense", a, act, rank=rank))
    cases.append(LayerCase("dense", a, main_act, use_bias=False))
    if not activation:
        for training in (False, True):
            for rank in (2, 3):
                cases.append(LayerCase("dropout", a, training=training, rank=rank))
    for mode in ("concat", "sum", "mul", "ave", None):
        cases.append(LayerCase("bidirectional", a, main_act, return_sequences=True, merge_mode=mode))
    cases.append(LayerCase("bidirectional", a, main_act, inner="gru"))
    cases.append(LayerCase("time_distributed", a, main_act))
    for inner in RECURRENT:
        cases.append(LayerCase("masking", a, main_act, inner=inner, return_sequences=inner == "lstm"))
    cases.append(LayerCase("embedding", a, main_act, inner="lstm", return_sequences=True))
    return cases


def _options(args: argparse.Namespace) -> dict:
    opts: dict[str, Any] = {"taylor": not args.no_taylor, "fast": args.fast}
    if args.tol is not None:
        opts["tol"] = args.tol
    if args.h is not None:
        opts["h"] = args.h
    if args.directions is not None:
        opts["directions"] = args.directions
    return opts


def _summary_line(report: Any) -> str:
    """One line: the verdict, the worst array, the smallest Taylor slope, what failed, and what the check
    did not check or could not judge (``report.coverage()``)."""
    verdict = "PASS" if report.passed else "FAIL"
    if report.problem is not None:
        return f"{verdict}  {report.title}: {report.problem}"
    coverage = report.coverage()
    extra = f"  [{'; '.join(coverage)}]" if coverage else ""
    if not report.checks:
        return f"{verdict}  {report.title}: no array was checked{extra}"
    slope = report.min_taylor_slope
    slope_text = "exact" if math.isnan(slope) else f"{slope:.2f}"
    worst = max(report.checks, key=lambda c: (math.isnan(c.rel_error), c.rel_error))
    failed = f"  failing: {', '.join(c.name for c in report.failures)}" if report.failures else ""
    return (f"{verdict}  {report.title}: max rel err {worst.rel_error:.1e} "
            f"({worst.name}), min Taylor slope {slope_text}{failed}{extra}")


def _shape(args: argparse.Namespace, default: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    given = (args.batch, args.steps, args.features, args.units)
    return tuple(g if g is not None else d for g, d in zip(given, default))  # type: ignore[return-value]


def _accepts(func: Any, name: str) -> bool:
    """Whether ``func`` takes a keyword argument ``name`` (or any, through ``**kwargs``)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return True
    return any(p.kind is p.VAR_KEYWORD or (p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
               for p in params)


def build_cell(obj: Any, units: int | None, kwargs: dict, flags: dict | None = None) -> Any:
    """The cell named on the command line: a Cell class is called as ``Class(units, **kwargs)``, a cell
    instance is used as it is, any other callable is a factory called as ``factory(**kwargs)`` (with
    ``units=`` when given and the factory takes it). ``flags`` maps the command-line option that set a
    keyword (e.g. ``"--no-bias": "use_bias"``): an option the cell does not take is refused by name."""
    from ...cells import Cell

    flags = flags or {}
    if isinstance(obj, type):
        if not issubclass(obj, Cell):
            raise TypeError(f"{obj.__name__} is not a recurrent cell: it is not a minirnn.cells.Cell subclass "
                            f"(the protocol is in minirnn.cells.base)")
        _refuse_flags(obj.__init__, obj.__name__, flags)
        return obj(4 if units is None else units, **kwargs)
    if isinstance(obj, Cell):
        given = (sorted(k for k in kwargs if k not in flags.values()) + list(flags)
                 + ([] if units is None else ["--units"]))
        if given:
            raise ValueError(f"--cell names a cell instance, which takes no options; got {', '.join(given)}")
        return obj
    if callable(obj):
        name = getattr(obj, "__name__", type(obj).__name__)
        _refuse_flags(obj, name, flags)
        if units is not None:
            if not _accepts(obj, "units"):
                raise ValueError(f"--units does not apply: the factory {name} takes no 'units' argument")
            kwargs = {**kwargs, "units": units}
        return obj(**kwargs)
    raise TypeError(f"expected a Cell class, a cell instance or a factory; got {type(obj).__name__}")


def _refuse_flags(func: Any, name: str, flags: dict) -> None:
    for option, keyword in flags.items():
        if not _accepts(func, keyword):
            raise ValueError(f"{option} does not apply: {name} takes no {keyword!r} argument")


LAYER_ONLY = (("--return-sequences", "return_sequences"), ("--return-state", "return_state"),
              ("--go-backwards", "go_backwards"), ("--no-reset-after", "no_reset_after"),
              ("--dropout", "dropout"), ("--recurrent-dropout", "recurrent_dropout"), ("--rate", "rate"),
              ("--training", "training"), ("--inner", "inner"), ("--merge-mode", "merge_mode"),
              ("--verbose", "verbose"))


def _given(args: argparse.Namespace, attr: str) -> bool:
    value = getattr(args, attr)
    return value is not None and value is not False


def _usage(message: str) -> int:
    print(f"minirnn gradcheck: error: {message}", file=sys.stderr)
    return 2


def _run_cell(args: argparse.Namespace) -> int:
    from ...checking.gradcheck import check_cell, validate_cell

    refused = [option for option, attr in LAYER_ONLY if _given(args, attr)]
    if refused:
        return _usage(f"{', '.join(refused)} {'applies' if len(refused) == 1 else 'apply'} to the built-in "
                      f"layers (--layer), not to --cell {args.cell}; pass the cell's own options with --cell-kwargs")
    if args.directions is not None and not args.fast:
        return _usage("--directions applies to --fast only")
    try:
        kwargs = json.loads("{}" if args.cell_kwargs is None else args.cell_kwargs)
        if not isinstance(kwargs, dict):
            raise ValueError("it must be a JSON object")
    except ValueError as e:
        return _usage(f"--cell-kwargs must be a JSON object ({e}); got {args.cell_kwargs!r}")
    flags = {}
    for option, attr, keyword, value in (("--activation", "activation", "activation", args.activation),
                                         ("--recurrent-activation", "recurrent_activation", "recurrent_activation",
                                          args.recurrent_activation),
                                         ("--no-bias", "no_bias", "use_bias", False)):
        if _given(args, attr) and keyword not in kwargs:
            kwargs[keyword] = value
            flags[option] = keyword
    B, T, D, _ = _shape(args, (3, 5, 4, 4))
    try:
        obj = load_object(args.cell)
    except (ValueError, TypeError, ImportError, SyntaxError) as e:
        return _usage(f"--cell {args.cell}: {e}")
    try:
        cell = build_cell(obj, args.units, kwargs, flags)
        validate_cell(cell)
    except (ValueError, TypeError) as e:
        return _usage(f"--cell {args.cell}: {e}")
    except Exception as e:  # noqa: BLE001 - the user's constructor: any exception means it cannot be built
        return _usage(f"--cell {args.cell}: the cell cannot be built: {type(e).__name__}: {e}")
    try:  # the declarations for the requested sizes: a cell that cannot declare them is a usage error
        specs = cell.params(D)
        if not isinstance(specs, dict):
            raise TypeError(f"params({D}) must return a dict of name -> Param; got {type(specs).__name__}")
    except Exception as e:  # noqa: BLE001
        return _usage(f"--cell {args.cell}: {cell!r} cannot be built for features D={D}: {type(e).__name__}: {e}")
    try:
        report = check_cell(cell, batch=B, steps=T, features=D, seed=args.seed,
                            title=f"{args.cell} {cell!r}, B={B} T={T} D={D}", **_options(args))
    except Exception as e:  # a user's cell that crashes has failed its check: say where, exit 1
        print(f"FAIL  {args.cell}: the cell raised {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(_summary_line(report) if args.quiet else report)
    return 0 if report.passed else 1


def _run_cases(cases: list[LayerCase], args: argparse.Namespace, tables: bool) -> int:
    failed = 0
    for k, case in enumerate(cases):
        report = run_case(case, args.seed + k, **_options(args))
        failed += not report.passed
        print(report if tables else _summary_line(report), end="\n\n" if tables else "\n", flush=True)
    if len(cases) > 1:
        print(f"{len(cases) - failed} of {len(cases)} configurations passed"
              + ("" if not failed else f"; {failed} FAILED"))
    return 0 if failed == 0 else 1


def _memory_needed(args: argparse.Namespace) -> int:
    """A generous estimate of the bytes a check at the requested sizes holds: the largest layer's float64
    weights (an LSTM: 4H (D + H + 1)) and its caches (B T (D + 16 H)), four times over (the weights, their
    gradients, a float64 copy, the perturbed copy)."""
    B, T, D, H = _shape(args, (3, 5, 4, 4))
    return 8 * 4 * (4 * H * (D + H + 1) + B * T * (D + 16 * H))


def _machine_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


@subcommand("gradcheck", help="check analytic gradients against finite differences and the Taylor test",
            arguments=_gradcheck_arguments, description=(
                "Check every gradient (input, initial states, weights) of minirnn's layers, or of your own\n"
                "recurrent cell, against float64 Richardson-extrapolated central differences (relative error\n"
                "<= 1e-7, rounding noise measured) and the Taylor-remainder test (log-log slope >= 1.5);\n"
                "--fast: a few random directions per array. The report lists what it did not check.\n"
                "Exit status 0: all pass; 1: a failure (or an overflowing forward pass); 2: a usage error.\n\n"
                "--cell SPEC: 'module.path:NAME' or 'path/to/file.py:NAME', NAME a Cell class (built as\n"
                "NAME(units, **cell_kwargs)), a cell instance (used as it is) or a factory (NAME(**cell_kwargs)).\n\n"
                "examples:\n"
                "  minirnn gradcheck\n"
                "  minirnn gradcheck --layer lstm --activation relu --batch 3 --steps 5 --units 4 --seed 0\n"
                "  minirnn gradcheck --layer gru --no-reset-after --dropout 0.2 --recurrent-dropout 0.3 --training\n"
                "  minirnn gradcheck --layer bidirectional --inner gru --merge-mode mul --return-sequences\n"
                "  minirnn gradcheck --cell examples/cells/peephole_lstm.py:PeepholeLSTMCell\n"
                "  minirnn gradcheck --cell my_cells.py:make_cell --cell-kwargs '{\"units\": 8}' --fast\n"
                "  minirnn gradcheck --layer lstm --h 2e-5 --tol 1e-6"))
def run_gradcheck(args: argparse.Namespace) -> int:
    needed, available = _memory_needed(args), _machine_memory()
    if available is not None and needed > available:
        return _usage(f"--batch/--steps/--features/--units would need about {needed / 2**30:,.0f} GiB "
                      f"for the check; this machine has {available / 2**30:,.1f} GiB")
    if args.cell is not None:
        return _run_cell(args)
    if args.cell_kwargs is not None:
        return _usage("--cell-kwargs applies to --cell only")
    if args.directions is not None and not args.fast:
        return _usage("--directions applies to --fast only")
    args.rate = 0.3 if args.rate is None else args.rate
    args.inner = "lstm" if args.inner is None else args.inner
    args.merge_mode = "concat" if args.merge_mode is None else args.merge_mode
    if args.layer is None:
        given = (args.batch, args.steps, args.features, args.units)
        shape = None if all(g is None for g in given) else _shape(args, (2, 4, 3, 3))
        return _run_cases(default_grid(args.activation, shape), args, tables=args.verbose)
    options: list[tuple[str, Any]] = []
    if args.go_backwards:
        options.append(("go_backwards", True))
    if args.dropout:
        options.append(("dropout", args.dropout))
    if args.recurrent_dropout:
        options.append(("recurrent_dropout", args.recurrent_dropout))
    if args.no_reset_after:
        options.append(("reset_after", False))
    layer = args.layer
    if options and layer not in RECURRENT and layer not in ("bidirectional", "masking"):
        print(f"minirnn gradcheck: error: --go-backwards, --dropout, --recurrent-dropout and --no-reset-after "
              f"apply to recurrent layers; got --layer {layer}", file=sys.stderr)
        return 2
    inner = args.inner
    if args.no_reset_after and "gru" not in (layer, inner if layer in ("bidirectional", "masking") else None):
        print("minirnn gradcheck: error: --no-reset-after applies to the GRU", file=sys.stderr)
        return 2
    if args.return_state and layer in ("bidirectional", "masking"):
        print(f"minirnn gradcheck: error: --return-state is not available for --layer {layer}", file=sys.stderr)
        return 2
    case = LayerCase(layer, _shape(args, (3, 5, 3, 4)), args.activation, args.recurrent_activation,
                     args.return_sequences, args.return_state, not args.no_bias, args.rate, args.training,
                     options=tuple(options), inner=inner,
                     merge_mode=None if args.merge_mode == "none" else args.merge_mode)
    try:
        report = run_case(case, args.seed, **_options(args))
    except (ValueError, TypeError) as e:  # an invalid combination of layer options
        print(f"minirnn gradcheck: error: {e}", file=sys.stderr)
        return 2
    print(_summary_line(report) if args.quiet else report)
    return 0 if report.passed else 1
