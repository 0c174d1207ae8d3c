"""Where the validation selection landed: the tuning audit of a run's learning-rate grid and epochs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mixbench.analysis.matrices import order_losses

__all__ = ["EDGE_SHARE", "FLAG_SEPARATOR", "tuning_audit"]


#: A loss whose selected learning rate (or epoch) sits at an edge of the grid in more than this share of its
#: cells is flagged: its optimum may lie outside what was searched.
EDGE_SHARE = 0.5
#: Joins the edges of a flagged loss in the audit's ``flag`` column.
FLAG_SEPARATOR = ", "


def tuning_audit(
    selected: pd.DataFrame, lrs: Sequence[float] | None = None, epochs: int | None = None
) -> pd.DataFrame:
    """Where the validation selection landed, per loss: at an end of the learning-rate grid, at the last
    epoch?

    Parameters
    ----------
    selected : DataFrame
        Selected results with ``loss``, ``lr`` and ``epoch`` (0-based; -1 or NaN lr for a cell without
        result).
    lrs : sequence of float, optional
        The grid searched; default: the learning rates that occur.
    epochs : int, optional
        Epochs trained; default: the last selected epoch + 1.

    Returns
    -------
    audit : DataFrame, one row per loss
        ``cells`` (with a result), ``lr_high`` / ``lr_low`` (share at the largest / smallest rate of the grid;
        NaN for a one-rate grid), ``last_epoch`` (share at the last epoch), ``flag``: '' or the edges
        reached by more than ``EDGE_SHARE`` of the cells, joined by ``FLAG_SEPARATOR``, among ``'lr_high'``,
        ``'lr_low'`` (what to widen: the grid, at a grid of several rates) and ``'last_epoch'`` (the
        epochs). ``attrs``: ``lrs`` (the grid, ascending) and ``last_epoch`` (0-based).
        ``mixbench.report.prose.tuning_flag_text`` says it in words.
    """
    rows = selected[selected["lr"].notna() & (selected["epoch"] >= 0)]
    grid = sorted(float(v) for v in (lrs if lrs is not None else rows["lr"].unique()))
    last = (int(epochs) - 1) if epochs else (int(rows["epoch"].max()) if len(rows) else 0)
    out = []
    for loss in order_losses(selected["loss"].unique()):
        cells = rows[rows["loss"] == loss]
        n = len(cells)
        several = len(grid) > 1
        high = float(np.isclose(cells["lr"], grid[-1]).mean()) if n and several else np.nan
        low = float(np.isclose(cells["lr"], grid[0]).mean()) if n and several else np.nan
        at_last = float((cells["epoch"] == last).mean()) if n else np.nan
        flags = [
            name
            for name, share, applies in (
                ("lr_high", high, several),
                ("lr_low", low, several),
                ("last_epoch", at_last, True),
            )
            if applies and n and share > EDGE_SHARE
        ]
        out.append(
            {
                "loss": loss,
                "cells": n,
                "lr_high": high,
                "lr_low": low,
                "last_epoch": at_last,
                "flag": FLAG_SEPARATOR.join(flags),
            }
        )
    audit = pd.DataFrame(out, columns=["loss", "cells", "lr_high", "lr_low", "last_epoch", "flag"])
    audit = audit.set_index("loss")
    audit.attrs = {"lrs": grid, "last_epoch": last}
    return audit
