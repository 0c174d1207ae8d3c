"""Everything a report shows, computed once: ``analyse_run(run) -> RunAnalysis``.

One immutable result object per run (autorank's ``RankResult`` is the model): the renderers of
``mixbench.report`` (HTML, PDF, Markdown, LaTeX, terminal) only format its fields and compute no statistic.

A *setting* is one (network, label noise) of the run, over the run's split columns (averaged when there are
several). For every setting and every loss against the baseline, the *verdict* says whether a gain is real
and whether it matters:

- Bayesian signed-rank test (Benavoli et al. 2017) on seed-averaged accuracies with a region of practical
  equivalence (``rope``, default 1 pp): P(better), P(equivalent), P(worse), and a decision at ``threshold``;
- the same decision on each seed alone, and whether the seeds agree;
- ΔAcc with its percentile-bootstrap interval over datasets, the median difference, the matched-pairs
  rank-biserial correlation, Wilcoxon's signed-rank p Holm-adjusted over the losses compared;
- a tuning audit: the share of cells whose selected learning rate is an end of the grid, and whose selected
  epoch is the last; a loss with most cells at an edge is flagged.

Numbers and flags only: the quotable sentence of each verdict and the words of a tuning flag are written by
``mixbench.report.prose``.

The critical-difference diagram of a setting uses one test for both its cliques and its drawn CD
(``cd_test``: Nemenyi, Demšar 2006, the default; or Conover with Benjamini-Hochberg, the reference study's
choice, which has no single critical difference), on the ranks of the seed-averaged accuracies; those ranks
are ``SettingAnalysis.ranks``, the ones every table beside a diagram prints.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from mixbench import suites
from mixbench.analysis import formatting as fmt
from mixbench.analysis.bayes import bayesian_signed_rank, rank_biserial
from mixbench.analysis.focus import focus_curves, identical_pairs
from mixbench.analysis.hypothesis import (
    cliques,
    conover_posthoc,
    friedman_test,
    nemenyi_cd,
    nemenyi_posthoc,
    wilcoxon_holm,
)
from mixbench.analysis.matrices import (
    accuracy_matrix,
    check_missing_policy,
    order_losses,
    per_seed_matrices,
    snap_ties,
)
from mixbench.analysis.paper import PAPER_LOSSES, compare_with_paper, load_paper_table
from mixbench.analysis.profiles import performance_profile
from mixbench.analysis.ranks import pairwise_wtl, rank_losses, summary_table
from mixbench.analysis.result import RunAnalysis, SettingAnalysis
from mixbench.analysis.tuning import tuning_audit
from mixbench.models import NETS

__all__ = [
    "CD_TESTS",
    "DEFAULT_ROPE",
    "RunAnalysis",
    "SettingAnalysis",
    "analyse_run",
    "analyse_selected",
]

#: Region of practical equivalence of the verdict: 1 percentage point of accuracy.
DEFAULT_ROPE = 0.01
#: Tests a critical-difference diagram can be drawn from.
CD_TESTS = ("nemenyi", "conover")


# --- computing it ---------------------------------------------------------------------------------------
def _order(values, preferred: Sequence[str]) -> list:
    values = list(dict.fromkeys(values))
    return [v for v in preferred if v in values] + sorted(v for v in values if v not in preferred)


def _noise_order(noises) -> list[str]:
    return sorted(set(noises), key=lambda n: (n != "none", n))


def _config_value(config: dict, name: str):
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    return inner.get(name, config.get(name))


def _variant_cd(matrix: pd.DataFrame, cd_test: str, alpha: float) -> dict:
    k = matrix.shape[1]
    n = len(matrix)
    ranks = rank_losses(matrix).mean() if n else pd.Series(np.nan, index=matrix.columns)
    if n < 2:
        return {"ranks": ranks, "pvalues": None, "cd": None, "cliques": [], "n_datasets": n}
    pvalues = nemenyi_posthoc(matrix) if cd_test == "nemenyi" else conover_posthoc(matrix)
    cd = nemenyi_cd(k, n, alpha) if cd_test == "nemenyi" else None
    return {
        "ranks": ranks,
        "pvalues": pvalues,
        "cd": cd,
        "cliques": cliques(ranks, pvalues.fillna(1.0), alpha),
        "n_datasets": n,
    }


def _bayes_rows(matrix: pd.DataFrame, baseline: str, options: dict) -> dict[str, dict]:
    values = snap_ties(matrix)
    out = {}
    for loss in matrix.columns:
        if loss == baseline:
            continue
        result = bayesian_signed_rank(
            values[loss].to_numpy(),
            values[baseline].to_numpy(),
            rope=options["rope"],
            n_samples=options["n_samples"],
            random_state=options["random_state"],
        )
        out[loss] = {
            "p_better": result.p_better,
            "p_equivalent": result.p_equivalent,
            "p_worse": result.p_worse,
            "decision": result.decision(options["threshold"]),
        }
    return out


def _per_split(rows: pd.DataFrame, losses, baseline, datasets, missing) -> pd.DataFrame | None:
    splits = sorted(rows["split"].unique().tolist())
    if len(splits) < 2:
        return None
    ranks, counts = {}, {}
    for split in splits:
        summary = summary_table(
            rows, split=split, datasets=datasets, missing=missing, baseline=baseline, n_boot=0
        )
        ranks[split], counts[split] = summary["mean_rank"], int(summary["n_datasets"].iloc[0])
    table = pd.DataFrame(ranks).reindex(losses)
    table["mean"] = table.mean(axis=1)
    table.attrs = {"n_datasets": counts, "splits": splits}
    return table


def _paper(rows, common, options) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    summary = summary_table(
        rows,
        losses=PAPER_LOSSES,
        how="per_seed",
        tie_method="min",
        baseline="CE",
        n_boot=options["n_boot"],
        random_state=options["random_state"],
        **common,
    )
    comparison = compare_with_paper(summary)
    by_seed = per_seed_matrices(rows, losses=PAPER_LOSSES, **common)
    average = sum(rank_losses(m.dropna(), "average").mean() for m in by_seed.values()) / len(by_seed)
    comparison.attrs = {"average_rank_sum": float(average.sum())}
    return comparison, summary


def _analyse_setting(
    rows: pd.DataFrame,
    *,
    net: str,
    noise: str,
    label: str,
    losses: list[str],
    baseline: str,
    split,
    datasets: list[str],
    options: dict,
    lrs,
    epochs,
    paper_nets: set,
) -> SettingAnalysis:
    missing = options["missing"]
    common = dict(net=net, noise=noise, split=split, datasets=datasets, missing=missing)
    by_seed = per_seed_matrices(rows, **common)
    matrix = accuracy_matrix(rows, seed="mean", **common)
    notes = []
    n = len(matrix)
    k = len(losses)
    if n == 0:
        raise ValueError(f"{label}: no dataset is left after the missing={missing!r} policy")
    summaries = {
        how: summary_table(
            rows,
            how=how,
            baseline=baseline,
            n_boot=options["n_boot"],
            random_state=options["random_state"],
            **common,
        )
        for how in ("per_seed", "seed_mean")
    }
    if n < 2:
        notes.append(
            f"only {fmt.count(n, 'dataset')}: rank tests (Friedman, post-hoc, Wilcoxon) and bootstrap "
            "intervals are "
            "undefined; the Bayesian test then rests on one difference and the prior"
        )
    if k < 3:
        notes.append(f"{k} losses: the Friedman test needs at least three")
    # Friedman and the CD diagram on each accuracy variant (seed mean first).
    variants = {"seed mean": matrix} | {f"seed {s}": m for s, m in by_seed.items()}
    friedman_rows, cd = [], {}
    for which, m in variants.items():
        f = friedman_test(m) if k >= 3 else pd.Series(dtype=float)
        cd[which] = _variant_cd(m, options["cd_test"], options["alpha"])
        friedman_rows.append(
            {
                "variant": which,
                "n_datasets": len(m),
                "n_losses": k,
                "statistic": f.get("statistic", np.nan),
                "pvalue": f.get("pvalue", np.nan),
                "iman_davenport_f": f.get("iman_davenport_f", np.nan),
                "iman_davenport_pvalue": f.get("iman_davenport_pvalue", np.nan),
                "nemenyi_cd": nemenyi_cd(k, max(len(m), 1), options["alpha"]),
            }
        )
    friedman = pd.DataFrame(friedman_rows).set_index("variant")
    wilcoxon = wilcoxon_holm(matrix, baseline=baseline, zero_method=options["zero_method"])
    tuning = tuning_audit(rows, lrs, epochs)
    overall = _bayes_rows(matrix, baseline, options)
    per_seed = {seed: _bayes_rows(m, baseline, options) for seed, m in by_seed.items()}
    seed_rows = []
    for seed, m in by_seed.items():
        for loss, result in per_seed[seed].items():
            delta = 100 * (m[loss] - m[baseline]).mean()
            seed_rows.append({"loss": loss, "seed": seed, **result, "delta_acc": delta})
    seed_verdicts = pd.DataFrame(
        seed_rows, columns=["loss", "seed", "p_better", "p_equivalent", "p_worse", "decision", "delta_acc"]
    )
    delta = summaries["seed_mean"]
    tests = wilcoxon.set_index("loss")
    snapped = snap_ties(matrix)
    verdict_rows = []
    for loss in losses:
        if loss == baseline:
            continue
        seed_decisions = {seed: per_seed[seed][loss]["decision"] for seed in by_seed}
        row = {
            "loss": loss,
            "n_datasets": int(delta.loc[loss, "n_delta"]),
            "delta_acc": float(delta.loc[loss, "delta_acc"]),
            "ci_low": float(delta.loc[loss, "delta_ci_low"]),
            "ci_high": float(delta.loc[loss, "delta_ci_high"]),
            "median_diff": float(tests.loc[loss, "median_diff"]),
            "rank_biserial": rank_biserial(snapped[loss].to_numpy(), snapped[baseline].to_numpy()),
            "wilcoxon_p": float(tests.loc[loss, "pvalue"]),
            "wilcoxon_p_holm": float(tests.loc[loss, "pvalue_holm"]),
            **overall[loss],
            "seed_decisions": seed_decisions,
            "seeds_agree": len(set(seed_decisions.values())) <= 1,
            # How often the decision holds: the share of seeds whose decision alone is the overall one.
            "seed_agreement": float(
                np.mean([d == overall[loss]["decision"] for d in seed_decisions.values()])
            ),
            "lr_high": float(tuning.loc[loss, "lr_high"]),
            "lr_low": float(tuning.loc[loss, "lr_low"]),
            "last_epoch": float(tuning.loc[loss, "last_epoch"]),
            "flag": tuning.loc[loss, "flag"],
        }
        verdict_rows.append(row)
    verdict = pd.DataFrame(verdict_rows)
    verdict = verdict.set_index("loss") if len(verdict) else verdict
    paper = paper_summary = None
    if noise == "none" and net in paper_nets and set(PAPER_LOSSES) <= set(losses) and n >= 1:
        paper, paper_summary = _paper(rows, common, options)
    per_dataset = accuracy_matrix(
        rows, net=net, noise=noise, split=split, seed="mean", missing="worst", datasets=datasets
    ).reindex(index=datasets, columns=losses)
    return SettingAnalysis(
        net=net,
        noise=noise,
        label=label,
        losses=losses,
        baseline=baseline,
        matrix=matrix,
        by_seed=by_seed,
        ranks=cd["seed mean"]["ranks"],
        summaries=summaries,
        verdict=verdict,
        seed_verdicts=seed_verdicts,
        tuning=tuning,
        friedman=friedman,
        cd=cd,
        conover=conover_posthoc(matrix),
        wtl=pairwise_wtl(matrix),
        wilcoxon=wilcoxon,
        profile=performance_profile(matrix),
        paper=paper,
        paper_summary=paper_summary,
        per_split=_per_split(rows, losses, baseline, datasets, missing),
        per_dataset=per_dataset,
        notes=tuple(notes),
    )


def _curves(epochs, selected, settings, seeds, splits, noises, nets, curve_datasets):
    if epochs is None or len(epochs) == 0:
        return None, [], "the run kept no per-epoch records"
    if curve_datasets:
        chosen, reason = list(curve_datasets), "chosen by the caller"
    elif settings:
        m = settings[0].matrix
        spread = (m.max(axis=1) - m.min(axis=1)).sort_values(ascending=False, kind="stable")
        chosen, reason = list(spread.index[:4]), "where the losses' accuracies differ most"
    else:
        return None, [], "nothing to compare"
    chosen = [d for d in chosen if d in set(epochs["dataset"])]
    if not chosen:
        return None, [], "none of the chosen datasets has per-epoch records"
    keys = ["dataset", "net", "split", "noise", "loss", "seed"]
    picks = selected[
        selected["dataset"].isin(chosen)
        & (selected["seed"] == seeds[0])
        & (selected["split"] == splits[0])
        & (selected["noise"] == noises[0])
    ][[*keys, "lr", "epoch"]].rename(columns={"epoch": "selected_epoch"})
    curves = epochs[epochs["dataset"].isin(chosen)].merge(picks, on=[*keys, "lr"], how="inner")
    curves = curves.assign(selected=curves["epoch"] == curves["selected_epoch"])
    return curves, chosen, reason


def analyse_selected(
    selected: pd.DataFrame,
    *,
    failures: pd.DataFrame | None = None,
    config: dict | None = None,
    epochs: pd.DataFrame | None = None,
    baseline: str | None = None,
    rope: float = DEFAULT_ROPE,
    alpha: float = 0.05,
    threshold: float = 0.95,
    cd_test: str = "nemenyi",
    missing: str = "exclude",
    n_boot: int = 10_000,
    n_samples: int = 50_000,
    random_state: int = 0,
    zero_method: str = "zsplit",
    curve_datasets: Sequence[str] | None = None,
    incomplete: str = "",
) -> RunAnalysis:
    """The whole analysis of selected results (see ``analyse_run`` for the parameters; ``incomplete`` says
    what a partial run lacks)."""
    if cd_test not in CD_TESTS:
        raise ValueError(f"cd_test={cd_test!r}; use one of {CD_TESTS}")
    if not 0 <= rope < 1:
        raise ValueError(f"rope is a fraction of accuracy in [0, 1) (0.01 = 1 pp), got {rope}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    check_missing_policy(missing)
    config = dict(config or {})
    failures = (
        failures
        if failures is not None and len(failures)
        else pd.DataFrame(columns=["dataset", "net", "split", "noise", "error"])
    )
    if len(selected) == 0:
        raise ValueError("the run holds no selected results yet: nothing to analyse")
    nets = _order(selected["net"].unique(), NETS)
    noises = _noise_order(selected["noise"].unique())
    splits = sorted(selected["split"].unique().tolist())
    seeds = sorted(selected["seed"].unique().tolist())
    split: Hashable | None = "mean" if len(splits) > 1 else None
    datasets = sorted(set(selected["dataset"]) | set(failures["dataset"]))
    losses_all = order_losses(selected["loss"].unique())
    if baseline is None:
        baseline = "CE" if "CE" in losses_all else losses_all[0]
    elif baseline not in losses_all:
        raise ValueError(
            f"baseline {baseline!r} is not among the run's losses {losses_all}; "
            "pass --baseline with one of them"
        )
    options = dict(
        baseline=baseline,
        rope=float(rope),
        alpha=float(alpha),
        threshold=float(threshold),
        cd_test=cd_test,
        missing=missing,
        n_boot=int(n_boot),
        n_samples=int(n_samples),
        random_state=int(random_state),
        zero_method=zero_method,
    )
    paper_nets = (
        set(load_paper_table()["net"]) if _config_value(config, "suite") in (None, "uci121") else set()
    )
    lrs = _config_value(config, "lrs")
    epochs_n = _config_value(config, "epochs")
    settings, skipped = [], []
    several_noises = len(noises) > 1
    for noise in noises:
        for net in nets:
            rows = selected[(selected["net"] == net) & (selected["noise"] == noise)]
            if rows.empty:
                continue
            label = f"{net} network" + (f", noise {noise}" if several_noises else "")
            losses = order_losses(rows["loss"].unique())
            if len(losses) < 2:
                skipped.append(f"{label}: only the loss {losses[0]}, nothing to compare")
                continue
            own_baseline = baseline if baseline in losses else losses[0]
            settings.append(
                _analyse_setting(
                    rows,
                    net=net,
                    noise=noise,
                    label=label,
                    losses=losses,
                    baseline=own_baseline,
                    split=split,
                    datasets=datasets,
                    options=options,
                    lrs=lrs,
                    epochs=epochs_n,
                    paper_nets=paper_nets,
                )
            )
    excluded = pd.DataFrame(
        [
            {"net": s.net, "noise": s.noise, "dataset": d, "reason": r}
            for s in settings
            for d, r in s.matrix.attrs.get("excluded", {}).items()
        ],
        columns=["net", "noise", "dataset", "reason"],
    )
    diverged = (
        selected[selected["diverged"].fillna(False).astype(bool)] if "diverged" in selected else selected[:0]
    )
    curves, chosen, reason = _curves(epochs, selected, settings, seeds, splits, noises, nets, curve_datasets)
    focus, focus_unknown = focus_curves(
        losses_all, n_epochs=int(epochs_n or 50), sources=_config_value(config, "loss_sources")
    )
    return RunAnalysis(
        settings=settings,
        options=MappingProxyType(options),
        nets=nets,
        noises=noises,
        splits=splits,
        seeds=seeds,
        losses=losses_all,
        datasets=datasets,
        skipped=skipped,
        failures=failures,
        diverged=diverged,
        excluded=excluded,
        config=MappingProxyType(config),
        curves=curves,
        curve_datasets=chosen,
        curve_reason=reason,
        incomplete=incomplete,
        preprocessing=suites.preprocessing_summary(config),
        focus=focus if len(focus.columns) else None,
        focus_unknown=focus_unknown,
        has_epochs=epochs is not None and len(epochs) > 0,
        identical=identical_pairs(
            losses_all, n_epochs=int(epochs_n or 50), sources=_config_value(config, "loss_sources")
        ),
    )


def analyse_run(run: Any, **options) -> RunAnalysis:
    """The whole analysis of a run, computed once.

    Parameters
    ----------
    run : RunResults
        ``mixbench.results.load(run_dir)``: ``selected``, ``failures``, ``config``, ``epochs``.
    baseline : str, optional
        The loss every other is judged against (default ``'CE'`` when present).
    rope : float
        Region of practical equivalence, a fraction of accuracy (default 0.01 = 1 pp).
    alpha : float
        Level of the frequentist tests (Wilcoxon-Holm, the CD diagram's test).
    threshold : float
        Posterior probability at which the Bayesian test decides (default 0.95).
    cd_test : {'nemenyi', 'conover'}
        The test of the critical-difference diagrams (cliques and CD alike).
    missing : {'exclude', 'worst'}
        Missing-value policy (``accuracy_matrix``).
    n_boot, n_samples, random_state
        Bootstrap resamples, Bayesian posterior samples, and the seed of both (same run, same numbers).
    zero_method : str
        Wilcoxon's handling of zero differences (default 'zsplit', Demšar 2006).
    curve_datasets : sequence of str, optional
        Datasets for the learning curves (default: where the losses differ most).
    """
    completeness = getattr(run, "completeness", None)
    incomplete = "" if completeness is None or completeness.complete else completeness.describe()
    return analyse_selected(
        run.selected,
        incomplete=incomplete,
        failures=getattr(run, "failures", None),
        config=getattr(run, "config", None),
        epochs=getattr(run, "epochs", None),
        **options,
    )
