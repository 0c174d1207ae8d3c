"""Tests of mixbench.losses against closed forms and autograd written out here (issue 3).

Every expected value is computed independently in this file (numpy closed forms, torch autograd of losses
written from the definitions, fractions for the schedule rule), never with the helpers of losses.py.
"""

from __future__ import annotations

import math
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch

from mixbench import losses
from mixbench.losses import STANDARD_LOSSES, FocusSchedule, Loss, family_grad, family_loss, get_loss
from mixbench.losses import registry as loss_registry

N_CLASSES = (2, 3, 10, 100)
FOCUS_VALUES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
#: Epochs of a 50-epoch run in each phase of `CE+EL F=0-0.5` (issue 3's table), one per focus value.
EPOCH_OF_FOCUS_N50 = {0.0: 3, 0.1: 12, 0.2: 20, 0.3: 30, 0.4: 38, 0.5: 45}


# --- independent references -----------------------------------------------------------------------------
def ce_el_weights(focus: float) -> tuple[float, float]:
    """(a, b) of a*CE + b*EL for focus F, from the issue's definition."""
    return (0.0, 1.0) if focus == 0.5 else (1.0, 1.0 / (1.0 - 2.0 * focus))


def np_log_softmax(q: np.ndarray) -> np.ndarray:
    z = q - q.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_true_class(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.take_along_axis(x, y[:, None], axis=-1)[:, 0]


def np_sigmoid(q: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-q))


def np_reset_targets(s: np.ndarray, y: np.ndarray, margin: float) -> np.ndarray:
    onehot = np.eye(s.shape[-1], dtype=bool)[y]
    return np.where(onehot, np.maximum(1.0 - margin, s), np.minimum(margin, s))


def torch_reference_loss(name: str, epoch: int = 0, n_epochs: int = 50):
    """Per-sample loss written from the definitions, for autograd. None for an unknown name."""

    def true_class(x, y):
        return x.gather(-1, y[:, None])[:, 0]

    def softmax_mix(a, b, alpha=0.0, gamma=2.0):
        def fn(q, y):
            p_y = true_class(torch.softmax(q, -1), y)
            ce = -torch.log(p_y)
            return a * ce + b * (1.0 - p_y) + alpha * (1.0 - p_y) ** gamma * ce

        return fn

    def sigmoid_mse(margin=0.0, reset=False):
        def fn(q, y):
            s = torch.sigmoid(q)
            onehot = torch.nn.functional.one_hot(y, q.shape[-1]).bool()
            t = torch.where(
                onehot, torch.tensor(1.0 - margin, dtype=q.dtype), torch.tensor(margin, dtype=q.dtype)
            )
            if reset:  # the reset happens before the update: the new targets are constants
                t = torch.where(onehot, torch.maximum(t, s.detach()), torch.minimum(t, s.detach()))
            return ((s - t) ** 2).sum(-1)

        return fn

    if name == "CE":
        return softmax_mix(1.0, 0.0)
    if name == "EL":
        return softmax_mix(0.0, 1.0)
    if name == "CE+EL F=0":
        return softmax_mix(1.0, 1.0)
    if name == "CE+EL F=0,0.5":
        return softmax_mix(*ce_el_weights(0.0 if epoch < math.floor(n_epochs * 0.95) else 0.5))
    if name == "CE+EL F=0-0.5":
        return softmax_mix(*ce_el_weights(ref_focus(FOCUS_VALUES, Fraction(1), epoch, n_epochs)))
    if name == "Focal":
        return softmax_mix(0.0, 0.0, alpha=0.25, gamma=2.0)
    if name == "Sigmoid-MSE":
        return sigmoid_mse()
    if name == "Sigmoid-MSE+OR":
        return sigmoid_mse(margin=0.1, reset=True)
    return None


def ref_phase(k: int, first_share: Fraction, epoch: int, n_epochs: int) -> int:
    """The reference study's rule, exactly: a first phase of floor(N*hf/K) epochs, then K-1 even ones."""
    first = math.floor(Fraction(n_epochs) * first_share / k)
    if k == 1 or epoch < first:
        return 0
    return 1 + math.floor(Fraction(epoch - first) / (Fraction(n_epochs - first) / (k - 1)))


def ref_focus(values, first_share: Fraction, epoch: int, n_epochs: int) -> float:
    return values[ref_phase(len(values), first_share, epoch, n_epochs)]


