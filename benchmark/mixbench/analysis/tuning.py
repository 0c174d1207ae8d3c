"""Where the validation selection landed: the tuning audit of a run's learning-rate grid and epochs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mixbench.analysis import formatting as fmt
from mixbench.analysis.matrices import order_losses

__all__ = ["EDGE_SHARE", "tuning_audit"]


#: A loss whose selected learning rate (or epoch) sits at an edge of the grid in more than this share of its
#: cells is flagged: its optimum may lie outside what was searched.
EDGE_SHARE = 0.5


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
        NaN for a one-rate grid), ``last_epoch`` (share at the last epoch), ``flag`` ('' or what to widen).
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
        flags = []
        if several and n and high > EDGE_SHARE:
            flags.append(
                f"lr {grid[-1]:g}, the largest of the grid, in {fmt.percent(high)} of its cells: its optimum "
                "may lie above the grid (widen --lrs)"
            )
        if several and n and low > EDGE_SHARE:
            flags.append(
                f"lr {grid[0]:g}, the smallest of the grid, in {fmt.percent(low)} of its cells: its optimum "
                "may lie below the grid (widen --lrs)"
            )
        if n and at_last > EDGE_SHARE:
            flags.append(f"the last epoch in {fmt.percent(at_last)} of its cells: it may need more --epochs")
        out.append(
            {
                "loss": loss,
                "cells": n,
                "lr_high": high,
                "lr_low": low,
                "last_epoch": at_last,
                "flag": "; ".join(flags),
            }
        )
    audit = pd.DataFrame(out, columns=["loss", "cells", "lr_high", "lr_low", "last_epoch", "flag"])
    audit = audit.set_index("loss")
    audit.attrs = {"lrs": grid, "last_epoch": last}
    return audit
