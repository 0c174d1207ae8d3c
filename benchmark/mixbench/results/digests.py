"""Digests of selected rows: per task, and of a whole consolidated selected.parquet.

Written with each task file and, per task, into selected.parquet, so a row edited, dropped or copied in from
another run is found (:meth:`mixbench.results.ResultStore.check`).
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd

from mixbench.results.files import SELECTED_COLUMNS, SELECTED_FILE, row_task_names, typed


def rows_digest(frame: pd.DataFrame) -> str:
    """sha256 of selected rows (``SELECTED_COLUMNS``, in their order): the values, floats exactly.

    Written with each task file and, per task, into selected.parquet, so a row edited, dropped or copied in
    from another run is found (:meth:`ResultStore.check`). The text hashed is pandas-version independent:
    one JSON list per row, floats as :meth:`float.hex`.
    """
    digest = hashlib.sha256()
    for row in typed(frame, SELECTED_COLUMNS).itertuples(index=False, name=None):
        digest.update(json.dumps([_canonical(v) for v in row]).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _canonical(value):
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return "nan" if math.isnan(value) else float(value).hex()
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    return str(value)


def task_digests(selected: pd.DataFrame) -> dict[str, str]:
    """``{task_name: rows_digest}`` of each task's rows of a selected-results table (its own row order)."""
    if not len(selected):
        return {}
    names = row_task_names(selected)
    return {name: rows_digest(rows) for name, rows in selected.groupby(names, sort=True)}


def consolidation_record(selected: pd.DataFrame) -> dict:
    """What config.json records of the selected.parquet a run consolidated: the number of tasks and the
    sha256 of their :func:`task_digests`, so a selected.parquet of another run or version is refused."""
    return digests_record(task_digests(selected))


def digests_record(digests: dict[str, str]) -> dict:
    """:func:`consolidation_record` from :func:`task_digests` already computed."""
    text = json.dumps(digests, sort_keys=True).encode()
    return {"file": SELECTED_FILE, "tasks": len(digests), "sha256": hashlib.sha256(text).hexdigest()}
