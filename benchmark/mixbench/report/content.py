"""The report's content, filled from one ``RunAnalysis``: formatting only, no statistic is computed here.

``build_report(analysis, run_name=...)`` returns the content model (``model.Report``) that the HTML and PDF
renderers lay out, its sections built by the modules of ``report.sections`` (one per section) in this order:
the verdict first; provenance last.
"""

from __future__ import annotations

import datetime as _dt

from mixbench import __version__
from mixbench import analysis as an
from mixbench.analysis.result import RunAnalysis
from mixbench.report.model import Paragraph, Report, Section
from mixbench.report.sections.datasets import per_dataset_section
from mixbench.report.sections.plots import curves_section, focus_section, profiles_section
from mixbench.report.sections.problems import problems_section
from mixbench.report.sections.provenance import find_setting, provenance_section
from mixbench.report.sections.ranks import paper_section, summary_section
from mixbench.report.sections.tests import tests_section
from mixbench.report.sections.tuning import tuning_section
from mixbench.report.sections.verdict import verdict_rows, verdict_section

__all__ = ["build_report", "find_setting", "verdict_rows"]


def build_report(analysis: RunAnalysis, *, run_name: str = "run", has_epochs: bool | None = None) -> Report:
    """The report's content (sections of paragraphs, tables and plots) from one analysis, before rendering.

    Parameters
    ----------
    analysis : RunAnalysis
        ``mixbench.analysis.analyse_run(run)``.
    run_name : str
        Shown in the title.
    has_epochs : bool, optional
        Whether the run kept per-epoch records (default: whether the analysis has learning curves).
    """
    if has_epochs is None:
        has_epochs = analysis.curves is not None
    incomplete = (
        [Section("incomplete", "Warning: incomplete run", [Paragraph(analysis.incomplete)])]
        if analysis.incomplete
        else []
    )
    sections = [
        *incomplete,
        verdict_section(analysis),
        summary_section(analysis),
        paper_section(analysis),
        tests_section(analysis),
        tuning_section(analysis),
        focus_section(analysis),
        profiles_section(analysis),
        per_dataset_section(analysis),
        curves_section(analysis),
        problems_section(analysis),
        provenance_section(analysis, run_name, has_epochs),
    ]
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = (
        f"{an.formatting.count(len(analysis.datasets), 'dataset')}, "
        f"{an.formatting.count(len(analysis.losses), 'loss', 'losses')}, networks "
        f"{', '.join(analysis.nets)}; seeds {', '.join(map(str, analysis.seeds))}; baseline "
        f"{analysis.baseline}. Generated {generated} by mixbench {__version__}."
    )
    return Report(f"mixbench report: {run_name}", subtitle, [s for s in sections if s is not None])
