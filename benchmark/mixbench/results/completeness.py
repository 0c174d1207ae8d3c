"""How far a run got: which tasks of its grid are finished, failed or missing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mixbench.results.files import expected_tasks, final_files, task_label

if TYPE_CHECKING:
    from mixbench.results.store import ResultStore


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


def store_completeness(
    store: ResultStore, config: dict | None = None, finished: set[str] | None = None
) -> Completeness | None:
    """:meth:`ResultStore.completeness <mixbench.results.ResultStore.completeness>` (see there)."""
    record = store.read_config() or {}
    config = record.get("config", {}) if config is None else config
    expected = expected_tasks(config)
    if expected is None:
        return None
    finished = store.finished() if finished is None else finished
    failures = set(final_files(store.failures_dir, ".json"))
    done = tuple(n for n in expected if n in finished)
    failed = tuple(n for n in expected if n not in finished and n in failures)
    missing = tuple(n for n in expected if n not in finished and n not in failures)
    recorded = str(record.get("status") or "")
    live = store.lock_held()
    status = recorded
    if recorded == "running" and not live:
        status = "killed"  # config.json was never closed: the process died (kill -9, power, OOM)
    labels = {n: task_label(expected[n]) for n in expected}
    return Completeness(
        total=len(expected),
        finished=tuple(labels[n] for n in done),
        failed=tuple(labels[n] for n in failed),
        missing=tuple(labels[n] for n in missing),
        status=status,
        recorded_status=recorded,
        live=live,
        path=store.path,
    )
