"""Paired tests of one loss against another over datasets: Bayesian signed-rank and effect sizes.

``bayesian_signed_rank`` is the test of Benavoli, Corani, Demšar & Zaffalon (2017, "Time for a change: a
tutorial for comparing multiple classifiers through Bayesian analysis", JMLR 18(77)), with a region of
practical equivalence (ROPE). It draws the same Dirichlet-process posterior as ``baycomp.SignedRankTest``
(the authors' reference implementation: prior pseudo-observation 0 with weight 0.5, draws from
``numpy.random.RandomState``), but evaluates the quadratic forms of all samples with prefix sums over the
sorted differences instead of an n x n product per sample in a Python loop, which makes it about a hundred
times faster for 120 datasets; the test suite checks it against baycomp itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["BayesianResult", "DECISIONS", "bayesian_signed_rank", "rank_biserial", "decide"]

#: The four outcomes of a Bayesian comparison at a probability threshold.
DECISIONS = ("better", "equivalent", "worse", "undecided")


@dataclass(frozen=True)
class BayesianResult:
    """Posterior probabilities that ``x`` is better than, practically equivalent to, or worse than ``y``."""

    p_better: float
    p_equivalent: float
    p_worse: float
    n: int
    rope: float

    def decision(self, threshold: float = 0.95) -> str:
        return decide(self.p_better, self.p_equivalent, self.p_worse, threshold)


def decide(p_better: float, p_equivalent: float, p_worse: float, threshold: float = 0.95) -> str:
    """'better', 'equivalent' or 'worse' when that posterior probability reaches ``threshold``, else
    'undecided' (Benavoli et al. 2017, section 4: a decision is taken when one region holds most mass)."""
    if not 0.5 < threshold < 1:
        raise ValueError(f"threshold must be in (0.5, 1), got {threshold}")
    for name, p in (("better", p_better), ("equivalent", p_equivalent), ("worse", p_worse)):
        if np.isfinite(p) and p >= threshold:
            return name
    return "undecided"


def _dirichlet_draws(n_weights: int, prior: float, n_samples: int, random_state: int | None) -> np.ndarray:
    """Posterior weights (n_samples x n_weights), the prior's first."""
    weights = np.ones(n_weights)
    weights[0] = prior
    draws = np.random.RandomState(random_state).dirichlet(weights, n_samples)
    draws.flags.writeable = False
    return draws


# Seeded draws depend on the number of datasets only, so one analysis (every loss, every seed, one dataset
# count) draws them once.
_seeded_draws = functools.lru_cache(maxsize=2)(_dirichlet_draws)


def _region_masses(diff: np.ndarray, draws: np.ndarray, rope: float) -> tuple[np.ndarray, np.ndarray]:
    """For each posterior sample w, the masses sum_ij w_i w_j H(-(d_i + d_j), 2 rope) (x ahead) and
    sum_ij w_i w_j H(d_i + d_j, 2 rope) (y ahead), as baycomp computes them with one n x n product per sample.

    With the differences sorted, row i of each step matrix is 0, then 1/2 on ties, then 1 (or the mirror),
    because d_i + d_j grows with d_j; so each quadratic form is a sum over i of w_i times a prefix or suffix
    sum of w, read at the row's step positions: O(samples x n) instead of O(samples x n^2). The step
    positions are counted on the same float sums baycomp compares, so ties fall the same way.
    """
    order = np.argsort(diff, kind="stable")
    d = diff[order]
    w = draws[:, order]
    n = len(d)
    sums = d[:, None] + d[None, :]
    above = _heaviside(sums, 2 * rope)  # rows: 0 ... 1/2 ... 1
    below = _heaviside(-sums, 2 * rope)  # rows: 1 ... 1/2 ... 0
    zeros = np.zeros((len(w), 1))
    prefix = np.concatenate([zeros, np.cumsum(w, axis=1)], axis=1)  # prefix[:, k] = sum_{j<k} w_j
    total = prefix[:, -1:]
    start_half = n - (above > 0).sum(axis=1)  # first j with H > 0
    start_one = n - (above == 1).sum(axis=1)  # first j with H = 1
    mass_y = (
        w * ((total - prefix[:, start_one]) + 0.5 * (prefix[:, start_one] - prefix[:, start_half]))
    ).sum(1)
    end_one = (below == 1).sum(axis=1)  # j < end_one: H = 1
    end_half = (below > 0).sum(axis=1)  # end_one <= j < end_half: H = 1/2
    mass_x = (w * (prefix[:, end_one] + 0.5 * (prefix[:, end_half] - prefix[:, end_one]))).sum(1)
    return mass_x, mass_y


