"""Tests of mixbench.engine (issue 4): the model bank against the naive nn.Module + optim.SGD loop.

The bank is trained once per (dataset, network) and every one of its models is compared with a naive run
of the same (loss, lr, seed). Real UCI-121 datasets of different shapes; the training split is cut to a
few dozen rows where that keeps the naive runs fast (the last batch stays partial). Selection rules and
the protocol projection are checked on small hand-made tables whose answers are worked out here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from cli_helpers import mixbench
from mixbench.engine import (
    DEFAULT_LRS,
    DEFAULT_SEEDS,
    RECORD_COLUMNS,
    batched_product_rate,
    bench_engine,
    loss_cost_ratios,
    loss_kinds,
    params_per_model,
    pooled_rates,
    project_protocol_time,
    project_suite,
    select_by_validation,
    train_bank,
    train_naive,
)
from mixbench.engine import bank as engine_bank
from mixbench.engine import evaluation as engine_evaluation
from mixbench.engine.bank import Bank
from mixbench.engine.nets import BANK_NETS
from mixbench.losses import STANDARD_LOSSES, Loss, get_loss, register_loss
from mixbench.models import NETS, build_module, flops_per_row, forward, init_params
from mixbench.schema import SELECTION_COLUMNS
from mixbench.suites import load_dataset
from mixbench.suites.toy import toy_dataset

# Short runs on purpose: the warning that some focus values of the CE+EL schedules get no epoch is expected.
pytestmark = pytest.mark.filterwarnings("ignore:loss 'CE\\+EL F=0")

#: (dataset, training rows kept (None: all), epochs): 2 classes x 3 features with 6 epochs (every phase of
#: both schedules), 6 classes x 9 features with its whole training split (124 rows: a last batch of 4),
#: 13 classes x 262 features.
EQUIVALENCE_CASES = (("haberman-survival", 43, 6), ("glass", None, 3), ("arrhythmia", 35, 3))

_DATASETS: dict = {}


def dataset(uci_dir, name: str, n_train: int | None = None):
    """(X, y, train, validation, test, n_classes) of a real dataset, training rows cut to ``n_train``."""
    if name not in _DATASETS:
        _DATASETS[name] = load_dataset(name, data_dir=uci_dir)
    ds = _DATASETS[name]
    train = ds.train if n_train is None else ds.train[:n_train]
    return ds.X, ds.y, train, ds.validation, ds.test, ds.n_classes


def model_records(records: pd.DataFrame, loss: str, lr: float, seed: int) -> pd.DataFrame:
    rows = records[(records["loss"] == loss) & (records["lr"] == lr) & (records["seed"] == seed)]
    return rows.sort_values("epoch").reset_index(drop=True)


def correct_counts(acc: pd.Series, n: int) -> np.ndarray:
    """Number of correctly classified rows behind accuracies of a split of ``n`` rows."""
    counts = acc.to_numpy() * n
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-4)  # an accuracy is k / n
    return np.rint(counts).astype(int)


def assert_same_params(got, expected, atol=1e-5):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=0, atol=atol)


def assert_bitwise_equal_params(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert torch.equal(g, e)


def model_index(result) -> dict:
    """(loss, lr, seed) -> model number of a TrainResult."""
    return {(r.loss, r.lr, r.seed): m for m, r in result.models.iterrows()}


# --- the bank equals the naive loop -------------------------------------------------------------------------
@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize(("name", "n_train", "epochs"), EQUIVALENCE_CASES)
def test_bank_equals_naive_loop(uci_dir, name, n_train, epochs, net):
    X, y, train, val, test, C = dataset(uci_dir, name, n_train)
    assert len(train) % 8 != 0  # a partial last batch is part of every case
    if epochs >= 6:  # this case runs through every phase of both CE+EL schedules
        assert len({get_loss("CE+EL F=0-0.5").schedule.focus(e, epochs) for e in range(epochs)}) == 6
        assert len({get_loss("CE+EL F=0,0.5").schedule.focus(e, epochs) for e in range(epochs)}) == 2

    bank = train_bank(X, y, train, val, test, C, net=net, epochs=epochs)

    assert list(bank.records.columns) == RECORD_COLUMNS
    assert len(bank.models) == len(STANDARD_LOSSES) * len(DEFAULT_LRS) * len(DEFAULT_SEEDS)
    assert len(bank.records) == len(bank.models) * epochs
    assert set(zip(bank.models["loss"], bank.models["lr"], bank.models["seed"], strict=True)) == {
        (ls, lr, s) for ls in STANDARD_LOSSES for lr in DEFAULT_LRS for s in DEFAULT_SEEDS
    }
    assert (bank.models["diverged_epoch"] == -1).all()
    for m, model in bank.models.iterrows():
        naive_records, naive_params = train_naive(
            X, y, train, val, test, C, net=net, loss=model.loss, lr=model.lr, seed=model.seed, epochs=epochs
        )
        ours = model_records(bank.records, model.loss, model.lr, model.seed)
        assert ours["epoch"].tolist() == list(range(epochs))
        assert not ours["diverged"].any() and not naive_records["diverged"].any()
        assert_same_params(bank.params[m], naive_params)
        for col, n in (("val_acc", len(val)), ("test_acc", len(test))):
            np.testing.assert_array_equal(correct_counts(ours[col], n), correct_counts(naive_records[col], n))
        np.testing.assert_allclose(ours["train_loss"], naive_records["train_loss"], rtol=1e-4)


def test_bank_accuracies_are_exact_fractions_like_the_naive_loop(uci_dir):
    X, y, train, val, test, C = dataset(uci_dir, "haberman-survival", 43)
    bank = train_bank(
        X, y, train, val, test, C, net="linear", losses=["CE"], lrs=[0.01], seeds=[60], epochs=2
    )
    naive, _ = train_naive(X, y, train, val, test, C, net="linear", loss="CE", lr=0.01, seed=60, epochs=2)
    for col, n in (("val_acc", len(val)), ("test_acc", len(test))):
        k = correct_counts(bank.records[col], n)
        np.testing.assert_array_equal(bank.records[col].to_numpy(), k / n)
        np.testing.assert_array_equal(bank.records[col].to_numpy(), naive[col].to_numpy())


@pytest.mark.parametrize("net", NETS)
def test_accuracy_as_the_reference_codes_mean_of_batch_accuracies(uci_dir, net, monkeypatch):
    """``eval_batch=128``: validation and test accuracy as the mean of per-batch accuracies (yeast: 212
    validation rows = 128 + 84, 371 test rows = 2 x 128 + 115), as the naive loop and a hand computation
    from the final weights give them; the training itself does not change."""
    X, y, train, val, test, C = dataset(uci_dir, "yeast", 43)
    assert (len(val), len(test)) == (212, 371)
    exact = train_bank(X, y, train, val, test, C, net=net, epochs=3)
    batched = train_bank(X, y, train, val, test, C, net=net, epochs=3, eval_batch=128)
    pd.testing.assert_frame_equal(batched.models, exact.models)
    np.testing.assert_array_equal(batched.records["train_loss"], exact.records["train_loss"])
    for m, model in batched.models.iterrows():
        assert_bitwise_equal_params(batched.params[m], exact.params[m])
        naive, _ = train_naive(
            X, y, train, val, test, C, net=net, loss=model.loss, lr=model.lr, seed=model.seed, epochs=3,
            eval_batch=128,
        )  # fmt: skip
        ours = model_records(batched.records, model.loss, model.lr, model.seed)
        np.testing.assert_allclose(ours[["val_acc", "test_acc"]], naive[["val_acc", "test_acc"]], rtol=1e-12)
        # by hand, last epoch: hits per batch of 128 rows, each divided by its batch's size, averaged
        with torch.no_grad():
            pred = forward(batched.params[m], torch.as_tensor(X)).argmax(-1).numpy()
        for col, idx in (("val_acc", val), ("test_acc", test)):
            hits = pred[idx] == y[idx]
            expected = np.mean([hits[i : i + 128].mean() for i in range(0, len(idx), 128)])
            assert ours[col].iloc[-1] == pytest.approx(expected, rel=1e-12)
    # the rule weighs the short last batch more, so it moves the accuracies of some models
    moved = (batched.records[["val_acc", "test_acc"]] - exact.records[["val_acc", "test_acc"]]).abs()
    assert (moved > 1e-3).to_numpy().any(axis=0).all()
    # evaluation chunks (here 50 rows) that cut across the 128-row batches give the same records
    monkeypatch.setattr(engine_evaluation, "_EVAL_ROWS", 50)
    chunked = train_bank(X, y, train, val, test, C, net=net, epochs=3, eval_batch=128)
    pd.testing.assert_frame_equal(
        chunked.records.drop(columns="train_loss"), batched.records.drop(columns="train_loss")
    )


def test_a_split_within_one_evaluation_batch_keeps_its_exact_accuracy(uci_dir):
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    assert max(len(val), len(test)) <= 128
    exact = train_bank(X, y, train, val, test, C, net="linear", epochs=2)
    batched = train_bank(X, y, train, val, test, C, net="linear", epochs=2, eval_batch=128)
    pd.testing.assert_frame_equal(batched.records, exact.records, check_exact=True)
    with pytest.raises(ValueError, match="eval_batch must be 0"):
        train_bank(X, y, train, val, test, C, eval_batch=-1)


@pytest.mark.parametrize("net", NETS)
def test_each_network_is_one_bank_layout_holding_exactly_its_models_parameters(net):
    """Every network of models.NETS has its class in engine.nets; its bank holds each model's parameters once
    (params_per_model each, every flat value owned by one model), and a model written in reads back
    unchanged."""
    assert tuple(BANK_NETS) == NETS
    n_features, n_classes, n_seeds, n_groups = 5, 3, 2, 4
    gen = torch.Generator().manual_seed(0)
    seeds_params = [init_params(net, n_features, n_classes, gen) for _ in range(n_seeds)]
    bank = Bank(net, n_features, n_classes, seeds_params, n_groups, torch.device("cpu"))
    per_model = params_per_model(net, n_features, n_classes)
    assert bank.flat.numel() == n_seeds * n_groups * per_model
    assert bank.model_of.bincount().tolist() == [per_model] * (n_seeds * n_groups)
    for m in range(n_seeds * n_groups):
        got = bank.get_model(m)
        assert len(got) == len(seeds_params[m // n_groups])
        for p, expected in zip(got, seeds_params[m // n_groups], strict=True):
            assert torch.equal(p, expected)
    # the values model_of gives model 1 are its parameters, all of them and no other model's
    flat = bank.flat.clone()
    flat[bank.model_of == 1] = 0.0
    assert all(not p.any() for p in bank.get_model(1, flat))
    assert all(torch.equal(a, b) for a, b in zip(bank.get_model(0, flat), seeds_params[0], strict=True))


# --- seeds: reproducible, shared initialisation and batch order ---------------------------------------------
@pytest.mark.parametrize("net", NETS)
def test_same_seed_same_results_bit_for_bit(uci_dir, net):
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    seen: list[int] = []
    runs = [
        train_bank(X, y, train, val, test, C, net=net, epochs=3, keep_best=True, progress=seen.append)
        for _ in range(2)
    ]
    assert seen == [0, 1, 2, 0, 1, 2]
    a, b = runs
    pd.testing.assert_frame_equal(a.records, b.records, check_exact=True)
    pd.testing.assert_frame_equal(a.models, b.models, check_exact=True)
    for m in range(len(a.models)):
        assert_bitwise_equal_params(a.params[m], b.params[m])
        assert_bitwise_equal_params(a.best_params[m], b.best_params[m])
    # and the runs did train: the weights moved away from the initialisation
    init = init_params(net, X.shape[1], C, torch.Generator().manual_seed(int(a.models.seed[0])))
    assert not torch.allclose(a.params[0][0], init[0], atol=1e-3)


@pytest.mark.parametrize("net", NETS)
def test_every_model_of_a_seed_starts_from_that_seeds_weights(uci_dir, net):
    """With learning rate 0 the final weights are the initial ones: equal to init_params(seed) for every
    loss, the same across the losses of one seed, different between seeds."""
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    bank = train_bank(X, y, train, val, test, C, net=net, lrs=[0.0], epochs=1)
    init = {s: init_params(net, X.shape[1], C, torch.Generator().manual_seed(s)) for s in DEFAULT_SEEDS}
    assert len(bank.models) == len(STANDARD_LOSSES) * len(DEFAULT_SEEDS)
    for m, model in bank.models.iterrows():
        assert_bitwise_equal_params(bank.params[m], init[model.seed])
    for a, b in zip(init[60], init[1234], strict=True):
        assert not torch.allclose(a, b, atol=1e-3)
    # same weights, same predictions: every loss of one seed has the same accuracies
    for _, cell in bank.records.groupby("seed"):
        assert cell["val_acc"].nunique() == 1 and cell["test_acc"].nunique() == 1


def _linear_loss(scale: float):
    # -scale * q_y: its logit gradient is a constant, so the weights move by lr x f(batch order)
    def fn(q, y):
        return -scale * q.gather(1, y[:, None])[:, 0]

    return fn


def test_models_of_a_seed_see_the_same_batch_order(uci_dir):
    """For the linear net and L = -k q_y, SGD with momentum moves W by lr * k * sum_t w_t X_t^T Y_t / B with
    weights w_t = sum_{i <= T - t} 0.9^i that depend on the position t of each batch: the displacement /
    (lr k) is the same for two models only if they saw the same batches in the same order."""
    once = register_loss("test_engine: -q_y", _linear_loss(1.0), replace=True)
    twice = register_loss("test_engine: -2 q_y", _linear_loss(2.0), replace=True)
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    bank = train_bank(X, y, train, val, test, C, net="linear", losses=[once, twice], epochs=2)
    k = {once.name: 1.0, twice.name: 2.0}
    per_seed: dict[int, list] = {}
    for m, model in bank.models.iterrows():
        init = init_params("linear", X.shape[1], C, torch.Generator().manual_seed(model.seed))
        moved = [(p - p0) / (model.lr * k[model.loss]) for p, p0 in zip(bank.params[m], init, strict=True)]
        per_seed.setdefault(model.seed, []).append(moved)
    for models in per_seed.values():
        assert len(models) == 6  # 2 losses x 3 learning rates
        for moved in models[1:]:
            for a, b in zip(moved, models[0], strict=True):
                torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)
    # the order matters: the two seeds (different batch orders) end up clearly apart
    a, b = per_seed[60][0][0], per_seed[1234][0][0]
    assert (a - b).abs().max() > 0.1
    # and a reshuffle by a different seed is not a small perturbation of the same order
    assert not torch.allclose(a, b, rtol=1e-2, atol=1e-2)


# --- divergence ---------------------------------------------------------------------------------------------
def _ce(q, y):
    return torch.nn.functional.cross_entropy(q, y, reduction="none")


class _NanAfter:
    """CE whose value turns NaN (so its gradients too) from its call with autograd ``after + 1`` on.

    The calls with autograd on are the engine's finite-loss check of the first step (one, before training:
    ``after = 0`` is a loss NaN from the start, which that check refuses) and the training steps; the
    engine evaluates losses under no_grad.
    """

    def __init__(self, after: float):
        self.after, self.steps = after, 0

    def __call__(self, q, y):
        if torch.is_grad_enabled():
            self.steps += 1
        ce = _ce(q, y)
        return ce * math.nan if self.steps > self.after else ce


def assert_divergence_recorded(result, model: int, epochs: int) -> int:
    """The model's epochs from its divergence on are NaN and flagged, the earlier ones finite."""
    row = result.models.loc[model]
    d = int(row.diverged_epoch)
    assert d >= 0
    rec = model_records(result.records, row.loss, row.lr, row.seed)
    assert rec["diverged"].tolist() == [e >= d for e in range(epochs)]
    late, early = rec[rec["epoch"] >= d], rec[rec["epoch"] < d]
    assert late[["train_loss", "val_acc", "test_acc"]].isna().all().all()
    assert np.isfinite(early[["train_loss", "val_acc", "test_acc"]].to_numpy()).all()
    return d


