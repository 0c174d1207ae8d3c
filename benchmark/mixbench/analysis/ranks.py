"""Wins and ranks of the losses over datasets, and the reference study's summary table (Table 4).

Functions of an accuracy matrix (``mixbench.analysis.matrices``): ``rank_losses``, ``count_wins``,
``pairwise_wtl``; and ``summary_table`` of selected results, with a percentile-bootstrap interval of the mean
accuracy difference to a baseline.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from mixbench.analysis.matrices import accuracy_matrix, check_matrix, per_seed_matrices, worst_filled

__all__ = ["RANK_METHODS", "count_wins", "pairwise_wtl", "rank_losses", "summary_table"]


#: How tied accuracies can be ranked (``scipy.stats.rankdata``).
RANK_METHODS = ("average", "min", "max", "dense", "ordinal")
_BOOTSTRAP_RNG = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"


# --- ranks, wins ---------------------------------------------------------------------------------------
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
    values = check_matrix(matrix)
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
    values = check_matrix(matrix)
    best = values.max(axis=1, skipna=True)
    wins = values.ge(best - tol, axis=0).sum(axis=0)
    return wins.astype(int).rename("wins")


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
    values = worst_filled(check_matrix(matrix))
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


# --- the summary table ---------------------------------------------------------------------------------
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
