"""Where each loss focuses: its gradient against the true-class probability (the reference Figure 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["focus_curves", "identical_pairs"]


def focus_curves(
    losses: Sequence,
    *,
    n_epochs: int = 50,
    n_classes: int = 10,
    points: int = 200,
    sources: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Where each loss focuses: ``|d loss / d q_y|`` against ``p_y`` (the reference study's Figure 1), from
    the gradient the engine trains with (:func:`mixbench.losses.gradient_focus`), one curve per phase of a
    scheduled loss over ``n_epochs``.

    Returns
    -------
    curves : DataFrame (points x curves)
        Index ``p_true`` in (0, 1); columns a MultiIndex (``loss``, ``label``), the label naming the phase
        ("CE+EL F=0-0.5 (F=0.2)").
    unknown : list of str
        Losses this process cannot resolve (a ``module:attr`` user loss not importable here).

    ``sources`` (a run's ``loss_sources``) gives the ``module:attr`` of each user loss, imported to draw it.
    """
    from mixbench.losses import get_loss, gradient_focus

    p = np.linspace(0.0, 1.0, points + 2)[1:-1]
    curves, unknown = {}, []
    for item in losses:
        try:
            loss = get_loss((sources or {}).get(item, item) if isinstance(item, str) else item)
        except Exception:  # a user module that cannot be imported here (or raises on import)
            unknown.append(str(item))
            continue
        phases = (
            [(0, "")]
            if loss.schedule is None
            else [(first, f" (F={focus:g})") for first, _, focus in loss.schedule.table(n_epochs)]
        )
        for epoch, suffix in phases:
            curves[(loss.name, f"{loss.name}{suffix}")] = gradient_focus(
                loss, p, n_classes=n_classes, epoch=epoch, n_epochs=n_epochs
            )
    frame = pd.DataFrame(curves, index=pd.Index(p, name="p_true"))
    if len(frame.columns):
        frame.columns = pd.MultiIndex.from_tuples(list(curves), names=["loss", "label"])
    frame.attrs = {"n_classes": n_classes, "n_epochs": n_epochs}
    return frame, unknown


def identical_pairs(
    losses: Sequence[str], *, n_epochs: int = 50, sources: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """Pairs of the run's losses that train identically at every epoch (one loss under two names, counted
    twice by every rank statistic): :func:`mixbench.losses.identical_losses` on the losses this process can
    resolve (a ``module:attr`` user loss not importable here is left out)."""
    from mixbench.losses import get_loss, identical_losses

    resolved = []
    for name in losses:
        try:
            resolved.append(get_loss((sources or {}).get(name, name)))
        except Exception:  # a user module that cannot be imported here
            continue
    return identical_losses(resolved, n_epochs)
