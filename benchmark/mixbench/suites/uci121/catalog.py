"""The UCI-121 catalogue: the registry (sizes, sha256 of the 121 datasets), their files, the data directory.

The registry (``mixbench/resources/registry.tsv``, byte-identical to ``data/registry.tsv``) gives every
dataset's size and the sha256 of its four files; :func:`build_registry` rebuilds both from the source's
``MANIFEST.tsv``. The data directory is ``--data-dir``, else ``$MIXBENCH_DATA``, else the cache
(:func:`resolve_data_dir`).
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from mixbench import data
from mixbench.data import DatasetError

__all__ = [
    "DATA_ENV",
    "FILE_KINDS",
    "N_SPLITS",
    "build_registry",
    "dataset_files",
    "expected_sha256",
    "registry",
    "registry_row",
    "resolve_data_dir",
]

#: Number of split columns in ``folds_py.dat`` / ``validation_folds_py.dat``; column 0 is the reference one.
N_SPLITS = 4
FILE_KINDS = ("features", "labels", "folds", "validation_folds")
DATA_ENV = "MIXBENCH_DATA"

_REGISTRY_RESOURCE = "resources/registry.tsv"
_REGISTRY_COLUMNS = (
    "name",
    "n_rows",
    "n_features",
    "n_classes",
    "n_test",
    "sha256_features",
    "sha256_labels",
    "sha256_folds",
    "sha256_validation_folds",
    "status",
)


# --- where the data lives ---------------------------------------------------------------------------
def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The UCI-121 data directory: ``data_dir``, else ``$MIXBENCH_DATA``, else the cache.

    The cache is ``<repo>/data/uci121`` (git-ignored) inside a checkout, else
    ``$XDG_CACHE_HOME/mixbench/uci121`` (default ``~/.cache/mixbench/uci121``). The directory need
    not exist.

    Parameters
    ----------
    data_dir : str or PathLike, optional
        An explicit directory (``--data-dir``); wins over everything else.

    Returns
    -------
    Path
        Absolute path.
    """
    if data_dir is not None and str(data_dir) != "":
        return Path(os.path.abspath(Path(data_dir).expanduser()))
    env = os.environ.get(DATA_ENV, "")
    if env:
        return Path(os.path.abspath(Path(env).expanduser()))
    root = data.repo_root()
    if root is not None:
        return root / "data" / "uci121"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.path.abspath(Path(cache).expanduser())) / "mixbench" / "uci121"


def dataset_files(name: str) -> dict[str, str]:
    """File name of each of the four files of a ``data_py`` dataset, by kind.

    Returns
    -------
    dict
        ``{"features": "<name>_py.dat", "labels": "labels_py.dat", "folds": "folds_py.dat",
        "validation_folds": "validation_folds_py.dat"}``
    """
    return {
        "features": f"{name}_py.dat",
        "labels": "labels_py.dat",
        "folds": "folds_py.dat",
        "validation_folds": "validation_folds_py.dat",
    }


# --- registry ---------------------------------------------------------------------------------------
def _read_registry_tsv(source: str | os.PathLike | io.StringIO) -> pd.DataFrame:
    table = pd.read_csv(
        source,
        sep="\t",
        dtype={
            "name": str,
            "n_rows": "int64",
            "n_features": "Int64",  # NA for miniboone, whose features file is missing from the source
            "n_classes": "int64",
            "n_test": "int64",
            "status": str,
        }
        | {f"sha256_{kind}": str for kind in FILE_KINDS},
        na_values=["", "NA", "MISSING"],
        keep_default_na=False,
    )
    missing = [c for c in _REGISTRY_COLUMNS if c not in table.columns]
    if missing:
        raise DatasetError(
            f"{source}, line 1: the header lacks column(s) {', '.join(missing)}; "
            f"a registry has the columns {', '.join(_REGISTRY_COLUMNS)}.",
            path=str(source),
            line=1,
        )
    return table.loc[:, list(_REGISTRY_COLUMNS)]


@lru_cache(maxsize=1)
def _registry_cached() -> pd.DataFrame:
    text = resources.files("mixbench").joinpath(_REGISTRY_RESOURCE).read_text(encoding="utf-8")
    return _read_registry_tsv(io.StringIO(text))


def registry() -> pd.DataFrame:
    """The 121 UCI datasets: sizes and the sha256 of each file.

    Read from the package copy ``mixbench/resources/registry.tsv`` (byte-identical to
    ``data/registry.tsv``; both are written by :func:`build_registry`).

    Returns
    -------
    DataFrame of shape (121, 10)
        Columns ``name, n_rows, n_features, n_classes, n_test, sha256_features, sha256_labels,
        sha256_folds, sha256_validation_folds, status``. ``n_test`` is the test size of every split
        column; ``status`` is the source's (``source``, ``features_rebuilt_verified`` or
        ``features_missing``). Unknown values (miniboone's features) are NA.
    """
    return _registry_cached().copy()


def registry_row(name: str) -> pd.Series:
    reg = _registry_cached()
    hits = reg.index[reg["name"] == name]
    if len(hits) == 0:
        close = difflib.get_close_matches(name, reg["name"].tolist(), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise DatasetError(
            f"unknown UCI-121 dataset {name!r}: {hint}`mixbench data list` shows the 121 names "
            "(folder names exactly as in the archive)."
        )
    return reg.loc[hits[0]]


def expected_sha256(row: pd.Series, kind: str) -> str | None:
    value = row[f"sha256_{kind}"]
    return None if pd.isna(value) else str(value)


def build_registry(
    manifest: str | os.PathLike,
    outputs: Iterable[str | os.PathLike] | None = None,
) -> pd.DataFrame:
    """Rebuild the registry from the source's ``MANIFEST.tsv`` and write it.

    Parameters
    ----------
    manifest : str or PathLike
        ``MANIFEST.tsv`` of the UCI-121 source (``../shared/uci121/MANIFEST.tsv``).
    outputs : iterable of paths, optional
        Where to write the TSV. Default: ``<repo>/data/registry.tsv`` (when inside a checkout) and the
        package copy ``mixbench/resources/registry.tsv``; both get the same bytes.

    Returns
    -------
    DataFrame of shape (121, 10)
        The registry, as :func:`registry` will return it.
    """
    manifest = Path(manifest)
    table = _read_registry_tsv(manifest)
    if len(table) != 121 or table["name"].duplicated().any():
        raise DatasetError(
            f"{manifest}: expected 121 distinct dataset names, found {table['name'].nunique()} in "
            f"{len(table)} rows; use the MANIFEST.tsv that ships with the UCI-121 source.",
            path=manifest,
        )
    table = table.sort_values("name", kind="stable").reset_index(drop=True)
    buffer = io.StringIO()
    table.to_csv(buffer, sep="\t", index=False, na_rep="NA", lineterminator="\n")
    if outputs is None:
        package_copy = Path(__file__).resolve().parents[2] / _REGISTRY_RESOURCE  # mixbench/resources/
        root = data.repo_root()
        outputs = [package_copy] if root is None else [root / "data" / "registry.tsv", package_copy]
    for out in outputs:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(buffer.getvalue(), encoding="utf-8")
    _registry_cached.cache_clear()
    return _read_registry_tsv(io.StringIO(buffer.getvalue()))
