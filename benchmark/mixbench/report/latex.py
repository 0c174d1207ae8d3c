"""Tables and figures to ``\\input`` in a paper: booktabs tables of the verdict and the summary, and the
critical-difference diagrams as vector PDFs, one set per setting. Tables are written by pandas' Styler
(``to_latex`` with ``hrules``, which emits booktabs rules), with every cell escaped for LaTeX."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from mixbench.analysis import formatting as fmt
from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.report.figures import loss_colors, plot_critical_difference
from mixbench.results import atomic_path


def _styler_latex(frame: pd.DataFrame, caption: str, label: str) -> str:
    styler = frame.style.hide(axis="index").format(escape="latex").format_index(escape="latex", axis=1)
    return styler.to_latex(
        hrules=True,  # \toprule, \midrule, \bottomrule: needs \usepackage{booktabs}
        caption=caption,
        label=label,
        column_format="l" * frame.shape[1],
        position="t",
        position_float="centering",
    )


def verdict_frame(setting: SettingAnalysis) -> pd.DataFrame:
    """The verdict table of one setting as text cells (what the LaTeX table prints)."""
    rows = []
    for loss, r in setting.verdict.iterrows():
        rows.append(
            {
                "Loss": str(loss),
                "Verdict": r["decision"],
                "P(better)": fmt.fixed(r["p_better"]),
                "P(equiv.)": fmt.fixed(r["p_equivalent"]),
                "P(worse)": fmt.fixed(r["p_worse"]),
                "ΔAcc (pp)": fmt.signed(r["delta_acc"]),
                "95% CI": fmt.interval(r["ci_low"], r["ci_high"]) or "n/a",
                "r": fmt.signed(r["rank_biserial"]),
                "p (Holm)": fmt.pvalue(r["wilcoxon_p_holm"]),
                "Seeds agree": "yes" if r["seeds_agree"] else "no",
                "Mean rank": fmt.fixed(setting.ranks[loss]),
            }
        )
    return pd.DataFrame(rows)


def summary_frame(setting: SettingAnalysis) -> pd.DataFrame:
    summary = setting.summaries["per_seed"]
    return pd.DataFrame(
        {
            "Loss": [str(loss) for loss in summary.index],
            "Wins": [fmt.wins(w) for w in summary["wins"]],
            "ΔAcc (pp)": [fmt.signed(d) for d in summary["delta_acc"]],
            "Mean rank": [fmt.fixed(r) for r in summary["mean_rank"]],
        }
    )


def write_latex(analysis: RunAnalysis, out_dir: str | Path) -> Path:
    """Write ``verdict-<setting>.tex``, ``summary-<setting>.tex`` and ``cd-<setting>.pdf`` into ``out_dir``.

    The tables need ``\\usepackage{booktabs}``; ΔAcc is typeset with the Unicode Δ (``\\usepackage[utf8]
    {inputenc}`` or a Unicode engine). Returns the folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = analysis.options
    rope = fmt.points(options["rope"])
    colors = loss_colors(analysis.losses)
    for setting in analysis.settings:
        key = setting.key
        if not setting.verdict.empty:
            caption = (
                f"Each loss against {setting.baseline}, {setting.label}, "
                f"{fmt.count(len(setting.matrix), 'dataset')}: "
                f"Bayesian signed-rank test (ROPE {rope} pp, decision at P $\\geq$ "
                f"{options['threshold']:g}), "
                "mean accuracy difference with 95\\% bootstrap interval, rank-biserial r, Wilcoxon p "
                "(Holm), mean rank of seed-averaged accuracies."
            )
            text = _styler_latex(verdict_frame(setting), caption, f"tab:verdict-{key}")
            with atomic_path(out / f"verdict-{key}.tex") as tmp:
                tmp.write_text(text, encoding="utf-8")
        caption = (
            f"Wins, mean accuracy difference to {setting.baseline} and mean rank, {setting.label} "
            f"(ranks per seed, averaged; {int(setting.summaries['per_seed']['n_datasets'].iloc[0])} "
            "datasets)."
        )
        with atomic_path(out / f"summary-{key}.tex") as tmp:
            tmp.write_text(
                _styler_latex(summary_frame(setting), caption, f"tab:summary-{key}"), encoding="utf-8"
            )
        cd = setting.cd["seed mean"]
        if cd["pvalues"] is not None and len(setting.losses) >= 2:
            k = len(setting.losses)
            fig = Figure(figsize=(6.5, 0.3 * ((k + 1) // 2 + 3) + 0.6))
            ax = fig.add_axes((0.22, 0.05, 0.56, 0.55))
            plot_critical_difference(
                cd["ranks"], cd["pvalues"], ax=ax, cd=cd["cd"], colors=colors, alpha=options["alpha"]
            )
            with atomic_path(out / f"cd-{key}.pdf") as tmp:
                fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
    return out
