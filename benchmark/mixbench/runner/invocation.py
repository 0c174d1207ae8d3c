"""One invocation of ``mixbench run``: :func:`run` checks the run directory and takes its lock, plans the
tasks left to do, writes the opening record (config.json, status ``running``), trains the tasks as they come
back from the workers (each written to the store as it finishes), and closes the record with the outcome.
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

from mixbench import engine, suites
from mixbench.losses import identical_losses
from mixbench.results import ResultStore, consolidation_record, task_settings
from mixbench.runner import provenance
from mixbench.runner.backends import WORKER_DEATH, dask_client, n_workers, outcomes
from mixbench.runner.checks import check_data, check_loss_code, check_numerics, check_run_dir
from mixbench.runner.config import (
    SCIENCE_KEYS,
    ConfigError,
    RunConfig,
    config_losses,
    config_suite,
    loss_code_digests,
)
from mixbench.runner.grid import Task
from mixbench.runner.lock import run_lock
from mixbench.runner.messages import display, first_line, unwritable
from mixbench.runner.summary import RunSummary
from mixbench.runner.tasks import TaskOutcome, plan_tasks


def run(config: RunConfig, *, progress: bool = True) -> RunSummary:
    """Run every unfinished task of ``config`` and store the results in ``config.out``.

    Finished tasks (from an earlier run into the same directory) are skipped; a task that raises is recorded
    under ``failures/`` and the others go on. Ctrl-C stops the run: finished tasks stay and the same command
    resumes. At the end ``selected.parquet`` holds the selected results of every finished task.

    Parameters
    ----------
    config : RunConfig
        From :func:`resolve_config`.
    progress : bool, default True
        Show a progress bar on stderr.

    Returns
    -------
    RunSummary

    Raises
    ------
    ConfigError
        The directory holds a run with other science settings, or the dask scheduler cannot be reached.
    """
    store = ResultStore(config.out)
    check_run_dir(store, config)
    with run_lock(store), _sigterm_stops_like_ctrl_c() as stopped:
        return _run_locked(config, store, progress=progress, stopped=stopped)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the run stops as after Ctrl-C (a KeyboardInterrupt)."""


@dataclass
class StopFlag:
    """Set by the SIGTERM handler: the name of the signal that stopped the run (None while it goes on)."""

    signal: str | None = None


@contextlib.contextmanager
def _sigterm_stops_like_ctrl_c() -> Iterator[StopFlag]:
    """While the run goes on, SIGTERM raises :class:`Terminated` in the main thread (once: a second one
    during the clean-up is noted, not raised, so the clean-up completes). Yields a :class:`StopFlag` whose
    ``signal`` is set to the name of the signal that stopped the run."""
    stopped = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield stopped  # signal handlers can only be set in the main thread
        return

    def handler(signum, frame):
        if stopped.signal is None:
            stopped.signal = "SIGTERM"
            raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGTERM, previous)


def _progress_bar(total_cost: float, n_tasks: int, enabled: bool):
    from tqdm.auto import tqdm

    # The bar advances by estimated cost, so the ETA accounts for the largest tasks running first; the
    # description counts tasks and the postfix names the last finished one.
    return tqdm(
        total=total_cost,
        disable=not enabled,
        file=sys.stderr,
        desc=f"0/{n_tasks} tasks",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]{postfix}",
        dynamic_ncols=True,
        mininterval=0.5,
    )


@dataclass
class Invocation:
    """This invocation's entry in config.json's ``history``: how and by which code it ran, and its outcome
    (``finished``, ``wall_time_s``, ``status``, ``done``, ``failed``, ``signal``) once it is closed."""

    started: str
    skipped: int
    n_jobs: int
    n_workers: int
    backend: str
    scheduler: str | None
    git_commit: str | None
    git_dirty: bool | None
    numerics: int
    host: str
    pid: int
    finished: str | None = None
    wall_time_s: float | None = None
    status: str = "running"
    done: int = 0
    failed: int = 0
    #: The signal that stopped it (SIGINT, SIGTERM); recorded only when there was one.
    signal: str | None = None

    def as_dict(self) -> dict:
        """The entry as config.json holds it."""
        entry = {
            "started": self.started,
            "finished": self.finished,
            "wall_time_s": self.wall_time_s,
            "status": self.status,
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "n_jobs": self.n_jobs,
            "n_workers": self.n_workers,
            "backend": self.backend,
            "scheduler": self.scheduler,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "numerics": self.numerics,
            "host": self.host,
            "pid": self.pid,
        }
        if self.signal:
            entry["signal"] = self.signal
        return entry