def assert_selection_avoids_diverged(records: pd.DataFrame) -> pd.DataFrame:
    selected = select_by_validation(records)
    picked = selected.merge(records, on=["loss", "seed", "lr", "epoch"], suffixes=("", "_rec"))
    assert not picked["diverged_rec"].any()
    assert len(picked) == selected["epoch"].ge(0).sum()
    for row in selected.itertuples():
        cell = records[(records["loss"] == row.loss) & (records["seed"] == row.seed)]
        assert row.diverged == cell["diverged"].any()
        alive = cell[~cell["diverged"]]
        if len(alive):
            assert row.val_acc == alive["val_acc"].max()
        else:
            assert row.epoch == -1 and math.isnan(row.lr) and math.isnan(row.val_acc)
            assert math.isnan(row.test_acc)
    return selected


@pytest.mark.parametrize("net", NETS)
def test_a_diverging_user_loss_never_touches_the_other_models(uci_dir, net):
    """A loss that turns NaN in epoch 2 and one that is NaN from its second step, in a bank with CE and EL.
    Same layout, same numbers: the CE and EL models must be bit-identical to those of a bank whose two
    user losses stay finite. (Both pass the engine's finite-loss check, one call before the first step.)"""
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    steps_per_epoch = math.ceil(len(train) / 8)
    epochs = 4

    def bank(later_after, always_after):
        later = register_loss("test_engine: NaN later", _NanAfter(later_after), replace=True)
        always = register_loss("test_engine: NaN always", _NanAfter(always_after), replace=True)
        losses = ["CE", later, "EL", always]
        return train_bank(X, y, train, val, test, C, net=net, losses=losses, epochs=epochs, keep_best=True)

    diverging = bank(1 + 2 * steps_per_epoch, 2)
    finite = bank(math.inf, math.inf)

    assert (finite.models["diverged_epoch"] == -1).all()
    by_loss = diverging.models.groupby("loss")["diverged_epoch"].unique().to_dict()
    assert by_loss["test_engine: NaN later"].tolist() == [2]
    assert by_loss["test_engine: NaN always"].tolist() == [0]
    assert by_loss["CE"].tolist() == [-1] and by_loss["EL"].tolist() == [-1]
    for m, model in diverging.models.iterrows():
        if model.loss.startswith("test_engine"):
            assert_divergence_recorded(diverging, m, epochs)
            # keep_best: the best epoch before the divergence; a model diverged in epoch 0 keeps its init
            init = init_params(net, X.shape[1], C, torch.Generator().manual_seed(model.seed))
            assert all(torch.isfinite(p).all() for p in diverging.best_params[m])
            if model.diverged_epoch == 0:
                assert_bitwise_equal_params(diverging.best_params[m], init)
            else:
                assert not torch.equal(diverging.best_params[m][-1], init[-1])
    shared = finite.models["loss"].isin(["CE", "EL"])
    pd.testing.assert_frame_equal(
        diverging.records[diverging.records["loss"].isin(["CE", "EL"])],
        finite.records[finite.records["loss"].isin(["CE", "EL"])],
        check_exact=True,
    )
    for m in finite.models.index[shared]:
        assert_bitwise_equal_params(diverging.params[m], finite.params[m])

    selected = assert_selection_avoids_diverged(diverging.records)
    flags = selected.groupby("loss")["diverged"].all().to_dict()
    assert flags == {
        "CE": False,
        "EL": False,
        "test_engine: NaN later": True,
        "test_engine: NaN always": True,
    }
    later = selected[selected["loss"] == "test_engine: NaN later"]
    assert later["epoch"].isin([0, 1]).all() and later["val_acc"].notna().all()
    always = selected[selected["loss"] == "test_engine: NaN always"]
    assert (always["epoch"] == -1).all() and always[["lr", "val_acc", "test_acc"]].isna().all().all()


