"""mixbench.analysis against independent computations written out here (loops, numpy, textbook formulas).

Tables are small and hand-made, with ties, missing cells and a single dataset, so the answers are known.
"""

from __future__ import annotations

import csv
import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mixbench import analysis as an

LOSSES = ["CE", "CE+EL F=0", "EL", "Focal"]


def selected_from(cells: dict, *, net: str = "linear", split: int = 0, noise: str = "none") -> pd.DataFrame:
    """Selected results from {(dataset, seed): {loss: test accuracy}}."""
    rows = [
        {
            "dataset": dataset,
            "net": net,
            "split": split,
            "noise": noise,
            "loss": loss,
            "seed": seed,
            "lr": 0.01,
            "epoch": 7,
            "val_acc": acc,
            "test_acc": acc,
            "diverged": bool(np.isnan(acc)),
        }
        for (dataset, seed), accs in cells.items()
        for loss, acc in accs.items()
    ]
    return pd.DataFrame(rows)


def random_selected(n_datasets=12, seeds=(60, 1234), losses=LOSSES, step=0.05, seed=0) -> pd.DataFrame:
    """Accuracies on a coarse grid (many exact ties), as on small UCI datasets."""
    rng = np.random.default_rng(seed)
    cells = {
        (f"d{i:02d}", s): {loss: float(rng.integers(10, 20)) * step for loss in losses}
        for i in range(n_datasets)
        for s in seeds
    }
    return selected_from(cells)


# --- independent reference implementations ---------------------------------------------------------
def ranks_by_hand(row: list[float], method: str) -> list[float]:
    """1 = best; NaN worst (tied among NaNs); 'average' or 'min' for ties."""
    key = [-math.inf if math.isnan(v) else v for v in row]
    out = []
    for v in key:
        better = sum(1 for w in key if w > v)
        tied = sum(1 for w in key if w == v)
        out.append(better + 1 if method == "min" else better + (tied + 1) / 2)
    return out


