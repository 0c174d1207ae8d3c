"""Sentences the reports print: the quotable verdict of a loss, and what a tuning flag means.

The analysis (``mixbench.analysis``) returns numbers and flags only; these functions say them in words, the
same words in the HTML and PDF report, the terminal and the README.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mixbench.analysis import formatting as fmt
from mixbench.analysis.tuning import FLAG_SEPARATOR

__all__ = ["DECISION_TEXT", "tuning_flag_text", "verdict_sentence"]

#: How a decision of the Bayesian signed-rank test reads against the baseline.
DECISION_TEXT = {
    "better": "better than {b} by more than the {r} pp ROPE (P = {p})",
    "equivalent": "practically equivalent to {b} at a {r} pp ROPE (P = {p})",
    "worse": "worse than {b} by more than the {r} pp ROPE (P = {p})",
    "undecided": "undecided against {b} at a {r} pp ROPE (P(better) = {pb}, P(equivalent) = {pe}, "
    "P(worse) = {pw})",
}


def tuning_flag_text(audit: Mapping, lrs: Sequence[float]) -> str:
    """What a loss's tuning flag means, '' when it is not flagged.

    Parameters
    ----------
    audit : mapping
        A row of ``mixbench.analysis.tuning_audit`` (or of a verdict): ``flag``, ``lr_high``, ``lr_low``,
        ``last_epoch``.
    lrs : sequence of float
        The learning-rate grid, ascending (the audit's ``attrs['lrs']``).
    """
    texts = []
    for edge in audit["flag"].split(FLAG_SEPARATOR) if audit["flag"] else ():
        if edge == "lr_high":
            share = fmt.percent(audit["lr_high"])
            texts.append(
                f"lr {lrs[-1]:g}, the largest of the grid, in {share} of its cells: its optimum may lie "
                "above the grid (widen --lrs)"
            )
        elif edge == "lr_low":
            share = fmt.percent(audit["lr_low"])
            texts.append(
                f"lr {lrs[0]:g}, the smallest of the grid, in {share} of its cells: its optimum may lie "
                "below the grid (widen --lrs)"
            )
        else:
            share = fmt.percent(audit["last_epoch"])
            texts.append(f"the last epoch in {share} of its cells: it may need more --epochs")
    return "; ".join(texts)


def verdict_sentence(
    loss: str, row: Mapping, *, baseline: str, rope: float, seeds: Sequence, lrs: Sequence[float]
) -> str:
    """One quotable sentence: a loss's ΔAcc and its interval, the verdict against the baseline, whether the
    seeds agree, Wilcoxon-Holm's p and the tuning flag.

    Parameters
    ----------
    loss : str
    row : mapping
        The loss's row of ``SettingAnalysis.verdict``.
    baseline : str
    rope : float
        The region of practical equivalence, a fraction of accuracy (``RunAnalysis.options['rope']``).
    seeds : sequence
        The seeds of the setting.
    lrs : sequence of float
        The learning-rate grid, ascending (``SettingAnalysis.tuning.attrs['lrs']``).
    """
    probability = {
        "better": row["p_better"],
        "equivalent": row["p_equivalent"],
        "worse": row["p_worse"],
    }.get(row["decision"], np.nan)
    decision = DECISION_TEXT[row["decision"]].format(
        b=baseline,
        r=fmt.points(rope),
        p=fmt.fixed(probability, 2),
        pb=fmt.fixed(row["p_better"], 2),
        pe=fmt.fixed(row["p_equivalent"], 2),
        pw=fmt.fixed(row["p_worse"], 2),
    )
    interval = (
        f" [{fmt.signed(row['ci_low'])}, {fmt.signed(row['ci_high'])}]" if np.isfinite(row["ci_low"]) else ""
    )
    text = f"{loss}: {fmt.signed(row['delta_acc'])} pp{interval}; {decision}"
    per_seed = row["seed_decisions"]
    if len(seeds) > 1 and per_seed:
        values = list(per_seed.values())
        if len(set(values)) == 1:
            both = "both seeds" if len(seeds) == 2 else f"all {len(seeds)} seeds"
            text += f"; {values[0]} on {both} alone"
        else:
            text += "; the seeds disagree: " + ", ".join(f"{d} on seed {s}" for s, d in per_seed.items())
    if np.isfinite(row["wilcoxon_p_holm"]):
        text += f"; Wilcoxon-Holm p = {fmt.pvalue(row['wilcoxon_p_holm'])}"
    flag = tuning_flag_text(row, lrs)
    if flag:
        text += f". Tuning flag: {flag}"
    return text + "."


def identical_text(pair: tuple[str, str]) -> str:
    """Why two losses that train identically must not both be ranked."""
    a, b = pair
    return (
        f"'{a}' and '{b}' train identically at every epoch (the same gradient): they are one loss under two "
        "names and double count in every rank statistic (mean ranks, Friedman, the critical-difference "
        "diagram); drop one of them"
    )
