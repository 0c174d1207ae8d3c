"""The two closed-form families of losses, vectorised over any leading shape.

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

:func:`family_loss` is the per-sample loss and :class:`FamilyGrad` its closed-form logit gradient, for a
whole bank of models at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

# Coefficient names of the closed-form families. A loss gives all of them (missing ones are 0).
COEFFICIENTS = ("ce", "el", "focal_alpha", "focal_gamma", "sigmoid", "margin", "reset")


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

    ``p_true`` adds losses of ``p_y`` alone: ``(first model, number of models, weight function)`` along
    the model axis ``model_dim``, the weight function mapping ``log p_y`` to ``g = -l'(p_y) p_y``
    (:meth:`PTrueForm.weights_for`). Their models have family coefficients 0; their ``g`` (times the scale)
    joins the family's and shares its ``(p - onehot)`` product.
    """

    def __init__(
        self,
        coef: dict,
        scale: float | Tensor = 1.0,
        dim: int = -1,
        p_true: Sequence[tuple[int, int, Callable[[Tensor], Tensor]]] = (),
        model_dim: int = -1,
    ):
        self.dim = dim
        self.p_true = []  # (None for all models, or (start, length)), weight function, scale
        n_models = scale.shape[model_dim] if isinstance(scale, Tensor) and scale.dim() else None
        for start, length, weight in p_true:
            whole = start == 0 and length == n_models
            part = scale
            if isinstance(scale, Tensor) and scale.dim() and scale.shape[model_dim] > 1 and not whole:
                part = scale.narrow(model_dim, start, length)
            self.p_true.append((None if whole else (start, length), weight, part))
        self.model_dim = model_dim
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
        if self.softmax or self.p_true:
            logp, logp_y = _log_softmax_y(q, onehot, d)
            g = self._p_true_weights(logp_y, self._family_weights(logp_y) if self.softmax else None)
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

    def _family_weights(self, logp_y: Tensor) -> Tensor:
        """The softmax family's scalar g(p_y) (times the scale) for every model."""
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
        return g

    def _p_true_weights(self, logp_y: Tensor, g: Tensor | None) -> Tensor:
        """Add each p_y loss's weight g(p_y) (times the scale) to its models' entries of ``g``."""
        for where, weight, scale in self.p_true:
            if where is None:  # the loss has every model of the bank
                part = weight(logp_y).mul(scale)
                g = part if g is None else g + part
                continue
            if g is None:
                g = torch.zeros_like(logp_y)
            start, length = where
            part = weight(logp_y.narrow(self.model_dim, start, length))
            g.narrow(self.model_dim, start, length).addcmul_(part, scale)  # its models' g is 0 before
        return g


def _present(coef: dict, *keys: str) -> bool:
    """Whether any of the terms is switched on (a tensor coefficient always counts as on)."""
    return any(not (isinstance(coef.get(k, 0.0), float | int) and coef.get(k, 0.0) == 0) for k in keys)
