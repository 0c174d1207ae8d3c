"""A named classification loss (:class:`Loss`): its kind, per-sample value and the gradient the engine
trains with."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mixbench.losses.autograd import autograd_on, grad_leaf, outside_inference
from mixbench.losses.families import COEFFICIENTS, family_grad, family_loss
from mixbench.losses.forms import ProbForm, PTrueForm, check_user_output
from mixbench.losses.schedules import FocusSchedule, mixture_weights


@dataclass(frozen=True)
class Loss:
    """A named classification loss, of one of four kinds (:attr:`kind`):

    ``family``
        ``coefficients`` of the closed-form families (and a ``schedule`` for the CE/EL mixtures).
    ``p_true``
        a function of ``p_y`` alone (:class:`PTrueForm`): trained in the bank like the family.
    ``probs``
        a closed form in the whole softmax ``p`` (:class:`ProbForm`): its own gradient on its models.
    ``autograd``
        ``function(logits (B, C), targets (B,)) -> per-sample losses (B,)``, differentiated by autograd on
        its own models' logits.

    ``description`` gives the formula, ``source`` the paper it comes from.
    """

    name: str
    coefficients: dict = field(default_factory=dict)
    schedule: FocusSchedule | None = None
    function: Callable[[Tensor, Tensor], Tensor] | None = None
    description: str = ""
    p_true: PTrueForm | None = None
    probs: ProbForm | None = None
    source: str = ""

    @property
    def kind(self) -> str:
        if self.function is not None:
            return "autograd"
        if self.p_true is not None:
            return "p_true"
        if self.probs is not None:
            return "probs"
        return "family"

    @property
    def closed_form(self) -> bool:
        """Whether the gradient comes from a closed form (no autograd at all)."""
        kind = self.kind
        return kind in ("family", "probs") or (kind == "p_true" and self.p_true.weight is not None)

    def coefficients_at(self, epoch: int = 0, n_epochs: int = 1, n_classes: int | None = None) -> dict:
        """All :data:`COEFFICIENTS` for ``epoch`` of ``n_epochs`` (schedules resolved).

        A loss averaged over the classes (coefficient ``class_mean``) has its sigmoid weight divided by
        ``n_classes`` (left as it is when ``n_classes`` is None).
        """
        coef = {k: 0.0 for k in COEFFICIENTS}
        coef["focal_gamma"] = 2.0
        coef.update({k: float(v) for k, v in self.coefficients.items()})
        if coef.pop("class_mean", 0.0) and n_classes is not None:
            coef["sigmoid"] /= n_classes
        if self.schedule is not None:
            coef["ce"], coef["el"] = mixture_weights(self.schedule.focus(epoch, n_epochs))
        return coef

    def per_sample(self, logits: Tensor, targets: Tensor, epoch: int = 0, n_epochs: int = 1) -> Tensor:
        """Per-sample loss, shape (B,), for logits (B, C) and integer targets (B,)."""
        kind = self.kind
        if kind == "autograd":
            out = self.function(logits, targets)
            grad = logits.requires_grad and torch.is_grad_enabled()
            check_user_output(self.name, _USER_FUNCTION, out, (logits.shape[0],), grad)
            return out
        if kind == "p_true":
            logp_y = torch.log_softmax(logits, -1).gather(-1, targets[:, None])[:, 0]
            return self.p_true.value(logp_y)
        onehot = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        if kind == "probs":
            return self.probs.value(logits, onehot, -1)
        return family_loss(logits, onehot, self.coefficients_at(epoch, n_epochs, logits.shape[-1]))

    def grad(self, logits: Tensor, targets: Tensor, epoch: int = 0, n_epochs: int = 1) -> Tensor:
        """Gradient of the batch-mean loss w.r.t. the logits, shape (B, C): the closed form or autograd
        the engine uses for this loss."""
        kind = self.kind
        n = logits.shape[0]
        if kind == "autograd":
            with autograd_on():
                q = grad_leaf(logits)
                (g,) = torch.autograd.grad(self.per_sample(q, outside_inference(targets)).mean(), q)
            return g
        onehot = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        if kind == "p_true":
            logp = torch.log_softmax(logits, -1)
            logp_y = (logp * onehot).sum(-1, keepdim=True)
            return (logp.exp() - onehot) * self.p_true.weights(logp_y) / n
        if kind == "probs":
            return self.probs.grad(logits, onehot, -1) / n
        coef = self.coefficients_at(epoch, n_epochs, logits.shape[-1])
        return family_grad(logits, onehot, coef, scale=1.0 / n)

    def weighted_grad(self, logits: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
        """``d (sum_i weights_i loss_i) / d logits`` by autograd, for a user function (``autograd`` kind)."""
        with autograd_on():
            q = grad_leaf(logits)
            (g,) = torch.autograd.grad(
                self.per_sample(q, outside_inference(targets)), q, grad_outputs=outside_inference(weights)
            )
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


_USER_FUNCTION = "function(logits (B, C), targets (B,))"
