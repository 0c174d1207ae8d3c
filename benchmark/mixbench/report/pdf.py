"""The report as an A4 PDF, laid out by reportlab's platypus: text and tables as real (selectable) text that
flows across pages (long tables repeat their header), figures as vector drawings (matplotlib's SVG read by
svglib), DejaVu Sans throughout (matplotlib ships it) so that Δ, χ² and ⚑ print.
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib as mpl
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
)
from reportlab.platypus import Paragraph as RLParagraph
from reportlab.platypus import Table as RLTable
from reportlab.platypus import TableStyle as RLTableStyle
from svglib.svglib import svg2rlg

from mixbench import __version__
from mixbench.report.model import Paragraph, Plot, Report, Table

_MARGIN = 0.55 * inch
_WIDTH = A4[0] - 2 * _MARGIN
_HEIGHT = A4[1] - 2 * _MARGIN - 0.3 * inch
_FONT, _BOLD, _MONO = "MixbenchSans", "MixbenchSans-Bold", "MixbenchMono"
_INK, _MUTED, _ACCENT, _RULE = (
    colors.HexColor("#1a1a1a"),
    colors.HexColor("#444444"),
    colors.HexColor("#1b3a5c"),
    colors.HexColor("#999999"),
)


def _register_fonts() -> None:
    if _FONT in pdfmetrics.getRegisteredFontNames():
        return
    fonts = Path(mpl.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(_FONT, str(fonts / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(_BOLD, str(fonts / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(TTFont(_MONO, str(fonts / "DejaVuSansMono.ttf")))
    pdfmetrics.registerFontFamily(_FONT, normal=_FONT, bold=_BOLD, italic=_FONT, boldItalic=_BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("p", fontName=_FONT, fontSize=8.5, leading=11.5, textColor=_INK, spaceAfter=5)
    return {
        "title": ParagraphStyle("title", base, fontName=_BOLD, fontSize=16, leading=20, spaceAfter=6),
        "subtitle": ParagraphStyle("subtitle", base, textColor=_MUTED, spaceAfter=8),
        "section": ParagraphStyle(
            "section",
            base,
            fontName=_BOLD,
            fontSize=13,
            leading=16,
            textColor=_ACCENT,
            spaceBefore=8,
            spaceAfter=6,
        ),  # fmt: skip
        "h": ParagraphStyle("h", base, fontName=_BOLD, fontSize=11, leading=14, spaceBefore=6, spaceAfter=4),
        "p": base,
        "note": ParagraphStyle("note", base, fontSize=7.5, leading=9.8, textColor=_MUTED),
        "li": ParagraphStyle("li", base, leftIndent=10, bulletIndent=2, spaceAfter=3),
        "pre": ParagraphStyle("pre", base, fontName=_MONO, fontSize=7, leading=9),
        "block-title": ParagraphStyle(
            "block-title", base, fontName=_BOLD, fontSize=9.5, leading=12, spaceAfter=3
        ),
        "caption": ParagraphStyle("caption", base, fontSize=7, leading=9, textColor=_MUTED, spaceAfter=8),
        "cell": ParagraphStyle("cell", base, fontSize=7, leading=8.6, spaceAfter=0, alignment=TA_LEFT),
    }


def _text(value: str) -> str:
    return escape(str(value)).replace("\n", "<br/>")


def _column_widths(columns: list[str], rows: list[list[str]], max_chars: int) -> list[float]:
    """Column widths in points: each column at least its longest word (no word is broken), the rest of the
    text width shared in proportion to how much more each column's longest cell (up to ``max_chars``
    characters) would need."""
    pad = 6.5  # cell padding, left and right

    def width(text: str, bold: bool = False) -> float:
        return pdfmetrics.stringWidth(text, _BOLD if bold else _FONT, 7) + pad

    least, wanted = [], []
    for j, header in enumerate(columns):
        cells = [str(r[j]) for r in rows]
        words = [w for c in cells for w in c.split()] + header.split()
        least.append(max([width(w, bold=True) for w in words] + [width("")]))
        longest = max([width(c[:max_chars]) for c in cells] + [width(header[:14], bold=True)])
        wanted.append(max(longest, least[-1]))
    spare = _WIDTH - sum(least)
    if spare <= 0:  # too many columns for the page: shrink all alike (words may then break)
        return [_WIDTH * w / sum(least) for w in least]
    extra = [w - m for w, m in zip(wanted, least, strict=True)]
    if sum(extra) <= spare:
        return [w + (spare - sum(extra)) * w / sum(wanted) for w in wanted]
    return [m + spare * e / sum(extra) for m, e in zip(least, extra, strict=True)]


def _table(table: Table, styles: dict) -> list:
    keep = [j for j in range(len(table.columns)) if j not in table.pdf_skip_columns]
    columns = [table.columns[j] for j in keep]
    rows = [[row[j] for j in keep] for row in table.rows]
    bold = [[flags[j] for j in keep] for flags in table.bold] if table.bold else None
    align = [(table.align or ["l"] * len(table.columns))[j] for j in keep]
    cell = styles["cell"]
    right = ParagraphStyle("cell-r", cell, alignment=2)
    head = ParagraphStyle("head", cell, fontName=_BOLD)
    head_right = ParagraphStyle("head-r", head, alignment=2)

    def para(text: str, j: int, is_bold: bool, header: bool = False) -> RLParagraph:
        style = (head_right if align[j] == "r" else head) if header else (right if align[j] == "r" else cell)
        markup = _text(text)
        return RLParagraph(f"<b>{markup}</b>" if is_bold and not header else markup, style)

    data = [[para(c, j, False, header=True) for j, c in enumerate(columns)]]
    for i, row in enumerate(rows):
        data.append([para(c, j, bool(bold and bold[i][j])) for j, c in enumerate(row)])
    if not rows:
        data.append([para("(none)", 0, False)] + [para("", j, False) for j in range(1, len(columns))])
    grid = RLTable(
        data,
        colWidths=_column_widths(columns, rows or [[""] * len(columns)], table.pdf_max_chars),
        repeatRows=1,
        hAlign="LEFT",
    )
    grid.setStyle(
        RLTableStyle(
            [
                ("LINEABOVE", (0, 0), (-1, 0), 0.8, _INK),  # booktabs: top, mid and bottom rules only
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, _INK),
                ("LINEBELOW", (0, -1), (-1, -1), 0.8, _INK),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f7f9")]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    title = RLParagraph(_text(table.title), styles["block-title"])
    parts: list = [grid]
    if table.pdf_skip_columns:
        left_out = ", ".join(table.columns[j] for j in table.pdf_skip_columns)
        note = f"(Column left out of the PDF for width: {left_out}; see the HTML report.)"
        parts.append(RLParagraph(_text(note), styles["caption"]))
    if table.note:
        parts.append(RLParagraph(_text(table.note), styles["caption"]))
    # The title stays with the table's first rows; a long table flows on, repeating its header.
    return [CondPageBreak(1.2 * inch), title, *parts, Spacer(1, 4)]


def _drawing(plot: Plot):
    fig = Figure(figsize=plot.size)
    plot.draw(fig, (0.0, 0.0, *plot.size))
    buffer = io.BytesIO()
    # Text as paths: svglib then needs no font of its own, and the figure stays a vector drawing.
    with mpl.rc_context({"svg.fonttype": "path", "svg.hashsalt": "mixbench"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    buffer.seek(0)
    drawing = svg2rlg(buffer)
    scale = min(_WIDTH / drawing.width, (_HEIGHT - 1.2 * inch) / drawing.height, 1.0)
    drawing.scale(scale, scale)
    drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
    drawing.hAlign = "CENTER"
    return drawing


def _plot(plot: Plot, styles: dict) -> list:
    parts = [RLParagraph(_text(plot.title), styles["block-title"]), _drawing(plot)]
    if plot.caption:
        parts.append(RLParagraph(_text(plot.caption), styles["caption"]))
    return [KeepTogether(parts)]


def _paragraph(block: Paragraph, styles: dict):
    if block.kind == "pre":
        return Preformatted(block.text, styles["pre"])
    if block.kind == "li":
        return RLParagraph(_text(block.text), styles["li"], bulletText="•")
    return RLParagraph(_text(block.text), styles.get(block.kind, styles["p"]))


def _story(report: Report, styles: dict) -> list:
    story: list = [
        RLParagraph(_text(report.title), styles["title"]),
        RLParagraph(_text(report.subtitle), styles["subtitle"]),
        RLParagraph(
            _text("Contents: " + "; ".join(f"{i}. {s.title}" for i, s in enumerate(report.sections, 1))),
            styles["p"],
        ),
    ]
    for number, section in enumerate(report.sections, 1):
        story += [
            CondPageBreak(1.5 * inch),
            RLParagraph(_text(f"{number}. {section.title}"), styles["section"]),
        ]
        for index, block in enumerate(section.blocks):
            if isinstance(block, Paragraph):
                flowable = _paragraph(block, styles)
                following = section.blocks[index + 1 : index + 2]
                if block.kind in ("h", "note") and following and isinstance(following[0], Paragraph):
                    story.append(CondPageBreak(1.0 * inch))  # a heading or lead note stays with what follows
                story.append(flowable)
            elif isinstance(block, Table):
                story += _table(block, styles)
            elif isinstance(block, Plot):
                story += _plot(block, styles)
    return story


def render_pdf(report: Report, path: Path) -> None:
    """The report as an A4 PDF: text and tables as text, figures as vector graphics."""
    _register_fonts()
    styles = _styles()

    def footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(_FONT, 7)
        canvas.setFillColor(_MUTED)
        canvas.drawCentredString(A4[0] / 2, 0.35 * inch, f"{report.title} - page {doc.page}")
        canvas.restoreState()

    document = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + 0.2 * inch,
        title=report.title,
        author=f"mixbench {__version__}",
        creator=f"mixbench {__version__}",
        invariant=True,  # no creation date or random id: the same report gives the same bytes
    )
    document.build(_story(report, styles), onFirstPage=footer, onLaterPages=footer)
