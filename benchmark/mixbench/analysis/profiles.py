"""Performance profiles (Dolan & Moré) of the losses over datasets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mixbench.analysis.matrices import check_matrix

__all__ = ["performance_profile"]


def performance_profile(matrix: pd.DataFrame, taus: Sequence[float] | None = None) -> pd.DataFrame:
    """Dolan-Moré performance profile on accuracy (the reference study's Figure 2).

    For each loss and threshold tau, the fraction of datasets on which its accuracy is at least tau times the
    best accuracy on that dataset.

    Parameters
    ----------
    matrix : DataFrame of shape (n_datasets, n_losses)
        A NaN cell never reaches the threshold (a failure, as in Dolan & Moré).
    taus : sequence of float, optional
        Thresholds, >= 0; default 201 points in [0, 1].

    Returns
    -------
    profile : DataFrame of shape (n_taus, n_losses), index ``tau``
        Values in [0, 1]. Every loss tied with the best counts at tau = 1; on a dataset whose best accuracy is
        0, every loss with a result counts at every tau. A 1e-12 slack absorbs rounding in tau * best.
    """
    values = check_matrix(matrix)
    if len(values) == 0:
        raise ValueError("performance_profile needs at least one dataset")
    taus = np.linspace(0.0, 1.0, 201) if taus is None else np.asarray(taus, dtype=float)
    if taus.ndim != 1 or (taus < 0).any():
        raise ValueError("taus must be a 1-d sequence of thresholds >= 0")
    acc = values.to_numpy()
    best = np.nanmax(np.where(np.isnan(acc), -np.inf, acc), axis=1)
    with np.errstate(invalid="ignore"):
        reached = acc[None, :, :] >= taus[:, None, None] * best[None, :, None] - 1e-12
    fraction = reached.mean(axis=1)  # NaN >= x is False: a missing cell never counts
    return pd.DataFrame(fraction, index=pd.Index(taus, name="tau"), columns=values.columns)
