"""Tests of the loss zoo, losses of p_y alone and user losses (issue 17).

Expected values are written out here from the papers' formulas (numpy, or torch autograd of the formulas),
never with the closed forms of losses.py; a few are worked out by hand.
"""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest
import torch

from mixbench import losses
from mixbench.engine import train_bank, train_naive
from mixbench.losses import (
    LOSS_SETS,
    STANDARD_LOSSES,
    ZOO_LOSSES,
    get_loss,
    gradient_focus,
    record_replay,
    register_loss,
    split_loss_names,
)
from mixbench.losses import registry as loss_registry
from mixbench.models import NETS
from mixbench.suites import load_dataset

pytestmark = pytest.mark.filterwarnings("ignore:loss 'CE\\+EL F=0")


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry, so that losses registered by a test do not leak into others."""
    monkeypatch.setattr(loss_registry, "_REGISTRY", dict(loss_registry._REGISTRY))
    return loss_registry._REGISTRY


# --- the formulas, written from the papers ------------------------------------------------------------------
def reference(name: str, **kw):
    """Per-sample loss from the paper's definition, torch ops on logits (B, C) and targets (B,)."""

    def parts(q, y):
        p = torch.softmax(q, -1)
        return p, p.gather(-1, y[:, None])[:, 0], torch.nn.functional.one_hot(y, q.shape[-1]).to(q.dtype)

    def fn(q, y):
        p, p_y, onehot = parts(q, y)
        c = q.shape[-1]
        if name == "MAE":
            return (p - onehot).abs().sum(-1)
        if name == "GCE":
            return (1 - p_y ** kw.get("q", 0.7)) / kw.get("q", 0.7)
        if name == "Tamed CE":
            a = kw.get("alpha", 0.5)
            return ((1 - torch.log(p_y)) ** (1 - a) - 1) / (1 - a)
        if name == "MPCE":
            return -(p.max(-1).values - p_y) * torch.log(p_y)
        if name == "SCE":
            a, b = kw.get("alpha", 0.1), kw.get("beta", 1.0)
            log_t = torch.where(onehot > 0, 0.0, -4.0)  # log of the one-hot target, log 0 := A = -4
            return a * -torch.log(p_y) + b * -(p * log_t).sum(-1)
        if name == "NCE+RCE":
            a, b = kw.get("alpha", 1.0), kw.get("beta", 1.0)
            nce = torch.log(p_y) / torch.log(p).sum(-1)
            log_t = torch.where(onehot > 0, 0.0, -4.0)
            return a * nce + b * -(p * log_t).sum(-1)
        if name == "Taylor CE":
            t = kw.get("t", 2)
            return sum((1 - p_y) ** k / k for k in range(1, t + 1))
        if name == "Poly-1":
            return -torch.log(p_y) + kw.get("eps", 1.0) * (1 - p_y)
        if name == "LS":
            e = kw.get("eps", 0.1)
            target = (1 - e) * onehot + e / c
            return -(target * torch.log(p)).sum(-1)
        if name == "Brier":
            return ((p - onehot) ** 2).sum(-1)
        if name == "Sigmoid-MSE mean":
            return ((torch.sigmoid(q) - onehot) ** 2).mean(-1)
        if name == "Sigmoid-MSE(margin=0.1)":
            t = 0.1 + 0.8 * onehot
            return ((torch.sigmoid(q) - t) ** 2).sum(-1)
        raise KeyError(name)

    return fn


ZOO_AND_CONTROLS = (*ZOO_LOSSES, "Sigmoid-MSE(margin=0.1)", "Sigmoid-MSE mean")


