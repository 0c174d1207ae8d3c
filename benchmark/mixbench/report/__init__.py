"""HTML and PDF reports of a run: the statistics of ``mixbench.analysis`` laid out for a reader.

``render_report(run, out_dir)`` writes ``report.html`` (one self-contained file: inline CSS, inline SVG
figures, a few lines of vanilla JavaScript to sort and filter the per-dataset table, no network request) and
``report.pdf`` (A4 pages drawn with matplotlib's PdfPages: text and tables as real text, figures as vectors;
no dependency beyond matplotlib). Both come from the same list of sections, so they hold the same content.

The figure functions (``plot_critical_difference``, ``plot_pvalue_heatmap``, ``plot_performance_profile``,
``plot_learning_curves``) draw into given matplotlib axes and are usable on their own.
"""

from __future__ import annotations

import datetime as _dt
import functools
import io
import json
import os
import platform
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import matplotlib as mpl
import numpy as np
import pandas as pd
import scikit_posthocs as sp
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.transforms import offset_copy

from mixbench import __version__
from mixbench import analysis as an
from mixbench.results import atomic_path

try:  # matplotlib >= 3.10
    from matplotlib.ft2font import LoadFlags

    _NO_HINTING = LoadFlags.NO_HINTING
except ImportError:  # pragma: no cover - older matplotlib
    from matplotlib.ft2font import LOAD_NO_HINTING as _NO_HINTING

if TYPE_CHECKING:  # for the type hints only: importing the store at run time would load pyarrow
    from mixbench.results import RunResults

__all__ = [
    "render_report",
    "build_report",
    "render_html",
    "render_pdf",
    "loss_colors",
    "plot_critical_difference",
    "plot_pvalue_heatmap",
    "plot_performance_profile",
    "plot_learning_curves",
]

ALPHA = 0.05
NET_ORDER = ("linear", "hidden")
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
]


# --- report model: what both the HTML and the PDF show ----------------------------------------------
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


