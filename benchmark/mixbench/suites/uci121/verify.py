"""Checking a UCI-121 data directory against the registry: each dataset's status (ok, missing, differing,
malformed)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from mixbench.data import DataDirectoryError, DatasetError
from mixbench.io import sha256_file
from mixbench.suites.uci121.catalog import (
    DATA_ENV,
    FILE_KINDS,
    dataset_files,
    expected_sha256,
    registry,
    registry_row,
    resolve_data_dir,
)
from mixbench.suites.uci121.parse import load_data_py

__all__ = ["STATUSES", "DatasetStatus", "data_status", "verify_dataset"]

#: Values of :attr:`DatasetStatus.status`; the first two mean the dataset is complete and usable.
STATUSES = ("ok", "unverified", "missing file", "checksum mismatch", "malformed")


@dataclass(frozen=True)
class DatasetStatus:
    """State of one UCI-121 dataset in a data directory.

    Attributes
    ----------
    name : str
    status : str
        One of :data:`STATUSES`: ``ok`` (all four files match the registry's sha256), ``unverified``
        (all present and well-formed, but the registry has no sha256 for some file), ``missing file``,
        ``checksum mismatch`` or ``malformed``.
    detail : str
        Which files are missing / differ, or the malformed file's error (file, line, fix).
    """

    name: str
    status: str
    detail: str = ""

    @property
    def complete(self) -> bool:
        """True when the dataset can be loaded (``ok`` or ``unverified``)."""
        return self.status in ("ok", "unverified")


def verify_dataset(name: str, data_dir: str | os.PathLike | None = None) -> DatasetStatus:
    """Check that a dataset is complete and matches the registry.

    Every file is hashed; only when a hash differs from (or is absent in) the registry are the files
    parsed, to tell a malformed file from a well-formed but different one.

    Parameters
    ----------
    name : str
        A registry name.
    data_dir : str or PathLike, optional
        See :func:`resolve_data_dir`.

    Returns
    -------
    DatasetStatus
    """
    row = registry_row(name)
    folder = resolve_data_dir(data_dir) / name
    files = dataset_files(name)
    missing = [files[kind] for kind in FILE_KINDS if not (folder / files[kind]).is_file()]
    if missing:
        if len(missing) == len(files) and not folder.is_dir():
            return DatasetStatus(name, "missing file", f"no folder {folder}")
        return DatasetStatus(name, "missing file", f"missing {', '.join(missing)} in {folder}")
    mismatched, unknown = [], []
    for kind in FILE_KINDS:
        expected = expected_sha256(row, kind)
        if expected is None:
            unknown.append(files[kind])
        elif sha256_file(folder / files[kind]) != expected:
            mismatched.append(files[kind])
    if not mismatched and not unknown:
        return DatasetStatus(name, "ok")
    try:
        load_data_py(folder, n_classes=int(row["n_classes"]), split=0, name=name)
    except DatasetError as exc:
        return DatasetStatus(name, "malformed", str(exc))
    if mismatched:
        return DatasetStatus(
            name,
            "checksum mismatch",
            f"{', '.join(mismatched)} in {folder} differ from the registry's sha256 (well-formed, but not "
            "the reference files); re-import with `mixbench data import PATH` or `mixbench data fetch`",
        )
    return DatasetStatus(
        name, "unverified", f"the registry has no sha256 for {', '.join(unknown)}; the files are well-formed"
    )


def data_status(data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Status of every registry dataset in a data directory.

    Parameters
    ----------
    data_dir : str or PathLike, optional
        See :func:`resolve_data_dir`. A directory that does not exist gives ``missing file`` everywhere.

    Returns
    -------
    DataFrame of shape (121, 8)
        Columns ``name, n_rows, n_features, n_classes, n_test`` (from the registry), ``status``,
        ``detail`` and ``complete`` (bool), sorted by name.

    Raises
    ------
    DataDirectoryError
        The data directory is a file.
    """
    root = resolve_data_dir(data_dir)
    if root.exists() and not root.is_dir():  # was: 121 "no folder FILE/<name>" and "FILE does not exist"
        raise DataDirectoryError(
            f"{root}: is a file, not a folder; point --data-dir / ${DATA_ENV} at the folder of the UCI-121 "
            "datasets.",
            path=root,
        )
    reg = registry()
    statuses = [verify_dataset(name, root) for name in reg["name"]]
    table = reg.loc[:, ["name", "n_rows", "n_features", "n_classes", "n_test"]].copy()
    table["status"] = [s.status for s in statuses]
    table["detail"] = [s.detail for s in statuses]
    table["complete"] = [s.complete for s in statuses]
    return table.sort_values("name", kind="stable").reset_index(drop=True)
