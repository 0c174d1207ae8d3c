"""The ``toy`` suite: iris, wine, breast cancer and digits, embedded in scikit-learn (no download), each with
a deterministic stratified split, so everything runs on a fresh machine without any download."""

from __future__ import annotations

import functools

import numpy as np

from mixbench.data import Dataset, DatasetError, check_split
from mixbench.suites import Suite, SuiteError

__all__ = ["N_SPLITS", "TOY_DATASETS", "ToySuite", "toy_dataset"]

TOY_DATASETS = ("iris", "wine", "breast_cancer", "digits")
#: Random splits per dataset: as many as UCI-121 has split columns, so ``--splits`` means the same on both.
N_SPLITS = 4
_TOY_SEED = 20240601
_TOY_LOADERS = {
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "digits": "load_digits",
}


def toy_dataset(name: str, split: int = 0) -> Dataset:
    """One of scikit-learn's embedded datasets with a deterministic stratified split.

    Rows are shuffled within each class by a fixed seed (a different permutation per ``split``) and
    dealt, in class order, train / validation / train / test: about 50 / 25 / 25 % of every class.
    Features are standardized with the mean and standard deviation of the training rows (a constant
    feature is only centred).

    Parameters
    ----------
    name : {"iris", "wine", "breast_cancer", "digits"}
    split : int, default 0
        0..3; each gives a different random split.

    Returns
    -------
    Dataset
        ``source`` is ``"sklearn:<loader>"``; ``checksums`` is empty.
    """
    if name not in _TOY_LOADERS:
        raise DatasetError(f"unknown toy dataset {name!r}; the toy suite has {', '.join(TOY_DATASETS)}.")
    split = check_split(split, N_SPLITS)
    import sklearn.datasets

    loader = _TOY_LOADERS[name]
    bunch = getattr(sklearn.datasets, loader)()
    X = np.asarray(bunch.data, dtype=np.float64)
    classes, y = np.unique(np.asarray(bunch.target), return_inverse=True)
    y = y.astype(np.int64)

    rng = np.random.default_rng([_TOY_SEED, split])
    order = np.lexsort((rng.permutation(len(y)), y))  # by class, shuffled within class
    part = np.empty(len(y), dtype=np.int64)
    part[order] = np.array([0, 1, 0, 2])[np.arange(len(y)) % 4]  # 0 train, 1 validation, 2 test
    train, validation, test = (np.flatnonzero(part == p).astype(np.int64) for p in range(3))

    mean = X[train].mean(axis=0)
    scale = X[train].std(axis=0)
    scale[scale == 0] = 1.0
    return Dataset(
        name=name,
        X=((X - mean) / scale).astype(np.float32),
        y=y,
        n_classes=len(classes),
        train=train,
        validation=validation,
        test=test,
        split=split,
        source=f"sklearn:{loader}",
        checksums={},
    )


@functools.lru_cache(maxsize=8)
def _shape(name: str) -> tuple[int, int, int]:
    ds = toy_dataset(name)
    return ds.n_rows, ds.n_features, ds.n_classes


class ToySuite(Suite):
    """Four scikit-learn datasets with deterministic stratified splits (:func:`toy_dataset`)."""

    kind = "toy"
    n_splits = N_SPLITS

    def __init__(self, argument: str = "", data_dir=None, **options):
        if argument:
            raise SuiteError(f"suite 'toy' takes no argument, got 'toy:{argument}'; give --suite toy.")
        super().__init__(argument, data_dir, **options)

    def datasets(self) -> list[str]:
        return list(TOY_DATASETS)

    def shape(self, name: str) -> tuple[int, int, int]:
        return _shape(name)  # embedded and small: loading is the cheapest way to know

    def load(self, name: str, split: int = 0) -> Dataset:
        return toy_dataset(name, self.split_check(split))
