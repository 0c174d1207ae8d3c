"""Figures of the report, each drawing into given matplotlib axes (usable on their own in a notebook)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import offset_copy

from mixbench import analysis as an
from mixbench.analysis.formatting import fixed, pvalue

ALPHA = 0.05
_PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    # beyond ten losses (the zoo): the dark and light tones of matplotlib's tab20b / tab20c
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
    "#9c9ede",
    "#cedb9c",
    "#e7ba52",
    "#e7969c",
    "#de9ed6",
]


def loss_colors(losses: Sequence[str]) -> dict[str, str]:
    """A fixed colour per loss (known losses keep theirs whatever subset a run has)."""
    colors, spare = {}, iter(_PALETTE[len(an.LOSS_ORDER) :] + _PALETTE * 4)
    for loss in losses:
        if loss in an.LOSS_ORDER:
            colors[loss] = _PALETTE[an.LOSS_ORDER.index(loss)]
        else:
            colors[loss] = next(spare)
    return colors


# --- figures ----------------------------------------------------------------------------------------
def axes_grid(
    fig: Figure,
    rect: tuple[float, float, float, float],
    nrows: int = 1,
    ncols: int = 1,
    *,
    left: float = 0.75,
    right: float = 0.15,
    bottom: float = 0.5,
    top: float = 0.3,
    hgap: float = 0.55,
    wgap: float = 0.6,
) -> list[Axes]:
    """Axes laid out in ``rect`` (left, bottom, width, height in inches) with margins in inches."""
    x0, y0, width, height = rect
    fig_w, fig_h = fig.get_size_inches()
    cell_w = (width - left - right - wgap * (ncols - 1)) / ncols
    cell_h = (height - top - bottom - hgap * (nrows - 1)) / nrows
    axes = []
    for r in range(nrows):
        for c in range(ncols):
            x = x0 + left + c * (cell_w + wgap)
            y = y0 + height - top - (r + 1) * cell_h - r * hgap
            axes.append(fig.add_axes((x / fig_w, y / fig_h, cell_w / fig_w, cell_h / fig_h)))
    return axes


def plot_critical_difference(
    mean_ranks: pd.Series,
    pvalues: pd.DataFrame,
    *,
    ax: Axes,
    alpha: float = ALPHA,
    cd: float | None = None,
    title: str = "",
    colors: dict[str, str] | None = None,
) -> Axes:
    """Critical-difference diagram (scikit-posthocs) from mean ranks and post-hoc p-values.

    Losses joined by a bar are not significantly different at ``alpha``; ``cd`` draws the Nemenyi critical
    difference above the axis; pass the p-values of the same test (Nemenyi's) so that the bars and the CD
    agree (``mixbench.analysis.nemenyi_posthoc``).
    """
    colors = colors or loss_colors(list(mean_ranks.index))
    # Labels print the rank rounded half up from its exact value (99/40 -> 2.48, not 2.47); the positions
    # move by less than 0.005.
    mean_ranks = mean_ranks.map(lambda rank: float(fixed(rank, 2)))
    # NaN p-values (test undefined) count as 'not significant', so nothing is claimed.
    # Older scikit-posthocs (before its PR #93, 2025) has no `alpha` and always uses 0.05.
    level = {} if alpha == 0.05 else {"alpha": alpha}
    sp.critical_difference_diagram(
        ranks=mean_ranks,
        sig_matrix=pvalues.fillna(1.0),
        ax=ax,
        **level,
        label_fmt_left="{label} ({rank:.2f})",
        label_fmt_right="({rank:.2f}) {label}",
        label_props={"fontsize": 8},
        color_palette={loss: colors[loss] for loss in mean_ranks.index},
    )
    low, high = float(mean_ranks.min()), float(mean_ranks.max())
    if cd is not None:
        high = max(high, low + cd)
    # Whole ranks, markers clear of the ends, never beyond the possible ranks 1..k.
    k = len(mean_ranks)
    ax.set_xlim(max(np.floor(low - 0.25), 0.75), min(np.ceil(high + 0.25), k + 0.25))
    ax.tick_params(axis="x", labelsize=8)
    if cd is not None:
        # Drawn above the tick labels (scikit-posthocs draws it over them): x in ranks, y in points.
        above = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, y=20, units="points")
        ax.plot([low, low + cd], [1, 1], transform=above, color="black", lw=1.5, clip_on=False)
        for x in (low, low + cd):
            ax.plot([x, x], [1, 1], transform=above, color="black", marker="|", ms=6, clip_on=False)
        ax.text(
            low + cd / 2,
            1,
            f"Nemenyi CD = {fixed(cd, 2)}",
            transform=above,
            ha="center",
            va="bottom",
            fontsize=7.5,
        )
    if title:
        ax.set_title(title, fontsize=9, loc="center", pad=36 if cd is not None else 18)
    return ax


def plot_pvalue_heatmap(pvalues: pd.DataFrame, *, ax: Axes, alpha: float = ALPHA, title: str = "") -> Axes:
    """Post-hoc p-values as a heatmap (log colour scale), each cell annotated, significant ones in bold."""
    k = len(pvalues)
    values = pvalues.to_numpy(dtype=float).copy()
    shown = np.where(np.eye(k, dtype=bool), np.nan, values)
    norm = LogNorm(vmin=1e-4, vmax=1.0)
    # pcolormesh, not imshow: cells stay vector shapes in the PDF and SVG.
    edges = np.arange(k + 1) - 0.5
    cells = np.ma.masked_invalid(np.clip(shown, 1e-4, 1.0))
    ax.pcolormesh(edges, edges, cells, cmap="viridis", norm=norm, edgecolors="white", linewidth=0.8)
    ax.set_xlim(-0.5, k - 0.5)
    ax.set_ylim(k - 0.5, -0.5)
    for i in range(k):
        for j in range(k):
            if i == j:
                continue
            p = values[i, j]
            color = "white" if np.isfinite(p) and p < 0.02 else "black"
            weight = "bold" if np.isfinite(p) and p < alpha else "normal"
            ax.text(j, i, pvalue(p), ha="center", va="center", fontsize=6.5, color=color, fontweight=weight)
    labels = [str(c) for c in pvalues.columns]
    ax.set_xticks(range(k), labels, rotation=35, ha="right", fontsize=7.5)
    ax.set_yticks(range(k), labels, fontsize=7.5)
    ax.tick_params(length=0)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_performance_profile(
    profile: pd.DataFrame, *, ax: Axes, title: str = "", colors: dict[str, str] | None = None
) -> Axes:
    """Dolan-Moré profile: fraction of datasets within a factor tau of the best accuracy."""
    colors = colors or loss_colors(list(profile.columns))
    taus = profile.index.to_numpy()
    below = profile.lt(1.0).any(axis=1).to_numpy()
    start = taus[np.argmax(below)] if below.any() else taus[0]
    for loss in profile.columns:
        ax.plot(taus, profile[loss], drawstyle="steps-post", color=colors[loss], lw=1.4, label=loss)
    ax.set_xlim(max(taus[0], start - 0.02), taus[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("tau (accuracy >= tau x best on the dataset)", fontsize=8)
    ax.set_ylabel("fraction of datasets", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_learning_curves(
    curves: pd.DataFrame, *, ax: Axes, title: str = "", colors: dict[str, str] | None = None
) -> Axes:
    """Validation accuracy per epoch of each loss (one lr and seed each), the selected epoch marked.

    ``curves`` has columns ``loss``, ``epoch``, ``val_acc`` and a boolean ``selected`` marking each loss's
    validation-selected epoch.
    """
    losses = an.order_losses(curves["loss"].unique())
    colors = colors or loss_colors(losses)
    for loss in losses:
        c = curves[curves["loss"] == loss].sort_values("epoch")
        ax.plot(c["epoch"], 100 * c["val_acc"], color=colors[loss], lw=1.1, label=loss)
        chosen = c[c["selected"]]
        ax.plot(chosen["epoch"], 100 * chosen["val_acc"], "o", color=colors[loss], ms=3.5)
    ax.set_xlabel("epoch", fontsize=8)
    ax.set_ylabel("validation accuracy (%)", fontsize=8)
    ax.tick_params(labelsize=7.5)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def legend_room(losses: Sequence[str], ncol: int = 4) -> float:
    """Inches below the axes for an x label and a legend of ``ncol`` columns (one row per 0.16 in)."""
    return 0.7 + 0.16 * -(-len(losses) // ncol)


def legend_below(fig: Figure, rect, losses: Sequence[str], colors: dict[str, str], ncol: int = 4) -> None:
    """One legend of the ``losses``' colours, centred at the bottom of ``rect`` (room: ``legend_room``)."""
    x0, y0, width, _ = rect
    fig_w, fig_h = fig.get_size_inches()
    handles = [Line2D([], [], color=colors[loss], lw=1.6) for loss in losses]
    fig.legend(
        handles,
        list(losses),
        loc="lower center",
        bbox_to_anchor=((x0 + width / 2) / fig_w, (y0 + 0.02) / fig_h),
        ncol=min(ncol, len(losses)),
        fontsize=7.5,
        frameon=False,
    )
