"""Argument helpers shared by the sub-commands: integer bounds, the dataset-suite options, help texts."""

from __future__ import annotations

import argparse

DATA_DIR_HELP = (
    "UCI-121 data directory (default: $MIXBENCH_DATA, else the cache data/uci121/ of this checkout, "
    "or ~/.cache/mixbench/uci121 outside one)"
)

_SUITE_HELP = (
    "dataset suite: uci121, toy, folder:PATH (one CSV or Parquet file per dataset), openml:SUITE_ID or "
    "openml:TASK_ID,TASK_ID,... (pip install 'mixbench[openml]')"
)


def int_at_least(minimum: int, maximum: int | None = None):
    """An argparse type: an integer >= ``minimum`` (and <= ``maximum``; else argparse's one-line usage
    error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the least allowed, {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is above the most allowed, {maximum}")
        return value

    return parse


def add_suite_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    """--suite and the options of folder suites (one group, shared by run, bench, data list / verify)."""
    group = parser.add_argument_group("dataset suite")
    shown = f" (default: {default})" if default else " (default: toy)"
    group.add_argument("--suite", default=default, metavar="SUITE", help=_SUITE_HELP + shown)
    group.add_argument(
        "--target", metavar="COLUMN", help="folder suites: the class column (default: the last column)"
    )
    group.add_argument(
        "--split-column",
        metavar="COLUMN",
        help="folder suites: a column of train / validation / test values that fixes the split, where a file "
        "has it (default: split); files without it get stratified splits drawn from --split-seed",
    )
    group.add_argument(
        "--split-fractions",
        metavar="TRAIN,VAL,TEST",
        help="folder suites: fractions of the drawn stratified splits (default: 0.5,0.25,0.25)",
    )
    group.add_argument(
        "--split-seed", type=int, metavar="N", help="folder suites: seed of the drawn splits (default: 0)"
    )


def suite_options(args: argparse.Namespace) -> dict:
    """The folder-suite options given on the command line, by the suite's option names."""
    given = {
        "target": args.target,
        "split_column": args.split_column,
        "split_fractions": args.split_fractions,
        "split_seed": args.split_seed,
    }
    return {key: value for key, value in given.items() if value is not None}
