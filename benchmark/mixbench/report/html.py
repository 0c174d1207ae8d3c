"""The report as one self-contained HTML page: inline CSS, inline SVG figures, a few lines of vanilla
JavaScript to sort and filter the per-dataset table, no network request."""

from __future__ import annotations

import io
import re

import jinja2
import matplotlib as mpl
from matplotlib.figure import Figure

from mixbench.report.model import Plot, Report

# --- HTML -------------------------------------------------------------------------------------------
_ID = re.compile(r'\bid="([^"]+)"')


def _svg(fig: Figure, prefix: str) -> str:
    """The figure as an inline <svg> element with ids made unique in the page."""
    buffer = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": prefix}):
        # No bbox_inches="tight": the layout already has explicit margins, and tight would draw twice.
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = text.replace('xlink:href="#', f'xlink:href="#{prefix}-').replace("url(#", f"url(#{prefix}-")
    return text


def _render_plot(plot: Plot) -> Figure:
    fig = Figure(figsize=plot.size)
    plot.draw(fig, (0.0, 0.0, *plot.size))
    return fig


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mixbench", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    figures: dict[int, str] = {}
    counter = 0
    for section in report.sections:
        for block in section.blocks:
            if isinstance(block, Plot):
                counter += 1
                fig = _render_plot(block)
                figures[id(block)] = _svg(fig, f"f{counter}")
    template = env.get_template("report.html.j2")
    return template.render(
        report=report,
        figures=figures,
        kind=lambda block: type(block).__name__,
        id=id,
    )
