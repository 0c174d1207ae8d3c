"""The published Table 4 (Battash, Hazan & Wolf) and its comparison with a reproduced ``summary_table``."""

from __future__ import annotations

import warnings
from importlib import resources

import pandas as pd

from mixbench.analysis.matrices import LOSS_ORDER

__all__ = ["PAPER_LOSSES", "compare_with_paper", "load_paper_table"]


#: The six losses of the published Table 4.
PAPER_LOSSES = LOSS_ORDER[:6]


def load_paper_table() -> pd.DataFrame:
    """Table 4 of Battash, Hazan & Wolf, "Mixing between the Cross Entropy and the Expectation Loss Terms".

    Returns
    -------
    table : DataFrame
        Columns ``net`` (linear / hidden), ``loss``, ``wins``, ``delta_acc`` (percentage points vs CE),
        ``mean_rank`` (ties seem to share the best rank: ``tie_method='min'``, see PROTOCOL.md).
    """
    with resources.files("mixbench").joinpath("resources/table4.tsv").open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, sep="\t", comment="#")


def compare_with_paper(summary: pd.DataFrame, paper_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Published against reproduced Table 4 numbers for one network, with the differences.

    Parameters
    ----------
    summary : DataFrame
        ``summary_table`` of one network over exactly the published losses (``PAPER_LOSSES``), best made with
        ``how='per_seed'`` and ``tie_method='min'`` as the published table was (a warning says otherwise).
    paper_table : DataFrame, optional
        Default ``load_paper_table()``.

    Returns
    -------
    comparison : DataFrame, one row per loss
        ``wins_paper``, ``wins``, ``wins_diff``, ``delta_acc_paper``, ``delta_acc``, ``delta_acc_diff``,
        ``mean_rank_paper``, ``mean_rank``, ``mean_rank_diff`` (reproduced minus published), and ``net``,
        ``how``, ``tie_method``, ``n_datasets``.
    """
    paper = load_paper_table() if paper_table is None else paper_table
    nets = summary["net"].unique().tolist()
    if len(nets) != 1:
        raise ValueError(f"summary must be of one network, got {nets}")
    net = nets[0]
    published = paper[paper["net"] == net].set_index("loss")
    if published.empty:
        raise ValueError(
            f"the published table has no network {net!r} (it has {sorted(paper['net'].unique())})"
        )
    if set(published.index) != set(summary.index):
        raise ValueError(
            f"wins and mean ranks depend on the losses compared: the summary has {list(summary.index)}, "
            f"the published table {list(published.index)}; "
            f"compute the summary with losses={list(published.index)}"
        )
    for column, expected in (("tie_method", "min"), ("how", "per_seed")):
        used = summary[column].iloc[0]
        if used != expected:
            warnings.warn(
                f"the published table used {column}={expected!r}, the summary {column}={used!r}: "
                "differences include that choice",
                UserWarning,
                stacklevel=2,
            )
    order = [loss for loss in summary.index]
    comparison = pd.DataFrame(index=pd.Index(order, name="loss"))
    for stat in ("wins", "delta_acc", "mean_rank"):
        comparison[f"{stat}_paper"] = published.loc[order, stat].astype(float)
        comparison[stat] = summary.loc[order, stat].astype(float)
        comparison[f"{stat}_diff"] = comparison[stat] - comparison[f"{stat}_paper"]
    for column in ("net", "how", "tie_method", "n_datasets"):
        comparison[column] = summary[column].iloc[0]
    return comparison
