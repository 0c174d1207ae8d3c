"""Datasets and label noise: the value every suite loads and the noise the benchmark puts on its labels.

A :class:`Dataset` is a plain value: features ``X`` (n_rows x n_features, float32), labels ``y``
(n_rows, int64 in 0..n_classes-1) and index arrays of the train / validation / test rows. The suites that
load datasets are :mod:`mixbench.suites` (the UCI-121 loader, registry, verification and import are
:mod:`mixbench.suites.uci121`, the toy loader :mod:`mixbench.suites.toy`); they build on this module, which
imports none of them.

Every malformed input raises one :class:`DatasetError` naming the file, the 1-based line and the fix.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "NOISE_KINDS",
    "DataDirectoryError",
    "Dataset",
    "DatasetError",
    "apply_label_noise",
    "check_noise_rate",
    "check_split",
    "format_noise",
    "inject_label_noise",
    "parse_noise",
    "repo_root",
]

NOISE_KINDS = ("symmetric", "pairflip")


class DatasetError(ValueError):
    """Bad dataset input. The message names the file, the line and what to do.

    Parameters
    ----------
    message : str
        The whole message, already naming the file, the line and the fix.
    path : str or PathLike, optional
        The offending file (or folder).
    line : int, optional
        The 1-based offending line of ``path``.
    """

    def __init__(self, message: str, *, path: str | os.PathLike | None = None, line: int | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        self.line = line


class DataDirectoryError(DatasetError):
    """The data directory cannot be written (a file, read-only, a full disk): an error of the place, not of
    the data. Files already installed stay."""


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

    def part(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels of one part of the split.

        Parameters
        ----------
        which : {"train", "validation", "test"}

        Returns
        -------
        X : ndarray of shape (n_part, n_features), float32
        y : ndarray of shape (n_part,), int64
        """
        if which not in ("train", "validation", "test"):
            raise ValueError(f"part must be 'train', 'validation' or 'test', got {which!r}")
        rows = getattr(self, which)
        return self.X[rows], self.y[rows]

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, n_rows={self.n_rows}, n_features={self.n_features}, "
            f"n_classes={self.n_classes}, split={self.split}, train={len(self.train)}, "
            f"validation={len(self.validation)}, test={len(self.test)}, source={self.source!r})"
        )


# --- where the checkout is --------------------------------------------------------------------------
def repo_root() -> Path | None:
    """The mixbench repository this package runs from, or None for a plain (non-editable) install.

    The package is installed editable from ``<repo>/benchmark/mixbench``; the root is the first parent
    that holds both ``pyproject.toml`` and ``benchmark/mixbench``.
    """
    here = Path(__file__).resolve().parent
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "benchmark" / "mixbench").is_dir():
            return parent
    return None


def check_split(split: int, n_splits: int) -> int:
    """``split`` as an int in 0..n_splits-1, else ValueError (a suite's split column, or its random split)."""
    if isinstance(split, bool) or not isinstance(split, int | np.integer) or not 0 <= split < n_splits:
        raise ValueError(f"split must be an integer in 0..{n_splits - 1}, got {split!r}")
    return int(split)


# --- label noise ------------------------------------------------------------------------------------
def inject_label_noise(
    y: np.ndarray,
    indices: np.ndarray,
    rate: float,
    kind: str = "symmetric",
    seed: int | np.random.SeedSequence = 0,
    n_classes: int | None = None,
) -> np.ndarray:
    """Flip a fixed fraction of the labels of some rows to a wrong class.

    Exactly ``round(rate * len(indices))`` (Python's round, half to even) of the rows in ``indices``,
    drawn without replacement, get a label different from their own: with ``"symmetric"`` noise one
    drawn uniformly among the other C-1 classes, with ``"pairflip"`` noise ``(c + 1) mod C``. So
    ``rate`` is the fraction of wrong labels, not a probability of resampling.

    Parameters
    ----------
    y : array-like of shape (n_rows,)
        Integer labels in 0..C-1. Not modified.
    indices : array-like of shape (n_candidates,)
        Distinct row indices that may be flipped (e.g. the training rows). Other rows are never touched.
    rate : float in [0, 1]
    kind : {"symmetric", "pairflip"}, default "symmetric"
    seed : int or numpy.random.SeedSequence, default 0
        Same inputs and seed give the same labels.
    n_classes : int, optional
        C; default ``y.max() + 1``.

    Returns
    -------
    ndarray of shape (n_rows,), int64
        A noisy copy of ``y``.
    """
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be a 1-D integer array, got shape {y.shape} and dtype {y.dtype}")
    indices = np.asarray(indices)
    if indices.ndim != 1 or (len(indices) and not np.issubdtype(indices.dtype, np.integer)):
        raise ValueError(
            f"indices must be a 1-D integer array, got shape {indices.shape} and dtype {indices.dtype}"
        )
    indices = indices.astype(np.int64)
    if len(indices) and (indices.min() < 0 or indices.max() >= len(y)):
        raise ValueError(f"indices must lie in 0..{len(y) - 1}")
    if len(np.unique(indices)) != len(indices):
        raise ValueError("indices must be distinct")
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate!r}")
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
    n_classes = int(y.max()) + 1 if n_classes is None and len(y) else int(n_classes or 0)
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    noisy = y.astype(np.int64, copy=True)
    n_flip = round(float(rate) * len(indices))
    if n_flip == 0:
        return noisy
    if n_classes < 2:
        raise ValueError("label noise needs at least 2 classes")
    rng = np.random.default_rng(seed)
    rows = rng.choice(indices, size=n_flip, replace=False)
    shift = rng.integers(1, n_classes, size=n_flip) if kind == "symmetric" else 1
    noisy[rows] = (noisy[rows] + shift) % n_classes
    return noisy


