"""``folder:PATH``: your own tabular datasets, one CSV or Parquet file per dataset.

Every ``*.csv`` or ``*.parquet`` file of PATH is a dataset named after the file (``wine.csv`` -> ``wine``).

- The class column is ``target`` (``--target``; default the last column that is not the split column).
- A file with a ``split_column`` (``--split-column``, default ``split``) of ``train`` / ``validation`` /
  ``test`` values has that one split. Other files get stratified train / validation / test splits drawn
  from ``split_seed`` (``--split-seed``) in the proportions ``split_fractions`` (``--split-fractions``,
  default 0.5, 0.25, 0.25); split ``k`` of ``n_splits`` is the draw of ``(split_seed, k)``, so every split
  is reproducible on its own.
- Columns: numbers (and booleans) are numeric, text is categorical. Numeric columns are imputed with the
  training median and standardised; categorical ones imputed with the training mode and one-hot encoded
  (a category seen only outside the training rows gets all zeros). Everything is fitted on the training rows
  only (scikit-learn's ``ColumnTransformer``). What was done is recorded in the run's config.json
  (:meth:`FolderSuite.describe`) and readable by :func:`mixbench.suites.preprocessing_summary`.

Bad input raises one :class:`~mixbench.data.DatasetError` naming the file, the column or row and the fix, and
fails only that dataset's tasks: no target column, one class, a class too small to stratify, an empty file,
a column neither numeric nor categorical, a split column with other values, two files of one name.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from mixbench.data import Dataset, DatasetError
from mixbench.suites import Suite, SuiteError, sha256_file

SUFFIXES = (".csv", ".parquet")
SPLIT_VALUES = ("train", "validation", "test")
# An object column whose values are numbers but for at most this share is a numeric column with typos.
_MOSTLY_NUMERIC = 0.9


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


class FolderSuite(Suite):
    """A folder of CSV / Parquet files, one dataset each (see the module docstring)."""

    kind = "folder"
    default_options = {
        "target": None,
        "split_column": "split",
        "split_fractions": (0.5, 0.25, 0.25),
        "split_seed": 0,
        "n_splits": 4,
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
        path = self._file(name)
        try:
            if path.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                meta = pq.ParquetFile(path).metadata
                return int(meta.num_rows), max(int(meta.num_columns) - 1, 1), 2
            with path.open("rb") as stream:
                n_lines = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
            with path.open(newline="", encoding="utf-8", errors="replace") as stream:
                header = next(csv.reader(stream), [])
            return max(n_lines - 1, 1), max(len(header) - 1, 1), 2
        except Exception:  # a file too broken to size: load() will name the problem; schedule it small
            return 1, 1, 2

    # --- reading and checking -------------------------------------------------------------------------
    def _read(self, path: Path) -> pd.DataFrame:
        try:
            if path.suffix.lower() == ".parquet":
                frame = pd.read_parquet(path)
            else:
                frame = pd.read_csv(path, low_memory=False)
        except pd.errors.EmptyDataError:
            raise DatasetError(
                f"{path}: the file is empty; write a header row and one row per example, or remove the file.",
                path=path,
                line=1,
            ) from None
        except Exception as exc:  # pandas / pyarrow parser errors have no common base class
            kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
            raise DatasetError(
                f"{path}: cannot be read as {kind} ({type(exc).__name__}: {exc}); fix the file or remove it.",
                path=path,
            ) from None
        if len(frame) == 0:
            raise DatasetError(
                f"{path}: no data rows (only a header); add rows or remove the file.", path=path, line=1
            )
        if path.suffix.lower() == ".csv":  # pandas renames a repeated column a -> a.1 silently
            with path.open(newline="", encoding="utf-8", errors="replace") as stream:
                header = next(csv.reader(stream), [])
            repeated = sorted({c for c in header if header.count(c) > 1})
            if repeated:
                raise DatasetError(
                    f"{path}, line 1: column name(s) {', '.join(map(repr, repeated))} appear more than once "
                    "in the header; give every column its own name.",
                    path=path,
                    line=1,
                )
        return frame

    def _row(self, path: Path, position: int) -> str:
        """Where row ``position`` (0-based) is: CSV lines count the header."""
        if path.suffix.lower() == ".csv":
            return f"{path}, line {position + 2} (data row {position + 1})"
        return f"{path}, row {position + 1}"

    def _columns(self, path: Path, frame: pd.DataFrame) -> tuple[str, str | None, list[str], list[str]]:
        """(target, split column or None, numeric columns, categorical columns); raises on a bad column."""
        columns = [str(c) for c in frame.columns]
        frame.columns = columns
        split_column = self.options["split_column"]
        split_column = split_column if split_column in columns else None
        target = self.options["target"]
        if target is None:
            candidates = [c for c in columns if c != split_column]
            if not candidates:
                raise DatasetError(
                    f"{path}: no column besides the split column; add the features and the class."
                )
            target = candidates[-1]
        elif target not in columns:
            raise DatasetError(
                f"{path}: no target column {target!r} (columns: {', '.join(columns)}); give the class column "
                "with --target COLUMN (default: the last column).",
                path=path,
            )
        numeric, categorical = [], []
        for column in columns:
            if column in (target, split_column):
                continue
            values = frame[column]
            if pd.api.types.is_bool_dtype(values) or (
                pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values)
            ):
                finite = (
                    np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan)) | values.isna().to_numpy()
                )
                if not finite.all():
                    first = int(np.flatnonzero(~finite)[0])
                    raise DatasetError(
                        f"{self._row(path, first)}: column {column!r} holds {values.iloc[first]!r}; features "
                        "must be finite numbers (leave a value empty to mark it missing: it is imputed).",
                        path=path,
                    )
                numeric.append(column)
            elif isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(values):
                present = values.dropna()
                kinds = {type(v) for v in present}
                if present.size and not kinds <= {str}:
                    bad = next(i for i, v in enumerate(values) if pd.notna(v) and not isinstance(v, str))
                    raise DatasetError(
                        f"{self._row(path, bad)}: column {column!r} mixes text and "
                        f"{type(values.iloc[bad]).__name__} "
                        f"values ({values.iloc[bad]!r}); a column is either numbers or text categories. "
                        "Store it as one type.",
                        path=path,
                    )
                as_number = pd.to_numeric(present, errors="coerce")
                if present.size and as_number.notna().mean() >= _MOSTLY_NUMERIC:
                    bad = int(
                        np.flatnonzero(
                            values.notna().to_numpy()
                            & pd.to_numeric(values, errors="coerce").isna().to_numpy()
                        )[0]
                    )
                    raise DatasetError(
                        f"{self._row(path, bad)}: column {column!r} is numeric but for {values.iloc[bad]!r}; "
                        "fix that value, or leave it empty to mark it missing (it is then imputed). A column "
                        "of category codes should use codes that are not numbers.",
                        path=path,
                    )
                categorical.append(column)
            else:
                raise DatasetError(
                    f"{path}: column {column!r} has type {values.dtype}, neither numeric nor categorical; "
                    "convert it to numbers (a date to days since a day) or to text categories, or drop it.",
                    path=path,
                )
        if not numeric and not categorical:
            raise DatasetError(
                f"{path}: no feature column besides the target {target!r}; add features.", path=path
            )
        return target, split_column, numeric, categorical

    def _labels(self, path: Path, frame: pd.DataFrame, target: str) -> tuple[np.ndarray, list]:
        values = frame[target]
        missing = np.flatnonzero(values.isna().to_numpy())
        if len(missing):
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise DatasetError(
                f"{self._row(path, int(missing[0]))}: no class in target column {target!r}{more}; fill in "
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
        return codes.astype(np.int64), [c.item() if hasattr(c, "item") else c for c in classes]

    def _fixed_split(self, path: Path, frame: pd.DataFrame, column: str) -> np.ndarray:
        """0 train, 1 validation, 2 test for every row, from the split column."""
        text = frame[column].astype("string").str.strip().str.lower()
        part = text.map({v: i for i, v in enumerate(SPLIT_VALUES)})
        bad = np.flatnonzero(part.isna().to_numpy())
        if len(bad):
            raise DatasetError(
                f"{self._row(path, int(bad[0]))}: split column {column!r} holds "
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

    def _parse(self, name: str):
        path = self._file(name)
        frame = self._read(path)
        target, split_column, numeric, categorical = self._columns(path, frame)
        y, classes = self._labels(path, frame, target)
        return path, frame, target, split_column, numeric, categorical, y, classes

    # --- the interface ----------------------------------------------------------------------------------
    def load(self, name: str, split: int = 0) -> Dataset:
        split = self.split_check(split)
        path, frame, target, split_column, numeric, categorical, y, classes = self._parse(name)
        if split_column is not None:
            if split != 0:
                raise DatasetError(
                    f"{path}: the split column {split_column!r} fixes one split (0), so split {split} does "
                    "not exist; run it with --splits 0, or drop the column to draw several.",
                    path=path,
                )
            part = self._fixed_split(path, frame, split_column)
        else:
            part = self._drawn_split(path, y, classes, target, split)
        train = np.flatnonzero(part == 0)
        X = preprocess(frame[numeric + categorical], numeric, categorical, train, path)
        return Dataset(
            name=name,
            X=np.ascontiguousarray(X, dtype=np.float32),
            y=y,
            n_classes=len(classes),
            train=train.astype(np.int64),
            validation=np.flatnonzero(part == 1).astype(np.int64),
            test=np.flatnonzero(part == 2).astype(np.int64),
            split=split,
            source=str(path),
            checksums=self.checksums(name),
        )

    def describe(self, name: str) -> dict:
        """Column roles, missing values, the split rule and one sentence saying all that (JSON-ready)."""
        path, frame, target, split_column, numeric, categorical, y, classes = self._parse(name)
        missing = {c: int(frame[c].isna().sum()) for c in numeric + categorical if frame[c].isna().any()}
        levels = {c: int(frame[c].nunique(dropna=True)) for c in categorical}
        if split_column is not None:
            split = f"split column {split_column!r}"
        else:
            fractions = "/".join(f"{f:g}" for f in self.options["split_fractions"])
            split = f"stratified {fractions} train/validation/test, seed {self.options['split_seed']}"
        parts = [f"{len(frame)} rows, class column {target!r} ({len(classes)} classes)", split]
        if numeric:
            parts.append(f"{len(numeric)} numeric column(s) median-imputed and standardised")
        if categorical:
            width = sum(levels.values())
            parts.append(
                f"{len(categorical)} categorical column(s) mode-imputed and one-hot encoded ({width} levels)"
            )
        if missing:
            parts.append(f"{sum(missing.values())} missing value(s) in {len(missing)} column(s)")
        return {
            "file": path.name,
            "rows": len(frame),
            "target": target,
            "classes": [str(c) for c in classes[:100]],
            "split": split,
            "numeric": numeric,
            "categorical": levels,
            "missing": missing,
            "preprocessing": "; ".join(parts) + " (fitted on the training rows of each split)",
        }


def preprocess(
    features: pd.DataFrame, numeric: list[str], categorical: list[str], train: np.ndarray, where
) -> np.ndarray:
    """Impute, standardise and one-hot encode features with statistics of the training rows only.

    Numeric columns: median imputation, then standardisation. Categorical columns: mode imputation, then
    one-hot encoding (a category absent from the training rows gets all zeros). A column empty in the
    training rows is dropped by the imputer.

    Parameters
    ----------
    features : DataFrame of shape (n_rows, n_columns)
    numeric, categorical : list of str
        The column roles.
    train : ndarray of int
        The training rows the transformer is fitted on.
    where : str or Path
        The file or source, named in an error.

    Returns
    -------
    ndarray of shape (n_rows, n_features_out), float32

    Raises
    ------
    DatasetError
        No feature is left, or a transformed value is not finite in float32.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = features.copy()
    for column in categorical:  # one missing marker (NaN) and plain objects, whatever the source dtype
        features[column] = features[column].astype(object).where(features[column].notna(), np.nan)
    transformer = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64),
                ),
                categorical,
            ),
        ],
        remainder="drop",
        sparse_threshold=0.0,
    )
    transformer.fit(features.iloc[train])  # statistics of the training rows only
    X = np.asarray(transformer.transform(features), dtype=np.float64)
    if X.shape[1] == 0:
        raise DatasetError(
            f"{where}: every feature column is empty in the training rows; add values.", path=where
        )
    if not np.isfinite(X).all() or np.abs(X).max(initial=0) > np.finfo(np.float32).max:
        raise DatasetError(
            f"{where}: the features are not finite after imputation and standardisation (a value beyond "
            "float32's range?); rescale the offending column.",
            path=where,
        )
    return np.ascontiguousarray(X, dtype=np.float32)