def random_problem(n: int, c: int, scale: float = 2.0, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(n, c, generator=gen, dtype=torch.float64) * scale
    return q, torch.randint(0, c, (n,), generator=gen)


# --- values and gradients -----------------------------------------------------------------------------------
def test_hand_computed_values():
    """Logits (log 2, 0, 0) with true class 0: p = (1/2, 1/4, 1/4), p_y = 1/2."""
    q = torch.tensor([[math.log(2.0), 0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([0])
    ln2 = math.log(2.0)
    expected = {
        "MAE": 1.0,  # |1/2 - 1| + 1/4 + 1/4
        "GCE": (1 - 0.5**0.7) / 0.7,  # 0.54918...
        "Tamed CE": ((1 + ln2) ** 0.5 - 1) / 0.5,
        "MPCE": 0.0,  # the true class is the argmax: max p - p_y = 0
        "SCE": 0.1 * ln2 + 4 * 0.5,  # alpha CE + beta * 4 (1 - p_y)
        "NCE+RCE": ln2 / (ln2 + 2 * 2 * ln2) + 2.0,  # log p_y / sum log p_c = 1/5, RCE = 4 * 1/2
        "Taylor CE": 0.5 + 0.25 / 2,
        "Poly-1": ln2 + 0.5,
        "LS": 0.9 * ln2 + 0.1 / 3 * (ln2 + 2 * 2 * ln2),
        "Brier": 0.25 + 2 * 0.0625,
    }
    assert expected["GCE"] == pytest.approx(0.549183, abs=1e-6)
    for name, value in expected.items():
        assert get_loss(name).per_sample(q, y).item() == pytest.approx(value, rel=1e-12, abs=1e-15), name
    # MPCE is not 0 when another class is ahead: p = (1/4, 1/2, 1/4), true class 0
    q2 = torch.tensor([[0.0, math.log(2.0), 0.0]], dtype=torch.float64)
    assert get_loss("MPCE").per_sample(q2, y).item() == pytest.approx((0.5 - 0.25) * math.log(4.0))


@pytest.mark.parametrize("c", (2, 3, 10))
@pytest.mark.parametrize("name", ZOO_AND_CONTROLS)
def test_values_and_gradients_match_the_formulas(name, c):
    q, y = random_problem(64, c, seed=c)
    loss = get_loss(name)
    ref = reference(name)
    torch.testing.assert_close(loss.per_sample(q, y), ref(q, y), rtol=1e-10, atol=1e-12)
    leaf = q.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(ref(leaf, y).mean(), leaf)
    torch.testing.assert_close(loss.grad(q, y), expected, rtol=1e-9, atol=1e-13)
    assert loss.closed_form  # every zoo loss has its gradient in closed form
    assert loss.source and loss.description


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("GCE(q=0.5)", {"q": 0.5}),
        ("Poly-1(eps=2)", {"eps": 2.0}),
        ("SCE(alpha=0.5,beta=2)", {"alpha": 0.5, "beta": 2.0}),
        ("NCE+RCE(alpha=10,beta=0.1)", {"alpha": 10.0, "beta": 0.1}),
        ("Taylor CE(t=6)", {"t": 6}),
        ("Tamed CE(alpha=0.25)", {"alpha": 0.25}),
        ("LS(eps=0.3)", {"eps": 0.3}),
    ],
)
def test_parameterised_names_build_the_loss_with_those_constants(name, params):
    base = name.partition("(")[0]
    q, y = random_problem(40, 5, seed=7)
    loss = get_loss(name)
    assert loss.name == name and get_loss(name) is loss
    torch.testing.assert_close(loss.per_sample(q, y), reference(base, **params)(q, y), rtol=1e-10, atol=1e-12)
    leaf = q.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(reference(base, **params)(leaf, y).mean(), leaf)
    torch.testing.assert_close(loss.grad(q, y), expected, rtol=1e-9, atol=1e-13)
    assert not torch.allclose(loss.per_sample(q, y), get_loss(base).per_sample(q, y))


def test_parameter_names_are_written_one_way_and_bad_ones_are_refused():
    assert get_loss("GCE( q = 0.50 )").name == "GCE(q=0.5)"
    assert get_loss("SCE(beta=2, alpha=0.5)").name == "SCE(alpha=0.5,beta=2)"  # the factory's order
    assert get_loss("Focal(gamma=1)").coefficients == {"focal_alpha": 0.25, "focal_gamma": 1.0}
    with pytest.raises(KeyError, match="no parameter r; GCE takes"):
        get_loss("GCE(r=1)")
    with pytest.raises(KeyError, match="unknown loss 'Nope'"):
        get_loss("Nope(a=1)")
    with pytest.raises(ValueError, match="key=number"):
        get_loss("GCE(q=high)")
    with pytest.raises(ValueError, match=r"^GCE\(q=1.5\): q must be in \(0, 1\], e.g. GCE\(q=0.7\)$"):
        get_loss("GCE(q=1.5)")
    with pytest.raises(ValueError, match="integer"):
        get_loss("Taylor CE(t=2.5)")


# Each parameter's valid values, written out from the loss's definition (not read from losses.py): the rule
# as the message says it, values just outside it (and NaN, infinities), values at or near its bounds.
PARAMETER_RULES = [
    ("GCE", "q", "in (0, 1]", [0, -0.1, 1.01], [1e-3, 1]),  # (1 - p^q) / q: q = 0 divides by 0
    ("Poly-1", "eps", "a finite number >= -1", [-1.5], [-1, 0, 3]),  # CE + eps (1 - p): decreasing in p
    ("Focal", "gamma", "a finite number >= 0", [-0.5], [0, 0.5, 5]),
    ("Focal", "alpha", "a finite number > 0", [0, -0.25], [1e-3, 2]),
    ("SCE", "alpha", "a finite number > 0", [0, -1], [0.5, 6]),
    ("SCE", "beta", "a finite number > 0", [0, -1], [0.1]),
    ("NCE+RCE", "alpha", "a finite number > 0", [0, -1], [10]),
    ("NCE+RCE", "beta", "a finite number > 0", [0], [0.1]),
    ("Tamed CE", "alpha", "in [0, 1)", [1, -0.1, 1.5], [0, 0.9]),  # / (1 - a): a = 1 divides by 0
    ("Taylor CE", "t", "an integer >= 1", [0, 2.5, -1], [1, 3]),  # a number of terms
    ("LS", "eps", "in [0, 1)", [1, -0.1], [0, 0.5]),  # e = 1: the uniform target, no label left
    ("Sigmoid-MSE", "margin", "in [0, 0.5)", [0.5, -0.1], [0, 0.45]),  # targets 1-m above m
    ("Sigmoid-MSE+OR", "margin", "in [0, 0.5)", [0.5, 0.7], [0, 0.2]),
]


@pytest.mark.parametrize(("base", "key", "rule", "refused", "accepted"), PARAMETER_RULES)
def test_loss_parameters_outside_their_range_are_refused_with_the_range(base, key, rule, refused, accepted):
    for value in [*refused, math.nan, math.inf, -math.inf]:
        with pytest.raises(ValueError) as info:
            get_loss(f"{base}({key}={value})")
        message = str(info.value)
        assert message.startswith(f"{base}({key}={value:g}): {key} must be {rule}, e.g. {base}({key}=")
        assert "\n" not in message
    q, y = random_problem(40, 5, seed=2)
    for value in accepted:  # the bounds that belong to the range train: finite loss and gradient
        loss = get_loss(f"{base}({key}={value})")
        assert torch.isfinite(loss.per_sample(q, y)).all() and torch.isfinite(loss.grad(q, y)).all()


def test_every_parameter_of_every_parameterised_loss_has_a_rule_and_refuses_nan():
    """A loss added to the zoo without constraints for its parameters fails here."""
    factories = loss_registry._FACTORIES
    with_parameters = {base: defaults for base, (defaults, *_) in factories.items() if defaults}
    assert {(base, key) for base, key, *_ in PARAMETER_RULES} == {
        (base, key) for base, defaults in with_parameters.items() for key in defaults
    }
    for base, defaults in with_parameters.items():
        for key in defaults:
            with pytest.raises(ValueError, match=f"^{re.escape(base)}\\({key}=nan\\): {key} must be"):
                get_loss(f"{base}({key}=nan)")


def test_a_user_factory_takes_constraints_and_its_parameters_must_be_finite(monkeypatch):
    monkeypatch.setattr(loss_registry, "_REGISTRY", dict(loss_registry._REGISTRY))
    monkeypatch.setattr(loss_registry, "_FACTORIES", dict(loss_registry._FACTORIES))
    monkeypatch.setattr(loss_registry, "_PARSED", {})

    def scaled_ce(name, w, b):
        return losses.Loss(name, {"ce": w, "el": b})

    losses.register_loss_factory("ScaledCE", {"w": 1.0, "b": 0.0}, scaled_ce, {"w": losses.Interval(0, 10)})
    assert get_loss("ScaledCE(w=10,b=-3)").coefficients == {"ce": 10.0, "el": -3.0}
    with pytest.raises(ValueError, match=r"^ScaledCE\(w=11\): w must be in \[0, 10\], e.g. ScaledCE\(w=1\)$"):
        get_loss("ScaledCE(w=11)")
    with pytest.raises(
        ValueError, match=r"^ScaledCE\(b=inf\): b must be a finite number, e.g. ScaledCE\(b=0\)$"
    ):
        get_loss("ScaledCE(b=inf)")
    with pytest.raises(ValueError, match="w must be in"):  # a default outside its own rule
        losses.register_loss_factory("Bad", {"w": 20.0}, scaled_ce, {"w": losses.Interval(0, 10)})
    with pytest.raises(ValueError, match="constraints for no parameter"):
        losses.register_loss_factory("Bad", {"w": 1.0}, scaled_ce, {"v": losses.Interval(0, 10)})


@pytest.mark.parametrize(
    "argv",
    [
        ("run", "--suite", "toy", "--losses", "CE,Poly-1(eps=nan)"),
        ("losses", "show", "Poly-1(eps=nan)"),
        ("bench", "--suite", "toy", "--datasets", "iris", "--no-memory", "--losses", "Poly-1(eps=nan)"),
    ],
)
def test_a_nan_loss_parameter_is_one_line_at_the_command_line(argv, tmp_path, monkeypatch):
    """The user's finding: Poly-1(eps=nan) was accepted, then every learning rate 'diverged'."""
    from cli_helpers import mixbench

    monkeypatch.chdir(tmp_path)
    code, _, stderr = mixbench(*argv)
    assert code == 2
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert "Poly-1(eps=nan): eps must be a finite number >= -1, e.g. Poly-1(eps=1)" in stderr
    assert not list(tmp_path.iterdir())  # nothing written: no run directory, no figure


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64))
@pytest.mark.parametrize("name", ZOO_AND_CONTROLS)
def test_extreme_logits_stay_finite(name, dtype):
    gen = torch.Generator().manual_seed(5)
    c, n = 4, 32
    q = torch.randn(n, c, generator=gen, dtype=torch.float64) * 1e4
    y = torch.randint(0, c, (n,), generator=gen)
    onehot = torch.nn.functional.one_hot(y, c).bool()
    ahead = torch.where(onehot, 1e4, -1e4).to(torch.float64)
    q = torch.cat([q, ahead, -ahead, torch.full((n, c), 1e4), torch.zeros(n, c)]).to(dtype)
    y = y.repeat(5)
    loss = get_loss(name)
    assert torch.isfinite(loss.per_sample(q, y)).all()
    assert torch.isfinite(loss.grad(q, y)).all()


