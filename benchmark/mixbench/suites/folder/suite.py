"""The :class:`FolderSuite`: a folder of CSV / Parquet files, one dataset each (see the package docstring).

It finds the files, sizes them, reads one (:mod:`~mixbench.suites.folder.reading`), sorts out its columns
(:mod:`~mixbench.suites.folder.columns`), checks the class column, draws or reads the split and preprocesses
the features (:mod:`~mixbench.suites.folder.preprocessing`).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mixbench.data import Dataset, DatasetError
from mixbench.suites import Suite, SuiteError, sha256_file
from mixbench.suites.folder.columns import column_roles
from mixbench.suites.folder.preprocessing import preprocess
from mixbench.suites.folder.reading import csv_records, read_table, row_location, sniff_separator

__all__ = ["SPLIT_VALUES", "SUFFIXES", "FolderSuite"]

SUFFIXES = (".csv", ".parquet")
SPLIT_VALUES = ("train", "validation", "test")


def _fractions(value) -> tuple[float, float, float]:
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        numbers = ()
    if len(numbers) != 3 or min(numbers) <= 0 or not math.isclose(sum(numbers), 1.0, abs_tol=1e-6):
        raise SuiteError(
            f"split_fractions: {value!r} must be three positive fractions TRAIN,VALIDATION,TEST summing to 1 "
            "(e.g. 0.5,0.25,0.25)"
        )
    return numbers


def _column_names(value) -> list[str]:
    """``keep_columns`` as a list of names: a list, or one string of comma-separated names."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        raise SuiteError(f"keep_columns: give column names (a list, or NAME,NAME), got {value!r}")
    return [v.strip() for v in items if v.strip()]


def _plain(value):
    """A numpy scalar as the Python value it holds, for messages (``-2.71``, not ``np.float64(-2.71)``)."""
    return value.item() if hasattr(value, "item") else value


@dataclass
class _Parsed:
    """A file read and its columns sorted out: what load() and describe() share."""

    path: Path
    frame: pd.DataFrame
    target: str
    split_column: str | None
    numeric: list[str]
    categorical: list[str]
    y: np.ndarray
    classes: list
    separator: str | None  # None for Parquet
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why, in the file's order
    numbers_from_text: dict[str, str] = field(default_factory=dict)  # column -> how


