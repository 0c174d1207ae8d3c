"""The verdict: Bayesian signed-rank test, effect sizes, tuning audit, CD families, ties, formats, and the
one analysis object, each checked against an independent computation (baycomp, hand-made tables, scipy)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import baycomp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mixbench import analysis as an
from mixbench import cli, report
from mixbench.analysis import formatting as fmt
from mixbench.analysis.bayes import bayesian_signed_rank, decide, rank_biserial
from mixbench.report.prose import tuning_flag_text, verdict_sentence
from mixbench.results import RunResults, load

ROOT = Path(__file__).resolve().parents[1]


def committed(name: str) -> RunResults:
    return load(ROOT / "results" / name, epochs=False)


@pytest.fixture(scope="module")
def paper_analysis() -> an.RunAnalysis:
    return an.analyse_run(committed("uci121-paper"), n_boot=500, n_samples=20_000)


# --- Bayesian signed-rank against baycomp -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shift", "spread", "rope"),
    [(0.004, 0.01, 0.01), (0.02, 0.02, 0.01), (0.008, 0.02, 0.01), (-0.015, 0.03, 0.005), (0.003, 0.02, 0.0)],
)
def test_bayesian_signed_rank_agrees_with_baycomp(shift, spread, rope):
    rng = np.random.default_rng(7)
    y = rng.uniform(0.5, 0.95, 40)
    x = y + rng.normal(shift, spread, 40)
    ours = bayesian_signed_rank(x, y, rope=rope, n_samples=20_000, random_state=3)
    # baycomp's 'left' is x better (its differences are y - x), 'right' y better.
    theirs = baycomp.SignedRankTest.probs(x, y, rope=rope, nsamples=20_000, random_state=11)
    expected = theirs if rope > 0 else (theirs[0], 0.0, theirs[1])
    got = (ours.p_better, ours.p_equivalent, ours.p_worse)
    # Different seeds: agreement to Monte-Carlo error (a share of 20000 samples: sd <= 0.0035).
    np.testing.assert_allclose(got, expected, atol=0.02)
    assert sum(got) == pytest.approx(1.0)


def test_bayesian_signed_rank_with_baycomps_seed_draws_the_same_posterior():
    rng = np.random.default_rng(1)
    y = rng.uniform(0.5, 0.9, 25)
    x = y + rng.normal(0.006, 0.01, 25)
    ours = bayesian_signed_rank(x, y, rope=0.01, n_samples=5000, random_state=5)
    theirs = baycomp.SignedRankTest.probs(x, y, rope=0.01, nsamples=5000, random_state=5)
    np.testing.assert_allclose((ours.p_better, ours.p_equivalent, ours.p_worse), theirs, atol=1e-3)


def test_the_region_masses_equal_baycomps_quadratic_forms():
    """The prefix-sum evaluation gives sum_ij w_i w_j H(d_i + d_j, 2 rope) exactly, ties at the step
    included (accuracies on a grid of 1/100 make many sums fall on the step)."""
    from mixbench.analysis.bayes import _heaviside, _region_masses

    rng = np.random.default_rng(2)
    for n in (2, 9, 60):
        x = np.round(rng.uniform(0.5, 0.9, n), 2)
        y = np.round(x - rng.normal(0.004, 0.01, n), 2)
        diff = np.concatenate(([0.0], y - x))
        w = np.random.RandomState(0).dirichlet(np.r_[0.5, np.ones(n)], 200)
        sums = diff[:, None] + diff[None, :]
        for rope in (0.0, 0.005, 0.01):
            mass_x, mass_y = _region_masses(diff, w, rope)
            np.testing.assert_allclose(mass_x, np.einsum("si,ij,sj->s", w, _heaviside(-sums, 2 * rope), w))
            np.testing.assert_allclose(mass_y, np.einsum("si,ij,sj->s", w, _heaviside(sums, 2 * rope), w))


def test_bayesian_signed_rank_is_reproducible_and_drops_incomplete_pairs():
    x = np.array([0.9, 0.8, np.nan, 0.7, 0.95])
    y = np.array([0.85, 0.8, 0.6, np.nan, 0.9])
    a = bayesian_signed_rank(x, y, rope=0.01, n_samples=3000, random_state=4)
    b = bayesian_signed_rank(x, y, rope=0.01, n_samples=3000, random_state=4)
    assert a == b and a.n == 3
    complete = bayesian_signed_rank(x[[0, 1, 4]], y[[0, 1, 4]], rope=0.01, n_samples=3000, random_state=4)
    assert (complete.p_better, complete.p_equivalent, complete.p_worse) == (
        a.p_better,
        a.p_equivalent,
        a.p_worse,
    )
    empty = bayesian_signed_rank(np.array([np.nan]), np.array([0.5]))
    assert empty.n == 0 and np.isnan(empty.p_better)


def test_bayesian_decisions_at_the_threshold():
    assert decide(0.96, 0.04, 0.0) == "better"
    assert decide(0.0, 0.95, 0.05) == "equivalent"
    assert decide(0.01, 0.0, 0.99) == "worse"
    assert decide(0.5, 0.3, 0.2) == "undecided"
    assert decide(np.nan, np.nan, np.nan) == "undecided"
    # Far apart on every dataset: better, with certainty; identical: equivalent.
    y = np.linspace(0.5, 0.9, 30)
    assert bayesian_signed_rank(y + 0.05, y, rope=0.01, n_samples=2000).decision() == "better"
    assert bayesian_signed_rank(y, y, rope=0.01, n_samples=2000).decision() == "equivalent"
    assert bayesian_signed_rank(y - 0.05, y, rope=0.01, n_samples=2000).decision() == "worse"


# --- effect size, ties, formats ---------------------------------------------------------------------------
def test_rank_biserial_by_hand():
    # d = 0.1, -0.2, 0.3, 0, 0.05: the zero is left out; ranks of |d|: 0.05 -> 1, 0.1 -> 2, 0.2 -> 3, 0.3 -> 4
    x = np.array([0.6, 0.5, 0.9, 0.7, 0.55])
    y = np.array([0.5, 0.7, 0.6, 0.7, 0.5])
    assert rank_biserial(x, y, tol=1e-9) == pytest.approx((2 + 4 + 1 - 3) / 10)
    # Tied magnitudes share their average rank: d = +0.1, -0.1, +0.2 -> ranks 1.5, 1.5, 3.
    assert rank_biserial(np.array([0.6, 0.4, 0.7]), np.array([0.5, 0.5, 0.5])) == pytest.approx(
        (1.5 + 3 - 1.5) / 6
    )
    assert rank_biserial(np.array([0.5, 0.6]), np.array([0.4, 0.5])) == pytest.approx(1.0)
    assert np.isnan(rank_biserial(np.array([0.5]), np.array([0.5])))


def test_rank_biserial_is_the_normalised_wilcoxon_statistic():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(size=30), rng.uniform(size=30)
    d = x - y
    w_plus = stats.rankdata(np.abs(d))[d > 0].sum()
    total = len(d) * (len(d) + 1) / 2
    assert rank_biserial(x, y) == pytest.approx(2 * w_plus / total - 1)


def test_ties_are_decided_by_a_tolerance_not_by_rounding():
    # Two values that straddle a 12-decimal rounding boundary, 4e-13 apart: rounding split them, a tolerance
    # ties them.
    a, b = 0.1234567890125 - 2e-13, 0.1234567890125 + 2e-13
    assert round(a, 12) != round(b, 12)
    matrix = pd.DataFrame({"A": [a, 0.5], "B": [b, 0.4], "C": [0.1, 0.6]})
    ranks = an.rank_losses(matrix)
    assert ranks.loc[0, "A"] == ranks.loc[0, "B"] == 1.5
    assert an.count_wins(matrix).to_dict() == {"A": 1, "B": 1, "C": 1}
    snapped = an.snap_ties(pd.DataFrame([[0.3, 0.1 + 0.2, np.nan, 0.2]]))
    assert (
        snapped.iloc[0, 0] == snapped.iloc[0, 1]
        and np.isnan(snapped.iloc[0, 2])
        and snapped.iloc[0, 3] == 0.2
    )


def test_printed_numbers_are_rounded_half_up_from_exact_values():
    # The mean rank 99/40 summed in floating point (the example) is stored as 2.4749999999999996.
    summed = 2.4749999999999996
    assert abs(summed - 99 / 40) < 1e-15 and f"{summed:.2f}" == "2.47"
    assert fmt.fixed(summed) == "2.48" and fmt.fixed(99 / 40) == "2.48"
    assert fmt.fixed(0.125, 2) == "0.13" and fmt.fixed(2.5, 0) == "3"
    assert fmt.signed(0.004) == "0.00" and fmt.signed(-0.004) == "0.00" and fmt.signed(0.456) == "+0.46"
    assert fmt.pvalue(0.0123) == "0.012" and fmt.pvalue(1.9e-4) == "1.9e-04" and fmt.pvalue(np.nan) == "n/a"
    assert fmt.wins(40.5) == "40.5" and fmt.wins(33.0) == "33"
    assert fmt.percent(0.8333) == "83%"


def test_holm_and_bh_come_from_statsmodels_and_skip_nan():
    p = [0.01, np.nan, 0.04, 0.03]
    np.testing.assert_allclose(an.adjust_pvalues(p), [0.03, np.nan, 0.06, 0.06])
    np.testing.assert_allclose(an.adjust_pvalues(p, "fdr_bh"), [0.03, np.nan, 0.04, 0.04])


# --- tuning audit -------------------------------------------------------------------------------------------
def test_tuning_audit_on_a_hand_made_table():
    rows = []
    for i in range(4):  # loss A: lr 0.1 (top) in 3 of 4 cells, last epoch (9) in 1
        rows.append({"loss": "A", "lr": 0.1 if i < 3 else 0.01, "epoch": 9 if i == 0 else 4})
    for i in range(4):  # loss B: lr 0.001 (bottom) in 1, last epoch in 3; one cell without result
        rows.append({"loss": "B", "lr": 0.001 if i == 0 else 0.01, "epoch": 9 if i < 3 else 2})
    rows.append({"loss": "B", "lr": np.nan, "epoch": -1})
    audit = an.tuning_audit(pd.DataFrame(rows), lrs=[0.1, 0.01, 0.001], epochs=10)
    assert audit.loc["A", ["cells", "lr_high", "lr_low", "last_epoch"]].tolist() == [4, 0.75, 0.0, 0.25]
    assert audit.loc["B", ["cells", "lr_high", "lr_low", "last_epoch"]].tolist() == [4, 0.0, 0.25, 0.75]
    assert audit.attrs == {"lrs": [0.001, 0.01, 0.1], "last_epoch": 9}
    # The analysis flags the edges reached (data); the report says what to widen (prose).
    assert audit["flag"].to_dict() == {"A": "lr_high", "B": "last_epoch"}
    assert tuning_flag_text(audit.loc["A"], audit.attrs["lrs"]) == (
        "lr 0.1, the largest of the grid, in 75% of its cells: its optimum may lie above the grid "
        "(widen --lrs)"
    )
    assert tuning_flag_text(audit.loc["B"], audit.attrs["lrs"]) == (
        "the last epoch in 75% of its cells: it may need more --epochs"
    )
    one_rate = an.tuning_audit(pd.DataFrame(rows), lrs=[0.01], epochs=10)
    assert np.isnan(one_rate.loc["A", "lr_high"]) and one_rate.loc["A", "flag"] == ""
    assert one_rate.loc["B", "flag"] == "last_epoch"


# --- CD families --------------------------------------------------------------------------------------------
def test_nemenyi_cliques_agree_with_the_drawn_critical_difference(paper_analysis):
    rng = np.random.default_rng(0)
    matrices = [s.matrix for s in paper_analysis.settings]
    matrices.append(pd.DataFrame(rng.uniform(size=(25, 5)) + np.linspace(0, 0.3, 5), columns=list("ABCDE")))
    for matrix in matrices:
        ranks = an.rank_losses(matrix).mean()
        pvalues = an.nemenyi_posthoc(matrix)
        cd = an.nemenyi_cd(matrix.shape[1], len(matrix))
        for a in matrix.columns:
            for b in matrix.columns:
                if a != b and abs(abs(ranks[a] - ranks[b]) - cd) > 1e-6:
                    assert (pvalues.loc[a, b] < 0.05) == (abs(ranks[a] - ranks[b]) > cd), (a, b)
        for group in an.cliques(ranks, pvalues):
            spread = ranks[group].max() - ranks[group].min()
            assert spread <= cd + 1e-9


def test_cliques_by_hand():
    ranks = pd.Series({"A": 1.0, "B": 1.5, "C": 2.5, "D": 4.0})
    p = pd.DataFrame(0.5, index=list("ABCD"), columns=list("ABCD"))
    p.loc["A", "C"] = p.loc["C", "A"] = 0.01  # A and C differ; D differs from everyone
    for other in "ABC":
        p.loc["D", other] = p.loc[other, "D"] = 0.001
    assert an.cliques(ranks, p) == [["A", "B"], ["B", "C"]]


def test_the_diagram_family_is_one_test(paper_analysis):
    setting = paper_analysis.settings[0]
    nemenyi = setting.cd["seed mean"]
    assert nemenyi["cd"] == pytest.approx(an.nemenyi_cd(8, 120))
    pd.testing.assert_frame_equal(nemenyi["pvalues"], an.nemenyi_posthoc(setting.matrix))
    conover = an.analyse_run(committed("uci121-paper"), cd_test="conover", n_boot=0, n_samples=2000)
    seed_mean = conover.settings[0].cd["seed mean"]
    assert seed_mean["cd"] is None
    pd.testing.assert_frame_equal(seed_mean["pvalues"], an.conover_posthoc(setting.matrix))
    # The ranks a diagram shows are the seed-averaged-accuracy ranks of the summary beside it.
    pd.testing.assert_series_equal(
        setting.ranks, setting.summaries["seed_mean"]["mean_rank"], check_names=False
    )


# --- the analysis of the committed run
def test_the_verdict_of_the_committed_run_is_its_parts(paper_analysis):
    run = committed("uci121-paper")
    for setting in paper_analysis.settings:
        verdict = setting.verdict
        assert list(verdict.index) == [loss for loss in an.LOSS_ORDER if loss != "CE"]
        seed_mean = an.summary_table(run.selected, setting.net, how="seed_mean", n_boot=0)
        np.testing.assert_allclose(verdict["delta_acc"], seed_mean.loc[verdict.index, "delta_acc"])
        wilcoxon = an.wilcoxon_holm(setting.matrix, baseline="CE").set_index("loss")
        np.testing.assert_allclose(verdict["wilcoxon_p_holm"], wilcoxon.loc[verdict.index, "pvalue_holm"])
        probabilities = verdict[["p_better", "p_equivalent", "p_worse"]].sum(axis=1)
        np.testing.assert_allclose(probabilities, 1.0)
        for loss, row in verdict.iterrows():
            # Each seed's decision is the test on that seed's matrix alone.
            for seed, decision in row["seed_decisions"].items():
                m = setting.by_seed[seed]
                alone = bayesian_signed_rank(m[loss], m["CE"], rope=0.01, n_samples=20_000, random_state=0)
                assert alone.decision() == decision
            assert row["seeds_agree"] == (len(set(row["seed_decisions"].values())) == 1)
            sentence = verdict_sentence(
                loss,
                row,
                baseline="CE",
                rope=0.01,
                seeds=list(setting.by_seed),
                lrs=setting.tuning.attrs["lrs"],
            )
            assert sentence.startswith(f"{loss}: {fmt.signed(row['delta_acc'])} pp")
            assert ("Tuning flag: lr 0.01, the largest of the grid" in sentence) == ("lr_high" in row["flag"])
        # The audit counts from the stored rows.
        rows = run.selected[run.selected["net"] == setting.net]
        ce = rows[rows["loss"] == "CE"]
        assert setting.tuning.loc["CE", "lr_high"] == pytest.approx((ce["lr"] == 0.01).mean())


def test_the_committed_run_says_gains_are_real_but_small(paper_analysis):
    """The reading's claims: on the linear network the mixtures are practically equivalent to CE although
    two of them pass Wilcoxon-Holm; EL is worse on both networks; every loss is flagged for its grid."""
    linear, hidden = paper_analysis.settings
    mixtures = ["CE+EL F=0", "CE+EL F=0,0.5", "CE+EL F=0-0.5"]
    assert (linear.verdict.loc[mixtures, "decision"] == "equivalent").all()
    assert (linear.verdict.loc[mixtures[:2], "wilcoxon_p_holm"] < 0.05).all()
    assert (hidden.verdict.loc[mixtures, "decision"] == "equivalent").all()
    assert linear.verdict.loc["EL", "decision"] == hidden.verdict.loc["EL", "decision"] == "worse"
    for setting in (linear, hidden):
        assert (setting.tuning["lr_high"] > 0.75).all() and (setting.tuning["flag"] != "").all()


# --- small and odd runs render
def small_run(n_datasets: int, losses: list[str], *, diverged: bool = False) -> RunResults:
    rng = np.random.default_rng(n_datasets + len(losses))
    rows = []
    for d in range(n_datasets):
        for net in ("linear", "hidden"):
            for seed in (60, 1234):
                for i, loss in enumerate(losses):
                    acc = float(np.round(rng.uniform(0.6, 0.9) + 0.01 * i, 2))
                    rows.append(
                        dict(dataset=f"d{d}", net=net, split=0, noise="none", loss=loss, seed=seed, lr=0.01,
                             epoch=3, val_acc=acc, test_acc=acc, diverged=False)
                    )  # fmt: skip
    selected = pd.DataFrame(rows)
    if diverged:
        hit = (selected["dataset"] == "d0") & (selected["loss"] == losses[-1])
        selected.loc[hit, ["test_acc", "val_acc", "lr", "epoch", "diverged"]] = [
            np.nan,
            np.nan,
            np.nan,
            -1,
            True,
        ]
        selected.loc[(selected["dataset"] == "d1") & (selected["loss"] == losses[0]), "diverged"] = True
    config = {"config": {"suite": "toy", "lrs": [0.01, 0.001], "epochs": 4}}
    return RunResults(
        config=config, selected=selected, epochs=None, failures=pd.DataFrame(), path=Path("odd")
    )


@pytest.mark.parametrize(
    ("n_datasets", "losses", "diverged"),
    [
        (1, ["CE", "EL", "Focal"], False),
        (6, ["CE", "EL"], False),
        (5, ["CE"], False),
        (6, ["CE", "EL", "MAE"], True),
    ],
    ids=["one-dataset", "two-losses", "one-loss", "diverged-cells"],
)
def test_odd_runs_render_and_say_what_is_undefined(tmp_path, n_datasets, losses, diverged):
    run = small_run(n_datasets, losses, diverged=diverged)
    paths = report.render_report(run, tmp_path, latex=True, n_boot=100)
    html = paths["html"].read_text(encoding="utf-8")
    assert paths["pdf"].stat().st_size > 1000
    analysis = an.analyse_run(run, n_boot=100, n_samples=2000)
    text = report.format_verdict(analysis)
    if len(losses) == 1:
        assert "nothing to compare" in html and "nothing to compare" in text and not analysis.settings
        return
    for setting in analysis.settings:
        assert len(setting.verdict) == len(losses) - 1
        for loss in setting.verdict.index:
            assert loss in text
    if n_datasets == 1:
        assert "only 1 dataset" in html and "undefined" in text
        assert analysis.settings[0].verdict["wilcoxon_p"].isna().all()
    if len(losses) == 2:
        assert "the Friedman test needs at least three" in html
    if diverged:
        excluded = analysis.excluded
        assert set(excluded["dataset"]) == {"d0"}  # the cell without result; d1's diverged cell has one
        assert "Diverged cells (" in html


def test_latex_tables_are_booktabs_and_escaped(tmp_path, paper_analysis):
    folder = report.write_latex(paper_analysis, tmp_path)
    verdict = (folder / "verdict-linear.tex").read_text()
    assert "\\toprule" in verdict and "\\midrule" in verdict and "\\bottomrule" in verdict
    assert "CE+EL F=0,0.5 & equivalent" in verdict and "\\label{tab:verdict-linear}" in verdict
    assert "95\\% bootstrap" in verdict
    assert (folder / "cd-hidden.pdf").read_bytes().startswith(b"%PDF")
    user = small_run(4, ["CE", "my_loss%1"])
    text = (
        report.write_latex(an.analyse_run(user, n_boot=0, n_samples=500), tmp_path / "u")
        / "verdict-linear.tex"
    )
    assert "my\\_loss\\%1" in text.read_text()


def test_cli_report_latex_baseline_and_rope(tmp_path, capsys):
    run_dir = ROOT / "results" / "uci121-noise40"
    code = cli.main(["report", str(run_dir), "--latex", "--out", str(tmp_path), "--baseline", "EL",
    "--rope", "0.5",
                     "--n-boot", "100"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and f"latex: {tmp_path / 'latex'}" in out and not (tmp_path / "report.html").exists()
    verdict = (tmp_path / "latex" / "verdict-hidden-symmetric-0.4.tex").read_text()
    assert "against EL" in verdict and "ROPE 0.5 pp" in verdict and "\nEL &" not in verdict
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert cli.main(["report", str(run_dir), "--baseline", "NoSuchLoss", "--out", str(tmp_path)]) == 2
    assert "NoSuchLoss" in err.getvalue()
