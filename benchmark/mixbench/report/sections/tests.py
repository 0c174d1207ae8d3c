"""The statistical tests section: Friedman, critical-difference diagrams, Conover heat maps, wins / ties /
losses, Wilcoxon against the baseline and the Bayesian decision on each seed."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.report.figures import axes_grid, loss_colors, plot_pvalue_heatmap
from mixbench.report.model import Paragraph, Plot, Section, Table, listing, num, pval, signed
from mixbench.report.sections.common import cd_caption, cd_plot, rope_text


def tests_section(analysis: RunAnalysis) -> Section:
    """Friedman, CD diagrams, Conover heat maps, wins / ties / losses, Wilcoxon, per-seed decisions."""
    colors = loss_colors(analysis.losses)
    alpha = analysis.options["alpha"]
    blocks: list = [
        Paragraph(
            "Friedman rank-sum test of 'all losses perform alike' over datasets, with the Iman-Davenport F "
            "variant (less conservative). Critical-difference diagrams on the seed-averaged accuracies "
            "and on "
            f"each seed alone: {cd_caption(analysis)}. Conover's post-hoc p-values (Benjamini-Hochberg) "
            "follow as a heat map, then wins / ties / losses, Wilcoxon against the baseline and the Bayesian "
            "decision on each seed."
        )
    ]
    rows = []
    for setting in analysis.settings:
        for which, f in setting.friedman.iterrows():
            if len(setting.losses) < 3:
                continue
            rows.append(
                [
                    setting.label,
                    which,
                    str(int(f["n_datasets"])),
                    str(int(f["n_losses"])),
                    num(f["statistic"]),
                    pval(f["pvalue"]),
                    num(f["iman_davenport_f"]),
                    pval(f["iman_davenport_pvalue"]),
                    num(f["nemenyi_cd"]),
                ]
            )
    if rows:
        blocks.append(
            Table(
                "Friedman test",
                [
                    "Setting",
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
                f"Missing-value policy: missing='{analysis.options['missing']}'. Excluded datasets: "
                + "; ".join(f"{s.label}: {listing(s.matrix.attrs['excluded'])}" for s in analysis.settings)
                + ".",
                align=["l", "l"] + ["r"] * 7,
                table_id="friedman",
            )
        )
    for setting in analysis.settings:
        if len(setting.losses) < 3:
            blocks.append(
                Paragraph(f"{setting.label}: fewer than three losses, no Friedman test or diagram.", "note")
            )
        else:
            blocks.append(cd_plot(analysis, setting, list(setting.cd), colors, f"cd-{setting.key}"))
            if len(setting.matrix) >= 2:
                blocks.append(
                    Plot(
                        f"Conover p-values (BH-adjusted), {setting.label}",
                        _heatmap_drawer(setting.conover, f"{setting.label}, seed-averaged accuracies", alpha),
                        (6.2, 4.6),
                        "Adjusted p-values of Conover's test on seed-averaged accuracies (darker: smaller p, "
                        f"log scale); bold: p < {alpha}.",
                    )
                )
        blocks.append(_wtl_table(setting))
        if not setting.verdict.empty:
            blocks.append(_wilcoxon_table(analysis, setting))
            blocks.append(_seed_table(analysis, setting))
    return Section("tests", "Statistical tests", blocks)


def _heatmap_drawer(pvalues: pd.DataFrame, title: str, alpha: float):
    def draw(fig: Figure, rect) -> None:
        (ax,) = axes_grid(fig, rect, left=1.3, right=0.3, bottom=0.9, top=0.35)
        plot_pvalue_heatmap(pvalues, ax=ax, title=title, alpha=alpha)

    return draw


def _wtl_table(setting: SettingAnalysis) -> Table:
    wtl = setting.wtl.set_index(["loss", "opponent"])
    rows = []
    for a in setting.losses:
        row = [a]
        for b in setting.losses:
            row.append(
                "" if a == b else "{}/{}/{}".format(*wtl.loc[(a, b), ["wins", "ties", "losses"]].tolist())
            )
        rows.append(row)
    return Table(
        f"Wins / ties / losses, {setting.label}",
        ["Loss vs"] + list(setting.losses),
        rows,
        f"Row loss against column loss on seed-averaged test accuracies, over {len(setting.matrix)} datasets "
        "(accuracies within 1e-9 tie).",
        align=["l"] + ["r"] * len(setting.losses),
        table_id=f"wtl-{setting.noise}-{setting.net}",
    )


def _wilcoxon_table(analysis: RunAnalysis, setting: SettingAnalysis) -> Table:
    alpha = analysis.options["alpha"]
    rows = [
        [
            r.loss,
            str(r.n_datasets),
            signed(r.mean_diff),
            signed(r.median_diff),
            num(r.statistic, 1),
            pval(r.pvalue),
            pval(r.pvalue_holm),
        ]
        for r in setting.wilcoxon.itertuples()
    ]
    bold = [[False] * 6 + [bool(r.pvalue_holm < alpha)] for r in setting.wilcoxon.itertuples()]
    return Table(
        f"Wilcoxon signed-rank vs {setting.baseline} (Holm), {setting.label}",
        ["Loss", "Datasets", "Mean diff (pp)", "Median diff (pp)", "W", "p", "p (Holm)"],
        rows,
        f"Each loss against the baseline on seed-averaged accuracies; zero differences: "
        f"'{analysis.options['zero_method']}' (split between the signs, Demšar 2006); p-values "
        f"Holm-adjusted over the {len(rows)} tests; bold: p < {alpha}. Significance says a difference is "
        "real, not that it matters: the verdict's ROPE says that.",
        bold=bold,
        align=["l"] + ["r"] * 6,
        table_id=f"wilcoxon-{setting.noise}-{setting.net}",
    )


def _seed_table(analysis: RunAnalysis, setting: SettingAnalysis) -> Table:
    seeds = list(setting.by_seed)
    table = setting.seed_verdicts.set_index(["loss", "seed"])
    rows = []
    for loss in setting.verdict.index:
        row = [str(loss)]
        for seed in seeds:
            r = table.loc[(loss, seed)]
            row.append(f"{r['decision']} ({signed(r['delta_acc'])} pp)")
        row.append(setting.verdict.loc[loss, "decision"])
        rows.append(row)
    return Table(
        f"Bayesian decision on each seed, {setting.label}",
        ["Loss"] + [f"seed {s}" for s in seeds] + ["seeds averaged"],
        rows,
        f"The verdict's test (ROPE {rope_text(analysis)} pp, P >= {analysis.options['threshold']:g}) on "
        "each "
        "seed's accuracies alone, with that seed's mean difference to the baseline.",
        align=["l"] * (len(seeds) + 2),
        table_id=f"seeds-{setting.key}",
    )
