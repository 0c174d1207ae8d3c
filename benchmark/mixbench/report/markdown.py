"""The README's generated blocks, as Markdown, from committed runs.

The runs of each block are analysed once, into one study object (``mixbench.analysis.study``:
``analyse_study`` -> ``StudyAnalysis`` for the results, ``analyse_grid_study`` -> ``GridStudyAnalysis`` for
the robustness study); ``format_results`` and ``format_study`` only format those objects, and
``markdown_results`` / ``markdown_study`` are the two steps in one call.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mixbench.analysis import formatting as fmt
from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.analysis.study import (
    GridStudyAnalysis,
    NoiseComparison,
    StudyAnalysis,
    analyse_grid_study,
    analyse_study,
)
from mixbench.report.sections.provenance import find_setting

__all__ = ["format_results", "format_study", "markdown_results", "markdown_study"]

_num = fmt.fixed
_signed = fmt.signed
_pval = fmt.pvalue
_wins = fmt.wins
#: Posterior samples of the README's Bayesian tests: enough to keep its probabilities stable to the second
#: decimal, few enough to regenerate the blocks quickly in the test suite.
README_SAMPLES = 20_000


def _per_seed_text(decisions: dict) -> str:
    values = list(decisions.values())
    if len(set(values)) == 1:
        return "agree" if len(values) > 1 else values[0]
    return ", ".join(f"{d} ({s})" for s, d in decisions.items())


def _markdown_verdict(setting: SettingAnalysis, title: str, rope: str) -> list[str]:
    lines = [
        f"{title}: each loss against {setting.baseline} "
        f"({fmt.count(len(setting.matrix), 'dataset')}; Bayesian "
        "signed-rank "
        f"test on seed-averaged accuracies, ROPE {rope} pp, decision at P >= 0.95; per seed: the decision on "
        "each seed alone; Wilcoxon p Holm-adjusted; lr top: share of cells at the largest learning rate):",
        "",
        "| loss | verdict | P(better / equiv. / worse) | per seed | ΔAcc (pp) [95% CI] | r | Wilcoxon p "
        "| mean rank | lr top |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
        f"| {setting.baseline} | baseline | | | | | | {_num(setting.ranks[setting.baseline])} | "
        f"{fmt.percent(setting.tuning.loc[setting.baseline, 'lr_high'])} |",
    ]
    for loss, r in setting.verdict.iterrows():
        probabilities = " / ".join(_num(r[c]) for c in ("p_better", "p_equivalent", "p_worse"))
        lines.append(
            f"| {loss} | {r['decision']} | {probabilities} | {_per_seed_text(r['seed_decisions'])} | "
            f"{_signed(r['delta_acc'])} {fmt.interval(r['ci_low'], r['ci_high'])} | "
            f"{_signed(r['rank_biserial'])} | {_pval(r['wilcoxon_p_holm'])} | {_num(setting.ranks[loss])} | "
            f"{fmt.percent(r['lr_high'])} |"
        )
    cd = setting.cd["seed mean"]
    groups = "; ".join(", ".join(g) for g in cd["cliques"]) or "none"
    lines += [
        "",
        f"Nemenyi CD = {_num(cd['cd'])} on these mean ranks; groups it does not separate: {groups}.",
        "",
    ]
    return lines


def _markdown_published(comparisons: dict[str, SettingAnalysis], net: str, title: str) -> list[str]:
    """The six published losses: wins, ΔAcc and mean rank as published and in each run (label -> setting),
    computed the way the published table was (per seed, ties sharing the best rank)."""
    cmps = {label: s.paper for label, s in comparisons.items()}
    first_setting = next(iter(comparisons.values()))
    first = first_setting.paper
    columns = [  # (header, paper column, own column, format)
        ("wins", "wins_paper", "wins", _wins),
        ("ΔAcc", "delta_acc_paper", "delta_acc", _signed),
        ("rank", "mean_rank_paper", "mean_rank", _num),
    ]
    header, cells = ["loss"], []
    for name, paper_col, own_col, format_cell in columns:
        unit = " (pp)" if name == "ΔAcc" else ""
        header += [f"{name} paper{unit}"] + [f"{name} {label}{unit}" for label in cmps]
        cells.append((paper_col, own_col, format_cell))
    lines = [
        f"{title} (ranks and wins per seed, averaged, as we assume the published table was made; ties "
        "sharing "
        f"the best rank, as the published ranks imply; {int(first['n_datasets'].iloc[0])} datasets):",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for loss in first.index:
        row = [loss]
        for paper_col, own_col, format_cell in cells:
            row += [format_cell(first.loc[loss, paper_col])] + [
                format_cell(c.loc[loss, own_col]) for c in cmps.values()
            ]
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


def _wilcoxon_line(setting: SettingAnalysis, what: str) -> str:
    tests = setting.wilcoxon.set_index("loss")
    pvalues = ", ".join(f"{loss} {_pval(p)}" for loss, p in tests["pvalue_holm"].items())
    return (
        f"Wilcoxon signed-rank against {setting.baseline} {what} (zero differences split, Holm-adjusted p): "
        f"{pvalues}."
    )


def _markdown_summary(setting: SettingAnalysis, title: str) -> list[str]:
    s = setting.summaries["per_seed"]
    fr = setting.friedman.loc["seed mean"]
    lines = [
        f"{title} (ranks and wins per seed, averaged; average ranks; {int(s['n_datasets'].iloc[0])} datasets"
        + (f", excluded: {s['excluded'].iloc[0]}" if s["excluded"].iloc[0] else "")
        + "):",
        "",
        f"| loss | wins | ΔAcc vs {setting.baseline} (pp) | 95% CI | mean rank |",
        "|---|---:|---:|---:|---:|",
    ]
    for loss, r in s.iterrows():
        ci = "" if loss == setting.baseline else f"[{_signed(r.delta_ci_low)}, {_signed(r.delta_ci_high)}]"
        lines.append(f"| {loss} | {_wins(r.wins)} | {_signed(r.delta_acc)} | {ci} | {_num(r.mean_rank)} |")
    lines += [
        "",
        f"Friedman on seed-averaged accuracies: χ² = {_num(fr['statistic'])}, p = {_pval(fr['pvalue'])}; "
        f"Iman-Davenport F = {_num(fr['iman_davenport_f'])}, p = {_pval(fr['iman_davenport_pvalue'])}.",
        "",
        _wilcoxon_line(setting, "on seed-averaged accuracies"),
        "",
    ]
    return lines


def _markdown_robustness(comparison: NoiseComparison, noise: str) -> list[str]:
    clean, table = comparison.clean, comparison.table
    lines = [
        f"Accuracy lost to {noise} label noise, {clean.net} network ({int(table['n_datasets'].iloc[0])} "
        f"datasets; mean test accuracy in %; p: Wilcoxon signed-rank of the loss's drop against "
        f"{clean.baseline}'s drop, Holm-adjusted):",
        "",
        f"| loss | clean | noisy | drop (pp) | drop minus {clean.baseline}'s (pp) | p |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for loss, r in table.iterrows():
        extra = (
            "| | |"
            if loss == clean.baseline
            else f"| {_signed(r.drop_minus_baseline)} | {_pval(r.pvalue_holm)} |"
        )
        lines.append(f"| {loss} | {_num(r.clean)} | {_num(r.noisy)} | {_num(r['drop'])} {extra}")
    return lines + [""]


def _setting(analysis: RunAnalysis, net: str, noise: str | None = None) -> SettingAnalysis | None:
    for s in analysis.settings:
        if s.net == net and (noise is None or s.noise == noise):
            return s
    return None


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
    a run (or a list of runs) over several split columns, ``batch_accuracy`` the reference protocol run
    with the reference code's accuracy rule (``eval_batch``). The test suite regenerates this text from the
    committed results and compares it with the README, so the numbers there cannot drift from the data.
    Analyses the runs once (``analyse_study``), then formats them (``format_results``).
    """
    study = analyse_study(
        paper,
        noisy,
        splits,
        batch_accuracy,
        n_boot=n_boot,
        random_state=random_state,
        n_samples=README_SAMPLES,
    )
    return format_results(study)


