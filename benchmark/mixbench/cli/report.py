"""``mixbench report``: render the HTML / PDF / LaTeX report of a results directory."""

from __future__ import annotations

import argparse
import sys

from mixbench.cli.common import int_at_least

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
        type=int_at_least(_MIN_N_BOOT),
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