def test_output_reset_control_and_class_mean():
    q, y = random_problem(30, 6, seed=3)
    control, plain = get_loss("Sigmoid-MSE(margin=0.1)"), get_loss("Sigmoid-MSE")
    reset = get_loss("Sigmoid-MSE+OR")
    assert control.coefficients == {"sigmoid": 1.0, "margin": 0.1}  # the margin, no reset
    assert reset.coefficients == {"sigmoid": 1.0, "margin": 0.1, "reset": 1.0}
    assert get_loss("Sigmoid-MSE+OR(margin=0.2)").coefficients["margin"] == 0.2
    mean = get_loss("Sigmoid-MSE mean")
    torch.testing.assert_close(mean.per_sample(q, y), plain.per_sample(q, y) / 6, rtol=1e-12, atol=0)
    torch.testing.assert_close(
        mean.grad(q, y), plain.grad(q, y) / 6, rtol=1e-12, atol=0
    )  # a step C times smaller
    assert set(LOSS_SETS["output-reset"]) >= {"Sigmoid-MSE", "Sigmoid-MSE(margin=0.1)", "Sigmoid-MSE mean"}


# --- named sets and lists of names -----------------------------------------------------------------------
def test_named_sets_and_splitting():
    assert split_loss_names("standard") == list(STANDARD_LOSSES)
    zoo = split_loss_names("zoo")
    assert zoo[:8] == list(STANDARD_LOSSES) and set(ZOO_LOSSES) <= set(zoo) and len(zoo) == len(set(zoo))
    assert all(get_loss(n) for n in zoo)
    assert split_loss_names("CE+EL F=0,0.5,GCE(q=0.5),SCE(alpha=0.1,beta=1)") == [
        "CE+EL F=0,0.5", "GCE(q=0.5)", "SCE(alpha=0.1,beta=1)",
    ]  # fmt: skip
    # a set's members are merged with what is already listed; CE, the baseline, is in every set
    assert split_loss_names("standard,robust") == list(STANDARD_LOSSES) + [
        n for n in LOSS_SETS["robust"] if n not in STANDARD_LOSSES
    ]
    assert all(s[0] == "CE" for s in LOSS_SETS.values())
    with pytest.raises(ValueError, match="'GCE' is listed twice"):
        split_loss_names("GCE,EL,GCE")
    # a parameterised name is kept as tables write it, so a run's settings and its records agree
    assert split_loss_names(["GCE( q = 0.50 )", "SCE(beta=2,alpha=0.5)"]) == [
        "GCE(q=0.5)",
        "SCE(alpha=0.5,beta=2)",
    ]
    with pytest.raises(ValueError, match="'GCE\\(q=0.5\\)' is listed twice"):
        split_loss_names("GCE(q=0.5),GCE(q=.5)")