def format_results(study: StudyAnalysis) -> str:
    """The README's "Results" block of an analysed study (see ``markdown_results``)."""
    main = study.main
    rope = fmt.points(main.options["rope"])
    lines: list[str] = [
        f"Reference protocol, split 0, seeds {' and '.join(map(str, main.seeds))}: "
        f"{study.n_datasets} "
        f"datasets, {study.n_selected} selected results.",
        "",
        "### Verdict",
        "",
    ]
    for setting in main.settings:
        lines += _markdown_verdict(setting, f"**{setting.net} network**", rope)
    for analysis in study.noisy:
        for setting in analysis.settings:
            lines += _markdown_verdict(setting, f"**{setting.noise}, {setting.net} network**", rope)
    lines += ["### Details", ""]
    for setting in main.settings:
        if setting.paper is not None:
            lines += _markdown_published(
                {"here": setting}, setting.net, f"**{setting.net} network, the six published losses**"
            )
        lines += _markdown_summary(setting, f"**{setting.net} network, all {len(setting.losses)} losses**")
    if study.noisy:
        lines += ["Label noise (symmetric, on training and validation labels; test labels clean):", ""]
        for i, analysis in enumerate(study.noisy):
            for setting in analysis.settings:
                lines += _markdown_summary(setting, f"**{setting.noise}, {setting.net} network**")
                comparison = study.robustness.get((i, setting.key))
                if comparison is not None:
                    lines += _markdown_robustness(comparison, setting.noise)
    for split_analysis in study.splits:
        for setting in split_analysis.settings:
            table = setting.per_split
            if table is None:
                continue
            columns = table.attrs["splits"]
            lines += [
                f"**{setting.net} network, mean rank on each split column** (ranks per seed, averaged; "
                "average ranks):",
                "",
                "| loss | " + " | ".join(f"split {k}" for k in columns) + " | mean |",
                "|---|" + "---:|" * (len(columns) + 1),
            ]
            for loss, row in table.iterrows():
                values = " | ".join(_num(row[k]) for k in columns)
                lines.append(f"| {loss} | {values} | {_num(row['mean'])} |")
            lines.append("")
            title = f"**{setting.net} network, split columns {', '.join(map(str, columns))} averaged**"
            lines += _markdown_verdict(setting, title, rope)
    if study.batch is not None:
        lines += _markdown_batch_accuracy(main, study.batch, study.moved)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_batch_accuracy(main: RunAnalysis, batched: RunAnalysis, moved: pd.DataFrame) -> list[str]:
    """The reference protocol with the reference code's accuracy rule beside the exact-accuracy run."""
    size = find_setting(dict(batched.config), ("eval_batch",))
    label = f"batch {size}"
    lines = [
        f"The reference code's accuracy rule (validation and test accuracy as the mean of per-batch "
        f"accuracies over batches of {size} rows; `--eval-batch {size}`): the selected test accuracy "
        f"differs from the exact-accuracy run in {len(moved)} of {moved.attrs['n_cells']} cells, on "
        f"{moved['dataset'].nunique()} datasets.",
        "",
    ]
    for setting in batched.settings:
        here = _setting(main, setting.net)
        if here is None or here.paper is None or setting.paper is None:
            continue
        runs = {"exact": here, label: setting}
        lines += _markdown_published(
            runs, setting.net, f"**{setting.net} network, exact against {label} accuracy**"
        )
        lines += [_wilcoxon_line(setting, f"on seed-averaged {label} accuracies"), ""]
    return lines


