"""The ``mixbench`` command.

Thin: each sub-command parses its options and calls the module that does the work. Sections below are
owned by one concept each (data, run, bench, report); keep them apart.
"""

from __future__ import annotations

import argparse
import sys

from mixbench import __version__
from mixbench.protocol import PRESETS as PROTOCOL_PRESETS
from mixbench.protocol import PROTOCOL


# --- data -------------------------------------------------------------------------------------------
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
    common.add_argument("--data-dir", metavar="DIR", help=_DATA_DIR_HELP)

    suite_options = argparse.ArgumentParser(add_help=False)
    _add_suite_arguments(suite_options, default="uci121")
    p_list = actions.add_parser(
        "list",
        parents=[common, suite_options],
        help="the 121 datasets with their sizes and status",
        description="List the 121 registry datasets with rows, features, classes, test size and status "
        "(ok, unverified, missing file, checksum mismatch, malformed) in the data directory.",
    )
    p_list.set_defaults(func=_data_list)

    p_verify = actions.add_parser(
        "verify",
        parents=[common, suite_options],
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


_SUITE_HELP = (
    "dataset suite: uci121, toy, folder:PATH (one CSV or Parquet file per dataset), openml:SUITE_ID or "
    "openml:TASK_ID,TASK_ID,... (pip install 'mixbench[openml]')"
)


def _add_suite_arguments(parser: argparse.ArgumentParser, default: str | None) -> None:
    """--suite and the options of folder suites (one group, shared by run, data list / verify)."""
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


def _suite_options(args: argparse.Namespace) -> dict:
    """The folder-suite options given on the command line, by the suite's option names."""
    given = {
        "target": args.target,
        "split_column": args.split_column,
        "split_fractions": args.split_fractions,
        "split_seed": args.split_seed,
    }
    return {key: value for key, value in given.items() if value is not None}


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

    suite = get_suite(args.suite, args.data_dir, **_suite_options(args))
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


# --- run --------------------------------------------------------------------------------------------
def add_run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the benchmark grid (default: the embedded toy suite)",
        description="Train every loss x learning rate x seed on every (dataset, network, split, noise) task, "
        "in parallel, largest tasks first, and store per-epoch and validation-selected results in a run "
        "directory. Settings come from the paper preset (the reference protocol, which the defaults equal), "
        "then --config FILE, then these options. Re-running the same command skips finished tasks.",
        epilog=_RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_suite_arguments(p, default=None)
    what = p.add_argument_group("what to run (default: the paper preset)")
    what.add_argument(
        "--datasets",
        metavar="NAMES",
        help="comma-separated names or globs, '!GLOB' removes (e.g. 'a*,!adult'); default: all the suite's "
        "available datasets",
    )
    what.add_argument(
        "--losses",
        metavar="NAMES",
        help="comma-separated loss names, with parameters as GCE(q=0.5); named sets standard (the eight), "
        "zoo (all), published, robust, output-reset; or module:attr of a user loss (default: standard; "
        "`mixbench losses list` shows them)",
    )
    what.add_argument(
        "--nets", metavar="NETS", help=f"linear, hidden or both (default: {_listed(PROTOCOL.nets)})"
    )
    what.add_argument("--lrs", metavar="LRS", help=f"learning rates (default: {_listed(PROTOCOL.lrs)})")
    what.add_argument("--seeds", metavar="SEEDS", help=f"seeds (default: {_listed(PROTOCOL.seeds)})")
    what.add_argument("--epochs", type=int, metavar="N", help=f"epochs (default: {PROTOCOL.epochs})")
    what.add_argument(
        "--batch-size", type=int, metavar="N", help=f"SGD batch size (default: {PROTOCOL.batch_size})"
    )
    what.add_argument(
        "--momentum", type=float, metavar="M", help=f"SGD momentum (default: {PROTOCOL.momentum})"
    )
    what.add_argument(
        "--splits",
        metavar="SPLITS",
        help="split indices 0..n-1 of the suite (uci121: 0..3) or 'all' "
        f"(default: {_listed(PROTOCOL.splits)})",
    )
    what.add_argument(
        "--label-noise",
        metavar="RATE[,KIND]",
        action="append",
        help="noise on training and validation labels (test labels stay clean), e.g. 0.2 or 0.4,pairflip "
        "(KIND symmetric or pairflip); repeat for several settings (default: none)",
    )
    what.add_argument(
        "--eval-batch",
        type=int,
        metavar="N",
        help="validation and test accuracy as the mean of per-batch accuracies over batches of N rows in "
        "split order, as the reference study's code computes them (N = 128 there); default 0: exact "
        "per-sample accuracy",
    )
    what.add_argument(
        "--preset",
        metavar="NAME",
        help="a named protocol: "
        + "; ".join(f"{name}: {text}" for name, (_, text) in PROTOCOL_PRESETS.items())
        + " (default: paper)",
    )
    what.add_argument("--config", metavar="FILE.toml", help="settings file (see below)")
    what.add_argument("--device", choices=("cpu", "cuda"), help="torch device (default: cpu)")
    how = p.add_argument_group("where and how")
    how.add_argument("--data-dir", metavar="DIR", help=_DATA_DIR_HELP)
    how.add_argument(
        "--out",
        metavar="DIR",
        help="run directory (default: results/<suite>-<hash of the settings> in this checkout)",
    )
    how.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run in DIR with its stored settings (other options may change how it runs)",
    )
    how.add_argument(
        "--n-jobs", type=int, metavar="N", help="parallel worker processes (default: -1, all cores)"
    )
    how.add_argument(
        "--backend",
        choices=("loky", "dask"),
        help="loky: processes on this machine (default); dask: a dask.distributed cluster (see below)",
    )
    how.add_argument("--scheduler", metavar="ADDRESS", help="dask scheduler address, e.g. tcp://HOST:8786")
    how.add_argument(
        "--no-report",
        action="store_true",
        help="when the run ends, print the verdict but write no HTML report (by default report.html is "
        "written into reports/<run>/)",
    )
    how.add_argument(
        "--report", action="store_true", help=argparse.SUPPRESS
    )  # the default now; kept for old scripts
    how.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


