"""All-or-nothing updates that survive a second Ctrl-C: ``all_or_nothing(step, undo)``.

A training step changes many arrays in place (every parameter, every optimizer slot, the step counter,
the carried states of stateful layers). If ``step()`` raises anything, KeyboardInterrupt included,
``undo()`` puts back a snapshot taken before it. A user who presses Ctrl-C twice can interrupt that
undo too, which would leave it half done; so here

* ``undo`` runs to completion: a KeyboardInterrupt arriving while it runs restarts it (``undo`` only
  copies a snapshot back, so running it again from the start completes what the first run began);
* an interrupt that lands in the exception handler itself, before ``undo`` has started, is caught by a
  second handler around the first, which runs ``undo`` to completion;
* then the original exception propagates (a KeyboardInterrupt absorbed during the undo is dropped: the
  original one, or the error that started the undo, stops the caller anyway).

What is left: an interrupt on one of the few lines of the outer handler before its ``undo`` starts, at a
moment when the inner handler was itself interrupted before its ``undo`` began (three interrupts within
a few bytecodes of each other). ``tests/test_atomic_step.py`` raises the second interrupt at every line
executed during the undo and checks the outcome.

Example:
    >>> import numpy as np
    >>> w = np.zeros(3); saved = w.copy()
    >>> def step():
    ...     w[0] = 1.0
    ...     raise KeyboardInterrupt
    >>> try:
    ...     all_or_nothing(step, lambda: np.copyto(w, saved))
    ... except KeyboardInterrupt:
    ...     w.tolist()
    [0.0, 0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_to_completion(undo: Callable[[], object]) -> None:
    """Call ``undo()`` until one call returns without a KeyboardInterrupt (``undo`` must be idempotent:
    a restore from a snapshot). Any other exception from ``undo`` is a bug and propagates."""
    while True:
        try:
            undo()
            return
        except KeyboardInterrupt:
            continue


def all_or_nothing(step: Callable[[], T], undo: Callable[[], object]) -> T:
    """``step()``; if it raises, ``undo()`` runs to completion (see the module docstring), then the
    exception that ``step`` raised propagates."""
    failure: BaseException | None = None
    try:
        try:
            return step()
        except BaseException as err:
            failure = err
            run_to_completion(undo)
            raise
    except BaseException as err:  # also a further interrupt that landed in the handler above, before its undo
        run_to_completion(undo)  # once more if the inner one completed: undo is idempotent
        if failure is None or err is failure:
            raise
        raise failure from None
