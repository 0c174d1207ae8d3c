"""Statistics across datasets: accuracy matrices, wins, ranks, tests, performance profiles.

Small pure functions on tidy DataFrames, in the style of scikit-posthocs, usable from a notebook::

    from mixbench import analysis
    acc = analysis.accuracy_matrix(selected, net="linear", seed="mean")   # dataset x loss
    analysis.rank_losses(acc).mean()                                      # mean rank, 1 = best
    analysis.friedman_test(acc)
    analysis.summary_table(selected, net="linear", how="per_seed")        # the reference study's Table 4
    result = analysis.analyse_run(mixbench.results.load(run_dir))        # everything a report shows, once
    result.verdict_table()                                                # each loss against the baseline

Conventions
-----------
- ``selected`` is the selected-results table of CONTRIBUTING.md: one row per
  (dataset, net, split, noise, loss, seed) with ``test_acc`` (and ``val_acc``) as fractions in [0, 1].
- A *matrix* is a DataFrame with one row per dataset (the block of the Friedman design) and one column per
  loss (the treatment); values are accuracies, higher is better. ``accuracy_matrix`` builds it.
- NaN in a matrix is a missing cell (a failed task, or a cell whose every learning rate diverged). Nothing
  is dropped silently: ``accuracy_matrix`` either excludes the dataset (``missing="exclude"``) or keeps the
  NaN so that it counts as the worst rank (``missing="worst"``), and records which datasets it excluded in
  ``matrix.attrs["excluded"]``. Each function below says how it treats a NaN that reaches it.
- Ties: accuracies within ``TIE_TOL`` (1e-9) of each other on a dataset tie exactly: every rank-based
statistic
  first snaps each such group to one value (``snap_ties``), so two values that differ only by floating-point
  rounding (e.g. the means over two seeds of 3/4 + 1/4 and 2/4 + 2/4) tie, whichever side of a rounding
  boundary
  they fall. Accuracies of different numbers of correct rows differ by far more (1/n_test).
"""

from __future__ import annotations

import inspect
import itertools
import warnings
from collections.abc import Hashable, Iterable, Sequence
from importlib import resources

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from scipy import stats
from statsmodels.stats.multitest import multipletests

from mixbench.losses import STANDARD_LOSSES
from mixbench.schema import CELL_KEY

__all__ = [
    "LOSS_ORDER",
    "PAPER_LOSSES",
    "accuracy_matrix",
    "per_seed_matrices",
    "order_losses",
    "rank_losses",
    "count_wins",
    "summary_table",
    "friedman_test",
    "conover_posthoc",
    "nemenyi_cd",
    "pairwise_wtl",
    "holm_adjust",
    "snap_ties",
    "wilcoxon_holm",
    "performance_profile",
    "load_paper_table",
    "noise_robustness",
    "changed_cells",
    "compare_with_paper",
]

#: Display order of the losses mixbench knows (the standard eight); other (user-defined) names follow, sorted.
LOSS_ORDER = STANDARD_LOSSES
#: The six losses of the published Table 4.
PAPER_LOSSES = LOSS_ORDER[:6]
#: Accuracies closer than this on one dataset are ties (see module docstring).
TIE_TOL = 1e-9

#: The key of a selected-results cell (defined in mixbench.schema; kept importable here).
KEY_COLUMNS = CELL_KEY
_BOOTSTRAP_RNG = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
MISSING_POLICIES = ("exclude", "worst")
RANK_METHODS = ("average", "min", "max", "dense", "ordinal")


# --- building matrices ------------------------------------------------------------------------------
def order_losses(losses: Iterable[str]) -> list[str]:
    """Known losses in ``LOSS_ORDER``, then any other names sorted; duplicates removed."""
    names = list(dict.fromkeys(losses))
    return [n for n in LOSS_ORDER if n in names] + sorted(n for n in names if n not in LOSS_ORDER)