_RUN_EPILOG = """\
config file (TOML; keys are the option names, e.g. batch_size; relative paths are relative to the file):
  preset = "paper"
  suite = "uci121"                       # or "folder:my_data" (relative to this file), "openml:99"
  datasets = ["a*", "balloons"]
  suite_options = { target = "class" }   # folder suites: target, split_column, split_fractions, split_seed
  losses = ["CE", "Sigmoid-MSE"]
  label_noise = ["0.2,symmetric", "0.4,symmetric"]
  out = "results/my-study"

run directory: config.json (settings, versions, git commit, machine, times), selected.parquet (all
  selected results), tasks/ and epochs/ (per task), failures/ (tasks that raised). A directory that holds
  another configuration is refused. Ctrl-C stops cleanly; the same command resumes.

exit status: 0 all tasks finished; 1 some task failed (listed; re-run to retry) or a worker process
  died; 2 bad settings, a directory holding another configuration, a result file that is damaged or not
  of this run, or a run directory that cannot be written; 130 interrupted (Ctrl-C); 143 SIGTERM.

dask cluster (pip install 'mixbench[dask]' everywhere):
  dask scheduler --port 8786                                   # on one machine
  dask worker tcp://HOST:8786 --nworkers N --nthreads 1        # on each worker machine
  mixbench run --suite uci121 --backend dask --scheduler tcp://HOST:8786
  Workers need mixbench (and any module:attr loss) installed, and the data at the --data-dir path, or
  without --data-dir, MIXBENCH_DATA set on the workers. Results come back to this process, which writes
  the run directory; the workers need no shared disk for results.
"""