@pytest.mark.parametrize("net", NETS)
def test_a_huge_learning_rate_diverges_without_harm(uci_dir, net):
    """lr = 1e38 overflows float32: those models diverge, the bank does not crash, and the models of the
    other rates are bit-identical to those of the same bank with a tame rate in that place."""
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    losses, epochs = ["CE", "EL", "Sigmoid-MSE"], 5
    huge = train_bank(
        X, y, train, val, test, C, net=net, losses=losses, lrs=(0.01, 0.001, 1e38), epochs=epochs
    )
    tame = train_bank(
        X, y, train, val, test, C, net=net, losses=losses, lrs=(0.01, 0.001, 1e-4), epochs=epochs
    )
    without = train_bank(X, y, train, val, test, C, net=net, losses=losses, lrs=(0.01, 0.001), epochs=epochs)

    assert (huge.models["diverged_epoch"] >= 0).tolist() == (huge.models["lr"] == 1e38).tolist()
    assert (tame.models["diverged_epoch"] == -1).all()
    for m in huge.models.index[huge.models["lr"] == 1e38]:
        assert_divergence_recorded(huge, m, epochs)
        assert all(torch.equal(p, torch.zeros_like(p)) for p in huge.params[m])  # frozen at zero
    kept = huge.records["lr"] != 1e38
    pd.testing.assert_frame_equal(
        huge.records[kept].reset_index(drop=True),
        tame.records[tame.records["lr"] != 1e-4].reset_index(drop=True),
        check_exact=True,
    )
    for m in huge.models.index[huge.models["lr"] != 1e38]:
        assert_bitwise_equal_params(huge.params[m], tame.params[m])
    # Against a bank without the third rate, accuracies are identical and weights equal to rounding (a
    # bank of another width may sum in another order).
    index = model_index(huge)
    pd.testing.assert_frame_equal(
        huge.records[kept].drop(columns="train_loss").reset_index(drop=True),
        without.records.drop(columns="train_loss").reset_index(drop=True),
        check_exact=True,
    )
    np.testing.assert_allclose(huge.records[kept]["train_loss"], without.records["train_loss"], rtol=1e-6)
    for m, model in without.models.iterrows():
        assert_same_params(
            huge.params[index[(model.loss, model.lr, model.seed)]], without.params[m], atol=1e-6
        )

    selected = assert_selection_avoids_diverged(huge.records)
    assert selected["diverged"].all()  # every (loss, seed) has a diverged rate
    assert (selected["lr"] != 1e38).any()