def bh_by_hand(p: list[float]) -> list[float]:
    """Benjamini-Hochberg step-up: adjusted p_(i) = min over j >= i of m p_(j) / j, capped at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, running = [0.0] * m, 1.0
    for position in range(m - 1, -1, -1):
        i = order[position]
        running = min(running, p[i] * m / (position + 1))
        adjusted[i] = running
    return adjusted


def holm_by_hand(p: list[float]) -> list[float]:
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, running = [0.0] * m, 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, (m - step) * p[i]))
        adjusted[i] = running
    return adjusted


# --- accuracy_matrix and the missing-value policy --------------------------------------------------
def test_accuracy_matrix_picks_one_seed_or_averages_them():
    sel = selected_from(
        {
            ("a", 1): {"CE": 0.5, "EL": 0.75},
            ("a", 2): {"CE": 0.25, "EL": 0.5},
            ("b", 1): {"CE": 1.0, "EL": 0.0},
            ("b", 2): {"CE": 0.5, "EL": 0.5},
        }
    )
    one = an.accuracy_matrix(sel, seed=2)
    assert one.loc["a", "CE"] == 0.25 and one.loc["b", "EL"] == 0.5
    mean = an.accuracy_matrix(sel, seed="mean")
    assert mean.loc["a", "CE"] == pytest.approx((0.5 + 0.25) / 2)
    assert mean.loc["b", "EL"] == pytest.approx(0.25)
    assert list(mean.columns) == ["CE", "EL"] and list(mean.index) == ["a", "b"]
    assert mean.attrs["excluded"] == {} and mean.attrs["seeds"] == [1, 2]
    with pytest.raises(ValueError, match="2 seeds"):
        an.accuracy_matrix(sel)


def test_accuracy_matrix_excludes_missing_datasets_and_says_why():
    sel = selected_from(
        {
            ("a", 1): {"CE": 0.5, "EL": 0.75, "Focal": 0.5},
            ("b", 1): {"CE": 0.9, "EL": np.nan, "Focal": 0.8},  # diverged: NaN accuracy
            ("c", 1): {"CE": 0.6, "Focal": 0.7},  # EL row absent (failed)
            ("d", 1): {"CE": 0.1, "EL": 0.2, "Focal": 0.3},
        }
    )
    excl = an.accuracy_matrix(sel, missing="exclude", datasets=["a", "b", "c", "d", "e"])
    assert list(excl.index) == ["a", "d"]
    reasons = excl.attrs["excluded"]
    assert set(reasons) == {"b", "c", "e"}
    assert "EL" in reasons["b"] and "NaN" in reasons["b"]
    assert "EL" in reasons["c"] and "no result" in reasons["c"]
    assert reasons["e"] == "no result for any loss"

    worst = an.accuracy_matrix(sel, missing="worst", datasets=["a", "b", "c", "d", "e"])
    assert list(worst.index) == ["a", "b", "c", "d"]  # only the dataset without any result goes
    assert worst.attrs["excluded"] == {"e": "no result for any loss"}
    assert set(worst.attrs["worst_ranked"]) == {"b", "c"}
    assert np.isnan(worst.loc["b", "EL"]) and np.isnan(worst.loc["c", "EL"])


def test_seed_mean_is_missing_when_any_seed_is():
    sel = selected_from(
        {("a", 1): {"CE": 0.5, "EL": 0.7}, ("a", 2): {"CE": 0.5}, ("b", 1): {"CE": 0.2, "EL": 0.3}}
    )
    sel = pd.concat([sel, selected_from({("b", 2): {"CE": 0.4, "EL": 0.1}})])
    mean = an.accuracy_matrix(sel, seed="mean", missing="worst")
    assert np.isnan(mean.loc["a", "EL"])  # not 0.7 from the one seed that has it
    # Exclusion is decided on every seed, so seed 1 (complete for "a") also drops "a".
    assert list(an.accuracy_matrix(sel, seed=1).index) == ["b"]
    assert list(an.accuracy_matrix(sel, seed=1, missing="worst").index) == ["a", "b"]


def test_splits_are_averaged_only_when_asked():
    sel = pd.concat(
        [
            selected_from({("a", 1): {"CE": 0.5, "EL": 0.7}}, split=0),
            selected_from({("a", 1): {"CE": 0.7, "EL": 0.7}}, split=1),
        ]
    )
    with pytest.raises(ValueError, match="split='mean'"):
        an.accuracy_matrix(sel)
    assert an.accuracy_matrix(sel, split="mean").loc["a", "CE"] == pytest.approx(0.6)
    assert an.accuracy_matrix(sel, split=1).loc["a", "CE"] == 0.7


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.drop(columns="test_acc"), "lack column"),
        (lambda df: pd.concat([df, df.iloc[:1]]), "sharing a key"),
        (lambda df: df.assign(test_acc=df["test_acc"] * 100), "Percentages"),
        (lambda df: pd.concat([df, df.assign(net="hidden")]), "pass net="),
        (lambda df: df.assign(noise=["none", "symmetric-0.2"] * (len(df) // 2)), "pass noise="),
    ],
)
def test_bad_selected_results_raise_clear_errors(mutate, message):
    sel = random_selected(n_datasets=2, seeds=(1,))
    with pytest.raises(ValueError, match=message):
        an.accuracy_matrix(mutate(sel))


def test_unknown_loss_seed_and_policy_are_refused():
    sel = random_selected(n_datasets=2, seeds=(1,))
    with pytest.raises(ValueError, match="not in the selected results"):
        an.accuracy_matrix(sel, losses=["CE", "Hinge"])
    with pytest.raises(ValueError, match="seed=7"):
        an.accuracy_matrix(sel, seed=7)
    with pytest.raises(ValueError, match="missing="):
        an.accuracy_matrix(sel, missing="drop")


def test_order_losses_known_first_then_user_names_sorted():
    assert an.order_losses(["zeta", "EL", "CE", "alpha", "EL"]) == ["CE", "EL", "alpha", "zeta"]


# --- ranks and wins ---------------------------------------------------------------------------------
def test_rank_losses_ties_and_nan_known_answers():
    matrix = pd.DataFrame(
        [[0.9, 0.9, 0.8, np.nan], [0.5, 0.6, 0.7, 0.8], [0.3, 0.3, 0.3, 0.3], [0.2, np.nan, 0.4, np.nan]],
        columns=LOSSES,
    )
    average = an.rank_losses(matrix, "average").to_numpy()
    assert average.tolist() == [[1.5, 1.5, 3, 4], [4, 3, 2, 1], [2.5, 2.5, 2.5, 2.5], [2, 3.5, 1, 3.5]]
    minimum = an.rank_losses(matrix, "min").to_numpy()
    assert minimum.tolist() == [[1, 1, 3, 4], [4, 3, 2, 1], [1, 1, 1, 1], [2, 3, 1, 3]]


@pytest.mark.parametrize("method", ["average", "min"])
def test_rank_losses_matches_hand_ranking_on_random_tied_tables(method):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 4, size=(40, 5)) / 4
    values[rng.random(values.shape) < 0.1] = np.nan
    matrix = pd.DataFrame(values, columns=list("abcde"))
    expected = [ranks_by_hand(list(row), method) for row in values]
    np.testing.assert_allclose(an.rank_losses(matrix, method).to_numpy(), expected)
    if method == "average":  # average ranks always sum to k(k+1)/2 per dataset
        np.testing.assert_allclose(an.rank_losses(matrix).sum(axis=1), 15.0)


def test_count_wins_ties_tolerance_and_nan():
    matrix = pd.DataFrame(
        [[0.9, 0.9, 0.8, np.nan], [0.5, 0.6, 0.7, 0.69], [0.3, 0.3, 0.3, 0.3], [np.nan, np.nan, 0.1, 0.0]],
        columns=LOSSES,
    )
    expected_exact = {loss: 0 for loss in LOSSES}
    expected_tol = {loss: 0 for loss in LOSSES}
    for row in matrix.to_numpy():
        best = np.nanmax(row)
        for loss, v in zip(LOSSES, row, strict=True):
            expected_exact[loss] += int(v == best)
            expected_tol[loss] += int(v >= best - 0.015)
    assert an.count_wins(matrix).to_dict() == expected_exact == {"CE": 2, "CE+EL F=0": 2, "EL": 3, "Focal": 1}
    assert an.count_wins(matrix, tol=0.015).to_dict() == expected_tol
    assert expected_tol["Focal"] == 2  # 0.69 is within 0.015 of 0.7


def test_seed_means_that_differ_by_rounding_still_tie():
    # (0.1 + 0.7) / 2 is 0.39999999999999997 in floating point, (0.3 + 0.5) / 2 is 0.4.
    assert (0.1 + 0.7) / 2 != (0.3 + 0.5) / 2
    sel = selected_from(
        {("a", 1): {"CE": 0.1, "EL": 0.3, "Focal": 0.0}, ("a", 2): {"CE": 0.7, "EL": 0.5, "Focal": 0.2}}
    )
    matrix = an.accuracy_matrix(sel, seed="mean")
    assert an.count_wins(matrix).to_dict() == {"CE": 1, "EL": 1, "Focal": 0}
    assert an.rank_losses(matrix).iloc[0].tolist() == [1.5, 1.5, 3.0]


# --- summary table ----------------------------------------------------------------------------------
def summary_by_hand(sel: pd.DataFrame, how: str, tie_method: str, baseline: str = "CE") -> pd.DataFrame:
    """Wins, delta and mean rank with dictionaries and loops, no mixbench code."""
    acc = {(r.dataset, r.seed, r.loss): r.test_acc for r in sel.itertuples()}
    datasets = sorted({d for d, _, _ in acc})
    seeds = sorted({s for _, s, _ in acc})
    losses = an.order_losses({loss for _, _, loss in acc})
    groups = [[s] for s in seeds] if how == "per_seed" else [seeds]
    wins, ranks = dict.fromkeys(losses, 0.0), dict.fromkeys(losses, 0.0)
    for group in groups:
        for d in datasets:
            row = [round(sum(acc[(d, s, loss)] for s in group) / len(group), 12) for loss in losses]
            for loss, v, r in zip(losses, row, ranks_by_hand(row, tie_method), strict=True):
                wins[loss] += (v == max(row)) / len(groups)
                ranks[loss] += r / len(datasets) / len(groups)
    delta = {
        loss: 100 * np.mean([acc[(d, s, loss)] - acc[(d, s, baseline)] for d in datasets for s in seeds])
        for loss in losses
    }
    return pd.DataFrame({"wins": wins, "delta_acc": delta, "mean_rank": ranks})


@pytest.mark.parametrize("how", ["per_seed", "seed_mean"])
@pytest.mark.parametrize("tie_method", ["average", "min"])
def test_summary_table_matches_hand_computation(how, tie_method):
    sel = random_selected(n_datasets=15)
    summary = an.summary_table(sel, how=how, tie_method=tie_method, n_boot=0)
    expected = summary_by_hand(sel, how, tie_method)
    assert list(summary.index) == LOSSES
    for column in ("wins", "delta_acc", "mean_rank"):
        np.testing.assert_allclose(summary[column], expected.loc[LOSSES, column], atol=1e-9, err_msg=column)
    assert (summary["n_datasets"] == 15).all() and (summary["n_seeds"] == 2).all()
    assert (summary["how"] == how).all() and (summary["tie_method"] == tie_method).all()
    if tie_method == "average":
        assert summary["mean_rank"].sum() == pytest.approx(len(LOSSES) * (len(LOSSES) + 1) / 2)
    else:  # ties share the best rank, so the sum falls short of 10 as in the published table
        assert summary["mean_rank"].sum() < 10


def test_per_seed_wins_can_be_fractional_and_differ_from_seed_mean():
    sel = selected_from(
        {("a", 1): {"CE": 0.9, "EL": 0.5, "Focal": 0.1}, ("a", 2): {"CE": 0.5, "EL": 0.8, "Focal": 0.1}}
    )
    per_seed = an.summary_table(sel, how="per_seed", n_boot=0)
    seed_mean = an.summary_table(sel, how="seed_mean", n_boot=0)
    assert per_seed["wins"].tolist() == [0.5, 0.5, 0.0]
    assert seed_mean["wins"].tolist() == [1.0, 0.0, 0.0]  # means 0.7 vs 0.65
    assert per_seed["mean_rank"].tolist() == [1.5, 1.5, 3.0]
    assert seed_mean["mean_rank"].tolist() == [1.0, 2.0, 3.0]


def test_summary_bootstrap_interval_agrees_with_a_numpy_percentile_bootstrap():
    sel = random_selected(n_datasets=40, seeds=(1, 2))
    summary = an.summary_table(sel, n_boot=20_000, random_state=0)
    wide = sel.pivot_table(index="dataset", columns="loss", values="test_acc", aggfunc="mean")
    rng = np.random.default_rng(12345)
    for loss in LOSSES[1:]:
        d = 100 * (wide[loss] - wide["CE"]).to_numpy()
        means = d[rng.integers(0, len(d), size=(20_000, len(d)))].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        row = summary.loc[loss]
        assert row["delta_ci_low"] <= row["delta_acc"] <= row["delta_ci_high"]
        assert row["delta_ci_low"] == pytest.approx(low, abs=0.15)
        assert row["delta_ci_high"] == pytest.approx(high, abs=0.15)
    assert summary.loc["CE", ["delta_acc", "delta_ci_low", "delta_ci_high"]].tolist() == [0.0, 0.0, 0.0]
    again = an.summary_table(sel, n_boot=20_000, random_state=0)
    pd.testing.assert_frame_equal(summary, again)  # a seed makes it reproducible


def test_summary_missing_policy_is_reported():
    cells = {(f"d{i}", 1): {"CE": 0.5 + i / 20, "EL": 0.6, "Focal": 0.4} for i in range(5)}
    cells[("d2", 1)]["EL"] = np.nan
    sel = selected_from(cells)
    excl = an.summary_table(sel, n_boot=0)
    assert (excl["n_datasets"] == 4).all() and (excl["excluded"] == "d2").all()
    assert excl.attrs["excluded"] == {"d2": "EL: NaN accuracy for seed 1"}

    worst = an.summary_table(sel, missing="worst", n_boot=0)
    assert (worst["n_datasets"] == 5).all() and (worst["excluded"] == "").all()
    assert worst.loc["EL", "n_delta"] == 4 and worst.loc["Focal", "n_delta"] == 5
    # On d2, EL is ranked last (3); elsewhere EL beats CE only where CE < 0.6.
    rows = [[0.5 + i / 20, np.nan if i == 2 else 0.6, 0.4] for i in range(5)]
    expected_rank = np.mean([ranks_by_hand(r, "average")[1] for r in rows])
    assert worst.loc["EL", "mean_rank"] == pytest.approx(expected_rank)
    assert worst.loc["EL", "delta_acc"] == pytest.approx(
        100 * np.mean([0.6 - (0.5 + i / 20) for i in (0, 1, 3, 4)])
    )


def test_summary_with_a_single_dataset():
    sel = selected_from({("only", 1): {"CE": 0.5, "EL": 0.75, "Focal": 0.75}})
    summary = an.summary_table(sel, n_boot=1000)
    assert summary["wins"].tolist() == [0, 1, 1]
    assert summary["mean_rank"].tolist() == [3, 1.5, 1.5]
    assert summary.loc["EL", "delta_acc"] == pytest.approx(25.0)
    assert np.isnan(summary.loc["EL", "delta_ci_low"])  # no interval from one dataset
    assert (summary["n_datasets"] == 1).all()


def test_summary_refuses_unknown_baseline_and_empty_result():
    sel = selected_from({("a", 1): {"CE": 0.5, "EL": np.nan}})
    with pytest.raises(ValueError, match="baseline"):
        an.summary_table(sel, baseline="Focal")
    with pytest.raises(ValueError, match="no dataset is left"):
        an.summary_table(sel)


# --- Friedman, Iman-Davenport, Conover, Nemenyi -------------------------------------------------------
def friedman_by_hand(values: np.ndarray) -> tuple[float, float, float, float]:
    n, k = values.shape
    ranks = np.array([ranks_by_hand(list(row), "average") for row in values])
    rank_sums = ranks.sum(axis=0)
    chi2 = 12 / (n * k * (k + 1)) * np.sum(rank_sums**2) - 3 * n * (k + 1)
    ties = sum(t**3 - t for row in values for t in np.unique(row, return_counts=True)[1])
    chi2 /= 1 - ties / (n * (k**3 - k))
    f = (n - 1) * chi2 / (n * (k - 1) - chi2)
    return chi2, stats.chi2.sf(chi2, k - 1), f, stats.f.sf(f, k - 1, (k - 1) * (n - 1))


def test_friedman_and_iman_davenport_match_the_textbook_formulas():
    values = np.array(
        [
            [0.80, 0.82, 0.82, 0.70],
            [0.60, 0.65, 0.61, 0.50],
            [0.90, 0.90, 0.90, 0.90],
            [0.71, 0.74, 0.72, 0.69],
            [0.55, 0.57, 0.58, 0.40],
            [0.93, 0.91, 0.95, 0.88],
        ]
    )
    result = an.friedman_test(pd.DataFrame(values, columns=LOSSES))
    chi2, p, f, p_f = friedman_by_hand(values)
    assert result["statistic"] == pytest.approx(chi2)
    assert result["pvalue"] == pytest.approx(p)
    assert result["iman_davenport_f"] == pytest.approx(f)
    assert result["iman_davenport_pvalue"] == pytest.approx(p_f)
    assert (result["n_datasets"], result["n_losses"], result["df_num"], result["df_den"]) == (6, 4, 3, 15)


def test_friedman_degenerate_cases():
    one = an.friedman_test(pd.DataFrame([[0.1, 0.2, 0.3]], columns=["a", "b", "c"]))
    assert np.isnan(one["statistic"]) and np.isnan(one["pvalue"]) and one["n_datasets"] == 1
    ties = an.friedman_test(pd.DataFrame([[0.5] * 3, [0.7] * 3], columns=["a", "b", "c"]))
    assert np.isnan(ties["pvalue"])
    agree = an.friedman_test(pd.DataFrame([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], columns=["a", "b", "c"]))
    assert agree["statistic"] == pytest.approx(4.0) and agree["iman_davenport_f"] == np.inf
    assert agree["iman_davenport_pvalue"] == 0.0
    with pytest.raises(ValueError, match="at least 3 losses"):
        an.friedman_test(pd.DataFrame([[0.1, 0.2]], columns=["a", "b"]))


def test_friedman_ranks_missing_cells_worst():
    with_nan = pd.DataFrame([[0.9, np.nan, 0.5], [0.8, 0.7, 0.6], [0.3, 0.2, 0.1]], columns=list("abc"))
    as_worst = with_nan.fillna(0.0)  # below every accuracy on that row: the same ranks
    assert an.friedman_test(with_nan)["statistic"] == pytest.approx(friedman_by_hand(as_worst.to_numpy())[0])


def conover_by_hand(values: np.ndarray) -> np.ndarray:
    """Conover (1999), 'Practical Nonparametric Statistics', eq. for multiple comparisons after Friedman."""
    n, k = values.shape
    ranks = np.array([ranks_by_hand(list(row), "average") for row in values])
    rank_sums = ranks.sum(axis=0)
    a1 = np.sum(ranks**2)
    scale = math.sqrt(2 * (n * a1 - np.sum(rank_sums**2)) / ((n - 1) * (k - 1)))
    p = np.ones((k, k))
    for i, j in itertools.combinations(range(k), 2):
        t = abs(rank_sums[i] - rank_sums[j]) / scale
        p[i, j] = p[j, i] = 2 * stats.t.sf(t, (n - 1) * (k - 1))
    return p


def test_conover_matches_conover_1999_with_and_without_bh():
    rng = np.random.default_rng(7)
    values = np.round(rng.uniform(0.5, 1.0, size=(20, 5)) + np.linspace(0, 0.08, 5), 2)  # 2 decimals: ties
    matrix = pd.DataFrame(values, columns=list("abcde"))
    raw = conover_by_hand(values)
    np.testing.assert_allclose(an.conover_posthoc(matrix, p_adjust=None).to_numpy(), raw, rtol=1e-9)
    iu = np.triu_indices(5, 1)
    bh = np.ones((5, 5))
    bh[iu] = bh_by_hand(list(raw[iu]))
    bh.T[iu] = bh[iu]
    result = an.conover_posthoc(matrix)
    np.testing.assert_allclose(result.to_numpy(), bh, rtol=1e-9)
    assert list(result.index) == list("abcde") == list(result.columns)


def test_conover_undefined_for_a_single_dataset():
    result = an.conover_posthoc(pd.DataFrame([[0.1, 0.2, 0.3]], columns=list("abc")))
    assert np.isnan(result.loc["a", "b"]) and result.loc["a", "a"] == 1.0


@pytest.mark.parametrize(
    ("k", "q05", "q10"),
    # Demšar (2006), Table 5: critical values for the two-tailed Nemenyi test.
    [(2, 1.960, 1.645), (3, 2.343, 2.052), (4, 2.569, 2.291), (6, 2.850, 2.589), (8, 3.031, 2.780)],
)
def test_nemenyi_cd_matches_demsar_table(k, q05, q10):
    for n in (1, 14, 121):
        factor = math.sqrt(k * (k + 1) / (6 * n))
        # The table gives three decimals (and k = 3 reads 2.343 for 2.3437): allow 1e-3 on q.
        assert an.nemenyi_cd(k, n) == pytest.approx(q05 * factor, abs=1e-3 * factor)
        assert an.nemenyi_cd(k, n, alpha=0.10) == pytest.approx(q10 * factor, abs=1e-3 * factor)


def test_nemenyi_cd_demsar_worked_example_and_bad_input():
    assert an.nemenyi_cd(4, 14) == pytest.approx(1.25, abs=0.005)  # Demšar (2006), section 3.2.4
    with pytest.raises(ValueError):
        an.nemenyi_cd(1, 10)


# --- pairwise comparisons ---------------------------------------------------------------------------
def test_pairwise_wtl_matches_loops_with_ties_tolerance_and_nan():
    matrix = pd.DataFrame(
        [[0.9, 0.9, np.nan], [0.5, 0.51, 0.7], [0.3, 0.2, np.nan], [0.4, 0.1, 0.4]], columns=list("abc")
    )
    for tol in (0.0, 0.02):
        wtl = an.pairwise_wtl(matrix, tol=tol).set_index(["loss", "opponent"])
        for a, b in itertools.permutations("abc", 2):
            w = t = lo = 0
            for x, y in zip(matrix[a], matrix[b], strict=True):
                if np.isnan(x) and np.isnan(y):
                    t += 1
                elif np.isnan(x):
                    lo += 1
                elif np.isnan(y) or x - y > tol:
                    w += 1
                elif y - x > tol:
                    lo += 1
                else:
                    t += 1
            assert wtl.loc[(a, b), ["wins", "ties", "losses"]].tolist() == [w, t, lo], (a, b, tol)
    assert an.pairwise_wtl(matrix).set_index(["loss", "opponent"]).loc[("a", "b"), "ties"] == 1


def test_adjust_pvalues_matches_holm_step_down_by_hand():
    p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.04]
    np.testing.assert_allclose(an.adjust_pvalues(p), holm_by_hand(p))
    with_nan = an.adjust_pvalues([0.01, np.nan, 0.02])
    assert np.isnan(with_nan[1]) and with_nan[[0, 2]].tolist() == pytest.approx([0.02, 0.02])


def signflip_wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided p of the signed-rank sum by enumerating all 2^n sign flips (exact, ties and zeros too).

    Zero differences put half their rank on each side (Demšar's 'zsplit'); flipping them changes nothing.
    """
    ranks = stats.rankdata(np.abs(d))
    zero_half = ranks[d == 0].sum() / 2
    nonzero = ranks[d != 0]
    observed = ranks[d > 0].sum() + zero_half
    null = [
        sum(r for r, positive in zip(nonzero, signs, strict=True) if positive) + zero_half
        for signs in itertools.product([False, True], repeat=len(nonzero))
    ]
    upper = np.mean([r >= observed - 1e-9 for r in null])
    lower = np.mean([r <= observed + 1e-9 for r in null])
    return min(1.0, 2 * min(upper, lower))


