"""The report's sections, filled from one ``RunAnalysis``: formatting only, no statistic is computed here.

``build_report(analysis, run_name=...)`` returns the content model (``model.Report``) that the HTML and PDF
renderers lay out. The verdict comes first; provenance last.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from collections.abc import Sequence
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mixbench import __version__
from mixbench import analysis as an
from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.report.figures import (
    _axes_grid,
    _legend_below,
    loss_colors,
    plot_critical_difference,
    plot_learning_curves,
    plot_performance_profile,
    plot_pvalue_heatmap,
)
from mixbench.report.model import (
    Paragraph,
    Plot,
    Report,
    Section,
    Table,
    _listing,
    _num,
    _pval,
    _signed,
    _wins,
)
from mixbench.report.prose import tuning_flag_text, verdict_sentence

_PER_SEED_NOTE = (
    "'Per seed, averaged' (statistics computed on each seed, then averaged) is our assumption about how the "
    "reference study aggregated its two seeds: its code has no analysis step, and its whole-number win "
    "counts are rarely what per-seed averaging gives."
)
_CD_TEST_TEXT = {
    "nemenyi": "Nemenyi's test (Demšar 2006): bars join losses whose mean ranks differ by less than "
    "the drawn critical difference CD, the family-wise error rate held at alpha = {alpha}",
    "conover": "Conover's test with Benjamini-Hochberg adjustment (the reference study's choice; a "
    "false-discovery rate, not a family-wise one, and without a single critical difference, so no CD is "
    "drawn): bars join losses it does not separate at alpha = {alpha}",
}


# --- provenance helpers ---------------------------------------------------------------------------------
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


def find_setting(config: dict, names: Sequence[str]) -> Any:
    """First value under any of ``names``, searched in nested dicts too."""
    for name in names:
        if name in config:
            return config[name]
    for value in config.values():
        if isinstance(value, dict):
            found = find_setting(value, names)
            if found is not None:
                return found
    return None


def _wall_time(config: dict) -> str:
    seconds = find_setting(config, ("wall_time_s", "wall_time", "elapsed_s", "duration_s", "wall_s"))
    if not isinstance(seconds, (int, float)):
        start = _parse_time(find_setting(config, ("started", "start_time", "started_at", "start")))
        end = _parse_time(find_setting(config, ("finished", "end_time", "finished_at", "ended", "end")))
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


def _code_text(config: dict) -> str:
    """The code that computed the tasks: one commit, or each commit with its tasks when several did."""
    computed_by = find_setting(config, ("computed_by",))
    if not isinstance(computed_by, list) or len(computed_by) < 2:
        return _git_text(find_setting(config, ("git",)))
    return "; ".join(f"{_git_text(entry)} ({entry.get('tasks')} tasks)" for entry in computed_by)


def _numerics_text(config: dict) -> str:
    version = find_setting(config, ("numerics",))
    if version is None:
        return "not recorded (the run predates the record)"
    return f"version {version} (mixbench.engine.NUMERICS_VERSION; a run never mixes two)"


def _versions() -> list[tuple[str, str]]:
    rows = [("mixbench", __version__), ("python", platform.python_version())]
    for package in ("numpy", "pandas", "scipy", "scikit-posthocs", "matplotlib", "jinja2"):
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    return rows


def _provenance_section(analysis: RunAnalysis, run_name: str, has_epochs: bool) -> Section:
    config = dict(analysis.config)
    overview = [
        ["Run", run_name],
        ["Datasets", f"{len(analysis.datasets)}"],
        ["Networks", ", ".join(analysis.nets)],
        ["Losses", ", ".join(analysis.losses)],
        ["Seeds", ", ".join(map(str, analysis.seeds))],
        ["Splits", ", ".join(map(str, analysis.splits))],
        ["Label noise", ", ".join(analysis.noises)],
        ["Validation / test accuracy", _accuracy_rule(find_setting(config, ("eval_batch",)))],
        ["Failed tasks", f"{len(analysis.failures)}"],
        ["Diverged cells", f"{len(analysis.diverged)} (some learning rate of the cell diverged)"],
        ["Wall time", _wall_time(config)],
        [
            "Started / finished",
            f"{find_setting(config, ('started',)) or '?'} / {find_setting(config, ('finished',)) or '?'}",
        ],
        ["Status", str(find_setting(config, ("status",)) or "not recorded")],
        ["Machine", _describe(find_setting(config, ("machine",)))],
        ["Git commit", _code_text(config)],
        ["Engine numerics", _numerics_text(config)],
        ["Per-epoch records", "available" if has_epochs else "not kept"],
        [
            "Reference protocol",
            "PROTOCOL.md, shipped with mixbench (mixbench/resources/PROTOCOL.md): what the reference "
            "code does "
            "and where mixbench differs on purpose",
        ],
    ]
    blocks: list = [
        Table(
            "Overview", ["Item", "Value"], overview, align=["l", "l"], pdf_max_chars=90, table_id="overview"
        )
    ]
    if analysis.preprocessing:
        blocks.append(
            Table(
                "What loading did to each dataset",
                ["Dataset", "Preprocessing (fitted on the training rows only)"],
                [line.split(": ", 1) if ": " in line else [line, ""] for line in analysis.preprocessing],
                align=["l", "l"],
                pdf_max_chars=90,
                table_id="preprocessing",
            )
        )
    run_versions = find_setting(config, ("versions",))
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


# --- the verdict ----------------------------------------------------------------------------------------
def _rope_text(analysis: RunAnalysis) -> str:
    return an.formatting.points(analysis.options["rope"])


def _cd_caption(analysis: RunAnalysis) -> str:
    return _CD_TEST_TEXT[analysis.options["cd_test"]].format(alpha=analysis.options["alpha"])


def _per_seed_cell(decisions: dict) -> str:
    values = list(decisions.values())
    if len(set(values)) == 1:
        return f"{values[0]} on all {len(values)}" if len(values) > 2 else f"{values[0]} on both"
    return "; ".join(f"{seed}: {d}" for seed, d in decisions.items())


def verdict_rows(setting: SettingAnalysis) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """The verdict table of one setting as text cells (HTML and PDF)."""
    columns = [
        "Loss",
        "Verdict",
        "P(better / equiv. / worse)",
        "Per seed",
        "ΔAcc (pp) [95% CI]",
        "r",
        "Wilcoxon p (Holm)",
        "Mean rank",
        "lr top / last",
    ]
    ranks = setting.ranks

    def tuning(loss) -> str:
        audit = setting.tuning.loc[loss]
        pct = an.formatting.percent
        return f"{pct(audit['lr_high'])} / {pct(audit['last_epoch'])}" + (" ⚑" if audit["flag"] else "")

    blank = [""] * 5  # the baseline has no comparison with itself
    rows = [[setting.baseline, "baseline", *blank, _num(ranks[setting.baseline]), tuning(setting.baseline)]]
    bold = [[False] * len(columns)]
    for loss, r in setting.verdict.iterrows():
        probabilities = " / ".join(_num(r[c]) for c in ("p_better", "p_equivalent", "p_worse"))
        rows.append(
            [
                str(loss),
                r["decision"],
                probabilities,
                _per_seed_cell(r["seed_decisions"]),
                f"{_signed(r['delta_acc'])} {an.formatting.interval(r['ci_low'], r['ci_high'])}".strip(),
                _signed(r["rank_biserial"]),
                _pval(r["wilcoxon_p_holm"]),
                _num(ranks[loss]),
                tuning(loss),
            ]
        )
        bold.append([False, r["decision"] in ("better", "worse")] + [False] * (len(columns) - 2))
    return columns, rows, bold


def _verdict_section(analysis: RunAnalysis) -> Section:
    options = analysis.options
    seeds = ", ".join(map(str, analysis.seeds))
    blocks: list = [
        Paragraph(
            f"Each loss against {analysis.baseline}. The verdict is the Bayesian signed-rank test "
            "(Benavoli et al. 2017) on seed-averaged test accuracies over datasets, with a region of "
            "practical "
            f"equivalence (ROPE) of {_rope_text(analysis)} pp: 'better' or 'worse' when the posterior "
            f"probability that the loss is ahead or behind by more than the ROPE reaches "
            f"{options['threshold']:g}, 'equivalent' when the probability that the difference lies within "
            f"the ROPE does, else 'undecided'. A difference can be significant and still not matter: "
            f"Wilcoxon's p says whether a gain is real, the ROPE whether it is large enough to care. "
            f"'Per seed' repeats the decision on each seed ({seeds}) alone."
        )
    ]
    if analysis.skipped:
        blocks.append(Paragraph("Nothing to compare for " + "; ".join(analysis.skipped) + ".", "note"))
    if not analysis.settings:
        blocks.append(Paragraph("The run has no setting with two losses or more: there is no verdict."))
        return Section("verdict", "Verdict", blocks)
    colors = loss_colors(analysis.losses)
    for setting in analysis.settings:
        blocks.append(Paragraph(setting.label.capitalize(), "h"))
        for note in setting.notes:
            blocks.append(Paragraph(f"Note: {note}.", "note"))
        if setting.verdict.empty:
            continue
        columns, rows, bold = verdict_rows(setting)
        n = len(setting.matrix)
        blocks.append(
            Table(
                f"Verdict, {setting.label}",
                columns,
                rows,
                f"{an.formatting.count(n, 'dataset')}; ROPE {_rope_text(analysis)} pp; decision at P >= "
                f"{options['threshold']:g}; "
                f"{options['n_samples']} posterior samples, seed {options['random_state']}. ΔAcc: mean "
                f"difference in percentage points with a 95% percentile-bootstrap interval over datasets "
                f"({options['n_boot']} resamples; the median difference is in the Wilcoxon table); r: "
                "matched-pairs rank-biserial "
                f"correlation (+1: ahead on every dataset that differs); Wilcoxon signed-rank p, zero "
                f"differences handled by '{options['zero_method']}', Holm-adjusted over the "
                f"{len(setting.verdict)} losses. Mean rank: average ranks of the seed-averaged accuracies "
                "(1 = best), the ranks of the diagram below. lr top / last: share of the loss's cells "
                "whose selected learning rate is the largest of the grid, and whose selected epoch is the "
                "last; ⚑ where most cells sit at an edge of the grid (see the tuning audit).",
                bold=bold,
                align=["l", "l", "r", "l", "r", "r", "r", "r", "r"],
                table_id=f"verdict-{setting.key}",
                pdf_max_chars=30,
            )
        )
        blocks += [
            Paragraph(
                verdict_sentence(
                    loss,
                    r,
                    baseline=setting.baseline,
                    rope=analysis.options["rope"],
                    seeds=list(setting.by_seed),
                    lrs=setting.tuning.attrs["lrs"],
                ),
                "li",
            )
            for loss, r in setting.verdict.iterrows()
        ]
        if setting.cd["seed mean"]["pvalues"] is not None:
            blocks.append(_cd_plot(analysis, setting, ["seed mean"], colors, f"verdict-cd-{setting.key}"))
    return Section("verdict", "Verdict", blocks)


def _cd_plot(
    analysis: RunAnalysis, setting: SettingAnalysis, variants: list[str], colors: dict, key: str
) -> Plot:
    k = len(setting.losses)
    per_height = 0.3 * ((k + 1) // 2 + 3) + 0.9
    alpha = analysis.options["alpha"]

    def draw(fig: Figure, rect) -> None:
        axes = _axes_grid(fig, rect, len(variants), 1, left=1.9, right=1.9, top=0.8, bottom=0.1, hgap=1.0)
        drawn = []
        for ax, which in zip(axes, variants, strict=True):
            cd = setting.cd[which]
            if cd["pvalues"] is None:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{which}: fewer than two datasets", ha="center", transform=ax.transAxes)
                continue
            title = f"{which} ({cd['n_datasets']} datasets)"
            plot_critical_difference(
                cd["ranks"], cd["pvalues"], ax=ax, cd=cd["cd"], title=title, colors=colors, alpha=alpha
            )
            drawn.append(ax)
        if drawn:  # one rank scale for all diagrams of the figure, so they compare at a glance
            low = min(ax.get_xlim()[0] for ax in drawn)
            high = max(ax.get_xlim()[1] for ax in drawn)
            for ax in drawn:
                ax.set_xlim(low, high)

    which = (
        "seed-averaged accuracies"
        if variants == ["seed mean"]
        else "seed-averaged accuracies, then each seed"
    )
    return Plot(
        f"Critical-difference diagram, {setting.label}",
        draw,
        (7.2, per_height * len(variants)),
        f"Mean ranks of the {which} (1 = best, left; average ranks for ties). {_cd_caption(analysis)}.",
    )


# --- summary ------------------------------------------------------------------------------------------
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
    return f"{an.formatting.count(n, 'dataset')} ({policy}); excluded: {_listing(excluded)}."


def _split_note(analysis: RunAnalysis) -> str:
    splits = analysis.splits
    return f"accuracies averaged over splits {splits}" if len(splits) > 1 else f"split {splits[0]}"


def _summary_section(analysis: RunAnalysis) -> Section:
    blocks: list = [
        Paragraph(
            f"One table per setting: wins (datasets on which the loss is best; every tied loss counts; "
            f"accuracies within 1e-9 tie), ΔAcc (mean over datasets of the loss's test accuracy minus "
            f"{analysis.baseline}'s, in percentage points, with a 95% percentile-bootstrap interval over "
            f"datasets, {analysis.options['n_boot']} resamples) and mean rank. Best value of each column in "
            "bold. Test accuracy at the validation-selected learning rate and epoch; "
            f"{_split_note(analysis)}. "
            f"{_PER_SEED_NOTE}"
        )
    ]
    for setting in analysis.settings:
        summary = setting.summaries["per_seed"]
        best = summary["mean_rank"].idxmin()
        f = setting.friedman.loc["seed mean"]
        verdict = f"Best mean rank: {best}."
        if np.isfinite(f["pvalue"]):
            verdict += (
                f" Friedman test on seed-averaged accuracies: p = {_pval(f['pvalue'])} "
                f"(Iman-Davenport p = {_pval(f['iman_davenport_pvalue'])})."
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
            [loss] + [_num(table.loc[loss, s]) for s in splits] + [_num(mean[loss])]
            for loss in setting.losses
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


def _paper_section(analysis: RunAnalysis) -> Section | None:
    usable = [s for s in analysis.settings if s.paper is not None]
    if not usable:
        return None
    blocks: list = [
        Paragraph(
            'Table 4 of Battash, Hazan & Wolf, "Mixing between the Cross Entropy and the Expectation Loss '
            'Terms" (121 UCI datasets, average of two seeds) beside the same statistics on this run. The '
            "reproduced numbers use tie_method='min' (tied losses share the best rank), as the published "
            "ranks imply: they do not sum to 21 = 1+...+6 (see PROTOCOL.md). Wins and ranks are over the six "
            f"published losses only, per seed and averaged. {_PER_SEED_NOTE} Differences are reproduction "
            "minus paper."
        )
    ]
    for setting in usable:
        comparison = setting.paper
        rows = [
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
            f"Paper: 121 datasets. Sum of mean ranks: paper {_num(comparison['mean_rank_paper'].sum())}, "
            f"ours {_num(setting.paper_summary['mean_rank'].sum())} with 'min' ties "
            f"({_num(comparison.attrs['average_rank_sum'])} with average ranks)."
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


# --- tests ----------------------------------------------------------------------------------------------
def _tests_section(analysis: RunAnalysis) -> Section:
    colors = loss_colors(analysis.losses)
    alpha = analysis.options["alpha"]
    blocks: list = [
        Paragraph(
            "Friedman rank-sum test of 'all losses perform alike' over datasets, with the Iman-Davenport F "
            "variant (less conservative). Critical-difference diagrams on the seed-averaged accuracies "
            "and on "
            f"each seed alone: {_cd_caption(analysis)}. Conover's post-hoc p-values (Benjamini-Hochberg) "
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
                    _num(f["statistic"]),
                    _pval(f["pvalue"]),
                    _num(f["iman_davenport_f"]),
                    _pval(f["iman_davenport_pvalue"]),
                    _num(f["nemenyi_cd"]),
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
                + "; ".join(f"{s.label}: {_listing(s.matrix.attrs['excluded'])}" for s in analysis.settings)
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
            blocks.append(_cd_plot(analysis, setting, list(setting.cd), colors, f"cd-{setting.key}"))
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
        (ax,) = _axes_grid(fig, rect, left=1.3, right=0.3, bottom=0.9, top=0.35)
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
            _signed(r.mean_diff),
            _signed(r.median_diff),
            _num(r.statistic, 1),
            _pval(r.pvalue),
            _pval(r.pvalue_holm),
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
            row.append(f"{r['decision']} ({_signed(r['delta_acc'])} pp)")
        row.append(setting.verdict.loc[loss, "decision"])
        rows.append(row)
    return Table(
        f"Bayesian decision on each seed, {setting.label}",
        ["Loss"] + [f"seed {s}" for s in seeds] + ["seeds averaged"],
        rows,
        f"The verdict's test (ROPE {_rope_text(analysis)} pp, P >= {analysis.options['threshold']:g}) on "
        "each "
        "seed's accuracies alone, with that seed's mean difference to the baseline.",
        align=["l"] * (len(seeds) + 2),
        table_id=f"seeds-{setting.key}",
    )


# --- tuning audit -----------------------------------------------------------------------------------------
def _tuning_section(analysis: RunAnalysis) -> Section:
    fp = an.formatting.percent
    blocks: list = [
        Paragraph(
            "Where the validation selection landed. A loss whose selected learning rate is an end of the "
            "grid "
            "in most of its cells may be tuned short of its optimum, and then loses for the wrong reason; "
            "likewise a loss whose best epoch is mostly the last. Flagged (⚑) above 50% of the cells."
        )
    ]
    for setting in analysis.settings:
        audit = setting.tuning
        grid = ", ".join(f"{lr:g}" for lr in audit.attrs["lrs"])
        rows = [
            [
                str(loss),
                str(int(r["cells"])),
                fp(r["lr_high"]),
                fp(r["lr_low"]),
                fp(r["last_epoch"]),
                tuning_flag_text(r, audit.attrs["lrs"]) or "-",
            ]
            for loss, r in audit.iterrows()
        ]
        blocks.append(
            Table(
                f"Tuning audit, {setting.label}",
                ["Loss", "Cells", "lr = largest", "lr = smallest", "last epoch", "Flag"],
                rows,
                f"Learning-rate grid: {grid}; last epoch: {audit.attrs['last_epoch']} (0-based). Cells: "
                "(dataset, seed, split) results of the loss.",
                bold=[
                    [False, False, r["lr_high"] > 0.5, r["lr_low"] > 0.5, r["last_epoch"] > 0.5, False]
                    for _, r in audit.iterrows()
                ],
                align=["l", "r", "r", "r", "r", "l"],
                table_id=f"tuning-{setting.key}",
                pdf_max_chars=70,
            )
        )
    return Section("tuning", "Tuning audit", blocks)


def _legend_room(losses: Sequence[str], ncol: int = 4) -> float:
    """Inches below the axes for an x label and a legend of ``ncol`` columns (one row per 0.16 in)."""
    return 0.7 + 0.16 * -(-len(losses) // ncol)


def _focus_section(analysis: RunAnalysis) -> Section | None:
    if analysis.focus is None:
        return None
    from mixbench.report.loss_focus import plot_loss_focus

    colors = loss_colors(analysis.losses)
    curves = analysis.focus
    n_curves = len(curves.columns)

    def draw(fig: Figure, rect) -> None:
        (ax,) = _axes_grid(fig, rect, left=0.7, right=3.4 if n_curves > 14 else 1.9, bottom=0.55, top=0.35)
        plot_loss_focus(curves, ax=ax, colors=colors)

    blocks: list = [
        Paragraph(
            "The magnitude of each loss's gradient on the true-class logit against the softmax "
            "probability of "
            "the true class (the reference study's Figure 1): where on the way from a wrong to a confident "
            "prediction a loss pushes hardest. Computed from the gradient the engine trains with (closed "
            "form, "
            f"or autograd for user losses), at {curves.attrs['n_classes']} classes with equal other "
            "logits; a "
            f"scheduled loss is drawn once per phase of its {curves.attrs['n_epochs']} epochs, faint to full."
        ),
        Plot("Gradient focus of each loss", draw, (7.2, max(3.4, 0.6 + 0.13 * -(-n_curves // 2)))),
    ]
    if analysis.focus_unknown:
        blocks.append(
            Paragraph(
                f"Not drawn (not importable in this process): {', '.join(analysis.focus_unknown)}.", "note"
            )
        )
    return Section("focus", "Where each loss focuses", blocks)


# --- profiles, per dataset, curves, problems ----------------------------------------------------------------
def _profiles_section(analysis: RunAnalysis) -> Section:
    colors = loss_colors(analysis.losses)
    blocks: list = [
        Paragraph(
            "Dolan-Moré performance profiles (the reference study's Figure 2): for each threshold tau, the "
            "fraction of datasets on which a loss's seed-averaged test accuracy is at least tau times the "
            "best accuracy of any loss on that dataset. Higher is better; the value at tau = 1 is the share "
            "of wins."
        )
    ]
    several_noises = len(analysis.noises) > 1
    for noise in analysis.noises:
        group = [s for s in analysis.settings if s.noise == noise]
        if not group:
            continue
        profiles = [(s.net, s.profile, len(s.matrix)) for s in group]
        losses = an.order_losses(loss for s in group for loss in s.losses)

        def draw(fig: Figure, rect, profiles=profiles, losses=losses) -> None:
            axes = _axes_grid(
                fig, rect, 1, len(profiles), left=0.6, right=0.15, bottom=_legend_room(losses), top=0.3
            )
            for ax, (net, profile, n) in zip(axes, profiles, strict=True):
                plot_performance_profile(profile, ax=ax, title=f"{net} network ({n} datasets)", colors=colors)
            _legend_below(fig, rect, losses, colors)

        title = "Performance profiles" + (f", noise {noise}" if several_noises else "")
        counts = ", ".join(f"{s.net} {len(s.matrix)}" for s in group)
        size = (7.2, 2.55 + _legend_room(losses))
        blocks.append(Plot(title, draw, size, f"Seed-averaged test accuracies; datasets: {counts}."))
    return Section("profiles", "Performance profiles", blocks)


def _per_dataset_section(analysis: RunAnalysis) -> Section:
    several_noises = len(analysis.noises) > 1
    losses = analysis.losses
    columns = ["Network"] + (["Noise"] if several_noises else []) + ["Dataset"] + losses + ["Best"]
    rows, keys, bold = [], [], []
    for setting in analysis.settings:
        matrix = setting.per_dataset.reindex(columns=losses)
        for dataset, acc in matrix.iterrows():
            best_value = acc.max()
            best = (
                [loss for loss in losses if abs(acc[loss] - best_value) <= an.TIE_TOL]
                if np.isfinite(best_value)
                else []
            )
            row = [setting.net] + ([setting.noise] if several_noises else []) + [str(dataset)]
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


def _curves_section(analysis: RunAnalysis) -> Section:
    curves = analysis.curves
    if curves is None:
        text = (
            "The per-epoch records of this run were not kept (compact results), so there are no learning "
            "curves. Re-running the run's configuration with `mixbench run` writes them."
            if analysis.curve_reason == "the run kept no per-epoch records"
            else f"No learning curves: {analysis.curve_reason}."
        )
        return Section("curves", "Learning curves", [Paragraph(text)])
    chosen = analysis.curve_datasets
    nets = analysis.nets
    colors = loss_colors(analysis.losses)
    panels = [(d, n) for d in chosen for n in nets]

    def draw(fig: Figure, rect) -> None:
        axes = _axes_grid(
            fig,
            rect,
            len(chosen),
            len(nets),
            left=0.6,
            right=0.15,
            bottom=_legend_room(analysis.losses),
            top=0.3,
            hgap=0.75,
        )
        for ax, (dataset, net) in zip(axes, panels, strict=True):
            c = curves[(curves["dataset"] == dataset) & (curves["net"] == net)]
            if c.empty:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{dataset}, {net}: no records", ha="center", transform=ax.transAxes)
                continue
            plot_learning_curves(c, ax=ax, title=f"{dataset}, {net} network", colors=colors)
        _legend_below(fig, rect, analysis.losses, colors)

    return Section(
        "curves",
        "Learning curves",
        [
            Plot(
                "Validation accuracy per epoch",
                draw,
                (7.2, 2.3 * len(chosen) + 0.3 + _legend_room(analysis.losses)),
                f"Datasets {', '.join(chosen)} ({analysis.curve_reason}); seed {analysis.seeds[0]}, split "
                f"{analysis.splits[0]}, noise {analysis.noises[0]}; each loss at its validation-selected "
                "learning rate, the selected epoch marked with a dot.",
            )
        ],
    )


def _problems_section(analysis: RunAnalysis) -> Section:
    blocks: list = []
    failures = analysis.failures
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
    diverged = analysis.diverged
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
    excluded = analysis.excluded
    if len(excluded):
        policy = analysis.options["missing"]
        blocks.append(
            Table(
                f"Datasets excluded from the statistics ({len(excluded)})",
                ["Network", "Noise", "Dataset", "Why"],
                [[r.net, r.noise, str(r.dataset), r.reason] for r in excluded.itertuples()],
                f"Missing-value policy: '{policy}'. "
                + (
                    "A dataset with any missing cell is left out of every statistic of that network."
                    if policy == "exclude"
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


# --- the report -------------------------------------------------------------------------------------------
def build_report(analysis: RunAnalysis, *, run_name: str = "run", has_epochs: bool | None = None) -> Report:
    """The report's content (sections of paragraphs, tables and plots) from one analysis, before rendering.

    Parameters
    ----------
    analysis : RunAnalysis
        ``mixbench.analysis.analyse_run(run)``.
    run_name : str
        Shown in the title.
    has_epochs : bool, optional
        Whether the run kept per-epoch records (default: whether the analysis has learning curves).
    """
    if has_epochs is None:
        has_epochs = analysis.curves is not None
    incomplete = (
        [Section("incomplete", "Warning: incomplete run", [Paragraph(analysis.incomplete)])]
        if analysis.incomplete
        else []
    )
    sections = [
        *incomplete,
        _verdict_section(analysis),
        _summary_section(analysis),
        _paper_section(analysis),
        _tests_section(analysis),
        _tuning_section(analysis),
        _focus_section(analysis),
        _profiles_section(analysis),
        _per_dataset_section(analysis),
        _curves_section(analysis),
        _problems_section(analysis),
        _provenance_section(analysis, run_name, has_epochs),
    ]
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = (
        f"{an.formatting.count(len(analysis.datasets), 'dataset')}, "
        f"{an.formatting.count(len(analysis.losses), 'loss', 'losses')}, networks "
        f"{', '.join(analysis.nets)}; seeds {', '.join(map(str, analysis.seeds))}; baseline "
        f"{analysis.baseline}. Generated {generated} by mixbench {__version__}."
    )
    return Report(f"mixbench report: {run_name}", subtitle, [s for s in sections if s is not None])
