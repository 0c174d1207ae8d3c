"""The ``mixbench`` command.

Thin: each sub-command parses its options and calls the module that does the work. One module per
command, each owned by one concept; keep them apart:

* :mod:`~mixbench.cli.run`: ``mixbench run``, then the verdict and report of the finished run.
* :mod:`~mixbench.cli.data`: ``mixbench data list / verify / import / fetch``.
* :mod:`~mixbench.cli.bench`: ``mixbench bench`` (the timings themselves are :mod:`mixbench.engine.bench`).
* :mod:`~mixbench.cli.report`: ``mixbench report``.
* :mod:`~mixbench.cli.losses`: ``mixbench losses list / show``.
* :mod:`~mixbench.cli.common`: argument helpers they share (integer bounds, the dataset-suite options).
"""

from __future__ import annotations

import argparse
import warnings

from mixbench import __version__
from mixbench.cli.bench import add_bench_parser
from mixbench.cli.data import add_data_parser
from mixbench.cli.losses import add_losses_parser
from mixbench.cli.report import add_report_parser
from mixbench.cli.run import add_run_parser

__all__ = [
    "add_bench_parser",
    "add_data_parser",
    "add_losses_parser",
    "add_report_parser",
    "add_run_parser",
    "build_parser",
    "main",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mixbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_run_parser(sub)
    add_data_parser(sub)
    add_bench_parser(sub)
    add_report_parser(sub)
    add_losses_parser(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> str:
    # A user reads the warning, not the line of mixbench's source that raised it.
    return f"mixbench: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    shown = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return int(args.func(args) or 0)
    finally:
        warnings.formatwarning = shown
