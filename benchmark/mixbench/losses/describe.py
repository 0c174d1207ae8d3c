"""What a loss does: its formula and source in words, and where its gradient focuses (the reference
study's Figure 1)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from mixbench.losses.loss import Loss
from mixbench.losses.registry import get_loss


def gradient_focus(
    loss: str | Loss | Callable, p_true, n_classes: int = 10, epoch: int = 0, n_epochs: int = 1
) -> np.ndarray:
    """``|d loss / d q_y|`` against ``p_y``: the reference study's Figure 1, for any loss.

    The gradient is the one the engine trains with (closed form or autograd, :meth:`Loss.grad`), in float64,
    at logits ``(q_y, 0, ..., 0)`` with ``q_y = log(p_y (C - 1) / (1 - p_y))``, so that the softmax gives the
    true class ``p_y`` and the other classes equal shares. For losses of ``p_y`` alone the result does not
    depend on that choice; for the others (sigmoid-MSE, label smoothing, Brier, NCE, MPCE) it is this
    configuration's. Scheduled losses are taken at ``epoch`` of ``n_epochs``.

    Parameters
    ----------
    loss : a loss name, :class:`Loss` or user function
    p_true : array-like of values in (0, 1)
    n_classes : int, at least 2

    Returns
    -------
    ndarray of p_true's shape
    """
    loss = get_loss(loss)
    p = np.asarray(p_true, dtype=np.float64)
    if np.any((p <= 0) | (p >= 1)):
        raise ValueError("p_true must lie in (0, 1)")
    if n_classes < 2:
        raise ValueError("n_classes must be at least 2")
    flat = torch.from_numpy(p.reshape(-1))
    logits = torch.zeros(len(flat), n_classes, dtype=torch.float64)
    logits[:, 0] = torch.log(flat * (n_classes - 1)) - torch.log1p(-flat)
    targets = torch.zeros(len(flat), dtype=torch.int64)
    grad = loss.grad(logits, targets, epoch, n_epochs) * len(flat)  # per sample, not the batch mean
    return grad[:, 0].abs().numpy().reshape(p.shape)


#: The probe of :func:`identical_losses`: logits of rows x classes, from a fixed generator.
_PROBE_SHAPE = (64, 7)


def identical_losses(losses: list[Loss], n_epochs: int) -> list[tuple[str, str]]:
    """Pairs of losses that train identically at every epoch of a run of ``n_epochs``.

    Two such losses are one loss under two names: every model of one is a copy of a model of the other,
    so they double count in every rank statistic (mean ranks, Friedman, the critical-difference diagram).
    Compared on the gradient each loss trains with (:meth:`Loss.grad`, closed form or autograd) at a fixed
    probe of logits and targets in float64, at every epoch: equal within 1e-12 relative everywhere means
    identical coefficients (e.g. ``Poly-1(eps=1)`` and ``CE+EL F=0``). A loss whose gradient cannot be
    computed on the probe (a user loss that raises) is left out.

    Returns
    -------
    list of (name, name)
        In the order of ``losses``.
    """
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(*_PROBE_SHAPE, generator=generator, dtype=torch.float64) * 3
    targets = torch.randint(_PROBE_SHAPE[1], (_PROBE_SHAPE[0],), generator=generator)
    grads = {}
    for loss in losses:
        try:
            grads[loss.name] = torch.stack([loss.grad(logits, targets, e, n_epochs) for e in range(n_epochs)])
        except Exception:  # a user loss that cannot run on the probe: its run says why
            continue
    names = list(grads)
    return [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if torch.allclose(grads[a], grads[b], rtol=1e-12, atol=1e-15)
    ]


def describe_loss(loss: str | Loss) -> str:
    """One line per fact: the name, its kind, the formula and the source."""
    loss = get_loss(loss)
    how = {
        "family": "closed form (softmax / sigmoid family)",
        "p_true": "function of p_y, trained in the bank"
        + (" (closed-form gradient)" if loss.closed_form else " (l'(p_y) by autograd on p_y)"),
        "probs": "closed form in p",
        "autograd": "user function, autograd on its own models",
    }[loss.kind]
    lines = [f"{loss.name}: {loss.description or '(no formula given)'}", f"  gradient: {how}"]
    if loss.source:
        lines.append(f"  source: {loss.source}")
    return "\n".join(lines)