def apply_label_noise(
    dataset: Dataset,
    rate: float,
    kind: str = "symmetric",
    seed: int = 0,
    include_validation: bool = True,
) -> Dataset:
    """The dataset with noisy training (and validation) labels; test labels stay clean.

    Training and validation rows are noised separately, each with exactly
    ``round(rate * n_part)`` wrong labels (see :func:`inject_label_noise`), from two streams spawned
    from ``seed``. A rate from which the dataset's true labels cannot be learned (:func:`check_noise_rate`
    with its number of classes) is refused with a ``ValueError`` naming the dataset.

    Parameters
    ----------
    dataset : Dataset
    rate : float, below the bound of :func:`check_noise_rate` for ``kind`` and the dataset's classes
    kind : {"symmetric", "pairflip"}, default "symmetric"
    seed : int, default 0
    include_validation : bool, default True
        Also noise the validation labels (model selection then sees noisy labels too, as in practice).

    Returns
    -------
    Dataset
        Same features and indices, new ``y``.
    """
    try:
        check_noise_rate(rate, kind, dataset.n_classes)
    except ValueError as exc:
        raise ValueError(f"dataset {dataset.name!r}: {exc}") from None
    train_seed, validation_seed = np.random.SeedSequence(seed).spawn(2)
    y = inject_label_noise(dataset.y, dataset.train, rate, kind, train_seed, dataset.n_classes)
    if include_validation:
        y = inject_label_noise(y, dataset.validation, rate, kind, validation_seed, dataset.n_classes)
    return dataclasses.replace(dataset, y=y)