class FolderSuite(Suite):
    """A folder of CSV / Parquet files, one dataset each (see the module docstring)."""

    kind = "folder"
    default_options = {
        "target": None,
        "split_column": "split",
        "split_fractions": (0.5, 0.25, 0.25),
        "split_seed": 0,
        "n_splits": 4,
        "keep_columns": [],
    }

    def __init__(self, argument: str = "", data_dir=None, **options):
        if not argument:
            raise SuiteError("suite 'folder' needs a folder: --suite folder:PATH")
        super().__init__(str(Path(os.path.abspath(Path(argument).expanduser()))), data_dir, **options)
        opts = self.options
        opts["split_fractions"] = list(_fractions(opts["split_fractions"]))
        for key in ("split_seed", "n_splits"):
            try:
                opts[key] = int(opts[key])
            except (TypeError, ValueError):
                raise SuiteError(f"{key}: {opts[key]!r} is not an integer") from None
        if opts["split_seed"] < 0 or opts["n_splits"] < 1:
            raise SuiteError("split_seed must be >= 0 and n_splits >= 1")
        for key in ("target", "split_column"):
            if opts[key] is not None and not isinstance(opts[key], str):
                raise SuiteError(f"{key}: give a column name, got {opts[key]!r}")
        opts["keep_columns"] = _column_names(opts["keep_columns"])
        if not opts["keep_columns"]:
            # Left out at its default (added later): the options are part of a run's configuration hash,
            # so older folder-suite run directories keep theirs.
            del opts["keep_columns"]
        self.n_splits = opts["n_splits"]
        self.folder = Path(self.argument)

    @property
    def location(self) -> str:
        return str(self.folder)

    @classmethod
    def argument_relative_to(cls, argument: str, base) -> str:
        return str((Path(base) / Path(argument).expanduser()).absolute())

    # --- files --------------------------------------------------------------------------------------------
    def _files(self) -> dict[str, list[Path]]:
        if not self.folder.is_dir():
            raise DatasetError(
                f"{self.folder}: no such folder; give --suite folder:PATH with a folder of .csv / .parquet "
                "files, one per dataset.",
                path=self.folder,
            )
        files: dict[str, list[Path]] = {}
        for path in sorted(self.folder.iterdir()):
            if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in SUFFIXES:
                files.setdefault(path.stem, []).append(path)
        return files

    def _file(self, name: str) -> Path:
        files = self._files()
        if name not in files:
            raise DatasetError(
                f"{self.folder}: no dataset {name!r} (no {name}.csv or {name}.parquet); "
                f"`mixbench data list --suite folder:{self.folder}` shows the datasets.",
                path=self.folder,
            )
        if len(files[name]) > 1:
            both = " and ".join(p.name for p in files[name])
            raise DatasetError(
                f"{self.folder}: dataset name {name!r} is given twice ({both}); rename or remove one file.",
                path=files[name][0],
            )
        return files[name][0]

    def datasets(self) -> list[str]:
        names = list(self._files())
        if not names:
            raise DatasetError(
                f"{self.folder}: no .csv or .parquet file there; put one file per dataset in the folder "
                "(a header row, one column the class).",
                path=self.folder,
            )
        return names

    def checksums(self, name: str) -> dict[str, str]:
        path = self._file(name)
        return {path.name: sha256_file(path)}

    def shape(self, name: str) -> tuple[int, int, int]:
        """Rows and columns from the Parquet metadata or the CSV's lines and header; classes guessed as 2."""
        try:
            path = self._file(name)  # two files of one name: load() names them, failing only that dataset
            if path.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                meta = pq.ParquetFile(path).metadata
                return int(meta.num_rows), max(int(meta.num_columns) - 1, 1), 2
            with path.open("rb") as stream:
                n_lines = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
            _, header = next(csv_records(path, sniff_separator(path)), (1, []))
            return max(n_lines - 1, 1), max(len(header) - 1, 1), 2
        except Exception:  # a file too broken to size: load() will name the problem; schedule it small
            return 1, 1, 2

    # --- the class column and the split ----------------------------------------------------------------
    def _labels(self, path: Path, frame: pd.DataFrame, target: str) -> tuple[np.ndarray, list]:
        values = frame[target]
        missing = np.flatnonzero(values.isna().to_numpy())
        if len(missing):
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DatasetError(
                f"{row_location(path, int(missing[0]))}: no class in target column {target!r}{more}; fill in "
                "the class or remove the row.",
                path=path,
            )
        try:
            codes, classes = pd.factorize(values, sort=True)
        except TypeError:  # mixed types do not sort: compare them as text
            codes, classes = pd.factorize(values.astype(str), sort=True)
        if len(classes) < 2:
            raise DatasetError(
                f"{path}: target column {target!r} has one class ({classes[0]!r}) in all {len(values)} rows; "
                "a classification dataset needs two or more. Check --target.",
                path=path,
            )
        if len(classes) > 2 and 2 * len(classes) > len(values):
            # Most classes would hold one row: with a fixed split column it trained as a classifier of
            # classes it never saw, and a drawn split blamed one small class.
            raise DatasetError(
                f"{path}: target column {target!r} has {len(classes)} distinct values in {len(values)} rows "
                f"(e.g. {_plain(classes[0])!r}, {_plain(classes[1])!r}), fewer than two rows per class: a "
                "measurement or an identifier, not a class. Name the class column with --target COLUMN, or "
                "bin the values into a few classes.",
                path=path,
            )
        return codes.astype(np.int64), [c.item() if hasattr(c, "item") else c for c in classes]

    def _fixed_split(self, path: Path, frame: pd.DataFrame, column: str) -> np.ndarray:
        """0 train, 1 validation, 2 test for every row, from the split column."""
        text = frame[column].astype("string").str.strip().str.lower()
        part = text.map({v: i for i, v in enumerate(SPLIT_VALUES)})
        bad = np.flatnonzero(part.isna().to_numpy())
        if len(bad):
            raise DatasetError(
                f"{row_location(path, int(bad[0]))}: split column {column!r} holds "
                f"{frame[column].iloc[bad[0]]!r} "
                f"({len(bad)} such row(s)); use train, validation or test, or name another split column with "
                "--split-column.",
                path=path,
            )
        part = part.to_numpy(dtype=np.int64)
        for i, value in enumerate(SPLIT_VALUES):
            if not (part == i).any():
                raise DatasetError(
                    f"{path}: split column {column!r} has no {value} row; mark some rows {value}.", path=path
                )
        return part

    def _drawn_split(self, path: Path, y: np.ndarray, classes: list, target: str, split: int) -> np.ndarray:
        """Stratified train / validation / test parts drawn from (split_seed, split)."""
        _, f_val, f_test = self.options["split_fractions"]
        counts = np.bincount(y, minlength=len(classes))
        small = np.flatnonzero(counts < 3)
        if len(small):
            c = int(small[0])
            raise DatasetError(
                f"{path}: class {classes[c]!r} of target column {target!r} has {counts[c]} row(s); a "
                "stratified train / validation / test split needs at least 3 per class. Add rows, merge or "
                "drop the class, or fix the split with a split column.",
                path=path,
            )
        rng = np.random.default_rng([self.options["split_seed"], split])
        part = np.zeros(len(y), dtype=np.int64)
        for c in range(len(classes)):
            rows = rng.permutation(np.flatnonzero(y == c))
            n = len(rows)
            n_test = max(1, math.floor(f_test * n + 0.5))
            n_val = max(1, math.floor(f_val * n + 0.5))
            while n - n_test - n_val < 1:  # keep a training row: take it from the larger held-out part
                if n_test >= n_val:
                    n_test -= 1
                else:
                    n_val -= 1
            part[rows[:n_test]] = 2
            part[rows[n_test : n_test + n_val]] = 1
        return part

    def _parse(self, name: str) -> _Parsed:
        path = self._file(name)
        frame, separator = read_table(path)
        target, split_column, numeric, categorical, dropped, numbers_from_text = column_roles(
            path,
            frame,
            separator,
            self.options["target"],
            self.options["split_column"],
            self.options.get("keep_columns") or (),
        )
        y, classes = self._labels(path, frame, target)
        return _Parsed(
            path, frame, target, split_column, numeric, categorical, y, classes, separator, dropped,
            numbers_from_text,
        )  # fmt: skip

    # --- the interface ----------------------------------------------------------------------------------
    def load(self, name: str, split: int = 0) -> Dataset:
        split = self.split_check(split)
        parsed = self._parse(name)
        path, frame, split_column = parsed.path, parsed.frame, parsed.split_column
        if split_column is not None:
            if split != 0:
                raise DatasetError(
                    f"{path}: the split column {split_column!r} fixes one split (0), so split {split} does "
                    "not exist; run it with --splits 0, or drop the column to draw several.",
                    path=path,
                )
            part = self._fixed_split(path, frame, split_column)
            unseen = np.setdiff1d(np.arange(len(parsed.classes)), parsed.y[part == 0])
            if len(unseen):  # its test rows would count as errors whatever the loss
                c = int(unseen[0])
                more = f" (and {len(unseen) - 1} more class(es))" if len(unseen) > 1 else ""
                raise DatasetError(
                    f"{path}: class {_plain(parsed.classes[c])!r} of target column {parsed.target!r} has no "
                    f"train row in split column {split_column!r}{more}, so the networks never learn it; mark "
                    "some of its rows train, or remove the class.",
                    path=path,
                )
        else:
            part = self._drawn_split(path, parsed.y, parsed.classes, parsed.target, split)
        train = np.flatnonzero(part == 0)
        features = parsed.numeric + parsed.categorical
        X = preprocess(frame[features], parsed.numeric, parsed.categorical, train, path)
        return Dataset(
            name=name,
            X=np.ascontiguousarray(X, dtype=np.float32),
            y=parsed.y,
            n_classes=len(parsed.classes),
            train=train.astype(np.int64),
            validation=np.flatnonzero(part == 1).astype(np.int64),
            test=np.flatnonzero(part == 2).astype(np.int64),
            split=split,
            source=str(path),
            checksums=self.checksums(name),
        )

    def describe(self, name: str) -> dict:
        """Column roles, dropped columns, numbers read from text, missing values, the split rule and one
        sentence saying all that (JSON-ready, the same for the same file and options).

        Warns (:class:`UserWarning`) when it drops an identifier column: a guess the user may undo with the
        option ``keep_columns``.
        """
        parsed = self._parse(name)
        frame, numeric, categorical = parsed.frame, parsed.numeric, parsed.categorical
        missing = {c: int(frame[c].isna().sum()) for c in numeric + categorical if frame[c].isna().any()}
        levels = {c: int(frame[c].nunique(dropna=True)) for c in categorical}
        if parsed.split_column is not None:
            split = f"split column {parsed.split_column!r}"
        else:
            fractions = "/".join(f"{f:g}" for f in self.options["split_fractions"])
            split = f"stratified {fractions} train/validation/test, seed {self.options['split_seed']}"
        parts = [f"{len(frame)} rows, class column {parsed.target!r} ({len(parsed.classes)} classes)", split]
        if parsed.separator not in (None, ","):
            shown = "a tab" if parsed.separator == "\t" else repr(parsed.separator)
            parts.append(f"read with the separator {shown}")
        if parsed.dropped:
            parts.append(
                f"{len(parsed.dropped)} column(s) dropped: "
                + ", ".join(f"{c!r} ({reason})" for c, reason in parsed.dropped.items())
            )
        if parsed.numbers_from_text:
            parts.append(
                "read as numbers: "
                + ", ".join(f"{c!r} ({how})" for c, how in parsed.numbers_from_text.items())
            )
        if numeric:
            parts.append(f"{len(numeric)} numeric column(s) median-imputed and standardised")
        if categorical:
            width = sum(levels.values())
            parts.append(
                f"{len(categorical)} categorical column(s) mode-imputed and one-hot encoded ({width} levels)"
            )
        if missing:
            parts.append(f"{sum(missing.values())} missing value(s) in {len(missing)} column(s)")
        identifiers = [c for c, reason in parsed.dropped.items() if reason.startswith("an identifier")]
        if identifiers:
            warnings.warn(
                f"{parsed.path}: column(s) {', '.join(map(repr, identifiers))} dropped as identifiers (a "
                "value of their own in every row); name them in the suite option keep_columns to keep them "
                "as features",
                UserWarning,
                stacklevel=2,
            )
        record = {
            "file": parsed.path.name,
            "rows": len(frame),
            "target": parsed.target,
            "classes": [str(c) for c in parsed.classes[:100]],
            "split": split,
            "numeric": numeric,
            "categorical": levels,
            "missing": missing,
            "dropped": parsed.dropped,
            "numbers_from_text": parsed.numbers_from_text,
            "preprocessing": "; ".join(parts) + " (fitted on the training rows of each split)",
        }
        if parsed.separator is not None:
            record["separator"] = parsed.separator
        return record
