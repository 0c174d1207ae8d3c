"""The column decisions of a folder suite's file: the target, and which columns are features.

A column is numeric (numbers, booleans, and text whose every value is a number: :func:`text_numbers`) or
categorical (text), or dropped with its reason: a row index (:func:`row_index_reason`), empty in every row,
or an identifier of the rows (:func:`identifier_reason`). :func:`column_roles` makes every decision for one
file and raises a :class:`~mixbench.data.DatasetError` naming the file, the column or row and the fix.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from mixbench.data import DatasetError
from mixbench.suites.folder.reading import row_location

__all__ = ["column_roles", "identifier_reason", "row_index_reason", "text_numbers"]

# An object column whose values are numbers but for at most this share is a numeric column with typos.
_MOSTLY_NUMERIC = 0.9
# A number with thousands separators: 5,100 or -1,234.5 (a leading group of 1-3 digits, not 0, then ,ddd).
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d*)?(?:[eE][+-]?\d+)?")
# A number with a decimal comma (1,5 or -0,25), read as such in files whose separator is not a comma.
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")
# Fewer rows than this: too few to tell an identifier from a feature by its values.
_MIN_IDENTIFIER_ROWS = 10
# Leading column names of a row index that pandas' to_csv (index=True, the default) writes.
_ROW_INDEX_NAMES = ("", "Unnamed: 0")


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


def column_roles(
    path: Path,
    frame: pd.DataFrame,
    separator: str | None,
    target: str | None,
    split_column: str | None,
    keep_columns: Iterable[str] = (),
) -> tuple[str, str | None, list[str], list[str], dict[str, str], dict[str, str]]:
    """(target, split column or None, numeric columns, categorical columns, dropped columns with why,
    columns read as numbers from text with how); raises on a bad column. Converts those text columns in
    ``frame``.

    Parameters
    ----------
    path : Path
        The file, named in errors.
    frame : DataFrame of shape (n_rows, n_columns)
        The file's table (:func:`~mixbench.suites.folder.reading.read_table`); its column names become
        text and columns read as numbers are replaced in place.
    separator : str or None
        The CSV file's separator, None for Parquet.
    target : str or None
        The class column (the option ``target``); None: the last column that is not the split column.
    split_column : str or None
        The option ``split_column``; returned as None when the file has no such column.
    keep_columns : iterable of str
        Columns kept as features even when they look like identifiers or a row index.
    """
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    split_column = split_column if split_column in columns else None
    if target is None:
        candidates = [c for c in columns if c != split_column]
        if not candidates:
            raise DatasetError(f"{path}: no column besides the split column; add the features and the class.")
        target = candidates[-1]
    elif target not in columns:
        raise DatasetError(
            f"{path}: no target column {target!r} (columns: {', '.join(columns)}); give the class column "
            "with --target COLUMN (default: the last column).",
            path=path,
        )
    keep = set(keep_columns or ())
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
            values = _text_column(path, frame, column, separator or ",", numbers_from_text)
        elif values.dtype == object:  # numbers pandas keeps as Python objects: integers beyond int64
            values = _object_numbers(path, frame, column, numbers_from_text)
        if pd.api.types.is_bool_dtype(values) or (
            pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values)
        ):
            finite = (
                np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan)) | values.isna().to_numpy()
            )
            if not finite.all():
                first = int(np.flatnonzero(~finite)[0])
                raise DatasetError(
                    f"{row_location(path, first)}: column {column!r} holds {values.iloc[first]!r}; features "
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
    path: Path, frame: pd.DataFrame, column: str, separator: str, numbers_from_text: dict[str, str]
) -> pd.Series:
    """A text column, or its numbers (put in ``frame``, noted in ``numbers_from_text``) when it holds
    numbers only; raises on a mix of text and other types, or on numbers but for a few values."""
    values = frame[column]
    present = values.dropna()
    kinds = {type(v) for v in present}
    if present.size and not kinds <= {str}:
        bad = next(i for i, v in enumerate(values) if pd.notna(v) and not isinstance(v, str))
        raise DatasetError(
            f"{row_location(path, bad)}: column {column!r} mixes text and {type(values.iloc[bad]).__name__} "
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
            f"{row_location(path, bad)}: column {column!r} is numeric but for {values.iloc[bad]!r}; "
            "fix that value, or leave it empty to mark it missing (it is then imputed). A column "
            "of category codes should use codes that are not numbers.",
            path=path,
        )
    return values


def _object_numbers(
    path: Path, frame: pd.DataFrame, column: str, numbers_from_text: dict[str, str]
) -> pd.Series:
    """A column of Python objects as float64 numbers (put in ``frame``, noted in ``numbers_from_text``) when
    every value present is a number: integers too large for int64, which pandas keeps as Python ints (or
    Parquet decimals); the column as it is otherwise. Raises on an integer beyond float64's range."""
    values = frame[column]
    present = values.dropna()
    if any(isinstance(v, bool | np.bool_) for v in present):  # True is no number 1 in a column of numbers
        return values
    try:
        numbers = pd.to_numeric(values).astype(np.float64)
    except OverflowError:
        too_large = (i for i, v in enumerate(values) if isinstance(v, int) and abs(v) > sys.float_info.max)
        bad = next(too_large, None)
        if bad is None:  # not an integer of the file: leave the column to the type check
            return values
        digits = int(math.log10(abs(values.iloc[bad]))) + 1  # str() refuses ints over 4300 digits
        raise DatasetError(
            f"{row_location(path, bad)}: column {column!r} holds an integer of {digits} digits, beyond "
            "float64's range; features must be finite numbers (rescale the column, or leave the value empty "
            "to mark it missing: it is imputed).",
            path=path,
        ) from None
    except (TypeError, ValueError):  # some value is not a number
        return values
    kinds = sorted({type(v).__name__ for v in present})
    if all(isinstance(v, int) for v in present):
        numbers_from_text[column] = "integers too large for int64"
    else:
        numbers_from_text[column] = f"numbers stored as {', '.join(kinds)} objects"
    frame[column] = numbers
    return frame[column]
