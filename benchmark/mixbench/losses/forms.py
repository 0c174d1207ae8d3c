"""Losses beside the closed-form families: functions of ``p_y`` alone and closed forms in ``p``.

A loss of ``p_y`` alone (:class:`PTrueForm`) has the logit gradient ``g(p_y) (p - onehot)``, the
family's shape, so it trains in the bank at the family's cost; a closed form in the whole softmax ``p``
(:class:`ProbForm`) gives its own gradient. :func:`p_true_form` builds a :class:`PTrueForm` from a user's
``l(p_y)``, and :func:`check_user_output` names the loss when a user function returns what cannot be
trained with.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from mixbench.losses.autograd import autograd_on, grad_leaf, record_replay


@dataclass(frozen=True)
class PTrueForm:
    """A loss that depends on the logits only through ``p_y``, written as functions of ``log p_y``.

    Its logit gradient is ``g (p - onehot)`` with the scalar ``g = -l'(p_y) p_y = -d l / d log p_y``, the
    same shape as the softmax family's, so the engine trains it in the bank with the family's operations.

    ``value(log p_y)`` is the per-sample loss (elementwise); ``weight(log p_y)`` is ``g`` (elementwise), or
    None to take it by autograd on the tensor of ``log p_y`` alone (models x rows values, no class axis).
    Working in ``log p_y`` keeps CE-like terms finite where ``p_y`` underflows to 0.
    """

    value: Callable[[Tensor], Tensor]
    weight: Callable[[Tensor], Tensor] | None = None

    def weights(self, logp_y: Tensor) -> Tensor:
        """``g(p_y)`` for a tensor of ``log p_y`` (closed form, or autograd on that tensor alone)."""
        if self.weight is not None:
            return self.weight(logp_y)
        return self._autograd_weights(logp_y)

    def _autograd_weights(self, logp_y: Tensor) -> Tensor:
        with autograd_on():
            lp = grad_leaf(logp_y)
            # g = -d l / d log p_y: autograd with -1 as the output gradient gives it in one pass
            (g,) = torch.autograd.grad(self.value(lp), lp, grad_outputs=torch.full_like(lp, -1.0))
        return g

    def weights_for(self, example: Tensor) -> Callable[[Tensor], Tensor]:
        """A function computing :meth:`weights` for tensors of ``example``'s shape, dtype and device.

        Without a closed form, autograd's derivative graph is recorded once for that shape
        (``torch.fx`` ``make_fx``) and replayed as plain tensor operations at every step: the same
        operations autograd runs, without its per-call bookkeeping (about two thirds of its cost on the
        engine's small tensors). The replay is checked against autograd on two tensors; if tracing fails
        or differs, autograd itself is used.
        """
        if self.weight is not None:
            return self.weight
        key = (tuple(example.shape), example.dtype, example.device)
        cache = _REPLAYS.setdefault(self, {})
        if key not in cache:
            cache[key] = self._replay(example)
        return cache[key]

    def _replay(self, example: Tensor) -> Callable[[Tensor], Tensor]:
        gen = torch.Generator(device=example.device).manual_seed(0)
        probes = [(-torch.rand(example.shape, generator=gen, device=example.device).to(example.dtype) * 5,)]
        return record_replay(self._autograd_weights, (example,), probes)


#: Recorded derivative graphs (:func:`record_replay`) per PTrueForm and (shape, dtype, device): recording
#: costs tens of milliseconds, more than one epoch of a small dataset saves, so it is done once per process.
_REPLAYS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _of_p(of_p_true: Callable, name: str, logp_y: Tensor) -> Tensor:
    out = of_p_true(logp_y.exp())
    grad = logp_y.requires_grad and torch.is_grad_enabled()
    check_user_output(name, "of_p_true(p_y)", out, logp_y.shape, grad, elementwise=True)
    return out


def _weight_of_p(derivative: Callable, name: str, logp_y: Tensor) -> Tensor:
    p = logp_y.exp()
    d = derivative(p)
    check_user_output(name, "derivative(p_y)", d, p.shape, False, elementwise=True)
    return d.mul(p).neg_()


def p_true_form(
    of_p_true: Callable[[Tensor], Tensor], derivative: Callable | None = None, name: str = "user loss"
) -> PTrueForm:
    """A :class:`PTrueForm` from a user's ``l(p_y)`` and, optionally, its derivative ``l'(p_y)`` (both
    elementwise functions of a tensor of ``p_y``); ``name`` goes into error messages."""
    weight = None if derivative is None else partial(_weight_of_p, derivative, name)
    return PTrueForm(partial(_of_p, of_p_true, name), weight)


@dataclass(frozen=True)
class ProbForm:
    """A loss in closed form of the whole softmax ``p``: ``value(q, onehot, dim)`` per sample and
    ``grad(q, onehot, dim)``, its gradient w.r.t. the logits, for logits of any shape with the class axis
    ``dim`` (the engine's layouts) and one-hot targets broadcastable to them."""

    value: Callable[[Tensor, Tensor, int], Tensor]
    grad: Callable[[Tensor, Tensor, int], Tensor]


def check_user_output(name: str, what: str, out, shape, grad: bool, elementwise: bool = False) -> None:
    """Raise a clear error, naming the loss, when a user function's result cannot be trained with: not a
    tensor (numpy, a float), not one value per row (or per p_y value), or cut from the autograd graph."""
    kind = "a tensor of p_y's shape (elementwise)" if elementwise else "a (B,) tensor"
    expected = f"{kind}{' with grad' if grad else ''} expected"
    if not isinstance(out, Tensor):
        raise TypeError(
            f"loss {name!r}: {what} returned a {type(out).__module__}.{type(out).__name__}; {expected} "
            "(compute it with torch operations on its arguments, not numpy or Python floats)"
        )
    if out.shape != shape:
        raise ValueError(
            f"loss {name!r}: {what} returned shape {tuple(out.shape)}, not {tuple(shape)}; {expected} "
            f"(one loss per {'value' if elementwise else 'row'}: do not sum or average)"
        )
    if grad and not out.requires_grad:
        raise ValueError(
            f"loss {name!r}: {what} returned a tensor detached from its arguments; {expected} "
            "(.detach(), .item(), .numpy() or torch.tensor(...) cut the graph)"
        )
