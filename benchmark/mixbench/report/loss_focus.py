"""Where a loss focuses: ``|d loss / d q_y|`` against ``p_y`` (the reference study's Figure 1), any loss.

The curves come from :func:`mixbench.losses.gradient_focus`, which uses the gradient the engine trains with
(closed form, or autograd for user losses), so built-in, zoo and user losses are drawn alike. A scheduled
loss (the CE+EL mixtures) is drawn once per phase of an ``n_epochs`` run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mixbench.analysis.focus import focus_curves
from mixbench.losses import Loss, get_loss
from mixbench.report.figures import loss_colors
from mixbench.report.output import check_output_file, unwritable
from mixbench.results import atomic_path

__all__ = ["FIGURE_SUFFIXES", "check_figure_path", "loss_focus_figure", "plot_loss_focus", "save_loss_focus"]

#: The file types :func:`save_loss_focus` writes, by extension.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def plot_loss_focus(
    curves: pd.DataFrame, *, ax, normalise: bool = False, colors: dict[str, str] | None = None, legend=True
):
    """Draw ``mixbench.analysis.focus_curves`` output into ``ax``: one colour per loss, phases of a
    scheduled loss from faint (first) to full (last)."""
    losses = list(dict.fromkeys(curves.columns.get_level_values("loss")))
    colors = {**loss_colors(losses), **(colors or {})}  # the report's palette unless given
    p = curves.index.to_numpy()
    for loss in losses:
        color = colors[loss]
        labels = list(curves[loss].columns)
        for k, label in enumerate(labels):
            focus = curves[(loss, label)].to_numpy()
            if normalise and np.nanmax(focus) > 0:
                focus = focus / np.nanmax(focus)
            alpha = 1.0 if len(labels) == 1 else 0.35 + 0.65 * (k + 1) / len(labels)
            ax.plot(p, focus, color=color, alpha=alpha, lw=1.6, label=label)
    ax.set_xlabel("$p_y$ (softmax probability of the true class)")
    ax.set_ylabel(r"$|\partial L / \partial q_y|$" + (" (each curve / its maximum)" if normalise else ""))
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title(
        f"Gradient on the true logit ({curves.attrs.get('n_classes', 10)} classes, other logits equal)",
        fontsize=10,
    )
    if legend:
        ax.legend(fontsize=7, ncol=2 if len(ax.lines) > 14 else 1, frameon=False, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0))  # fmt: skip
    return ax


def loss_focus_figure(
    losses: Sequence[str | Loss],
    *,
    n_classes: int = 10,
    n_epochs: int = 50,
    points: int = 400,
    normalise: bool = False,
    colors: dict[str, str] | None = None,
    figsize: tuple[float, float] = (8.0, 4.2),
) -> Figure:
    """One curve per loss (per phase for a scheduled loss) of ``|d loss / d q_y|`` against ``p_y``.

    Parameters
    ----------
    losses : loss names, :class:`~mixbench.losses.Loss` objects or user functions
    n_classes : classes of the logits the gradient is taken at (matters only for losses that are not
        functions of ``p_y`` alone; see :func:`~mixbench.losses.gradient_focus`)
    n_epochs : run length whose phases a scheduled loss is drawn at
    points : values of ``p_y`` on (0, 1)
    normalise : divide each curve by its maximum (compare where losses focus, not how strongly)
    colors : loss name -> colour; others take the report's palette (``loss_colors``)

    Returns
    -------
    matplotlib Figure
    """
    curves, unknown = focus_curves(
        [get_loss(item) for item in losses], n_epochs=n_epochs, n_classes=n_classes, points=points
    )
    fig = Figure(figsize=figsize, layout="constrained")
    plot_loss_focus(curves, ax=fig.add_subplot(), normalise=normalise, colors=colors)
    return fig


def check_figure_path(path: str | Path, option: str = "--out") -> Path:
    """``path`` if a figure can be written there (an extension of :data:`FIGURE_SUFFIXES`, a folder that
    can be written, created if needed); else :class:`~mixbench.report.output.OutputError` naming
    ``option`` in its fix. Cheap: call it before anything is computed."""
    return check_output_file(path, FIGURE_SUFFIXES, option=option, example="loss-focus.png")


def save_loss_focus(losses: Sequence[str | Loss], path: str | Path, **kwargs) -> Path:
    """Draw :func:`loss_focus_figure` into ``path`` (PNG, PDF or SVG, by its extension); returns the path.

    ``path`` is checked first (:func:`check_figure_path`); the figure is written to a temporary file
    renamed over ``path``, so an existing figure is never left half-written.
    """
    path = check_figure_path(path)
    fig = loss_focus_figure(losses, **kwargs)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:].lower(), dpi=150)
    except OSError as exc:
        raise unwritable(path, exc, "give --out a file in a folder that can be written") from None
    return path
