"""The checks a result file passes before it counts as finished, and their messages.

Each task file must be readable, hold rows of its own (dataset, net, split, noise) only, and (when the run's
settings give them) be a task of the run's grid, hold every loss x seed of the run exactly once with the run's
learning rates and epochs, and have been computed with the run's settings. selected.parquet must be the file
the run consolidated. A file that fails is named with the cause and the fix; nothing is deleted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mixbench.io import parquet_metadata
from mixbench.results.digests import digests_record, rows_digest, task_digests
from mixbench.results.files import (
    KEY_COLUMNS,
    SELECTED_COLUMNS,
    SELECTED_FILE,
    TASK_SETTING_KEYS,
    RunDirectoryError,
    expected_tasks,
    final_files,
    row_task_names,
    task_label,
    task_name,
    task_settings,
    typed,
    unreadable,
)

if TYPE_CHECKING:
    from mixbench.results.store import ResultStore

_SHOWN_PROBLEMS = 8
SET_ASIDE = (
    "nothing was deleted. Move the file (and its tasks/ or epochs/ twin) out of the run directory, then "
    "re-run the same `mixbench run` command to recompute that task, or restore the original file"
)


def check_store(store: ResultStore, config: dict | None, consolidated: dict | None) -> dict[str, dict]:
    """:meth:`ResultStore.check <mixbench.results.ResultStore.check>` (see there)."""
    if config is None:
        record = store.read_config() or {}
        config, consolidated = record.get("config", {}), record.get("consolidated")
    expected = expected_tasks(config)
    settings = task_settings(config)
    problems: list[str] = []
    found: dict[str, dict] = {}
    for name, path in final_files(store.tasks_dir, ".parquet").items():
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            problems.append(str(unreadable(path, exc)))
            continue
        meta = parquet_metadata(table.schema)
        frame = table.to_pandas()
        problem = _task_problem(path, name, frame, meta, expected, settings)
        if problem is None:
            problem = _edited_problem(path, frame, meta.get("rows_sha256"))
        if problem is None and "rows_sha256" not in meta:  # written before task files carried it
            meta = {**meta, "rows_sha256": rows_digest(frame)}
        if problem is None:
            problem = _epochs_problem(store, name, meta)
        if problem is not None:
            problems.append(problem)
        found[name] = meta
    if store.selected_path.is_file():
        try:
            table = pq.read_table(store.selected_path)
        except (OSError, pa.ArrowException) as exc:
            problems.append(str(unreadable(store.selected_path, exc)))
        else:
            meta = parquet_metadata(table.schema)
            frame = table.to_pandas()
            missing = [c for c in KEY_COLUMNS if c not in frame.columns]
            problem = None if missing else _consolidated_problem(store, frame, meta, found, consolidated)
            if problem is not None:
                problems.append(problem)
            names = row_task_names(frame) if not missing else pd.Series([], dtype="str")
            for name, rows in frame.groupby(names, sort=False) if not missing else []:
                if name in found:
                    continue  # the task file wins
                problem = _task_problem(store.selected_path, name, rows, meta, expected, settings)
                if problem is not None:
                    problems.append(problem)
                    break  # one is enough to say the file does not belong to this run
                found[name] = {}
            if missing:
                problems.append(f"{store.selected_path}: lacks column(s) {missing}; {SET_ASIDE}")
    if problems:
        shown = problems[:_SHOWN_PROBLEMS]
        more = len(problems) - len(shown)
        text = "\n  ".join(shown) + (f"\n  ... and {more} more" if more else "")
        head = (
            f"{store.path}: {len(problems)} result file(s) fail the check:\n  " if len(problems) > 1 else ""
        )
        raise RunDirectoryError(head + text, path=store.path if len(problems) > 1 else None)
    return found


def _consolidated_problem(
    store: ResultStore, frame: pd.DataFrame, meta: dict, task_files: dict[str, dict], recorded: dict | None
) -> str | None:
    """What is wrong with selected.parquet as a whole (None: nothing): rows edited or dropped since it
    was written (its per-task digests), or a file that is not the one config.json recorded."""
    path = store.selected_path
    try:
        frame = typed(frame, SELECTED_COLUMNS)
    except (ValueError, TypeError) as exc:
        return f"{path}: not a selected-results table ({exc}); {SET_ASIDE}"
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
        return None  # a run directory written before mixbench recorded digests: read unverified
    held = digests_record(digests)["sha256"]
    if not isinstance(written, dict) or held != recorded.get("sha256"):
        return (
            f"{path}: not the file this run consolidated (config.json records {recorded.get('tasks')} "
            f"task(s) with sha256 {str(recorded.get('sha256'))[:12]}..., this file holds "
            f"{len(digests)} with {held[:12]}...): it was copied from another run or restored from another "
            f"version; {fix}"
        )
    return None


def _epochs_problem(store: ResultStore, name: str, task_meta: dict) -> str | None:
    path = store.epochs_dir / f"{name}.parquet"
    if not path.is_file():
        return None
    try:
        meta = parquet_metadata(pq.read_schema(path))
    except (OSError, pa.ArrowException) as exc:
        return str(unreadable(path, exc))
    for key in KEY_COLUMNS + ["settings"]:
        if key in meta and key in task_meta and meta[key] != task_meta[key]:
            return (
                f"{path}: its {key} is {json.dumps(meta[key])}, but its task file's is "
                f"{json.dumps(task_meta[key])}: the files are of different tasks or runs; {SET_ASIDE}"
            )
    return None


def _selected_fix(path: Path) -> str:
    n_tasks = len(final_files(path.parent / "tasks", ".parquet"))
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
        return f"{path}: its rows differ from those mixbench wrote (it was edited); {SET_ASIDE}"
    return None


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
        return f"{where}: lacks column(s) {missing} of a selected-results table; {SET_ASIDE}"
    if expected is not None and name not in expected:
        return (
            f"{where}: {name} is not a task of this run (config.json's datasets, nets, splits and "
            f"label_noise do not give it): the file comes from another run; {SET_ASIDE}"
        )
    keys = set(frame[KEY_COLUMNS].itertuples(index=False, name=None))
    if (
        len(keys) != 1
        or task_name(*next(iter(keys))) != name
        or (all(k in meta for k in KEY_COLUMNS) and task_name(*(meta[k] for k in KEY_COLUMNS)) != name)
    ):
        held = ", ".join(sorted(task_label(dict(zip(KEY_COLUMNS, k, strict=True))) for k in keys))
        return (
            f"{where}: holds the results of {held or 'no task'}, but its name says "
            f"{task_label(expected[name]) if expected else name}: the file was copied over another; "
            f"{SET_ASIDE}"
        )
    stored = meta.get("settings")
    if isinstance(stored, dict):
        differ = [
            f"{k} {json.dumps(stored.get(k))} (the run's config.json says {json.dumps(settings[k])})"
            for k in settings
            if settings[k] is not None and stored.get(k, TASK_SETTING_KEYS[k]) != settings[k]
        ]
        if differ:
            return f"{where}: computed with {'; '.join(differ)}: it is not a result of this run; {SET_ASIDE}"
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
                + f": it is not a result of this run; {SET_ASIDE}"
            )
    if lrs is not None:
        lr = frame["lr"].dropna()
        if not lr.isin([float(v) for v in lrs]).all():
            return (
                f"{where}: selected learning rate(s) {sorted(set(lr) - set(map(float, lrs)))} are not among "
                f"the run's {list(lrs)}: it is not a result of this run; {SET_ASIDE}"
            )
    if epochs is not None and not frame["epoch"].between(-1, int(epochs) - 1).all():
        return (
            f"{where}: selected epoch {int(frame['epoch'].max())} is beyond the run's {epochs} epochs "
            f"(0..{int(epochs) - 1}): it is not a result of this run; {SET_ASIDE}"
        )
    return None
