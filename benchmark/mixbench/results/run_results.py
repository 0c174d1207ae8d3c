"""Reading a run directory back: :func:`load` -> one :class:`RunResults` of tidy DataFrames."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mixbench.results.completeness import Completeness
from mixbench.results.store import ResultStore


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
