"""Statistics across datasets: accuracy matrices, wins, ranks, tests, performance profiles, the verdict.

Small pure functions on tidy DataFrames, in the style of scikit-posthocs, usable from a notebook::

    from mixbench import analysis
    acc = analysis.accuracy_matrix(selected, net="linear", seed="mean")   # dataset x loss
    analysis.rank_losses(acc).mean()                                      # mean rank, 1 = best
    analysis.friedman_test(acc)
    analysis.summary_table(selected, net="linear", how="per_seed")        # the reference study's Table 4
    result = analysis.analyse_run(mixbench.results.load(run_dir))        # everything a report shows, once
    result.verdict_table()                                                # each loss against the baseline
    study = analysis.analyse_study(paper_run, noisy=[noisy_run])          # several runs, analysed once

Modules (this package only re-exports their public names)
--------------------------------------------------------
``matrices`` (selected results -> dataset x loss matrices, the missing-value policy, tie snapping),
``ranks`` (ranks, wins, win / tie / loss counts, the summary table), ``hypothesis`` (Friedman, post-hoc
tests, critical difference, Wilcoxon-Holm, p-value adjustment), ``bayes`` (Bayesian signed-rank test, effect
size), ``profiles`` (performance profiles), ``paper`` (the published Table 4), ``tuning`` (the tuning
audit), ``focus`` (gradient focus curves), ``verdict`` (``analyse_run`` -> ``RunAnalysis``), ``result``
(``RunAnalysis``, ``SettingAnalysis``), ``study`` (statistics over several runs: ``analyse_study`` ->
``StudyAnalysis``), ``formatting`` (number formats).

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

from mixbench.analysis import formatting
from mixbench.analysis.bayes import BayesianResult, bayesian_signed_rank, rank_biserial
from mixbench.analysis.focus import focus_curves
from mixbench.analysis.hypothesis import (
    adjust_pvalues,
    cliques,
    conover_posthoc,
    friedman_test,
    nemenyi_cd,
    nemenyi_posthoc,
    wilcoxon_holm,
)
from mixbench.analysis.matrices import (
    CELL_COLUMNS,
    LOSS_ORDER,
    MISSING_POLICIES,
    TIE_TOL,
    accuracy_matrix,
    order_losses,
    per_seed_matrices,
    snap_ties,
)
from mixbench.analysis.paper import PAPER_LOSSES, compare_with_paper, load_paper_table
from mixbench.analysis.profiles import performance_profile
from mixbench.analysis.ranks import RANK_METHODS, count_wins, pairwise_wtl, rank_losses, summary_table
from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.analysis.study import (
    GridStudyAnalysis,
    NoiseComparison,
    StudyAnalysis,
    analyse_grid_study,
    analyse_study,
    changed_cells,
    grid_changes,
    noise_robustness,
)
from mixbench.analysis.tuning import EDGE_SHARE, FLAG_SEPARATOR, tuning_audit
from mixbench.analysis.verdict import DEFAULT_ROPE, analyse_run, analyse_selected

__all__ = [
    "LOSS_ORDER",
    "PAPER_LOSSES",
    "CELL_COLUMNS",
    "TIE_TOL",
    "MISSING_POLICIES",
    "RANK_METHODS",
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
    "adjust_pvalues",
    "snap_ties",
    "wilcoxon_holm",
    "performance_profile",
    "load_paper_table",
    "noise_robustness",
    "changed_cells",
    "compare_with_paper",
    "BayesianResult",
    "DEFAULT_ROPE",
    "RunAnalysis",
    "SettingAnalysis",
    "analyse_run",
    "analyse_selected",
    "bayesian_signed_rank",
    "cliques",
    "focus_curves",
    "formatting",
    "nemenyi_posthoc",
    "rank_biserial",
    "tuning_audit",
    "EDGE_SHARE",
    "FLAG_SEPARATOR",
    "GridStudyAnalysis",
    "NoiseComparison",
    "StudyAnalysis",
    "analyse_grid_study",
    "analyse_study",
    "grid_changes",
]

#: Old names, kept working with a DeprecationWarning: ``holm_adjust`` also did other adjustments than Holm's,
#: ``KEY_COLUMNS`` named the cell key while ``results.KEY_COLUMNS`` names the task key.
_RENAMED = {"holm_adjust": "adjust_pvalues", "KEY_COLUMNS": "CELL_COLUMNS"}


def __getattr__(name: str):
    if name in _RENAMED:
        import warnings

        warnings.warn(
            f"{__name__}.{name} is now {__name__}.{_RENAMED[name]}", DeprecationWarning, stacklevel=2
        )
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
