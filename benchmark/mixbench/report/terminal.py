"""The verdict as plain text for the terminal (``mixbench run`` prints it when it ends)."""

from __future__ import annotations

from mixbench.analysis import formatting as fmt
from mixbench.analysis.result import RunAnalysis
from mixbench.report.prose import identical_text, tuning_flag_text


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def format_verdict(analysis: RunAnalysis) -> str:
    """One block per setting: each loss's decision, probabilities, ΔAcc with its interval, Wilcoxon-Holm p,
    the decisions per seed, and the tuning flags; a line on how the verdict was made first."""
    options = analysis.options
    rope = fmt.points(options["rope"])
    lines = [
        f"Verdict against {analysis.baseline}: Bayesian signed-rank test on seed-averaged accuracies, ROPE "
        f"{rope} pp, decision at P >= {options['threshold']:g}; Wilcoxon p Holm-adjusted.",
    ]
    if analysis.incomplete:
        lines.insert(0, f"WARNING: {analysis.incomplete}\n")
    for line in analysis.skipped:
        lines.append(f"  ({line})")
    for pair in analysis.identical:
        lines.append(f"  WARNING: {identical_text(pair)}.")
    for setting in analysis.settings:
        lines += ["", f"{setting.label} ({fmt.count(len(setting.matrix), 'dataset')})"]
        for note in setting.notes:
            lines.append(f"  note: {note}")
        if setting.verdict.empty:
            continue
        header = [
            "loss",
            "verdict",
            "P(better/equiv/worse)",
            "ΔAcc pp [95% CI]",
            "Wilcoxon p",
            "per seed",
            "rank",
        ]
        rows = [[setting.baseline, "baseline", "", "", "", "", fmt.fixed(setting.ranks[setting.baseline])]]
        for loss, r in setting.verdict.iterrows():
            probabilities = "/".join(fmt.fixed(r[c]) for c in ("p_better", "p_equivalent", "p_worse"))
            interval = f"{fmt.signed(r['delta_acc'])} {fmt.interval(r['ci_low'], r['ci_high'])}".strip()
            seeds = ", ".join(r["seed_decisions"].values())
            rows.append(
                [
                    str(loss),
                    r["decision"] + ("" if r["seeds_agree"] else " *"),
                    probabilities,
                    interval,
                    fmt.pvalue(r["wilcoxon_p_holm"]),
                    seeds,
                    fmt.fixed(setting.ranks[loss]),
                ]
            )
        lines += ["  " + row for row in _table(header, rows, right={4, 6})]
        if not setting.verdict["seeds_agree"].all():
            lines.append("  * the seeds disagree on this decision")
        flagged = setting.tuning[setting.tuning["flag"] != ""]
        if len(flagged):
            lines.append(
                f"  tuning: {len(flagged)} of {len(setting.tuning)} losses are flagged, e.g. "
                f"{flagged.index[0]}: {tuning_flag_text(flagged.iloc[0], setting.tuning.attrs['lrs'])}"
            )
    return "\n".join(lines)