@pytest.mark.parametrize("net", NETS)
def test_a_diverged_model_stays_frozen_at_zero(uci_dir, net):
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    always = register_loss("test_engine: NaN always", _NanAfter(1), replace=True)  # from its first step
    bank = train_bank(X, y, train, val, test, C, net=net, losses=["CE", always], lrs=[0.01], epochs=2)
    for m, model in bank.models.iterrows():
        if model.loss == always.name:
            assert model.diverged_epoch == 0
            assert all(torch.equal(p, torch.zeros_like(p)) for p in bank.params[m])


def _nan_for_finite_logits(q, y):
    return torch.log(q - 1e9).sum(1)  # log of a negative number: NaN for any logits the net can give


def _nan_gradient(q, y):
    ce = torch.nn.functional.cross_entropy(q, y, reduction="none")
    return ce + torch.sqrt(ce - ce)  # the value is CE, the gradient of sqrt at 0 is infinite, times 0: NaN


@pytest.mark.parametrize(
    ("function", "fault"), [(_nan_for_finite_logits, "returned NaN"), (_nan_gradient, "has a NaN gradient")]
)
def test_a_loss_that_is_nan_for_finite_logits_is_named_not_taken_for_divergence(function, fault):
    """The user's finding: a user loss returning NaN was reported as every learning rate diverging, with
    advice to lower the learning rate. Its value or gradient at the first step's finite logits names it."""
    ds = toy_dataset("iris")
    broken = register_loss("test_engine: my broken loss", function, replace=True)
    calls = []
    progress = calls.append
    with pytest.raises(ValueError) as info:
        train_bank(ds.X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes, net="linear",
                   losses=["CE", broken], epochs=2, progress=progress)  # fmt: skip
    assert str(info.value) == (
        f"loss 'test_engine: my broken loss' {fault} for finite logits at epoch 0 (the initial model of "
        f"seed {DEFAULT_SEEDS[0]}, 64 training rows): the loss, not the learning rate, is at fault; make it "
        "finite for any finite logits (e.g. clamp before a log, a division or a power)"
    )
    assert calls == []  # said before any training


def test_a_huge_learning_rate_is_still_a_divergence_not_the_losss_fault():
    ds = toy_dataset("iris")
    result = train_bank(ds.X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes, net="linear",
                        losses=["CE"], lrs=[1e38], seeds=[0], epochs=2)  # fmt: skip
    assert result.models["diverged_epoch"].tolist() == [0]


