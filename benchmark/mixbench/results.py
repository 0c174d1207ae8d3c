"""The result store of one run: a directory written task by task, read back as tidy DataFrames.

Layout of a run directory (``results/<run>/``)::

    config.json             resolved configuration, versions, git commit, machine, times (by the runner)
    selected.parquet        validation-selected results of every finished task, consolidated at the end of
                            each run; with config.json the only file a committed result directory needs
    tasks/<task>.parquet    selected results of one task (dataset, net, split, noise). Its presence is what
                            "this task is finished" means.
    epochs/<task>.parquet   per-epoch records of one task (large; git-ignored, re-made by re-running)
    failures/<task>.json    a task that raised: its key, the error type and text, the traceback

Every file is written atomically: to a temporary file in the same directory (its name starts with ``.``),
flushed to disk, then renamed over the final name with :func:`os.replace`. A process killed at any moment
(even SIGKILL) leaves either the previous complete file or none, never a partial file under a final name;
readers ignore the temporary files, and the runner deletes stale ones when it starts. The per-epoch file of a
task is written before its selected file, so a task file always has its records next to it.

A task is *finished* when its ``tasks/`` file exists or ``selected.parquet`` holds its rows (so a committed
directory counts as finished and re-running its command trains nothing); where both hold a task, the task file
wins. :func:`load` and :meth:`ResultStore.consolidate` read the union.

Schemas (CONTRIBUTING.md): per-epoch records have ``EPOCH_COLUMNS``, one row per (dataset, net, split,
noise, loss, lr, seed, epoch); selected results ``SELECTED_COLUMNS``, one row per (dataset, net, split,
noise, loss, seed). ``noise`` is ``none`` or ``KIND-RATE``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pa_dataset
import pyarrow.parquet as pq

from mixbench import schema

__all__ = [
    "EPOCH_COLUMNS",
    "FAILURE_COLUMNS",
    "KEY_COLUMNS",
    "SELECTED_COLUMNS",
    "ResultStore",
    "RunResults",
    "load",
    "task_name",
    "write_json_atomic",
    "write_parquet_atomic",
]

# The schema is defined once, in mixbench.schema; these lists are its columns for pandas indexing.
#: Columns that identify a task.
KEY_COLUMNS = list(schema.TASK_KEY)
EPOCH_COLUMNS = list(schema.EPOCH_COLUMNS)
SELECTED_COLUMNS = list(schema.SELECTED_COLUMNS)
FAILURE_COLUMNS = list(schema.FAILURE_COLUMNS)
_DTYPES = schema.DTYPES
_METADATA_KEY = b"mixbench"
_SAFE = re.compile(r"[^A-Za-z0-9._+=-]")
_TMP_PREFIX = "."
CONFIG_FILE = "config.json"
SELECTED_FILE = "selected.parquet"


def task_name(dataset: str, net: str, split: int, noise: str) -> str:
    """File-name stem of a task, e.g. ``iris__linear__split0__none``.

    Characters other than letters, digits and ``._+=-`` are percent-encoded, so every name is a safe file
    name and distinct keys give distinct names.
    """

    def safe(text: str) -> str:
        return _SAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), str(text))

    return f"{safe(dataset)}__{safe(net)}__split{int(split)}__{safe(noise)}"


# --- atomic writes ----------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync it and rename it over ``path``.

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path`` is untouched,
    so a reader never sees a half-written file. The file gets the usual permissions (mkstemp's are
    owner-only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # the data must be on disk before the rename makes it "final"
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def write_parquet_atomic(frame: pd.DataFrame, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``frame`` (without its index) to the parquet file ``path`` atomically.

    Parameters
    ----------
    frame : DataFrame
    path : str or PathLike
    metadata : dict, optional
        JSON-serialisable; stored in the file's schema metadata under ``mixbench``.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        merged = dict(table.schema.metadata or {})
        merged[_METADATA_KEY] = json.dumps(metadata, sort_keys=True, default=str).encode()
        table = table.replace_schema_metadata(merged)
    with atomic_path(Path(path)) as tmp:
        pq.write_table(table, tmp)


def write_json_atomic(obj, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_parquet_metadata(path: str | os.PathLike) -> dict:
    """The ``mixbench`` metadata of a parquet file written by :func:`write_parquet_atomic` ({} if none)."""
    raw = (pq.read_schema(path).metadata or {}).get(_METADATA_KEY)
    return json.loads(raw) if raw else {}


def _final_files(folder: Path, suffix: str) -> dict[str, Path]:
    """Final (non-temporary) files of ``folder`` with ``suffix``, by stem, sorted by name."""
    if not folder.is_dir():
        return {}
    found = {
        p.name[: -len(suffix)]: p
        for p in folder.iterdir()
        if p.name.endswith(suffix) and not p.name.startswith(_TMP_PREFIX) and p.is_file()
    }
    return dict(sorted(found.items()))


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(
            f"{path}: cannot read this result file ({exc}); delete it and re-run the same `mixbench run` "
            "command to recompute that task"
        ) from exc


def _read_many(paths: list[Path]) -> list[pd.DataFrame]:
    """The tables of many parquet files (one scan; file by file if one is broken, to name it)."""
    if not paths:
        return []
    try:
        return [pa_dataset.dataset([str(p) for p in paths], format="parquet").to_table().to_pandas()]
    except (OSError, pa.ArrowException):
        return [_read_parquet(p) for p in paths]


def _typed(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"result table lacks column(s) {missing}; expected {columns}")
    return frame[columns].astype({c: _DTYPES[c] for c in columns})


def _empty(columns: list[str]) -> pd.DataFrame:
    return _typed(pd.DataFrame({c: pd.Series([], dtype=_DTYPES[c]) for c in columns}), columns)


def _row_task_names(frame: pd.DataFrame) -> pd.Series:
    """The :func:`task_name` of each row's key."""
    rows = list(frame[KEY_COLUMNS].itertuples(index=False, name=None))
    names = {key: task_name(*key) for key in set(rows)}
    return pd.Series([names[key] for key in rows], index=frame.index, dtype="str")


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty(columns)
    out = pd.concat([_typed(f, columns) for f in frames], ignore_index=True)
    # Canonical order: by task key, keeping each task's own row order (loss order, seed, lr, epoch).
    return out.sort_values(KEY_COLUMNS, kind="stable").reset_index(drop=True)


