"""``folder:PATH``: your own tabular datasets, one CSV or Parquet file per dataset.

Every ``*.csv`` or ``*.parquet`` file of PATH is a dataset named after the file (``wine.csv`` -> ``wine``).

- The class column is ``target`` (``--target``; default the last column that is not the split column).
- A file with a ``split_column`` (``--split-column``, default ``split``) of ``train`` / ``validation`` /
  ``test`` values has that one split. Other files get stratified train / validation / test splits drawn
  from ``split_seed`` (``--split-seed``) in the proportions ``split_fractions`` (``--split-fractions``,
  default 0.5, 0.25, 0.25); split ``k`` of ``n_splits`` is the draw of ``(split_seed, k)``, so every split
  is reproducible on its own.
- CSV files: the separator is read off the header line. It is a comma unless the header has no comma and
  splits on ``;``, a tab or ``|``: then that one (config.json records the separator of every CSV file).
  Lines named in errors are physical lines of the file (blank lines and quoted fields that span lines
  counted).
- Columns: numbers (and booleans) are numeric, text is categorical. Text numbers are numbers: a column whose
  every value is a number, some written with thousands separators (``"5,100"``, ``"1,234.5"``; with
  decimal commas such as ``1,5`` in a file whose separator is not a comma), is read as numbers and recorded;
  decimal commas in a comma-separated file are refused (``1,5`` could be 1.5 or 15).
  Numeric columns are imputed with the training median and standardised; categorical ones imputed with the
  training mode and one-hot encoded (a category seen only outside the training rows gets all zeros).
  Everything is fitted on the training rows only (scikit-learn's ``ColumnTransformer``). What was done is
  recorded in the run's config.json (:meth:`FolderSuite.describe`) and readable by
  :func:`mixbench.suites.preprocessing_summary`, which the report shows.
- Columns that are not features are dropped, and each drop is recorded with its reason: a *row index*
  (a leading column named ``Unnamed: 0`` or with an empty name, of distinct integers: what pandas'
  ``to_csv`` writes by default; on rows sorted by class it gives the class away), a column *empty* in every
  row, and an *identifier*: a column unique per row, either text with a distinct value in every row or
  integers, distinct in every row, that form a consecutive range (``1..n``, ``1001..1000+n``, in any order)
  or run strictly up or down the file (at least 10 rows; a column with a missing value, a float
  column with a fraction and a boolean one are never identifiers). An identifier is dropped *with a
  warning* (a :class:`UserWarning` when the run records its data): name it in the option ``keep_columns``
  (``suite_options = { keep_columns = ["patient_id"] }`` in a config file, or
  ``get_suite("folder:PATH", keep_columns=["patient_id"])``) to keep it as a feature.

Bad input raises one :class:`~mixbench.data.DatasetError` naming the file, the column or row and the fix, and
fails only that dataset's tasks: no target column, one class, a class too small to stratify, an empty file,
a row with more fields than the header, an unclosed quote, a column neither numeric nor categorical, a
numeric column with a value that is not a number, no feature column left (its dropped columns named), a
split column with other values, two files of one name.
"""

from __future__ import annotations

import csv
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mixbench.data import Dataset, DatasetError
from mixbench.suites import Suite, SuiteError, sha256_file

SUFFIXES = (".csv", ".parquet")
SPLIT_VALUES = ("train", "validation", "test")
# An object column whose values are numbers but for at most this share is a numeric column with typos.
_MOSTLY_NUMERIC = 0.9
# Separators tried, in this order, on a CSV header that has no comma.
_SEPARATORS = (",", ";", "\t", "|")
# A number with thousands separators: 5,100 or -1,234.5 (a leading group of 1-3 digits, not 0, then ,ddd).
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?")
# A number with a decimal comma (1,5 or -0,25), read as such in files whose separator is not a comma.
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")
# Fewer rows than this: too few to tell an identifier from a feature by its values.
_MIN_IDENTIFIER_ROWS = 10
# Leading column names of a row index that pandas' to_csv (index=True, the default) writes.
_ROW_INDEX_NAMES = ("", "Unnamed: 0")


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


def _is_blank(record: list[str]) -> bool:
    """A record pandas skips: an empty or whitespace-only line."""
    return len(record) <= 1 and not "".join(record).strip()


