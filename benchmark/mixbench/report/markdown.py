"""The README's generated results block, as Markdown, from committed runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from mixbench import analysis as an
from mixbench.report.content import _find
from mixbench.report.model import _net_order, _noise_order, _num, _pval, _signed, _wins

try:  # matplotlib >= 3.10
    from matplotlib.ft2font import LoadFlags

    _NO_HINTING = LoadFlags.NO_HINTING
except ImportError:  # pragma: no cover - older matplotlib
    pass

if TYPE_CHECKING:  # for the type hints only: importing the store at run time would load pyarrow
    pass


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
