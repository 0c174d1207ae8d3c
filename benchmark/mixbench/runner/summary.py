"""What one invocation of :func:`mixbench.runner.run` did, and the closing summary ``mixbench run`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mixbench.results import RunDirectoryError
from mixbench.runner.grid import Task
from mixbench.runner.messages import REPORT_HINT, display, duration, first_line


@dataclass
class RunSummary:
    """What one invocation of :func:`run` did."""

    out: Path
    n_tasks: int
    done: int = 0
    skipped: int = 0
    failed: list[tuple[Task, str]] = field(default_factory=list)
    interrupted: bool = False
    aborted: str | None = None
    wall_time_s: float = 0.0
    n_workers: int = 1
    backend: str = "loky"
    slowest: tuple[Task, float] | None = None
    #: The signal that stopped the run: SIGINT (Ctrl-C) or SIGTERM; None when it was not stopped.
    stopped_by: str | None = None
    #: The run directory could not be written (disk full, read-only): the one-line error.
    store_error: RunDirectoryError | None = None
    #: Selected results (of the whole run) where some learning rate diverged, by loss.
    diverged: dict[str, int] = field(default_factory=dict)
    #: Selected results without any result: every learning rate diverged.
    n_no_result: int = 0
    n_selected: int = 0

    @property
    def status(self) -> str:
        """complete, failed (some task raised), interrupted (Ctrl-C, SIGTERM) or aborted (e.g. a worker
        died, the disk is full)."""
        if self.interrupted:
            return "interrupted"
        if self.aborted:
            return "aborted"
        return "failed" if self.failed else "complete"

    @property
    def exit_code(self) -> int:
        """0 when every task is finished; 130 after Ctrl-C, 143 after SIGTERM; 2 when the run directory
        cannot be written; 1 when a task failed or the run aborted."""
        if self.interrupted:
            return 143 if self.stopped_by == "SIGTERM" else 130
        if self.store_error is not None:
            return 2
        return 1 if self.failed or self.aborted else 0

    @property
    def report_command(self) -> str:
        return f"{REPORT_HINT} {display(self.out)}"

    @property
    def resume_command(self) -> str:
        return f"mixbench run --resume {display(self.out)}"

    def format(self) -> str:
        """The closing summary printed by ``mixbench run``."""
        lines = []
        head = (
            f"{self.n_tasks} tasks: {self.done} done, {self.skipped} skipped (already finished), "
            f"{len(self.failed)} failed"
        )
        if self.interrupted or self.aborted:
            left = self.n_tasks - self.done - self.skipped - len(self.failed)
            head += f", {left} not run"
        ran = self.done + len(self.failed)
        workers = f" ({self.n_workers} {self.backend} worker{'s' * (self.n_workers != 1)})" if ran else ""
        lines.append(f"{head}; wall time {duration(self.wall_time_s)}{workers}")
        if self.slowest is not None:
            lines.append(f"slowest task: {self.slowest[0].label} ({duration(self.slowest[1])})")
        if self.failed:
            lines.append(f"failed tasks ({len(self.failed)}), recorded in {display(self.out / 'failures')}:")
            lines += [f"  {task.label}: {first_line(error)}" for task, error in self.failed]
        if self.diverged:
            by_loss = ", ".join(
                f"{loss} {n}" for loss, n in sorted(self.diverged.items(), key=lambda x: -x[1])
            )
            none = (
                f"; {self.n_no_result} have no result at all (every learning rate diverged)"
                if self.n_no_result
                else ""
            )
            lines.append(
                f"diverged: {sum(self.diverged.values())} of {self.n_selected} selected results had a "
                f"learning rate that diverged ({by_loss}){none}; the report lists them"
            )
        lines.append(f"results: {display(self.out)}")
        if self.interrupted:
            how = "terminated (SIGTERM)" if self.stopped_by == "SIGTERM" else "interrupted"
            lines.append(
                f"{how}: the finished tasks are kept. Resume with the same command (finished tasks are "
                f"skipped), or with: {self.resume_command}"
            )
        elif self.aborted:
            lines.append(f"aborted: {self.aborted}")
            lines.append(
                f"the finished tasks are kept; resume with the same command, or: {self.resume_command}"
            )
        elif self.failed:
            lines.append(
                "fix the cause and re-run the same command: finished tasks are skipped, failed ones retried"
            )
        if self.done + self.skipped:
            lines.append(f"report:  {self.report_command}")
        return "\n".join(lines)