def zsplit_normal_p(d: np.ndarray) -> float:
    """Demšar's variant: zero differences split their ranks between both sides; normal approximation."""
    n = len(d)
    ranks = stats.rankdata(np.abs(d))
    r_plus = ranks[d > 0].sum() + ranks[d == 0].sum() / 2
    r_minus = ranks[d < 0].sum() + ranks[d == 0].sum() / 2
    _, counts = np.unique(np.abs(d), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - np.sum(counts**3 - counts) / 48
    z = (min(r_plus, r_minus) - n * (n + 1) / 4) / math.sqrt(var)
    return 2 * stats.norm.sf(abs(z))


def test_wilcoxon_holm_small_samples_against_exact_enumeration():
    a = np.array([0.81, 0.62, 0.93, 0.55, 0.74, 0.68, 0.90, 0.71])
    b = a - np.array([0.031, -0.012, 0.055, 0.021, 0.004, 0.017, -0.026, 0.042])  # distinct, no zeros
    c = a - np.array([0.02, 0.0, 0.02, -0.01, 0.0, 0.03, 0.02, -0.02])  # zeros and tied magnitudes
    matrix = pd.DataFrame({"a": a, "b": b, "c": c})
    tests = an.wilcoxon_holm(matrix, baseline="a").set_index("loss")
    p_b = signflip_wilcoxon_p(np.round(b - a, 12))
    p_c = signflip_wilcoxon_p(np.round(c - a, 12))
    assert tests.loc["b", "pvalue"] == pytest.approx(p_b)
    assert tests.loc["c", "pvalue"] == pytest.approx(p_c)
    np.testing.assert_allclose(tests["pvalue_holm"], holm_by_hand([p_b, p_c]))
    assert tests.loc["c", "median_diff"] == pytest.approx(100 * np.median(c - a))
    assert tests.loc["c", "mean_diff"] == pytest.approx(100 * np.mean(c - a))
    everything = an.wilcoxon_holm(matrix)
    assert len(everything) == 3
    np.testing.assert_allclose(everything["pvalue_holm"], holm_by_hand(everything["pvalue"].tolist()))


def test_wilcoxon_large_sample_with_ties_uses_the_normal_approximation():
    rng = np.random.default_rng(5)
    a = rng.integers(50, 100, size=30) / 100
    b = a + rng.integers(-3, 5, size=30) / 100  # many zeros and tied magnitudes
    tests = an.wilcoxon_holm(pd.DataFrame({"a": a, "b": b}))
    assert tests.loc[0, "pvalue"] == pytest.approx(zsplit_normal_p(np.round(a - b, 12)))


def test_wilcoxon_uses_pairwise_complete_datasets():
    matrix = pd.DataFrame({"a": [0.5, 0.6, np.nan, 0.9, 0.2], "b": [0.4, 0.7, 0.3, 0.8, 0.1]})
    row = an.wilcoxon_holm(matrix).iloc[0]
    assert row["n_datasets"] == 4
    assert row["pvalue"] == pytest.approx(signflip_wilcoxon_p(np.round(np.array([0.1, -0.1, 0.1, 0.1]), 12)))


# --- performance profile ----------------------------------------------------------------------------
def test_performance_profile_matches_loops_with_ties_zero_best_and_nan():
    matrix = pd.DataFrame(
        [[0.8, 0.8, 0.4, np.nan], [0.0, 0.0, 0.0, 0.0], [0.5, 0.9, 0.45, 0.6], [0.3, np.nan, 0.2, 0.1]],
        columns=LOSSES,
    )
    taus = [0.0, 0.5, 0.55, 0.9, 1.0]
    profile = an.performance_profile(matrix, taus)
    for tau in taus:
        for loss in LOSSES:
            count = 0
            for row in matrix.to_dict("records"):
                best = max(v for v in row.values() if not np.isnan(v))
                count += (not np.isnan(row[loss])) and row[loss] >= tau * best - 1e-12
            assert profile.loc[tau, loss] == count / 4, (tau, loss)
    # At tau = 1: ties with the best count for both, and on the all-zero dataset every loss counts.
    assert profile.loc[1.0].tolist() == [0.75, 0.75, 0.25, 0.25]
    assert profile.loc[0.0].tolist() == [1.0, 0.75, 1.0, 0.75]  # a missing cell never counts
    assert (profile.diff().dropna() <= 0).all().all()  # non-increasing in tau


def test_performance_profile_single_dataset_default_taus():
    profile = an.performance_profile(pd.DataFrame([[0.5, 1.0]], columns=["a", "b"]))
    assert len(profile) == 201 and profile.index[0] == 0.0 and profile.index[-1] == 1.0
    assert profile["b"].eq(1.0).all()
    assert profile.loc[0.5, "a"] == 1.0 and profile.loc[0.505, "a"] == 0.0


# --- the published table ----------------------------------------------------------------------------
def test_paper_table_is_the_published_table_4():
    paper = an.load_paper_table()
    assert paper.shape == (12, 5)
    for net in ("linear", "hidden"):
        rows = paper[paper["net"] == net]
        assert rows["loss"].tolist() == list(an.PAPER_LOSSES)
        assert rows.set_index("loss").loc["CE", "delta_acc"] == 0
    # PROTOCOL.md: the published mean ranks add up to 15.78 (linear) and 16.64 (hidden), not 21.
    sums = paper.groupby("net")["mean_rank"].sum()
    assert sums["linear"] == pytest.approx(15.78) and sums["hidden"] == pytest.approx(16.64)


def test_packaged_table_has_a_source_header():
    from importlib import resources

    text = resources.files("mixbench").joinpath("resources/table4.tsv").read_text(encoding="utf-8")
    assert text.startswith("#") and "Mixing between the Cross Entropy and the Expectation Loss Terms" in text
    body = [
        row for row in csv.reader(text.splitlines(), delimiter="\t") if row and not row[0].startswith("#")
    ]
    assert body[0] == ["net", "loss", "wins", "delta_acc", "mean_rank"] and len(body) == 13


def test_compare_with_paper_differences_and_guards():
    sel = random_selected(n_datasets=10, losses=list(an.PAPER_LOSSES) + ["Sigmoid-MSE"])
    summary = an.summary_table(sel, losses=an.PAPER_LOSSES, tie_method="min", n_boot=0)
    comparison = an.compare_with_paper(summary)
    paper = an.load_paper_table().query("net == 'linear'").set_index("loss")
    for stat in ("wins", "delta_acc", "mean_rank"):
        np.testing.assert_allclose(comparison[f"{stat}_paper"], paper.loc[list(an.PAPER_LOSSES), stat])
        np.testing.assert_allclose(comparison[f"{stat}_diff"], summary[stat] - paper.loc[summary.index, stat])
    assert (comparison["tie_method"] == "min").all()
    with pytest.warns(UserWarning, match="tie_method='min'"):
        an.compare_with_paper(an.summary_table(sel, losses=an.PAPER_LOSSES, n_boot=0))
    with pytest.raises(ValueError, match="depend on the losses compared"):
        an.compare_with_paper(an.summary_table(sel, tie_method="min", n_boot=0))


def test_functions_do_not_warn_on_ordinary_input():
    sel = random_selected(n_datasets=8)
    matrix = an.accuracy_matrix(sel, seed="mean")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        friedman = an.friedman_test(matrix)
        conover = an.conover_posthoc(matrix)
        wilcoxon = an.wilcoxon_holm(matrix)
        summary = an.summary_table(sel, n_boot=200, random_state=1)
    # and what they return on that input is well formed, not only quiet
    k = matrix.shape[1]
    assert friedman["statistic"] >= 0 and 0 <= friedman["pvalue"] <= 1
    assert conover.shape == (k, k) and np.allclose(conover.to_numpy(), conover.to_numpy().T)
    assert ((conover.to_numpy() >= 0) & (conover.to_numpy() <= 1)).all()
    assert len(wilcoxon) == k * (k - 1) // 2
    assert (wilcoxon["pvalue"] <= wilcoxon["pvalue_holm"]).all() and wilcoxon["pvalue_holm"].le(1).all()
    assert summary["mean_rank"].sum() == pytest.approx(k * (k + 1) / 2)  # ranks 1..k per dataset