def _heaviside(a: np.ndarray, threshold: float) -> np.ndarray:
    """1 above the threshold, 1/2 on it, 0 below (the Dirichlet-process signed rank's step function)."""
    return (a > threshold).astype(float) + 0.5 * (a == threshold)


def bayesian_signed_rank(
    x: np.ndarray,
    y: np.ndarray,
    *,
    rope: float = 0.01,
    prior: float = 0.5,
    n_samples: int = 50_000,
    random_state: int | None = 0,
) -> BayesianResult:
    """Bayesian signed-rank test of paired scores ``x`` against ``y`` (one pair per dataset).

    Parameters
    ----------
    x, y : array of shape (n_datasets,)
        Paired scores, e.g. test accuracies of a loss and of the baseline. Pairs with a NaN are left out.
    rope : float
        Half-width of the region of practical equivalence, in the scores' unit (0.01 = 1 pp of accuracy).
        0 gives a test without ROPE (``p_equivalent`` is then 0).
    prior : float
        Weight of the prior pseudo-observation (a difference of 0), as in baycomp.
    n_samples : int
        Posterior samples.
    random_state : int or None
        Seed of the draws; a given seed reproduces baycomp's ``SignedRankTest`` with ``random_state`` the
        same.

    Returns
    -------
    result : BayesianResult
        ``p_better`` = P(x - y > rope), ``p_equivalent``, ``p_worse`` = P(x - y < -rope): for each posterior
        sample, the region holding the most mass wins, and these are the shares of samples won.
        All NaN when no pair is complete.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d and of one length, got shapes {x.shape} and {y.shape}")
    if rope < 0:
        raise ValueError(f"rope must be >= 0, got {rope}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) == 0:
        return BayesianResult(np.nan, np.nan, np.nan, 0, rope)
    # baycomp's convention: differences y - x, with the prior's pseudo-observation 0 first.
    diff = np.concatenate(([0.0], y - x))
    if random_state is None:  # fresh draws each call, as baycomp does without a seed
        draws = _dirichlet_draws(len(diff), prior, n_samples, None)
    else:
        draws = _seeded_draws(len(diff), float(prior), int(n_samples), int(random_state))
    mass_x, mass_y = _region_masses(diff, draws, rope)
    if rope > 0:
        samples = np.column_stack([mass_x, 1.0 - mass_x - mass_y, mass_y])
    else:  # without a ROPE baycomp takes P(x better) as the complement of P(y better)
        samples = np.column_stack([1.0 - mass_y, np.zeros(n_samples), mass_y])
    winners = np.bincount(np.argmax(samples, axis=1), minlength=3) / n_samples
    return BayesianResult(float(winners[0]), float(winners[1]), float(winners[2]), int(len(x)), rope)


def rank_biserial(x: np.ndarray, y: np.ndarray, *, tol: float = 0.0) -> float:
    """Matched-pairs rank-biserial correlation of ``x - y`` (Kerby 2014), in [-1, 1].

    (sum of the ranks of |d| where x > y minus that where x < y) / (sum of all those ranks), with
    differences within ``tol`` of 0 left out, as the Wilcoxon test's 'wilcox' zero method does; ranks are
    average ranks of |d|. +1: x better on every dataset that differs. NaN when no difference is left.
    """
    d = np.asarray(x, dtype=float) - np.asarray(y, dtype=float)
    d = d[~np.isnan(d)]
    d = d[np.abs(d) > tol]
    if len(d) == 0:
        return float("nan")
    ranks = stats.rankdata(np.abs(d))
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())