# --- formatting -------------------------------------------------------------------------------------
def _num(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _signed(x: float, digits: int = 2) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    text = f"{x:+.{digits}f}"
    return text.replace("+0.00", "0.00").replace("-0.00", "0.00") if digits == 2 else text


def _pval(p: float) -> str:
    if p is None or np.isnan(p):
        return "n/a"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _wins(w: float) -> str:
    return f"{w:.0f}" if float(w).is_integer() else f"{w:.1f}"


def _listing(names: Iterable[Any], limit: int = 12) -> str:
    names = [str(n) for n in names]
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _net_order(nets: Iterable[str]) -> list[str]:
    nets = list(dict.fromkeys(nets))
    return [n for n in NET_ORDER if n in nets] + sorted(n for n in nets if n not in NET_ORDER)


def _noise_order(noises: Iterable[str]) -> list[str]:
    noises = list(dict.fromkeys(noises))
    return (["none"] if "none" in noises else []) + sorted(n for n in noises if n != "none")


def loss_colors(losses: Sequence[str]) -> dict[str, str]:
    """A fixed colour per loss (known losses keep theirs whatever subset a run has)."""
    colors, spare = {}, iter(_PALETTE[len(an.LOSS_ORDER) :] + _PALETTE)
    for loss in losses:
        if loss in an.LOSS_ORDER:
            colors[loss] = _PALETTE[an.LOSS_ORDER.index(loss)]
        else:
            colors[loss] = next(spare)
    return colors


# --- figures ----------------------------------------------------------------------------------------
def _axes_grid(
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
    difference above the axis for scale.
    """
    colors = colors or loss_colors(list(mean_ranks.index))
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
            low + cd / 2, 1, f"Nemenyi CD = {cd:.2f}", transform=above, ha="center", va="bottom", fontsize=7.5
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
            ax.text(j, i, _pval(p), ha="center", va="center", fontsize=6.5, color=color, fontweight=weight)
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


def _legend_below(fig: Figure, rect, losses: Sequence[str], colors: dict[str, str], ncol: int = 4) -> None:
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


# --- the analysis of a run --------------------------------------------------------------------------
@dataclass
class _Cell:
    """Everything computed for one (noise, net)."""

    noise: str
    net: str
    losses: list[str]
    by_seed: dict
    mean_matrix: pd.DataFrame
    summaries: dict[str, pd.DataFrame]
    paper_summary: pd.DataFrame | None


def _analyse(run, *, missing: str, n_boot: int, random_state: int | None) -> tuple[list[_Cell], dict]:
    selected = run.selected
    failures = _failures(run)
    nets = _net_order(selected["net"].unique())
    noises = _noise_order(selected["noise"].unique())
    splits = sorted(selected["split"].unique().tolist())
    split = "mean" if len(splits) > 1 else None
    expected = sorted(set(selected["dataset"]) | set(failures["dataset"]))
    paper_nets = set(an.load_paper_table()["net"])
    losses_all = an.order_losses(selected["loss"].unique())
    baseline = "CE" if "CE" in losses_all else losses_all[0]
    cells, skipped = [], []
    for noise in noises:
        for net in nets:
            rows = selected[(selected["net"] == net) & (selected["noise"] == noise)]
            if rows.empty:
                continue
            losses = an.order_losses(rows["loss"].unique())
            if len(losses) < 2:
                skipped.append(f"{net} network, noise {noise}: only the loss {losses[0]}")
                continue
            common = dict(net=net, noise=noise, split=split, datasets=expected, missing=missing)
            own_baseline = baseline if baseline in losses else losses[0]
            summaries = {
                how: an.summary_table(
                    rows, how=how, baseline=own_baseline, n_boot=n_boot, random_state=random_state, **common
                )
                for how in ("per_seed", "seed_mean")
            }
            paper_summary = None
            if noise == "none" and net in paper_nets and set(an.PAPER_LOSSES) <= set(losses):
                paper_summary = an.summary_table(
                    rows,
                    losses=an.PAPER_LOSSES,
                    how="per_seed",
                    tie_method="min",
                    baseline="CE",
                    n_boot=n_boot,
                    random_state=random_state,
                    **common,
                )
            cells.append(
                _Cell(
                    noise=noise,
                    net=net,
                    losses=losses,
                    by_seed=an.per_seed_matrices(rows, **common),
                    mean_matrix=an.accuracy_matrix(rows, seed="mean", **common),
                    summaries=summaries,
                    paper_summary=paper_summary,
                )
            )
    context = {
        "nets": nets,
        "noises": noises,
        "splits": splits,
        "seeds": sorted(selected["seed"].unique().tolist()),
        "losses": losses_all,
        "baseline": baseline,
        "datasets": expected,
        "missing": missing,
        "n_boot": n_boot,
        "split_note": f"accuracies averaged over splits {splits}"
        if split == "mean"
        else f"split {splits[0]}",
        "split": split,
        "skipped": skipped,
    }
    return cells, context


def _failures(run) -> pd.DataFrame:
    failures = getattr(run, "failures", None)
    columns = ["dataset", "net", "split", "noise", "error"]
    if failures is None or len(failures) == 0:
        return pd.DataFrame(columns=columns)
    return failures


def _label(cell: _Cell, several_noises: bool) -> str:
    return f"{cell.net} network" + (f", noise {cell.noise}" if several_noises else "")


# --- sections ---------------------------------------------------------------------------------------
def _flatten(config: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(config, dict):
        items = []
        for key, value in config.items():
            items += _flatten(value, f"{prefix}{key}.")
        return items
    text = json.dumps(config, default=str) if not isinstance(config, str) else config
    return [(prefix.rstrip("."), text)]


def _parse_time(value: Any) -> _dt.datetime | None:
    if isinstance(value, (int, float)):
        return _dt.datetime.fromtimestamp(value, tz=_dt.UTC)
    if isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _accuracy_rule(eval_batch) -> str:
    if not eval_batch:  # 0, or a run directory made before the setting existed
        return "exact per-sample accuracy"
    return f"mean of per-batch accuracies, batches of {eval_batch} rows (the reference code's rule)"


def _find(config: dict, names: Sequence[str]) -> Any:
    """First value under any of ``names``, searched in nested dicts too."""
    for name in names:
        if name in config:
            return config[name]
    for value in config.values():
        if isinstance(value, dict):
            found = _find(value, names)
            if found is not None:
                return found
    return None


def _wall_time(config: dict) -> str:
    seconds = _find(config, ("wall_time_s", "wall_time", "elapsed_s", "duration_s", "wall_s"))
    if not isinstance(seconds, (int, float)):
        start = _parse_time(_find(config, ("started", "start_time", "started_at", "start")))
        end = _parse_time(_find(config, ("finished", "end_time", "finished_at", "ended", "end")))
        if start is None or end is None:
            return "not recorded in config.json"
        seconds = (end - start).total_seconds()
    minutes, secs = divmod(float(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    clock = f"{int(hours)} h {int(minutes)} min" if hours else f"{int(minutes)} min {secs:.0f} s"
    return f"{clock} ({seconds:.0f} s)"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, "")) or "not recorded"
    return "not recorded" if value in (None, "") else str(value)


def _git_text(git: Any) -> str:
    if not isinstance(git, dict) or not git.get("commit"):
        return "not recorded (not run from a git checkout)"
    return str(git["commit"]) + (" with uncommitted changes" if git.get("dirty") else "")


def _versions() -> list[tuple[str, str]]:
    rows = [("mixbench", __version__), ("python", platform.python_version())]
    for package in ("numpy", "pandas", "scipy", "scikit-posthocs", "matplotlib", "jinja2"):
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    return rows


def _provenance_section(run, run_name: str, cells: list[_Cell], context: dict) -> Section:
    config = dict(getattr(run, "config", None) or {})
    selected = run.selected
    diverged = int(selected["diverged"].fillna(False).astype(bool).sum()) if "diverged" in selected else 0
    failures = _failures(run)
    overview = [
        ["Run", run_name],
        ["Datasets", f"{len(context['datasets'])}"],
        ["Networks", ", ".join(context["nets"])],
        ["Losses", ", ".join(context["losses"])],
        ["Seeds", ", ".join(map(str, context["seeds"]))],
        ["Splits", ", ".join(map(str, context["splits"]))],
        ["Label noise", ", ".join(context["noises"])],
        ["Validation / test accuracy", _accuracy_rule(_find(config, ("eval_batch",)))],
        ["Selected results", f"{len(selected)} rows (dataset x net x split x noise x loss x seed)"],
        ["Failed tasks", f"{len(failures)}"],
        ["Diverged cells", f"{diverged} (some learning rate of the cell diverged)"],
        ["Wall time", _wall_time(config)],
        [
            "Started / finished",
            f"{_find(config, ('started',)) or '?'} / {_find(config, ('finished',)) or '?'}",
        ],
        ["Status", str(_find(config, ("status",)) or "not recorded")],
        ["Machine", _describe(_find(config, ("machine",)))],
        ["Git commit", _git_text(_find(config, ("git",)))],
        ["Per-epoch records", "available" if getattr(run, "epochs", None) is not None else "not kept"],
    ]
    blocks: list = [Table("Overview", ["Item", "Value"], overview, align=["l", "l"], pdf_max_chars=90)]
    run_versions = _find(config, ("versions",))
    if isinstance(run_versions, dict):
        rows = [[k, str(v)] for k, v in _flatten(run_versions)]
        blocks.append(
            Table("Versions used by the run", ["Package", "Version"], rows, align=["l", "l"], inline=True)
        )
    blocks.append(
        Table(
            "Versions used to render this report",
            ["Package", "Version"],
            [list(r) for r in _versions()],
            align=["l", "l"],
            inline=True,
        )
    )
    flat = [[k, v] for k, v in _flatten(config) if not k.startswith("versions.")]
    blocks.append(
        Table(
            "Configuration (config.json)",
            ["Key", "Value"],
            flat or [["(empty)", "the run recorded no configuration"]],
            align=["l", "l"],
            pdf_max_chars=80,
            collapsed=True,
        )
    )
    return Section("provenance", "Run provenance", blocks)


def _summary_rows(summary: pd.DataFrame) -> tuple[list[list[str]], list[list[bool]], list[str]]:
    columns = ["Loss", "Wins", "ΔAcc (pp)", "95% CI (pp)", "Mean rank"]
    show_n = bool((summary["n_delta"] != summary["n_datasets"]).any())
    if show_n:
        columns.append("n for ΔAcc")
    best_wins, best_delta = summary["wins"].max(), summary["delta_acc"].max()
    best_rank = summary["mean_rank"].min()
    rows, bold = [], []
    for loss, r in summary.iterrows():
        is_baseline = r["baseline"] == loss
        ci = "baseline" if is_baseline else f"[{_signed(r['delta_ci_low'])}, {_signed(r['delta_ci_high'])}]"
        row = [str(loss), _wins(r["wins"]), _signed(r["delta_acc"]), ci, _num(r["mean_rank"])]
        flags = [
            False,
            r["wins"] == best_wins,
            r["delta_acc"] == best_delta,
            False,
            r["mean_rank"] == best_rank,
        ]
        if show_n:
            row.append(str(int(r["n_delta"])))
            flags.append(False)
        rows.append(row)
        bold.append(flags)
    return rows, bold, columns


def _how_text(how: str, seeds: Sequence, tie_method: str) -> str:
    seeds_text = ", ".join(map(str, seeds))
    ties = (
        "average ranks for ties (ranks sum to k(k+1)/2)"
        if tie_method == "average"
        else "tied losses share the best of their ranks ('min')"
    )
    if how == "per_seed":
        head = f"Computed on each seed ({seeds_text}) and averaged over seeds, the reference study's way"
    else:
        head = f"Computed once on test accuracies averaged over seeds ({seeds_text})"
    return f"{head}; mean rank: 1 = best, {ties}"


def _dataset_text(summary: pd.DataFrame) -> str:
    excluded = summary.attrs.get("excluded", {})
    n = int(summary["n_datasets"].iloc[0])
    missing = summary["missing"].iloc[0]
    policy = (
        "datasets with a missing cell are excluded"
        if missing == "exclude"
        else "missing cells are ranked worst and never win"
    )
    return f"{n} datasets ({policy}); excluded: {_listing(excluded)}."


def _summary_section(cells: list[_Cell], context: dict) -> Section:
    several_noises = len(context["noises"]) > 1
    blocks: list = [
        Paragraph(
            f"One table per network: wins (datasets on which the loss is best; every tied loss counts, exact "
            f"ties), ΔAcc (mean over datasets of the loss's test accuracy minus {context['baseline']}'s, in "
            f"percentage points, with a 95% percentile-bootstrap interval over datasets, "
            f"{context['n_boot']} resamples) and mean rank. Best value of each column in bold. "
            f"Test accuracy at the validation-selected learning rate and epoch; {context['split_note']}."
        )
    ]
    for cell in cells:
        label = _label(cell, several_noises)
        best = cell.summaries["per_seed"]["mean_rank"].idxmin()
        friedman = an.friedman_test(cell.mean_matrix) if len(cell.losses) >= 3 else None
        verdict = f"Best mean rank: {best}."
        if friedman is not None:
            verdict += (
                f" Friedman test on seed-averaged accuracies: p = {_pval(friedman['pvalue'])} "
                f"(Iman-Davenport p = {_pval(friedman['iman_davenport_pvalue'])})."
            )
        blocks.append(Paragraph(label.capitalize(), "h"))
        blocks.append(Paragraph(verdict, "note"))
        for how in ("per_seed", "seed_mean"):
            summary = cell.summaries[how]
            rows, bold, columns = _summary_rows(summary)
            title = f"Summary, {label}: " + (
                "per seed, averaged" if how == "per_seed" else "seed-averaged accuracies"
            )
            note = f"{_how_text(how, context['seeds'], 'average')}. {_dataset_text(summary)}"
            table_id = f"summary-{cell.noise}-{cell.net}-{how}"
            blocks.append(
                Table(title, columns, rows, note, bold=bold, align=list("lrrrrr"), table_id=table_id)
            )
    if context["skipped"]:
        blocks.append(Paragraph("Nothing to compare for " + "; ".join(context["skipped"]) + ".", "note"))
    if len(context["splits"]) > 1:
        blocks += _per_split_tables(cells, context)
    return Section("summary", "Summary per network", blocks)


def _per_split_tables(cells: list[_Cell], context: dict) -> list:
    """Mean rank on each split alone: do the conclusions hold across splits?"""
    several_noises = len(context["noises"]) > 1
    blocks: list = []
    for cell in cells:
        rows_of = context["selected"]
        rows_of = rows_of[(rows_of["net"] == cell.net) & (rows_of["noise"] == cell.noise)]
        splits = sorted(rows_of["split"].unique().tolist())
        if len(splits) < 2:
            continue
        ranks, counts = {}, {}
        for split in splits:
            summary = an.summary_table(
                rows_of,
                split=split,
                datasets=context["datasets"],
                missing=context["missing"],
                baseline=context["baseline"] if context["baseline"] in cell.losses else cell.losses[0],
                n_boot=0,
            )
            ranks[split], counts[split] = summary["mean_rank"], int(summary["n_datasets"].iloc[0])
        mean = cell.summaries["per_seed"]["mean_rank"]
        best = {split: r.min() for split, r in ranks.items()}
        rows = [[loss] + [_num(ranks[s][loss]) for s in splits] + [_num(mean[loss])] for loss in cell.losses]
        bold = [
            [False] + [ranks[s][loss] == best[s] for s in splits] + [mean[loss] == mean.min()]
            for loss in cell.losses
        ]
        blocks.append(
            Table(
                f"Mean rank per split, {_label(cell, several_noises)}",
                ["Loss"] + [f"split {s}" for s in splits] + ["splits averaged"],
                rows,
                "Per seed, averaged over seeds; average ranks for ties; best of each column in bold. "
                "Datasets: "
                + ", ".join(f"split {s}: {counts[s]}" for s in splits)
                + f", averaged: {int(cell.summaries['per_seed']['n_datasets'].iloc[0])}.",
                bold=bold,
                align=["l"] + ["r"] * (len(splits) + 1),
                table_id=f"splits-{cell.noise}-{cell.net}",
            )
        )
    return [Paragraph("Per split", "h"), *blocks] if blocks else []


def _paper_section(cells: list[_Cell], context: dict) -> Section:
    blocks: list = []
    usable = [c for c in cells if c.paper_summary is not None]
    if not usable:
        reasons = (
            "the run has no noise-free results of the six published losses "
            f"({', '.join(an.PAPER_LOSSES)}) on the published networks (linear, hidden)"
        )
        blocks.append(Paragraph(f"No comparison: {reasons}."))
        return Section("paper", "Published table vs reproduction", blocks)
    paper = an.load_paper_table()
    blocks.append(
        Paragraph(
            'Table 4 of Battash, Hazan & Wolf, "Mixing between the Cross Entropy and the Expectation Loss '
            'Terms" (121 UCI datasets, average of two seeds) beside the same statistics on this run. The '
            "reproduced numbers use tie_method='min' (tied losses share the best rank), as the published "
            "ranks "
            "imply: they do not sum to 21 = 1+...+6 (see PROTOCOL.md). Wins and ranks are over the six "
            "published losses only. Differences are reproduction minus paper."
        )
    )
    for cell in usable:
        comparison = an.compare_with_paper(cell.paper_summary, paper)
        rows, bold = [], []
        for loss, r in comparison.iterrows():
            rows.append(
                [
                    str(loss),
                    _wins(r["wins_paper"]),
                    _wins(r["wins"]),
                    _signed(r["wins_diff"], 1),
                    _signed(r["delta_acc_paper"]),
                    _signed(r["delta_acc"]),
                    _signed(r["delta_acc_diff"]),
                    _num(r["mean_rank_paper"]),
                    _num(r["mean_rank"]),
                    _signed(r["mean_rank_diff"]),
                ]
            )
            bold.append([False] * 10)
        columns = [
            "Loss",
            "Wins paper",
            "Wins ours",
            "diff",
            "ΔAcc paper",
            "ΔAcc ours",
            "diff",
            "Rank paper",
            "Rank ours",
            "diff",
        ]
        average_sum = cell.paper_summary["mean_rank"].sum()
        ranks_average = sum(
            an.rank_losses(m[list(an.PAPER_LOSSES)].dropna(), "average").mean() for m in cell.by_seed.values()
        ) / len(cell.by_seed)
        note = (
            f"{_how_text('per_seed', context['seeds'], 'min')}. {_dataset_text(cell.paper_summary)} "
            f"Paper: 121 datasets. Sum of mean ranks: paper {comparison['mean_rank_paper'].sum():.2f}, "
            f"ours {average_sum:.2f} with 'min' ties ({ranks_average.sum():.2f} with average ranks)."
        )
        blocks.append(
            Table(
                f"Paper vs reproduction, {cell.net} network",
                columns,
                rows,
                note,
                bold=bold,
                align=["l"] + ["r"] * 9,
                table_id=f"paper-{cell.net}",
            )
        )
    return Section("paper", "Published table vs reproduction", blocks)


def _tests_section(cells: list[_Cell], context: dict) -> Section:
    several_noises = len(context["noises"]) > 1
    colors = loss_colors(context["losses"])
    blocks: list = [
        Paragraph(
            "Friedman rank-sum test of 'all losses perform alike' over datasets, with the Iman-Davenport F "
            "variant (less conservative); then Conover's post-hoc test on all pairs with Benjamini-Hochberg "
            f"correction (scikit-posthocs), at alpha = {ALPHA}. In the critical-difference diagrams losses "
            "joined by a bar are not significantly different by that test; the bar labelled CD is the "
            "classical Nemenyi critical difference (Demšar 2006), shown for readers who expect it. "
            "Ranks here are average ranks (1 = best), as the tests use them."
        )
    ]
    rows = []
    for cell in cells:
        if len(cell.losses) < 3:
            continue
        variants = [("seed mean", cell.mean_matrix)] + [(f"seed {s}", m) for s, m in cell.by_seed.items()]
        for which, matrix in variants:
            f = an.friedman_test(matrix)
            cd = an.nemenyi_cd(len(cell.losses), max(len(matrix), 1))
            rows.append(
                [
                    _label(cell, several_noises),
                    which,
                    str(int(f["n_datasets"])),
                    str(int(f["n_losses"])),
                    _num(f["statistic"]),
                    _pval(f["pvalue"]),
                    _num(f["iman_davenport_f"]),
                    _pval(f["iman_davenport_pvalue"]),
                    _num(cd),
                ]
            )
    if rows:
        blocks.append(
            Table(
                "Friedman test",
                [
                    "Network",
                    "Accuracies",
                    "Datasets",
                    "Losses",
                    "χ²",
                    "p",
                    "F (Iman-Davenport)",
                    "p (F)",
                    "Nemenyi CD",
                ],
                rows,
                f"Missing-value policy: missing='{context['missing']}'. Excluded datasets: "
                + "; ".join(
                    f"{_label(c, several_noises)}: {_listing(c.mean_matrix.attrs['excluded'])}" for c in cells
                )
                + ".",
                align=["l", "l"] + ["r"] * 7,
                table_id="friedman",
            )
        )
    for cell in cells:
        label = _label(cell, several_noises)
        if len(cell.losses) < 3:
            blocks.append(Paragraph(f"{label}: fewer than three losses, no Friedman / Conover test.", "note"))
            continue
        variants = [("seed mean", cell.mean_matrix)] + [(f"seed {s}", m) for s, m in cell.by_seed.items()]
        blocks.append(_cd_plot(label, variants, colors))
        pvalues = an.conover_posthoc(cell.mean_matrix)
        blocks.append(
            Plot(
                f"Conover p-values (BH-adjusted), {label}",
                _heatmap_drawer(pvalues, f"{label}, seed-averaged accuracies"),
                (6.2, 4.6),
                f"Adjusted p-values of Conover's test on seed-averaged accuracies (darker: smaller p, log "
                f"scale); bold: p < {ALPHA}.",
            )
        )
        blocks.append(_wtl_table(cell, label))
        blocks.append(_wilcoxon_table(cell, label, context["baseline"]))
    return Section("tests", "Statistical tests", blocks)


def _cd_plot(label: str, variants: list[tuple[str, pd.DataFrame]], colors: dict[str, str]) -> Plot:
    k = variants[0][1].shape[1]
    per_height = 0.3 * ((k + 1) // 2 + 3) + 0.9

    def draw(fig: Figure, rect) -> None:
        axes = _axes_grid(fig, rect, len(variants), 1, left=1.9, right=1.9, top=0.8, bottom=0.1, hgap=1.0)
        drawn = []
        for ax, (which, matrix) in zip(axes, variants, strict=True):
            if len(matrix) < 2:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{which}: fewer than two datasets", ha="center", transform=ax.transAxes)
                continue
            ranks = an.rank_losses(matrix).mean()
            pvalues = an.conover_posthoc(matrix)
            cd = an.nemenyi_cd(k, len(matrix))
            title = f"{which} ({len(matrix)} datasets)"
            plot_critical_difference(ranks, pvalues, ax=ax, cd=cd, title=title, colors=colors)
            drawn.append(ax)
        if drawn:  # one rank scale for all diagrams of the figure, so they compare at a glance
            low = min(ax.get_xlim()[0] for ax in drawn)
            high = max(ax.get_xlim()[1] for ax in drawn)
            for ax in drawn:
                ax.set_xlim(low, high)

    return Plot(
        f"Critical-difference diagrams, {label}",
        draw,
        (7.2, per_height * len(variants)),
        "Mean ranks (1 = best, left); bars join losses that Conover's test (BH-adjusted) does not separate "
        f"at alpha = {ALPHA}. One diagram on seed-averaged accuracies, then one per seed.",
    )


def _heatmap_drawer(pvalues: pd.DataFrame, title: str):
    def draw(fig: Figure, rect) -> None:
        (ax,) = _axes_grid(fig, rect, left=1.3, right=0.3, bottom=0.9, top=0.35)
        plot_pvalue_heatmap(pvalues, ax=ax, title=title)

    return draw


def _wtl_table(cell: _Cell, label: str) -> Table:
    wtl = an.pairwise_wtl(cell.mean_matrix).set_index(["loss", "opponent"])
    rows = []
    for a in cell.losses:
        row = [a]
        for b in cell.losses:
            row.append(
                "" if a == b else "{}/{}/{}".format(*wtl.loc[(a, b), ["wins", "ties", "losses"]].tolist())
            )
        rows.append(row)
    return Table(
        f"Wins / ties / losses, {label}",
        ["Loss vs"] + list(cell.losses),
        rows,
        f"Row loss against column loss on seed-averaged test accuracies, over {len(cell.mean_matrix)} "
        "datasets "
        "(exact ties).",
        align=["l"] + ["r"] * len(cell.losses),
        table_id=f"wtl-{cell.noise}-{cell.net}",
    )


def _wilcoxon_table(cell: _Cell, label: str, baseline: str) -> Table:
    baseline = baseline if baseline in cell.losses else cell.losses[0]
    tests = an.wilcoxon_holm(cell.mean_matrix, baseline=baseline)
    rows = [
        [
            r.loss,
            str(r.n_datasets),
            _signed(r.mean_diff),
            _signed(r.median_diff),
            _num(r.statistic, 1),
            _pval(r.pvalue),
            _pval(r.pvalue_holm),
        ]
        for r in tests.itertuples()
    ]
    bold = [[False] * 6 + [bool(r.pvalue_holm < ALPHA)] for r in tests.itertuples()]
    return Table(
        f"Wilcoxon signed-rank vs {baseline} (Holm), {label}",
        ["Loss", "Datasets", "Mean diff (pp)", "Median diff (pp)", "W", "p", "p (Holm)"],
        rows,
        "Second opinion: each loss against the baseline on seed-averaged accuracies, zero differences split "
        f"between signs (Demšar 2006), p-values Holm-adjusted over the {len(rows)} tests; bold: p < {ALPHA}.",
        bold=bold,
        align=["l"] + ["r"] * 6,
        table_id=f"wilcoxon-{cell.noise}-{cell.net}",
    )


def _profiles_section(cells: list[_Cell], context: dict) -> Section:
    several_noises = len(context["noises"]) > 1
    colors = loss_colors(context["losses"])
    blocks: list = [
        Paragraph(
            "Dolan-Moré performance profiles (the reference study's Figure 2): for each threshold tau, the "
            "fraction of datasets on which a loss's seed-averaged test accuracy is at least tau times the "
            "best accuracy of any loss on that dataset. Higher is better; the value at tau = 1 is the share "
            "of wins."
        )
    ]
    for noise in context["noises"]:
        group = [c for c in cells if c.noise == noise]
        if not group:
            continue
        profiles = [(c.net, an.performance_profile(c.mean_matrix)) for c in group]
        losses = an.order_losses(loss for c in group for loss in c.losses)

        def draw(fig: Figure, rect, profiles=profiles, losses=losses) -> None:
            axes = _axes_grid(fig, rect, 1, len(profiles), left=0.6, right=0.15, bottom=1.05, top=0.3)
            for ax, (net, profile) in zip(axes, profiles, strict=True):
                plot_performance_profile(
                    profile, ax=ax, title=f"{net} network ({len(profile)} datasets)", colors=colors
                )
            _legend_below(fig, rect, losses, colors)

        title = "Performance profiles" + (f", noise {noise}" if several_noises else "")
        counts = ", ".join(f"{c.net} {len(c.mean_matrix)}" for c in group)
        blocks.append(Plot(title, draw, (7.2, 3.6), f"Seed-averaged test accuracies; datasets: {counts}."))
    return Section("profiles", "Performance profiles", blocks)


def _per_dataset_section(cells: list[_Cell], context: dict) -> Section:
    several_noises = len(context["noises"]) > 1
    losses = context["losses"]
    columns = ["Network"] + (["Noise"] if several_noises else []) + ["Dataset"] + losses + ["Best"]
    rows, keys, bold = [], [], []
    for cell in cells:
        # The raw seed mean, before the missing policy: every dataset appears, missing cells as "-".
        matrix = an.accuracy_matrix(
            _cell_rows(cell, context),
            seed="mean",
            split=context["split"],
            missing="worst",
            datasets=context["datasets"],
        )
        matrix = matrix.reindex(index=context["datasets"], columns=losses)
        for dataset, acc in matrix.iterrows():
            best_value = acc.max()
            best = [loss for loss in losses if acc[loss] == best_value] if np.isfinite(best_value) else []
            row = [cell.net] + ([cell.noise] if several_noises else []) + [str(dataset)]
            key: list[Any] = list(row)
            flags = [False] * len(row)
            for loss in losses:
                value = acc[loss]
                row.append(_num(100 * value) if np.isfinite(value) else "-")
                key.append(round(100 * value, 6) if np.isfinite(value) else "")
                flags.append(loss in best)
            row.append(", ".join(best) if len(best) < len(losses) else "all tied")
            key.append(row[-1])
            flags.append(False)
            rows.append(row)
            keys.append(key)
            bold.append(flags)
    table = Table(
        "Test accuracy (%) per dataset",
        columns,
        rows,
        "Seed-averaged test accuracy at the validation-selected learning rate and epoch; best of each row in "
        "bold; '-' marks a missing result. Click a column header to sort; type in the box to filter "
        "datasets.",
        bold=bold,
        sort_keys=keys,
        align=["l"] * (len(columns) - len(losses) - 1) + ["r"] * len(losses) + ["l"],
        table_id="per-dataset",
        filter_column=0,
        pdf_max_chars=40,
        pdf_skip_columns=(len(columns) - 1,),  # "Best" repeats the bold cells and does not fit on A4
    )
    return Section("datasets", "Per-dataset accuracies", [table])


def _cell_rows(cell: _Cell, context: dict) -> pd.DataFrame:
    return context["selected"][
        (context["selected"]["net"] == cell.net) & (context["selected"]["noise"] == cell.noise)
    ]


def _choose_curve_datasets(cells: list[_Cell], count: int = 4) -> list[str]:
    """The datasets where the losses differ most (range of seed-averaged accuracy on the first network)."""
    if not cells:
        return []
    matrix = cells[0].mean_matrix
    spread = (matrix.max(axis=1) - matrix.min(axis=1)).sort_values(ascending=False, kind="stable")
    return list(spread.index[:count])


def _curves_section(run, cells: list[_Cell], context: dict, curve_datasets: Sequence[str] | None) -> Section:
    epochs = getattr(run, "epochs", None)
    if epochs is None or len(epochs) == 0:
        return Section(
            "curves",
            "Learning curves",
            [
                Paragraph(
                    "The per-epoch records of this run were not kept (compact results), so there are no "
                    "learning curves. Re-running the run's configuration with `mixbench run` writes them."
                )
            ],
        )
    chosen = list(curve_datasets) if curve_datasets else _choose_curve_datasets(cells)
    chosen = [d for d in chosen if d in set(epochs["dataset"])]
    if not chosen:
        return Section(
            "curves", "Learning curves", [Paragraph("None of the chosen datasets has per-epoch records.")]
        )
    selected = run.selected
    seed = context["seeds"][0]
    split = context["splits"][0]
    noise = context["noises"][0]
    nets = context["nets"]
    keys = ["dataset", "net", "split", "noise", "loss", "seed"]
    picks = selected[
        selected["dataset"].isin(chosen)
        & (selected["seed"] == seed)
        & (selected["split"] == split)
        & (selected["noise"] == noise)
    ][[*keys, "lr", "epoch"]].rename(columns={"epoch": "selected_epoch"})
    curves = epochs[epochs["dataset"].isin(chosen)].merge(picks, on=[*keys, "lr"], how="inner")
    curves = curves.assign(selected=curves["epoch"] == curves["selected_epoch"])
    colors = loss_colors(context["losses"])
    panels = [(d, n) for d in chosen for n in nets]

    def draw(fig: Figure, rect) -> None:
        axes = _axes_grid(
            fig, rect, len(chosen), len(nets), left=0.6, right=0.15, bottom=1.0, top=0.3, hgap=0.75
        )
        for ax, (dataset, net) in zip(axes, panels, strict=True):
            c = curves[(curves["dataset"] == dataset) & (curves["net"] == net)]
            if c.empty:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{dataset}, {net}: no records", ha="center", transform=ax.transAxes)
                continue
            plot_learning_curves(c, ax=ax, title=f"{dataset}, {net} network", colors=colors)
        _legend_below(fig, rect, context["losses"], colors)

    reason = "chosen by the caller" if curve_datasets else "where the losses' accuracies differ most"
    return Section(
        "curves",
        "Learning curves",
        [
            Plot(
                "Validation accuracy per epoch",
                draw,
                (7.2, 2.3 * len(chosen) + 1.3),
                f"Datasets {', '.join(chosen)} ({reason}); seed {seed}, split {split}, noise {noise}; "
                "each loss at "
                "its validation-selected learning rate, the selected epoch marked with a dot.",
            )
        ],
    )


def _problems_section(run, cells: list[_Cell], context: dict) -> Section:
    blocks: list = []
    failures = _failures(run)
    if len(failures):
        rows = [
            [
                str(r.dataset),
                str(r.net),
                str(r.split),
                str(r.noise),
                str(r.error).strip().splitlines()[-1][:300],
            ]
            for r in failures.itertuples()
        ]
        blocks.append(
            Table(
                f"Failed tasks ({len(rows)})",
                ["Dataset", "Network", "Split", "Noise", "Error (last line)"],
                rows,
                "A failed task leaves no result for any loss on that dataset and network.",
                align=list("lllll"),
                table_id="failures",
                pdf_max_chars=70,
            )
        )
    else:
        blocks.append(Paragraph("Failed tasks: none."))
    selected = run.selected
    diverged = (
        selected[selected["diverged"].fillna(False).astype(bool)] if "diverged" in selected else selected[:0]
    )
    if len(diverged):
        counts = diverged.groupby(["net", "noise", "loss"]).size().reset_index(name="cells")
        blocks.append(
            Table(
                f"Diverged cells ({len(diverged)}) by network and loss",
                ["Network", "Noise", "Loss", "Cells"],
                [[r.net, r.noise, r.loss, str(r.cells)] for r in counts.itertuples()],
                "A cell (dataset, network, split, noise, loss, seed) is flagged when any of its learning "
                "rates "
                "diverged; its result then comes from the best non-diverged learning rate, or is missing.",
                align=list("lllr"),
            )
        )
        rows = [
            [
                str(r.dataset),
                str(r.net),
                str(r.split),
                str(r.noise),
                str(r.loss),
                str(r.seed),
                _num(r.lr, 4) if np.isfinite(r.lr) else "-",
                _num(100 * r.test_acc) if np.isfinite(r.test_acc) else "missing",
            ]
            for r in diverged.sort_values(["net", "dataset", "loss", "seed"]).itertuples()
        ]
        blocks.append(
            Table(
                "Diverged cells",
                ["Dataset", "Network", "Split", "Noise", "Loss", "Seed", "Selected lr", "Test acc (%)"],
                rows,
                align=list("llllllrr"),
                table_id="diverged",
            )
        )
    else:
        blocks.append(Paragraph("Diverged cells: none."))
    rows = []
    for cell in cells:
        for dataset, reason in cell.summaries["per_seed"].attrs.get("excluded", {}).items():
            rows.append([cell.net, cell.noise, str(dataset), reason])
    if rows:
        blocks.append(
            Table(
                f"Datasets excluded from the statistics ({len(rows)})",
                ["Network", "Noise", "Dataset", "Why"],
                rows,
                f"Missing-value policy: '{context['missing']}'. "
                + (
                    "A dataset with any missing cell is left out of every statistic of that network."
                    if context["missing"] == "exclude"
                    else "Only datasets without any result are left out; other missing cells rank worst."
                ),
                align=list("llll"),
                table_id="excluded",
                pdf_max_chars=70,
            )
        )
    else:
        blocks.append(Paragraph("Datasets excluded from the statistics: none."))
    return Section("problems", "Failures, divergences and exclusions", blocks)


def build_report(
    run: RunResults,
    *,
    run_name: str | None = None,
    missing: str = "exclude",
    n_boot: int = 10_000,
    random_state: int | None = 0,
    curve_datasets: Sequence[str] | None = None,
) -> Report:
    """The report's content (sections of paragraphs, tables and plots), before any rendering.

    Parameters are those of ``render_report``.
    """
    _check_run(run)
    cells, context = _analyse(run, missing=missing, n_boot=n_boot, random_state=random_state)
    context["selected"] = run.selected
    name = run_name or _run_name(run)
    sections = [
        _provenance_section(run, name, cells, context),
        _summary_section(cells, context),
        _paper_section(cells, context),
        _tests_section(cells, context),
        _profiles_section(cells, context),
        _per_dataset_section(cells, context),
        _curves_section(run, cells, context, curve_datasets),
        _problems_section(run, cells, context),
    ]
    sections = _incomplete_banner(run) + sections
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = (
        f"{len(context['datasets'])} datasets, {len(context['losses'])} losses, networks "
        f"{', '.join(context['nets'])}; seeds {', '.join(map(str, context['seeds']))}. Generated {generated} "
        f"by mixbench {__version__}."
    )
    return Report(f"mixbench report: {name}", subtitle, sections)


def _incomplete_banner(run) -> list[Section]:
    """A warning first in the report when the run is incomplete (issue 14; computed by mixbench.results)."""
    completeness = getattr(run, "completeness", None)
    if completeness is None or completeness.complete:
        return []
    return [Section("incomplete", "Warning: incomplete run", [Paragraph(completeness.describe())])]


def _run_name(run) -> str:
    for attr in ("run_dir", "path", "directory"):
        value = getattr(run, attr, None)
        if value:
            return Path(value).name
    config = getattr(run, "config", None) or {}
    return str(config.get("name") or config.get("run_name") or "run")


def _check_run(run) -> None:
    for attr in ("selected", "config"):
        if not hasattr(run, attr):
            raise TypeError(
                f"render_report needs a RunResults (mixbench.results.load(run_dir)); "
                f"{type(run).__name__} has no "
                f"attribute {attr!r}"
            )
    if not isinstance(run.selected, pd.DataFrame) or run.selected.empty:
        raise ValueError("the run has no selected results: nothing to report (did every task fail?)")


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
                    _text_block(writer, block.text, size, weight=weight, gap=0.1, mono=block.kind == "pre")
                elif isinstance(block, Table):
                    _pdf_table(writer, block)
                elif isinstance(block, Plot):
                    _pdf_plot(writer, block)
            _text_block(writer, "", 6, gap=0.1)
        writer.flush()


# --- entry point ------------------------------------------------------------------------------------
def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary file in the same folder, then rename: an old report is never half-overwritten."""
    with atomic_path(path) as tmp:
        write(tmp)


def render_report(
    run: RunResults,
    out_dir: str | os.PathLike,
    *,
    html: bool = True,
    pdf: bool = True,
    run_name: str | None = None,
    missing: str = "exclude",
    n_boot: int = 10_000,
    random_state: int | None = 0,
    curve_datasets: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write the HTML and / or PDF report of a run.

    Parameters
    ----------
    run : RunResults
        As returned by ``mixbench.results.load(run_dir)``: ``config`` (dict), ``selected`` (DataFrame),
        ``epochs`` (DataFrame or None when per-epoch records were not kept) and ``failures`` (DataFrame).
    out_dir : path
        Folder for ``report.html`` and ``report.pdf`` (created if needed).
    html, pdf : bool
        Which formats to write.
    run_name : str, optional
        Shown in the title; default: the run directory's name.
    missing : {'exclude', 'worst'}
        Missing-value policy of the statistics (see ``mixbench.analysis.accuracy_matrix``).
    n_boot : int
        Bootstrap resamples for the confidence intervals.
    random_state : int, optional
        Seed of the bootstrap (default 0: the same run always gives the same report numbers).
    curve_datasets : sequence of str, optional
        Datasets for the learning curves; default: up to four where the losses differ most.

    Returns
    -------
    paths : dict
        ``{'html': Path, 'pdf': Path}`` for the formats written.
    """
    if not (html or pdf):
        raise ValueError("nothing to render: pass html=True and / or pdf=True")
    report = build_report(
        run,
        run_name=run_name,
        missing=missing,
        n_boot=n_boot,
        random_state=random_state,
        curve_datasets=curve_datasets,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if html:
        page = render_html(report)
        paths["html"] = out / "report.html"
        _write_atomically(paths["html"], lambda p: p.write_text(page, encoding="utf-8"))
    if pdf:
        paths["pdf"] = out / "report.pdf"
        _write_atomically(paths["pdf"], lambda p: render_pdf(report, p))
    return paths


# --- the README's results section ---------------------------------------------------------------------------
def markdown_results(
    paper,
    noisy: Sequence = (),
    splits=None,
    batch_accuracy=None,
    *,
    n_boot: int = 2000,
    random_state: int = 0,
) -> str:
    """The generated part of the README's "Results" section, as Markdown.

    ``paper`` is the reference-protocol run (``RunResults``), ``noisy`` runs with label noise, ``splits``
    a run over several split columns, ``batch_accuracy`` the reference protocol run with the reference
    code's accuracy rule (``eval_batch``). The test suite regenerates this text from the committed results
    and compares it with the README, so the numbers there cannot drift from the data.
    """
    from mixbench import analysis as an

    lines: list[str] = []
    sel = paper.selected
    lines += [
        f"Reference protocol, split 0, seeds 60 and 1234: {sel['dataset'].nunique()} datasets, "
        f"{len(sel)} selected results.",
        "",
    ]
    for net in _net_order(sel["net"].unique()):
        lines += _markdown_published(an, {"here": sel}, net, f"**{net} network, the six published losses**")
        lines += _markdown_summary(an, sel, net, f"**{net} network, all eight losses**", n_boot, random_state)
    if noisy:
        lines += ["Label noise (symmetric, on training and validation labels; test labels clean):", ""]
        for run in noisy:
            nsel = run.selected
            for noise in _noise_order(nsel["noise"].unique()):
                for net in _net_order(nsel["net"].unique()):
                    part = nsel[nsel["noise"] == noise]
                    lines += _markdown_summary(
                        an, part, net, f"**{noise}, {net} network**", n_boot, random_state
                    )
                    if net in set(sel["net"]):
                        lines += _markdown_robustness(an, sel, part, net, noise)
    if splits is not None:
        ssel = splits.selected
        for net in _net_order(ssel["net"].unique()):
            per_split = {}
            for split in sorted(ssel["split"].unique()):
                s = an.summary_table(ssel, net, split=split, how="per_seed", n_boot=0)
                per_split[split] = s["mean_rank"]
            table = pd.DataFrame(per_split)
            lines += [
                f"**{net} network, mean rank on each split column** (per seed, averaged; average ranks):",
                "",
                "| loss | " + " | ".join(f"split {k}" for k in table.columns) + " | mean |",
                "|---|" + "---:|" * (len(table.columns) + 1),
            ]
            for loss, row in table.iterrows():
                lines.append(f"| {loss} | " + " | ".join(_num(v) for v in row) + f" | {_num(row.mean())} |")
            lines.append("")
    if batch_accuracy is not None:
        lines += _markdown_batch_accuracy(an, sel, batch_accuracy)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_published(an, runs: dict[str, pd.DataFrame], net: str, title: str) -> list[str]:
    """The six published losses: wins, ΔAcc and mean rank as published and in each of ``runs`` (label ->
    selected results), computed the way the published table was (per seed, ties sharing the best rank)."""
    cmps = {}
    for label, sel in runs.items():
        six = an.summary_table(sel, net, losses=an.PAPER_LOSSES, tie_method="min", how="per_seed", n_boot=0)
        cmps[label] = an.compare_with_paper(six)
    first = next(iter(cmps.values()))
    columns = [  # (header, paper column, own column, format)
        ("wins", "wins_paper", "wins", _wins),
        ("ΔAcc", "delta_acc_paper", "delta_acc", _signed),
        ("rank", "mean_rank_paper", "mean_rank", _num),
    ]
    header, cells = ["loss"], []
    for name, paper_col, own_col, fmt in columns:
        unit = " (pp)" if name == "ΔAcc" else ""
        header += [f"{name} paper{unit}"] + [f"{name} {label}{unit}" for label in cmps]
        cells.append((paper_col, own_col, fmt))
    lines = [
        f"{title} (per seed, averaged; ranks with ties sharing the best rank, as the published table; "
        f"{int(first['n_datasets'].iloc[0])} datasets):",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for loss in first.index:
        row = [loss]
        for paper_col, own_col, fmt in cells:
            row += [fmt(first.loc[loss, paper_col])] + [fmt(c.loc[loss, own_col]) for c in cmps.values()]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _markdown_batch_accuracy(an, exact: pd.DataFrame, batch_run) -> list[str]:
    """The reference protocol with the reference code's accuracy rule beside the exact-accuracy run."""
    size = _find(getattr(batch_run, "config", None) or {}, ("eval_batch",))
    batched = batch_run.selected
    both = exact.merge(batched, on=list(an.KEY_COLUMNS), suffixes=("_exact", "_batch"), validate="one_to_one")
    moved = both[(both["test_acc_exact"] - both["test_acc_batch"]).abs() > 1e-12]
    label = f"batch {size}"
    lines = [
        f"The reference code's accuracy rule (validation and test accuracy as the mean of per-batch "
        f"accuracies over batches of {size} rows; `--eval-batch {size}`): the selected test accuracy "
        f"differs from the exact-accuracy run in {len(moved)} of {len(both)} cells, on "
        f"{moved['dataset'].nunique()} datasets.",
        "",
    ]
    for net in _net_order(batched["net"].unique()):
        runs = {"exact": exact, label: batched}
        lines += _markdown_published(an, runs, net, f"**{net} network, exact against {label} accuracy**")
        matrix = an.accuracy_matrix(batched, net, seed="mean")
        lines += [_wilcoxon_line(an, matrix, f"on seed-averaged {label} accuracies"), ""]
    return lines


def _wilcoxon_line(an, matrix: pd.DataFrame, what: str) -> str:
    tests = an.wilcoxon_holm(matrix, baseline="CE").set_index("loss")
    pvalues = ", ".join(f"{loss} {_pval(p)}" for loss, p in tests["pvalue_holm"].items())
    return f"Wilcoxon signed-rank against CE {what} (Holm-adjusted p): {pvalues}."


def _markdown_robustness(an, clean: pd.DataFrame, noisy: pd.DataFrame, net: str, noise: str) -> list[str]:
    """Accuracy lost to label noise per loss, and whether a loss loses less than CE (paired over datasets)."""
    clean_m = an.accuracy_matrix(clean, net, seed="mean")
    noisy_m = an.accuracy_matrix(noisy, net, seed="mean")
    common = clean_m.index.intersection(noisy_m.index)
    losses = [loss for loss in clean_m.columns if loss in noisy_m.columns]
    drop = (clean_m.loc[common, losses] - noisy_m.loc[common, losses]) * 100
    # Wilcoxon on -drop: "loss - CE" > 0 means the loss lost less accuracy than CE.
    tests = an.wilcoxon_holm(-drop / 100, baseline="CE").set_index("loss")
    lines = [
        f"Accuracy lost to {noise} label noise, {net} network ({len(common)} datasets; mean test accuracy "
        "in %; p: Wilcoxon signed-rank of the loss's drop against CE's drop, Holm-adjusted):",
        "",
        "| loss | clean | noisy | drop (pp) | drop minus CE's (pp) | p |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for loss in losses:
        if loss == "CE":
            extra = "| | |"
        else:
            gap = drop[loss].mean() - drop["CE"].mean()
            extra = f"| {_signed(gap)} | {_pval(tests.loc[loss, 'pvalue_holm'])} |"
        lines.append(
            f"| {loss} | {_num(clean_m.loc[common, loss].mean() * 100)} | "
            f"{_num(noisy_m.loc[common, loss].mean() * 100)} | {_num(drop[loss].mean())} {extra}"
        )
    return lines + [""]


def _markdown_summary(
    an, sel: pd.DataFrame, net: str, title: str, n_boot: int, random_state: int
) -> list[str]:
    s = an.summary_table(sel, net, how="per_seed", n_boot=n_boot, random_state=random_state)
    matrix = an.accuracy_matrix(sel, net, seed="mean")
    fr = an.friedman_test(matrix)
    lines = [
        f"{title} (per seed, averaged; average ranks; {int(s['n_datasets'].iloc[0])} datasets"
        + (f", excluded: {s['excluded'].iloc[0]}" if s["excluded"].iloc[0] else "")
        + "):",
        "",
        "| loss | wins | ΔAcc vs CE (pp) | 95% CI | mean rank |",
        "|---|---:|---:|---:|---:|",
    ]
    for loss, r in s.iterrows():
        ci = "" if loss == "CE" else f"[{_signed(r.delta_ci_low)}, {_signed(r.delta_ci_high)}]"
        lines.append(f"| {loss} | {_wins(r.wins)} | {_signed(r.delta_acc)} | {ci} | {_num(r.mean_rank)} |")
    lines += [
        "",
        f"Friedman on seed-averaged accuracies: χ² = {_num(fr['statistic'])}, p = {_pval(fr['pvalue'])}; "
        f"Iman-Davenport F = {_num(fr['iman_davenport_f'])}, p = {_pval(fr['iman_davenport_pvalue'])}.",
        "",
        _wilcoxon_line(an, matrix, "on seed-averaged accuracies"),
        "",
    ]
    return lines
