"""``minirnn demo``: the founding LSTM on the shipped CO2 series (``minirnn.tools.demo``, imported when run)."""

from __future__ import annotations

import argparse

from .registry import subcommand


def _demo_arguments(p: argparse.ArgumentParser) -> None:
    from ..demo import add_arguments

    add_arguments(p)


@subcommand("demo", help="train the founding LSTM on the shipped CO2 series and compare with naive forecasts",
            arguments=_demo_arguments, description=(
                "Train LSTM(50, relu) + Dropout(0.2) + Dense(1) (adam, mse) to forecast NOAA's monthly\n"
                "Mauna Loa CO2 one month ahead, and report the test RMSE against the persistence and\n"
                "seasonal-naive forecasts; writes <out>/forecast.png when matplotlib is installed.\n\n"
                "examples:\n"
                "  minirnn demo\n"
                "  minirnn demo --epochs 80 --lookback 24 --cell simple_rnn --out figures"))
def run_demo(args: argparse.Namespace) -> int:
    from ..demo import run_from_args

    return run_from_args(args)
