"""The report's content model: what every renderer shows, as sections of paragraphs, tables and plots.

Renderers (``html``, ``pdf``) lay these out; ``content.build_report`` fills them from a ``RunAnalysis`` (one
module of ``report.sections`` per section).
Cell texts are formatted with ``mixbench.analysis.formatting`` (numbers rounded from exact values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

from mixbench.analysis import formatting as fmt

# The cell formats of the report's tables, short names for ``mixbench.analysis.formatting``'s.
num = fmt.fixed
signed = fmt.signed
pval = fmt.pvalue
wins = fmt.wins


@dataclass
class Paragraph:
    text: str
    kind: str = "p"  # "p", "note" (smaller), "h" (sub-heading), "pre" (monospace, kept as is)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""
    bold: list[list[bool]] | None = None
    sort_keys: list[list[Any]] | None = None  # per cell, for the sortable HTML table
    align: list[str] | None = None  # "l" or "r" per column
    table_id: str | None = None
    filter_column: int | None = None  # a select filter on this column (HTML)
    pdf_skip_columns: tuple[int, ...] = ()  # columns left out of the PDF (where the page is too narrow)
    inline: bool = False  # HTML: small table placed beside the next inline one
    collapsed: bool = False  # HTML: folded under its title (long reference material)
    pdf_max_chars: int = 60  # longer cells are wrapped in the PDF


@dataclass
class Plot:
    title: str
    draw: Callable[[Figure, tuple[float, float, float, float]], None]
    size: tuple[float, float]  # inches, width x height
    caption: str = ""


@dataclass
class Section:
    anchor: str
    title: str
    blocks: list = field(default_factory=list)


@dataclass
class Report:
    title: str
    subtitle: str
    sections: list[Section]


def listing(names: Iterable[Any], limit: int = 12) -> str:
    """``names`` joined with commas, the first ``limit`` shown and the rest counted; 'none' when empty."""
    names = [str(n) for n in names]
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