def _check_selected(selected: pd.DataFrame, metric: str) -> pd.DataFrame:
    if not isinstance(selected, pd.DataFrame):
        raise TypeError(f"selected results must be a pandas DataFrame, got {type(selected).__name__}")
    required = [*KEY_COLUMNS, metric]
    absent = [c for c in required if c not in selected.columns]
    if absent:
        raise ValueError(
            f"selected results lack column(s) {absent}; expected the selected-results schema of "
            f"CONTRIBUTING.md ({', '.join(required)}, ...). Load them with mixbench.results.load(run_dir)."
        )
    duplicated = selected.duplicated(list(KEY_COLUMNS), keep=False)
    if duplicated.any():
        example = selected.loc[duplicated, list(KEY_COLUMNS)].head(4).to_dict("records")
        raise ValueError(
            f"selected results have {int(duplicated.sum())} rows sharing a key {KEY_COLUMNS}, "
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


def _check_policy(missing: str) -> None:
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
    _check_policy(missing)
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


# --- ranks, wins --------------------------------------------------------------------------------------
def _check_matrix(matrix: pd.DataFrame, *, min_losses: int = 1) -> pd.DataFrame:
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


def _snap_differences(diff: np.ndarray, tol: float = TIE_TOL) -> np.ndarray:
    """Paired differences with ties decided by ``tol``: |d| <= tol is 0, and magnitudes that chain within
    ``tol`` share one value (so the signed-rank test ranks them as ties)."""
    magnitude = np.abs(diff)
    magnitude[magnitude <= tol] = 0.0
    snapped = snap_ties(pd.DataFrame(magnitude[None, :]), tol).to_numpy()[0] if len(diff) else magnitude
    return np.sign(diff) * snapped


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


def _worst_filled(matrix: pd.DataFrame) -> pd.DataFrame:
    """NaN -> -inf: below every accuracy, so rank-based statistics rank a missing cell last."""
    return matrix.fillna(-np.inf)


def rank_losses(matrix: pd.DataFrame, method: str = "average") -> pd.DataFrame:
    """Rank the losses on each dataset, 1 = best (highest accuracy).

    Parameters
    ----------
    matrix : DataFrame of shape (n_datasets, n_losses)
    method : {'average', 'min', 'max', 'dense', 'ordinal'}
        How tied accuracies are ranked (``scipy.stats.rankdata``). ``'average'`` is the Friedman convention;
        ``'min'`` (tied losses share the best of their ranks) is what the published Table 4 used.

    Returns
    -------
    ranks : DataFrame of shape (n_datasets, n_losses)
        NaN cells get the worst rank (tied among themselves by the same ``method``).
    """
    if method not in RANK_METHODS:
        raise ValueError(f"method={method!r}; use one of {RANK_METHODS}")
    values = _check_matrix(matrix)
    # Rank -accuracy so that 1 is the best; a missing cell (+inf after negation) is ranked last.
    negated = np.where(values.isna(), np.inf, -values.to_numpy())
    ranks = stats.rankdata(negated, method=method, axis=1) if len(values) else np.empty(values.shape)
    return pd.DataFrame(ranks.astype(float), index=values.index, columns=values.columns)


def count_wins(matrix: pd.DataFrame, tol: float = 0.0) -> pd.Series:
    """Number of datasets on which each loss is best; every loss within ``tol`` of the best counts.

    Parameters
    ----------
    matrix : DataFrame of shape (n_datasets, n_losses)
    tol : float
        Accuracy (fraction) within which a loss still counts as best. 0 means exact ties only.

    Returns
    -------
    wins : Series of shape (n_losses,), int
        NaN cells never win. Sums to more than n_datasets when there are ties.
    """
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    values = _check_matrix(matrix)
    best = values.max(axis=1, skipna=True)
    wins = values.ge(best - tol, axis=0).sum(axis=0)
    return wins.astype(int).rename("wins")


# --- the summary table ------------------------------------------------------------------------------
def _bootstrap_ci(values: np.ndarray, n_boot: int, confidence_level: float, seed: int) -> tuple[float, float]:
    if len(values) < 2 or n_boot == 0:
        return np.nan, np.nan
    if np.all(values == values[0]):  # the percentile bootstrap of a constant is that constant
        return float(values[0]), float(values[0])
    # scipy >= 1.15 names the generator `rng`; older versions call it `random_state`.
    generator = {_BOOTSTRAP_RNG: np.random.default_rng(seed)}
    result = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=n_boot,
        confidence_level=confidence_level,
        method="percentile",
        **generator,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def summary_table(
    selected: pd.DataFrame,
    net: str | None = None,
    *,
    noise: str | None = None,
    split: Hashable | None = None,
    losses: Sequence[str] | None = None,
    baseline: str = "CE",
    how: str = "per_seed",
    tie_method: str = "average",
    tol: float = 0.0,
    missing: str = "exclude",
    datasets: Iterable[str] | None = None,
    metric: str = "test_acc",
    n_boot: int = 10_000,
    confidence_level: float = 0.95,
    random_state: int | None = None,
) -> pd.DataFrame:
    """The reference study's Table 4 for one network: wins, mean accuracy difference to a baseline, mean rank.

    Parameters
    ----------
    selected : DataFrame
        Selected results.
    net, noise, split, losses, datasets, metric, missing
        As in ``accuracy_matrix``. Wins and ranks are relative to the losses compared, so pass the published
        six (``PAPER_LOSSES``) to compare with the published table.
    baseline : str
        The loss the accuracy differences are taken to (default ``'CE'``).
    how : {'per_seed', 'seed_mean'}
        ``'per_seed'``: wins, differences and ranks computed on each seed and averaged over seeds (the
        reference study's way; wins may then be fractional). ``'seed_mean'``: computed once on accuracies
        averaged over seeds.
    tie_method : str
        Rank method for ties (see ``rank_losses``): ``'average'`` (default, ranks sum to k(k+1)/2) or
        ``'min'`` (the published table's).
    tol : float
        Win tolerance (see ``count_wins``).
    n_boot : int
        Bootstrap resamples of the datasets for the confidence interval of the mean difference (0: none).
    confidence_level : float
        Of that interval (percentile bootstrap, ``scipy.stats.bootstrap``).
    random_state : int, optional
        Seed of the bootstrap; the same resamples are used for every loss (paired).

    Returns
    -------
    summary : DataFrame, one row per loss (index ``loss``)
        ``wins``; ``delta_acc``, ``delta_ci_low``, ``delta_ci_high`` (mean of loss minus baseline accuracy, in
        percentage points, and its interval); ``mean_rank`` (1 = best); ``n_datasets`` used; ``n_delta``
        (datasets where both the loss and the baseline have a result, < n_datasets only with
        ``missing='worst'``); ``n_seeds``; and, to say what the numbers are, ``net``, ``noise``, ``how``,
        ``tie_method``, ``tol``, ``missing``, ``baseline`` and ``excluded`` ('; '-joined names).
        ``summary.attrs["excluded"]`` maps each excluded dataset to its reason.

    Notes
    -----
    The mean difference is linear in the accuracies, so ``per_seed`` and ``seed_mean`` give the same value;
    the interval resamples datasets, each carrying its seed-averaged difference.
    """
    if how not in ("per_seed", "seed_mean"):
        raise ValueError(f"how={how!r}; use 'per_seed' (the reference study's way) or 'seed_mean'")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    common = dict(
        net=net, noise=noise, split=split, losses=losses, datasets=datasets, metric=metric, missing=missing
    )
    by_seed = per_seed_matrices(selected, **common)
    first = next(iter(by_seed.values()))
    if baseline not in first.columns:
        raise ValueError(
            f"baseline {baseline!r} is not among the losses {list(first.columns)}; pass baseline="
        )
    if len(first) == 0:
        raise ValueError(
            f"no dataset is left for net {first.attrs['net']!r} after the missing={missing!r} policy; "
            f"excluded: {first.attrs['excluded']}"
        )
    matrices = (
        list(by_seed.values()) if how == "per_seed" else [accuracy_matrix(selected, seed="mean", **common)]
    )
    wins = sum(count_wins(m, tol) for m in matrices) / len(matrices)
    mean_rank = sum(rank_losses(m, tie_method).mean() for m in matrices) / len(matrices)
    # Per-dataset difference, averaged over seeds (NaN when either cell is missing in any seed).
    deltas = sum(100.0 * m.sub(m[baseline], axis=0) for m in by_seed.values()) / len(by_seed)
    boot_seed = int(np.random.default_rng(random_state).integers(2**31 - 1))
    rows = []
    for loss in first.columns:
        d = deltas[loss].dropna().to_numpy()
        low, high = (0.0, 0.0) if loss == baseline else _bootstrap_ci(d, n_boot, confidence_level, boot_seed)
        rows.append(
            {
                "loss": loss,
                "delta_acc": d.mean() if len(d) else np.nan,
                "n_delta": len(d),
                "lo": low,
                "hi": high,
            }
        )
    deltas_table = pd.DataFrame(rows).set_index("loss")
    excluded = first.attrs["excluded"]
    summary = pd.DataFrame(
        {
            "net": first.attrs["net"],
            "noise": first.attrs["noise"],
            "wins": wins.astype(float),
            "delta_acc": deltas_table["delta_acc"],
            "delta_ci_low": deltas_table["lo"],
            "delta_ci_high": deltas_table["hi"],
            "mean_rank": mean_rank,
            "n_datasets": len(first),
            "n_delta": deltas_table["n_delta"],
            "n_seeds": len(by_seed),
            "how": how,
            "tie_method": tie_method,
            "tol": float(tol),
            "missing": missing,
            "baseline": baseline,
            "excluded": "; ".join(map(str, excluded)),
        },
        index=pd.Index(first.columns, name="loss"),
    )
    summary.attrs = {**first.attrs, "seed": how, "excluded": dict(excluded)}
    return summary


# --- tests ------------------------------------------------------------------------------------------
def friedman_test(matrix: pd.DataFrame) -> pd.Series:
    """Friedman rank-sum test over datasets, with the Iman-Davenport F correction.

    Parameters
    ----------
    matrix : DataFrame of shape (n_datasets, n_losses)
        At least 3 losses. NaN cells are ranked worst.

    Returns
    -------
    result : Series
        ``statistic`` (chi-square, tie-corrected, ``scipy.stats.friedmanchisquare``), ``pvalue``,
        ``iman_davenport_f`` = (n-1) chi2 / (n(k-1) - chi2) and its ``iman_davenport_pvalue`` on
        F(``df_num`` = k-1, ``df_den`` = (k-1)(n-1)), ``n_datasets``, ``n_losses``. All NaN with fewer than
        two datasets; statistic and p-values NaN when every dataset ties all losses.
    """
    values = _worst_filled(_check_matrix(matrix, min_losses=3))
    n, k = values.shape
    result = {
        "statistic": np.nan,
        "pvalue": np.nan,
        "iman_davenport_f": np.nan,
        "iman_davenport_pvalue": np.nan,
    }
    result.update(df_num=float(k - 1), df_den=float((k - 1) * (n - 1)), n_datasets=n, n_losses=k)
    tied_everywhere = bool((values.nunique(axis=1) == 1).all())
    if n < 2 or tied_everywhere:
        return pd.Series(result, name="friedman")
    chi2, p = stats.friedmanchisquare(*values.to_numpy().T)
    denominator = n * (k - 1) - chi2
    # chi2 reaches n(k-1) when all datasets rank the losses alike: F is then infinite.
    f = (n - 1) * chi2 / denominator if denominator > 1e-12 * n * k else np.inf
    result.update(
        statistic=float(chi2),
        pvalue=float(p),
        iman_davenport_f=float(f),
        iman_davenport_pvalue=float(stats.f.sf(f, k - 1, (k - 1) * (n - 1))),
    )
    return pd.Series(result, name="friedman")


def conover_posthoc(matrix: pd.DataFrame, p_adjust: str | None = "fdr_bh") -> pd.DataFrame:
    """Conover's post-hoc test for the Friedman design, all pairs of losses.

    ``scikit_posthocs.posthoc_conover_friedman`` with Benjamini-Hochberg adjustment by default.

    Parameters
    ----------
    matrix : DataFrame of shape (n_datasets, n_losses)
        NaN cells are ranked worst.
    p_adjust : str or None
        Passed to scikit-posthocs (``'fdr_bh'``, ``'holm'``, ..., or None for raw p-values).

    Returns
    -------
    pvalues : DataFrame of shape (n_losses, n_losses)
        Symmetric, 1 on the diagonal. NaN off the diagonal when the test is undefined (fewer than two
        datasets, or every dataset ties all losses).
    """
    values = _worst_filled(_check_matrix(matrix, min_losses=2))
    n, k = values.shape
    undefined = n < 2 or bool((values.nunique(axis=1) == 1).all())
    if undefined:
        pvalues = np.full((k, k), np.nan)
        np.fill_diagonal(pvalues, 1.0)
        return pd.DataFrame(pvalues, index=values.columns.copy(), columns=values.columns.copy())
    with warnings.catch_warnings():
        # Perfect agreement between datasets makes Conover's t infinite (p = 0); numpy warns about it.
        warnings.simplefilter("ignore", RuntimeWarning)
        pvalues = sp.posthoc_conover_friedman(a=values, melted=False, sort=False, p_adjust=p_adjust)
    pvalues.index.name, pvalues.columns.name = "loss", "loss"
    return pvalues


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of mean ranks for the Nemenyi test (Demšar 2006, eq. for CD).

    CD = q_alpha * sqrt(k (k + 1) / (6 n)) with q_alpha the studentized range quantile (infinite degrees of
    freedom) divided by sqrt(2).

    Parameters
    ----------
    k : int
        Number of losses compared (>= 2).
    n : int
        Number of datasets (>= 1).
    alpha : float
        Significance level.
    """
    if k < 2 or n < 1:
        raise ValueError(f"need k >= 2 losses and n >= 1 datasets, got k={k}, n={n}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    q_alpha = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    return float(q_alpha * np.sqrt(k * (k + 1) / (6.0 * n)))


def pairwise_wtl(matrix: pd.DataFrame, tol: float = 0.0) -> pd.DataFrame:
    """Wins / ties / losses of every loss against every other, over datasets.

    Parameters
    ----------
    matrix : DataFrame of shape (n_datasets, n_losses)
        A NaN cell loses to any result and ties with another NaN.
    tol : float
        Accuracy differences up to ``tol`` count as ties.

    Returns
    -------
    wtl : DataFrame, one row per ordered pair (loss, opponent), loss != opponent
        Columns ``loss``, ``opponent``, ``wins``, ``ties``, ``losses``, ``n_datasets``.
    """
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    values = _worst_filled(_check_matrix(matrix))
    rows = []
    for a, b in itertools.permutations(values.columns, 2):
        x, y = values[a].to_numpy(), values[b].to_numpy()
        with np.errstate(invalid="ignore"):  # -inf - -inf: both missing, a tie
            diff = np.where(np.isneginf(x) & np.isneginf(y), 0.0, x - y)
        wins, losses = int((diff > tol).sum()), int((diff < -tol).sum())
        rows.append(
            {"loss": a, "opponent": b, "wins": wins, "ties": len(diff) - wins - losses, "losses": losses}
        )
    return pd.DataFrame(rows, columns=["loss", "opponent", "wins", "ties", "losses"]).assign(
        n_datasets=len(values)
    )


def holm_adjust(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjust a family of p-values (``statsmodels.stats.multitest.multipletests``; default Holm's step-down,
    ``'fdr_bh'`` for Benjamini-Hochberg). NaN stays NaN and is not counted in the family."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = ~np.isnan(p)
    if finite.any():
        adjusted[finite] = multipletests(p[finite], method=method)[1]
    return adjusted


def wilcoxon_holm(
    matrix: pd.DataFrame,
    *,
    baseline: str | None = None,
    zero_method: str = "zsplit",
    alternative: str = "two-sided",
) -> pd.DataFrame:
    """Wilcoxon signed-rank test on paired accuracies, Holm-adjusted over the pairs tested.

    Parameters
    ----------
    matrix : DataFrame of shape (n_datasets, n_losses)
        Each pair uses the datasets where both losses have a result (``n_datasets`` says how many).
    baseline : str, optional
        Test every loss against this one; default: all pairs.
    zero_method : str
        How zero differences (ties) count, passed to ``scipy.stats.wilcoxon``. Default ``'zsplit'``: their
        ranks are split between the two sides, as Demšar (2006) recommends.
    alternative : str
        Passed to ``scipy.stats.wilcoxon`` (for ``loss - opponent``).

    Returns
    -------
    tests : DataFrame, one row per pair
        ``loss``, ``opponent``, ``n_datasets``, ``mean_diff`` and ``median_diff`` (loss - opponent, percentage
        points), ``statistic``, ``pvalue``, ``pvalue_holm``.
    """
    values = _check_matrix(matrix, min_losses=2)
    if baseline is not None and baseline not in values.columns:
        raise ValueError(f"baseline {baseline!r} is not among the losses {list(values.columns)}")
    pairs = (
        [(loss, baseline) for loss in values.columns if loss != baseline]
        if baseline is not None
        else list(itertools.combinations(values.columns, 2))
    )
    rows = []
    for a, b in pairs:
        diff = _snap_differences((values[a] - values[b]).dropna().to_numpy())
        row = {"loss": a, "opponent": b, "n_datasets": len(diff), "statistic": np.nan, "pvalue": np.nan}
        row["mean_diff"] = 100 * diff.mean() if len(diff) else np.nan
        row["median_diff"] = 100 * np.median(diff) if len(diff) else np.nan
        if len(diff) >= 2 and not np.all(diff == 0):  # else undefined: one dataset, or no difference at all
            with warnings.catch_warnings():  # scipy warns that small samples use the normal approximation
                warnings.simplefilter("ignore", UserWarning)
                result = stats.wilcoxon(diff, zero_method=zero_method, alternative=alternative)
            row.update(statistic=float(result.statistic), pvalue=float(result.pvalue))
        rows.append(row)
    columns = ["loss", "opponent", "n_datasets", "mean_diff", "median_diff", "statistic", "pvalue"]
    tests = pd.DataFrame(rows, columns=columns)
    tests["pvalue_holm"] = holm_adjust(tests["pvalue"].to_numpy()) if len(tests) else []
    return tests


# --- performance profiles ---------------------------------------------------------------------------
def performance_profile(matrix: pd.DataFrame, taus: Sequence[float] | None = None) -> pd.DataFrame:
    """Dolan-Moré performance profile on accuracy (the reference study's Figure 2).

    For each loss and threshold tau, the fraction of datasets on which its accuracy is at least tau times the
    best accuracy on that dataset.

    Parameters
    ----------
    matrix : DataFrame of shape (n_datasets, n_losses)
        A NaN cell never reaches the threshold (a failure, as in Dolan & Moré).
    taus : sequence of float, optional
        Thresholds, >= 0; default 201 points in [0, 1].

    Returns
    -------
    profile : DataFrame of shape (n_taus, n_losses), index ``tau``
        Values in [0, 1]. Every loss tied with the best counts at tau = 1; on a dataset whose best accuracy is
        0, every loss with a result counts at every tau. A 1e-12 slack absorbs rounding in tau * best.
    """
    values = _check_matrix(matrix)
    if len(values) == 0:
        raise ValueError("performance_profile needs at least one dataset")
    taus = np.linspace(0.0, 1.0, 201) if taus is None else np.asarray(taus, dtype=float)
    if taus.ndim != 1 or (taus < 0).any():
        raise ValueError("taus must be a 1-d sequence of thresholds >= 0")
    acc = values.to_numpy()
    best = np.nanmax(np.where(np.isnan(acc), -np.inf, acc), axis=1)
    with np.errstate(invalid="ignore"):
        reached = acc[None, :, :] >= taus[:, None, None] * best[None, :, None] - 1e-12
    fraction = reached.mean(axis=1)  # NaN >= x is False: a missing cell never counts
    return pd.DataFrame(fraction, index=pd.Index(taus, name="tau"), columns=values.columns)


# --- comparing runs ---------------------------------------------------------------------------------
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
    both = first.merge(second, on=list(KEY_COLUMNS), suffixes=("_first", "_second"), validate="one_to_one")
    moved = both[(both[f"{metric}_first"] - both[f"{metric}_second"]).abs() > TIE_TOL]
    moved.attrs = {"n_cells": len(both)}
    return moved


# --- the published table ----------------------------------------------------------------------------
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


# The result object builds on the functions above; imported last so that it can use them.
from mixbench.analysis.bayes import BayesianResult, bayesian_signed_rank, rank_biserial  # noqa: E402
from mixbench.analysis.verdict import (  # noqa: E402
    DEFAULT_ROPE,
    RunAnalysis,
    SettingAnalysis,
    analyse_run,
    analyse_selected,
    cliques,
    nemenyi_posthoc,
    tuning_audit,
)

__all__ += [
    "BayesianResult",
    "DEFAULT_ROPE",
    "RunAnalysis",
    "SettingAnalysis",
    "analyse_run",
    "analyse_selected",
    "bayesian_signed_rank",
    "cliques",
    "nemenyi_posthoc",
    "rank_biserial",
    "tuning_audit",
]
