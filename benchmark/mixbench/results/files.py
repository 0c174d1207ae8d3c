"""The files of a run directory: their names, the table columns, reading them, and the error that names one.

A task's files are named by :func:`task_name`; final files are those whose names do not start with
:data:`mixbench.io.TMP_PREFIX` (temporary files of an atomic write).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pa_dataset
import pyarrow.parquet as pq

from mixbench import schema
from mixbench.io import TMP_PREFIX, jsonable

# The schema is defined once, in mixbench.schema; these lists are its columns for pandas indexing.
#: Columns that identify a task.
KEY_COLUMNS = list(schema.TASK_KEY)
EPOCH_COLUMNS = list(schema.EPOCH_COLUMNS)
SELECTED_COLUMNS = list(schema.SELECTED_COLUMNS)
FAILURE_COLUMNS = list(schema.FAILURE_COLUMNS)
DTYPES = schema.DTYPES
_SAFE = re.compile(r"[^A-Za-z0-9._+=-]")
CONFIG_FILE = "config.json"
SELECTED_FILE = "selected.parquet"
#: Held (a file lock) by the process that writes the run; see :mod:`mixbench.runner.lock`.
LOCK_FILE = ".lock"
#: Who holds :data:`LOCK_FILE` (``pid N on HOST``), written beside it while a run holds it.
LOCK_HOLDER_FILE = ".lock.holder"
#: Settings of a run that every number of a task depends on (the dataset, net, split and noise being the
#: task's key), with the value a config.json written before the setting existed means.
TASK_SETTING_KEYS = {
    "suite": None,
    "losses": None,
    "lrs": None,
    "seeds": None,
    "epochs": None,
    "batch_size": None,
    "momentum": None,
    "eval_batch": 0,
    "device": None,
    "loss_sources": {},
}


class RunDirectoryError(ValueError):
    """A run directory that cannot be used as it is: a damaged file, a file of another task or run.

    The message names the file, the cause and the fix; nothing in the directory is deleted.

    Parameters
    ----------
    message : str
    path : str or PathLike, optional
        The offending file (or the run directory).
    """

    def __init__(self, message: str, *, path: str | os.PathLike | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)

    def __reduce__(self):
        return (_rebuild_run_directory_error, (str(self), self.path))


def _rebuild_run_directory_error(message: str, path: str | None) -> RunDirectoryError:
    return RunDirectoryError(message, path=path)


def task_settings(config: dict) -> dict:
    """The :data:`TASK_SETTING_KEYS` of a run's settings (``config.json``'s ``config``), JSON-ready.

    Keys missing from ``config`` take their default (None: unknown).
    """
    return jsonable({k: config.get(k, default) for k, default in TASK_SETTING_KEYS.items()})


def expected_tasks(config: dict) -> dict[str, dict] | None:
    """The tasks of a run's grid, ``{task_name: key}`` in canonical order; None when ``config`` lacks one
    of ``datasets``, ``nets``, ``splits``, ``label_noise``."""
    try:
        grid = [list(config[k]) for k in ("datasets", "nets", "splits", "label_noise")]
    except (KeyError, TypeError):
        return None
    keys = [
        {"dataset": d, "net": n, "split": int(s), "noise": z}
        for d in grid[0]
        for n in grid[1]
        for s in grid[2]
        for z in grid[3]
    ]
    return {task_name(**key): key for key in keys}


def task_name(dataset: str, net: str, split: int, noise: str) -> str:
    """File-name stem of a task, e.g. ``iris__linear__split0__none``.

    Characters other than letters, digits and ``._+=-`` are percent-encoded, so every name is a safe file
    name and distinct keys give distinct names.
    """

    def safe(text: str) -> str:
        return _SAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), str(text))

    return f"{safe(dataset)}__{safe(net)}__split{int(split)}__{safe(noise)}"


def task_label(key: dict) -> str:
    """Short human label of a task key, e.g. ``digits/hidden`` (split and noise shown when not defaults)."""
    parts = [str(key["dataset"]), str(key["net"])]
    if int(key["split"]):
        parts.append(f"split {key['split']}")
    if key["noise"] != "none":
        parts.append(str(key["noise"]))
    return "/".join(parts)


def final_files(folder: Path, suffix: str) -> dict[str, Path]:
    """Final (non-temporary) files of ``folder`` with ``suffix``, by stem, sorted by name."""
    if not folder.is_dir():
        return {}
    found = {
        p.name[: -len(suffix)]: p
        for p in folder.iterdir()
        if p.name.endswith(suffix) and not p.name.startswith(TMP_PREFIX) and p.is_file()
    }
    return dict(sorted(found.items()))


def unreadable(path: Path, exc: BaseException) -> RunDirectoryError:
    """The error for a result file that cannot be read, with the fix that fits its kind."""
    cause = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
    run_dir = path.parent.parent
    if path.parent.name == "tasks" or path.parent.name == "epochs":
        other = run_dir / ("epochs" if path.parent.name == "tasks" else "tasks") / path.name
        if path.name[: -len(".parquet")] in _consolidated_names(run_dir / SELECTED_FILE):
            fix = (
                f"delete it and {other} (the task's other file). Its selected results stay in "
                f"{SELECTED_FILE}, so re-running keeps them and recomputes nothing (its per-epoch records "
                f"are then lost); to recompute the task, delete {SELECTED_FILE} too: the same `mixbench run` "
                "command rebuilds it from tasks/ and recomputes every task without a task file"
            )
        else:
            fix = (
                f"delete it and {other} (the task's other file), then re-run the same `mixbench run` "
                "command: that task alone is recomputed"
            )
    elif path.name == SELECTED_FILE:
        n_tasks = len(final_files(path.parent / "tasks", ".parquet"))
        if n_tasks:
            fix = (
                f"delete it and re-run the same `mixbench run` command (or `mixbench run --resume "
                f"{path.parent}`): it is rebuilt from the {n_tasks} file(s) in tasks/, and the tasks that "
                "were only in it are recomputed"
            )
        else:
            fix = (
                "restore it (e.g. `git checkout -- FILE` or from a backup): it is the only copy of these "
                "results, and deleting it would mean recomputing every task"
            )
    else:
        fix = "restore it or delete it"
    return RunDirectoryError(
        f"{path}: cannot be read ({cause}), so it is damaged or truncated; {fix}.", path=path
    )


def _consolidated_names(path: Path) -> set[str]:
    """Task names with rows in a selected.parquet (empty when there is none or it cannot be read)."""
    try:
        return set(row_task_names(pq.read_table(path, columns=KEY_COLUMNS).to_pandas()))
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return set()


def read_parquet(path: Path) -> pd.DataFrame:
    """The table of a result file (:func:`unreadable` raised when it cannot be read)."""
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise unreadable(path, exc) from exc


def read_many(paths: list[Path]) -> list[pd.DataFrame]:
    """The tables of many parquet files (one scan; file by file if one is broken, to name it)."""
    if not paths:
        return []
    try:
        return [pa_dataset.dataset([str(p) for p in paths], format="parquet").to_table().to_pandas()]
    except (OSError, pa.ArrowException):
        return [read_parquet(p) for p in paths]


def typed(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame``'s ``columns`` with the schema's dtypes (ValueError when one is missing)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"result table lacks column(s) {missing}; expected {columns}")
    return frame[columns].astype({c: DTYPES[c] for c in columns})


def empty(columns: list[str]) -> pd.DataFrame:
    """A table of ``columns`` without rows, with the schema's dtypes."""
    return typed(pd.DataFrame({c: pd.Series([], dtype=DTYPES[c]) for c in columns}), columns)


def row_task_names(frame: pd.DataFrame) -> pd.Series:
    """The :func:`task_name` of each row's key."""
    rows = list(frame[KEY_COLUMNS].itertuples(index=False, name=None))
    names = {key: task_name(*key) for key in set(rows)}
    return pd.Series([names[key] for key in rows], index=frame.index, dtype="str")


def concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """The rows of ``frames`` as one table of ``columns``, in canonical order."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty(columns)
    out = pd.concat([typed(f, columns) for f in frames], ignore_index=True)
    # Canonical order: by task key, keeping each task's own row order (loss order, seed, lr, epoch).
    return out.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)
