"""The result store: reading and writing one run directory (layout: :mod:`mixbench.results`)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import filelock
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mixbench.io import (
    TMP_PREFIX,
    parquet_metadata,
    read_parquet_metadata,
    write_json_atomic,
    write_parquet_atomic,
)
from mixbench.results.check import check_store
from mixbench.results.completeness import Completeness, store_completeness
from mixbench.results.digests import rows_digest, task_digests
from mixbench.results.files import (
    CONFIG_FILE,
    DTYPES,
    EPOCH_COLUMNS,
    FAILURE_COLUMNS,
    KEY_COLUMNS,
    LOCK_FILE,
    SELECTED_COLUMNS,
    SELECTED_FILE,
    RunDirectoryError,
    concat,
    empty,
    final_files,
    read_many,
    read_parquet,
    row_task_names,
    task_name,
    typed,
    unreadable,
)


class ResultStore:
    """Reading and writing one run directory (see :mod:`mixbench.results` for its layout).

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
        names = set(final_files(self.tasks_dir, ".parquet"))
        if self.selected_path.is_file():
            try:
                keys = pq.read_table(self.selected_path, columns=KEY_COLUMNS).to_pandas()
            except (OSError, pa.ArrowException) as exc:
                raise unreadable(self.selected_path, exc) from exc
            names.update(row_task_names(keys))
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
        selected = typed(selected, SELECTED_COLUMNS)
        write_parquet_atomic(typed(records, EPOCH_COLUMNS), self.epochs_dir / f"{name}.parquet", meta)
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
                    if p.name.startswith(TMP_PREFIX) and p.name.endswith(".tmp") and p.is_file():
                        p.unlink()
                        removed += 1
        return removed

    # -- reading
    def read_selected(self) -> pd.DataFrame:
        """Selected results of every finished task: the task files, then selected.parquet for the others."""
        return self._read_selected()[0]

    def _read_selected(self) -> tuple[pd.DataFrame, bool]:
        """:meth:`read_selected`, and whether selected.parquet already holds exactly that (up to date)."""
        task_files = final_files(self.tasks_dir, ".parquet")
        frames = []
        if self.selected_path.is_file():
            consolidated = typed(read_parquet(self.selected_path), SELECTED_COLUMNS)
            names = row_task_names(consolidated)
            digests = task_digests(consolidated[names.isin(task_files.keys())])  # only those compared
            stale = {n for n, p in task_files.items() if digests.get(n) != self._task_file_digest(p)}
            if not stale:
                return concat([consolidated], SELECTED_COLUMNS), True  # every task file's rows are in it
            # a task file whose rows differ (it was recomputed after the last consolidation) wins
            frames.append(consolidated[~names.isin(task_files.keys())])
        frames += read_many(list(task_files.values()))
        return concat(frames, SELECTED_COLUMNS), False

    @staticmethod
    def _task_file_digest(path: Path) -> str | None:
        """The rows digest a task file was written with (from its metadata; its rows when it has none)."""
        meta = parquet_metadata(pq.read_schema(path))
        return meta.get("rows_sha256") or rows_digest(read_parquet(path))

    def read_epochs(self) -> pd.DataFrame | None:
        """Per-epoch records of the finished tasks that have them, or None when none has."""
        done = set(final_files(self.tasks_dir, ".parquet"))
        files = [p for name, p in final_files(self.epochs_dir, ".parquet").items() if name in done]
        if not files:
            return None
        return concat(read_many(files), EPOCH_COLUMNS)

    def read_failures(self, finished: set[str] | None = None) -> pd.DataFrame:
        """Failed tasks that are not finished since: ``FAILURE_COLUMNS``."""
        finished = self.finished() if finished is None else finished
        rows = []
        for name, p in final_files(self.failures_dir, ".json").items():
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
            return empty(KEY_COLUMNS).assign(error=pd.Series([], dtype="str"))
        frame = pd.DataFrame(rows, columns=FAILURE_COLUMNS)
        return frame.astype({c: DTYPES[c] for c in KEY_COLUMNS} | {"error": "str"})

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
        return check_store(self, config, consolidated)

    def lock_held(self) -> bool:
        """Whether a process holds the run's lock (a ``mixbench run`` is writing it now)."""
        path = self.path / LOCK_FILE
        if not path.is_file():
            return False  # no lock file: the last run ended and removed it, or none ran yet
        probe = filelock.FileLock(path, timeout=0)
        try:
            probe.acquire()
        except filelock.Timeout:  # before OSError: Timeout is a TimeoutError
            return True
        except OSError:
            return False
        probe.release()
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
        return store_completeness(self, config, finished)
