"""Accuracy matrices: the dataset x loss block design every statistic of mixbench reads.

``accuracy_matrix`` turns selected results into one matrix (one row per dataset, the block of the Friedman
design; one column per loss, the treatment), ``per_seed_matrices`` into one per seed over the same datasets.
Missing cells stay NaN, and the missing-value policy (``MISSING_POLICIES``) says which datasets are excluded
and why (``matrix.attrs``). ``check_matrix`` and ``snap_ties`` are what every statistic on a matrix does
first: validate it and let accuracies within ``TIE_TOL`` tie exactly; ``worst_filled`` ranks a NaN last.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import pandas as pd

from mixbench.losses import STANDARD_LOSSES
from mixbench.schema import CELL_KEY

__all__ = [
    "CELL_COLUMNS",
    "LOSS_ORDER",
    "MISSING_POLICIES",
    "TIE_TOL",
    "accuracy_matrix",
    "check_matrix",
    "check_missing_policy",
    "order_losses",
    "per_seed_matrices",
    "snap_ties",
    "worst_filled",
]


#: Display order of the losses mixbench knows (the standard eight); other (user-defined) names follow, sorted.
LOSS_ORDER = STANDARD_LOSSES
#: Accuracies closer than this on one dataset are ties (see ``snap_ties`` and the package docstring).
TIE_TOL = 1e-9
#: The columns of a selected-results cell's key (``mixbench.schema.CELL_KEY``); not the task key
#: ``mixbench.results.KEY_COLUMNS``, which has no loss and no seed.
CELL_COLUMNS = CELL_KEY
#: How a missing cell is treated: its dataset excluded, or the cell ranked worst.
MISSING_POLICIES = ("exclude", "worst")


# --- building matrices ---------------------------------------------------------------------------------
def order_losses(losses: Iterable[str]) -> list[str]:
    """Known losses in ``LOSS_ORDER``, then any other names sorted; duplicates removed."""
    names = list(dict.fromkeys(losses))
    return [n for n in LOSS_ORDER if n in names] + sorted(n for n in names if n not in LOSS_ORDER)


def _check_selected(selected: pd.DataFrame, metric: str) -> pd.DataFrame:
    if not isinstance(selected, pd.DataFrame):
        raise TypeError(f"selected results must be a pandas DataFrame, got {type(selected).__name__}")
    required = [*CELL_COLUMNS, metric]
    absent = [c for c in required if c not in selected.columns]
    if absent:
        raise ValueError(
            f"selected results lack column(s) {absent}; expected the selected-results schema of "
            f"CONTRIBUTING.md ({', '.join(required)}, ...). Load them with mixbench.results.load(run_dir)."
        )
    duplicated = selected.duplicated(list(CELL_COLUMNS), keep=False)
    if duplicated.any():
        example = selected.loc[duplicated, list(CELL_COLUMNS)].head(4).to_dict("records")
        raise ValueError(
            f"selected results have {int(duplicated.sum())} rows sharing a key {CELL_COLUMNS}, "
            f"e.g. {example}; keep one row per (dataset, net, split, noise, loss, seed), as the result "
            "store writes them."
        )
    try:
        values = pd.to_numeric(selected[metric], errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column {metric!r} of the selected results is not numeric: {exc}") from None
    outside = (values < 0) | (values > 1)
    if outside.any():
        rows = selected.index[outside][:5].tolist()
        raise ValueError(
            f"{metric} must be a fraction in [0, 1]; rows {rows} hold {values[outside].head(5).tolist()}. "
            "Percentages? Divide by 100."
        )
    return selected.assign(**{metric: values})


def _pick(frame: pd.DataFrame, column: str, value, *, allow_mean: bool):
    """Filter ``frame`` on one value of ``column``; None means 'the only one there is'."""
    present = sorted(frame[column].unique().tolist())
    hint = f"pass {column}=<one of them>" + (f" or {column}='mean'" if allow_mean else "")
    if value is None:
        if len(present) != 1:
            raise ValueError(f"selected results hold {len(present)} values of {column!r} ({present}); {hint}")
        return frame, present[0]
    if allow_mean and isinstance(value, str) and value == "mean":
        return frame, "mean"
    if value not in present:
        raise ValueError(f"{column}={value!r} is not in the selected results ({present}); {hint}")
    return frame[frame[column] == value], value


def check_missing_policy(missing: str) -> None:
    """Raise a ValueError naming the valid policies unless ``missing`` is one of ``MISSING_POLICIES``."""
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing={missing!r}; use one of {MISSING_POLICIES}")


def _describe_missing(cells: pd.DataFrame, several_splits: bool) -> str:
    """One line per dataset: which loss / seed (/ split) cells are missing and why."""
    parts = []
    for loss, group in cells.groupby("loss", sort=False):
        for absent, kind in ((True, "no result"), (False, "NaN accuracy")):
            reps = group[group["absent"] == absent]
            if len(reps):
                where = ", ".join(
                    f"{row.seed}" + (f" (split {row.split})" if several_splits else "")
                    for row in reps.itertuples()
                )
                parts.append(f"{loss}: {kind} for seed {where}")
    return "; ".join(parts)


def _replicate_matrices(
    selected: pd.DataFrame,
    *,
    net,
    noise,
    split,
    losses: Sequence[str] | None,
    datasets: Iterable[str] | None,
    metric: str,
) -> tuple[dict, dict]:
    """Matrices (dataset x loss, NaN kept) per (seed, split) replicate, and what describes them."""
    frame = _check_selected(selected, metric)
    frame, net = _pick(frame, "net", net, allow_mean=False)
    frame, noise = _pick(frame, "noise", noise, allow_mean=False)
    frame, split_desc = _pick(frame, "split", split, allow_mean=True)
    available = order_losses(frame["loss"].unique())
    if losses is None:
        losses = available
    else:
        losses = list(dict.fromkeys(losses))
        unknown = [name for name in losses if name not in available]
        if unknown:
            raise ValueError(f"loss(es) {unknown} not in the selected results for net {net!r}: {available}")
    if len(losses) < 2:
        raise ValueError(f"need at least two losses to compare, got {losses}")
    frame = frame[frame["loss"].isin(losses)]
    all_datasets = sorted(set(frame["dataset"]) | set(datasets or ()))
    seeds = sorted(frame["seed"].unique().tolist())
    splits = sorted(frame["split"].unique().tolist())
    names = ["dataset", "loss", "seed", "split"]
    index = pd.MultiIndex.from_product([all_datasets, losses, seeds, splits], names=names)
    long = frame.set_index(names)[metric]
    values = long.reindex(index)
    absent = ~index.isin(long.index)
    cells = values.to_frame("value").assign(absent=absent).reset_index()
    replicates = {}
    for (seed, spl), group in cells.groupby(["seed", "split"], sort=True):
        wide = group.pivot(index="dataset", columns="loss", values="value")
        replicates[(seed, spl)] = wide.reindex(index=all_datasets, columns=losses)
    missing_cells = cells[cells["value"].isna()]
    reasons = {
        ds: _describe_missing(group, several_splits=len(splits) > 1)
        for ds, group in missing_cells.groupby("dataset", sort=True)
    }
    meta = {
        "net": net,
        "noise": noise,
        "split": split_desc,
        "splits": splits,
        "seeds": seeds,
        "losses": list(losses),
        "metric": metric,
        "reasons": reasons,
    }
    return replicates, meta


def _excluded(replicates: dict, reasons: dict, missing: str) -> dict[str, str]:
    """Datasets the policy drops (from every replicate, so all of them use the same datasets)."""
    check_missing_policy(missing)
    excluded = {}
    for matrix in replicates.values():
        drop = matrix.isna().any(axis=1) if missing == "exclude" else matrix.isna().all(axis=1)
        for ds in matrix.index[drop]:
            whole = matrix.loc[ds].isna().all()
            excluded[ds] = "no result for any loss" if whole else reasons[ds]
    return dict(sorted(excluded.items()))


def _finish(matrix: pd.DataFrame, excluded: dict, meta: dict, missing: str, seed) -> pd.DataFrame:
    matrix = matrix.drop(index=list(excluded))
    matrix.index.name, matrix.columns.name = "dataset", "loss"
    kept_with_nan = matrix.index[matrix.isna().any(axis=1)]
    matrix.attrs = {
        "net": meta["net"],
        "noise": meta["noise"],
        "seed": seed,
        "seeds": meta["seeds"],
        "split": meta["split"],
        "splits": meta["splits"],
        "metric": meta["metric"],
        "missing": missing,
        "excluded": dict(excluded),
        "worst_ranked": {ds: meta["reasons"][ds] for ds in kept_with_nan},
    }
    return matrix


def _average(replicates: dict, keep) -> pd.DataFrame:
    """Mean over the chosen replicates; a NaN in any of them makes the mean NaN (no silent partial means)."""
    chosen = [m for key, m in replicates.items() if keep(key)]
    stacked = np.stack([m.to_numpy(dtype=float) for m in chosen])
    first = chosen[0]
    return pd.DataFrame(stacked.mean(axis=0), index=first.index, columns=first.columns)


def accuracy_matrix(
    selected: pd.DataFrame,
    net: str | None = None,
    *,
    seed: Hashable | None = None,
    split: Hashable | None = None,
    noise: str | None = None,
    losses: Sequence[str] | None = None,
    datasets: Iterable[str] | None = None,
    metric: str = "test_acc",
    missing: str = "exclude",
) -> pd.DataFrame:
    """Accuracy of every loss on every dataset, for one network: the block design of the tests.

    Parameters
    ----------
    selected : DataFrame
        Selected results (one row per dataset, net, split, noise, loss, seed).
    net, noise : str, optional
        Which network / label-noise setting. None: the only one present (an error if there are several).
    seed, split : value, 'mean' or None
        One seed (split), or ``'mean'`` to average over all of them, or None for the only one present.
        A mean is NaN when any of its seeds / splits is missing, so partial means never pass for full ones.
    losses : sequence of str, optional
        Columns, in this order. Default: every loss present, in ``LOSS_ORDER``.
    datasets : iterable of str, optional
        Datasets expected in the run (e.g. including those whose tasks failed): those without any row count as
        missing instead of being absent unnoticed.
    metric : str
        ``'test_acc'`` (default) or ``'val_acc'``.
    missing : {'exclude', 'worst'}
        ``'exclude'`` drops every dataset with a missing cell; ``'worst'`` keeps the NaN (ranked worst by
        ``rank_losses``, never a win) and drops only datasets where no loss has a result. Exclusion is decided
        on every (seed, split) replicate, so the same datasets are used whatever ``seed`` is.

    Returns
    -------
    matrix : DataFrame of shape (n_datasets, n_losses)
        Index ``dataset``, columns ``loss``, exact accuracies (ties are snapped by the statistics, not here).
        ``matrix.attrs`` holds
        ``excluded`` ({dataset: reason}), ``worst_ranked`` (datasets kept with NaN cells), ``missing``,
        ``net``, ``noise``, ``seed``, ``seeds``, ``split``, ``splits`` and ``metric``.
    """
    replicates, meta = _replicate_matrices(
        selected, net=net, noise=noise, split=split, losses=losses, datasets=datasets, metric=metric
    )
    excluded = _excluded(replicates, meta["reasons"], missing)
    if seed is None:
        if len(meta["seeds"]) != 1:
            raise ValueError(
                f"selected results hold {len(meta['seeds'])} seeds ({meta['seeds']}); "
                "pass seed=<one of them> or seed='mean'"
            )
        seed = meta["seeds"][0]
    elif not (isinstance(seed, str) and seed == "mean") and seed not in meta["seeds"]:
        raise ValueError(
            f"seed={seed!r} is not in the selected results ({meta['seeds']}); or pass seed='mean'"
        )
    every_seed = isinstance(seed, str) and seed == "mean"
    matrix = _average(replicates, lambda key: every_seed or key[0] == seed)
    return _finish(matrix, excluded, meta, missing, seed)


def per_seed_matrices(
    selected: pd.DataFrame,
    net: str | None = None,
    *,
    split: Hashable | None = None,
    noise: str | None = None,
    losses: Sequence[str] | None = None,
    datasets: Iterable[str] | None = None,
    metric: str = "test_acc",
    missing: str = "exclude",
) -> dict[Hashable, pd.DataFrame]:
    """One ``accuracy_matrix`` per seed, all over the same datasets (exclusions are shared).

    Parameters are those of ``accuracy_matrix``. Returns ``{seed: matrix}`` in seed order.
    """
    replicates, meta = _replicate_matrices(
        selected, net=net, noise=noise, split=split, losses=losses, datasets=datasets, metric=metric
    )
    excluded = _excluded(replicates, meta["reasons"], missing)
    return {
        seed: _finish(_average(replicates, lambda key, s=seed: key[0] == s), excluded, meta, missing, seed)
        for seed in meta["seeds"]
    }


# --- what every statistic on a matrix does first -------------------------------------------------------
def check_matrix(matrix: pd.DataFrame, *, min_losses: int = 1) -> pd.DataFrame:
    """``matrix`` validated (a DataFrame with unique loss columns, at least ``min_losses``), as floats with
    ties snapped (``snap_ties``): what every statistic on a matrix starts from."""
    if not isinstance(matrix, pd.DataFrame):
        raise TypeError(
            f"expected a dataset x loss DataFrame (see accuracy_matrix), got {type(matrix).__name__}"
        )
    if matrix.shape[1] < min_losses:
        raise ValueError(f"need at least {min_losses} losses (columns), got {list(matrix.columns)}")
    if not matrix.columns.is_unique:
        raise ValueError(f"loss columns must be unique, got {list(matrix.columns)}")
    values = matrix.apply(pd.to_numeric, errors="raise").astype(float)
    return snap_ties(values)


def snap_ties(matrix: pd.DataFrame, tol: float = TIE_TOL) -> pd.DataFrame:
    """Within each dataset (row), accuracies that chain within ``tol`` of each other take the group's largest
    value, so that they tie exactly; NaN stays NaN. Returns a new DataFrame of the same shape."""
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    values = matrix.to_numpy(dtype=float, copy=True)
    for row in values:
        finite = np.flatnonzero(~np.isnan(row))
        if len(finite) < 2:
            continue
        order = finite[np.argsort(row[finite], kind="stable")]
        sorted_values = row[order]
        group_starts = np.concatenate(([True], np.diff(sorted_values) > tol))
        group = np.cumsum(group_starts) - 1
        top = np.maximum.reduceat(sorted_values, np.flatnonzero(group_starts))
        row[order] = top[group]
    snapped = pd.DataFrame(values, index=matrix.index, columns=matrix.columns)
    snapped.attrs = dict(matrix.attrs)
    return snapped


def worst_filled(matrix: pd.DataFrame) -> pd.DataFrame:
    """NaN -> -inf: below every accuracy, so rank-based statistics rank a missing cell last."""
    return matrix.fillna(-np.inf)