def _listed(values) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _run(args: argparse.Namespace) -> int:
    from mixbench import runner

    overrides = {key: getattr(args, key, None) for key in runner.OPTION_KEYS}
    overrides["suite_options"] = _suite_options(args) or None
    try:
        config = runner.resolve_config(
            overrides, preset=args.preset, config_file=args.config, resume=args.resume
        )
        summary = runner.run(config, progress=not args.no_progress)
    except (runner.ConfigError, runner.RunDirectoryError) as exc:
        # Bad settings, or a run directory that cannot be used as it is: one message, no traceback.
        print(f"mixbench run: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # before any task ran (e.g. while the finished tasks were checked)
        print("mixbench run: interrupted before any task ran; no result was changed", file=sys.stderr)
        return 143 if isinstance(exc, runner.Terminated) else 130
    print(summary.format(), flush=True)
    if summary.store_error is not None:
        print(f"mixbench run: error: {summary.store_error}", file=sys.stderr)
    code = summary.exit_code
    if not summary.interrupted and summary.done + summary.skipped:
        code = max(code, _finish_run(summary.out, write_report=not args.no_report))
    return code


def _finish_run(out, *, write_report: bool) -> int:
    """Print the verdict of a finished run and (by default) write its HTML report into reports/<run>/."""
    from pathlib import Path

    from mixbench.analysis import analyse_run
    from mixbench.data import repo_root
    from mixbench.report import OutputError, format_verdict, render_report
    from mixbench.report.output import check_output_dir
    from mixbench.results import load

    try:
        run = load(out)
        analysis = analyse_run(run)
    except Exception as exc:  # the results are safe on disk; say why no verdict could be made
        print(f"mixbench run: no verdict: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("", format_verdict(analysis), sep="\n", flush=True)
    if not write_report:
        return 0
    target = (repo_root() or Path.cwd()) / "reports" / Path(out).name
    try:
        # run has no option for this folder: the fix is `mixbench report`'s --out
        check_output_dir(target, ["report.html"], fix=f"write it elsewhere: mixbench report {out} --out DIR")
        paths = render_report(run, target, html=True, pdf=False, analysis=analysis)
    except Exception as exc:  # the results are safe; say why the report could not be made
        why = str(exc) if isinstance(exc, OutputError) else f"{type(exc).__name__}: {exc}"
        print(f"mixbench run: the report failed: {why}", file=sys.stderr)
        return 1
    print(f"\nreport: {paths['html']}  (PDF and LaTeX: mixbench report {out} --pdf --latex)")
    return 0


# --- bench ------------------------------------------------------------------------------------------
def _int_at_least(minimum: int, maximum: int | None = None):
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


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="time the batched engine against the naive loop",
        description=(
            "Time the model bank against the naive one-model-at-a-time PyTorch loop on real datasets of "
            "different shapes, side by side in this run, one thread each. Prints model-steps per second, "
            "their ratio, the projected wall time of the full reference protocol on this machine and the "
            "peak memory of one worker on the largest dataset (hidden net). Any suite (--suite); by default "
            "UCI-121 where its data is, else the toy suite."
        ),
    )
    p.add_argument(
        "--data-dir", help="UCI-121 data (default: $MIXBENCH_DATA or data/uci121); toy suite if absent"
    )
    _add_suite_arguments(p, default=None)
    p.add_argument(
        "--datasets", help="comma-separated datasets (default: up to six of different shapes of the suite)"
    )
    p.add_argument(
        "--epochs",
        type=_int_at_least(1),
        default=None,
        help="bank epochs per dataset and net (default 2; with --losses 1)",
    )
    p.add_argument(
        "--naive-steps",
        type=_int_at_least(2),
        default=300,
        help="naive SGD steps per dataset and net, split over two losses (default 300)",
    )
    p.add_argument(
        "--workers",
        type=_int_at_least(1),
        default=None,
        help="worker processes for the projection (default: cores)",
    )
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument(
        "--losses",
        metavar="NAMES",
        help="instead: the cost of each of these losses (names, sets such as zoo, module:attr) relative to "
        "CE in the same bank, alone and beside the standard eight (default epochs 1)",
    )
    p.add_argument(
        "--repeats", type=_int_at_least(1), default=3, help="--losses: timings per bank, fastest kept"
    )
    p.set_defaults(func=_bench)


def _bench_suite(args: argparse.Namespace):
    """The suite to time: --suite, else UCI-121 where its data is, else the embedded toy suite."""
    from mixbench.data import DatasetError
    from mixbench.suites import get_suite

    if args.suite:
        return get_suite(args.suite, args.data_dir, **_suite_options(args))
    suite = get_suite("uci121", args.data_dir)
    try:
        if suite.datasets():
            return suite
    except DatasetError:
        pass
    print("UCI-121 data not found: timing the embedded toy suite (use --data-dir for real data)")
    return get_suite("toy")


def _bench(args: argparse.Namespace) -> int:
    import math
    import os
    import subprocess

    import pandas as pd

    from mixbench import engine
    from mixbench.data import DatasetError

    try:
        suite = _bench_suite(args)
        available = suite.datasets()
        if args.datasets:
            names = [n.strip() for n in args.datasets.split(",") if n.strip()]
        else:
            names = suite.bench_datasets()
        sets = [suite.load(n, 0) for n in names]
    except (DatasetError, ValueError) as exc:
        print(f"mixbench bench: error: {exc}", file=sys.stderr)
        return 2
    if args.losses:
        return _bench_losses(args, sets)
    args.epochs = 2 if args.epochs is None else args.epochs
    table = engine.bench_engine(
        sets,
        epochs=args.epochs,
        naive_steps=args.naive_steps,
        progress=lambda m: print(f"  timing {m}", flush=True),
    )
    shown = table.drop(columns=["bank_step_s"]).assign(of_machine=table.of_machine * 100)
    shown = shown.rename(columns={"bank_gflop_per_s": "bank_GFLOP/s", "of_machine": "%_of_machine"})
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    batch, rows, inner, cols = engine.BENCH_PRODUCT
    print(
        f"\nmachine: torch.bmm {batch} x ({rows}x{inner}) @ ({inner}x{cols}), one thread, "
        f"{table.attrs['machine_gflop_per_s']:.1f} GFLOP/s (the best of two readings, before and after the "
        "rows); bank_GFLOP/s counts the products of training and evaluation (mixbench.models.flops_per_row)"
    )
    # Pooled rates: all model-steps over all seconds, so big datasets weigh as they do in a real run.
    steps = table.n_train.map(lambda n: math.ceil(n / PROTOCOL.batch_size)) * args.epochs * table.models
    bank_rate = steps.sum() / (steps / table.bank_model_steps_per_s).sum()
    naive_rate = len(table) / (1.0 / table.naive_model_steps_per_s).sum()
    geo = math.exp(table.ratio.map(math.log).mean())
    print(
        f"\nmodel-steps per second, pooled: bank {bank_rate:,.0f}, naive {naive_rate:,.0f}, "
        f"ratio {bank_rate / naive_rate:.1f}x (per dataset: geometric mean {geo:.1f}x, "
        f"min {table.ratio.min():.1f}x, max {table.ratio.max():.1f}x)"
    )
    workers = args.workers or os.cpu_count() or 1
    loaded = []
    for name in available:
        try:
            loaded.append(suite.load(name, 0))
        except DatasetError as exc:  # a malformed dataset fails only itself, in a run as here
            print(f"  left out of the projection: {exc}")
    shapes = pd.DataFrame(
        [(d.name, len(d.train), d.n_features, d.n_classes) for d in loaded],
        columns=["name", "n_train", "n_features", "n_classes"],
    )
    proj = engine.project_protocol_time(table, shapes, workers=workers)
    n_models = len(PROTOCOL.losses) * len(PROTOCOL.lrs) * len(PROTOCOL.seeds)
    model_steps = (
        len(PROTOCOL.nets)
        * n_models
        * sum(PROTOCOL.epochs * math.ceil(n / PROTOCOL.batch_size) for n in shapes.n_train)
    )
    naive_s = model_steps / naive_rate
    print(
        f"projected full protocol on {suite.spec} ({len(shapes)} datasets x {len(PROTOCOL.nets)} nets x "
        f"{n_models} models x {PROTOCOL.epochs} epochs) on {workers} worker(s): "
        f"{proj.attrs['wall_s'] / 60:.1f} min (naive loop, same machine: {naive_s / workers / 3600:.1f} h)"
    )
    if not args.no_memory and loaded:
        largest = max(loaded, key=lambda d: d.n_rows * d.n_features).name
        code = (
            "import resource, sys, torch; torch.set_num_threads(1); from mixbench import engine; "
            "from mixbench.suites import get_suite; import json; "
            "d = get_suite(sys.argv[1], sys.argv[2] or None, **json.loads(sys.argv[3])).load(sys.argv[4]); "
            "engine.train_bank(d.X, d.y, d.train, d.validation, d.test, d.n_classes, net='hidden', "
            "epochs=1); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        import json

        argv = [suite.spec, suite.data_dir or "", json.dumps(suite.options), largest]
        rss = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
        print(f"peak resident memory of one worker, {largest} / hidden, full bank: "
              f"{int(rss.stdout.split()[-1]) / 1024:.0f} MiB")  # fmt: skip
    return 0


def _bench_losses(args: argparse.Namespace, sets) -> int:
    import math

    from mixbench import engine
    from mixbench.losses import split_loss_names

    try:
        names = [n for n in split_loss_names(args.losses) if n != "CE"]
        epochs = 1 if args.epochs is None else args.epochs  # (sys.argv missed --epochs=3 and main(argv))
        table = engine.bench_losses(
            sets, names, epochs=epochs, repeats=args.repeats,
            progress=lambda m: print(f"  timing {m}", flush=True),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        print(f"mixbench bench: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    print(f"\nseconds of {epochs} epoch(s) (training and evaluation, one thread), relative to CE's")
    titles = {
        "alone": "the loss alone (its lrs x seeds models) / CE alone",
        "with_standard": "the standard eight + the loss / the standard eight + CE again",
    }
    for setting, title in titles.items():
        wide = table.pivot(index=["dataset", "net"], columns="loss", values=f"{setting}_ratio")[
            list(dict.fromkeys(table["loss"]))
        ]
        geo = wide.apply(lambda col: math.exp(col.map(math.log).mean()) if col.notna().all() else math.nan)
        wide.loc[("geometric mean", ""), :] = geo
        print(f"\n{title}:")
        print(wide.to_string(float_format=lambda v: f"{v:.2f}"))
    kinds = table.drop_duplicates("loss").set_index("loss")["kind"]
    print("\nkinds: " + ", ".join(f"{n} {k}" for n, k in kinds.items()))
    return 0


# --- report -----------------------------------------------------------------------------------------
#: Fewest bootstrap resamples of a 95% interval: its ends are the 2.5th and 97.5th percentiles, and fewer
#: than 40 resamples leave no resample beyond them (0 gave no interval, 1 an interval of zero width).
_MIN_N_BOOT = 40


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="render the HTML / PDF / LaTeX report of a results directory",
        description="Render the report of a run directory (the verdict first, then statistics, figures, "
        "per-dataset table) as one self-contained HTML file, an A4 PDF and / or LaTeX tables and figures, "
        "and print their paths. Without --html, --pdf or --latex, HTML and PDF are written.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a results directory written by `mixbench run`")
    p.add_argument("--html", action="store_true", help="write report.html")
    p.add_argument("--pdf", action="store_true", help="write report.pdf")
    p.add_argument(
        "--latex",
        action="store_true",
        help="write booktabs tables (verdict, summary) and CD diagrams as vector PDFs into <out>/latex/",
    )
    p.add_argument("--baseline", metavar="LOSS", help="the loss every other is judged against (default: CE)")
    p.add_argument(
        "--rope",
        type=float,
        default=1.0,
        metavar="PP",
        help="region of practical equivalence of the verdict, in accuracy percentage points "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--cd-test",
        choices=["nemenyi", "conover"],
        default="nemenyi",
        help="test of the critical-difference diagrams, bars and CD alike: Nemenyi (Demsar 2006) or "
        "Conover with Benjamini-Hochberg (the reference study's) (default: %(default)s)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: reports/<run name>/ of this checkout, or of the current folder)",
    )
    p.add_argument(
        "--missing",
        choices=["exclude", "worst"],
        default="exclude",
        help="datasets with a missing (failed or diverged) cell: exclude them from the statistics, or rank "
        "the missing cell worst (default: %(default)s)",
    )
    p.add_argument(
        "--curves",
        metavar="DATASETS",
        help="comma-separated datasets for the learning curves (default: where the losses differ most)",
    )
    p.add_argument(
        "--n-boot",
        type=_int_at_least(_MIN_N_BOOT),
        default=10_000,
        help=f"bootstrap resamples for the intervals, at least {_MIN_N_BOOT} (default: %(default)s)",
    )
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mixbench.data import repo_root
    from mixbench.report import OutputError, render_report
    from mixbench.results import load

    run_dir = Path(args.run_dir)
    try:
        run = load(run_dir)
    except (FileNotFoundError, ValueError) as exc:
        print(f"mixbench report: error: {exc}", file=sys.stderr)
        return 2
    if run.completeness is not None and not run.completeness.complete:  # said in the report too
        print(f"mixbench report: warning: {run.completeness.describe()}", file=sys.stderr)
    # Same default place as the report `mixbench run` writes.
    out = Path(args.out) if args.out else (repo_root() or Path.cwd()) / "reports" / run_dir.resolve().name
    both = not (args.html or args.pdf or args.latex)
    if not 0 <= args.rope < 100:
        print(
            f"mixbench report: error: --rope {args.rope}: give percentage points in [0, 100)", file=sys.stderr
        )
        return 2
    curves = [name.strip() for name in args.curves.split(",") if name.strip()] if args.curves else None
    args.baseline = _canonical_loss_name(args.baseline)
    problem = _report_option_problem(run, args.baseline, curves)
    if problem:  # said before any analysis or drawing
        print(f"mixbench report: error: {problem}", file=sys.stderr)
        return 2
    try:
        paths = render_report(
            run,
            out,
            html=both or args.html,
            pdf=both or args.pdf,
            latex=args.latex,
            baseline=args.baseline,
            rope=args.rope / 100,
            cd_test=args.cd_test,
            missing=args.missing,
            n_boot=args.n_boot,
            curve_datasets=curves,
        )
    except OutputError as exc:  # the place, not the run: said before the analysis, nothing lost
        print(f"mixbench report: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"mixbench report: error: {run_dir}: {exc}", file=sys.stderr)
        return 1
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _canonical_loss_name(name: str | None) -> str | None:
    """The spelling tables use for a parameterised loss (``GCE(q=.50)`` -> ``GCE(q=0.5)``), else ``name``."""
    from mixbench.losses import get_loss, parse_loss_name

    try:
        return get_loss(name).name if name and parse_loss_name(name) else name
    except (KeyError, TypeError, ValueError):
        return name


def _report_option_problem(run, baseline: str | None, curves: list[str] | None) -> str | None:
    """What is wrong with --baseline or --curves for this run (a loss or dataset it does not hold)."""
    losses = list(dict.fromkeys(run.selected["loss"]))
    if baseline is not None and baseline not in losses:
        close = [name for name in losses if name.lower() == baseline.strip().lower()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"--baseline {baseline!r}: not a loss of this run{hint}; give one of {losses}"
    datasets = list(dict.fromkeys(run.selected["dataset"]))
    unknown = [name for name in curves or [] if name not in datasets]
    if unknown:
        shown = datasets if len(datasets) <= 20 else [*datasets[:20], "..."]
        return f"--curves: {', '.join(map(repr, unknown))} not a dataset of this run; give some of {shown}"
    return None


# --- losses -----------------------------------------------------------------------------------------
#: Most classes ``losses show`` draws at: its curves hold 400 x C logits (10 MB at this bound).
_MAX_SHOWN_CLASSES = 3000


def add_losses_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "losses",
        help="list the losses, or show their formula, source and gradient focus",
        description="The losses mixbench knows: built-in, the zoo of published losses, named sets.",
    )
    p.set_defaults(func=lambda args: p.print_help() or 2)
    actions = p.add_subparsers(dest="losses_command", metavar="ACTION")
    p_list = actions.add_parser("list", help="every registered loss with its formula, and the named sets")
    p_list.set_defaults(func=_losses_list)
    p_show = actions.add_parser(
        "show",
        help="formula, source and gradient focus of losses, drawn to a PNG or PDF (trains nothing)",
        description="Print each loss's formula and source and draw |d loss / d q_y| against p_y (the "
        "reference study's Figure 1) with the gradient the engine trains with. NAMES are loss names, "
        "parameterised names (GCE(q=0.5)), sets (zoo, robust) or module:attr, comma-separated or apart.",
    )
    p_show.add_argument("names", nargs="+", metavar="NAMES")
    p_show.add_argument(
        "--out", default="loss-focus.png", help="figure file, .png .pdf or .svg (default: %(default)s)"
    )
    p_show.add_argument(
        "--classes",
        type=_int_at_least(2, _MAX_SHOWN_CLASSES),
        default=10,
        help=f"classes of the logits, 2..{_MAX_SHOWN_CLASSES} (default 10)",
    )
    p_show.add_argument(
        "--epochs", type=_int_at_least(1), default=50, help="run length for scheduled losses (default 50)"
    )
    p_show.add_argument("--normalise", action="store_true", help="scale each curve to a maximum of 1")
    p_show.set_defaults(func=_losses_show)


def _losses_list(args: argparse.Namespace) -> int:
    from mixbench.losses import LOSS_SETS, available_losses, describe_loss

    for name in available_losses():
        print(describe_loss(name))
    print("\nnamed sets (--losses):")
    for set_name, members in LOSS_SETS.items():
        print(f"  {set_name}: {', '.join(members)}")
    return 0


def _losses_show(args: argparse.Namespace) -> int:
    from mixbench.losses import describe_loss, resolve_losses, split_loss_names
    from mixbench.report.loss_focus import check_figure_path, save_loss_focus
    from mixbench.report.output import OutputError

    try:
        check_figure_path(args.out)  # before anything is printed or drawn
        names = split_loss_names(",".join(args.names))
        chosen = resolve_losses(names)
    except (KeyError, TypeError, ValueError) as exc:
        print(f"mixbench losses: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    for loss in chosen:
        print(describe_loss(loss))
    try:
        path = save_loss_focus(
            chosen, args.out, n_classes=args.classes, n_epochs=args.epochs, normalise=args.normalise
        )
    except OutputError as exc:  # e.g. the disk filled up while writing
        print(f"mixbench losses: error: {exc}", file=sys.stderr)
        return 2
    print(f"figure: {path}")
    return 0


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
