"""The built-in losses: the eight under study and the zoo of published losses, with their papers'
constants, registered on import (losses with parameters through their factories and constraints), and
the named sets of :data:`~mixbench.losses.registry.LOSS_SETS`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from mixbench.losses.forms import ProbForm, PTrueForm
from mixbench.losses.loss import Loss
from mixbench.losses.parameters import Interval
from mixbench.losses.registry import LOSS_SETS, register_loss, register_loss_factory, seal_built_in_losses
from mixbench.losses.schedules import FocusSchedule
from mixbench.protocol import PROTOCOL


# --- closed forms of the zoo ----------------------------------------------------------------------------
# Module-level functions bound with functools.partial, so that every Loss pickles (joblib workers, a
# pickled MixLossClassifier).
def _gce_value(logp_y: Tensor, q: float) -> Tensor:
    return -torch.expm1(q * logp_y) / q  # (1 - p_y^q) / q


def _gce_weight(logp_y: Tensor, q: float) -> Tensor:
    return torch.exp(q * logp_y)  # g = p_y^q


def _tamed_value(logp_y: Tensor, alpha: float) -> Tensor:
    # ((1 + CE)^(1 - alpha) - 1) / (1 - alpha) with CE = -log p_y
    return torch.expm1((1.0 - alpha) * torch.log1p(-logp_y)) / (1.0 - alpha)


def _tamed_weight(logp_y: Tensor, alpha: float) -> Tensor:
    return torch.pow(1.0 - logp_y, -alpha)  # g = (1 + CE)^-alpha


def _taylor_value(logp_y: Tensor, t: int) -> Tensor:
    u = -torch.expm1(logp_y)  # 1 - p_y
    out, power = u, u
    for k in range(2, t + 1):
        power = power * u
        out = out + power / k
    return out


def _taylor_weight(logp_y: Tensor, t: int) -> Tensor:
    # g = p_y sum_{k<t} (1 - p_y)^k = 1 - (1 - p_y)^t (the geometric sum)
    return torch.rsub(torch.expm1(logp_y).neg_().pow_(t), 1.0)


def _softmax_and_true(q: Tensor, onehot: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    logp = torch.log_softmax(q, dim)
    return logp, (logp * onehot).sum(dim, keepdim=True)


def _ls_value(q: Tensor, onehot: Tensor, dim: int, eps: float) -> Tensor:
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    return -((1.0 - eps) * logp_y + eps / q.shape[dim] * logp.sum(dim, keepdim=True)).squeeze(dim)


def _ls_grad(q: Tensor, onehot: Tensor, dim: int, eps: float) -> Tensor:
    # p - t with the smoothed target t = (1 - eps) onehot + eps / C
    return torch.softmax(q, dim).sub_(onehot, alpha=1.0 - eps).sub_(eps / q.shape[dim])


def _brier_value(q: Tensor, onehot: Tensor, dim: int) -> Tensor:
    return (torch.softmax(q, dim) - onehot).square().sum(dim)


def _brier_grad(q: Tensor, onehot: Tensor, dim: int) -> Tensor:
    # d/dq_k sum_c (p_c - y_c)^2 = 2 p_k ((p_k - y_k) - sum_c p_c (p_c - y_c))
    p = torch.softmax(q, dim)
    pe = p * (p - onehot)
    return pe.sub_(p * pe.sum(dim, keepdim=True)).mul_(2.0)


_RCE_A = 4.0  # -A with A = log 0 := -4, the constant of Wang et al. 2019 (RCE = -A (1 - p_y))


def _nce_rce_value(q: Tensor, onehot: Tensor, dim: int, alpha: float, beta: float) -> Tensor:
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    nce = logp_y / logp.sum(dim, keepdim=True)
    return (alpha * nce - beta * _RCE_A * torch.expm1(logp_y)).squeeze(dim)


def _nce_rce_grad(q: Tensor, onehot: Tensor, dim: int, alpha: float, beta: float) -> Tensor:
    # NCE = a / b with a = -log p_y, b = -sum_c log p_c: da/dq = p - y, db/dq = C p - 1
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    p = logp.exp()
    a, b = -logp_y, -logp.sum(dim, keepdim=True)
    diff = p - onehot
    nce = (diff * b - a * (q.shape[dim] * p - 1.0)) / b.square()
    return alpha * nce + (beta * _RCE_A) * logp_y.exp() * diff


def _mpce_value(q: Tensor, onehot: Tensor, dim: int) -> Tensor:
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    top = logp.amax(dim, keepdim=True).exp()
    return ((top - logp_y.exp()) * -logp_y).squeeze(dim)


def _mpce_grad(q: Tensor, onehot: Tensor, dim: int) -> Tensor:
    # L = -(m - p_y) log p_y with m = max_j p_j = p_j*: dm/dq = m (e_j* - p), dp_y/dq = p_y (y - p)
    logp, logp_y = _softmax_and_true(q, onehot, dim)
    p = logp.exp()
    top_log, top_index = logp.max(dim, keepdim=True)
    top_onehot = torch.zeros_like(p).scatter_(dim, top_index, 1.0)
    m, p_y = top_log.exp(), logp_y.exp()
    return -logp_y * (m * (top_onehot - p) - p_y * (onehot - p)) + (m - p_y) * (p - onehot)


# --- the built-in losses ----------------------------------------------------------------------------------
#: The eight configurations under study, by the names used in every table.
STANDARD_LOSSES = PROTOCOL.losses

#: Output Reset margin: the paper's constants are not public; 0.1 is this reconstruction's default.
OUTPUT_RESET_MARGIN = 0.1

_REFERENCE = "Battash, Hazan & Wolf, 'Mixing between the cross entropy and the expectation loss terms'"
_OUTPUT_RESET = "Tyagi et al. 2024, 'Making sigmoid-MSE great again' (arXiv 2411.11213)"

for _loss in (
    Loss("CE", {"ce": 1.0}, description="cross-entropy -log p_y", source="the standard baseline"),
    Loss(
        "CE+EL F=0",
        schedule=FocusSchedule((0.0,)),
        description="CE + EL throughout (a = b = 1)",
        source=_REFERENCE,
    ),
    Loss(
        "CE+EL F=0,0.5",
        schedule=FocusSchedule((0.0, 0.5), first_share=1.9),
        description="CE + EL for the first floor(0.95 N) epochs, then EL alone",
        source=_REFERENCE,
    ),
    Loss(
        "CE+EL F=0-0.5",
        schedule=FocusSchedule((0.0, 0.1, 0.2, 0.3, 0.4, 0.5)),
        description="focus F = 0, .1, .2, .3, .4, .5 in six phases: CE + EL/(1-2F), EL alone at the end",
        source=_REFERENCE,
    ),
    Loss("EL", {"el": 1.0}, description="expectation loss 1 - p_y", source=_REFERENCE),
):
    register_loss(_loss)


def _focal(name: str, alpha: float, gamma: float) -> Loss:
    return Loss(
        name,
        {"focal_alpha": alpha, "focal_gamma": gamma},
        description=f"softmax focal loss -{alpha:g} (1 - p_y)^{gamma:g} log p_y",
        source="Lin et al. 2017, 'Focal loss for dense object detection' (constants of the reference study)",
    )


def _sigmoid_mse(name: str, margin: float) -> Loss:
    if margin == 0:
        plain = "sum_c (sigmoid(q_c) - onehot_c)^2"
        return Loss(name, {"sigmoid": 1.0}, description=plain, source=_OUTPUT_RESET)
    return Loss(
        name,
        {"sigmoid": 1.0, "margin": margin},
        description=f"sum_c (sigmoid(q_c) - t_c)^2, targets 1-m / m (m = {margin:g}), no Output Reset: "
        "the control for Sigmoid-MSE+OR",
        source=_OUTPUT_RESET,
    )


def _output_reset(name: str, margin: float) -> Loss:
    return Loss(
        name,
        {"sigmoid": 1.0, "margin": margin, "reset": 1.0},
        description=f"sigmoid-MSE with targets 1-m / m (m = {margin:g}) and Output Reset",
        source=_OUTPUT_RESET + "; a reconstruction: the paper's constants are not public",
    )


def _poly1(name: str, eps: float) -> Loss:
    return Loss(
        name,
        {"ce": 1.0, "el": eps},
        description=f"Poly-1: CE + {eps:g} (1 - p_y)",
        source="Leng et al. 2022, 'PolyLoss: a polynomial expansion perspective of classification loss "
        "functions' (ICLR), eps = 1",
    )


def _sce(name: str, alpha: float, beta: float) -> Loss:
    return Loss(
        name,
        {"ce": alpha, "el": beta * _RCE_A},
        description=f"symmetric CE: {alpha:g} CE + {beta:g} RCE, RCE = -A (1 - p_y) with A = log 0 := -4",
        source="Wang et al. 2019, 'Symmetric cross entropy for robust learning with noisy labels' (ICCV), "
        "CIFAR-10 constants alpha = 0.1, beta = 1, A = -4 as the paper's text; the authors' code "
        "(YisenWang/symmetric_cross_entropy_for_noisy_labels, loss.py) clamps the one-hot at 1e-4, so the "
        "RCE they trained is 9.21 (1 - p_y): see docs/research/zoo-sources.md",
    )


def _mae(name: str) -> Loss:
    return Loss(
        name,
        {"el": 2.0},
        description="mean absolute error sum_c |p_c - onehot_c| = 2 (1 - p_y) (twice EL)",
        source="Ghosh, Kumar & Sastry 2017, 'Robust loss functions under label noise for deep neural "
        "networks' (AAAI)",
    )


def _gce(name: str, q: float) -> Loss:
    return Loss(
        name,
        p_true=PTrueForm(partial(_gce_value, q=q), partial(_gce_weight, q=q)),
        description=f"generalized CE L_q = (1 - p_y^q) / q, q = {q:g}",
        source="Zhang & Sabuncu 2018, 'Generalized cross entropy loss for training deep neural networks "
        "with noisy labels' (NeurIPS), q = 0.7",
    )


def _tamed(name: str, alpha: float) -> Loss:
    return Loss(
        name,
        p_true=PTrueForm(partial(_tamed_value, alpha=alpha), partial(_tamed_weight, alpha=alpha)),
        description=f"tamed CE ((1 + CE)^(1-a) - 1) / (1 - a), a = {alpha:g}: dL/dCE = (1 + CE)^-a",
        source="Martinez & Stiefelhagen 2018, 'Taming the cross entropy loss' (GCPR), as written in the "
        "reference study's eq. 4 (up to its constant offset); a = 0.5 is mixbench's choice: the paper's "
        "definition and constant could not be checked here and no code of the authors was found",
    )


def _taylor(name: str, t: float) -> Loss:
    t = int(t)
    return Loss(
        name,
        p_true=PTrueForm(partial(_taylor_value, t=t), partial(_taylor_weight, t=t)),
        description=f"Taylor CE sum_(k=1..{t}) (1 - p_y)^k / k (CE's series cut at order t = {t})",
        source="Feng et al. 2020, 'Can cross entropy loss be robust to label noise?' (IJCAI), t = 2, the "
        "smallest order of the paper's search over 2..6; its per-dataset choice was not found, nor code",
    )


def _mpce(name: str) -> Loss:
    return Loss(
        name,
        probs=ProbForm(_mpce_value, _mpce_grad),
        description="MPCE -(max_j p_j - p_y) log p_y (no gradient once the true class is the argmax)",
        source="Zhou et al. 2019, 'MPCE: a maximum probability based cross entropy loss function for "
        "neural network classification' (IEEE Access), as written in the reference study's eq. 7; not "
        "checked against the original paper, whose text and code could not be found here",
    )


def _nce_rce(name: str, alpha: float, beta: float) -> Loss:
    return Loss(
        name,
        probs=ProbForm(
            partial(_nce_rce_value, alpha=alpha, beta=beta), partial(_nce_rce_grad, alpha=alpha, beta=beta)
        ),
        description=f"{alpha:g} NCE + {beta:g} RCE, NCE = log p_y / sum_c log p_c, RCE = 4 (1 - p_y)",
        source="Ma et al. 2020, 'Normalized loss functions for deep learning with noisy labels' (ICML), "
        "CIFAR-10 constants alpha = beta = 1 (HanxunH/Active-Passive-Losses, configs/cifar10/sym/"
        "nce+rce.yaml); the code's RCE is 9.21 (1 - p_y), not 4 (1 - p_y): see docs/research/zoo-sources.md",
    )


def _label_smoothing(name: str, eps: float) -> Loss:
    return Loss(
        name,
        probs=ProbForm(partial(_ls_value, eps=eps), partial(_ls_grad, eps=eps)),
        description=f"CE against the smoothed target (1 - e) onehot + e / C, e = {eps:g}",
        source="Szegedy et al. 2016, 'Rethinking the Inception architecture for computer vision' (CVPR), "
        "e = 0.1",
    )


def _brier(name: str) -> Loss:
    return Loss(
        name,
        probs=ProbForm(_brier_value, _brier_grad),
        description="Brier score sum_c (p_c - onehot_c)^2 (softmax MSE)",
        source="Brier 1950, 'Verification of forecasts expressed in terms of probability'",
    )


def _sigmoid_mse_mean(name: str) -> Loss:
    return Loss(
        name,
        {"sigmoid": 1.0, "class_mean": 1.0},
        description="(1/C) sum_c (sigmoid(q_c) - onehot_c)^2: PyTorch's MSELoss mean, a step C times smaller",
        source=_OUTPUT_RESET + " (their sigmoid-MSE baseline as PyTorch's MSELoss computes it)",
    )


_POSITIVE = Interval(0.0, None, closed="neither")
_NON_NEGATIVE = Interval(0.0, None, closed="left")
_MARGIN = Interval(0.0, 0.5, closed="left")  # targets 1 - m above m: the true class stays the higher one

#: The parameterised losses: base name -> (default parameters, builder, valid values of each parameter).
#: The constraints (scikit-learn's ``_parameter_constraints``) come from each loss's definition and are
#: checked where a name such as ``GCE(q=0.5)`` is parsed, before the loss is built.
_FACTORY_TABLE: dict[str, tuple[dict[str, float], Callable[..., Loss], dict[str, Interval]]] = {
    # alpha scales the loss (<= 0: nothing or the wrong way to learn); gamma >= 0 (0 is CE)
    "Focal": ({"alpha": 0.25, "gamma": 2.0}, _focal, {"alpha": _POSITIVE, "gamma": _NON_NEGATIVE}),
    "Sigmoid-MSE": ({"margin": 0.0}, _sigmoid_mse, {"margin": _MARGIN}),
    "Sigmoid-MSE+OR": ({"margin": OUTPUT_RESET_MARGIN}, _output_reset, {"margin": _MARGIN}),
    "MAE": ({}, _mae, {}),
    # L_q = (1 - p^q) / q: q -> 0 is CE (0 itself divides by 0), q = 1 is MAE's 1 - p_y
    "GCE": ({"q": 0.7}, _gce, {"q": Interval(0.0, 1.0, closed="right")}),
    # ((1 + CE)^(1-a) - 1) / (1 - a): a = 0 is CE, a = 1 divides by 0, a > 1 makes the loss bounded above
    "Tamed CE": ({"alpha": 0.5}, _tamed, {"alpha": Interval(0.0, 1.0, closed="left")}),
    "MPCE": ({}, _mpce, {}),
    # alpha CE + beta RCE with both weights positive (Wang et al.)
    "SCE": ({"alpha": 0.1, "beta": 1.0}, _sce, {"alpha": _POSITIVE, "beta": _POSITIVE}),
    # alpha NCE + beta RCE, alpha, beta > 0 (Ma et al.'s active-passive loss)
    "NCE+RCE": ({"alpha": 1.0, "beta": 1.0}, _nce_rce, {"alpha": _POSITIVE, "beta": _POSITIVE}),
    # the order of CE's Taylor series: a whole number of terms, at least one
    "Taylor CE": ({"t": 2}, _taylor, {"t": Interval(1, None, closed="left", integer=True)}),
    # CE + eps (1 - p_y): eps >= -1 keeps the loss decreasing in p_y (Leng et al.)
    "Poly-1": ({"eps": 1.0}, _poly1, {"eps": Interval(-1.0, None, closed="left")}),
    # target (1 - e) onehot + e / C: e = 1 is the uniform target, which carries no label
    "LS": ({"eps": 0.1}, _label_smoothing, {"eps": Interval(0.0, 1.0, closed="left")}),
    "Brier": ({}, _brier, {}),
    "Sigmoid-MSE mean": ({}, _sigmoid_mse_mean, {}),
}
for _base, (_defaults, _build, _constraints) in _FACTORY_TABLE.items():
    register_loss_factory(_base, _defaults, _build, _constraints)

#: Published baselines beyond the standard eight, with their papers' constants.
ZOO_LOSSES = ("MAE", "GCE", "Tamed CE", "MPCE", "SCE", "NCE+RCE", "Taylor CE", "Poly-1", "LS", "Brier")
#: The Output Reset controls: the margin without the reset, and sigmoid-MSE averaged over the classes.
OUTPUT_RESET_CONTROLS = (f"Sigmoid-MSE(margin={OUTPUT_RESET_MARGIN:g})", "Sigmoid-MSE mean")

# The losses registered so far are mixbench's own: no user loss replaces them (:func:`register_loss`).
seal_built_in_losses()

# Named sets for ``--losses``; each holds CE, the baseline every table compares with.
LOSS_SETS.update(
    {
        "standard": STANDARD_LOSSES,
        "zoo": STANDARD_LOSSES + ZOO_LOSSES + OUTPUT_RESET_CONTROLS,
        "published": ("CE", "Focal", *ZOO_LOSSES),
        "robust": ("CE", "MAE", "GCE", "Tamed CE", "SCE", "NCE+RCE", "Taylor CE"),
        "output-reset": (
            "CE",
            "Sigmoid-MSE",
            "Sigmoid-MSE mean",
            *OUTPUT_RESET_CONTROLS[:1],
            "Sigmoid-MSE+OR",
        ),
    }
)