def test_a_nan_user_loss_in_a_run_is_one_line_naming_it(tmp_path, monkeypatch):
    from mixbench.losses import registry

    module = tmp_path / "user_nan_loss.py"
    module.write_text(
        "import torch\n"
        "from mixbench.losses import register_loss\n"
        "def nan_loss(logits, targets):\n"
        "    return torch.full_like(logits[:, 0], float('nan')) * logits.sum(1)\n"
        "LOSS = register_loss('nan loss', nan_loss)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # for the worker processes
    argv = ["--suite", "toy", "--datasets", "iris", "--nets", "linear", "--seeds", "0", "--epochs", "1"]
    code, stdout, stderr = mixbench(
        "run", *argv, "--losses", "CE,user_nan_loss:LOSS", "--out", str(tmp_path / "r")
    )
    assert code == 1 and "Traceback" not in stderr and "Verdict" not in stdout
    assert (
        "task iris/linear failed: ValueError: loss 'nan loss' returned NaN for finite logits at epoch 0"
        in stderr
    )
    assert "the loss, not the learning rate, is at fault" in stderr and "diverged" not in stdout


# --- selection ----------------------------------------------------------------------------------------------
def records_table(rows, **extra) -> pd.DataFrame:
    """Records from rows (loss, lr, seed, val accuracies by epoch[, diverged epochs]).

    test_acc = val + 0.01 * epoch + lr, so every row is told apart by its test accuracy.
    """
    out = []
    for row in rows:
        loss, lr, seed, vals = row[:4]
        dead = row[4] if len(row) > 4 else ()
        for epoch, v in enumerate(vals):
            test = v + 0.01 * epoch + lr if not math.isnan(v) else math.nan
            out.append([loss, lr, seed, epoch, 1.0 / (epoch + 1), v, test, epoch in dead])
    df = pd.DataFrame(out, columns=RECORD_COLUMNS)
    return df.assign(**extra) if extra else df


def pick(selected: pd.DataFrame, loss: str, seed: int = 0) -> tuple:
    row = selected[(selected["loss"] == loss) & (selected["seed"] == seed)]
    assert len(row) == 1
    r = row.iloc[0]
    return r.lr, r.epoch, r.val_acc, r.test_acc, r.diverged


def test_selection_rules_on_hand_made_records():
    nan = math.nan
    records = records_table(
        [
            # within one rate the later epoch wins a tie (epoch 2 over 1); across rates 0.005 ties 0.01's best
            # 0.7 and loses (strict >), 0.001 is lower
            ("tie", 0.01, 0, [0.5, 0.7, 0.7, 0.6]),
            ("tie", 0.005, 0, [0.6, 0.7, 0.65, 0.7]),
            ("tie", 0.001, 0, [0.3, 0.4, 0.5, 0.6]),
            # a later rate strictly better wins
            ("later", 0.01, 0, [0.5, 0.6, 0.6, 0.6]),
            ("later", 0.005, 0, [0.5, 0.6, 0.6, 0.6]),
            ("later", 0.001, 0, [0.5, 0.61, 0.2, 0.1]),
            # the best value sits on a diverged epoch (epochs 2, 3 of 0.01): never picked, cell flagged
            ("dead", 0.01, 0, [0.4, 0.44, 0.99, 0.99], (2, 3)),
            ("dead", 0.005, 0, [0.45, 0.45, 0.3, 0.2]),
            ("dead", 0.001, 0, [0.1, 0.2, 0.3, 0.4]),
            # every epoch of every rate diverged
            ("gone", 0.01, 0, [nan, nan], (0, 1)),
            ("gone", 0.005, 0, [nan, nan], (0, 1)),
            ("gone", 0.001, 0, [nan, nan], (0, 1)),
            # a NaN validation accuracy that is not flagged diverged (empty validation) is not picked either
            ("nanval", 0.01, 0, [nan, 0.2, nan]),
            ("nanval", 0.005, 0, [0.1, nan, nan]),
            ("nanval", 0.001, 0, [nan, nan, nan]),
            # another seed of "tie" is its own cell
            ("tie", 0.01, 1, [0.9, 0.1, 0.1, 0.1]),
            ("tie", 0.005, 1, [0.1, 0.1, 0.1, 0.1]),
            ("tie", 0.001, 1, [0.1, 0.1, 0.1, 0.95]),
        ]
    )
    selected = select_by_validation(records)

    assert list(selected.columns) == list(SELECTION_COLUMNS)
    assert len(selected) == 6
    assert pick(selected, "tie") == (0.01, 2, 0.7, 0.7 + 0.02 + 0.01, False)
    assert pick(selected, "later") == (0.001, 1, 0.61, 0.61 + 0.01 + 0.001, False)
    assert pick(selected, "dead") == (0.005, 1, 0.45, 0.45 + 0.01 + 0.005, True)
    lr, epoch, val, test, diverged = pick(selected, "gone")
    assert math.isnan(lr) and epoch == -1 and math.isnan(val) and math.isnan(test) and diverged
    assert pick(selected, "nanval") == (0.01, 1, 0.2, 0.2 + 0.01 + 0.01, False)
    assert pick(selected, "tie", seed=1) == (0.001, 3, 0.95, 0.95 + 0.03 + 0.001, False)
    assert selected["epoch"].dtype.kind == "i"

    # a given order decides ties across rates: 0.005 first now wins "tie" with its epoch 3
    reordered = select_by_validation(records, lr_order=[0.005, 0.01, 0.001])
    assert pick(reordered, "tie") == (0.005, 3, 0.7, 0.7 + 0.03 + 0.005, False)
    assert pick(reordered, "later") == pick(selected, "later")
    # without lr_order, the order the rates first appear in the records decides
    shuffled = pd.concat([records[records["lr"] == 0.005], records[records["lr"] != 0.005]])
    assert pick(select_by_validation(shuffled), "tie")[:2] == (0.005, 3)
    assert pick(select_by_validation(shuffled, lr_order=DEFAULT_LRS), "tie")[:2] == (0.01, 2)
    with pytest.raises(ValueError, match="not in lr_order"):
        select_by_validation(records, lr_order=[0.01, 0.005])


def test_selection_keeps_extra_key_columns():
    a = records_table([("CE", 0.01, 60, [0.5, 0.6]), ("CE", 0.005, 60, [0.7, 0.1])])
    b = records_table([("CE", 0.01, 60, [0.9, 0.1]), ("CE", 0.005, 60, [0.2, 0.3])])
    records = pd.concat(
        [
            a.assign(dataset="glass", net="linear", split=0, noise="none"),
            b.assign(dataset="glass", net="linear", split=0, noise="symmetric-0.2"),
            b.assign(dataset="yeast", net="hidden", split=1, noise="none"),
        ],
        ignore_index=True,
    )
    selected = select_by_validation(records)
    keys = ["dataset", "net", "split", "noise"]
    assert list(selected.columns) == keys + list(SELECTION_COLUMNS)
    got = {tuple(r[keys]): (r.lr, r.epoch, r.val_acc) for _, r in selected.iterrows()}
    assert got == {
        ("glass", "linear", 0, "none"): (0.005, 0, 0.7),
        ("glass", "linear", 0, "symmetric-0.2"): (0.01, 0, 0.9),
        ("yeast", "hidden", 1, "none"): (0.01, 0, 0.9),
    }


# --- keep_best ----------------------------------------------------------------------------------------------
def test_keep_best_holds_the_weights_of_the_validation_best_epoch(uci_dir):
    """best_params equal a naive run (with the same total epochs, so the same schedules) stopped at the end
    of the epoch that selection picks: the best validation accuracy, the later epoch on ties."""
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    epochs, lr = 6, 0.01
    steps_per_epoch = math.ceil(len(train) / 8)
    bank = train_bank(X, y, train, val, test, C, net="hidden", lrs=[lr], epochs=epochs, keep_best=True)
    selected = select_by_validation(bank.records)
    before_last = tie_to_earlier = 0
    for m, model in bank.models.iterrows():
        vals = model_records(bank.records, model.loss, lr, model.seed)["val_acc"].to_numpy()
        best = max(e for e in range(epochs) if vals[e] == vals.max())  # latest of the best
        chosen = selected[(selected["loss"] == model.loss) & (selected["seed"] == model.seed)]
        assert chosen["epoch"].item() == best
        before_last += best < epochs - 1
        tie_to_earlier += (vals[:best] == vals[best]).any()
        _, naive = train_naive(
            X, y, train, val, test, C, net="hidden", loss=model.loss, lr=lr, seed=model.seed,
            epochs=epochs, max_steps=(best + 1) * steps_per_epoch,
        )  # fmt: skip
        assert_same_params(bank.best_params[m], naive)
        if best == epochs - 1:
            assert_bitwise_equal_params(bank.best_params[m], bank.params[m])
    # the case is a real test: many models peak before the last epoch, some tie with an earlier epoch
    assert before_last >= 4 and tie_to_earlier >= 2


# --- user losses --------------------------------------------------------------------------------------------
def _smoothed_ce(q, y):
    logp = torch.log_softmax(q, -1)
    return -(0.9 * logp.gather(1, y[:, None])[:, 0] + 0.1 * logp.mean(-1))


@pytest.mark.parametrize("net", NETS)
def test_a_registered_user_loss_trains_in_the_bank_like_the_naive_loop(uci_dir, net):
    user = register_loss("test_engine: label-smoothed CE", _smoothed_ce, replace=True)
    assert not user.closed_form
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    epochs = 3
    # between two closed-form losses, so its models sit in the middle of the bank's layout
    bank = train_bank(
        X, y, train, val, test, C, net=net, losses=["CE", user.name, "Sigmoid-MSE+OR"], epochs=epochs
    )
    assert set(bank.models["loss"]) == {"CE", user.name, "Sigmoid-MSE+OR"}
    for m, model in bank.models.iterrows():
        naive_records, naive_params = train_naive(
            X, y, train, val, test, C, net=net, loss=model.loss, lr=model.lr, seed=model.seed, epochs=epochs
        )
        ours = model_records(bank.records, model.loss, model.lr, model.seed)
        assert_same_params(bank.params[m], naive_params)
        for col, n in (("val_acc", len(val)), ("test_acc", len(test))):
            np.testing.assert_array_equal(correct_counts(ours[col], n), correct_counts(naive_records[col], n))
        np.testing.assert_allclose(ours["train_loss"], naive_records["train_loss"], rtol=1e-4)
    # the user loss really trained differently from CE
    index = model_index(bank)
    ce, smooth = bank.params[index[("CE", 0.01, 60)]], bank.params[index[(user.name, 0.01, 60)]]
    assert not torch.allclose(ce[0], smooth[0], atol=1e-4)


# --- edge cases ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("net", NETS)
def test_empty_validation_and_test_give_nan_accuracies(uci_dir, net):
    X, y, train, val, test, C = dataset(uci_dir, "haberman-survival", 43)
    empty = np.array([], dtype=np.int64)
    losses = ["CE", "Sigmoid-MSE"]
    full = train_bank(X, y, train, val, test, C, net=net, losses=losses, epochs=2)
    bank = train_bank(X, y, train, empty, [], C, net=net, losses=losses, epochs=2, keep_best=True)
    assert bank.records[["val_acc", "test_acc"]].isna().all().all()
    assert not bank.records["diverged"].any()
    np.testing.assert_array_equal(bank.records["train_loss"], full.records["train_loss"])
    for m in range(len(bank.models)):
        assert_bitwise_equal_params(bank.params[m], full.params[m])
        assert_bitwise_equal_params(bank.best_params[m], bank.params[m])  # no validation: the last epoch
    selected = select_by_validation(bank.records)
    assert (selected["epoch"] == -1).all() and selected["val_acc"].isna().all()
    # only the test split empty: validation accuracies as before
    no_test = train_bank(X, y, train, val, empty, C, net=net, losses=losses, epochs=2)
    assert no_test.records["test_acc"].isna().all()
    np.testing.assert_array_equal(no_test.records["val_acc"], full.records["val_acc"])


@pytest.mark.parametrize("net", NETS)
def test_other_sgd_settings_and_loss_parameters_equal_the_naive_loop(uci_dir, net):
    """Batch sizes other than 8 (3, and 64 > the 43 training rows: one partial batch per epoch), momentum 0
    and 0.5, and closed-form losses with other parameters: focal gammas 1 and 0.5 beside the standard 2 (so
    gamma is a per-model tensor), Output Reset with margin 0.3."""
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    losses = [
        "Focal",
        Loss("test_engine: focal gamma 1", {"focal_alpha": 0.25, "focal_gamma": 1.0}),
        Loss("test_engine: focal gamma 0.5", {"focal_alpha": 1.0, "focal_gamma": 0.5}),
        Loss("test_engine: OR margin 0.3", {"sigmoid": 1.0, "margin": 0.3, "reset": 1.0}),
        "CE",
    ]
    by_name = {get_loss(ls).name: ls for ls in losses}
    for settings in ({"batch_size": 64, "momentum": 0.0}, {"batch_size": 3, "momentum": 0.5}):
        bank = train_bank(X, y, train, val, test, C, net=net, losses=losses, lrs=[0.01], epochs=2, **settings)
        for m, model in bank.models.iterrows():
            naive_records, naive_params = train_naive(
                X, y, train, val, test, C, net=net, loss=by_name[model.loss], lr=model.lr, seed=model.seed,
                epochs=2, **settings,
            )  # fmt: skip
            assert_same_params(bank.params[m], naive_params)
            ours = model_records(bank.records, model.loss, model.lr, model.seed)
            np.testing.assert_array_equal(
                correct_counts(ours["val_acc"], len(val)), correct_counts(naive_records["val_acc"], len(val))
            )
            np.testing.assert_allclose(ours["train_loss"], naive_records["train_loss"], rtol=1e-4)


@pytest.mark.parametrize("net", NETS)
def test_evaluation_in_chunks_gives_the_same_records(uci_dir, net, monkeypatch):
    """Splits longer than the evaluation chunk (4096 rows, e.g. connect-4) are evaluated piece by piece."""
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    whole = train_bank(X, y, train, val, test, C, net=net, epochs=2)
    # 43, 37 and 53 rows: several chunks, the last partial
    monkeypatch.setattr(engine_evaluation, "_EVAL_ROWS", 7)
    chunked = train_bank(X, y, train, val, test, C, net=net, epochs=2)
    pd.testing.assert_frame_equal(
        chunked.records.drop(columns="train_loss"), whole.records.drop(columns="train_loss"), check_exact=True
    )
    np.testing.assert_allclose(chunked.records["train_loss"], whole.records["train_loss"], rtol=1e-6)


@pytest.mark.parametrize("net", NETS)
def test_a_bank_split_into_sub_banks_trains_the_same_models(uci_dir, net, monkeypatch):
    """On the CPU a bank too big for the cache is trained as sub-banks of whole losses, one after the other:
    every model (numbered as in one bank), record and parameter is the same as with one bank."""
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    user = register_loss("test_engine: label-smoothed CE", _smoothed_ce, replace=True)
    losses = [*STANDARD_LOSSES, user]  # a user loss (autograd) in a sub-bank too
    whole = train_bank(X, y, train, val, test, C, net=net, losses=losses, epochs=3, keep_best=True)
    per_loss = len(DEFAULT_SEEDS) * len(DEFAULT_LRS) * params_per_model(net, X.shape[1], C)
    monkeypatch.setattr(engine_bank, "_CHUNK_PARAMS", 2 * per_loss)  # 9 losses -> 5 sub-banks of 2 or 1
    seen: list[int] = []
    split = train_bank(
        X, y, train, val, test, C, net=net, losses=losses, epochs=3, keep_best=True, progress=seen.append
    )
    assert seen == [0, 1, 2] * 5
    pd.testing.assert_frame_equal(split.models, whole.models, check_exact=True)
    pd.testing.assert_frame_equal(
        split.records.drop(columns="train_loss"), whole.records.drop(columns="train_loss"), check_exact=True
    )
    np.testing.assert_allclose(split.records["train_loss"], whole.records["train_loss"], rtol=1e-6)
    for m in range(len(whole.models)):
        assert_same_params(split.params[m], whole.params[m], atol=1e-6)
        assert_same_params(split.best_params[m], whole.best_params[m], atol=1e-6)


def test_train_bank_rejects_bad_arguments(uci_dir):
    X, y, train, val, test, C = dataset(uci_dir, "haberman-survival", 43)
    with pytest.raises(ValueError, match="unknown network"):
        train_bank(X, y, train, val, test, C, net="deep")
    with pytest.raises(ValueError, match="epochs and batch_size"):
        train_bank(X, y, train, val, test, C, epochs=0)
    with pytest.raises(ValueError, match="no training rows"):
        train_bank(X, y, [], val, test, C)


@pytest.mark.parametrize("net", NETS)
def test_params_per_model_counts_the_module_parameters(net):
    for n_features, n_classes in ((3, 2), (9, 6), (262, 13)):
        module = build_module(net, n_features, n_classes)
        assert params_per_model(net, n_features, n_classes) == sum(p.numel() for p in module.parameters())


# --- speed machinery ----------------------------------------------------------------------------------------
def test_project_protocol_time_by_hand():
    # linear: two measurements on a line: seconds per step = 1e-3 + 1e-4 * params
    #   (4 features, 3 classes) -> 5 * 3 = 15 params -> 2.5e-3 s; (9, 6) -> 10 * 6 = 60 params -> 7e-3 s
    # hidden: one measurement (9 features, 2 classes), so a constant 4e-3 s per step
    bench = pd.DataFrame(
        {
            "dataset": ["a", "b", "c"],
            "net": ["linear", "linear", "hidden"],
            "n_features": [4, 9, 9],
            "n_classes": [3, 6, 2],
            "bank_step_s": [2.5e-3, 7e-3, 4e-3],
        }
    )
    shapes = pd.DataFrame(
        {"name": ["small", "big"], "n_train": [100, 1000], "n_features": [9, 19], "n_classes": [2, 5]}
    )
    # steps = epochs * ceil(n_train / 8): small 50 * 13 = 650, big 50 * 125 = 6250
    # linear params: small 10 * 2 = 20 -> 3e-3 s/step; big 20 * 5 = 100 -> 1.1e-2 s/step
    expected = {
        ("small", "linear"): 650 * 3e-3,  # 1.95
        ("big", "linear"): 6250 * 1.1e-2,  # 68.75
        ("small", "hidden"): 650 * 4e-3,  # 2.6
        ("big", "hidden"): 6250 * 4e-3,  # 25.0
    }
    proj = project_protocol_time(bench, shapes)
    assert set(proj.columns) >= {"dataset", "net", "seconds"}
    got = {(r.dataset, r.net): r.seconds for r in proj.itertuples()}
    assert got.keys() == expected.keys()
    for key, seconds in expected.items():
        assert got[key] == pytest.approx(seconds, rel=1e-9)
    total = 1.95 + 68.75 + 2.6 + 25.0  # 98.3
    assert proj.attrs["cpu_s"] == pytest.approx(total)
    assert proj.attrs["wall_s"] == pytest.approx(total)
    # two workers: half the total (49.15) is below the largest task (68.75), which bounds the wall time
    assert project_protocol_time(bench, shapes, workers=2).attrs["wall_s"] == pytest.approx(68.75)
    # eight workers, epochs 10 and batch 4: ceil(100/4) = 25 and 250 steps, times 10 epochs
    proj = project_protocol_time(bench, shapes, epochs=10, batch_size=4, workers=8)
    total = 250 * 3e-3 + 2500 * 1.1e-2 + 250 * 4e-3 + 2500 * 4e-3  # 0.75 + 27.5 + 1 + 10 = 39.25
    assert proj.attrs["cpu_s"] == pytest.approx(total)
    assert proj.attrs["wall_s"] == pytest.approx(27.5)  # 39.25 / 8 < 27.5


def test_pooled_rates_by_hand():
    # batch 32, one epoch, one model: 64 rows -> 2 model-steps, 640 rows -> 20
    bench = pd.DataFrame(
        {
            "n_train": [64, 640],
            "models": [1, 1],
            "bank_model_steps_per_s": [4.0, 10.0],
            "naive_model_steps_per_s": [1.0, 5.0],
            "ratio": [4.0, 2.0],
        }
    )
    rates = pooled_rates(bench, epochs=1, batch_size=32)
    assert rates.bank == pytest.approx(22 / (2 / 4 + 20 / 10))  # all steps over all seconds: 8.8
    assert rates.naive == pytest.approx(2 / (1 / 1 + 1 / 5))  # equal steps per row: 5/3
    assert rates.ratio == pytest.approx(8.8 / (5 / 3))
    assert rates.geometric_mean_ratio == pytest.approx(math.sqrt(8))
    assert (rates.min_ratio, rates.max_ratio) == (2.0, 4.0)
    # three epochs of batch 64: 1 and 10 steps, times 3; the weights keep their proportion
    assert pooled_rates(bench, epochs=3, batch_size=64).bank == pytest.approx(33 / (3 / 4 + 30 / 10))


def test_project_suite_by_hand():
    from types import SimpleNamespace

    from mixbench.data import DatasetError

    shapes = {"a": (8, 3, 20), "b": (40, 2, 100)}  # n_train, n_features, n_rows: b has the most values

    class Suite:
        def load(self, name, split):
            if name not in shapes:
                raise DatasetError(f"{name}: malformed")
            n_train, n_features, n_rows = shapes[name]
            return SimpleNamespace(
                name=name, train=np.arange(n_train), n_features=n_features, n_classes=2, n_rows=n_rows
            )

    bench = pd.DataFrame({"net": ["linear"], "n_features": [3], "n_classes": [2], "bank_step_s": [1e-3]})
    protocol = SimpleNamespace(
        nets=("linear",), losses=("CE", "MAE"), lrs=(0.1,), seeds=(0,), epochs=10, batch_size=4
    )
    proj = project_suite(bench, Suite(), ["a", "bad", "b"], naive_rate=60.0, workers=2, protocol=protocol)
    assert proj.left_out == ["bad: malformed"]
    assert (proj.n_datasets, proj.n_nets, proj.n_models, proj.epochs, proj.workers) == (2, 1, 2, 10, 2)
    assert proj.largest == "b"
    # bank steps 10 * ceil(8/4) = 20 and 10 * ceil(40/4) = 100 at 1e-3 s: 0.12 s, the largest task 0.1 s
    assert proj.wall_s == pytest.approx(0.1)
    # naive: 1 net x 2 models x 120 steps = 240 model-steps at 60 per second, over 2 workers
    assert proj.naive_wall_s == pytest.approx(2.0)


def test_loss_cost_ratios_by_hand():
    table = pd.DataFrame(
        {
            "dataset": ["d1", "d1", "d2", "d2"],
            "net": ["linear"] * 4,
            "loss": ["Z", "A", "Z", "A"],
            "kind": ["family", "p_true"] * 2,
            "alone_ratio": [2.0, 0.5, 8.0, math.nan],
            "with_standard_ratio": [1.0, 3.0, 1.0, 12.0],
        }
    )
    ratios = loss_cost_ratios(table)
    assert list(ratios) == ["alone", "with_standard"]
    alone = ratios["alone"]
    assert list(alone.columns) == ["Z", "A"]  # the table's order, not sorted
    assert alone.index[-1] == ("geometric mean", "")
    assert alone.loc[("geometric mean", ""), "Z"] == pytest.approx(4.0)
    assert math.isnan(alone.loc[("geometric mean", ""), "A"])  # a missing ratio: no mean
    assert ratios["with_standard"].loc[("geometric mean", ""), "A"] == pytest.approx(6.0)
    assert loss_kinds(table) == {"Z": "family", "A": "p_true"}


def test_bench_engine_smoke():
    """One toy dataset, one epoch: the command's machinery, not a speed check."""
    ds = toy_dataset("iris")
    threads = torch.get_num_threads()
    seen: list[str] = []
    bench = bench_engine([ds], epochs=1, naive_steps=10, progress=seen.append)
    assert torch.get_num_threads() == threads
    assert seen == ["iris / linear", "iris / hidden"]
    assert list(bench.columns) == [
        "dataset", "net", "n_train", "n_features", "n_classes", "models",
        "bank_model_steps_per_s", "naive_model_steps_per_s", "ratio", "bank_gflop_per_s", "of_machine",
        "bank_step_s",
    ]  # fmt: skip
    assert bench["net"].tolist() == list(NETS)
    assert (bench["dataset"] == "iris").all()
    assert (bench["n_train"] == len(ds.train)).all() and (bench["n_features"] == ds.n_features).all()
    assert (bench["n_classes"] == 3).all() and (bench["models"] == 48).all()
    for col in ("bank_model_steps_per_s", "naive_model_steps_per_s", "ratio", "bank_step_s"):
        assert (bench[col] > 0).all() and np.isfinite(bench[col]).all()
    np.testing.assert_allclose(
        bench["ratio"], bench["bank_model_steps_per_s"] / bench["naive_model_steps_per_s"]
    )
    # model-steps per second and seconds per bank step describe the same timing: their product is 48 models
    np.testing.assert_allclose(bench["bank_model_steps_per_s"] * bench["bank_step_s"], 48.0, rtol=1e-9)
    # the arithmetic rate is the counted flops over the same seconds: one epoch of 48 models, training
    # steps on the training rows and a forward pass on every row; its fraction uses the machine's rate
    n_rows = len(ds.train) + len(ds.validation) + len(ds.test)
    for row in bench.itertuples():
        train, fwd = flops_per_row(row.net, 4, 3)
        seconds = row.bank_step_s * math.ceil(row.n_train / 8)
        assert row.bank_gflop_per_s == pytest.approx(
            48 * (row.n_train * train + n_rows * fwd) / seconds / 1e9
        )
        assert row.of_machine == pytest.approx(row.bank_gflop_per_s / bench.attrs["machine_gflop_per_s"])
    assert 0 < bench.attrs["machine_gflop_per_s"] < 1e5


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--epochs", "0", "0 is below the least allowed, 1"),
        ("--naive-steps", "1", "1 is below the least allowed, 2"),
        ("--workers", "0", "0 is below the least allowed, 1"),
        ("--repeats", "x", "'x' is not an integer"),
    ],
)
def test_bench_refuses_bad_counts_in_one_line(option, value, message):
    """A count the bench cannot use (no epoch, no naive step per loss) is refused before any timing."""
    code, out, err = mixbench("bench", "--suite", "toy", "--no-memory", option, value)
    assert code == 2 and out == ""
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"mixbench bench: error: argument {option}: {message}"