def _csv_records(path: Path, separator: str):
    """(first physical line, fields) of every record of a CSV file that pandas reads, the header first."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as stream:
        reader = csv.reader(stream, delimiter=separator)
        end = 0
        for record in reader:
            start, end = end + 1, reader.line_num
            if not _is_blank(record):
                yield start, record


def _plain(value):
    """A numpy scalar as the Python value it holds, for messages (``-2.71``, not ``np.float64(-2.71)``)."""
    return value.item() if hasattr(value, "item") else value


def _refuse_repeated_parquet_columns(path: Path) -> None:
    """A Parquet file whose columns repeat a name: one line (pyarrow's error spans its whole schema)."""
    import pyarrow.parquet as pq

    try:
        names = [str(n) for n in pq.read_schema(path).names]
    except Exception:  # not readable as Parquet: reading it says so
        return
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DatasetError(
            f"{path}: column name(s) {', '.join(map(repr, repeated))} appear more than once in the file; "
            "give every column its own name.",
            path=path,
        )


def sniff_separator(path: str | os.PathLike) -> str:
    """The separator of a CSV file, read off its header (first non-blank) line.

    A comma, unless the header has no comma and splits into more columns on ``;``, a tab or ``|``: then the
    one of those that splits it into the most columns (the first of them on a tie).

    Parameters
    ----------
    path : str or PathLike
        The CSV file.

    Returns
    -------
    str
        One of ``,``, ``;``, ``\\t``, ``|``.
    """
    with Path(path).open(newline="", encoding="utf-8-sig", errors="replace") as stream:
        header = next((line for line in stream if line.strip()), "")
    widths = {sep: len(next(csv.reader([header], delimiter=sep), [])) for sep in _SEPARATORS}
    if widths[","] > 1:
        return ","
    best = max(_SEPARATORS[1:], key=lambda sep: widths[sep])  # max keeps the first of equals
    return best if widths[best] > 1 else ","


def text_numbers(values: pd.Series, separator: str = ",") -> tuple[pd.Series, str]:
    """A text column read as numbers, with thousands separators or decimal commas.

    With ``separator`` a comma, values such as ``5,100`` or ``1,234.5`` lose their thousands separators;
    with another separator, values such as ``1,5`` have a decimal comma. Other values are read as they are.

    Parameters
    ----------
    values : Series of shape (n_rows,)
        Text values (missing values allowed).
    separator : str
        The file's column separator.

    Returns
    -------
    numbers : Series of shape (n_rows,), float64
        NaN where a value is missing or is not a number.
    how : str
        ``thousands separators``, ``decimal commas`` (some value had them) or ``numbers written as text``.
    """
    text = values.astype("string").str.strip()
    if separator == ",":
        pattern, replacement, how = _THOUSANDS, "", "thousands separators"
    else:
        pattern, replacement, how = _DECIMAL_COMMA, ".", "decimal commas"
    marked = text.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)
    text = text.where(~marked, text.str.replace(",", replacement, regex=False))
    numbers = pd.to_numeric(text.to_numpy(dtype=object, na_value=np.nan), errors="coerce")
    return pd.Series(numbers, index=values.index, dtype=np.float64), how if marked.any() else (
        "numbers written as text"
    )