def test_runner_and_toml_take_parameterised_names_and_sets(tmp_path):
    from mixbench import runner
    from mixbench.runner.config import split_losses

    assert split_losses("CE,GCE(q=0.5),Poly-1(eps=2)")[0] == ["CE", "GCE(q=0.5)", "Poly-1(eps=2)"]
    assert split_losses("zoo")[0] == split_loss_names("zoo")
    study = tmp_path / "study.toml"
    study.write_text('suite = "toy"\nlosses = ["CE", "SCE(alpha=0.1,beta=1)", "robust"]\n')
    config = runner.resolve_config({}, config_file=str(study))
    assert config.losses[:2] == ("CE", "SCE(alpha=0.1,beta=1)") and "GCE" in config.losses
    with pytest.raises(runner.ConfigError, match="no parameter z"):
        split_losses("GCE(z=1)")


# --- user losses --------------------------------------------------------------------------------------------
def test_a_p_true_loss_by_function_of_p_alone(registry):
    loss = register_loss("my GCE", of_p_true=lambda p: (1 - p**0.7) / 0.7)
    assert loss.kind == "p_true" and not loss.closed_form
    with_d = register_loss("my GCE'", of_p_true=lambda p: (1 - p**0.7) / 0.7, derivative=lambda p: -(p**-0.3))
    assert with_d.closed_form
    q, y = random_problem(50, 4, seed=11)
    for user in (loss, with_d):
        torch.testing.assert_close(
            user.per_sample(q, y), get_loss("GCE").per_sample(q, y), rtol=1e-12, atol=0
        )
        torch.testing.assert_close(user.grad(q, y), get_loss("GCE").grad(q, y), rtol=1e-12, atol=1e-17)
    # the recorded replay of autograd's derivative equals autograd bit for bit, for any input of its shape
    lp = torch.log(torch.rand(2, 8, 1, 3, generator=torch.Generator().manual_seed(0)))
    replay = loss.p_true.weights_for(lp)
    assert getattr(replay, "__func__", None) is not losses.PTrueForm._autograd_weights  # a replay
    assert loss.p_true.weights_for(lp) is replay  # recorded once per shape
    assert torch.equal(replay(lp * 3), loss.p_true._autograd_weights(lp * 3))
    np.testing.assert_allclose(replay(lp).numpy(), lp.exp().numpy() ** 0.7, rtol=1e-6)


