"""Per-model coefficients of the loss family for one epoch, in a bank's logits layout.

A bank holds many losses' models side by side; the closed-form family gradient
(:class:`~mixbench.losses.FamilyGrad`) and loss (:func:`~mixbench.losses.family_loss`) take each term's
coefficient as a float when every model that uses the term agrees, else as a tensor of one value per model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mixbench.losses import Loss

WEIGHTS = ("ce", "el", "focal_alpha", "sigmoid")  # coefficients that scale the gradient
_SHARED = {"focal_gamma": ("focal_alpha", 2.0), "margin": ("sigmoid", 0.0), "reset": ("sigmoid", 0.0)}
TERMS = (*WEIGHTS, "reset")  # the family terms a loss may have or not


def model_coefficients(losses: Sequence[Loss], epoch: int, n_epochs: int, R: int, C: int) -> dict:
    """Per-model family coefficients for ``epoch``: a float where every model that uses a term agrees
    (a term no model uses stays the float 0, so :class:`mixbench.losses.FamilyGrad` skips it), else an
    array of G = len(losses) * R values, one per (loss, lr) model, each loss's value repeated over rates.
    """
    per_loss = [
        ls.coefficients_at(epoch, n_epochs, C) if ls.kind == "family" else dict.fromkeys(WEIGHTS, 0.0)
        for ls in losses
    ]
    coef: dict = {}
    for key in WEIGHTS:
        values = [c[key] for c in per_loss]
        if any(v != 0 for v in values):
            coef[key] = np.repeat(values, R)
    for key, (user, default) in _SHARED.items():  # parameters of a term, shared when its users agree
        used = [c[key] for c in per_loss if c[user] != 0]
        if len(set(used)) <= 1:
            coef[key] = used[0] if used else default
        else:
            coef[key] = np.repeat([c[key] if c[user] != 0 else used[0] for c in per_loss], R)
    return coef


def in_logits_layout(coef: dict, shape, device) -> dict:
    """Coefficient arrays as float32 tensors viewed in a logits layout (``shape`` of a (1, G) tensor)."""
    return {
        k: torch.tensor(v, dtype=torch.float32, device=device).view(shape) if isinstance(v, np.ndarray) else v
        for k, v in coef.items()
    }
