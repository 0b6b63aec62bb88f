"""Learning-rate schedules: ``lr(step)``, evaluated by an optimizer before each step.

The optimizer evaluates the schedule at its step counter before the step (0 for the first update),
as Keras does, and uses that rate for the update and for weight decay. Reachable as
``minirnn.training.optimizers.schedules`` too.

    ExponentialDecay   lr(step) = initial_learning_rate * decay_rate ^ (step / decay_steps)
                       (staircase: the exponent is floor(step / decay_steps))

Keras keeps the learning rate as a float32 variable, so the schedule is computed in float32 (and cast
to each parameter's dtype by the optimizer), with Keras's operations in Keras's order: a division and a
floor, which IEEE 754 rounds exactly, a multiplication, and the power decay_rate ^ p, computed as Keras's
TensorFlow kernel computes it on a scalar, with the C library's ``powf`` (NumPy's scalar ``**``, not
``np.power``, whose vectorised loops are not correctly rounded and differ between SIMD targets). So the
float32 rate is Keras's bit for bit, on any CPU (checked for 4000 steps in the tests), except where
TensorFlow flushes a subnormal rate (below 1.2e-38) to zero.

Example:
    >>> from minirnn.training.schedules import ExponentialDecay
    >>> s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    >>> [round(s(k), 6) for k in (0, 9, 10, 25)]
    [0.1, 0.1, 0.05, 0.025]
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _number(name: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}; got {value}")
    return float(value)


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate`` (a Python float) and a JSON-able config."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class ExponentialDecay(LearningRateSchedule):
    """``lr(step) = initial_learning_rate * decay_rate ^ (step / decay_steps)`` in float32 (floor of the
    exponent with ``staircase=True``), Keras's ``ExponentialDecay``."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        self.initial_learning_rate = _number("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _number("decay_steps", decay_steps, positive=True)
        self.decay_rate = _number("decay_rate", decay_rate)
        if not isinstance(staircase, (bool, np.bool_)):
            raise TypeError(f"staircase must be True or False; got {staircase!r}")
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        f = np.float32
        p = f(step) / f(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        # ``**`` on NumPy scalars calls the C library's powf, as TensorFlow's Pow kernel does on Keras's
        # 0-d tensors; np.power would use NumPy's vectorised pow loop, which is not correctly rounded and
        # differs between SIMD targets (0.05 * 0.9^4: 0.032805 under AVX-512, Keras's 0.032804996 in powf).
        return float(f(self.initial_learning_rate) * (f(self.decay_rate) ** p))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase}


SCHEDULES: dict[str, type[LearningRateSchedule]] = {"ExponentialDecay": ExponentialDecay}


def serialize(schedule: LearningRateSchedule) -> dict:
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict) -> LearningRateSchedule:
    if not isinstance(config, dict) or config.get("class_name") not in SCHEDULES:
        raise ValueError(f"schedule config must name one of {sorted(SCHEDULES)}; got {config!r}")
    return SCHEDULES[config["class_name"]](**config["config"])