def test_record_replay_falls_back_where_python_branches_on_values():
    def squares(x, branch=False):
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            out = leaf**3 if branch and x.sum() > 0 else leaf**2  # a value-dependent branch, or none
            (g,) = torch.autograd.grad(out.sum(), leaf)
        return g

    def branchy(x):
        return squares(x, branch=True)

    x = torch.ones(3)
    assert record_replay(branchy, (x,), [(-x,)]) is branchy  # not recorded: autograd at every step
    replay = record_replay(squares, (x,), [(-x,)])
    assert replay is not squares and torch.equal(
        replay(torch.tensor([1.0, -2.0, 3.0])), torch.tensor([2.0, -4, 6])
    )


@pytest.mark.parametrize(
    ("function", "error", "match"),
    [
        (
            lambda q, y: q.detach().numpy().sum(-1),
            TypeError,
            r"numpy.ndarray; a \(B,\) tensor with grad expected",
        ),
        (lambda q, y: q.sum(), ValueError, r"shape \(\), not \(\d+,\); a \(B,\) tensor with grad expected"),
        (lambda q, y: q.logsumexp(-1).detach(), ValueError, "detached"),
    ],
)
def test_bad_user_losses_raise_naming_the_loss(registry, function, error, match):
    register_loss("broken", function)
    ds = load_dataset("iris", suite="toy")
    with pytest.raises(error, match=f"loss 'broken': .*{match}"):
        train_bank(ds.X, ds.y, ds.train, ds.validation, ds.test, 3, losses=["CE", "broken"], epochs=1)
    with pytest.raises(error, match=f"loss 'broken': .*{match}"):
        train_naive(
            ds.X, ds.y, ds.train, ds.validation, ds.test, 3, net="linear", loss="broken", lr=0.01, seed=1
        )