def test_flops_per_row_counts_the_products():
    """Hand counts: linear 4 -> 3 is one product with a column of ones, (4 + 1) x 3 multiply-adds; the
    hidden net 4 -> 4 -> 3 adds the second layer and, in training, the gradient of the hidden units."""
    assert flops_per_row("linear", 4, 3) == (2 * 15 + 2 * 15, 2 * 15)
    fwd = 2 * (5 * 4) + 2 * (5 * 3)  # 70
    assert flops_per_row("hidden", 4, 3) == (fwd + fwd + 2 * 4 * 3, fwd)


def test_batched_product_rate_counts_its_flops(monkeypatch):
    """The rate is 2 b m k n flops over the best time of its timed batches: with a clock that advances
    1 ms per product it is exactly that product's flops per millisecond."""
    clock = {"t": 0.0}
    real_bmm = torch.bmm

    def bmm(*args, **kwargs):
        clock["t"] += 1e-3
        return real_bmm(*args, **kwargs)

    monkeypatch.setattr(torch, "bmm", bmm)
    monkeypatch.setattr("time.perf_counter", lambda: clock["t"])
    rate = batched_product_rate((3, 2, 5, 7), seconds=0.05)
    assert rate == pytest.approx(2 * 3 * 2 * 5 * 7 / 1e-3 / 1e9)


