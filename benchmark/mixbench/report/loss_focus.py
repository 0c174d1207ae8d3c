"""Where a loss focuses: ``|d loss / d q_y|`` against ``p_y`` (the reference study's Figure 1), any loss.

The curves come from :func:`mixbench.losses.gradient_focus`, which uses the gradient the engine trains with
(closed form, or autograd for user losses), so built-in, zoo and user losses are drawn alike. A scheduled
loss (the CE+EL mixtures) is drawn once per phase of an ``n_epochs`` run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from mixbench.losses import Loss, get_loss, gradient_focus

__all__ = ["loss_focus_figure", "save_loss_focus"]


def _phases(loss: Loss, n_epochs: int) -> list[tuple[int, str]]:
    """(epoch, label suffix) of each phase of a scheduled loss; one entry (epoch 0, "") otherwise."""
    if loss.schedule is None:
        return [(0, "")]
    return [(first, f" (F={focus:g})") for first, _, focus in loss.schedule.table(n_epochs)]


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
    colors : loss name -> colour (e.g. the report's); others take matplotlib's cycle

    Returns
    -------
    matplotlib Figure
    """
    p = np.linspace(0.0, 1.0, points + 2)[1:-1]
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    cycle = iter(
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
         "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
         "#756bb1", "#636363"] * 4
    )  # fmt: skip
    for item in losses:
        loss = get_loss(item)
        color = (colors or {}).get(loss.name) or next(cycle)
        phases = _phases(loss, n_epochs)
        for k, (epoch, suffix) in enumerate(phases):
            focus = gradient_focus(loss, p, n_classes=n_classes, epoch=epoch, n_epochs=n_epochs)
            if normalise and np.nanmax(focus) > 0:
                focus = focus / np.nanmax(focus)
            alpha = 1.0 if len(phases) == 1 else 0.35 + 0.65 * (k + 1) / len(phases)
            ax.plot(p, focus, color=color, alpha=alpha, lw=1.6, label=f"{loss.name}{suffix}")
    ax.set_xlabel("$p_y$ (softmax probability of the true class)")
    ax.set_ylabel(r"$|\partial L / \partial q_y|$" + (" (each curve / its maximum)" if normalise else ""))
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title(f"Gradient on the true logit ({n_classes} classes, other logits equal)", fontsize=10)
    ax.legend(fontsize=7, ncol=2 if len(ax.lines) > 14 else 1, frameon=False, loc="upper left",
              bbox_to_anchor=(1.01, 1.0))  # fmt: skip
    return fig


def save_loss_focus(losses: Sequence[str | Loss], path: str | Path, **kwargs) -> Path:
    """Draw :func:`loss_focus_figure` into ``path`` (PNG, PDF or SVG, by its suffix); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    loss_focus_figure(losses, **kwargs).savefig(path, dpi=150)
    return path
