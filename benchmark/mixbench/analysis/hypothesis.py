"""Frequentist tests over datasets: Friedman, the post-hoc tests, Wilcoxon signed-rank, p-value adjustment.

All take an accuracy matrix (``mixbench.analysis.matrices``): ``friedman_test`` (with Iman-Davenport),
``conover_posthoc`` and ``nemenyi_posthoc`` (all pairs), ``nemenyi_cd`` (the critical difference), ``cliques``
(the bars of a critical-difference diagram), ``wilcoxon_holm`` (paired tests, Holm-adjusted) and
``adjust_pvalues`` (a family of p-values, Holm or another ``statsmodels`` method).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scikit_posthocs as sp
from scipy import stats
from statsmodels.stats.multitest import multipletests

from mixbench.analysis.matrices import TIE_TOL, check_matrix, snap_ties, worst_filled

__all__ = [
    "adjust_pvalues",
    "cliques",
    "conover_posthoc",
    "friedman_test",
    "nemenyi_cd",
    "nemenyi_posthoc",
    "wilcoxon_holm",
]


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
    values = worst_filled(check_matrix(matrix, min_losses=3))
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
    values = worst_filled(check_matrix(matrix, min_losses=2))
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


def nemenyi_posthoc(matrix: pd.DataFrame) -> pd.DataFrame:
    """Nemenyi's all-pairs test for the Friedman design (``scikit_posthocs.posthoc_nemenyi_friedman``).

    Two losses differ at level alpha exactly when their mean ranks differ by more than
    ``nemenyi_cd(k, n, alpha)``: cliques drawn from these p-values agree with the drawn CD.
    NaN cells rank worst. Returns a symmetric (n_losses x n_losses) DataFrame, NaN where undefined.
    """
    values = worst_filled(check_matrix(matrix, min_losses=2))
    n, k = values.shape
    if n < 2:
        pvalues = np.full((k, k), np.nan)
        np.fill_diagonal(pvalues, 1.0)
        return pd.DataFrame(pvalues, index=values.columns.copy(), columns=values.columns.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        pvalues = sp.posthoc_nemenyi_friedman(values.to_numpy())
    pvalues.index = pvalues.columns = values.columns.copy()
    pvalues.index.name = pvalues.columns.name = "loss"
    return pvalues.clip(upper=1.0)


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


def cliques(ranks: pd.Series, pvalues: pd.DataFrame, alpha: float = 0.05) -> list[list[str]]:
    """Maximal groups of losses, consecutive in rank order, that the test separates nowhere (p >= alpha for
    every pair inside): the bars of a critical-difference diagram. Single losses are not listed."""
    order = list(ranks.sort_values(kind="stable").index)
    found: list[list[str]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(
            not (pvalues.loc[a, order[j + 1]] < alpha) for a in order[i : j + 1]
        ):
            j += 1
        group = order[i : j + 1]
        if len(group) > 1 and not any(set(group) <= set(g) for g in found):
            found.append(group)
    return found


def adjust_pvalues(pvalues: Sequence[float], method: str = "holm") -> np.ndarray:
    """Adjust a family of p-values for multiple comparisons (``statsmodels.stats.multitest.multipletests``):
    ``method='holm'`` (default) Holm's step-down, ``'fdr_bh'`` Benjamini-Hochberg, or any other method
    ``multipletests`` knows. NaN stays NaN and is not counted in the family."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = ~np.isnan(p)
    if finite.any():
        adjusted[finite] = multipletests(p[finite], method=method)[1]
    return adjusted


def _snap_differences(diff: np.ndarray, tol: float = TIE_TOL) -> np.ndarray:
    """Paired differences with ties decided by ``tol``: |d| <= tol is 0, and magnitudes that chain within
    ``tol`` share one value (so the signed-rank test ranks them as ties)."""
    magnitude = np.abs(diff)
    magnitude[magnitude <= tol] = 0.0
    snapped = snap_ties(pd.DataFrame(magnitude[None, :]), tol).to_numpy()[0] if len(diff) else magnitude
    return np.sign(diff) * snapped


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
    values = check_matrix(matrix, min_losses=2)
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
    tests["pvalue_holm"] = adjust_pvalues(tests["pvalue"].to_numpy()) if len(tests) else []
    return tests