# --- GPU ----------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")
@pytest.mark.parametrize("net", NETS)
def test_cuda_bank_equals_cpu_bank(uci_dir, net):
    X, y, train, val, test, C = dataset(uci_dir, "glass", 43)
    user = register_loss("test_engine: label-smoothed CE", _smoothed_ce, replace=True)
    losses = [*STANDARD_LOSSES, user.name]
    cpu = train_bank(X, y, train, val, test, C, net=net, losses=losses, epochs=4, keep_best=True)
    gpu = train_bank(
        X, y, train, val, test, C, net=net, losses=losses, epochs=4, keep_best=True, device="cuda"
    )
    pd.testing.assert_frame_equal(gpu.models, cpu.models)
    pd.testing.assert_frame_equal(
        gpu.records.drop(columns=["val_acc", "test_acc", "train_loss"]),
        cpu.records.drop(columns=["val_acc", "test_acc", "train_loss"]),
    )
    for col, n in (("val_acc", len(val)), ("test_acc", len(test))):
        np.testing.assert_array_equal(
            correct_counts(gpu.records[col], n), correct_counts(cpu.records[col], n)
        )
    np.testing.assert_allclose(gpu.records["train_loss"], cpu.records["train_loss"], rtol=1e-4)
    for m in range(len(cpu.models)):
        assert all(p.device.type == "cpu" for p in gpu.params[m])
        assert_same_params(gpu.params[m], cpu.params[m])
        assert_same_params(gpu.best_params[m], cpu.best_params[m])
