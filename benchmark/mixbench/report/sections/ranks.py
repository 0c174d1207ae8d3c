"""The rank sections: the summary per network (wins, ΔAcc, mean rank; per seed, seed-averaged, per
split) and the published table beside its reproduction."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mixbench import analysis as an
from mixbench.analysis.result import RunAnalysis
from mixbench.report.model import Paragraph, Section, Table, listing, num, pval, signed, wins
from mixbench.report.sections.common import PER_SEED_NOTE


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
        ci = "baseline" if is_baseline else f"[{signed(r['delta_ci_low'])}, {signed(r['delta_ci_high'])}]"
        row = [str(loss), wins(r["wins"]), signed(r["delta_acc"]), ci, num(r["mean_rank"])]
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
        head = (
            f"Ranks and wins computed on each seed ({seeds_text}) and averaged over seeds (assumed to be the "
            "reference study's way)"
        )
    else:
        head = f"Ranks and wins computed once on test accuracies averaged over seeds ({seeds_text})"
    return f"{head}; mean rank: 1 = best, {ties}"


def _dataset_text(summary: pd.DataFrame) -> str:
    excluded = summary.attrs.get("excluded", {})
    n = int(summary["n_datasets"].iloc[0])
    policy = (
        "datasets with a missing cell are excluded"
        if summary["missing"].iloc[0] == "exclude"
        else "missing cells are ranked worst and never win"
    )
    return f"{an.formatting.count(n, 'dataset')} ({policy}); excluded: {listing(excluded)}."


def _split_note(analysis: RunAnalysis) -> str:
    splits = analysis.splits
    return f"accuracies averaged over splits {splits}" if len(splits) > 1 else f"split {splits[0]}"


def summary_section(analysis: RunAnalysis) -> Section:
    """Wins, ΔAcc and mean rank per setting (ranks per seed and seed-averaged), then per split."""
    blocks: list = [
        Paragraph(
            f"One table per setting: wins (datasets on which the loss is best; every tied loss counts; "
            f"accuracies within 1e-9 tie), ΔAcc (mean over datasets of the loss's test accuracy minus "
            f"{analysis.baseline}'s, in percentage points, with a 95% percentile-bootstrap interval over "
            f"datasets, {analysis.options['n_boot']} resamples) and mean rank. Best value of each column in "
            "bold. Test accuracy at the validation-selected learning rate and epoch; "
            f"{_split_note(analysis)}. "
            f"{PER_SEED_NOTE}"
        )
    ]
    for setting in analysis.settings:
        summary = setting.summaries["per_seed"]
        best = summary["mean_rank"].idxmin()
        f = setting.friedman.loc["seed mean"]
        verdict = f"Best mean rank: {best}."
        if np.isfinite(f["pvalue"]):
            verdict += (
                f" Friedman test on seed-averaged accuracies: p = {pval(f['pvalue'])} "
                f"(Iman-Davenport p = {pval(f['iman_davenport_pvalue'])})."
            )
        blocks.append(Paragraph(setting.label.capitalize(), "h"))
        blocks.append(Paragraph(verdict, "note"))
        for how in ("per_seed", "seed_mean"):
            summary = setting.summaries[how]
            rows, bold, columns = _summary_rows(summary)
            title = f"Summary, {setting.label}: " + (
                "ranks per seed, averaged" if how == "per_seed" else "ranks of seed-averaged accuracies"
            )
            note = f"{_how_text(how, analysis.seeds, 'average')}. {_dataset_text(summary)}"
            if how == "seed_mean":
                note += " These are the ranks the critical-difference diagrams use."
            blocks.append(
                Table(
                    title,
                    columns,
                    rows,
                    note,
                    bold=bold,
                    align=list("lrrrrr"),
                    table_id=f"summary-{setting.noise}-{setting.net}-{how}",
                )
            )
    blocks += _per_split_tables(analysis)
    return Section("summary", "Summary per network", blocks)


def _per_split_tables(analysis: RunAnalysis) -> list:
    """Mean rank on each split alone: do the conclusions hold across splits?"""
    blocks: list = []
    for setting in analysis.settings:
        table = setting.per_split
        if table is None:
            continue
        splits = table.attrs["splits"]
        mean = setting.summaries["per_seed"]["mean_rank"]
        best = table.min()
        rows = [
            [loss] + [num(table.loc[loss, s]) for s in splits] + [num(mean[loss])] for loss in setting.losses
        ]
        bold = [
            [False] + [table.loc[loss, s] == best[s] for s in splits] + [mean[loss] == mean.min()]
            for loss in setting.losses
        ]
        counts = table.attrs["n_datasets"]
        blocks.append(
            Table(
                f"Mean rank per split, {setting.label}",
                ["Loss"] + [f"split {s}" for s in splits] + ["splits averaged"],
                rows,
                "Ranks per seed, averaged over seeds; average ranks for ties; best of each column in bold. "
                "Datasets: "
                + ", ".join(f"split {s}: {counts[s]}" for s in splits)
                + f", averaged: {int(setting.summaries['per_seed']['n_datasets'].iloc[0])}.",
                bold=bold,
                align=["l"] + ["r"] * (len(splits) + 1),
                table_id=f"splits-{setting.noise}-{setting.net}",
            )
        )
    return [Paragraph("Per split", "h"), *blocks] if blocks else []


def paper_section(analysis: RunAnalysis) -> Section | None:
    """The published Table 4 beside the same statistics on this run; None when no setting compares."""
    usable = [s for s in analysis.settings if s.paper is not None]
    if not usable:
        return None
    blocks: list = [
        Paragraph(
            'Table 4 of Battash, Hazan & Wolf, "Mixing between the Cross Entropy and the Expectation Loss '
            'Terms" (121 UCI datasets, average of two seeds) beside the same statistics on this run. The '
            "reproduced numbers use tie_method='min' (tied losses share the best rank), as the published "
            "ranks imply: they do not sum to 21 = 1+...+6 (see PROTOCOL.md). Wins and ranks are over the six "
            f"published losses only, per seed and averaged. {PER_SEED_NOTE} Differences are reproduction "
            "minus paper."
        )
    ]
    for setting in usable:
        comparison = setting.paper
        rows = [
            [
                str(loss),
                wins(r["wins_paper"]),
                wins(r["wins"]),
                signed(r["wins_diff"], 1),
                signed(r["delta_acc_paper"]),
                signed(r["delta_acc"]),
                signed(r["delta_acc_diff"]),
                num(r["mean_rank_paper"]),
                num(r["mean_rank"]),
                signed(r["mean_rank_diff"]),
            ]
            for loss, r in comparison.iterrows()
        ]
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
        note = (
            f"{_how_text('per_seed', analysis.seeds, 'min')}. {_dataset_text(setting.paper_summary)} "
            f"Paper: 121 datasets. Sum of mean ranks: paper {num(comparison['mean_rank_paper'].sum())}, "
            f"ours {num(setting.paper_summary['mean_rank'].sum())} with 'min' ties "
            f"({num(comparison.attrs['average_rank_sum'])} with average ranks)."
        )
        blocks.append(
            Table(
                f"Paper vs reproduction, {setting.net} network",
                columns,
                rows,
                note,
                bold=[[False] * 10 for _ in rows],
                align=["l"] + ["r"] * 9,
                table_id=f"paper-{setting.net}",
            )
        )
    return Section("paper", "Published table vs reproduction", blocks)