@dataclass
class Plan:
    """What this invocation has to do: the grid's tasks, those already finished (checked), those to run."""

    #: config.json as the directory held it before this invocation (None: a new run).
    previous: dict | None
    tasks: list[Task]
    finished: set[str]
    todo: list[Task]
    #: The engine numerics version of the finished tasks (this engine's when there are none).
    numerics: int | None
    #: sha256 of the module file of each ``module:attr`` user loss (:func:`loss_code_digests`).
    loss_code: dict[str, str]


@dataclass
class OpenRun:
    """A run between its opening record and its close: the record (config.json) kept up to date."""

    config: RunConfig
    store: ResultStore
    plan: Plan
    summary: RunSummary
    invocation: Invocation
    #: The entries of the earlier invocations (a killed one's status corrected).
    old_history: list[dict]
    #: config.json as this invocation last wrote it.
    record: dict

    def history(self) -> list[dict]:
        return self.old_history + [self.invocation.as_dict()]

    def write_record(self) -> None:
        """Write config.json (OSError when the directory cannot be written)."""
        self.record["history"] = self.history()
        self.store.write_config(self.record)


def _run_locked(config: RunConfig, store: ResultStore, *, progress: bool, stopped: StopFlag) -> RunSummary:
    started_clock = time.perf_counter()
    started = provenance.now()
    plan = _plan(config, store)
    client = dask_client(config.scheduler) if config.backend == "dask" and plan.todo else None
    workers = n_workers(config, len(plan.todo), client)
    summary = RunSummary(
        out=store.path,
        n_tasks=len(plan.tasks),
        skipped=len(plan.tasks) - len(plan.todo),
        n_workers=workers,
        backend=config.backend,
    )
    opened = _open(config, store, plan, summary, started)
    bar = _progress_bar(sum(t.cost for t in plan.todo), len(plan.todo), progress and bool(plan.todo))
    try:
        if plan.todo:
            with outcomes(plan.todo, config, workers) as finished:
                for outcome in finished:
                    if not _record_outcome(opened, outcome, bar):
                        break
    except KeyboardInterrupt:
        summary.interrupted = True
    except Exception as exc:  # e.g. a worker process died (killed for memory): keep what is finished
        if stopped.signal is not None:  # SIGTERM to the process group: the workers died of it first
            summary.interrupted = True
        else:
            summary.aborted = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, WORKER_DEATH):
                traceback.print_exc()
    finally:
        summary.stopped_by = stopped.signal or ("SIGINT" if summary.interrupted else None)
        bar.close()
        if client is not None:
            client.close()
        summary.wall_time_s = time.perf_counter() - started_clock
        close_run(opened)
    return summary


def _plan(config: RunConfig, store: ResultStore) -> Plan:
    """Check the directory again (now that no other run can write), and which of its tasks are finished."""
    previous = check_run_dir(store, config)
    try:
        store.clean_temporary()
    except OSError as exc:
        raise unwritable(store.path, exc, store.path) from None
    tasks = plan_tasks(config)
    # Every finished task is checked against the task it claims to be, the run's settings and the data it
    # was computed from, before it counts as finished.
    checked = store.check(config.to_dict(), (previous or {}).get("consolidated"))
    check_data(config, checked)
    finished = set(checked)
    todo = [t for t in tasks if t.name not in finished]
    numerics = check_numerics(store, previous, checked, bool(todo))
    loss_code = loss_code_digests(config)
    check_loss_code(store, previous, checked, loss_code, bool(todo))
    return Plan(
        previous=previous, tasks=tasks, finished=finished, todo=todo, numerics=numerics, loss_code=loss_code
    )