def format_noise(rate: float, kind: str = "symmetric") -> str:
    """The ``noise`` value of the result schema: ``"none"`` or ``"KIND-RATE"`` (e.g. ``"symmetric-0.2"``)."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
    return "none" if float(rate) == 0 else f"{kind}-{float(rate):g}"


def parse_noise(noise: str) -> tuple[float, str]:
    """Inverse of :func:`format_noise`.

    ``"symmetric-0.2"`` -> ``(0.2, "symmetric")``; ``"none"`` -> ``(0.0, "symmetric")``.
    """
    if noise == "none":
        return 0.0, "symmetric"
    kind, _, rate = noise.rpartition("-")
    try:
        value = float(rate)
    except ValueError:
        value = -1.0
    if kind not in NOISE_KINDS or not 0 <= value <= 1:
        raise ValueError(
            f"noise must be 'none' or KIND-RATE with KIND in {', '.join(NOISE_KINDS)}, got {noise!r}"
        )
    return check_noise_rate(value, kind), kind


def check_noise_rate(
    rate: float,
    kind: str = "symmetric",
    n_classes: int | None = None,
    *,
    error: type[ValueError] = ValueError,
) -> float:
    """``rate`` if the true labels can still be learned from labels with this noise; else a ``ValueError``
    whose message gives the valid range.

    Noise is learnable while each class's true label stays its most frequent label, so that the classifier
    the noisy labels favour is the clean one. With ``C`` classes (see :func:`inject_label_noise`):

    ``symmetric``
        A wrong label is one of the *other* ``C - 1`` classes, drawn uniformly: a class keeps ``1 - rate``
        of its rows and gives ``rate / (C - 1)`` to each other class, so the true label stays the most
        frequent while ``1 - rate > rate / (C - 1)``, i.e. ``rate < (C - 1) / C`` (0.5 for 2 classes,
        0.9 for 10). Below 1 for every ``C``, so without ``C`` (a run's settings, before any dataset is
        read) the bound is ``rate < 1``.
    ``pairflip``
        A wrong label is the next class, ``(c + 1) mod C``: a class keeps ``1 - rate`` and gives ``rate``
        to one other class, so ``rate < 0.5`` for every ``C``.

    So for symmetric noise a rate in [0.5, (C - 1) / C) is learnable on a dataset of more than two classes
    but not on a binary one (where it is pairflip noise, inverted at 0.5 and beyond). Such a rate is
    accepted in a run's settings and refused for each binary dataset when its labels are noised
    (:func:`apply_label_noise` names the dataset and its ``C``): the benchmark's multi-class datasets keep
    the setting the literature uses (e.g. 0.8 on ten classes), and no binary dataset silently reports
    accuracies learned from labels that are mostly wrong.

    Parameters
    ----------
    rate : float
        Fraction of wrong labels.
    kind : {"symmetric", "pairflip"}
    n_classes : int, optional
        ``C``; without it, the bound that holds for every ``C``.
    error : ValueError subclass, default ValueError
        What to raise: a caller's own error for bad settings (the runner's ``ConfigError``).

    Returns
    -------
    float
        ``rate``.

    Raises
    ------
    ValueError (``error``)
        ``rate`` is not a number in [0, bound), or ``kind`` is unknown.
    """
    if kind not in NOISE_KINDS:
        raise error(f"noise kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
    rate = float(rate)
    if n_classes is not None and n_classes < 2 and rate != 0.0:
        raise error(f"label noise {rate:g},{kind}: a dataset of {n_classes} class has no wrong label to give")
    if kind == "pairflip":
        bound = 0.5
        why = "pairflip noise moves all of a class's wrong labels to the next class, so the true label stays"
        why += " the most frequent only while rate < 0.5"
    elif n_classes is None:
        bound = 1.0
        why = "the true label stays the most frequent only while rate < (C-1)/C, below 1 for any C classes"
    else:
        bound = (n_classes - 1) / n_classes
        why = f"the true label stays the most frequent only while rate < (C-1)/C = {bound:.4g}"
    if not (rate == 0.0 or 0.0 < rate < bound):  # False for NaN too
        over = "" if kind == "pairflip" or n_classes is None else f" over C = {n_classes} classes"
        fix = "" if kind == "pairflip" or n_classes is None else " or leave this dataset out"
        raise error(f"label noise {rate:g},{kind}{over}: {why}; give a rate in [0, {bound:.4g}){fix}")
    return rate


# --- names that moved -------------------------------------------------------------------------------
# The UCI-121 suite's parser, registry, verification, import and fetch moved to mixbench.suites.uci121, the
# toy loader to mixbench.suites.toy, and load_dataset / list_datasets (which pick a suite by its spec) to
# mixbench.suites. Old imports (`mixbench.data.load_uci121`, `from mixbench.data import toy_dataset`) keep
# working through __getattr__ below; new code imports from the new place. The import is lazy and by name
# because the suites build on this module: an import statement here would be an import cycle.
_MOVED = {
    **dict.fromkeys(("load_dataset", "list_datasets"), "mixbench.suites"),
    **dict.fromkeys(("TOY_DATASETS", "toy_dataset"), "mixbench.suites.toy"),
    **dict.fromkeys(
        (
            "DATA_ENV",
            "FILE_KINDS",
            "N_SPLITS",
            "build_registry",
            "dataset_files",
            "registry",
            "resolve_data_dir",
        ),
        "mixbench.suites.uci121.catalog",
    ),
    **dict.fromkeys(("load_data_py", "load_uci121"), "mixbench.suites.uci121.parse"),
    **dict.fromkeys(
        ("STATUSES", "DatasetStatus", "data_status", "verify_dataset"), "mixbench.suites.uci121.verify"
    ),
    **dict.fromkeys(("DEFAULT_URL", "fetch_data", "import_data"), "mixbench.suites.uci121.install"),
}


def __getattr__(name: str):
    """A name that moved to :mod:`mixbench.suites` (see ``_MOVED``), imported on first use."""
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MOVED))
