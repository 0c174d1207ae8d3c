"""The verdict section: each loss against the baseline (Bayesian signed-rank test with a ROPE), first in
the report."""

from __future__ import annotations

from mixbench import analysis as an
from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.report.figures import loss_colors
from mixbench.report.model import Paragraph, Section, Table, num, pval, signed
from mixbench.report.prose import identical_text, verdict_sentence
from mixbench.report.sections.common import cd_plot, rope_text


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
    rows = [[setting.baseline, "baseline", *blank, num(ranks[setting.baseline]), tuning(setting.baseline)]]
    bold = [[False] * len(columns)]
    for loss, r in setting.verdict.iterrows():
        probabilities = " / ".join(num(r[c]) for c in ("p_better", "p_equivalent", "p_worse"))
        rows.append(
            [
                str(loss),
                r["decision"],
                probabilities,
                _per_seed_cell(r["seed_decisions"]),
                f"{signed(r['delta_acc'])} {an.formatting.interval(r['ci_low'], r['ci_high'])}".strip(),
                signed(r["rank_biserial"]),
                pval(r["wilcoxon_p_holm"]),
                num(ranks[loss]),
                tuning(loss),
            ]
        )
        bold.append([False, r["decision"] in ("better", "worse")] + [False] * (len(columns) - 2))
    return columns, rows, bold


def verdict_section(analysis: RunAnalysis) -> Section:
    """Each loss against the baseline per setting: table, one sentence per loss, CD diagram."""
    options = analysis.options
    seeds = ", ".join(map(str, analysis.seeds))
    blocks: list = [
        Paragraph(
            f"Each loss against {analysis.baseline}. The verdict is the Bayesian signed-rank test "
            "(Benavoli et al. 2017) on seed-averaged test accuracies over datasets, with a region of "
            "practical "
            f"equivalence (ROPE) of {rope_text(analysis)} pp: 'better' or 'worse' when the posterior "
            f"probability that the loss is ahead or behind by more than the ROPE reaches "
            f"{options['threshold']:g}, 'equivalent' when the probability that the difference lies within "
            f"the ROPE does, else 'undecided'. A difference can be significant and still not matter: "
            f"Wilcoxon's p says whether a gain is real, the ROPE whether it is large enough to care. "
            f"'Per seed' repeats the decision on each seed ({seeds}) alone."
        )
    ]
    if analysis.skipped:
        blocks.append(Paragraph("Nothing to compare for " + "; ".join(analysis.skipped) + ".", "note"))
    for pair in analysis.identical:
        blocks.append(Paragraph(f"Warning: {identical_text(pair)}.", "note"))
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
                f"{an.formatting.count(n, 'dataset')}; ROPE {rope_text(analysis)} pp; decision at P >= "
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
            blocks.append(cd_plot(analysis, setting, ["seed mean"], colors, f"verdict-cd-{setting.key}"))
    return Section("verdict", "Verdict", blocks)
