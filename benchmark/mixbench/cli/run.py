"""``mixbench run``: run the benchmark grid, then print the verdict and write the report of the run."""

from __future__ import annotations

import argparse
import sys

from mixbench.cli.common import DATA_DIR_HELP, add_suite_arguments, suite_options
from mixbench.protocol import PRESETS as PROTOCOL_PRESETS
from mixbench.protocol import PROTOCOL

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
    add_suite_arguments(p, default=None)
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
    how.add_argument("--data-dir", metavar="DIR", help=DATA_DIR_HELP)
    how.add_argument(
        "--out",
        metavar="DIR",
        help="run directory (default: results/<suite>-<hash of the settings> under the mixbench checkout "
        "when mixbench is installed from one with `pip install -e`, else under the current directory; the "
        "report goes to reports/<run> beside it)",
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


def _listed(values) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _run(args: argparse.Namespace) -> int:
    from mixbench import runner

    overrides = {key: getattr(args, key, None) for key in runner.OPTION_KEYS}
    overrides["suite_options"] = suite_options(args) or None
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
