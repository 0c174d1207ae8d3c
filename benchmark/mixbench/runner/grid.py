"""A task: one cell of a run's grid (dataset, network, split column, noise setting)."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixbench.results import task_name
from mixbench.results.files import task_label


@dataclass(frozen=True)
class Task:
    """One cell of the grid: a dataset, a network, a split column and a noise setting."""

    dataset: str
    net: str
    split: int
    noise: str
    cost: float = field(default=0.0, compare=False)

    @property
    def name(self) -> str:
        """File-name stem in the result store."""
        return task_name(self.dataset, self.net, self.split, self.noise)

    @property
    def key(self) -> dict:
        return {"dataset": self.dataset, "net": self.net, "split": self.split, "noise": self.noise}

    @property
    def label(self) -> str:
        """Short human label, e.g. ``digits/hidden`` (split and noise shown when not the defaults)."""
        return task_label(self.key)
