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