# --- the robustness study (fair tuning, seeds, splits) -------------------------------------------------
def _grid_text(audit) -> str:
    return " / ".join(f"{lr:g}" for lr in sorted(audit.attrs["lrs"], reverse=True))


def _markdown_tuning(reference: RunAnalysis, fair: RunAnalysis) -> list[str]:
    pct = fmt.percent
    first = reference.settings[0].tuning
    other = fair.settings[0].tuning
    lines = [
        f"**Tuning audit**, reference grid ({_grid_text(first)}) against the fair grid "
        f"({_grid_text(other)}): "
        "share of each loss's cells whose selected learning rate is the largest or the smallest of its grid, "
        "and whose selected epoch is the last (ties across rates go to the first rate in the grid's order, "
        "the largest):",
        "",
        "| network | loss | reference: largest | reference: smallest | reference: last epoch | fair: largest "
        "| fair: smallest | fair: last epoch |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for setting in reference.settings:
        other_setting = _setting(fair, setting.net, setting.noise)
        if other_setting is None:
            continue
        for loss, r in setting.tuning.iterrows():
            if loss not in other_setting.tuning.index:
                continue
            f = other_setting.tuning.loc[loss]
            lines.append(
                f"| {setting.net} | {loss} | {pct(r['lr_high'])} | {pct(r['lr_low'])} "
                f"| {pct(r['last_epoch'])} "
                f"| {pct(f['lr_high'])} | {pct(f['lr_low'])} | {pct(f['last_epoch'])} |"
            )
    return [*lines, ""]


def _markdown_changes(changes: pd.DataFrame) -> list[str]:
    lines = [
        "**The verdict, reference grid against fair grid** (each loss against CE; mean test accuracy in %):",
        "",
        "| network | loss | reference verdict | fair verdict | ΔAcc reference (pp) | ΔAcc fair (pp) "
        "| accuracy reference | accuracy fair |",
        "|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in changes.itertuples(index=False):
        if r.is_baseline:
            cells = "baseline | baseline | | "
        else:
            deltas = f"{_signed(r.delta_reference)} | {_signed(r.delta_other)}"
            cells = f"{r.decision_reference} | {r.decision_other} | {deltas}"
        lines.append(
            f"| {r.net} | {r.loss} | {cells} | {_num(r.accuracy_reference)} | {_num(r.accuracy_other)} |"
        )
    return [*lines, ""]


def _markdown_seeds(analysis: RunAnalysis) -> list[str]:
    lines = [
        f"**Across {len(analysis.seeds)} seeds** ({', '.join(map(str, analysis.seeds))}): the verdict on "
        "seed-averaged accuracies, the decision on each seed alone, and on how many seeds that decision "
        "holds:",
        "",
    ]
    for setting in analysis.settings:
        seeds = list(setting.by_seed)
        lines += [
            f"| {setting.net} network | verdict | "
            + " | ".join(f"seed {s}" for s in seeds)
            + " | holds on |",
            "|---|---|" + "---|" * len(seeds) + "---:|",
        ]
        for loss, r in setting.verdict.iterrows():
            per_seed = " | ".join(r["seed_decisions"][s] for s in seeds)
            held = round(r["seed_agreement"] * len(seeds))
            lines.append(f"| {loss} | {r['decision']} | {per_seed} | {held} of {len(seeds)} |")
        lines.append("")
    return lines


def markdown_study(
    reference,
    fair,
    seeds=None,
    *,
    reference_noisy=None,
    fair_noisy=None,
    n_boot: int = 2000,
    random_state: int = 0,
) -> str:
    """The generated part of the README's robustness study: the tuning audit of the reference and the fair
    grid side by side, the verdict under each, with a run of several seeds how often each decision holds,
    and with label-noise runs under both grids the verdict and the accuracy lost to noise under the fair
    grid. Regenerated and compared by the test suite, as ``markdown_results`` is. Analyses the runs once
    (``analyse_grid_study``), then formats them (``format_study``)."""
    study = analyse_grid_study(
        reference,
        fair,
        seeds,
        reference_noisy=reference_noisy,
        fair_noisy=fair_noisy,
        n_boot=n_boot,
        random_state=random_state,
        n_samples=README_SAMPLES,
    )
    return format_study(study)


def format_study(study: GridStudyAnalysis) -> str:
    """The README's robustness-study block of an analysed study (see ``markdown_study``)."""
    ref, fair_analysis = study.reference, study.fair
    rope = fmt.points(ref.options["rope"])
    lines = [
        f"Fair grid run: {len(fair_analysis.datasets)} datasets, seeds "
        f"{' and '.join(map(str, fair_analysis.seeds))}, learning rates "
        f"{_grid_text(fair_analysis.settings[0].tuning)}.",
        "",
    ]
    lines += _markdown_tuning(ref, fair_analysis)
    for setting in fair_analysis.settings:
        lines += _markdown_verdict(setting, f"**Fair grid, {setting.net} network**", rope)
    lines += _markdown_changes(study.changes)
    if study.seeds is not None:
        lines += _markdown_seeds(study.seeds)
    noisy = study.fair_noisy
    if noisy is not None:
        for setting in noisy.settings:
            title = f"**Fair grid, {setting.noise}, {setting.net} network**"
            lines += _markdown_verdict(setting, title, rope)
        if study.noisy_changes is not None:
            lines += [
                f"**With {noisy.noises[0]} label noise**, reference grid against fair grid:",
                "",
                *_markdown_changes(study.noisy_changes)[2:],
            ]
        for setting in noisy.settings:
            comparison = study.robustness.get(setting.key)
            if comparison is not None:
                lines += _markdown_robustness(comparison, f"{setting.noise} (fair grid)")
    return "\n".join(lines).rstrip() + "\n"
