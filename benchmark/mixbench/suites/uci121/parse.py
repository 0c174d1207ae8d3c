"""Reading one UCI-121 dataset in the ``data_py`` layout: the fast parser, the line-by-line diagnosis of a bad
file (the first bad line, named with its file and the fix) and the loaders.

Each ``<name>/`` folder holds ``<name>_py.dat`` (features), ``labels_py.dat``, ``folds_py.dat`` and
``validation_folds_py.dat`` (Klambauer et al. 2017).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from mixbench.data import Dataset, DatasetError, check_split
from mixbench.suites.uci121.catalog import (
    DATA_ENV,
    FILE_KINDS,
    N_SPLITS,
    dataset_files,
    expected_sha256,
    registry_row,
    resolve_data_dir,
)

__all__ = ["load_data_py", "load_uci121"]

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


def _file_error(path: Path, line: int | None, what: str, fix: str = _REIMPORT) -> DatasetError:
    where = f"{path}" if line is None else f"{path}, line {line}"
    return DatasetError(f"{where}: {what}; {fix}.", path=path, line=line)


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
    split = check_split(split, N_SPLITS)
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
    split = check_split(split, N_SPLITS)
    row = registry_row(name)
    folder = resolve_data_dir(data_dir) / name
    dataset = load_data_py(folder, n_classes=int(row["n_classes"]), split=split, name=name)
    if verify:
        files = dataset_files(name)
        for kind in FILE_KINDS:
            expected = expected_sha256(row, kind)
            actual = dataset.checksums[files[kind]]
            if expected is not None and actual != expected:
                raise DatasetError(
                    f"{folder / files[kind]}: checksum mismatch (sha256 {actual}, the registry expects "
                    f"{expected}): the file differs from the reference archive; re-import it with "
                    "`mixbench data import PATH` or `mixbench data fetch`.",
                    path=folder / files[kind],
                )
    return dataset
