"""Statistics over several runs of one study: accuracy lost to label noise, cells two runs disagree on."""

from __future__ import annotations

import pandas as pd

from mixbench.analysis.hypothesis import wilcoxon_holm
from mixbench.analysis.matrices import CELL_COLUMNS, TIE_TOL

__all__ = ["changed_cells", "noise_robustness"]


def noise_robustness(clean: pd.DataFrame, noisy: pd.DataFrame, baseline: str = "CE") -> pd.DataFrame:
    """Accuracy lost to label noise per loss, and whether a loss loses less than the baseline.

    Parameters
    ----------
    clean, noisy : DataFrame (n_datasets x n_losses)
        Seed-averaged accuracy matrices of the same network without and with noise; the datasets and losses
        both hold are compared.
    baseline : str

    Returns
    -------
    robustness : DataFrame, one row per loss
        ``clean`` and ``noisy`` (mean accuracy, %), ``drop`` (pp), ``drop_minus_baseline`` (pp; negative: the
        loss loses less), ``pvalue_holm`` (Wilcoxon signed-rank of the loss's drop against the baseline's,
        Holm-adjusted; NaN for the baseline), ``n_datasets``.
    """
    common = clean.index.intersection(noisy.index)
    losses = [loss for loss in clean.columns if loss in noisy.columns]
    if baseline not in losses:
        raise ValueError(f"baseline {baseline!r} is not in both matrices ({losses})")
    drop = (clean.loc[common, losses] - noisy.loc[common, losses]) * 100
    # "loss - baseline" > 0 on -drop means the loss lost less accuracy than the baseline.
    tests = wilcoxon_holm(-drop / 100, baseline=baseline).set_index("loss")
    out = pd.DataFrame(
        {
            "clean": clean.loc[common, losses].mean() * 100,
            "noisy": noisy.loc[common, losses].mean() * 100,
            "drop": drop.mean(),
            "drop_minus_baseline": drop.mean() - drop[baseline].mean(),
            "pvalue_holm": tests["pvalue_holm"].reindex(losses),
        }
    )
    out.index.name = "loss"
    out["n_datasets"] = len(common)
    return out


def changed_cells(first: pd.DataFrame, second: pd.DataFrame, metric: str = "test_acc") -> pd.DataFrame:
    """Cells (one selected-results key) whose ``metric`` differs between two runs of the same grid.

    Returns the merged rows that differ by more than ``TIE_TOL`` (columns ``<metric>_first`` and
    ``<metric>_second``); ``attrs['n_cells']`` is the number of cells compared.
    """
    both = first.merge(second, on=list(CELL_COLUMNS), suffixes=("_first", "_second"), validate="one_to_one")
    moved = both[(both[f"{metric}_first"] - both[f"{metric}_second"]).abs() > TIE_TOL]
    moved.attrs = {"n_cells": len(both)}
    return moved
