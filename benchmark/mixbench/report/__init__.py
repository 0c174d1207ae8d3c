"""Renderers of one ``RunAnalysis``: HTML, PDF, LaTeX, Markdown (the README block) and the terminal.

``render_report(analysis, out_dir)`` writes the report of one ``RunAnalysis``
(``mixbench.analysis.analyse_run``): ``report.html`` (one self-contained file) and ``report.pdf`` (A4, text as
text, figures as vectors) from the same content model (``content.build_report``), so both hold the same
content; ``latex=True`` adds booktabs tables and vector CD diagrams to ``\\input`` in a paper. Given a run
instead (``mixbench.results.load(run_dir)``, as the ``mixbench`` command does), it analyses it first, in one
place. Modules: ``content`` (the sections from the analysis, one module each in ``sections``), ``prose``
(the sentences), ``figures``, ``html``, ``pdf``, ``latex``, ``markdown``, ``terminal``. No statistic is
computed by a renderer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mixbench.analysis.result import RunAnalysis
from mixbench.analysis.verdict import DEFAULT_ROPE, analyse_run
from mixbench.report.content import build_report
from mixbench.report.figures import (
    loss_colors,
    plot_critical_difference,
    plot_learning_curves,
    plot_performance_profile,
    plot_pvalue_heatmap,
)
from mixbench.report.html import render_html
from mixbench.report.latex import write_latex
from mixbench.report.markdown import format_results, format_study, markdown_results, markdown_study
from mixbench.report.output import OutputError, check_output_dir, unwritable
from mixbench.report.pdf import render_pdf
from mixbench.report.terminal import format_verdict
from mixbench.results import atomic_path

if TYPE_CHECKING:  # for the type hints only: importing the store at run time would load pyarrow
    from mixbench.results import RunResults

__all__ = [
    "render_report",
    "OutputError",
    "build_report",
    "render_html",
    "render_pdf",
    "write_latex",
    "format_verdict",
    "markdown_results",
    "markdown_study",
    "format_results",
    "format_study",
    "loss_colors",
    "plot_critical_difference",
    "plot_pvalue_heatmap",
    "plot_performance_profile",
    "plot_learning_curves",
]


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder, then rename: an old report is never half-overwritten."""
    with atomic_path(path) as tmp:
        write(tmp)


def run_name_of(run) -> str:
    for attr in ("path", "run_dir", "directory"):
        value = getattr(run, attr, None)
        if value:
            return Path(value).name
    return "run"


def _check_run(run) -> None:
    for attr in ("selected", "config"):
        if not hasattr(run, attr):
            raise TypeError(
                f"render_report needs a RunResults (mixbench.results.load(run_dir)); "
                f"{type(run).__name__} has no attribute {attr!r}"
            )
    if run.selected is None or len(run.selected) == 0:
        raise ValueError("the run has no selected results: nothing to report (did every task fail?)")


def render_report(
    run: RunAnalysis | RunResults,
    out_dir: str | os.PathLike,
    *,
    html: bool = True,
    pdf: bool = True,
    latex: bool = False,
    run_name: str | None = None,
    analysis: RunAnalysis | None = None,
    baseline: str | None = None,
    rope: float = DEFAULT_ROPE,
    cd_test: str = "nemenyi",
    missing: str = "exclude",
    n_boot: int = 10_000,
    random_state: int = 0,
    curve_datasets: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write the HTML, PDF and / or LaTeX report of a run.

    Parameters
    ----------
    run : RunAnalysis or RunResults
        The analysis to render (``mixbench.analysis.analyse_run``), or a run as returned by
        ``mixbench.results.load(run_dir)``, analysed here with the options below (unless ``analysis`` is
        given).
    out_dir : path
        Folder for ``report.html``, ``report.pdf`` and ``latex/`` (created if needed, and checked before
        the analysis is computed).
    html, pdf, latex : bool
        Which formats to write.
    run_name : str, optional
        Shown in the title; default: the run directory's name ('run' for an analysis).
    analysis : RunAnalysis, optional
        With a run: its analysis already computed (e.g. by ``mixbench run`` for its terminal verdict); the
        options below are then ignored.
    baseline, rope, cd_test, missing, n_boot, random_state, curve_datasets
        With a run and no ``analysis``: passed to ``mixbench.analysis.analyse_run``.

    Returns
    -------
    paths : dict
        ``{'html': Path, 'pdf': Path, 'latex': Path (the folder)}`` for the formats written.

    Raises
    ------
    OutputError
        ``out_dir`` cannot be written (a file, a folder where a report file goes, no permission, a full
        disk); said before the analysis where it can be. A report file already there stays whole.
    """
    if not (html or pdf or latex):
        raise ValueError("nothing to render: pass html=True, pdf=True and / or latex=True")
    if isinstance(run, RunAnalysis):
        analysis, run = run, None
    else:
        _check_run(run)
    names = [name for name, wanted in (("report.html", html), ("report.pdf", pdf)) if wanted]
    out = check_output_dir(out_dir, files=names, folders=["latex"] if latex else [])
    if analysis is None:  # the one place a report analyses a run
        analysis = analyse_run(
            run,
            baseline=baseline,
            rope=rope,
            cd_test=cd_test,
            missing=missing,
            n_boot=n_boot,
            random_state=random_state,
            curve_datasets=curve_datasets,
        )
    name = run_name or (run_name_of(run) if run is not None else "run")
    paths: dict[str, Path] = {}
    try:
        _write_formats(analysis, name, out, paths, html=html, pdf=pdf, latex=latex)
    except OSError as exc:  # e.g. the disk filled up: the files written so far are whole, and said
        where = Path(exc.filename) if exc.filename else out
        if where.name.startswith("."):  # the temporary file: name the folder
            where = where.parent
        done = f" (written: {', '.join(map(str, paths.values()))})" if paths else ""
        raise unwritable(where, exc, f"give another folder with --out{done}") from None
    return paths


def _write_formats(analysis, name, out: Path, paths: dict, *, html, pdf, latex) -> None:
    """Write the formats asked for into ``out``, adding each one's path to ``paths`` once it is written."""
    if html or pdf:
        report = build_report(analysis, run_name=name, has_epochs=analysis.has_epochs)
        if html:
            page = render_html(report)
            _write_atomically(out / "report.html", lambda p: p.write_text(page, encoding="utf-8"))
            paths["html"] = out / "report.html"
        if pdf:
            _write_atomically(out / "report.pdf", lambda p: render_pdf(report, p))
            paths["pdf"] = out / "report.pdf"
    if latex:
        paths["latex"] = write_latex(analysis, out / "latex")
