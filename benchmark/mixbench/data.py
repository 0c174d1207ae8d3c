"""Datasets, splits and label noise.

A :class:`Dataset` is a plain value: features ``X`` (n_rows x n_features, float32), labels ``y``
(n_rows, int64 in 0..n_classes-1) and index arrays of the train / validation / test rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DatasetError(ValueError):
    """Bad dataset input. The message names the file, the line and what to do."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """One classification dataset with one train / validation / test split.

    Attributes
    ----------
    name : str
    X : ndarray of shape (n_rows, n_features), float32
    y : ndarray of shape (n_rows,), int64 in 0..n_classes-1
    n_classes : int
    train, validation, test : ndarray of int64 row indices, disjoint
    split : int
        Which split column (0..3) of the source the indices come from.
    source : str
        Where the data came from (a path, or ``sklearn:<loader>``).
    checksums : dict
        sha256 of each source file, by file name (empty for embedded datasets).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    n_classes: int
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    split: int = 0
    source: str = ""
    checksums: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])