def _integers(values: pd.Series) -> np.ndarray | None:
    """The values as float64 if every one is a whole number (no missing value), else None."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values) or values.isna().any():
        return None
    if pd.api.types.is_complex_dtype(values):
        return None
    numbers = values.to_numpy(dtype=np.float64)
    return numbers if np.isfinite(numbers).all() and (numbers == np.round(numbers)).all() else None


def row_index_reason(name: str, values: pd.Series) -> str:
    """Why a file's leading column is a row index, or '' if it is not one.

    A row index is named ``Unnamed: 0`` (what pandas calls the empty name ``to_csv`` writes) or has an empty
    name, and holds distinct integers. Its values say where a row was, and so which class on sorted data.

    Parameters
    ----------
    name : str
        The column's name.
    values : Series of shape (n_rows,)

    Returns
    -------
    str
        The reason, for the record, or ''.
    """
    numbers = _integers(values)
    if name.strip() not in _ROW_INDEX_NAMES or numbers is None or len(np.unique(numbers)) < len(numbers):
        return ""
    return (
        f"a row index: distinct integers {numbers.min():.0f}..{numbers.max():.0f}, as pandas' to_csv writes "
        "its index"
    )


def identifier_reason(values: pd.Series) -> str:
    """Why a feature column looks like an identifier of its rows, or '' if it does not.

    An identifier has a value of its own in every row (no missing value, at least 10 rows): text with
    distinct values, or distinct integers that form a consecutive range (in any order) or run strictly up
    or down the file. Floats with a fraction and booleans are never identifiers.

    Parameters
    ----------
    values : Series of shape (n_rows,)

    Returns
    -------
    str
        The reason, for the record, or ''.
    """
    n = len(values)
    if n < _MIN_IDENTIFIER_ROWS or values.isna().any() or pd.api.types.is_bool_dtype(values):
        return ""
    if pd.api.types.is_numeric_dtype(values):
        numbers = _integers(values)
        if numbers is None or len(np.unique(numbers)) < n:
            return ""
        low, high = numbers.min(), numbers.max()
        if high - low == n - 1:
            return f"an identifier: {n} distinct integers {low:.0f}..{high:.0f}, one per row"
        steps = np.diff(numbers)
        if (steps > 0).all() or (steps < 0).all():
            order = "increasing" if steps[0] > 0 else "decreasing"
            return f"an identifier: {n} distinct integers, {order} down the file"
        return ""
    if values.nunique(dropna=True) == n:
        return f"an identifier: {n} distinct text values, one per row"
    return ""


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
            _, header = next(_csv_records(path, sniff_separator(path)), (1, []))
            return max(n_lines - 1, 1), max(len(header) - 1, 1), 2
        except Exception:  # a file too broken to size: load() will name the problem; schedule it small
            return 1, 1, 2

    # --- reading and checking -------------------------------------------------------------------------
    def _read(self, path: Path) -> tuple[pd.DataFrame, str | None]:
        """The file's table and its separator (None for Parquet); raises DatasetError on a bad file."""
        separator = None
        if path.suffix.lower() == ".parquet":
            _refuse_repeated_parquet_columns(path)
        try:
            if path.suffix.lower() == ".parquet":
                frame = pd.read_parquet(path)
            else:
                separator = sniff_separator(path)
                frame = pd.read_csv(path, sep=separator, low_memory=False)
        except pd.errors.EmptyDataError:
            raise DatasetError(
                f"{path}: the file is empty; write a header row and one row per example, or remove the file.",
                path=path,
                line=1,
            ) from None
        except pd.errors.ParserError as exc:
            raise self._parser_error(path, separator or ",", exc) from None
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
        if separator is not None:  # pandas renames a repeated column a -> a.1 silently
            line, header = next(_csv_records(path, separator), (1, []))
            repeated = sorted({c for c in header if header.count(c) > 1})
            if repeated:
                raise DatasetError(
                    f"{path}, line {line}: column name(s) {', '.join(map(repr, repeated))} appear more than "
                    "once in the header; give every column its own name.",
                    path=path,
                    line=line,
                )
        return frame, separator

    def _parser_error(self, path: Path, separator: str, exc: Exception) -> DatasetError:
        """The error of a CSV file pandas cannot parse, at the physical line of the bad record (pandas
        counts a quoted field spanning lines as one line)."""
        records = list(_csv_records(path, separator))
        if len(records) > 1:
            width = len(records[0][1])
            # pandas reads a first data row one field longer than the header as an index column
            allowed = width + 1 if len(records[1][1]) == width + 1 else width
            for line, record in records[1:]:
                if len(record) > allowed:
                    shown = "a tab" if separator == "\t" else repr(separator)
                    return DatasetError(
                        f"{path}, line {line}: {len(record)} fields where the header has {width}; put "
                        f"a value holding the separator {shown} in double quotes, or remove the extra "
                        "fields.",
                        path=path,
                        line=line,
                    )
            if "EOF inside string" in str(exc):
                line = records[-1][0]
                return DatasetError(
                    f"{path}, line {line}: a double quote opened in the row starting on this line is never "
                    'closed; close it (a quote inside a quoted value is written "").',
                    path=path,
                    line=line,
                )
        return DatasetError(
            f"{path}: cannot be read as CSV ({type(exc).__name__}: {exc}); fix the file or remove it.",
            path=path,
        )

    def _row(self, path: Path, position: int) -> str:
        """Where row ``position`` (0-based) is: the physical line of a CSV file (blank lines and quoted fields
        spanning lines counted), the row of a Parquet file."""
        if path.suffix.lower() != ".csv":
            return f"{path}, row {position + 1}"
        line = position + 2
        try:  # read again only here, when an error names the row
            for i, (start, _) in enumerate(_csv_records(path, sniff_separator(path))):
                if i == position + 1:  # record 0 is the header
                    line = start
                    break
        except (OSError, csv.Error):  # a field over csv's size limit: name pandas' count
            pass
        return f"{path}, line {line} (data row {position + 1})"

    def _columns(
        self, path: Path, frame: pd.DataFrame, separator: str | None
    ) -> tuple[str, str | None, list[str], list[str], dict[str, str], dict[str, str]]:
        """(target, split column or None, numeric columns, categorical columns, dropped columns with why,
        columns read as numbers from text with how); raises on a bad column. Converts those text columns in
        ``frame``."""
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
        keep = set(self.options.get("keep_columns") or ())
        numeric, categorical, dropped, numbers_from_text = [], [], {}, {}
        for position, column in enumerate(columns):
            if column in (target, split_column):
                continue
            values = frame[column]
            if values.isna().all():
                dropped[column] = f"empty in all {len(values)} rows"
                continue
            if position == 0 and column not in keep and row_index_reason(column, values):
                dropped[column] = row_index_reason(column, values)
                continue
            if isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(values):
                values = self._text_column(path, frame, column, separator or ",", numbers_from_text)
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
                kind = numeric
            elif isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(values):
                kind = categorical
            else:
                raise DatasetError(
                    f"{path}: column {column!r} has type {values.dtype}, neither numeric nor categorical; "
                    "convert it to numbers (a date to days since a day) or to text categories, or drop it.",
                    path=path,
                )
            reason = "" if column in keep else identifier_reason(values)
            if reason:
                dropped[column] = reason
            else:
                kind.append(column)
        if not numeric and not categorical:
            if dropped:
                why = "; ".join(f"{c!r} dropped: {reason}" for c, reason in dropped.items())
                fix = "add feature columns"
                if any(reason.startswith("empty") for reason in dropped.values()):
                    fix = "fill in the empty column or add feature columns"
                if any(reason.startswith("an identifier") for reason in dropped.values()):
                    fix += " (to keep an identifier as a feature, name it in the suite option keep_columns)"
                raise DatasetError(
                    f"{path}: no feature column besides the target {target!r} ({why}); {fix}.", path=path
                )
            hint = ""
            if separator is not None and len(columns) == 1:
                hint = " The header is one column: separate the columns with ',' (or ';', a tab or '|')."
            raise DatasetError(
                f"{path}: no feature column besides the target {target!r}; add features.{hint}", path=path
            )
        return target, split_column, numeric, categorical, dropped, numbers_from_text

    def _text_column(
        self, path: Path, frame: pd.DataFrame, column: str, separator: str, numbers_from_text: dict[str, str]
    ) -> pd.Series:
        """A text column, or its numbers (put in ``frame``, noted in ``numbers_from_text``) when it holds
        numbers only; raises on a mix of text and other types, or on numbers but for a few values."""
        values = frame[column]
        present = values.dropna()
        kinds = {type(v) for v in present}
        if present.size and not kinds <= {str}:
            bad = next(i for i, v in enumerate(values) if pd.notna(v) and not isinstance(v, str))
            raise DatasetError(
                f"{self._row(path, bad)}: column {column!r} mixes text and {type(values.iloc[bad]).__name__} "
                f"values ({values.iloc[bad]!r}); a column is either numbers or text categories. "
                "Store it as one type.",
                path=path,
            )
        numbers, how = text_numbers(values, separator)
        unread = values.notna().to_numpy() & numbers.isna().to_numpy()
        if not unread.any():
            frame[column] = numbers
            numbers_from_text[column] = how
            return numbers
        if separator == "," and text_numbers(values, ";")[0].notna().sum() == present.size:
            example = values.iloc[int(np.flatnonzero(unread)[0])]
            raise DatasetError(
                f"{path}: column {column!r} holds numbers with a decimal comma ({example!r}) in a file "
                "whose separator is a comma; write them with a decimal point (1.5), or separate the columns "
                "with ';'.",
                path=path,
            )
        if 1 - unread.sum() / present.size >= _MOSTLY_NUMERIC:
            bad = int(np.flatnonzero(unread)[0])
            raise DatasetError(
                f"{self._row(path, bad)}: column {column!r} is numeric but for {values.iloc[bad]!r}; "
                "fix that value, or leave it empty to mark it missing (it is then imputed). A column "
                "of category codes should use codes that are not numbers.",
                path=path,
            )
        return values

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

    def _parse(self, name: str) -> _Parsed:
        path = self._file(name)
        frame, separator = self._read(path)
        target, split_column, numeric, categorical, dropped, numbers_from_text = self._columns(
            path, frame, separator
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

    empty = [c for c in numeric + categorical if features[c].iloc[train].isna().all()]
    if empty and len(empty) == len(numeric) + len(categorical):
        raise DatasetError(
            f"{where}: feature column(s) {', '.join(map(repr, empty))} have no value in the training rows of "
            "this split, and there is no other feature; fill in values or add feature columns.",
            path=where,
        )
    # dropped here rather than by the imputer, which warns once per fit and fails when none is left
    numeric = [c for c in numeric if c not in empty]
    categorical = [c for c in categorical if c not in empty]
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