# --- the store --------------------------------------------------------------------------------------
class ResultStore:
    """Reading and writing one run directory (see the module docstring for its layout).

    Parameters
    ----------
    path : str or PathLike
        The run directory; created on the first write.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.config_path = self.path / CONFIG_FILE
        self.selected_path = self.path / SELECTED_FILE
        self.tasks_dir = self.path / "tasks"
        self.epochs_dir = self.path / "epochs"
        self.failures_dir = self.path / "failures"

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    # -- config
    def read_config(self) -> dict | None:
        """The parsed config.json, or None when there is none."""
        if not self.config_path.is_file():
            return None
        try:
            return json.loads(self.config_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{self.config_path}, line {exc.lineno}: not valid JSON ({exc.msg}); restore it (e.g. "
                "from git) or run into another --out directory"
            ) from exc

    def write_config(self, config: dict) -> None:
        write_json_atomic(config, self.config_path)

    # -- tasks
    def finished(self) -> set[str]:
        """Names (:func:`task_name`) of the finished tasks: a task file, or rows in selected.parquet."""
        names = set(_final_files(self.tasks_dir, ".parquet"))
        if self.selected_path.is_file():
            keys = pq.read_table(self.selected_path, columns=KEY_COLUMNS).to_pandas()
            names.update(_row_task_names(keys))
        return names

    def write_task(
        self,
        key: dict,
        records: pd.DataFrame,
        selected: pd.DataFrame,
        metadata: dict | None = None,
    ) -> None:
        """Store one finished task: its per-epoch records, then its selected results (the "done" marker).

        Parameters
        ----------
        key : dict
            ``dataset, net, split, noise``.
        records : DataFrame with ``EPOCH_COLUMNS``
        selected : DataFrame with ``SELECTED_COLUMNS``
        metadata : dict, optional
            Provenance stored in both files' parquet metadata (with the key).
        """
        name = task_name(**{k: key[k] for k in KEY_COLUMNS})
        meta = {**{k: key[k] for k in KEY_COLUMNS}, **(metadata or {})}
        write_parquet_atomic(_typed(records, EPOCH_COLUMNS), self.epochs_dir / f"{name}.parquet", meta)
        write_parquet_atomic(_typed(selected, SELECTED_COLUMNS), self.tasks_dir / f"{name}.parquet", meta)
        self.clear_failure(key)

    def write_failure(self, key: dict, error: str, error_type: str = "", traceback: str = "") -> None:
        """Record that a task raised (replacing an earlier record of the same task)."""
        name = task_name(**{k: key[k] for k in KEY_COLUMNS})
        record = {**{k: key[k] for k in KEY_COLUMNS}, "error": error, "error_type": error_type}
        record["traceback"] = traceback
        write_json_atomic(record, self.failures_dir / f"{name}.json")

    def clear_failure(self, key: dict) -> None:
        name = task_name(**{k: key[k] for k in KEY_COLUMNS})
        with contextlib.suppress(FileNotFoundError):
            (self.failures_dir / f"{name}.json").unlink()

    def clean_temporary(self) -> int:
        """Delete temporary files left by a killed writer; returns how many. Call only when nothing writes."""
        removed = 0
        for folder in (self.path, self.tasks_dir, self.epochs_dir, self.failures_dir):
            if folder.is_dir():
                for p in folder.iterdir():
                    if p.name.startswith(_TMP_PREFIX) and p.name.endswith(".tmp") and p.is_file():
                        p.unlink()
                        removed += 1
        return removed

    # -- reading
    def read_selected(self) -> pd.DataFrame:
        """Selected results of every finished task: the task files, then selected.parquet for the others."""
        task_files = _final_files(self.tasks_dir, ".parquet")
        frames = []
        if self.selected_path.is_file():
            consolidated = _typed(_read_parquet(self.selected_path), SELECTED_COLUMNS)
            names = _row_task_names(consolidated)
            written = self.selected_path.stat().st_mtime_ns
            if set(task_files) <= set(names) and all(
                p.stat().st_mtime_ns <= written for p in task_files.values()
            ):
                return _concat([consolidated], SELECTED_COLUMNS)  # up to date: no task file is newer
            # a task file (newer) wins over the consolidated rows of the same task
            frames.append(consolidated[~names.isin(task_files.keys())])
        frames += _read_many(list(task_files.values()))
        return _concat(frames, SELECTED_COLUMNS)

    def read_epochs(self) -> pd.DataFrame | None:
        """Per-epoch records of the finished tasks that have them, or None when none has."""
        done = set(_final_files(self.tasks_dir, ".parquet"))
        files = [p for name, p in _final_files(self.epochs_dir, ".parquet").items() if name in done]
        if not files:
            return None
        return _concat(_read_many(files), EPOCH_COLUMNS)

    def read_failures(self, finished: set[str] | None = None) -> pd.DataFrame:
        """Failed tasks that are not finished since: ``FAILURE_COLUMNS``."""
        finished = self.finished() if finished is None else finished
        rows = []
        for name, p in _final_files(self.failures_dir, ".json").items():
            if name in finished:
                continue
            try:
                record = json.loads(p.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{p}: not valid JSON ({exc}); delete it (the task will be retried)"
                ) from exc
            rows.append({c: record.get(c) for c in FAILURE_COLUMNS})
        if not rows:
            return _empty(KEY_COLUMNS).assign(error=pd.Series([], dtype="str"))
        frame = pd.DataFrame(rows, columns=FAILURE_COLUMNS)
        return frame.astype({c: _DTYPES[c] for c in KEY_COLUMNS} | {"error": "str"})

    def consolidate(self) -> pd.DataFrame:
        """Write selected.parquet from every finished task; returns it."""
        selected = self.read_selected()
        write_parquet_atomic(selected, self.selected_path)
        return selected


# --- reading a run ----------------------------------------------------------------------------------
@dataclass
class RunResults:
    """Everything a run directory holds, as tidy DataFrames.

    Attributes
    ----------
    config : dict
        The parsed config.json: ``config`` (the resolved settings), ``versions``, ``git``, ``machine``,
        ``started`` / ``finished`` / ``wall_time_s`` and ``history`` (one entry per invocation).
    selected : DataFrame
        ``SELECTED_COLUMNS``, one row per (dataset, net, split, noise, loss, seed) of the finished tasks.
    epochs : DataFrame or None
        ``EPOCH_COLUMNS`` of the finished tasks whose per-epoch files are present; None when there are
        none (e.g. a committed result directory, which holds only config.json and selected.parquet).
    failures : DataFrame
        ``FAILURE_COLUMNS`` (dataset, net, split, noise, error), one row per task whose last attempt raised.
    path : Path
    """

    config: dict
    selected: pd.DataFrame
    epochs: pd.DataFrame | None
    failures: pd.DataFrame
    path: Path

    def __repr__(self) -> str:
        n_epochs = "None" if self.epochs is None else f"{len(self.epochs)} rows"
        return (
            f"RunResults({str(self.path)!r}, selected={len(self.selected)} rows, epochs={n_epochs}, "
            f"failures={len(self.failures)})"
        )


def load(run_dir: str | os.PathLike, *, epochs: bool = True) -> RunResults:
    """Read a run directory written by ``mixbench run``.

    Works on a directory being written (only finished tasks are read, temporary files are ignored) and on
    a committed one that holds only config.json and selected.parquet (and failures/).

    Parameters
    ----------
    run_dir : str or PathLike
    epochs : bool, default True
        Also read the per-epoch records (set False to skip reading them from a large run).

    Returns
    -------
    RunResults

    Raises
    ------
    FileNotFoundError
        ``run_dir`` has no config.json.
    ValueError
        A result file cannot be read (the message names it and says what to do).
    """
    store = ResultStore(run_dir)
    config = store.read_config()
    if config is None:
        raise FileNotFoundError(
            f"{store.config_path}: no such file, so {store.path} is not a mixbench run directory; give the "
            "--out directory of a `mixbench run`"
        )
    return RunResults(
        config=config,
        selected=store.read_selected(),
        epochs=store.read_epochs() if epochs else None,
        failures=store.read_failures(),
        path=store.path,
    )
