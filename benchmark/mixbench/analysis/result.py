"""The result objects of the analysis: ``SettingAnalysis`` (one network and label noise) and ``RunAnalysis``
(one run: every setting, and what the run as a whole says), built by ``analysis.verdict.analyse_run``.

Immutable (autorank's ``RankResult`` is the model): the renderers of ``mixbench.report`` only format their
fields and compute no statistic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

__all__ = ["RunAnalysis", "SettingAnalysis"]


@dataclass(frozen=True)
class SettingAnalysis:
    """All statistics of one (network, noise) setting. DataFrames are not to be modified by renderers.

    Attributes
    ----------
    net, noise : str
    label : str
        How reports name the setting ("linear network", "hidden network, noise symmetric-0.4").
    losses : list of str
        Compared, in display order; ``baseline`` is one of them.
    matrix : DataFrame (n_datasets x n_losses)
        Seed-averaged test accuracies after the missing-value policy (split-averaged with several splits).
    by_seed : dict
        ``{seed: matrix}`` on the same datasets.
    ranks : Series
        Mean rank of each loss on ``matrix`` (average ranks, 1 = best): the ranks the CD diagram uses.
    summaries : dict
        ``{'per_seed': ..., 'seed_mean': ...}`` from ``summary_table`` (wins, ΔAcc and CI, mean rank).
    verdict : DataFrame, one row per loss other than the baseline
        ``n_datasets``, ``delta_acc``, ``ci_low``, ``ci_high``, ``median_diff`` (pp), ``rank_biserial``,
        ``wilcoxon_p``, ``wilcoxon_p_holm``, ``p_better``, ``p_equivalent``, ``p_worse``, ``decision``,
        ``seed_decisions`` ({seed: decision}), ``seeds_agree``, ``seed_agreement`` (share of seeds whose
        decision alone is the overall decision), ``lr_high``, ``lr_low``, ``last_epoch``,
        ``flag`` (the tuning audit's: '' or the edges reached; ``mixbench.report.prose`` words it and
        the quotable sentence of each row).
    seed_verdicts : DataFrame
        One row per (loss, seed): ``p_better``, ``p_equivalent``, ``p_worse``, ``decision``, ``delta_acc``.
    tuning : DataFrame
        ``tuning_audit`` of every loss of the setting (baseline included).
    friedman : DataFrame
        One row per accuracy variant (``seed mean``, ``seed 60``, ...): ``friedman_test`` and ``nemenyi_cd``.
    cd : dict
        Per variant: ``ranks``, ``pvalues`` (of ``cd_test``), ``cd`` (Nemenyi's, or None for Conover),
        ``cliques``, ``n_datasets``.
    conover : DataFrame
        Conover-BH p-values on ``matrix`` (the heat map).
    wtl, wilcoxon : DataFrame
        ``pairwise_wtl`` and ``wilcoxon_holm`` (vs baseline) on ``matrix``.
    profile : DataFrame
        ``performance_profile`` of ``matrix``.
    paper : DataFrame or None
        ``compare_with_paper`` over the six published losses (noise-free UCI settings only), with
        ``attrs['average_rank_sum']`` (the same ranks with average ties).
    paper_summary : DataFrame or None
    per_split : DataFrame or None
        Mean rank (per seed, averaged) of each loss on each split alone, one column per split, then
        ``mean`` (over the splits); ``attrs['splits']``, and ``attrs['n_datasets']`` per split.
    per_dataset : DataFrame (every expected dataset x loss)
        Seed-averaged accuracies before the missing-value policy (NaN = no result).
    notes : tuple of str
        Statistics that are undefined for this setting, and why.
    """

    net: str
    noise: str
    label: str
    losses: list[str]
    baseline: str
    matrix: pd.DataFrame
    by_seed: dict
    ranks: pd.Series
    summaries: dict
    verdict: pd.DataFrame
    seed_verdicts: pd.DataFrame
    tuning: pd.DataFrame
    friedman: pd.DataFrame
    cd: dict
    conover: pd.DataFrame
    wtl: pd.DataFrame
    wilcoxon: pd.DataFrame
    profile: pd.DataFrame
    paper: pd.DataFrame | None
    paper_summary: pd.DataFrame | None
    per_split: pd.DataFrame | None
    per_dataset: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A short identifier (for file names and HTML ids): ``linear``, ``hidden-symmetric-0.4``."""
        return self.net if self.noise == "none" else f"{self.net}-{self.noise}"


@dataclass(frozen=True)
class RunAnalysis:
    """The analysis of one run: every setting, and what the run as a whole says.

    Attributes
    ----------
    settings : list of SettingAnalysis
    options : mapping
        How it was computed: ``baseline``, ``rope``, ``alpha``, ``threshold``, ``cd_test``, ``missing``,
        ``n_boot``, ``n_samples``, ``random_state``, ``zero_method``.
    nets, noises, splits, seeds, losses, datasets : list
        What the run holds (``datasets``: every dataset expected, failed ones included).
    skipped : list of str
        Settings with nothing to compare (a single loss).
    failures, diverged : DataFrame
        Failed tasks; selected cells flagged diverged.
    excluded : DataFrame
        ``net``, ``noise``, ``dataset``, ``reason``: datasets left out of the statistics.
    config : mapping
        The run's config.json.
    curves : DataFrame or None
        Validation accuracy per epoch of the chosen datasets at the selected learning rate, with a
        ``selected`` column; None when the run kept no per-epoch records.
    curve_datasets : list of str
    curve_reason : str
    focus : DataFrame or None
        ``focus_curves`` of the run's losses (None when no loss could be resolved); ``focus_unknown`` the
        losses left out.
    preprocessing : list of str
        What loading did to each dataset (folder and OpenML suites: encoding, imputation, scaling), one
        sentence each; empty for UCI-121 and toy.
    incomplete : str
        '' for a complete run; else what is missing and how to finish it (``run.completeness.describe()``
        of the result store), which reports print first.
    has_epochs : bool
        Whether the run kept per-epoch records.
    identical : list of (str, str)
        Pairs of losses that train identically at every epoch (one loss under two names): they double count
        in every rank statistic (:func:`mixbench.losses.identical_losses`).
    """

    settings: list[SettingAnalysis]
    options: MappingProxyType
    nets: list[str]
    noises: list[str]
    splits: list
    seeds: list
    losses: list[str]
    datasets: list[str]
    skipped: list[str]
    failures: pd.DataFrame
    diverged: pd.DataFrame
    excluded: pd.DataFrame
    config: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    curves: pd.DataFrame | None = None
    curve_datasets: list[str] = field(default_factory=list)
    curve_reason: str = ""
    incomplete: str = ""
    preprocessing: list[str] = field(default_factory=list)
    focus: pd.DataFrame | None = None
    focus_unknown: list[str] = field(default_factory=list)
    has_epochs: bool = False
    identical: list[tuple[str, str]] = field(default_factory=list)

    @property
    def baseline(self) -> str:
        return self.options["baseline"]

    def verdict_table(self) -> pd.DataFrame:
        """Every setting's verdict in one tidy table (``net``, ``noise``, ``loss`` and the verdict
        columns)."""
        frames = [
            s.verdict.reset_index().assign(net=s.net, noise=s.noise, baseline=s.baseline)
            for s in self.settings
        ]
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        first = ["net", "noise", "loss", "baseline"]
        return table[first + [c for c in table.columns if c not in first]]
