"""``mixbench data``: list or verify a suite's datasets; import or fetch the UCI-121 datasets."""

from __future__ import annotations

import argparse
import sys

from mixbench.cli.common import DATA_DIR_HELP, add_suite_arguments, suite_options

_GET_DATA = "run `mixbench data fetch` or `mixbench data import PATH`, or pass --data-dir"
_VERIFY_EXIT = """\
exit status:
  0  every dataset present matches the registry; datasets that are only missing (here: miniboone, whose
     features file is not public) are listed but do not fail the check, unless --strict
  1  some dataset has a checksum mismatch or a malformed file, none is complete, or (--strict) some
     dataset is incomplete
"""


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    from mixbench.suites.uci121 import DEFAULT_URL

    p = sub.add_parser(
        "data",
        help="list or verify a suite's datasets; import or fetch the UCI-121 datasets",
        description="List or verify the datasets of any suite (--suite, default uci121); import or fetch the "
        "UCI-121 datasets (Klambauer et al. data_py layout) into a data directory.",
    )
    p.set_defaults(func=lambda args: p.print_help() or 2)
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", metavar="DIR", help=DATA_DIR_HELP)

    suite_parent = argparse.ArgumentParser(add_help=False)
    add_suite_arguments(suite_parent, default="uci121")
    p_list = actions.add_parser(
        "list",
        parents=[common, suite_parent],
        help="the 121 datasets with their sizes and status",
        description="List the 121 registry datasets with rows, features, classes, test size and status "
        "(ok, unverified, missing file, checksum mismatch, malformed) in the data directory.",
    )
    p_list.set_defaults(func=_data_list)

    p_verify = actions.add_parser(
        "verify",
        parents=[common, suite_parent],
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


def _data_summary(table) -> str:
    """'120 complete, 1 incomplete (missing file: 1)' for a table with ``status`` and ``complete``."""
    complete = int(table["complete"].sum())
    counts = table.loc[~table["complete"], "status"].value_counts()
    text = f"{complete} complete, {len(table) - complete} incomplete"
    if len(counts):
        text += " (" + ", ".join(f"{status}: {n}" for status, n in counts.items()) + ")"
    return text


def _warn_missing_dir(root) -> None:
    from pathlib import Path

    if root is not None and not Path(root).is_dir():
        print(f"mixbench data: {root} does not exist; {_GET_DATA}", file=sys.stderr)


def _data_error(exc: Exception) -> int:
    from mixbench.data import DataDirectoryError

    print(f"mixbench data: error: {exc}", file=sys.stderr)
    return 2 if isinstance(exc, DataDirectoryError) else 1  # 2: the place (--data-dir), not the data


def _suite_status(args: argparse.Namespace):
    """(location, status table) of the suite ``--suite`` names; raises DatasetError / SuiteError."""
    from mixbench.suites import get_suite

    suite = get_suite(args.suite, args.data_dir, **suite_options(args))
    return suite.location, suite.status()


def _data_list(args: argparse.Namespace) -> int:
    import pandas as pd

    from mixbench.data import DatasetError

    try:
        root, table = _suite_status(args)
    except (DatasetError, ValueError) as exc:
        return _data_error(exc)
    print(f"data directory: {root or 'none (the data is embedded)'}")
    width = int(table["name"].str.len().max()) if len(table) else 4
    print(f"{'name':<{width}}  {'rows':>7}  {'features':>8}  {'classes':>7}  {'test':>6}  status")
    for row in table.itertuples(index=False):
        rows, features, classes, test = ("?" if v is pd.NA else v for v in row[1:5])  # unknown: malformed
        print(f"{row.name:<{width}}  {rows!s:>7}  {features!s:>8}  {classes!s:>7}  {test!s:>6}  {row.status}")
    print(_data_summary(table))
    _warn_missing_dir(root)
    return 0


def _data_verify(args: argparse.Namespace) -> int:
    from mixbench.data import DatasetError

    try:
        root, table = _suite_status(args)
    except (DatasetError, ValueError) as exc:
        return _data_error(exc)
    print(f"data directory: {root or 'none (the data is embedded)'}")
    width = int(table["name"].str.len().max()) if len(table) else 4
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
    from mixbench.data import DatasetError
    from mixbench.suites.uci121 import import_data, resolve_data_dir

    root = resolve_data_dir(args.data_dir)
    try:
        table = import_data(args.path, root)
    except DatasetError as exc:
        return _data_error(exc)
    return _print_import(table, root)


def _data_fetch(args: argparse.Namespace) -> int:
    from mixbench.data import DatasetError
    from mixbench.suites.uci121 import fetch_data, resolve_data_dir

    root = resolve_data_dir(args.data_dir)
    try:
        table = fetch_data(args.url, root)
    except DatasetError as exc:
        return _data_error(exc)
    return _print_import(table, root)