def test_bad_p_true_losses_raise_naming_the_loss(registry):
    ds = load_dataset("iris", suite="toy")
    cases = [
        (lambda p: p.detach().numpy(), TypeError, "numpy.ndarray; a tensor of p_y's shape"),
        (lambda p: (1 - p).sum(), ValueError, "shape"),
        (lambda p: (1 - p).detach(), ValueError, "detached"),
    ]
    for i, (fn, error, match) in enumerate(cases):
        register_loss(f"broken {i}", of_p_true=fn)
        with pytest.raises(error, match=f"loss 'broken {i}': of_p_true.*{match}"):
            train_bank(ds.X, ds.y, ds.train, ds.validation, ds.test, 3, losses=[f"broken {i}"], epochs=1)


# --- the bank equals the naive loop -------------------------------------------------------------------------
def _squared_hinge(q, y):
    q_y = q.gather(-1, y[:, None])
    others = torch.nn.functional.one_hot(y, q.shape[-1]) == 0
    return (torch.clamp(1.0 - q_y + q, min=0.0) ** 2 * others).sum(-1)


@pytest.mark.parametrize("net", NETS)
def test_zoo_and_both_kinds_of_user_loss_train_in_the_bank_like_the_naive_loop(registry, uci_dir, net):
    register_loss("user GCE(q=0.5)", of_p_true=lambda p: (1 - p**0.5) / 0.5)
    register_loss("user Taylor", of_p_true=lambda p: (1 - p) + (1 - p) ** 2 / 2, derivative=lambda p: p - 2)
    register_loss("user hinge", _squared_hinge)
    names = [
        "CE", "user GCE(q=0.5)", "GCE", "MPCE", "user hinge", "NCE+RCE", "LS", "Brier", "Tamed CE",
        "user Taylor", "Sigmoid-MSE mean", "Poly-1(eps=2)",
    ]  # fmt: skip
    ds = load_dataset("glass", data_dir=uci_dir)
    train, epochs = ds.train[:43], 3
    bank = train_bank(ds.X, ds.y, train, ds.validation, ds.test, ds.n_classes, net=net, losses=names,
                      lrs=[0.01], seeds=[60], epochs=epochs)  # fmt: skip
    assert bank.models["loss"].tolist() == names and (bank.models["diverged_epoch"] == -1).all()
    for m, model in bank.models.iterrows():
        naive, params = train_naive(ds.X, ds.y, train, ds.validation, ds.test, ds.n_classes, net=net,
                                    loss=model.loss, lr=0.01, seed=60, epochs=epochs)  # fmt: skip
        for got, expected in zip(bank.params[m], params, strict=True):
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
        ours = bank.records[bank.records["loss"] == model.loss].sort_values("epoch")
        for col, n in (("val_acc", len(ds.validation)), ("test_acc", len(ds.test))):
            np.testing.assert_array_equal(np.rint(ours[col] * n), np.rint(naive[col] * n))
        np.testing.assert_allclose(ours["train_loss"], naive["train_loss"], rtol=1e-4)
    # the losses really differ: no two models end with the same weights
    firsts = [p[0] for p in bank.params]
    assert all(not torch.allclose(a, b, atol=1e-4) for i, a in enumerate(firsts) for b in firsts[i + 1 :])


