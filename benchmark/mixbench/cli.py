"""The ``mixbench`` command.

Thin: each sub-command parses its options and calls the module that does the work. Sections below are
owned by one concept each (data, run, bench, report); keep them apart.
"""

from __future__ import annotations

import argparse
import sys

from mixbench import __version__


# --- data -------------------------------------------------------------------------------------------
def add_data_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="list, verify, import or fetch the UCI-121 datasets")
    p.set_defaults(func=lambda args: p.print_help() or 2)


# --- run --------------------------------------------------------------------------------------------
def add_run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the benchmark grid (default: the embedded toy suite)")
    p.set_defaults(func=lambda args: p.print_help() or 2)


# --- bench ------------------------------------------------------------------------------------------
def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time the batched engine against the naive loop")
    p.set_defaults(func=lambda args: p.print_help() or 2)


# --- report -----------------------------------------------------------------------------------------
def add_report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="render the HTML / PDF report of a results directory")
    p.set_defaults(func=lambda args: p.print_help() or 2)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"mixbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_run_parser(sub)
    add_data_parser(sub)
    add_bench_parser(sub)
    add_report_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
