"""The ``uci121`` suite: the 121 UCI datasets of Fernández-Delgado et al. (2014) in the ``data_py`` layout.

Read from the data directory (``--data-dir``, else ``$MIXBENCH_DATA``, else the cache); the registry
(``mixbench/resources/registry.tsv``) gives every dataset's size and the sha256 of its four files.

Modules: :mod:`~mixbench.suites.uci121.catalog` (the registry, each dataset's files, the data directory),
:mod:`~mixbench.suites.uci121.parse` (reading a dataset: :func:`load_data_py`, :func:`load_uci121`),
:mod:`~mixbench.suites.uci121.verify` (a data directory checked against the registry) and
:mod:`~mixbench.suites.uci121.install` (``mixbench data import`` and ``fetch``).
"""

from __future__ import annotations

import pandas as pd

from mixbench.data import Dataset, DatasetError
from mixbench.io import sha256_file
from mixbench.suites import Suite, SuiteError
from mixbench.suites.uci121.catalog import (
    DATA_ENV,
    FILE_KINDS,
    N_SPLITS,
    build_registry,
    dataset_files,
    registry,
    resolve_data_dir,
)
from mixbench.suites.uci121.install import DEFAULT_URL, fetch_data, import_data
from mixbench.suites.uci121.parse import load_data_py, load_uci121
from mixbench.suites.uci121.verify import STATUSES, DatasetStatus, data_status, verify_dataset

__all__ = [
    "BENCH_DATASETS",
    "DATA_ENV",
    "DEFAULT_URL",
    "FILE_KINDS",
    "N_SPLITS",
    "STATUSES",
    "DatasetStatus",
    "UCI121Suite",
    "build_registry",
    "data_status",
    "dataset_files",
    "fetch_data",
    "import_data",
    "load_data_py",
    "load_uci121",
    "registry",
    "resolve_data_dir",
    "verify_dataset",
]

#: Datasets of different shapes (few / many features, 2 / many classes, small / large) for ``mixbench bench``.
BENCH_DATASETS = ("abalone", "letter", "musk-2", "semeion", "connect-4", "statlog-shuttle")


class UCI121Suite(Suite):
    """The UCI-121 collection; four split columns per dataset (0 is the reference study's)."""

    kind = "uci121"
    n_splits = N_SPLITS

    def __init__(self, argument: str = "", data_dir=None, **options):
        if argument:
            raise SuiteError(
                f"suite 'uci121' takes no argument, got 'uci121:{argument}'; give the data directory with "
                "--data-dir instead."
            )
        super().__init__(argument, data_dir, **options)

    @property
    def location(self) -> str:
        return str(resolve_data_dir(self.data_dir))

    def datasets(self) -> list[str]:
        """The registry datasets whose four files are present (presence only; see :meth:`status`)."""
        root = resolve_data_dir(self.data_dir)
        if not root.is_dir():
            raise DatasetError(
                f"{root}: no UCI-121 data directory there; get the data with `mixbench data fetch` or "
                "`mixbench data import PATH`, or point --data-dir / $MIXBENCH_DATA at it.",
                path=root,
            )
        return [
            name
            for name in sorted(registry()["name"])
            if all((root / name / file).is_file() for file in dataset_files(name).values())
        ]

    def shape(self, name: str) -> tuple[int, int, int]:
        row = registry().set_index("name").loc[name]
        values = [row["n_rows"], row["n_features"], row["n_classes"]]
        return tuple(100_000 if pd.isna(v) else int(v) for v in values)

    def load(self, name: str, split: int = 0, verify: bool = False) -> Dataset:
        return load_uci121(name, split=self.split_check(split), data_dir=self.data_dir, verify=verify)

    def checksums(self, name: str) -> dict[str, str]:
        folder = resolve_data_dir(self.data_dir) / name
        files = dataset_files(name).values()
        return {file: sha256_file(folder / file) for file in files if (folder / file).is_file()}

    def status(self) -> pd.DataFrame:
        return data_status(self.data_dir)

    def known(self) -> set[str]:
        return set(registry()["name"])

    def missing_hint(self, pattern: str) -> str:
        if pattern in set(registry()["name"]):
            return (
                f"; {pattern} is a UCI-121 dataset but some of its files are missing from {self.location} "
                "(`mixbench data verify` says which)"
            )
        return ""

    def bench_datasets(self) -> list[str]:
        present = set(self.datasets())
        return [name for name in BENCH_DATASETS if name in present]
