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

Modules: :mod:`~mixbench.results.files` (file names, columns, reading, :class:`RunDirectoryError`),
:mod:`~mixbench.results.store` (:class:`ResultStore`), :mod:`~mixbench.results.check` (the checks and their
messages), :mod:`~mixbench.results.digests`, :mod:`~mixbench.results.completeness` and
:mod:`~mixbench.results.run_results` (:func:`load`); atomic writes are :mod:`mixbench.io`'s.

Schemas (CONTRIBUTING.md): per-epoch records have ``EPOCH_COLUMNS``, one row per (dataset, net, split,
noise, loss, lr, seed, epoch); selected results ``SELECTED_COLUMNS``, one row per (dataset, net, split,
noise, loss, seed). ``noise`` is ``none`` or ``KIND-RATE``.
"""

from __future__ import annotations

# Also public outside __all__ (explicit re-exports): the atomic-write helpers the report uses, the file names.
from mixbench.io import atomic_path as atomic_path
from mixbench.io import read_parquet_metadata as read_parquet_metadata
from mixbench.io import write_json_atomic, write_parquet_atomic
from mixbench.results.completeness import Completeness
from mixbench.results.digests import consolidation_record, digests_record, rows_digest, task_digests
from mixbench.results.files import CONFIG_FILE as CONFIG_FILE
from mixbench.results.files import (
    EPOCH_COLUMNS,
    FAILURE_COLUMNS,
    KEY_COLUMNS,
    SELECTED_COLUMNS,
    TASK_SETTING_KEYS,
    RunDirectoryError,
    expected_tasks,
    task_name,
    task_settings,
)
from mixbench.results.files import LOCK_FILE as LOCK_FILE
from mixbench.results.files import SELECTED_FILE as SELECTED_FILE
from mixbench.results.run_results import RunResults, load
from mixbench.results.store import ResultStore

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
    "digests_record",
    "expected_tasks",
    "load",
    "rows_digest",
    "task_digests",
    "task_settings",
    "task_name",
    "write_json_atomic",
    "write_parquet_atomic",
]
