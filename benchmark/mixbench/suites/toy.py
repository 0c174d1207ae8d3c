"""The ``toy`` suite: iris, wine, breast cancer and digits, embedded in scikit-learn (no download)."""

from __future__ import annotations

import functools

from mixbench import data
from mixbench.data import Dataset
from mixbench.suites import Suite, SuiteError


@functools.lru_cache(maxsize=8)
def _shape(name: str) -> tuple[int, int, int]:
    ds = data.toy_dataset(name)
    return ds.n_rows, ds.n_features, ds.n_classes


class ToySuite(Suite):
    """Four scikit-learn datasets with deterministic stratified splits (:func:`mixbench.data.toy_dataset`)."""

    kind = "toy"
    n_splits = data.N_SPLITS

    def __init__(self, argument: str = "", data_dir=None, **options):
        if argument:
            raise SuiteError(f"suite 'toy' takes no argument, got 'toy:{argument}'; give --suite toy.")
        super().__init__(argument, data_dir, **options)

    def datasets(self) -> list[str]:
        return list(data.TOY_DATASETS)

    def shape(self, name: str) -> tuple[int, int, int]:
        return _shape(name)  # embedded and small: loading is the cheapest way to know

    def load(self, name: str, split: int = 0) -> Dataset:
        return data.toy_dataset(name, self.split_check(split))
