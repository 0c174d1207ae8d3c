"""Datasets, splits and label noise.

A :class:`Dataset` is a plain value: features ``X`` (n_rows x n_features, float32), labels ``y``
(n_rows, int64 in 0..n_classes-1) and index arrays of the train / validation / test rows.

Two suites are built on the loaders here (the suites themselves are :mod:`mixbench.suites`):

- ``uci121``: the 121 UCI datasets of Fernández-Delgado et al. (2014) in the ``data_py`` layout of
  Klambauer et al. (2017), read from a data directory (``--data-dir``, else ``$MIXBENCH_DATA``, else
  ``<repo>/data/uci121``). Each ``<name>/`` folder holds ``<name>_py.dat`` (features),
  ``labels_py.dat``, ``folds_py.dat`` and ``validation_folds_py.dat``. The registry of the 121
  datasets (sizes and the sha256 of every file) is ``data/registry.tsv``; :func:`build_registry`
  rebuilds it, and its byte-identical package copy ``mixbench/resources/registry.tsv`` (which is the
  one :func:`registry` reads, so an installed package finds it), from the source's ``MANIFEST.tsv``.
- ``toy``: four datasets embedded in scikit-learn (iris, wine, breast_cancer, digits) with a
  deterministic stratified split, so everything runs on a fresh machine without any download.

Every malformed input raises one :class:`DatasetError` naming the file, the 1-based line and the fix.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import errno
import functools
import hashlib
import io
import os
import re
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from mixbench.io import sha256_file

__all__ = [
    "DEFAULT_URL",
    "N_SPLITS",
    "NOISE_KINDS",
    "STATUSES",
    "TOY_DATASETS",
    "DataDirectoryError",
    "Dataset",
    "DatasetError",
    "DatasetStatus",
    "apply_label_noise",
    "build_registry",
    "check_noise_rate",
    "data_status",
    "dataset_files",
    "fetch_data",
    "format_noise",
    "import_data",
    "inject_label_noise",
    "list_datasets",
    "load_data_py",
    "load_dataset",
    "load_uci121",
    "parse_noise",
    "registry",
    "repo_root",
    "resolve_data_dir",
    "toy_dataset",
    "verify_dataset",
]

#: Where the SNN authors (Klambauer et al. 2017) publish the ``data_py`` archive of UCI-121.
DEFAULT_URL = "http://www.bioinf.jku.at/people/klambauer/data_py.zip"
#: Number of split columns in ``folds_py.dat`` / ``validation_folds_py.dat``; column 0 is the reference one.
N_SPLITS = 4
TOY_DATASETS = ("iris", "wine", "breast_cancer", "digits")
NOISE_KINDS = ("symmetric", "pairflip")
FILE_KINDS = ("features", "labels", "folds", "validation_folds")
#: Values of :attr:`DatasetStatus.status`; the first two mean the dataset is complete and usable.
STATUSES = ("ok", "unverified", "missing file", "checksum mismatch", "malformed")
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
_TOY_SEED = 20240601
_TOY_LOADERS = {
    "iris": "load_iris",
    "wine": "load_wine",
    "breast_cancer": "load_breast_cancer",
    "digits": "load_digits",
}
_REIMPORT = (
    "fix that line, or re-import the original files with `mixbench data import PATH` "
    "(a folder or data_py.zip) or `mixbench data fetch`"
)
_GET_DATA = (
    "get the data with `mixbench data fetch` or `mixbench data import PATH` (a folder or data_py.zip), "
    f"or point --data-dir / ${DATA_ENV} at a folder that has it"
)
# Bytes a well-formed file may contain. Anything else (letters of nan/inf, quotes, a '.' in a label)
# sends the file to the line-by-line diagnosis, so the fast C parser never coerces it silently.
_FEATURE_BYTES = b"0123456789+-.eE, \t\r\n"
_INTEGER_BYTES = b"0123456789, \t\r\n"
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NON_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
# Features are stored as float32 (the engine's precision): a larger magnitude would become infinite.
_FLOAT32_MAX = float(np.finfo(np.float32).max)


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


def _unwritable(path: Path, exc: OSError) -> DataDirectoryError:
    where = Path(exc.filename) if exc.filename else path
    if where.name.startswith("."):  # a temporary file: name the file it was to become
        where = path
    if exc.errno == errno.ENOSPC:
        fix = (
            "free space on that disk (the UCI-121 data takes about 110 MB) and run the same command again; "
            "the files already installed are kept"
        )
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make it writable, or give another --data-dir"
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
        fix = "--data-dir must be a folder (it is created if needed); give another --data-dir"
    else:
        fix = "check that folder, or give another --data-dir"
    return DataDirectoryError(f"{where}: cannot be written ({exc.strerror or exc}); {fix}.", path=where)


def _check_writable_dir(target: Path) -> None:
    """Refuse a data directory that is a file, and create it (a clear error when that fails)."""
    if target.exists() and not target.is_dir():
        raise DataDirectoryError(
            f"{target}: is a file, not a folder; give --data-dir a folder (it is created if needed).",
            path=target,
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(target, exc) from None


def _file_error(path: Path, line: int | None, what: str, fix: str = _REIMPORT) -> DatasetError:
    where = f"{path}" if line is None else f"{path}, line {line}"
    return DatasetError(f"{where}: {what}; {fix}.", path=path, line=line)


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


# --- where the data lives ---------------------------------------------------------------------------
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
    root = repo_root()
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


def _registry_row(name: str) -> pd.Series:
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


def _expected_sha256(row: pd.Series, kind: str) -> str | None:
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
        package_copy = Path(__file__).resolve().parent / _REGISTRY_RESOURCE
        root = repo_root()
        outputs = [package_copy] if root is None else [root / "data" / "registry.tsv", package_copy]
    for out in outputs:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(buffer.getvalue(), encoding="utf-8")
    _registry_cached.cache_clear()
    return _read_registry_tsv(io.StringIO(buffer.getvalue()))


# --- parsing ----------------------------------------------------------------------------------------
def _count_lines(raw: bytes) -> int:
    return raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0)


def _read_file(path: Path, dataset: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        files = ", ".join(dataset_files(dataset).values())
        raise DatasetError(
            f"{path}: file is missing (a dataset folder holds {files}); {_GET_DATA}.", path=path
        ) from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc}); check its permissions.", path=path) from exc


def _parse_table(raw: bytes, path: Path, kind: str, n_classes: int | None) -> np.ndarray:
    """Parse one comma-separated file into a 2-D array, or raise the error of its first bad line.

    The fast path is pandas' C parser on files made only of the bytes a valid file can contain; any
    doubt (a parser error, a row count that differs from the line count, a value out of range) falls
    back to :func:`_diagnose`, which walks the lines in Python and names the first bad one.
    """
    allowed = _FEATURE_BYTES if kind == "features" else _INTEGER_BYTES
    table = None
    n_lines = _count_lines(raw)
    if n_lines and not raw.translate(None, allowed):
        try:
            table = pd.read_csv(
                io.BytesIO(raw),
                header=None,
                sep=",",
                dtype=np.float64 if kind == "features" else np.int64,
                skip_blank_lines=False,
                engine="c",
            ).to_numpy()
        except (ValueError, OverflowError):  # pandas' ParserError / EmptyDataError are ValueErrors
            table = None
    if table is not None and table.shape[0] == n_lines and _values_ok(table, kind, n_classes):
        return table
    _diagnose(raw, path, kind, n_classes)
    raise DatasetError(  # the diagnosis found nothing the fast path rejected: should not happen
        f"{path}: could not be parsed as a {kind} file, though no line is wrong on its own; {_REIMPORT}.",
        path=path,
    )


def _values_ok(table: np.ndarray, kind: str, n_classes: int | None) -> bool:
    if kind == "features":
        return bool(np.isfinite(table).all() and (np.abs(table) <= _FLOAT32_MAX).all())
    if kind == "labels":
        return table.shape[1] == 1 and table.min() >= 0 and (n_classes is None or table.max() < n_classes)
    return bool(((table == 0) | (table == 1)).all())


def _diagnose(raw: bytes, path: Path, kind: str, n_classes: int | None) -> None:
    """Raise a :class:`DatasetError` for the first bad line of ``raw`` (if any)."""
    lines = raw.split(b"\n")
    if raw.endswith(b"\n"):
        lines.pop()
    if not raw:
        raise _file_error(path, 1, "the file is empty")
    n_values = 1 if kind == "labels" else None
    for number, line in enumerate(lines, start=1):
        text = line.rstrip(b"\r").decode("utf-8", errors="replace")
        if not text.strip():
            raise _file_error(path, number, "blank line (every line is one row; nothing is skipped)")
        tokens = text.split(",")
        if n_values is None:
            n_values = len(tokens)  # the first line sets the width of the table
        elif len(tokens) != n_values:
            expected = "one label" if kind == "labels" else f"{n_values} comma-separated values as line 1"
            raise _file_error(path, number, f"ragged row: {len(tokens)} values, expected {expected}")
        for column, token in enumerate(tokens, start=1):
            _check_token(token.strip(), path, number, column, kind, n_classes)


def _check_token(token: str, path: Path, line: int, column: int, kind: str, n_classes: int | None) -> None:
    where = f"value {column} ({token!r})"
    if kind == "features":
        if token == "":
            raise _file_error(path, line, f"value {column} is empty")
        if _NON_FINITE.fullmatch(token):
            raise _file_error(path, line, f"{where} is NaN or infinite; features must be finite numbers")
        if not _NUMBER.fullmatch(token):
            raise _file_error(path, line, f"{where} is not a number")
        if not np.isfinite(float(token)):
            raise _file_error(path, line, f"{where} overflows to infinity; features must be finite numbers")
        if abs(float(token)) > _FLOAT32_MAX:
            raise _file_error(
                path,
                line,
                f"{where} is beyond float32's range (|x| <= {_FLOAT32_MAX:.4g}) and would become infinite "
                "when the features are cast to float32; features must be finite float32 numbers "
                "(standardise them)",
            )
        return
    if kind == "labels":
        if not re.fullmatch(r"-?\d+", token):
            raise _file_error(path, line, f"label {token!r} is not an integer class index 0..C-1")
        label = int(token)
        if label < 0 or (n_classes is not None and label >= n_classes):
            top = "C-1" if n_classes is None else f"{n_classes - 1} (the registry says {n_classes} classes)"
            raise _file_error(path, line, f"label {label} is outside 0..{top}")
        return
    if token not in ("0", "1"):
        raise _file_error(path, line, f"{where} is not 0 or 1; a fold file marks rows with 0 / 1 per split")


# --- loading ----------------------------------------------------------------------------------------
def _as_split(split: int) -> int:
    if isinstance(split, bool) or not isinstance(split, int | np.integer) or not 0 <= split < N_SPLITS:
        raise ValueError(f"split must be an integer in 0..{N_SPLITS - 1}, got {split!r}")
    return int(split)


def load_data_py(
    folder: str | os.PathLike,
    n_classes: int,
    split: int = 0,
    name: str | None = None,
) -> Dataset:
    """Read one dataset folder in the ``data_py`` layout and select one split.

    Test rows are those with ``folds_py.dat`` column ``split`` == 1, validation rows those with
    ``validation_folds_py.dat`` column ``split`` == 1, training rows all the others.

    Parameters
    ----------
    folder : str or PathLike
        ``<data_dir>/<name>``, holding ``<name>_py.dat``, ``labels_py.dat``, ``folds_py.dat`` and
        ``validation_folds_py.dat``.
    n_classes : int
        Number of classes C; every label must be an integer in 0..C-1.
    split : int, default 0
        Split column, 0..3. Column 0 is the split of the reference study.
    name : str, optional
        Dataset name; default the folder's name.

    Returns
    -------
    Dataset
        ``X`` of shape (n_rows, n_features) float32, ``y`` of shape (n_rows,) int64, sorted int64 index
        arrays, ``checksums`` the sha256 of each of the four files.

    Raises
    ------
    DatasetError
        A missing file, a blank / ragged / non-numeric row, a NaN or infinite feature, a label that is
        not an integer in 0..C-1, a fold value other than 0 / 1, files with different row counts, a fold
        file without column ``split``, or a split whose test and validation rows overlap.
    """
    folder = Path(folder)
    name = folder.name if name is None else name
    split = _as_split(split)
    if not isinstance(n_classes, int | np.integer) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    files = dataset_files(name)
    raws = {kind: _read_file(folder / files[kind], name) for kind in FILE_KINDS}
    checksums = {files[kind]: hashlib.sha256(raws[kind]).hexdigest() for kind in FILE_KINDS}
    tables = {
        kind: _parse_table(raws.pop(kind), folder / files[kind], kind, int(n_classes)) for kind in FILE_KINDS
    }

    n_rows = tables["features"].shape[0]
    for kind in FILE_KINDS[1:]:
        rows = tables[kind].shape[0]
        if rows != n_rows:
            shorter, longer = (kind, "features") if rows < n_rows else ("features", kind)
            line = min(rows, n_rows) + 1
            raise _file_error(
                folder / files[kind],
                line,
                f"{files[kind]} has {rows} rows but {files['features']} has {n_rows}: line {line} of "
                f"{files[longer]} has no counterpart in {files[shorter]}. The four files of a dataset "
                "need one line per row",
            )
    for kind in ("folds", "validation_folds"):
        width = tables[kind].shape[1]
        if width <= split:
            raise _file_error(
                folder / files[kind],
                1,
                f"split {split} needs column {split} (0-based) but the file has only {width} column(s); "
                f"use a split in 0..{width - 1}",
                fix="or re-import the original files, which have 4 columns",
            )
    test = tables["folds"][:, split] == 1
    validation = tables["validation_folds"][:, split] == 1
    both = np.flatnonzero(test & validation)
    if len(both):
        raise _file_error(
            folder / files["validation_folds"],
            int(both[0]) + 1,
            f"row {both[0] + 1} is a validation row of split {split} but also a test row in "
            f"{files['folds']} ({len(both)} such rows)",
        )
    train = ~(test | validation)
    if not train.any():
        raise _file_error(
            folder / files["folds"],
            None,
            f"split {split} leaves no training row (every row is test or validation)",
        )
    # Without validation rows nothing can be selected; without test rows nothing can be reported: both
    # would be stored as NaN results that look like finished tasks.
    for kind, rows, what in (("validation_folds", validation, "validation"), ("folds", test, "test")):
        if not rows.any():
            raise _file_error(
                folder / files[kind],
                None,
                f"split {split} has no {what} row (column {split} holds no 1), so the {what} accuracy "
                "cannot be computed",
            )
    return Dataset(
        name=name,
        X=np.ascontiguousarray(tables["features"], dtype=np.float32),
        y=np.ascontiguousarray(tables["labels"][:, 0], dtype=np.int64),
        n_classes=int(n_classes),
        train=np.flatnonzero(train).astype(np.int64),
        validation=np.flatnonzero(validation).astype(np.int64),
        test=np.flatnonzero(test).astype(np.int64),
        split=split,
        source=str(folder),
        checksums=checksums,
    )


def load_uci121(
    name: str,
    split: int = 0,
    data_dir: str | os.PathLike | None = None,
    verify: bool = False,
) -> Dataset:
    """Load one UCI-121 dataset with one of its four splits.

    Parameters
    ----------
    name : str
        A folder name of the registry (e.g. ``"abalone"``).
    split : int, default 0
        Split column 0..3 (0 is the reference study's split).
    data_dir : str or PathLike, optional
        UCI-121 data directory; see :func:`resolve_data_dir`.
    verify : bool, default False
        Also check the sha256 of every file against the registry.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Unknown name, missing or malformed file, or (with ``verify``) a checksum mismatch.
    """
    split = _as_split(split)
    row = _registry_row(name)
    folder = resolve_data_dir(data_dir) / name
    dataset = load_data_py(folder, n_classes=int(row["n_classes"]), split=split, name=name)
    if verify:
        files = dataset_files(name)
        for kind in FILE_KINDS:
            expected = _expected_sha256(row, kind)
            actual = dataset.checksums[files[kind]]
            if expected is not None and actual != expected:
                raise DatasetError(
                    f"{folder / files[kind]}: checksum mismatch (sha256 {actual}, the registry expects "
                    f"{expected}): the file differs from the reference archive; re-import it with "
                    "`mixbench data import PATH` or `mixbench data fetch`.",
                    path=folder / files[kind],
                )
    return dataset


def load_dataset(
    name: str,
    suite: str = "uci121",
    split: int = 0,
    data_dir: str | os.PathLike | None = None,
    verify: bool = False,
) -> Dataset:
    """Load one dataset of a suite with one of its splits: ``get_suite(suite, data_dir).load(name, split)``.

    Parameters
    ----------
    name : str
        A dataset name of the suite.
    suite : str, default "uci121"
        A suite spec (:func:`mixbench.suites.get_suite`): ``uci121``, ``toy``, ``folder:PATH``, ``openml:ID``.
    split : int, default 0
    data_dir : str or PathLike, optional
        See :func:`resolve_data_dir`.
    verify : bool, default False
        Also check the files' sha256 against the suite's registry (suites that have one: ``uci121``).

    Returns
    -------
    Dataset
    """
    from mixbench.suites import get_suite  # the suites build on this module

    return get_suite(suite, data_dir).load(name, split, **({"verify": True} if verify else {}))


def list_datasets(suite: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the datasets of a suite: ``get_suite(suite, data_dir).datasets()``.

    For ``uci121`` the registry datasets whose four files are all present, sorted (presence only: a
    malformed file raises its :class:`DatasetError` when the dataset is loaded; ``mixbench data verify``
    checks all); a data directory that does not exist raises :class:`DatasetError`.
    """
    from mixbench.suites import get_suite

    return get_suite(suite, data_dir).datasets()


# --- the embedded toy suite -------------------------------------------------------------------------
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
    split = _as_split(split)
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


# --- status and verification ------------------------------------------------------------------------
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
    row = _registry_row(name)
    folder = resolve_data_dir(data_dir) / name
    files = dataset_files(name)
    missing = [files[kind] for kind in FILE_KINDS if not (folder / files[kind]).is_file()]
    if missing:
        if len(missing) == len(files) and not folder.is_dir():
            return DatasetStatus(name, "missing file", f"no folder {folder}")
        return DatasetStatus(name, "missing file", f"missing {', '.join(missing)} in {folder}")
    mismatched, unknown = [], []
    for kind in FILE_KINDS:
        expected = _expected_sha256(row, kind)
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
    """
    root = resolve_data_dir(data_dir)
    reg = _registry_cached()
    statuses = [verify_dataset(name, root) for name in reg["name"]]
    table = reg.loc[:, ["name", "n_rows", "n_features", "n_classes", "n_test"]].copy()
    table["status"] = [s.status for s in statuses]
    table["detail"] = [s.detail for s in statuses]
    table["complete"] = [s.complete for s in statuses]
    return table.sort_values("name", kind="stable").reset_index(drop=True)


# --- import and fetch -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Member:
    """One dataset file found in an import source."""

    dataset: str
    file: str
    where: str  # the folder (or zip prefix) holding the dataset folder, to detect duplicates
    open: Callable[[], io.BufferedIOBase]


def _zip_members(archive: zipfile.ZipFile, names: set[str]) -> tuple[list[_Member], int]:
    members, ignored = [], 0
    for info in archive.infolist():
        if info.is_dir():
            continue
        parts = PurePosixPath(info.filename).parts
        dataset = parts[-2] if len(parts) >= 2 else ""
        if parts[0] == "__MACOSX" or dataset not in names or parts[-1] not in dataset_files(dataset).values():
            ignored += 1  # e.g. the original archive's stray top-level abalone_py.dat
            continue
        opener = functools.partial(archive.open, info)
        members.append(_Member(dataset, parts[-1], "/".join(parts[:-2]) or "/", opener))
    return members, ignored


def _folder_members(source: Path, names: set[str]) -> tuple[list[_Member], int]:
    # PATH is one dataset folder, a folder of dataset folders, or a folder holding one (data_py/).
    if source.name in names:
        folders = [source]
    else:
        roots = [source] + sorted(p for p in source.iterdir() if p.is_dir() and p.name not in names)
        folders = [root / name for root in roots for name in sorted(names) if (root / name).is_dir()]
    members = []
    for folder in folders:
        for file in dataset_files(folder.name).values():
            path = folder / file
            if path.is_file():
                members.append(
                    _Member(folder.name, file, str(folder.parent), functools.partial(path.open, "rb"))
                )
    return members, 0


def _install(member: _Member, destination: Path, expected: str | None) -> bool:
    """Copy a member to ``destination`` atomically if its sha256 is ``expected`` (or unknown).

    A write that fails (full disk, read-only folder) raises :class:`DataDirectoryError`; the previous file,
    if any, stays.
    """
    digest = hashlib.sha256()
    # Not mkstemp: its 0600 mode would make the installed data unreadable to other users.
    temporary = destination.parent / f".{destination.name}.{os.getpid()}.part"
    try:
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            out = temporary.open("wb")
        except OSError as exc:
            raise _unwritable(destination, exc) from None
        with out, member.open() as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _unwritable(destination, exc) from None
            try:
                out.flush()
            except OSError as exc:
                raise _unwritable(destination, exc) from None
        if expected is not None and digest.hexdigest() != expected:
            return False
        try:
            os.replace(temporary, destination)
        except OSError as exc:
            raise _unwritable(destination, exc) from None
        return True
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def import_data(
    path: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Copy UCI-121 datasets from a folder or ``data_py.zip`` into the data directory, verifying them.

    Every file is hashed while it is copied. A file whose sha256 differs from the registry is not
    installed (an existing good copy stays) and is reported; a file without a registry checksum
    (miniboone's features) is installed and then parsed. Files other than the datasets' four (such as
    the original archive's stray top-level ``abalone_py.dat``) are ignored.

    Parameters
    ----------
    path : str or PathLike
        A zip archive or folder holding ``<name>/`` dataset folders (directly or inside one top-level
        folder such as ``data_py/``), or a single ``<name>/`` folder.
    data_dir : str or PathLike, optional
        Destination; see :func:`resolve_data_dir`. Created if needed.
    progress : bool, default True
        Show a tqdm progress bar on stderr.

    Returns
    -------
    DataFrame of shape (n_found, 6)
        One row per dataset found in ``path``, sorted by name: ``name, status, detail, complete`` (its
        state in the data directory after the import, see :class:`DatasetStatus`), ``installed`` (number
        of files written) and ``rejected`` (files not written because their checksum differs).

    Raises
    ------
    DatasetError
        ``path`` does not exist, is not a zip or folder, holds no dataset, holds a dataset twice, or is
        the data directory itself.
    """
    from tqdm import tqdm

    source = Path(path).expanduser()
    target = resolve_data_dir(data_dir)
    if not source.exists():
        raise DatasetError(
            f"{source}: no such file or folder; give a folder of dataset folders or data_py.zip.", path=source
        )
    if source.is_dir() and target.is_dir() and source.resolve() == target.resolve():
        raise DatasetError(
            f"{source}: this is the data directory itself; import from another folder or a zip "
            "(`mixbench data verify` checks it in place).",
            path=source,
        )
    _check_writable_dir(target)
    names = set(_registry_cached()["name"])
    with contextlib.ExitStack() as stack:
        if source.is_dir():
            members, ignored = _folder_members(source, names)
        else:
            try:
                archive = stack.enter_context(zipfile.ZipFile(source))
            except (zipfile.BadZipFile, OSError) as exc:
                raise DatasetError(
                    f"{source}: not a readable zip archive ({exc}); "
                    "give data_py.zip or a folder of datasets.",
                    path=source,
                ) from exc
            members, ignored = _zip_members(archive, names)
        if not members:
            raise DatasetError(
                f"{source}: no UCI-121 dataset in it (expected <name>/<name>_py.dat, <name>/labels_py.dat, "
                f"... for registry names such as abalone/; {ignored} other file(s) ignored); give the folder "
                "or zip that holds the dataset folders.",
                path=source,
            )
        places: dict[str, set[str]] = {}
        for member in members:
            places.setdefault(member.dataset, set()).add(member.where)
        for dataset, where in places.items():
            if len(where) > 1:
                raise DatasetError(
                    f"{source}: dataset {dataset!r} occurs in {len(where)} places "
                    f"({', '.join(sorted(where))}); "
                    "give the folder that holds the copy to import as PATH.",
                    path=source,
                )
        installed: dict[str, int] = {}
        rejected: dict[str, list[str]] = {}
        for member in tqdm(members, desc="import", unit="file", disable=not progress):
            row = _registry_row(member.dataset)
            kind = next(k for k, f in dataset_files(member.dataset).items() if f == member.file)
            if _install(member, target / member.dataset / member.file, _expected_sha256(row, kind)):
                installed[member.dataset] = installed.get(member.dataset, 0) + 1
            else:
                rejected.setdefault(member.dataset, []).append(member.file)
    records = []
    for dataset in sorted(places):
        status = verify_dataset(dataset, target)
        bad = rejected.get(dataset, [])
        details = [f"not installed, checksum differs from the registry: {', '.join(bad)}"] if bad else []
        records.append(
            {
                "name": dataset,
                "status": status.status,
                "detail": "; ".join(details + ([status.detail] if status.detail else [])),
                "complete": status.complete,
                "installed": installed.get(dataset, 0),
                "rejected": ", ".join(bad),
            }
        )
    return pd.DataFrame.from_records(
        records, columns=["name", "status", "detail", "complete", "installed", "rejected"]
    )


def fetch_data(
    url: str = DEFAULT_URL,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> pd.DataFrame:
    """Download ``data_py.zip`` with a progress bar, then import it (see :func:`import_data`).

    Parameters
    ----------
    url : str, default :data:`DEFAULT_URL`
    data_dir : str or PathLike, optional
        Destination; see :func:`resolve_data_dir`. Created if needed.
    progress : bool, default True
        Show tqdm progress bars on stderr.
    timeout : float, default 60
        Seconds to wait for the server (per read).

    Returns
    -------
    DataFrame
        As :func:`import_data`. The download is deleted after a successful import; when the import
        fails it is kept as ``<data_dir>/data_py.zip`` (named in the error).
    """
    from tqdm import tqdm

    target = resolve_data_dir(data_dir)
    _check_writable_dir(target)
    try:
        handle, temporary = tempfile.mkstemp(dir=target, prefix=".data_py.", suffix=".zip.part")
    except OSError as exc:
        raise _unwritable(target, exc) from None
    download = Path(temporary)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc="data_py.zip",
                disable=not progress,
            )
            with bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        size = download.stat().st_size
    except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors; a bad URL is a ValueError
        download.unlink(missing_ok=True)
        if getattr(exc, "errno", None) in (
            errno.ENOSPC,
            errno.EROFS,
            errno.EACCES,
        ):  # writing, not the network
            raise _unwritable(target / "data_py.zip", exc) from None
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        else:
            reason = getattr(exc, "reason", exc)
        raise DatasetError(
            f"{url}: download failed ({reason}); check the URL and the network, or "
            "download data_py.zip some other way and run `mixbench data import data_py.zip`.",
            path=url,
        ) from exc
    if total is not None and size != total:
        download.unlink(missing_ok=True)
        raise DatasetError(
            f"{url}: the download stopped after {size} of {total} bytes; run `mixbench data fetch` again.",
            path=url,
        )
    try:
        table = import_data(download, target, progress=progress)
    except DatasetError as exc:
        kept = target / "data_py.zip"
        download.replace(kept)
        raise DatasetError(f"{exc} (the download is kept as {kept})", path=exc.path, line=exc.line) from exc
    download.unlink()
    return table