def _earlier_history(store: ResultStore, previous: dict | None, versions: dict) -> list[dict]:
    """The earlier invocations' entries, a killed one's status corrected; notes what changed since."""
    old = (previous or {}).get("versions")
    old = old if isinstance(old, dict) else {}
    if previous is not None and old != versions:
        changed = [f"{k} {old.get(k)} -> {v}" for k, v in versions.items() if old.get(k) != v]
        print(
            f"mixbench run: note: {display(store.path)} was started with other versions "
            f"({', '.join(changed)}); tasks run now may differ in the last digits from those run then",
            file=sys.stderr,
        )
    old_history = [dict(h) for h in (previous or {}).get("history", []) if isinstance(h, dict)]
    if previous is not None and previous.get("status") == "running":
        # We hold the lock, so the process that wrote "running" is gone: killed before it could close.
        last = old_history[-1] if old_history else {}
        print(
            f"mixbench run: note: the previous run into {display(store.path)} (started "
            f"{last.get('started') or previous.get('started') or '?'} on {last.get('host') or '?'}) ended "
            "without closing its config.json (killed?); its status is corrected to 'killed' and its "
            "finished tasks are kept",
            file=sys.stderr,
        )
        if old_history and old_history[-1].get("status") == "running":
            old_history[-1]["status"] = "killed"
    return old_history


def _suite_record(config: RunConfig, store: ResultStore, plan: Plan) -> tuple[suites.Suite, dict]:
    """The run's suite and what config.json records of its data; refuses data changed under finished tasks.

    config.json keeps describing the data the finished tasks were computed from (a run that computes nothing
    must not replace that record with today's reading of the data).
    """
    suite = config_suite(config)
    suite_record = suite.record(list(config.datasets))  # checksums and preprocessing, into config.json
    done_datasets = {t.dataset for t in plan.tasks if t.name in plan.finished}
    changed = suites.changed_files(
        (plan.previous or {}).get("suite"), suite_record, done_datasets, loading=bool(plan.todo)
    )
    if changed:
        raise ConfigError(
            f"{display(store.path)}: the data, or how mixbench loads it, changed since its finished tasks "
            "ran, and results of two versions of the data must not mix:\n  " + "\n  ".join(changed) + "\n"
            "Restore the files (or the mixbench that started the run), or run into another directory "
            "(--out DIR)."
        )
    stored_datasets = ((plan.previous or {}).get("suite") or {}).get("datasets") or {}
    for name in done_datasets & set(stored_datasets):
        suite_record["datasets"][name] = stored_datasets[name]
    return suite, suite_record


def _open(config: RunConfig, store: ResultStore, plan: Plan, summary: RunSummary, started: str) -> OpenRun:
    """Write the opening record: config.json with status ``running`` and this invocation in its history."""
    previous = plan.previous
    versions = provenance.versions()
    old_history = _earlier_history(store, previous, versions)
    losses = config_losses(config)
    for loss in losses:
        loss.check_epochs(config.epochs)  # warn once here; the workers stay quiet
    for a, b in identical_losses(losses, config.epochs):  # the report says so too
        print(
            f"mixbench run: warning: losses {a!r} and {b!r} train identically at every epoch: one loss under "
            "two names, counted twice by every rank statistic; leave one out (--losses)",
            file=sys.stderr,
        )
    suite, suite_record = _suite_record(config, store, plan)
    git = provenance.git_state()
    invocation = Invocation(
        started=started,
        skipped=summary.skipped,
        n_jobs=config.n_jobs,
        n_workers=summary.n_workers,
        backend=config.backend,
        scheduler=config.scheduler,
        git_commit=(git or {}).get("commit"),
        git_dirty=(git or {}).get("dirty"),
        numerics=engine.NUMERICS_VERSION,
        host=platform.node(),
        pid=os.getpid(),
    )
    record = {
        "format": 1,
        "config": config.to_dict(),
        "science_keys": list(SCIENCE_KEYS),
        "config_hash": config.config_hash(),
        "data_dir_resolved": suite.location,
        "suite": suite_record,
        "versions": versions,
        # The code of the tasks already finished until this invocation computes one (see close_run).
        "git": (previous or {}).get("git", git) if previous is not None and plan.finished else git,
        "numerics": plan.numerics,
        # of the finished tasks until this invocation computes one (see _record_outcome)
        "loss_code": (previous or {}).get("loss_code", plan.loss_code) if plan.finished else plan.loss_code,
        "machine": provenance.machine(),
        "first_started": (previous or {}).get("first_started") or started,
        "started": started,
        "finished": None,
        "wall_time_s": None,
        "status": "running",
        "tasks": {"total": len(plan.tasks), "finished": summary.skipped, "failed": None},
        "history": None,  # written by OpenRun.write_record
    }
    opened = OpenRun(config, store, plan, summary, invocation, old_history, record)
    try:
        opened.write_record()
    except OSError as exc:
        raise unwritable(store.config_path, exc, store.path) from None
    return opened