def test_estimator_takes_a_function_a_zoo_name_and_pickles(registry):
    from sklearn.datasets import load_iris

    from mixbench import MixLossClassifier

    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)

    def hinge(q, t):
        return _squared_hinge(q, t)

    by_function = MixLossClassifier(loss=hinge, epochs=3, random_state=60).fit(X, y)
    register_loss("hinge", _squared_hinge)
    by_name = MixLossClassifier(loss="hinge", epochs=3, random_state=60).fit(X, y)
    for a, b in zip(by_function.params_, by_name.params_, strict=True):
        assert torch.equal(a, b)
    gce = MixLossClassifier(loss="GCE(q=0.5)", epochs=3, random_state=60).fit(X, y)
    again = pickle.loads(pickle.dumps(gce))
    np.testing.assert_array_equal(again.predict_proba(X), gce.predict_proba(X))
    with pytest.raises(ValueError, match="loss=42: a loss is a name, a Loss or a function"):
        MixLossClassifier(loss=42).fit(X, y)


# --- where a loss focuses -----------------------------------------------------------------------------------
def test_gradient_focus_against_the_formulas():
    p = np.array([0.01, 0.2, 0.5, 0.8, 0.99])
    np.testing.assert_allclose(gradient_focus("CE", p), 1 - p, rtol=1e-12)  # |p_y - 1|
    np.testing.assert_allclose(gradient_focus("EL", p), p * (1 - p), rtol=1e-12)
    np.testing.assert_allclose(gradient_focus("GCE", p), p**0.7 * (1 - p), rtol=1e-12)
    np.testing.assert_allclose(gradient_focus("Poly-1", p), (1 + p) * (1 - p), rtol=1e-12)
    # the peak of CE + EL / (1 - 2F) is at p_y = F (the reference study's Figure 1)
    grid = np.linspace(0.001, 0.999, 999)
    assert grid[np.argmax(gradient_focus("CE+EL F=0-0.5", grid, epoch=25, n_epochs=50))] == pytest.approx(
        0.3, abs=1e-3
    )
    # a user function by autograd gives the closed form's curve; losses of p alone depend on C
    user_ce = gradient_focus(lambda q, y: torch.nn.functional.cross_entropy(q, y, reduction="none"), p)
    np.testing.assert_allclose(user_ce, 1 - p, rtol=1e-12)
    # label smoothing pulls p_y towards 1 - e + e / C: no gradient there
    assert gradient_focus("LS", [0.9 + 0.1 / 10], n_classes=10)[0] == pytest.approx(0.0, abs=1e-12)


def test_loss_focus_figure_draws_the_engines_gradient(tmp_path):
    from mixbench.report.loss_focus import loss_focus_figure, save_loss_focus

    fig = loss_focus_figure(["CE", "GCE", "CE+EL F=0-0.5"], points=50)
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines][:2] == ["CE", "GCE"] and len(lines) == 2 + 6  # six phases
    x, y = lines[1].get_data()
    np.testing.assert_allclose(y, x**0.7 * (1 - x), rtol=1e-12)  # GCE: p^q (1 - p)
    assert x.min() > 0 and x.max() < 1
    normalised = loss_focus_figure(["EL"], points=51, normalise=True).axes[0].get_lines()[0].get_data()[1]
    assert normalised.max() == pytest.approx(1.0)  # p (1 - p) / its maximum 1/4
    path = save_loss_focus(["CE", "MPCE"], tmp_path / "focus.pdf")
    assert path.read_bytes()[:4] == b"%PDF"


def test_losses_show_prints_formula_and_source_and_writes_the_figure(tmp_path, capsys):
    from mixbench.cli import main

    out = tmp_path / "focus.png"
    assert main(["losses", "show", "GCE(q=0.5),SCE", "Brier", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "GCE(q=0.5): generalized CE L_q = (1 - p_y^q) / q, q = 0.5" in text
    assert "Zhang & Sabuncu 2018" in text and "Wang et al. 2019" in text and "Brier 1950" in text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["losses", "show", "Nope"]) == 2
    assert main(["losses", "list"]) == 0
    assert "robust: CE, MAE, GCE" in capsys.readouterr().out


_FIGURE_FIX = "give --out a file ending in .png, .pdf or .svg"


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        (
            "focus.txt",
            f"focus.txt: extension '.txt' is not supported; {_FIGURE_FIX} (e.g. --out loss-focus.png)",
        ),
        ("focus", f"focus: no extension; {_FIGURE_FIX}"),
        (
            "plots",
            f"plots: is a folder; {_FIGURE_FIX} (e.g. --out loss-focus.png, or --out plots/loss-focus.png)",
        ),
        (
            "a-file/focus.png",
            "a-file: is a file, not a folder; give --out a file in a folder that can be written",
        ),
        ("/proc/mixbench/focus.png", "/proc/mixbench: cannot be written"),
    ],
)
def test_losses_show_refuses_an_output_it_cannot_write_before_drawing(out, expected, tmp_path, monkeypatch):
    """The user's finding: --out focus.txt ended in a traceback; a folder, or no extension, wrote a file
    elsewhere than the path printed."""
    from cli_helpers import mixbench

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("keep me")
    (tmp_path / "plots").mkdir()
    code, stdout, stderr = mixbench("losses", "show", "GCE", "--out", out)
    assert (code, stdout) == (2, "")  # said before any formula is printed
    assert stderr.startswith(f"mixbench losses: error: {expected}") and stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a-file", "plots"]  # nothing written or moved
    assert (tmp_path / "a-file").read_text() == "keep me"


