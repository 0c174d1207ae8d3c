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

Before a file counts as finished it is checked against the task it claims to be and the run's settings
(:meth:`ResultStore.check`): readable, rows of its own task only, every loss x seed of the run once, learning
rates and epochs of the run, and (stored in each task file's metadata) the settings it was computed with. A
file that fails raises one :class:`RunDirectoryError` naming it, the cause and the fix; nothing is deleted.
:meth:`ResultStore.completeness` says which tasks of the run are finished, failed or missing.

Schemas (CONTRIBUTING.md): per-epoch records have ``EPOCH_COLUMNS``, one row per (dataset, net, split,
noise, loss, lr, seed, epoch); selected results ``SELECTED_COLUMNS``, one row per (dataset, net, split,
noise, loss, seed). ``noise`` is ``none`` or ``KIND-RATE``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pa_dataset
import pyarrow.parquet as pq

from mixbench import schema

try:
    import fcntl
except ImportError:  # not POSIX: runs go unlocked
    fcntl = None

__all__ = [
    "EPOCH_COLUMNS",
    "FAILURE_COLUMNS",
    "KEY_COLUMNS",
    "SELECTED_COLUMNS",
    "TASK_SETTING_KEYS",
    "Completeness",
    "ResultStore",
    "RunDirectoryError",
    "RunResults",
    "consolidation_record",
    "expected_tasks",
    "load",
    "rows_digest",
    "task_digests",
    "task_settings",
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
#: Held (flock) by the process that writes the run; see ``mixbench.runner``.
LOCK_FILE = ".lock"
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
_SHOWN_PROBLEMS = 8


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
    out = {k: config.get(k, default) for k, default in TASK_SETTING_KEYS.items()}
    return json.loads(json.dumps(out, default=list))


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


def _metadata(schema: pa.Schema) -> dict:
    """The ``mixbench`` metadata of a schema ({} when there is none or it is not a JSON object)."""
    raw = (schema.metadata or {}).get(_METADATA_KEY)
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


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


def _unreadable(path: Path, exc: BaseException) -> RunDirectoryError:
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
        n_tasks = len(_final_files(path.parent / "tasks", ".parquet"))
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
        return set(_row_task_names(pq.read_table(path, columns=KEY_COLUMNS).to_pandas()))
    except (OSError, pa.ArrowException, KeyError, ValueError):
        return set()


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from exc


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


# --- digests of selected rows -------------------------------------------------------------------------
def rows_digest(frame: pd.DataFrame) -> str:
    """sha256 of selected rows (``SELECTED_COLUMNS``, in their order): the values, floats exactly.

    Written with each task file and, per task, into selected.parquet, so a row edited, dropped or copied in
    from another run is found (:meth:`ResultStore.check`). The text hashed is pandas-version independent:
    one JSON list per row, floats as :meth:`float.hex`.
    """
    typed = _typed(frame, SELECTED_COLUMNS)
    digest = hashlib.sha256()
    for row in typed.itertuples(index=False, name=None):
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
    names = _row_task_names(selected)
    return {name: rows_digest(rows) for name, rows in selected.groupby(names, sort=True)}


def consolidation_record(selected: pd.DataFrame) -> dict:
    """What config.json records of the selected.parquet a run consolidated: the number of tasks and the
    sha256 of their :func:`task_digests`, so a selected.parquet of another run or version is refused."""
    digests = task_digests(selected)
    text = json.dumps(digests, sort_keys=True).encode()
    return {"file": SELECTED_FILE, "tasks": len(digests), "sha256": hashlib.sha256(text).hexdigest()}


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
        restore = (
            "restore it (e.g. from git or a backup; the results beside it are kept) or run into another "
            "--out directory"
        )
        try:
            record = json.loads(self.config_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunDirectoryError(
                f"{self.config_path}, line {exc.lineno}: not valid JSON ({exc.msg}), so the file is damaged "
                f"or truncated; {restore}",
                path=self.config_path,
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            cause = getattr(exc, "strerror", None) or str(exc)
            raise RunDirectoryError(
                f"{self.config_path}: cannot be read ({cause}); check its permissions, or {restore}",
                path=self.config_path,
            ) from exc
        if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
            found = type(record).__name__ if not isinstance(record, dict) else 'an object without "config"'
            raise RunDirectoryError(
                f'{self.config_path}: not a mixbench config.json (a JSON object with a "config" object of '
                f"settings expected, found {found}); {restore}",
                path=self.config_path,
            )
        return record

    def write_config(self, config: dict) -> None:
        write_json_atomic(config, self.config_path)

    # -- tasks
    def finished(self) -> set[str]:
        """Names (:func:`task_name`) of the finished tasks: a task file, or rows in selected.parquet."""
        names = set(_final_files(self.tasks_dir, ".parquet"))
        if self.selected_path.is_file():
            try:
                keys = pq.read_table(self.selected_path, columns=KEY_COLUMNS).to_pandas()
            except (OSError, pa.ArrowException) as exc:
                raise _unreadable(self.selected_path, exc) from exc
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
        selected = _typed(selected, SELECTED_COLUMNS)
        write_parquet_atomic(_typed(records, EPOCH_COLUMNS), self.epochs_dir / f"{name}.parquet", meta)
        meta = {**meta, "rows_sha256": rows_digest(selected)}  # checked with the rows: see check()
        write_parquet_atomic(selected, self.tasks_dir / f"{name}.parquet", meta)
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
        return self._read_selected()[0]

    def _read_selected(self) -> tuple[pd.DataFrame, bool]:
        """:meth:`read_selected`, and whether selected.parquet already holds exactly that (up to date)."""
        task_files = _final_files(self.tasks_dir, ".parquet")
        frames = []
        if self.selected_path.is_file():
            consolidated = _typed(_read_parquet(self.selected_path), SELECTED_COLUMNS)
            names = _row_task_names(consolidated)
            digests = task_digests(consolidated)
            stale = {n for n, p in task_files.items() if digests.get(n) != self._task_file_digest(p)}
            if not stale:
                return _concat([consolidated], SELECTED_COLUMNS), True  # every task file's rows are in it
            # a task file whose rows differ (it was recomputed after the last consolidation) wins
            frames.append(consolidated[~names.isin(task_files.keys())])
        frames += _read_many(list(task_files.values()))
        return _concat(frames, SELECTED_COLUMNS), False

    @staticmethod
    def _task_file_digest(path: Path) -> str | None:
        """The rows digest a task file was written with (from its metadata; its rows when it has none)."""
        meta = _metadata(pq.read_schema(path))
        return meta.get("rows_sha256") or rows_digest(_read_parquet(path))

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

    def consolidate(self, metadata: dict | None = None) -> pd.DataFrame:
        """Write selected.parquet from every finished task; returns it.

        ``metadata`` (e.g. the run's :func:`task_settings`) is stored in its parquet metadata. An up-to-date
        file is left as it is (a committed run directory stays byte-identical after a run that trains
        nothing).
        """
        selected, current = self._read_selected()
        if not current or "tasks" not in read_parquet_metadata(self.selected_path):
            write_parquet_atomic(
                selected, self.selected_path, {**(metadata or {}), "tasks": task_digests(selected)}
            )
        return selected

    # -- checking
    def check(self, config: dict | None = None, consolidated: dict | None = None) -> dict[str, dict]:
        """Check every finished task against the task it claims to be and the run's settings.

        Each task file must be readable, hold rows of its own (dataset, net, split, noise) only, and (when
        ``config`` has them) be a task of the run's grid, hold every loss x seed of the run exactly once with
        the run's learning rates and epochs, and have been computed with the run's :func:`task_settings`
        (stored in its metadata). Its per-epoch file, if any, must be readable and of the same task. Rows of
        ``selected.parquet`` that no task file covers are checked the same way.

        Parameters
        ----------
        config : dict, optional
            The run's settings (``config.json``'s ``config``); default: read from config.json.
        consolidated : dict, optional
            config.json's ``consolidated`` record (:func:`consolidation_record`); default: read from
            config.json when ``config`` is not given. selected.parquet must be the file it records, and
            each task's rows must match the digest written beside them, unless every task in it has a task
            file with the same rows (then it can be rebuilt from them, and is).

        Returns
        -------
        dict
            ``{task_name: metadata}`` of the finished tasks (metadata ``{}`` for rows of selected.parquet).

        Raises
        ------
        RunDirectoryError
            Naming each file that fails, the cause and the fix (nothing is deleted).
        """
        if config is None:
            record = self.read_config() or {}
            config, consolidated = record.get("config", {}), record.get("consolidated")
        expected = expected_tasks(config)
        settings = task_settings(config)
        problems: list[str] = []
        found: dict[str, dict] = {}
        for name, path in _final_files(self.tasks_dir, ".parquet").items():
            try:
                table = pq.read_table(path)
            except (OSError, pa.ArrowException) as exc:
                problems.append(str(_unreadable(path, exc)))
                continue
            meta = _metadata(table.schema)
            frame = table.to_pandas()
            problem = _task_problem(path, name, frame, meta, expected, settings)
            if problem is None:
                problem = _edited_problem(path, frame, meta.get("rows_sha256"))
            if problem is None and "rows_sha256" not in meta:  # written before task files carried it
                meta = {**meta, "rows_sha256": rows_digest(frame)}
            if problem is None:
                problem = self._epochs_problem(name, meta)
            if problem is not None:
                problems.append(problem)
            found[name] = meta
        if self.selected_path.is_file():
            try:
                table = pq.read_table(self.selected_path)
            except (OSError, pa.ArrowException) as exc:
                problems.append(str(_unreadable(self.selected_path, exc)))
            else:
                meta = _metadata(table.schema)
                frame = table.to_pandas()
                missing = [c for c in KEY_COLUMNS if c not in frame.columns]
                problem = None if missing else self._consolidated_problem(frame, meta, found, consolidated)
                if problem is not None:
                    problems.append(problem)
                names = _row_task_names(frame) if not missing else pd.Series([], dtype="str")
                for name, rows in frame.groupby(names, sort=False) if not missing else []:
                    if name in found:
                        continue  # the task file wins
                    problem = _task_problem(self.selected_path, name, rows, meta, expected, settings)
                    if problem is not None:
                        problems.append(problem)
                        break  # one is enough to say the file does not belong to this run
                    found[name] = {}
                if missing:
                    problems.append(f"{self.selected_path}: lacks column(s) {missing}; {_SET_ASIDE}")
        if problems:
            shown = problems[:_SHOWN_PROBLEMS]
            more = len(problems) - len(shown)
            text = "\n  ".join(shown) + (f"\n  ... and {more} more" if more else "")
            head = (
                f"{self.path}: {len(problems)} result file(s) fail the check:\n  "
                if len(problems) > 1
                else ""
            )
            raise RunDirectoryError(head + text, path=self.path if len(problems) > 1 else None)
        return found

    def _consolidated_problem(
        self, frame: pd.DataFrame, meta: dict, task_files: dict[str, dict], recorded: dict | None
    ) -> str | None:
        """What is wrong with selected.parquet as a whole (None: nothing): rows edited or dropped since it
        was written (its per-task digests), or a file that is not the one config.json recorded."""
        path = self.selected_path
        try:
            frame = _typed(frame, SELECTED_COLUMNS)
        except (ValueError, TypeError) as exc:
            return f"{path}: not a selected-results table ({exc}); {_SET_ASIDE}"
        digests = task_digests(frame)
        derivable = bool(digests) and all(
            name in task_files and task_files[name].get("rows_sha256") == digest
            for name, digest in digests.items()
        )
        if derivable:
            return None  # every task's rows equal its (checked) task file's: nothing rests on this file alone
        fix = _selected_fix(path)
        written = meta.get("tasks")
        if isinstance(written, dict):
            edited = sorted(n for n, d in digests.items() if written.get(n) != d)
            dropped = sorted(set(written) - set(digests))
            if edited or dropped:
                what = []
                if edited:
                    what.append(f"the rows of {_names(edited)} differ from those it was written with")
                if dropped:
                    what.append(f"the rows of {_names(dropped)} were removed")
                return f"{path}: {' and '.join(what)}: it was edited after mixbench wrote it; {fix}"
        if recorded is None:
            if isinstance(written, dict):
                return (
                    f"{path}: config.json records no consolidated results, but this file was consolidated by "
                    f"a run: it comes from another run directory; {fix}"
                )
            return None  # a run directory written before mixbench recorded digests: said by load()
        if not isinstance(written, dict) or consolidation_record(frame)["sha256"] != recorded.get("sha256"):
            return (
                f"{path}: not the file this run consolidated (config.json records {recorded.get('tasks')} "
                f"task(s) with sha256 {str(recorded.get('sha256'))[:12]}..., this file holds "
                f"{len(digests)} with {consolidation_record(frame)['sha256'][:12]}...): it was copied from "
                f"another run or restored from another version; {fix}"
            )
        return None

    def _epochs_problem(self, name: str, task_meta: dict) -> str | None:
        path = self.epochs_dir / f"{name}.parquet"
        if not path.is_file():
            return None
        try:
            meta = _metadata(pq.read_schema(path))
        except (OSError, pa.ArrowException) as exc:
            return str(_unreadable(path, exc))
        for key in KEY_COLUMNS + ["settings"]:
            if key in meta and key in task_meta and meta[key] != task_meta[key]:
                return (
                    f"{path}: its {key} is {json.dumps(meta[key])}, but its task file's is "
                    f"{json.dumps(task_meta[key])}: the files are of different tasks or runs; {_SET_ASIDE}"
                )
        return None

    def lock_held(self) -> bool:
        """Whether a process holds the run's lock (a ``mixbench run`` is writing it now)."""
        if fcntl is None:
            return False
        try:
            handle = open(self.path / LOCK_FILE, "rb")  # noqa: SIM115
        except OSError:
            return False  # no lock file: the last run ended and removed it, or none ran yet
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            except OSError:
                return False
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def completeness(
        self, config: dict | None = None, finished: set[str] | None = None
    ) -> Completeness | None:
        """Which tasks of the run are finished, failed (last attempt raised) or missing (never finished).

        Parameters
        ----------
        config : dict, optional
            The run's settings; default config.json's ``config``.
        finished : set of str, optional
            Task names known finished (e.g. from :meth:`check`); default :meth:`finished`.

        Returns
        -------
        Completeness or None
            None when the settings do not give the grid (no ``datasets``, ``nets``, ...).
        """
        record = self.read_config() or {}
        config = record.get("config", {}) if config is None else config
        expected = expected_tasks(config)
        if expected is None:
            return None
        finished = self.finished() if finished is None else finished
        failures = set(_final_files(self.failures_dir, ".json"))
        done = tuple(n for n in expected if n in finished)
        failed = tuple(n for n in expected if n not in finished and n in failures)
        missing = tuple(n for n in expected if n not in finished and n not in failures)
        recorded = str(record.get("status") or "")
        live = self.lock_held()
        status = recorded
        if recorded == "running" and not live:
            status = "killed"  # config.json was never closed: the process died (kill -9, power, OOM)
        labels = {n: _task_label(expected[n]) for n in expected}
        return Completeness(
            total=len(expected),
            finished=tuple(labels[n] for n in done),
            failed=tuple(labels[n] for n in failed),
            missing=tuple(labels[n] for n in missing),
            status=status,
            recorded_status=recorded,
            live=live,
            path=self.path,
        )


_SET_ASIDE = (
    "nothing was deleted. Move the file (and its tasks/ or epochs/ twin) out of the run directory, then "
    "re-run the same `mixbench run` command to recompute that task, or restore the original file"
)


def _selected_fix(path: Path) -> str:
    n_tasks = len(_final_files(path.parent / "tasks", ".parquet"))
    if n_tasks:
        return (
            "nothing was deleted. Move it out of the run directory and re-run the same `mixbench run` "
            f"command (or `mixbench run --resume {path.parent}`): it is rebuilt from the {n_tasks} file(s) "
            "in tasks/ and the tasks that were only in it are recomputed; or restore the original file"
        )
    return (
        "nothing was deleted. Restore the original (e.g. `git checkout -- FILE` or from a backup): it is the "
        "only copy of these results; or move it out and re-run the same `mixbench run` command to recompute "
        "every task"
    )


def _names(names: list[str], limit: int = 4) -> str:
    more = f" and {len(names) - limit} more task(s)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _edited_problem(path: Path, frame: pd.DataFrame, written: str | None) -> str | None:
    """A task file whose rows differ from the digest it was written with (None: they match, or it has none,
    as task files written before mixbench recorded digests)."""
    if not written:
        return None
    try:
        now = rows_digest(frame)
    except (ValueError, TypeError):
        return None  # a malformed table: _task_problem names it
    if now != written:
        return f"{path}: its rows differ from those mixbench wrote (it was edited); {_SET_ASIDE}"
    return None


def _task_label(key: dict) -> str:
    parts = [str(key["dataset"]), str(key["net"])]
    if int(key["split"]):
        parts.append(f"split {key['split']}")
    if key["noise"] != "none":
        parts.append(str(key["noise"]))
    return "/".join(parts)


def _task_problem(
    path: Path,
    name: str,
    frame: pd.DataFrame,
    meta: dict,
    expected: dict[str, dict] | None,
    settings: dict,
) -> str | None:
    """What is wrong with the selected rows ``frame`` of task ``name`` read from ``path`` (None: nothing)."""
    where = f"{path}" if path.name != SELECTED_FILE else f"{path} (rows of {name})"
    missing = [c for c in SELECTED_COLUMNS if c not in frame.columns]
    if missing:
        return f"{where}: lacks column(s) {missing} of a selected-results table; {_SET_ASIDE}"
    if expected is not None and name not in expected:
        return (
            f"{where}: {name} is not a task of this run (config.json's datasets, nets, splits and "
            f"label_noise do not give it): the file comes from another run; {_SET_ASIDE}"
        )
    keys = set(frame[KEY_COLUMNS].itertuples(index=False, name=None))
    if (
        len(keys) != 1
        or task_name(*next(iter(keys))) != name
        or (all(k in meta for k in KEY_COLUMNS) and task_name(*(meta[k] for k in KEY_COLUMNS)) != name)
    ):
        held = ", ".join(sorted(_task_label(dict(zip(KEY_COLUMNS, k, strict=True))) for k in keys))
        return (
            f"{where}: holds the results of {held or 'no task'}, but its name says "
            f"{_task_label(expected[name]) if expected else name}: the file was copied over another; "
            f"{_SET_ASIDE}"
        )
    stored = meta.get("settings")
    if isinstance(stored, dict):
        differ = [
            f"{k} {json.dumps(stored.get(k))} (the run's config.json says {json.dumps(settings[k])})"
            for k in settings
            if settings[k] is not None and stored.get(k, TASK_SETTING_KEYS[k]) != settings[k]
        ]
        if differ:
            return f"{where}: computed with {'; '.join(differ)}: it is not a result of this run; {_SET_ASIDE}"
    losses, seeds, lrs, epochs = (settings[k] for k in ("losses", "seeds", "lrs", "epochs"))
    if losses is not None and seeds is not None:
        pairs = list(frame[["loss", "seed"]].itertuples(index=False, name=None))
        wanted = {(str(loss), int(seed)) for loss in losses for seed in seeds}
        if len(pairs) != len(set(pairs)) or set(pairs) != wanted:
            other = sorted({str(p[0]) for p in pairs} ^ {str(loss) for loss in losses})
            return (
                f"{where}: holds {len(pairs)} (loss, seed) results, but the run has {len(wanted)} "
                f"({len(losses)} losses x {len(seeds)} seeds)"
                + (f"; losses not shared: {', '.join(other)}" if other else "")
                + f": it is not a result of this run; {_SET_ASIDE}"
            )
    if lrs is not None:
        lr = frame["lr"].dropna()
        if not lr.isin([float(v) for v in lrs]).all():
            return (
                f"{where}: selected learning rate(s) {sorted(set(lr) - set(map(float, lrs)))} are not among "
                f"the run's {list(lrs)}: it is not a result of this run; {_SET_ASIDE}"
            )
    if epochs is not None and not frame["epoch"].between(-1, int(epochs) - 1).all():
        return (
            f"{where}: selected epoch {int(frame['epoch'].max())} is beyond the run's {epochs} epochs "
            f"(0..{int(epochs) - 1}): it is not a result of this run; {_SET_ASIDE}"
        )
    return None


@dataclass(frozen=True)
class Completeness:
    """How far a run got: which tasks of its grid are finished, failed or missing.

    Attributes
    ----------
    total : int
        Tasks of the run's grid.
    finished, failed, missing : tuple of str
        Labels (``dataset/net[/split k][/noise]``) of the tasks with results, of those whose last attempt
        raised, and of those never finished (not run yet, killed, or their files deleted); grid order.
    status : str
        The run's status: config.json's, except ``killed`` where it says ``running`` but no process holds
        the run's lock.
    recorded_status : str
        config.json's status as written.
    live : bool
        A ``mixbench run`` is writing the directory now.
    path : Path
    """

    total: int
    finished: tuple[str, ...]
    failed: tuple[str, ...]
    missing: tuple[str, ...]
    status: str
    recorded_status: str
    live: bool
    path: Path

    @property
    def complete(self) -> bool:
        return len(self.finished) == self.total

    def describe(self, limit: int = 12) -> str:
        """One paragraph for the top of a report: what is missing and how to finish it ("" if complete)."""
        if self.complete:
            return ""
        parts = [
            f"This run is incomplete: {len(self.finished)} of {self.total} tasks are finished, so every "
            "statistic below covers only part of the grid."
        ]
        for what, labels in (("failed", self.failed), ("missing", self.missing)):
            if labels:
                shown = ", ".join(labels[:limit]) + (
                    f" and {len(labels) - limit} more" if len(labels) > limit else ""
                )
                parts.append(f"{len(labels)} {what}: {shown}.")
        if self.live:
            parts.append("A `mixbench run` is writing it now.")
        elif self.status == "killed":
            parts.append("Its config.json says it is running, but no process is: it was killed.")
        parts.append(f"Finish it with `mixbench run --resume {self.path}`.")
        return " ".join(parts)


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
    completeness : Completeness or None
        Which tasks of the grid are finished, failed or missing (None when config.json lacks the grid).
        ``config["tasks"]`` and ``config["status"]`` hold the true counts and status from it (config.json's
        can be stale after a kill or deleted files).
    """

    config: dict
    selected: pd.DataFrame
    epochs: pd.DataFrame | None
    failures: pd.DataFrame
    path: Path
    completeness: Completeness | None = None

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
    RunDirectoryError
        A result file cannot be read or is not a result of this run (:meth:`ResultStore.check`; the
        message names it and says what to do).
    """
    store = ResultStore(run_dir)
    config = store.read_config()
    if config is None:
        raise FileNotFoundError(
            f"{store.config_path}: no such file, so {store.path} is not a mixbench run directory; give the "
            "--out directory of a `mixbench run`"
        )
    finished = set(store.check(config["config"], config.get("consolidated")))
    completeness = store.completeness(config["config"], finished)
    if completeness is not None:
        config = {
            **config,
            "status": completeness.status,
            "tasks": {
                "total": completeness.total,
                "finished": len(completeness.finished),
                "failed": len(completeness.failed),
                "missing": len(completeness.missing),
            },
        }
    return RunResults(
        config=config,
        selected=store.read_selected(),
        epochs=store.read_epochs() if epochs else None,
        failures=store.read_failures(finished),
        path=store.path,
        completeness=completeness,
    )
