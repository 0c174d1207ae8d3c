"""Reading a folder suite's file: a CSV or Parquet file as a table, with errors naming the file and line.

The separator of a CSV file is read off its header line (:func:`sniff_separator`). Lines named in errors
are physical lines of the file (blank lines and quoted fields that span lines counted: :func:`csv_records`,
:func:`row_location`); pandas counts a quoted field spanning lines as one line.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from mixbench.data import DatasetError

__all__ = ["csv_records", "read_table", "row_location", "sniff_separator"]

# Separators tried, in this order, on a CSV header that has no comma.
_SEPARATORS = (",", ";", "\t", "|")


def _is_blank(record: list[str]) -> bool:
    """A record pandas skips: an empty or whitespace-only line."""
    return len(record) <= 1 and not "".join(record).strip()


def csv_records(path: Path, separator: str):
    """(first physical line, fields) of every record of a CSV file that pandas reads, the header first."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as stream:
        reader = csv.reader(stream, delimiter=separator)
        end = 0
        for record in reader:
            start, end = end + 1, reader.line_num
            if not _is_blank(record):
                yield start, record


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


def read_table(path: Path) -> tuple[pd.DataFrame, str | None]:
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
        raise _parser_error(path, separator or ",", exc) from None
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
        line, header = next(csv_records(path, separator), (1, []))
        repeated = sorted({c for c in header if header.count(c) > 1})
        if repeated:
            raise DatasetError(
                f"{path}, line {line}: column name(s) {', '.join(map(repr, repeated))} appear more than "
                "once in the header; give every column its own name.",
                path=path,
                line=line,
            )
    return frame, separator


def _parser_error(path: Path, separator: str, exc: Exception) -> DatasetError:
    """The error of a CSV file pandas cannot parse, at the physical line of the bad record (pandas
    counts a quoted field spanning lines as one line)."""
    records = list(csv_records(path, separator))
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


def row_location(path: Path, position: int) -> str:
    """Where row ``position`` (0-based) is: the physical line of a CSV file (blank lines and quoted fields
    spanning lines counted), the row of a Parquet file."""
    if path.suffix.lower() != ".csv":
        return f"{path}, row {position + 1}"
    line = position + 2
    try:  # read again only here, when an error names the row
        for i, (start, _) in enumerate(csv_records(path, sniff_separator(path))):
            if i == position + 1:  # record 0 is the header
                line = start
                break
    except (OSError, csv.Error):  # a field over csv's size limit: name pandas' count
        pass
    return f"{path}, line {line} (data row {position + 1})"