def test_losses_show_writes_upper_case_extensions_and_refuses_bad_counts(tmp_path, monkeypatch):
    from cli_helpers import mixbench

    monkeypatch.chdir(tmp_path)
    code, stdout, _ = mixbench("losses", "show", "GCE", "--out", "sub/Focus.SVG")
    assert code == 0 and stdout.endswith("figure: sub/Focus.SVG\n")
    assert (tmp_path / "sub" / "Focus.SVG").read_text().lstrip().startswith("<?xml")
    for option, value in (("--classes", "1"), ("--classes", "100000000"), ("--epochs", "0")):
        code, stdout, stderr = mixbench("losses", "show", "GCE", "--out", "other.png", option, value)
        assert (code, stdout) == (2, "")  # argparse's usage error, before anything is drawn
        assert f"error: argument {option}: {value} is" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "other.png").exists()


def test_bench_losses_smoke():
    """One toy dataset, one epoch: the table's machinery, not a speed check."""
    from mixbench.engine import bench_losses
    from mixbench.suites.toy import toy_dataset

    table = bench_losses([toy_dataset("iris")], ["GCE", "Brier"], nets=["linear"], repeats=1)
    assert table[["loss", "kind"]].values.tolist() == [["GCE", "p_true"], ["Brier", "probs"]]
    for col in ("alone_s", "alone_ratio", "with_standard_s", "with_standard_ratio"):
        assert (table[col] > 0).all() and np.isfinite(table[col]).all()


# --- the committed zoo runs and the README's numbers --------------------------------------------------------
def _pp(x: float) -> str:
    return f"{x:+.2f}" if abs(x) >= 0.005 else "0.00"


def _pv(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _summary_rows(selected, net: str, noise: str) -> list[str]:
    from mixbench import analysis

    summary = analysis.summary_table(selected, net, noise=noise, n_boot=2000, random_state=0)
    matrix = analysis.accuracy_matrix(selected, net, noise=noise, seed="mean")
    holm = analysis.wilcoxon_holm(matrix, baseline="CE").set_index("loss")["pvalue_holm"]
    rows = []
    for loss, r in summary.sort_values("delta_acc", ascending=False).iterrows():
        ci = "" if loss == "CE" else f"[{_pp(r.delta_ci_low)}, {_pp(r.delta_ci_high)}]"
        p = "" if loss == "CE" else _pv(holm[loss])
        rows.append(f"| {loss} | {r.wins:g} | {_pp(r.delta_acc)} | {ci} | {r.mean_rank:.2f} | {p} |")
    return rows


def test_readme_zoo_tables_are_those_of_the_committed_runs(repo_root):
    from mixbench.results import load

    readme = (repo_root / "README.md").read_text()
    section = readme.split("### The loss zoo on UCI-121", 1)[1].split("## Speed", 1)[0]
    clean = load(repo_root / "results" / "uci121-zoo", epochs=False).selected
    noisy = load(repo_root / "results" / "uci121-zoo-noise40", epochs=False).selected
    assert set(clean["loss"]) == set(LOSS_SETS["zoo"]) and clean["dataset"].nunique() == 120
    assert set(noisy["loss"]) == set(split_loss_names("CE,output-reset,published"))
    for selected, noise in ((clean, "none"), (noisy, "symmetric-0.4")):
        for net in NETS:
            for row in _summary_rows(selected, net, noise):
                assert row in section, f"{noise} / {net}: {row} is not in the README"
