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
  decimal commas in a comma-separated file are refused (``1,5`` could be 1.5 or 15). A column of integers
  too large for int64 (``10000000000000000000000000``, which pandas keeps as Python objects) is read as
  floats and recorded too.
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

The package, one concept per module: :mod:`~mixbench.suites.folder.reading` (a file as a table, its
separator, physical line numbers), :mod:`~mixbench.suites.folder.columns` (the target and the role of every
column), :mod:`~mixbench.suites.folder.preprocessing` (imputation, standardisation, one-hot encoding) and
:mod:`~mixbench.suites.folder.suite` (:class:`FolderSuite`, registered as the kind ``folder``); this module
only re-exports their public names.
"""

from __future__ import annotations

from mixbench.suites.folder.columns import column_roles, identifier_reason, row_index_reason, text_numbers
from mixbench.suites.folder.preprocessing import preprocess
from mixbench.suites.folder.reading import csv_records, read_table, row_location, sniff_separator
from mixbench.suites.folder.suite import SPLIT_VALUES, SUFFIXES, FolderSuite

__all__ = [
    "SPLIT_VALUES",
    "SUFFIXES",
    "FolderSuite",
    "column_roles",
    "csv_records",
    "identifier_reason",
    "preprocess",
    "read_table",
    "row_index_reason",
    "row_location",
    "sniff_separator",
    "text_numbers",
]
