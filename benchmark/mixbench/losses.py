"""Losses and schedules.

Every loss works on logits ``q`` (batch x C) and integer targets ``y``; ``p = softmax(q)`` and ``p_y`` is
its true-class entry.

The built-in losses belong to two closed-form families, so that a whole bank of models with different
losses can be trained with one set of tensor operations (see :mod:`mixbench.engine`):

softmax family
    ``L = a * CE + b * EL + alpha * (1 - p_y)**gamma * CE`` with ``CE = -log p_y`` and ``EL = 1 - p_y``.
    Its gradient w.r.t. the logits is ``g(p_y) * (p - onehot(y))`` with the scalar
    ``g = a + b p_y + alpha [(1 - p_y)**gamma - gamma p_y (1 - p_y)**(gamma - 1) log p_y]``.
    CE, EL, the scheduled CE+EL mixtures and the softmax focal loss are members.
sigmoid family
    ``L = sum_c (s_c - t_c)**2`` with ``s = sigmoid(q)``, targets ``1 - m`` (true class) and ``m`` (others),
    and, with Output Reset, targets reset to the output where the output is already beyond its target on
    the correct side (true class ``t' = max(t, s)``, others ``t' = min(t, s)``). Gradient
    ``2 (s - t') s (1 - s)``, with ``t'`` held constant as the reset is done before the update.

A loss whose coefficients change over epochs (the mixtures) carries a :class:`FocusSchedule`.
User losses can be added by name with :func:`register_loss`; they are trained with autograd.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mixbench.protocol import PROTOCOL

# Coefficient names of the closed-form families. A loss gives all of them (missing ones are 0).
COEFFICIENTS = ("ce", "el", "focal_alpha", "focal_gamma", "sigmoid", "margin", "reset")


# --- schedules ----------------------------------------------------------------------------------------
def mixture_weights(focus: float) -> tuple[float, float]:
    """Weights ``(a, b)`` of ``a * CE + b * EL`` for a focus value ``F`` in [0, 0.5].

    ``F < 0.5`` gives ``a = 1, b = 1 / (1 - 2F)``; ``F = 0.5`` gives EL alone (``a = 0, b = 1``). The
    magnitude of ``dL/dq_y`` then peaks at ``p_y = 0.5 (1 - a / b) = F``.
    """
    if not 0.0 <= focus <= 0.5:
        raise ValueError(f"focus F must lie in [0, 0.5], got {focus}")
    if focus == 0.5:
        return 0.0, 1.0
    return 1.0, 1.0 / (1.0 - 2.0 * focus)


@dataclass(frozen=True)
class FocusSchedule:
    """Focus values ``F`` in phases over the epochs of a run (the reference study's rule).

    With ``K`` focus values over ``N`` epochs the first phase lasts ``floor(N * first_share / K)`` epochs
    (``f``) and the remaining ``N - f`` epochs are split evenly among the other ``K - 1`` phases: epoch
    ``e >= f`` is in phase ``1 + floor((e - f) * (K - 1) / (N - f))``.

    With fewer epochs than phases some phases get no epoch at all (for ``F=0-0.5`` and ``N < 6`` the first
    phase, ``F = 0``, is empty, and for ``N < 5`` later ones too, ``F = 0.5`` among them); :meth:`table`
    shows what a given ``N`` does, :meth:`skipped_values` lists the focus values that get no epoch, and
    :meth:`Loss.check_epochs` warns about them.
    """

    values: tuple[float, ...]
    first_share: float = 1.0

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a FocusSchedule needs at least one focus value")
        for v in self.values:
            mixture_weights(v)  # validates the range

    def first_phase_length(self, n_epochs: int) -> int:
        return int(n_epochs * self.first_share // len(self.values))

    def phase(self, epoch: int, n_epochs: int) -> int:
        """Index of the phase that ``epoch`` (0-based) of ``n_epochs`` is in."""
        if not 0 <= epoch < n_epochs:
            raise ValueError(f"epoch {epoch} outside 0..{n_epochs - 1}")
        k = len(self.values)
        first = self.first_phase_length(n_epochs)
        if k == 1 or epoch < first:
            return 0
        # Integer arithmetic: (e - f) / ((N - f) / (K - 1)) without float rounding at phase borders.
        return min(k - 1, 1 + (epoch - first) * (k - 1) // (n_epochs - first))

    def focus(self, epoch: int, n_epochs: int) -> float:
        return self.values[self.phase(epoch, n_epochs)]

    def table(self, n_epochs: int) -> list[tuple[int, int, float]]:
        """Phases as ``(first_epoch, last_epoch, F)`` for ``n_epochs``; empty phases are left out."""
        rows: list[tuple[int, int, float]] = []
        for e in range(n_epochs):
            f = self.focus(e, n_epochs)
            if rows and rows[-1][2] == f and rows[-1][1] == e - 1:
                rows[-1] = (rows[-1][0], e, f)
            else:
                rows.append((e, e, f))
        return rows

    def skipped_values(self, n_epochs: int) -> list[float]:
        """Focus values that get no epoch with ``n_epochs`` epochs."""
        seen = {self.phase(e, n_epochs) for e in range(n_epochs)}
        return [v for i, v in enumerate(self.values) if i not in seen]


# --- the two closed-form families, vectorised over any leading shape -------------------------------------
def _log_softmax_y(q: Tensor, onehot: Tensor, dim: int = -1) -> tuple[Tensor, Tensor]:
    """``log p`` and ``log p_y`` (size 1 along ``dim``, the class axis). log_softmax shifts by the max
    first, which keeps float32 exact to rounding even for logits of 1e4 (``q_y - logsumexp(q)`` would not)."""
    logp = torch.log_softmax(q, dim=dim)
    return logp, (logp * onehot).sum(dim, keepdim=True)


def _focal_factor(logp_y: Tensor, gamma: Tensor | float) -> Tensor:
    # 1 - p_y as -expm1(log p_y) keeps precision when p_y is close to 1.
    return (-torch.expm1(logp_y)).clamp_min(0.0).pow(gamma)


def sigmoid_targets(onehot: Tensor, margin: float | Tensor = 0.0, reset: bool = False) -> tuple:
    """Per-row constants of the sigmoid family: the target ``t`` and, with Output Reset, its bounds.

    ``t = m + (1 - 2m) onehot``. Output Reset's correction of the error ``err = s - t`` is
    ``reset * sign * relu(sign * err)`` with ``sign = 2 onehot - 1``, which equals ``reset * clamp(err, low,
    high)`` with ``low, high = 0, inf`` for the true class and ``-inf, 0`` for the others: one clamp
    instead of three products. Returns ``(t, low, high)``; the bounds are None without reset.
    """
    target = torch.addcmul(_as_coef(margin), onehot, _as_coef(1.0 - 2.0 * margin))
    return (target, *_reset_bounds(onehot)) if reset else (target, None, None)


def _reset_bounds(onehot: Tensor) -> tuple[Tensor, Tensor]:
    """Output Reset's clamp bounds (see :func:`sigmoid_targets`)."""
    true_class = onehot > 0.5
    low = torch.zeros_like(onehot).masked_fill_(~true_class, -torch.inf)
    high = torch.zeros_like(onehot).masked_fill_(true_class, torch.inf)
    return low, high


def _sigmoid_error(s: Tensor, reset, target: Tensor, low: Tensor | None, high: Tensor | None) -> Tensor:
    """``s - t'``: the sigmoid-MSE error after Output Reset (``reset`` = 0 keeps the plain error).

    An output beyond its target on the correct side (the true class above ``1 - m``, another class below
    ``m``) gets the output itself as target, so no error (see :func:`sigmoid_targets`).
    """
    err = s - target
    if low is None or (isinstance(reset, float | int) and reset == 0):
        return err
    beyond = err.clamp(low, high)
    if isinstance(reset, float | int):
        return err.sub(beyond, alpha=reset)
    return torch.addcmul(err, beyond, reset, value=-1.0)


def _as_coef(v) -> Tensor:
    """A coefficient as a tensor. Numbers become 0-dim float64 tensors: exact for float64 logits, and
    (being 0-dim) they do not promote float32 logits."""
    return v if isinstance(v, Tensor) else torch.tensor(float(v), dtype=torch.float64)


def family_loss(q: Tensor, onehot: Tensor, coef: dict, dim: int = -1) -> Tensor:
    """Per-sample loss of the closed-form families.

    Parameters
    ----------
    q : Tensor of shape (..., C)
        Logits; ``dim`` names the class axis if it is not the last.
    onehot : Tensor broadcastable to q
        One-hot targets (float).
    coef : dict
        Values for :data:`COEFFICIENTS` (floats or tensors broadcastable to ``q`` with size 1 along the
        class axis); a missing key is 0. Terms whose coefficients are the float 0 are skipped.
    dim : int
        The class axis.

    Returns
    -------
    Tensor of q's shape without the class axis
    """
    out = torch.zeros_like(q.select(dim, 0))
    if _present(coef, "ce", "el", "focal_alpha"):
        _, logp_y = _log_softmax_y(q, onehot, dim)
        ce = -logp_y
        # EL = 1 - p_y as -expm1(log p_y): ``1 - exp(.)`` rounds up near p_y = 1 and then exceeds CE.
        val = coef.get("ce", 0.0) * ce + coef.get("el", 0.0) * (-torch.expm1(logp_y))
        if _present(coef, "focal_alpha"):
            val = val + coef["focal_alpha"] * _focal_factor(logp_y, coef.get("focal_gamma", 2.0)) * ce
        out = out + val.squeeze(dim)
    if _present(coef, "sigmoid"):
        reset = coef.get("reset", 0.0)
        targets = sigmoid_targets(onehot, coef.get("margin", 0.0), reset=_present(coef, "reset"))
        err = _sigmoid_error(torch.sigmoid(q), reset, *targets)
        out = out + (coef["sigmoid"] * err.square()).sum(dim)
    return out


def family_grad(q: Tensor, onehot: Tensor, coef: dict, scale: float = 1.0, dim: int = -1) -> Tensor:
    """Closed-form ``scale * d family_loss / d q``, same shapes as :func:`family_loss`.

    ``scale`` (e.g. ``1 / batch_size`` for a batch mean) is folded into the per-model factors.
    """
    return FamilyGrad(coef, scale, dim)(q, onehot)


class FamilyGrad:
    """``scale * d family_loss / d q`` with the coefficients prepared once (per epoch in the engine).

    The engine calls this once per SGD step for a whole bank of models, where the cost is the number of
    tensor operations rather than their size, so everything that does not depend on the batch (products
    of coefficients and scale, which terms are on) is computed here in ``__init__``, and what depends only
    on the targets can be computed once for many batches with :meth:`targets`.

    ``scale`` multiplies the gradient weights (``ce``, ``el``, ``focal_alpha``, ``sigmoid``); it may be a
    tensor of per-model factors (the engine folds each model's learning rate and ``1 / batch_size`` in).
    ``dim`` is the class axis of the logits.
    """

    def __init__(self, coef: dict, scale: float | Tensor = 1.0, dim: int = -1):
        self.dim = dim
        self.softmax = _present(coef, "ce", "el", "focal_alpha")
        self.focal = _present(coef, "focal_alpha")
        self.sigmoid = _present(coef, "sigmoid")
        self.reset = self.sigmoid and _present(coef, "reset")
        self.gamma = coef.get("focal_gamma", 2.0)
        self.gamma_is_number = isinstance(self.gamma, float | int)
        self.gamma_is_two = self.gamma_is_number and self.gamma == 2.0
        # Plain numbers become 0-dim float64 tensors so every coefficient works in addcmul alike: a 0-dim
        # tensor does not set the result dtype (float32 logits stay float32), but a float32 one would round
        # 5/3, 0.1, ... and leave float64 gradients with float32 accuracy.
        weight = {k: _as_coef(coef.get(k, 0.0)) * scale for k in ("ce", "el", "focal_alpha", "sigmoid")}
        self.ce, self.el, self.alpha = weight["ce"], weight["el"], weight["focal_alpha"]
        self.w_sig = 2.0 * weight["sigmoid"]
        # 1 as a 0-dim tensor: ``one - t`` with a Python number costs twice as much per call (scalar wrapping)
        self.one = torch.ones((), dtype=scale.dtype if isinstance(scale, Tensor) else torch.float64)
        self.margin = coef.get("margin", 0.0)
        self.target_base, self.target_span = _as_coef(self.margin), _as_coef(1.0 - 2.0 * self.margin)
        self.reset_coef = coef.get("reset", 0.0) if self.reset else 0.0

    def targets(self, onehot: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
        """``(onehot, sigmoid target, reset low, reset high)`` for :meth:`__call__`, computed once for many
        rows (the engine does it per epoch and slices batches from them). Entries this loss set does not
        need are None; so is the target when the margin differs between models (it would have a copy of
        the rows per model)."""
        if not self.sigmoid:
            return onehot, None, None, None
        bounds = _reset_bounds(onehot) if self.reset else (None, None)
        if isinstance(self.margin, Tensor):
            return onehot, None, *bounds
        return onehot, sigmoid_targets(onehot, self.margin)[0], *bounds

    def __call__(
        self, q: Tensor, onehot: Tensor, target: Tensor | None = None, low=None, high=None
    ) -> Tensor:
        """Gradient for logits ``q``; ``target, low, high`` as from :meth:`targets` (computed if None)."""
        d = self.dim
        grad = None
        if self.softmax:
            logp, logp_y = _log_softmax_y(q, onehot, d)
            p_y = logp_y.exp()
            g = torch.addcmul(self.ce, self.el, p_y)
            if self.focal:
                # d/dq of -alpha u^gamma log p_y (u = 1 - p_y) is alpha u^(gamma-1) (u - gamma p_y log p_y)
                # times (p - onehot). The clamp keeps u^(gamma-1) finite at u = 0 when gamma < 1.
                u = torch.sub(self.one, p_y)
                p_log_p = p_y * logp_y
                if self.gamma_is_number:
                    inner = torch.sub(u, p_log_p, alpha=self.gamma)
                else:
                    inner = torch.addcmul(u, p_log_p, self.gamma, value=-1.0)
                factor = u if self.gamma_is_two else u.clamp_min(1e-30).pow(self.gamma - 1.0)
                g = torch.addcmul(g, inner.mul_(factor), self.alpha)
            grad = logp.exp_().sub_(onehot).mul_(g)
        if self.sigmoid:
            if target is None:
                target = torch.addcmul(self.target_base, onehot, self.target_span)
            if self.reset and low is None:
                low, high = _reset_bounds(onehot)
            s = torch.sigmoid(q)
            err = _sigmoid_error(s, self.reset_coef, target, low, high)
            # err * s * (1 - s) in one kernel: the derivative of the sigmoid times the error
            slope_err = torch.ops.aten.sigmoid_backward(err, s)
            grad = slope_err.mul_(self.w_sig) if grad is None else grad.addcmul_(slope_err, self.w_sig)
        return torch.zeros_like(q) if grad is None else grad


def _present(coef: dict, *keys: str) -> bool:
    """Whether any of the terms is switched on (a tensor coefficient always counts as on)."""
    return any(not (isinstance(coef.get(k, 0.0), float | int) and coef.get(k, 0.0) == 0) for k in keys)


# --- losses and their registry ------------------------------------------------------------------------
@dataclass(frozen=True)
class Loss:
    """A named classification loss.

    Built-in losses set ``coefficients`` (closed-form families, fast in the engine); user losses set
    ``function(logits (B, C), targets (B,)) -> per-sample losses (B,)`` and are trained with autograd.
    A ``schedule`` makes the CE/EL mixture weights change with the epoch.
    """

    name: str
    coefficients: dict = field(default_factory=dict)
    schedule: FocusSchedule | None = None
    function: Callable[[Tensor, Tensor], Tensor] | None = None
    description: str = ""

    @property
    def closed_form(self) -> bool:
        return self.function is None

    def coefficients_at(self, epoch: int = 0, n_epochs: int = 1) -> dict:
        """All :data:`COEFFICIENTS` for ``epoch`` of ``n_epochs`` (schedules resolved)."""
        coef = {k: 0.0 for k in COEFFICIENTS}
        coef["focal_gamma"] = 2.0
        coef.update({k: float(v) for k, v in self.coefficients.items()})
        if self.schedule is not None:
            coef["ce"], coef["el"] = mixture_weights(self.schedule.focus(epoch, n_epochs))
        return coef

    def per_sample(self, logits: Tensor, targets: Tensor, epoch: int = 0, n_epochs: int = 1) -> Tensor:
        """Per-sample loss, shape (B,), for logits (B, C) and integer targets (B,)."""
        if self.function is not None:
            return self.function(logits, targets)
        onehot = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        return family_loss(logits, onehot, self.coefficients_at(epoch, n_epochs))

    def grad(self, logits: Tensor, targets: Tensor, epoch: int = 0, n_epochs: int = 1) -> Tensor:
        """Gradient of the batch-mean loss w.r.t. the logits, shape (B, C) (closed form, or autograd)."""
        if self.function is None:
            onehot = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
            coef = self.coefficients_at(epoch, n_epochs)
            return family_grad(logits, onehot, coef, scale=1.0 / logits.shape[0])
        # enable_grad: the engine may call this inside torch.no_grad(), where nothing would be recorded.
        with torch.enable_grad():
            q = logits.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.function(q, targets).mean(), q)
        return g

    def check_epochs(self, n_epochs: int, stacklevel: int = 2) -> None:
        """Warn when ``n_epochs`` is too short for every phase of this loss's schedule.

        ``stacklevel`` as in :func:`warnings.warn`, counted from the caller of this method.
        """
        if self.schedule is not None:
            skipped = self.schedule.skipped_values(n_epochs)
            if skipped:
                warnings.warn(
                    f"loss {self.name!r}: with {n_epochs} epochs the focus values {skipped} get no epoch "
                    f"(phases: {self.schedule.table(n_epochs)})",
                    stacklevel=stacklevel + 1,
                )


_REGISTRY: dict[str, Loss] = {}


def register_loss(loss: Loss | str, function: Callable | None = None, *, replace: bool = False) -> Loss:
    """Add a loss to the registry so it can be named in runs, the CLI and the estimator.

    ``register_loss(Loss(...))`` or ``register_loss("MyLoss", fn)`` with
    ``fn(logits (B, C), targets (B,)) -> per-sample losses (B,)`` (differentiable with autograd).
    """
    if isinstance(loss, str):
        if function is None:
            raise TypeError("register_loss(name, function): the function is missing")
        loss = Loss(name=loss, function=function)
    if loss.name in _REGISTRY and not replace:
        raise ValueError(f"a loss named {loss.name!r} is already registered; pass replace=True")
    _REGISTRY[loss.name] = loss
    return loss


def get_loss(name: str | Loss) -> Loss:
    """The registered loss called ``name``; ``package.module:attribute`` imports a user loss first.

    The attribute may be a :class:`Loss` or a per-sample function (registered under the attribute name).
    """
    if isinstance(name, Loss):
        return name
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            obj = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise KeyError(f"cannot import loss {name!r}: {exc}") from exc
        if not isinstance(obj, Loss) and not callable(obj):
            raise TypeError(
                f"loss {name!r} is a {type(obj).__name__}; give a Loss or a function "
                "(logits (B, C), targets (B,)) -> per-sample losses (B,)"
            )
        loss = obj if isinstance(obj, Loss) else Loss(name=attr, function=obj)
        existing = _REGISTRY.get(loss.name)
        if existing is None:
            return register_loss(loss)
        if existing == loss:  # the same object imported again (or registered by the module itself)
            return existing
        # Never hand back a different loss that merely shares the name (e.g. a.py:my_loss, b.py:my_loss).
        raise ValueError(
            f"{name!r} gives a loss named {loss.name!r}, but a different loss of that name is already "
            "registered; rename the attribute or the Loss"
        )
    known = ", ".join(repr(n) for n in available_losses())
    raise KeyError(f"unknown loss {name!r}; known: {known} (or give module:attr)")


def available_losses() -> list[str]:
    return list(_REGISTRY)


def resolve_losses(names: Sequence[str | Loss]) -> list[Loss]:
    losses = [get_loss(n) for n in names]
    dup = {ls.name for ls in losses if sum(o.name == ls.name for o in losses) > 1}
    if dup:
        raise ValueError(f"loss listed twice: {sorted(dup)}")
    return losses


#: The eight configurations under study, by the names used in every table.
STANDARD_LOSSES = PROTOCOL.losses

#: Output Reset margin: the paper's constants are not public; 0.1 is this reconstruction's default.
OUTPUT_RESET_MARGIN = 0.1

for _loss in (
    Loss("CE", {"ce": 1.0}, description="cross-entropy -log p_y"),
    Loss("CE+EL F=0", schedule=FocusSchedule((0.0,)), description="CE + EL throughout (a = b = 1)"),
    Loss(
        "CE+EL F=0,0.5",
        schedule=FocusSchedule((0.0, 0.5), first_share=1.9),
        description="CE + EL for the first floor(0.95 N) epochs, then EL alone",
    ),
    Loss(
        "CE+EL F=0-0.5",
        schedule=FocusSchedule((0.0, 0.1, 0.2, 0.3, 0.4, 0.5)),
        description="focus F = 0, .1, .2, .3, .4, .5 in six phases: CE + EL/(1-2F), EL alone at the end",
    ),
    Loss("EL", {"el": 1.0}, description="expectation loss 1 - p_y"),
    Loss(
        "Focal",
        {"focal_alpha": 0.25, "focal_gamma": 2.0},
        description="softmax focal loss -0.25 (1 - p_y)^2 log p_y",
    ),
    Loss("Sigmoid-MSE", {"sigmoid": 1.0}, description="sum_c (sigmoid(q_c) - onehot_c)^2"),
    Loss(
        "Sigmoid-MSE+OR",
        {"sigmoid": 1.0, "margin": OUTPUT_RESET_MARGIN, "reset": 1.0},
        description=(
            "sigmoid-MSE with targets 1-m / m (m = 0.1) and Output Reset "
            "(reconstruction of Tyagi et al. 2024; the paper's constants are not public)"
        ),
    ),
):
    register_loss(_loss)
