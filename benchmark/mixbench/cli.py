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
    from mixbench.data import DEFAULT_URL

    p = sub.add_parser(
        "data",
        help="list, verify, import or fetch the UCI-121 datasets",
        description="Manage the UCI-121 datasets (Klambauer et al. data_py layout) in a data directory.",
    )
    p.set_defaults(func=lambda args: p.print_help() or 2)
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR", help=_DATA_DIR_HELP)

    p_list = actions.add_parser(
        "list",
        parents=[common],
        help="the 121 datasets with their sizes and status",
        description="List the 121 registry datasets with rows, features, classes, test size and status "
        "(ok, unverified, missing file, checksum mismatch, malformed) in the data directory.",
    )
    p_list.set_defaults(func=_data_list)

    p_verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check every dataset's files against the registry checksums",
        description="Print each dataset's status (ok, unverified, missing file, checksum mismatch, "
        "malformed) and why, then a summary line such as '120 complete, 1 incomplete'.",
        epilog=_VERIFY_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_verify.add_argument(
        "--strict", action="store_true", help="also fail (exit 1) when a dataset is incomplete"
    )
    p_verify.set_defaults(func=_data_verify)

    p_import = actions.add_parser(
        "import",
        parents=[common],
        help="copy a folder or data_py.zip into the data directory, verifying checksums",
        description="Copy the datasets found in PATH (data_py.zip, a folder of <name>/ folders, or one "
        "<name>/ folder) into the data directory. Files whose checksum differs from the registry are "
        "not installed. Exit status 1 if any file was rejected or any imported dataset is malformed.",
    )
    p_import.add_argument("path", metavar="PATH", help="data_py.zip or a folder")
    p_import.set_defaults(func=_data_import)

    p_fetch = actions.add_parser(
        "fetch",
        parents=[common],
        help="download data_py.zip and import it",
        description="Download data_py.zip (progress bar on stderr), then import it as `mixbench data "
        "import` does. Exit status 1 if the download fails or a file is rejected.",
    )
    p_fetch.add_argument(
        "--url", default=DEFAULT_URL, help="where to download data_py.zip (default: %(default)s)"
    )
    p_fetch.set_defaults(func=_data_fetch)


_DATA_DIR_HELP = (
    "UCI-121 data directory (default: $MIXBENCH_DATA, else the cache data/uci121/ of this checkout, "
    "or ~/.cache/mixbench/uci121 outside one)"
)
_GET_DATA = "run `mixbench data fetch` or `mixbench data import PATH`, or pass --data-dir"
_VERIFY_EXIT = """\
exit status:
  0  every dataset present matches the registry; datasets that are only missing (here: miniboone, whose
     features file is not public) are listed but do not fail the check, unless --strict
  1  some dataset has a checksum mismatch or a malformed file, none is complete, or (--strict) some
     dataset is incomplete
"""


def _data_summary(table) -> str:
    """'120 complete, 1 incomplete (missing file: 1)' for a table with ``status`` and ``complete``."""
    complete = int(table["complete"].sum())
    counts = table.loc[~table["complete"], "status"].value_counts()
    text = f"{complete} complete, {len(table) - complete} incomplete"
    if len(counts):
        text += " (" + ", ".join(f"{status}: {n}" for status, n in counts.items()) + ")"
    return text


def _warn_missing_dir(root) -> None:
    if not root.is_dir():
        print(f"mixbench data: {root} does not exist; {_GET_DATA}", file=sys.stderr)


def _data_error(exc: Exception) -> int:
    print(f"mixbench data: error: {exc}", file=sys.stderr)
    return 1


def _data_list(args: argparse.Namespace) -> int:
    import pandas as pd

    from mixbench.data import data_status, resolve_data_dir

    root = resolve_data_dir(args.data_dir)
    table = data_status(root)
    print(f"data directory: {root}")
    width = int(table["name"].str.len().max())
    print(f"{'name':<{width}}  {'rows':>7}  {'features':>8}  {'classes':>7}  {'test':>6}  status")
    for row in table.itertuples(index=False):
        features = "?" if row.n_features is pd.NA else row.n_features  # miniboone: unknown
        print(
            f"{row.name:<{width}}  {row.n_rows:>7}  {features!s:>8}  {row.n_classes:>7}  {row.n_test:>6}  "
            f"{row.status}"
        )
    print(_data_summary(table))
    _warn_missing_dir(root)
    return 0


def _data_verify(args: argparse.Namespace) -> int:
    from mixbench.data import data_status, resolve_data_dir

    root = resolve_data_dir(args.data_dir)
    table = data_status(root)
    print(f"data directory: {root}")
    width = int(table["name"].str.len().max())
    for row in table.itertuples(index=False):
        print(f"{row.name:<{width}}  {row.status:<17}  {row.detail}".rstrip())
    print(_data_summary(table))
    _warn_missing_dir(root)
    corrupt = table["status"].isin(["checksum mismatch", "malformed"]).any()
    failed = corrupt or not table["complete"].any() or (args.strict and not table["complete"].all())
    return 1 if failed else 0


def _print_import(table, root) -> int:
    for row in table.itertuples(index=False):
        print(f"{row.name:<30}  {row.status:<17}  {row.detail}".rstrip())
    print(f"imported {int(table['installed'].sum())} file(s) of {len(table)} dataset(s) into {root}")
    print(_data_summary(table))
    bad = (table["rejected"] != "").any() or table["status"].isin(["checksum mismatch", "malformed"]).any()
    return 1 if bad else 0


def _data_import(args: argparse.Namespace) -> int:
    from mixbench.data import DatasetError, import_data, resolve_data_dir

    root = resolve_data_dir(args.data_dir)
    try:
        table = import_data(args.path, root)
    except DatasetError as exc:
        return _data_error(exc)
    return _print_import(table, root)


def _data_fetch(args: argparse.Namespace) -> int:
    from mixbench.data import DatasetError, fetch_data, resolve_data_dir

    root = resolve_data_dir(args.data_dir)
    try:
        table = fetch_data(args.url, root)
    except DatasetError as exc:
        return _data_error(exc)
    return _print_import(table, root)


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