def random_problem(n: int, c: int, scale: float = 3.0, dtype=torch.float64, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(n, c, generator=gen, dtype=torch.float64) * scale
    y = torch.randint(0, c, (n,), generator=gen)
    return q.to(dtype), y


def extreme_logits(c: int, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits with |q| up to 1e4: random signs and magnitudes, true class far ahead / far behind, ties."""
    gen = torch.Generator().manual_seed(c)
    n = 64
    q = torch.randn(n, c, generator=gen, dtype=torch.float64)
    q = q / q.abs().amax(-1, keepdim=True) * 1e4 * torch.rand(n, 1, generator=gen, dtype=torch.float64)
    y = torch.randint(0, c, (n,), generator=gen)
    onehot = torch.nn.functional.one_hot(y, c).bool()
    ahead = torch.where(onehot, 1e4, -1e4).to(torch.float64)
    rows = [q, ahead, -ahead, torch.full((n, c), 1e4), torch.full((n, c), -1e4), torch.zeros(n, c)]
    rows.append(torch.where(onehot, 1e4, 1e4 - 30.0))  # p_y close to 1 from a large common offset
    return torch.cat(rows).to(dtype), y.repeat(len(rows))


def scheduled_epochs(name: str) -> list[int]:
    """Epochs of a 50-epoch run that cover every phase of a standard loss (both ends of `F=0,0.5`'s)."""
    if get_loss(name).schedule is None:
        return [0]
    return sorted(set(EPOCH_OF_FOCUS_N50.values()) | {0, 46, 47, 49})


# --- values against closed forms ------------------------------------------------------------------------
@pytest.mark.parametrize("c", N_CLASSES)
def test_softmax_values_match_closed_forms(c):
    q, y = random_problem(200, c, seed=c)
    logp_y = np_true_class(np_log_softmax(q.numpy()), y.numpy())
    p_y = np.exp(logp_y)
    ce, el = -logp_y, 1.0 - p_y

    np.testing.assert_allclose(get_loss("CE").per_sample(q, y).numpy(), ce, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(get_loss("EL").per_sample(q, y).numpy(), el, rtol=1e-10, atol=1e-14)
    focal = -0.25 * (1.0 - p_y) ** 2 * logp_y
    np.testing.assert_allclose(get_loss("Focal").per_sample(q, y).numpy(), focal, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(
        get_loss("CE+EL F=0").per_sample(q, y).numpy(), ce + el, rtol=1e-10, atol=1e-14
    )


@pytest.mark.parametrize("c", N_CLASSES)
@pytest.mark.parametrize("focus", FOCUS_VALUES)
def test_mixture_values_for_each_focus(c, focus):
    q, y = random_problem(100, c, seed=7 * c)
    logp_y = np_true_class(np_log_softmax(q.numpy()), y.numpy())
    a, b = ce_el_weights(focus)
    expected = a * -logp_y + b * (1.0 - np.exp(logp_y))
    # Through the scheduled standard loss, at an epoch of the phase with this focus value ...
    got = get_loss("CE+EL F=0-0.5").per_sample(q, y, epoch=EPOCH_OF_FOCUS_N50[focus], n_epochs=50)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-14)
    # ... and through the family with the weights given directly.
    onehot = torch.nn.functional.one_hot(y, c).double()
    got = family_loss(q, onehot, {"ce": a, "el": b})
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("c", N_CLASSES)
def test_two_phase_mixture_values(c):
    q, y = random_problem(50, c, seed=c + 1)
    logp_y = np_true_class(np_log_softmax(q.numpy()), y.numpy())
    ce, el = -logp_y, 1.0 - np.exp(logp_y)
    loss = get_loss("CE+EL F=0,0.5")
    for epoch in (0, 46):
        np.testing.assert_allclose(loss.per_sample(q, y, epoch, 50).numpy(), ce + el, rtol=1e-10, atol=1e-14)
    for epoch in (47, 49):
        np.testing.assert_allclose(loss.per_sample(q, y, epoch, 50).numpy(), el, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("c", N_CLASSES)
def test_sigmoid_mse_values(c):
    q, y = random_problem(100, c, seed=11 * c)
    s = np_sigmoid(q.numpy())
    expected = ((s - np.eye(c)[y.numpy()]) ** 2).sum(-1)
    np.testing.assert_allclose(
        get_loss("Sigmoid-MSE").per_sample(q, y).numpy(), expected, rtol=1e-10, atol=1e-14
    )


@pytest.mark.parametrize("c", N_CLASSES)
@pytest.mark.parametrize("margin", [0.05, 0.1, 0.25])
def test_output_reset_values(c, margin):
    q, y = random_problem(100, c, seed=13 * c)
    s = np_sigmoid(q.numpy())
    expected = ((s - np_reset_targets(s, y.numpy(), margin)) ** 2).sum(-1)
    loss = Loss("OR test", {"sigmoid": 1.0, "margin": margin, "reset": 1.0})
    got = loss.per_sample(q, y).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)
    if margin == 0.1:  # the standard configuration uses m = 0.1
        got = get_loss("Sigmoid-MSE+OR").per_sample(q, y).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)
    # The reset does something here: some outputs are beyond their targets on the correct side.
    plain = ((s - np.where(np.eye(c, dtype=bool)[y.numpy()], 1 - margin, margin)) ** 2).sum(-1)
    assert (expected < plain - 1e-9).any()


# --- gradients ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("c", N_CLASSES)
@pytest.mark.parametrize("name", STANDARD_LOSSES)
def test_closed_form_grad_matches_autograd(name, c):
    q, y = random_problem(64, c, seed=3 * c)
    reference = torch_reference_loss(name)  # only to check the table below knows every standard loss
    assert reference is not None, f"no reference written for {name!r}"
    for epoch in scheduled_epochs(name):
        fn = torch_reference_loss(name, epoch, 50)
        qq = q.clone().requires_grad_(True)
        (expected,) = torch.autograd.grad(fn(qq, y).mean(), qq)
        got = get_loss(name).grad(q, y, epoch=epoch, n_epochs=50)
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-13)
        # The value matches the same reference, so grad and value belong to one loss.
        torch.testing.assert_close(
            get_loss(name).per_sample(q, y, epoch, 50), fn(q, y), rtol=1e-10, atol=1e-13
        )


@pytest.mark.parametrize("c", N_CLASSES)
def test_el_gradient_formula_from_the_issue(c):
    q, y = random_problem(40, c, seed=5 * c)
    p = np.exp(np_log_softmax(q.numpy()))
    p_y = np_true_class(p, y.numpy())[:, None]
    onehot = np.eye(c, dtype=bool)[y.numpy()]
    expected = np.where(onehot, p_y * (p_y - 1.0), p_y * p)  # per sample
    got = get_loss("EL").grad(q, y).numpy() * len(y)  # grad is that of the batch mean
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("alpha, gamma", [(0.25, 2.0), (1.0, 0.5), (0.5, 1.0), (0.25, 3.0)])
def test_focal_grad_other_parameters_matches_autograd(alpha, gamma):
    q, y = random_problem(64, 5, seed=int(10 * gamma))
    onehot = torch.nn.functional.one_hot(y, 5).double()
    qq = q.clone().requires_grad_(True)
    p_y = torch.softmax(qq, -1).gather(-1, y[:, None])[:, 0]
    (expected,) = torch.autograd.grad((-alpha * (1 - p_y) ** gamma * torch.log(p_y)).sum(), qq)
    coef = {"focal_alpha": alpha, "focal_gamma": gamma}
    torch.testing.assert_close(family_grad(q, onehot, coef), expected, rtol=1e-10, atol=1e-13)
    # Extreme logits, p_y = 1 exactly among them: (1 - p_y)^(gamma - 1) must not turn 0 * inf into NaN.
    for dtype in (torch.float32, torch.float64):
        q_ext, y_ext = extreme_logits(5, dtype)
        onehot_ext = torch.nn.functional.one_hot(y_ext, 5).to(dtype)
        assert torch.isfinite(family_loss(q_ext, onehot_ext, coef)).all()
        assert torch.isfinite(family_grad(q_ext, onehot_ext, coef)).all()
    certain = torch.tensor([[1e4, -1e4, 0.0, -1e4, 5.0]], dtype=torch.float64)  # p_y = 1 for y = 0
    zero = torch.tensor([[1.0, 0, 0, 0, 0]], dtype=torch.float64)
    assert family_loss(certain, zero, coef).item() == 0.0
    assert torch.equal(family_grad(certain, zero, coef).abs(), torch.zeros(1, 5, dtype=torch.float64))


def test_focal_gamma_defaults_to_two():
    q, y = random_problem(20, 4, seed=8)
    logp_y = np_true_class(np_log_softmax(q.numpy()), y.numpy())
    expected = -0.5 * (1 - np.exp(logp_y)) ** 2 * logp_y
    loss = Loss("focal without gamma", {"focal_alpha": 0.5})
    np.testing.assert_allclose(loss.per_sample(q, y).numpy(), expected, rtol=1e-10, atol=1e-14)
    onehot = torch.nn.functional.one_hot(y, 4).double()
    np.testing.assert_allclose(family_loss(q, onehot, {"focal_alpha": 0.5}).numpy(), expected, rtol=1e-10)
    explicit = Loss("focal gamma 2", {"focal_alpha": 0.5, "focal_gamma": 2.0}).grad(q, y)
    torch.testing.assert_close(loss.grad(q, y), explicit, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(
        family_grad(q, onehot, {"focal_alpha": 0.5}) / 20, explicit, rtol=1e-12, atol=0.0
    )


def test_family_terms_add_up_and_scale_applies():
    q, y = random_problem(32, 4, seed=99)
    onehot = torch.nn.functional.one_hot(y, 4).double()
    coef = {"ce": 0.7, "el": 1.3, "focal_alpha": 0.4, "focal_gamma": 1.5, "sigmoid": 2.0, "margin": 0.2}
    coef["reset"] = 1.0
    qq = q.clone().requires_grad_(True)
    p_y = torch.softmax(qq, -1).gather(-1, y[:, None])[:, 0]
    s = torch.sigmoid(qq)
    t = torch.where(onehot.bool(), torch.clamp(s.detach(), min=0.8), torch.clamp(s.detach(), max=0.2))
    total = -0.7 * torch.log(p_y) + 1.3 * (1 - p_y) - 0.4 * (1 - p_y) ** 1.5 * torch.log(p_y)
    total = total + 2.0 * ((s - t) ** 2).sum(-1)
    (expected,) = torch.autograd.grad(total.sum() * 0.37, qq)
    torch.testing.assert_close(family_loss(q, onehot, coef), total.detach(), rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(family_grad(q, onehot, coef, scale=0.37), expected, rtol=1e-10, atol=1e-13)


def test_no_coefficients_give_zero_loss_and_grad():
    q, y = random_problem(8, 3)
    onehot = torch.nn.functional.one_hot(y, 3).double()
    assert torch.equal(family_loss(q, onehot, {}), torch.zeros(8, dtype=torch.float64))
    assert torch.equal(family_grad(q, onehot, {}), torch.zeros_like(q))


# --- extreme logits -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("c", N_CLASSES)
@pytest.mark.parametrize("name", STANDARD_LOSSES)
def test_extreme_logits_stay_finite(name, c, dtype):
    q, y = extreme_logits(c, dtype)
    assert q.abs().max() == 1e4
    loss = get_loss(name)
    for epoch in scheduled_epochs(name):
        value = loss.per_sample(q, y, epoch, 50)
        grad = loss.grad(q, y, epoch, 50)
        assert value.dtype == dtype and grad.dtype == dtype
        assert torch.isfinite(value).all(), f"{name}: non-finite loss"
        assert torch.isfinite(grad).all(), f"{name}: non-finite gradient"
        assert (value >= 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_logits_values_are_right(dtype):
    c = 10
    q, y = extreme_logits(c, dtype)
    logp_y = np_true_class(np_log_softmax(q.double().numpy()), y.numpy())
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(get_loss("CE").per_sample(q, y).double().numpy(), -logp_y, **tol)
    np.testing.assert_allclose(get_loss("EL").per_sample(q, y).double().numpy(), -np.expm1(logp_y), **tol)
    focal = -0.25 * (-np.expm1(logp_y)) ** 2 * logp_y
    np.testing.assert_allclose(get_loss("Focal").per_sample(q, y).double().numpy(), focal, **tol)
    # True class 2e4 behind every other logit: CE = 2e4 + log(C - 1) exactly, and the gradient is p - onehot.
    behind = torch.where(torch.nn.functional.one_hot(y[:1], c).bool(), -1e4, 1e4).to(dtype)
    assert get_loss("CE").per_sample(behind, y[:1]).item() == pytest.approx(2e4 + math.log(c - 1), rel=1e-6)
    expected = torch.full((1, c), 1.0 / (c - 1), dtype=torch.float64)
    expected[0, y[0]] = -1.0
    torch.testing.assert_close(get_loss("CE").grad(behind, y[:1]).double(), expected)


# --- EL <= CE -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_el_never_exceeds_ce(dtype):
    problems = [extreme_logits(c, dtype) for c in N_CLASSES]
    for c in N_CLASSES:
        q, y = random_problem(2000, c, seed=c, dtype=torch.float64)
        problems.append(((q * torch.logspace(-3, 4, 2000, dtype=torch.float64)[:, None]).to(dtype), y))
    # p_y close to 1, where 1 - p_y and -log p_y agree to first order and rounding decides.
    margin = torch.logspace(-1, 2, 20000, dtype=torch.float64)
    problems.append(
        (torch.stack([margin, torch.zeros_like(margin)], -1).to(dtype), torch.zeros(20000).long())
    )
    for q, y in problems:
        ce = get_loss("CE").per_sample(q, y)
        el = get_loss("EL").per_sample(q, y)
        worst = (el - ce).max().item()
        assert (el <= ce).all(), f"EL exceeds CE by up to {worst} ({dtype}, C = {q.shape[1]})"


# --- where |dL/dq_y| peaks -------------------------------------------------------------------------------
GRID = np.linspace(1e-4, 1 - 1e-4, 9999)  # p_y with resolution 1e-4


def grad_true_class_magnitude(loss: Loss, epoch: int, n_epochs: int = 50) -> np.ndarray:
    """|dL/dq_y| on GRID for two classes: logits (log p, log(1 - p)) give p_y = p."""
    p = torch.tensor(GRID, dtype=torch.float64)
    q = torch.stack([torch.log(p), torch.log1p(-p)], -1)
    y = torch.zeros(len(p), dtype=torch.long)
    return (loss.grad(q, y, epoch, n_epochs)[:, 0] * len(p)).abs().numpy()  # per-sample gradient


@pytest.mark.parametrize("focus", [0.1, 0.2, 0.3, 0.4])
def test_gradient_peaks_at_focus(focus):
    mag = grad_true_class_magnitude(get_loss("CE+EL F=0-0.5"), EPOCH_OF_FOCUS_N50[focus])
    assert GRID[np.argmax(mag)] == pytest.approx(focus, abs=2e-4)
    # And the same with the weights of the definition given directly.
    a, b = ce_el_weights(focus)
    mag = grad_true_class_magnitude(Loss("direct", {"ce": a, "el": b}), 0, 1)
    assert GRID[np.argmax(mag)] == pytest.approx(focus, abs=2e-4)
    assert mag.max() == pytest.approx(b * (1 - focus) ** 2, rel=1e-6)  # (a + b F)(1 - F) with a = b(1-2F)


def test_gradient_peak_at_focus_zero_and_half():
    mag = grad_true_class_magnitude(get_loss("CE+EL F=0"), 0)
    assert np.all(np.diff(mag) < 0), "F = 0: |dL/dq_y| = 1 - p_y^2 decreases with p_y"
    assert np.argmax(mag) == 0
    for loss, epoch in [
        (get_loss("CE+EL F=0-0.5"), 45),
        (get_loss("CE+EL F=0,0.5"), 49),
        (get_loss("EL"), 0),
    ]:
        mag = grad_true_class_magnitude(loss, epoch)
        assert GRID[np.argmax(mag)] == pytest.approx(0.5, abs=2e-4), loss.name


# --- schedule tables ------------------------------------------------------------------------------------
def test_schedule_table_n50_focus_0_to_half():
    loss = get_loss("CE+EL F=0-0.5")
    expected = [(0, 7, 0.0), (8, 16, 0.1), (17, 24, 0.2), (25, 33, 0.3), (34, 41, 0.4), (42, 49, 0.5)]
    assert loss.schedule.table(50) == expected
    expected_b = [1.0, 1.25, 5 / 3, 2.5, 5.0]
    for (first, last, _), b in zip(expected[:-1], expected_b, strict=True):
        for epoch in (first, last):
            coef = loss.coefficients_at(epoch, 50)
            assert coef["ce"] == 1.0 and coef["el"] == pytest.approx(b, rel=1e-12)
    for epoch in (42, 49):
        coef = loss.coefficients_at(epoch, 50)
        assert (coef["ce"], coef["el"]) == (0.0, 1.0)


def test_schedule_table_n50_focus_0_and_half():
    loss = get_loss("CE+EL F=0,0.5")
    assert loss.schedule.table(50) == [(0, 46, 0.0), (47, 49, 0.5)]
    assert [loss.coefficients_at(e, 50)["ce"] for e in (0, 46, 47, 49)] == [1.0, 1.0, 0.0, 0.0]
    assert all(
        get_loss("CE+EL F=0").coefficients_at(e, 50)[k] == 1.0 for e in range(50) for k in ("ce", "el")
    )


@pytest.mark.parametrize(
    "name, first_share",
    [("CE+EL F=0-0.5", Fraction(1)), ("CE+EL F=0,0.5", Fraction(19, 10)), ("CE+EL F=0", Fraction(1))],
)
def test_schedule_follows_the_rule_for_every_n(name, first_share):
    schedule = get_loss(name).schedule
    values = schedule.values
    for n_epochs in range(1, 121):
        expected = [ref_focus(values, first_share, e, n_epochs) for e in range(n_epochs)]
        got = [schedule.focus(e, n_epochs) for e in range(n_epochs)]
        assert got == expected, f"N = {n_epochs}"
        if name == "CE+EL F=0,0.5":  # the issue's wording: F = 0 for the first floor(0.95 N) epochs
            assert got.count(0.0) == math.floor(Fraction(95, 100) * n_epochs)
        seen = {ref_phase(len(values), first_share, e, n_epochs) for e in range(n_epochs)}
        assert schedule.skipped_values(n_epochs) == [v for i, v in enumerate(values) if i not in seen]
        rows = schedule.table(n_epochs)
        assert [f for first, last, f in rows for _ in range(first, last + 1)] == expected


def test_schedule_with_three_values_and_other_share():
    schedule = FocusSchedule((0.0, 0.25, 0.5), first_share=1.5)
    for n_epochs in range(1, 61):
        expected = [ref_focus(schedule.values, Fraction(3, 2), e, n_epochs) for e in range(n_epochs)]
        assert [schedule.focus(e, n_epochs) for e in range(n_epochs)] == expected


@pytest.mark.parametrize("n_epochs", [1, 2, 3, 4, 5])
def test_short_runs_work_and_warn_which_focus_values_are_skipped(n_epochs):
    loss = get_loss("CE+EL F=0-0.5")
    seen = {ref_phase(6, Fraction(1), e, n_epochs) for e in range(n_epochs)}
    skipped = [v for i, v in enumerate(FOCUS_VALUES) if i not in seen]
    assert 0.0 in skipped  # the first phase, floor(N / 6) epochs long, is empty
    with pytest.warns(UserWarning, match="get no epoch") as record:
        loss.check_epochs(n_epochs)
    message = str(record[0].message)
    assert f"focus values {skipped}" in message and f"{n_epochs} epochs" in message
    q, y = random_problem(16, 3, seed=n_epochs)
    for epoch in range(n_epochs):
        a, b = ce_el_weights(ref_focus(FOCUS_VALUES, Fraction(1), epoch, n_epochs))
        logp_y = np_true_class(np_log_softmax(q.numpy()), y.numpy())
        expected = a * -logp_y + b * (1 - np.exp(logp_y))
        np.testing.assert_allclose(
            loss.per_sample(q, y, epoch, n_epochs).numpy(), expected, rtol=1e-10, atol=1e-14
        )
        assert torch.isfinite(loss.grad(q, y, epoch, n_epochs)).all()


def test_check_epochs_is_silent_when_every_phase_gets_epochs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for n_epochs in (6, 7, 50, 120):
            get_loss("CE+EL F=0-0.5").check_epochs(n_epochs)
        for n_epochs in (2, 50):
            get_loss("CE+EL F=0,0.5").check_epochs(n_epochs)
        for name in ("CE", "EL", "Focal", "Sigmoid-MSE+OR", "CE+EL F=0"):
            get_loss(name).check_epochs(1)
    with pytest.warns(UserWarning, match=r"focus values \[0\.0\]"):
        get_loss("CE+EL F=0,0.5").check_epochs(1)  # floor(0.95) = 0 epochs of F = 0


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="focus"):
        FocusSchedule((0.0, 0.6))
    with pytest.raises(ValueError, match="focus"):
        FocusSchedule((-0.1,))
    with pytest.raises(ValueError):
        FocusSchedule(())
    with pytest.raises(ValueError, match="epoch"):
        get_loss("CE+EL F=0-0.5").schedule.phase(50, 50)


# --- Output Reset ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("c", N_CLASSES)
def test_output_reset_with_zero_margin_is_plain_sigmoid_mse(c):
    q, y = random_problem(100, c, scale=6.0, seed=c)
    plain, reset = get_loss("Sigmoid-MSE"), Loss("OR m=0", {"sigmoid": 1.0, "margin": 0.0, "reset": 1.0})
    torch.testing.assert_close(reset.per_sample(q, y), plain.per_sample(q, y), rtol=1e-14, atol=0.0)
    torch.testing.assert_close(reset.grad(q, y), plain.grad(q, y), rtol=1e-14, atol=0.0)


@pytest.mark.parametrize("margin", [0.1, 0.3])
def test_output_reset_zero_gradient_exactly_on_consistent_outputs(margin):
    c = 10
    q, y = random_problem(400, c, scale=4.0, seed=int(margin * 100))
    loss = Loss("OR", {"sigmoid": 1.0, "margin": margin, "reset": 1.0})
    if margin == 0.1:
        loss = get_loss("Sigmoid-MSE+OR")
    grad = loss.grad(q, y).numpy()
    s = np_sigmoid(q.numpy())
    onehot = np.eye(c, dtype=bool)[y.numpy()]
    consistent = np.where(onehot, s > 1 - margin, s < margin)
    assert consistent.any() and (~consistent).any()
    assert np.all(grad[consistent] == 0.0)
    assert np.all(grad[~consistent] != 0.0)
    # Outside the region the gradient is the plain one towards 1 - m / m (the batch mean divides by B).
    expected = 2 * (s - np.where(onehot, 1 - margin, margin)) * s * (1 - s) / len(y)
    np.testing.assert_allclose(grad[~consistent], expected[~consistent], rtol=1e-10)
    # A sample whose every output is beyond its target gets no loss and no gradient at all.
    t_in = math.log((1 - margin / 2) / (margin / 2))  # sigmoid(t_in) = 1 - m/2
    q_done = torch.full((1, c), -t_in, dtype=torch.float64)
    q_done[0, 3] = t_in
    y_done = torch.tensor([3])
    assert loss.per_sample(q_done, y_done).item() == 0.0
    assert torch.equal(loss.grad(q_done, y_done), torch.zeros(1, c, dtype=torch.float64))


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.3])
def test_output_reset_off_changes_nothing(margin):
    c = 6
    q, y = random_problem(100, c, scale=4.0, seed=3)
    onehot = torch.nn.functional.one_hot(y, c).double()
    s = np_sigmoid(q.numpy())
    target = np.where(onehot.bool().numpy(), 1 - margin, margin)
    expected_value = ((s - target) ** 2).sum(-1)
    expected_grad = 2 * (s - target) * s * (1 - s)
    for reset in (0.0, 0, torch.tensor(0.0, dtype=torch.float64)):
        coef = {"sigmoid": 1.0, "margin": margin, "reset": reset}
        np.testing.assert_allclose(
            family_loss(q, onehot, coef).numpy(), expected_value, rtol=1e-10, atol=1e-14
        )
        np.testing.assert_allclose(
            family_grad(q, onehot, coef).numpy(), expected_grad, rtol=1e-10, atol=1e-16
        )
    if margin > 0:  # and with the reset on, something does change on these logits
        on = family_loss(q, onehot, {"sigmoid": 1.0, "margin": margin, "reset": 1.0}).numpy()
        assert (on < expected_value - 1e-9).any()


# --- registry -------------------------------------------------------------------------------------------
@pytest.fixture
def registry(monkeypatch):
    """A private copy of the registry, so that losses registered by a test do not leak into others."""
    monkeypatch.setattr(loss_registry, "_REGISTRY", dict(loss_registry._REGISTRY))
    return loss_registry._REGISTRY


def squared_hinge(q, y):
    """A user loss: squared multi-class hinge with margin 1."""
    q_y = q.gather(-1, y[:, None])
    others = torch.nn.functional.one_hot(y, q.shape[-1]) == 0
    return (torch.clamp(1.0 - q_y + q, min=0.0) ** 2 * others).sum(-1)


def test_standard_losses_are_registered(registry):
    assert set(STANDARD_LOSSES) <= set(losses.available_losses())
    assert len(STANDARD_LOSSES) == 8
    assert all(get_loss(n).closed_form and get_loss(n).name == n for n in STANDARD_LOSSES)
    assert get_loss(get_loss("CE")) is get_loss("CE")


def test_register_user_loss_by_function(registry):
    loss = losses.register_loss("SqHinge", squared_hinge)
    assert get_loss("SqHinge") is loss and not loss.closed_form
    assert "SqHinge" in losses.available_losses()
    q, y = random_problem(30, 4, seed=21)
    p_y = q.numpy()[np.arange(30), y.numpy()][:, None]
    hinge = np.clip(1 - p_y + q.numpy(), 0, None) ** 2
    expected = hinge.sum(-1) - 1.0  # the true class's own term is (1 - 0)^2 = 1
    np.testing.assert_allclose(loss.per_sample(q, y).numpy(), expected, rtol=1e-10, atol=1e-14)
    # Its gradient comes from autograd and is that of the batch mean (written out by hand here).
    act = np.clip(1 - p_y + q.numpy(), 0, None) * (np.eye(4)[y.numpy()] == 0)
    expected_grad = 2 * act
    expected_grad[np.arange(30), y.numpy()] = -2 * act.sum(-1)
    np.testing.assert_allclose(loss.grad(q, y).numpy(), expected_grad / 30, rtol=1e-10, atol=1e-15)
    with torch.no_grad():  # the engine may update weights inside no_grad
        np.testing.assert_allclose(loss.grad(q, y).numpy(), expected_grad / 30, rtol=1e-10, atol=1e-15)
    with pytest.raises(TypeError, match="function"):
        losses.register_loss("NoFunction")


def test_duplicate_names_are_refused(registry):
    losses.register_loss("SqHinge", squared_hinge)
    with pytest.raises(ValueError, match="already registered"):
        losses.register_loss("SqHinge", lambda q, y: q.sum(-1))
    with pytest.raises(ValueError, match="already registered"):
        losses.register_loss(Loss("CE", {"el": 1.0}))
    assert get_loss("CE").coefficients == {"ce": 1.0}
    replaced = losses.register_loss("SqHinge", squared_hinge, replace=True)
    assert get_loss("SqHinge") is replaced
    with pytest.raises(ValueError, match="listed twice"):
        losses.resolve_losses(["CE", "EL", "CE"])
    assert [ls.name for ls in losses.resolve_losses(["EL", "CE"])] == ["EL", "CE"]


def test_unknown_name_lists_known_losses(registry):
    with pytest.raises(KeyError, match="unknown loss 'Hinge'") as info:
        get_loss("Hinge")
    message = str(info.value)
    assert all(repr(name) in message for name in STANDARD_LOSSES)
    assert "module:attr" in message


USER_MODULE = """
import torch
from mixbench.losses import Loss

def my_loss(q, y):
    return torch.logsumexp(q, -1) - q.gather(-1, y[:, None])[:, 0] + 0.5 * (q ** 2).mean(-1)

SCALED_CE = Loss("ScaledCE", {"ce": 2.0})
NOT_A_LOSS = 42
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch, registry):
    """Name of a user module in tmp_path (on sys.path), plus `<name>_other` and `<name>_ce` beside it."""
    name = f"mixbench_user_losses_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    # Another module with an attribute of the same name, and one with a Loss named like a built-in.
    (tmp_path / f"{name}_other.py").write_text("def my_loss(q, y):\n    return q.sum(-1)\n")
    (tmp_path / f"{name}_ce.py").write_text(
        "from mixbench.losses import Loss\nCE = Loss('CE', {'el': 1.0})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in (name, f"{name}_other", f"{name}_ce"):
        sys.modules.pop(module, None)


def test_get_loss_imports_module_attr(user_module):
    loss = get_loss(f"{user_module}:my_loss")
    assert loss.name == "my_loss" and not loss.closed_form
    assert get_loss("my_loss") is loss and get_loss(f"{user_module}:my_loss") is loss
    q, y = random_problem(20, 5, seed=4)
    logp_y = np_true_class(np_log_softmax(q.numpy()), y.numpy())
    expected = -logp_y + 0.5 * (q.numpy() ** 2).mean(-1)
    np.testing.assert_allclose(loss.per_sample(q, y).numpy(), expected, rtol=1e-10, atol=1e-14)
    p = np.exp(np_log_softmax(q.numpy()))
    expected_grad = (p - np.eye(5)[y.numpy()] + q.numpy() / 5) / 20
    np.testing.assert_allclose(loss.grad(q, y).numpy(), expected_grad, rtol=1e-10, atol=1e-15)
    # A Loss object is used as it is, under its own name, with its closed form.
    scaled = get_loss(f"{user_module}:SCALED_CE")
    assert scaled.name == "ScaledCE" and get_loss("ScaledCE") is scaled
    np.testing.assert_allclose(scaled.per_sample(q, y).numpy(), -2 * logp_y, rtol=1e-10, atol=1e-14)


def test_get_loss_import_errors_are_clear(user_module):
    with pytest.raises(KeyError, match="cannot import"):
        get_loss("no_such_module_for_mixbench:fn")
    with pytest.raises(KeyError, match="cannot import"):
        get_loss(f"{user_module}:missing")
    with pytest.raises(TypeError, match="NOT_A_LOSS"):
        get_loss(f"{user_module}:NOT_A_LOSS")
    # A different loss that only shares the name of a registered one is refused, not silently swapped.
    first = get_loss(f"{user_module}:my_loss")
    with pytest.raises(ValueError, match="already registered"):
        get_loss(f"{user_module}_other:my_loss")
    assert get_loss("my_loss") is first
    with pytest.raises(ValueError, match="already registered"):
        get_loss(f"{user_module}_ce:CE")
    assert get_loss("CE").coefficients == {"ce": 1.0}


# --- broadcasting over a bank of models -----------------------------------------------------------------
def test_family_broadcasts_over_models_like_scalar_calls():
    """Coefficients (1, 1, G, 1) against logits (S, B, G, C): model g gets exactly its scalar result."""
    models = [(name, epoch) for name in STANDARD_LOSSES for epoch in scheduled_epochs(name)]
    extra = [
        {"focal_alpha": 1.0, "focal_gamma": 0.5},
        {"ce": 0.3, "sigmoid": 0.5, "margin": 0.2, "reset": 0.5},
    ]
    coefs = [get_loss(name).coefficients_at(epoch, 50) for name, epoch in models]
    coefs += [
        {k: float(e.get(k, 2.0 if k == "focal_gamma" else 0.0)) for k in losses.COEFFICIENTS} for e in extra
    ]
    s_, b_, g_, c_ = 3, 7, len(coefs), 5
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(s_, b_, g_, c_, generator=gen, dtype=torch.float64) * 3
    q[0, 0] = 1e4 * torch.sign(q[0, 0])  # extreme logits in the bank as well
    y = torch.randint(0, c_, (s_, b_, g_), generator=gen)
    onehot = torch.nn.functional.one_hot(y, c_).double()
    bank = {k: torch.tensor([c[k] for c in coefs], dtype=torch.float64).view(1, 1, g_, 1) for k in coefs[0]}
    value = family_loss(q, onehot, bank)
    grad = family_grad(q, onehot, bank, scale=1.0 / b_)
    assert value.shape == (s_, b_, g_) and grad.shape == q.shape
    assert torch.isfinite(value).all() and torch.isfinite(grad).all()
    # The engine's path: coefficients prepared once, the sigmoid targets and reset bounds precomputed.
    prepared = losses.FamilyGrad(bank, 1.0 / b_)
    torch.testing.assert_close(prepared(q, *prepared.targets(onehot)), grad, rtol=1e-14, atol=0)
    torch.testing.assert_close(prepared(q, onehot), grad, rtol=1e-14, atol=0)
    for g, coef in enumerate(coefs):
        torch.testing.assert_close(
            value[:, :, g], family_loss(q[:, :, g], onehot[:, :, g], coef), rtol=1e-13, atol=0
        )
        expected = family_grad(q[:, :, g], onehot[:, :, g], coef, scale=1.0 / b_)
        torch.testing.assert_close(grad[:, :, g], expected, rtol=1e-13, atol=1e-300)
    # The scalar calls are themselves right: model 0 is CE, whose per-sample value is -log p_y.
    logp_y = np.take_along_axis(np_log_softmax(q[:, :, 0].numpy()), y[:, :, 0, None].numpy(), -1)[..., 0]
    np.testing.assert_allclose(value[:, :, 0].numpy(), -logp_y, rtol=1e-10, atol=1e-14)


def test_the_class_axis_may_be_any_axis_and_targets_may_be_precomputed():
    """The engine puts the class axis third (a faster softmax) and prepares targets once per epoch: the
    loss and gradient are those of the last-axis layout, for shared and per-model sigmoid margins."""
    gen = torch.Generator().manual_seed(3)
    s_, b_, c_, g_ = 2, 5, 4, 6
    q = torch.randn(s_, b_, g_, c_, generator=gen, dtype=torch.float64) * 4
    y = torch.randint(0, c_, (s_, b_, 1), generator=gen)
    onehot = torch.nn.functional.one_hot(y, c_).double()  # (S, B, 1, C): the same target for every model
    per_model = {
        "ce": torch.tensor([1.0, 0, 0, 0.5, 0, 0]),
        "el": torch.tensor([0.0, 1, 0, 2, 0, 0]),
        "focal_alpha": torch.tensor([0.0, 0, 0.25, 0, 0, 0]),
        "sigmoid": torch.tensor([0.0, 0, 0, 0, 1, 1]),
        "reset": torch.tensor([0.0, 0, 0, 0, 0, 1]),
    }
    for margin in (0.1, torch.tensor([0.0, 0, 0, 0, 0, 0.1])):  # shared, then per model
        coef = {k: v.double() for k, v in per_model.items()} | {"margin": margin}
        last = {k: v.view(1, 1, g_, 1) if isinstance(v, torch.Tensor) else v for k, v in coef.items()}
        third = {k: v.view(1, 1, 1, g_) if isinstance(v, torch.Tensor) else v for k, v in coef.items()}
        q3, onehot3 = q.permute(0, 1, 3, 2), onehot.permute(0, 1, 3, 2)  # (S, B, C, G) and (S, B, C, 1)
        torch.testing.assert_close(
            family_loss(q3, onehot3, third, dim=2), family_loss(q, onehot, last), rtol=1e-13, atol=0
        )
        expected = family_grad(q, onehot, last, scale=0.125).permute(0, 1, 3, 2)
        prepared = losses.FamilyGrad(third, scale=0.125, dim=2)
        targets = prepared.targets(onehot3)
        assert (targets[1] is None) == isinstance(margin, torch.Tensor)  # a per-model target is not stored
        assert targets[2] is not None and targets[3] is not None  # the reset bounds always are
        torch.testing.assert_close(prepared(q3, *targets), expected, rtol=1e-13, atol=1e-300)
        torch.testing.assert_close(prepared(q3, onehot3), expected, rtol=1e-13, atol=1e-300)
