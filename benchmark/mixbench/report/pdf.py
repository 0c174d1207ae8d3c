"""The report as an A4 PDF drawn with matplotlib's PdfPages: text and tables as real (selectable) text,
figures as vectors, no dependency beyond matplotlib.

Why not a document library: reportlab's platypus flows text and tables well but places a matplotlib figure
only as a bitmap (vector embedding needs svglib, which brings its own renderer), and printing the HTML needs a
browser that pip cannot install. The layout here is small because the content model is: paragraphs, tables
and figures, one column.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from mixbench import __version__
from mixbench.report.model import Paragraph, Plot, Report, Table

try:  # matplotlib >= 3.10
    from matplotlib.ft2font import LoadFlags

    _NO_HINTING = LoadFlags.NO_HINTING
except ImportError:  # pragma: no cover - older matplotlib
    from matplotlib.ft2font import LOAD_NO_HINTING as _NO_HINTING

if TYPE_CHECKING:  # for the type hints only: importing the store at run time would load pyarrow
    pass

# --- PDF --------------------------------------------------------------------------------------------
_PAGE = (8.27, 11.69)  # A4, inches
_MARGIN = 0.55
_CONTENT_W = _PAGE[0] - 2 * _MARGIN
_CONTENT_H = _PAGE[1] - 2 * _MARGIN - 0.25  # room for the footer
_FONT = 7.5  # table text, points
_PDF_FONTTYPE = 42  # TrueType: the text stays real text, selectable and extractable
_ROW_H = 0.165  # inches per table text line


def _char_w(size: float) -> float:
    return 0.56 * size / 72  # DejaVu Sans, average advance per character in inches


@functools.lru_cache(maxsize=4)
def _font(bold: bool) -> FT2Font:
    # A private FT2Font: matplotlib's cached ones change size as it draws.
    font = FT2Font(findfont(FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")))
    font.set_size(100, 72)  # advances below are then in points for a 100 pt font
    return font


@functools.lru_cache(maxsize=4096)
def _advance(char: str, bold: bool) -> float:
    return _font(bold).load_char(ord(char), flags=_NO_HINTING).linearHoriAdvance / 65536 / 100


def _text_w(text: str, size: float, bold: bool = False) -> float:
    """Width of one line of text in inches, from DejaVu Sans glyph advances (what the PDF will use)."""
    return sum(_advance(char, bold) for char in text) * size / 72


class _PdfWriter:
    """Flows blocks down A4 pages; a block that does not fit starts a new page."""

    def __init__(self, pdf: PdfPages, footer: str):
        self.pdf, self.footer = pdf, footer
        self.items: list[tuple[float, Callable]] = []
        self.used = 0.0
        self.page = 0

    def add(self, height: float, draw: Callable[[Figure, tuple[float, float, float, float]], None]) -> None:
        if self.items and self.used + height > _CONTENT_H:
            self.flush()
        self.items.append((height, draw))
        self.used += height

    def new_page(self) -> None:
        if self.items:
            self.flush()

    def room(self) -> float:
        return _CONTENT_H - self.used

    def flush(self) -> None:
        if not self.items:
            return
        self.page += 1
        fig = Figure(figsize=_PAGE)
        top = _PAGE[1] - _MARGIN
        for height, draw in self.items:
            draw(fig, (_MARGIN, top - height, _CONTENT_W, height))
            top -= height
        fig.text(
            0.5, 0.3 / _PAGE[1], f"{self.footer} - page {self.page}", ha="center", fontsize=7, color="#666666"
        )
        self.pdf.savefig(fig)
        self.items, self.used = [], 0.0


def _wrap(text: str, width: int) -> list[str]:
    lines = []
    for part in str(text).splitlines() or [""]:
        lines += textwrap.wrap(part, width=width, break_long_words=True, break_on_hyphens=False) or [""]
    return lines


def _wrap_measured(text: str, width_in: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to a width in inches, with measured glyph widths."""
    lines = []
    for part in str(text).splitlines() or [""]:
        line = ""
        for word in part.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and _text_w(candidate, size, bold) > width_in:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _text_block(
    writer: _PdfWriter, text: str, size: float, *, weight="normal", color="black", gap=0.06, mono=False
):
    lines = (
        _wrap(text, int(_CONTENT_W / _char_w(size) * 0.9))
        if mono
        else _wrap_measured(text, _CONTENT_W, size, weight == "bold")
    )
    line_h = size / 72 * 1.35
    # Paragraphs may span pages: cut them into page-sized chunks.
    while lines:
        fit = max(1, int((writer.room() - gap) // line_h)) if writer.room() > line_h + gap else 0
        if fit == 0:
            writer.flush()
            continue
        chunk, lines = lines[:fit], lines[fit:]
        height = len(chunk) * line_h + gap

        def draw(fig, rect, chunk=chunk):
            x, y, _, h = rect
            fig.text(
                x / _PAGE[0],
                (y + h - gap / 2) / _PAGE[1],
                "\n".join(chunk),
                va="top",
                ha="left",
                fontsize=size,
                fontweight=weight,
                color=color,
                family="monospace" if mono else "DejaVu Sans",
                linespacing=1.35,
            )

        writer.add(height, draw)


def _text_height(text: str, size: float, gap: float, bold: bool = False) -> float:
    return len(_wrap_measured(text, _CONTENT_W, size, bold)) * size / 72 * 1.35 + gap


def _min_height(block) -> float:
    """The least of a block that must follow a heading or a lead note on the same page."""
    if isinstance(block, Paragraph):
        return _text_height(block.text, 8.5, 0.1)
    if isinstance(block, Table):
        rows = min(len(block.rows), 3)
        return _text_height(block.title, 9.5, 0.08, True) + (rows + 1) * (_ROW_H + 0.03) + 0.1
    if isinstance(block, Plot):
        caption = _text_height(block.caption, 7, 0.16) if block.caption else 0.0
        return _text_height(block.title, 9.5, 0.06, True) + _plot_size(block)[1] + caption
    return 0.0


def _pdf_table(writer: _PdfWriter, table: Table) -> None:
    keep = [j for j in range(len(table.columns)) if j not in table.pdf_skip_columns]
    columns = [table.columns[j] for j in keep]
    rows = [[r[j] for j in keep] for r in table.rows]
    n_cols = len(columns)
    align = [(table.align or ["l"] * len(table.columns))[j] for j in keep]
    bold = [[b[j] for j in keep] for b in table.bold] if table.bold else [[False] * n_cols for _ in rows]
    pad = 0.14
    # Cells longer than the cap are wrapped; headers wrap at spaces to the width of their column's cells;
    # then the widest columns wrap further until the table fits the page.
    caps = [
        max(
            [min(max((len(r[j]) for r in rows), default=0), table.pdf_max_chars)]
            + [len(w) for w in str(columns[j]).split()]
        )
        for j in range(n_cols)
    ]

    def layout(caps):
        header = [_wrap(c, max(caps[j], 4)) for j, c in enumerate(columns)]
        cells = [[_wrap(r[j], max(caps[j], 4)) for j in range(n_cols)] for r in rows]
        widths = [
            max(
                [_text_w(line, _FONT, True) for line in header[j]]
                + [_text_w(line, _FONT, bold[i][j]) for i, row in enumerate(cells) for line in row[j]]
            )
            + pad
            for j in range(n_cols)
        ]
        return header, cells, widths

    header, cells, widths = layout(caps)
    while sum(widths) > _CONTENT_W:
        longest = [
            max([len(line) for line in header[j]] + [len(line) for row in cells for line in row[j]])
            for j in range(n_cols)
        ]
        candidates = [w if longest[k] > 6 else 0 for k, w in enumerate(widths)]
        if max(candidates) == 0:
            break
        j = int(np.argmax(candidates))
        caps[j] = longest[j] - max(1, longest[j] // 10)
        header, cells, widths = layout(caps)
    header_h = max(len(h) for h in header) * _ROW_H + 0.06
    heights = [max(len(c) for c in row) * _ROW_H + 0.03 for row in cells]
    title_h = _text_height(table.title, 9.5, 0.08, True)
    whole = title_h + header_h + sum(heights) + 0.05
    if whole <= _CONTENT_H and writer.room() < whole:
        writer.flush()  # a table that fits on one page is not split
    elif writer.room() < title_h + header_h + sum(heights[:3]) + 0.05:
        writer.flush()  # never a title alone at the bottom of a page

    _text_block(writer, table.title, 9.5, weight="bold", gap=0.08)
    start = 0
    while True:
        available = writer.room() - header_h - 0.05
        count, used = 0, 0.0
        while start + count < len(cells) and used + heights[start + count] <= available:
            used += heights[start + count]
            count += 1
        if count == 0 and start < len(cells) and writer.items:
            writer.flush()
            continue
        count = max(count, 1) if start < len(cells) else 0
        used = sum(heights[start : start + count])
        chunk = list(range(start, start + count))

        def draw(fig, rect, chunk=chunk):
            x0, y0, _, h = rect
            top = y0 + h
            xs = np.concatenate([[x0], x0 + np.cumsum(widths)])
            right = xs[-1]
            fig.add_artist(
                Rectangle(
                    (x0 / _PAGE[0], (top - header_h) / _PAGE[1]),
                    (right - x0) / _PAGE[0],
                    header_h / _PAGE[1],
                    transform=fig.transFigure,
                    facecolor="#e8edf3",
                    edgecolor="none",
                )
            )
            _cells_row(fig, header, xs, top, align, [True] * n_cols)
            y = top - header_h
            for k, i in enumerate(chunk):
                if k % 2 == 1:
                    fig.add_artist(
                        Rectangle(
                            (x0 / _PAGE[0], (y - heights[i]) / _PAGE[1]),
                            (right - x0) / _PAGE[0],
                            heights[i] / _PAGE[1],
                            transform=fig.transFigure,
                            facecolor="#f6f7f9",
                            edgecolor="none",
                        )
                    )
                _cells_row(fig, cells[i], xs, y, align, bold[i])
                y -= heights[i]
            fig.add_artist(
                Line2D(
                    [x0 / _PAGE[0], right / _PAGE[0]],
                    [y / _PAGE[1]] * 2,
                    transform=fig.transFigure,
                    lw=0.6,
                    color="#999999",
                )
            )

        writer.add(header_h + used + 0.05, draw)
        start += count
        if start >= len(cells):
            break
        writer.flush()
        _text_block(writer, f"{table.title} (continued)", 8, color="#555555", gap=0.04)
    if table.note:
        _text_block(writer, table.note, 7, color="#444444", gap=0.16)


def _cells_row(fig: Figure, lines_per_cell, xs, top: float, align, bold) -> None:
    for j, lines in enumerate(lines_per_cell):
        right = align[j] == "r"
        x = (xs[j + 1] - 0.06) if right else (xs[j] + 0.05)
        fig.text(
            x / _PAGE[0],
            (top - 0.035) / _PAGE[1],
            "\n".join(lines),
            ha="right" if right else "left",
            va="top",
            fontsize=_FONT,
            fontweight="bold" if bold[j] else "normal",
            linespacing=1.3,
        )


def _plot_size(plot: Plot) -> tuple[float, float]:
    """Size on the page: scaled to the text width, and short enough to share a page with a section
    heading, its title and its caption."""
    scale = min(1.0, _CONTENT_W / plot.size[0])
    return plot.size[0] * scale, min(plot.size[1] * scale, _CONTENT_H - 1.8)


def _pdf_plot(writer: _PdfWriter, plot: Plot) -> None:
    width, height = _plot_size(plot)
    caption_h = _text_height(plot.caption, 7, 0.16) if plot.caption else 0.0
    if writer.room() < _text_height(plot.title, 9.5, 0.06, True) + height + caption_h:
        writer.flush()  # keep the title and the caption with their figure
    _text_block(writer, plot.title, 9.5, weight="bold", gap=0.06)

    def draw(fig, rect):
        x, y, w, _ = rect
        plot.draw(fig, (x + (w - width) / 2, y, width, height))

    writer.add(height, draw)
    if plot.caption:
        _text_block(writer, plot.caption, 7, color="#444444", gap=0.16)


def render_pdf(report: Report, path: Path) -> None:
    """The report as an A4 PDF: text and tables as text, figures as vector graphics."""
    rc = {"pdf.fonttype": _PDF_FONTTYPE, "font.family": "DejaVu Sans", "axes.titlesize": 9}
    with (
        mpl.rc_context(rc),
        PdfPages(path, metadata={"Title": report.title, "Creator": f"mixbench {__version__}"}) as pdf,
    ):
        writer = _PdfWriter(pdf, report.title)
        _text_block(writer, report.title, 16, weight="bold", gap=0.12)
        _text_block(writer, report.subtitle, 8.5, color="#444444", gap=0.2)
        contents = "Contents: " + "; ".join(f"{i}. {s.title}" for i, s in enumerate(report.sections, 1))
        _text_block(writer, contents, 8.5, gap=0.25)
        for number, section in enumerate(report.sections, 1):
            heading = f"{number}. {section.title}"
            first = section.blocks[0] if section.blocks else None
            if writer.items and writer.room() < _text_height(heading, 13, 0.14, True) + _min_height(first):
                writer.flush()  # a section heading stays with its first block
            _text_block(writer, heading, 13, weight="bold", color="#1b3a5c", gap=0.14)
            for index, block in enumerate(section.blocks):
                if isinstance(block, Paragraph):
                    size = {"note": 7.5, "h": 11.0}.get(block.kind, 8.5)
                    weight = "bold" if block.kind == "h" else "normal"
                    following = section.blocks[index + 1 : index + 3]
                    if block.kind in ("note", "h") and following:
                        # A heading or lead note stays with what it introduces (a heading with a note and
                        # the note's table).
                        needed = _text_height(block.text, size, 0.1, weight == "bold") + sum(
                            _min_height(b) for b in (following if block.kind == "h" else following[:1])
                        )
                        if writer.items and writer.room() < needed:
                            writer.flush()
                    text = f"• {block.text}" if block.kind == "li" else block.text
                    _text_block(writer, text, size, weight=weight, gap=0.1, mono=block.kind == "pre")
                elif isinstance(block, Table):
                    _pdf_table(writer, block)
                elif isinstance(block, Plot):
                    _pdf_plot(writer, block)
            _text_block(writer, "", 6, gap=0.1)
        writer.flush()