def _record_outcome(opened: OpenRun, outcome: TaskOutcome, bar) -> bool:
    """Write a task's outcome to the store and config.json, and show it; False when the store cannot be
    written (the run is then aborted)."""
    store, summary, task = opened.store, opened.summary, outcome.task
    try:
        if outcome.done:
            metadata = {**outcome.metadata, "loss_code": opened.plan.loss_code}
            store.write_task(task.key, outcome.records, outcome.selected, metadata)
            opened.record["loss_code"] = opened.plan.loss_code
            summary.done += 1
            if summary.slowest is None or outcome.seconds > summary.slowest[1]:
                summary.slowest = (task, outcome.seconds)
        else:
            store.write_failure(task.key, outcome.error, outcome.error_type, outcome.traceback)
        # True counts in config.json even if this process is killed next.
        opened.record["tasks"]["finished"] = summary.skipped + summary.done
        opened.write_record()
    except OSError as exc:
        summary.store_error = unwritable(store.path, exc, store.path)
        summary.aborted = str(summary.store_error)
        return False
    if not outcome.done:
        summary.failed.append((task, outcome.error))
        bar.write(f"mixbench run: task {task.label} failed: {first_line(outcome.error)}", sys.stderr)
    n = summary.done + len(summary.failed)
    failed = f", {len(summary.failed)} failed" if summary.failed else ""
    bar.set_description_str(f"{n}/{len(opened.plan.todo)} tasks{failed}", refresh=False)
    bar.set_postfix_str(f"last: {task.label}", refresh=False)
    bar.update(task.cost)
    return True


def close_run(opened: OpenRun) -> None:
    """Consolidate and write the final status; a store that cannot be written is said, not raised."""
    store, config, summary, record = opened.store, opened.config, opened.summary, opened.record
    try:
        # Count from the store: a Ctrl-C can land between a task's write and the counter's increment.
        summary.done = len(store.finished() & {t.name for t in opened.plan.todo})
        selected = store.consolidate({"settings": task_settings(config.to_dict())})
        record["consolidated"] = consolidation_record(selected)
        n_failed_now = len(store.read_failures())
    except OSError as exc:
        if summary.store_error is None:
            summary.store_error = unwritable(store.path, exc, store.path)
            summary.aborted = str(summary.store_error)
        selected, n_failed_now = None, len(summary.failed)
    if selected is not None and len(selected):
        diverged = selected[selected["diverged"]]
        summary.diverged = {str(k): int(v) for k, v in diverged.groupby("loss").size().items()}
        summary.n_no_result = int(selected["test_acc"].isna().sum())
        summary.n_selected = len(selected)
    invocation = opened.invocation
    invocation.finished = provenance.now()
    invocation.wall_time_s = round(summary.wall_time_s, 3)
    invocation.status = summary.status
    invocation.done = summary.done
    invocation.failed = len(summary.failed)
    invocation.signal = summary.stopped_by
    if summary.done:
        record["git"] = {"commit": invocation.git_commit, "dirty": invocation.git_dirty}
    history = opened.history()
    record["computed_by"] = provenance.computed_by(history)
    record.update(
        finished=invocation.finished,
        wall_time_s=invocation.wall_time_s,
        total_wall_time_s=round(sum(h.get("wall_time_s") or 0 for h in history), 3),
        status=summary.status,
        tasks={
            "total": len(opened.plan.tasks),
            "finished": summary.done + summary.skipped,
            "failed": n_failed_now,
        },
    )
    try:
        opened.write_record()
    except OSError as exc:  # e.g. still no space: the next start sees "running" and corrects it
        if summary.store_error is None:
            summary.store_error = unwritable(store.config_path, exc, store.path)
            summary.aborted = str(summary.store_error)
