"""Statistics over several runs of one study, computed once: ``analyse_study(...) -> StudyAnalysis`` (the
README's results: the reference run, label noise, split columns, the batch accuracy rule) and
``analyse_grid_study(...) -> GridStudyAnalysis`` (the robustness study: reference grid against fair grid,
seeds, label noise). Each run is analysed once (``analyse_run``); the renderers of ``mixbench.report``
(``markdown``) only format these objects.

The pieces are small functions of matrices and analyses: ``noise_robustness`` (accuracy lost to label noise),
``changed_cells`` (cells two runs disagree on), ``grid_changes`` (the verdict under two grids).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from mixbench.analysis.hypothesis import wilcoxon_holm
from mixbench.analysis.matrices import CELL_COLUMNS, TIE_TOL
from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.analysis.verdict import analyse_run

__all__ = [
    "GridStudyAnalysis",
    "NoiseComparison",
    "StudyAnalysis",
    "analyse_grid_study",
    "analyse_study",
    "changed_cells",
    "grid_changes",
    "noise_robustness",
]


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


def grid_changes(reference: RunAnalysis, other: RunAnalysis) -> pd.DataFrame:
    """The verdict of each loss under two analyses of one grid of settings (e.g. two learning-rate grids).

    Returns
    -------
    changes : DataFrame, one row per (setting of ``reference`` that ``other`` has, loss)
        ``net``, ``noise``, ``loss``, ``is_baseline``; ``decision_reference``, ``decision_other``,
        ``delta_reference``, ``delta_other`` (ΔAcc against the baseline, pp; NaN and '' for the baseline);
        ``accuracy_reference``, ``accuracy_other`` (mean test accuracy over the setting's datasets, %; NaN
        where ``other`` lacks the loss).
    """
    rows = []
    for setting in reference.settings:
        other_setting = _setting(other, setting.net, setting.noise)
        if other_setting is None:
            continue
        for loss in setting.losses:
            row = {
                "net": setting.net,
                "noise": setting.noise,
                "loss": loss,
                "is_baseline": loss == setting.baseline,
                "decision_reference": "",
                "decision_other": "",
                "delta_reference": np.nan,
                "delta_other": np.nan,
                "accuracy_reference": 100 * setting.matrix[loss].mean(),
                "accuracy_other": (
                    100 * other_setting.matrix[loss].mean() if loss in other_setting.matrix else float("nan")
                ),
            }
            if loss != setting.baseline:
                r, f = setting.verdict.loc[loss], other_setting.verdict.loc[loss]
                row.update(
                    decision_reference=r["decision"],
                    decision_other=f["decision"],
                    delta_reference=r["delta_acc"],
                    delta_other=f["delta_acc"],
                )
            rows.append(row)
    columns = [
        "net",
        "noise",
        "loss",
        "is_baseline",
        "decision_reference",
        "decision_other",
        "delta_reference",
        "delta_other",
        "accuracy_reference",
        "accuracy_other",
    ]
    return pd.DataFrame(rows, columns=columns)


# --- the study objects ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoiseComparison:
    """Accuracy lost to label noise: one noisy setting against the same network without noise.

    ``table`` is ``noise_robustness(clean.matrix, noisy.matrix, baseline=clean.baseline)``.
    """

    clean: SettingAnalysis
    noisy: SettingAnalysis
    table: pd.DataFrame


@dataclass(frozen=True)
class StudyAnalysis:
    """The analyses of the README's results: the reference run and the runs compared with it.

    Attributes
    ----------
    main : RunAnalysis
        The reference-protocol run.
    n_datasets, n_selected : int
        Datasets with a selected result, and selected results, of that run.
    noisy : tuple of RunAnalysis
        Runs with label noise.
    robustness : mapping
        ``{(i, setting key): NoiseComparison}`` for each setting of ``noisy[i]`` whose network ``main`` has.
    splits : tuple of RunAnalysis
        Runs over several split columns.
    batch : RunAnalysis or None
        The reference protocol with the reference code's accuracy rule.
    moved : DataFrame or None
        ``changed_cells`` of the main run against that one.
    """

    main: RunAnalysis
    n_datasets: int
    n_selected: int
    noisy: tuple[RunAnalysis, ...] = ()
    robustness: Mapping[tuple[int, str], NoiseComparison] = field(
        default_factory=lambda: MappingProxyType({})
    )
    splits: tuple[RunAnalysis, ...] = ()
    batch: RunAnalysis | None = None
    moved: pd.DataFrame | None = None


@dataclass(frozen=True)
class GridStudyAnalysis:
    """The analyses of the robustness study: the reference grid against the fair grid, seeds, label noise.

    Attributes
    ----------
    reference, fair : RunAnalysis
        The reference-protocol run and the fair-grid run.
    changes : DataFrame
        ``grid_changes(reference, fair)``.
    seeds : RunAnalysis or None
        A run of several seeds (how often each decision holds).
    fair_noisy : RunAnalysis or None
        The fair grid with label noise; ``fair_clean`` the fair run restricted to its seeds.
    reference_noisy : RunAnalysis or None
        The reference grid with the same label noise; ``noisy_changes`` is ``grid_changes(reference_noisy,
        fair_noisy)``.
    robustness : mapping
        ``{setting key of fair_noisy: NoiseComparison}`` against ``fair_clean``.
    """

    reference: RunAnalysis
    fair: RunAnalysis
    changes: pd.DataFrame
    seeds: RunAnalysis | None = None
    fair_noisy: RunAnalysis | None = None
    fair_clean: RunAnalysis | None = None
    reference_noisy: RunAnalysis | None = None
    noisy_changes: pd.DataFrame | None = None
    robustness: Mapping[str, NoiseComparison] = field(default_factory=lambda: MappingProxyType({}))


def _setting(analysis: RunAnalysis, net: str, noise: str | None = None) -> SettingAnalysis | None:
    for s in analysis.settings:
        if s.net == net and (noise is None or s.noise == noise):
            return s
    return None


def _compare_noise(clean: SettingAnalysis, noisy: SettingAnalysis) -> NoiseComparison:
    table = noise_robustness(clean.matrix, noisy.matrix, baseline=clean.baseline)
    return NoiseComparison(clean=clean, noisy=noisy, table=table)


def _with_seeds(run: Any, seeds) -> Any:
    """The run restricted to some seeds (to compare with a run of those seeds only)."""
    return dataclasses.replace(run, selected=run.selected[run.selected["seed"].isin(seeds)])


def analyse_study(
    paper: Any,
    noisy: Sequence[Any] = (),
    splits: Any | Sequence[Any] | None = None,
    batch_accuracy: Any | None = None,
    **options,
) -> StudyAnalysis:
    """Analyse the runs of the README's results once.

    Parameters
    ----------
    paper : RunResults
        The reference-protocol run.
    noisy : sequence of RunResults
        Runs with label noise (compared with ``paper``'s settings of the same network).
    splits : RunResults or list of them, optional
        Runs over several split columns.
    batch_accuracy : RunResults, optional
        The reference protocol with the reference code's accuracy rule (``eval_batch``).
    **options
        Passed to ``analyse_run`` for every run (``n_boot``, ``random_state``, ``n_samples``, ...).
    """
    main = analyse_run(paper, **options)
    noisy_analyses = tuple(analyse_run(run, **options) for run in noisy)
    robustness = {}
    for i, analysis in enumerate(noisy_analyses):
        for setting in analysis.settings:
            clean = _setting(main, setting.net)
            if clean is not None:
                robustness[(i, setting.key)] = _compare_noise(clean, setting)
    split_runs = [] if splits is None else list(splits) if isinstance(splits, (list, tuple)) else [splits]
    moved = batch = None
    if batch_accuracy is not None:
        moved = changed_cells(paper.selected, batch_accuracy.selected)
        batch = analyse_run(batch_accuracy, **options)
    return StudyAnalysis(
        main=main,
        n_datasets=int(paper.selected["dataset"].nunique()),
        n_selected=len(paper.selected),
        noisy=noisy_analyses,
        robustness=MappingProxyType(robustness),
        splits=tuple(analyse_run(run, **options) for run in split_runs),
        batch=batch,
        moved=moved,
    )


def analyse_grid_study(
    reference: Any,
    fair: Any,
    seeds: Any | None = None,
    *,
    reference_noisy: Any | None = None,
    fair_noisy: Any | None = None,
    **options,
) -> GridStudyAnalysis:
    """Analyse the runs of the robustness study once: the reference and the fair grid, optionally a run of
    several seeds, and the fair (and reference) grid with label noise. ``**options`` are passed to
    ``analyse_run`` for every run."""
    ref = analyse_run(reference, **options)
    fair_analysis = analyse_run(fair, **options)
    seeds_analysis = analyse_run(seeds, **options) if seeds is not None else None
    noisy = clean = reference_noisy_analysis = noisy_changes = None
    robustness = {}
    if fair_noisy is not None:
        noisy = analyse_run(fair_noisy, **options)
        clean = analyse_run(_with_seeds(fair, noisy.seeds), **options)
        if reference_noisy is not None:
            reference_noisy_analysis = analyse_run(reference_noisy, **options)
            noisy_changes = grid_changes(reference_noisy_analysis, noisy)
        for setting in noisy.settings:
            clean_setting = _setting(clean, setting.net)
            if clean_setting is not None:
                robustness[setting.key] = _compare_noise(clean_setting, setting)
    return GridStudyAnalysis(
        reference=ref,
        fair=fair_analysis,
        changes=grid_changes(ref, fair_analysis),
        seeds=seeds_analysis,
        fair_noisy=noisy,
        fair_clean=clean,
        reference_noisy=reference_noisy_analysis,
        noisy_changes=noisy_changes,
        robustness=MappingProxyType(robustness),
    )
