"""The tasks of a run: one (dataset, network, split, noise) cell of the grid each, planned largest first,
and run in a worker: the dataset loaded (label noise applied), every model trained with the global random
generators seeded from the task, the results selected by validation."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import platform
import time
import traceback
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixbench import __version__, data, engine
from mixbench.engine import select_by_validation, train_bank
from mixbench.losses import Loss
from mixbench.models import layer_sizes
from mixbench.results import EPOCH_COLUMNS, task_settings
from mixbench.runner.config import RunConfig, config_losses, config_suite
from mixbench.runner.grid import Task


def noise_seed(dataset: str, split: int, noise: str) -> int:
    """Seed of the label noise of a task: a hash of (dataset, split, noise).

    The network is left out on purpose, so the linear and the hidden network see the same noisy labels.
    """
    digest = hashlib.sha256(f"mixbench-noise|{dataset}|{int(split)}|{noise}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def task_dataset(task: Task, config: RunConfig) -> data.Dataset:
    """The dataset of a task: the split loaded, then label noise on training and validation labels."""
    dataset = config_suite(config).load(task.dataset, task.split)
    if task.noise != "none":
        rate, kind = data.parse_noise(task.noise)
        seed = noise_seed(task.dataset, task.split, task.noise)
        dataset = data.apply_label_noise(dataset, rate, kind, seed=seed, include_validation=True)
    return dataset


# Per-step cost of a model in "parameter equivalents": measured on the toy suite (2-core machine), a
# training step costs about as much fixed dispatch work as 3000 parameters of arithmetic.
_STEP_OVERHEAD = 3000.0


def estimate_cost(n_rows: int, n_features: int, n_classes: int, net: str, epochs: int) -> float:
    """Relative cost of a task: rows x epochs x (per-step overhead + parameters of one model)."""
    params = sum((fan_in + 1) * fan_out for fan_in, fan_out in layer_sizes(net, n_features, n_classes))
    return float(n_rows) * epochs * (_STEP_OVERHEAD + params)


def plan_tasks(config: RunConfig) -> list[Task]:
    """The grid's tasks with their estimated cost, largest first (ties in canonical order)."""
    tasks, suite, shapes = [], config_suite(config), {}
    for t in config.tasks():
        if t.dataset not in shapes:
            shapes[t.dataset] = suite.shape(t.dataset)
        cost = estimate_cost(*shapes[t.dataset], t.net, config.epochs)
        tasks.append(dataclasses.replace(t, cost=cost))
    return sorted(tasks, key=lambda t: -t.cost)  # sorted() is stable


def run_task(task: Task, config: RunConfig, losses: Sequence[Loss] | None = None) -> dict:
    """Run one task in this process (with one torch thread) and return its tables.

    ``losses`` are the run's :class:`~mixbench.losses.Loss` objects, resolved in the parent and sent to the
    worker as they are (so a loss registered in the caller's Python session trains in every worker);
    default :func:`config_losses`. The global random generators (torch, numpy, ``random``) are seeded from
    the task and the run's seeds for the task's duration, so a loss that draws random numbers gives the same
    cells in every run and for any ``n_jobs``.

    Returns
    -------
    dict
        ``records`` (per-epoch, ``EPOCH_COLUMNS``), ``selected`` (``SELECTED_COLUMNS``), ``seconds`` and
        ``metadata`` (dataset source and checksums, sizes, versions).
    """
    import torch

    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread per worker: no oversubscription, same numbers for any n_jobs
    losses = config_losses(config) if losses is None else list(losses)
    try:
        dataset = task_dataset(task, config)
        with warnings.catch_warnings(), _seeded_generators(task_generator_seed(task, config.seeds)):
            warnings.simplefilter("ignore")  # e.g. a schedule that gets few epochs: said once in the parent
            result = train_bank(
                dataset.X,
                dataset.y,
                dataset.train,
                dataset.validation,
                dataset.test,
                dataset.n_classes,
                net=task.net,
                losses=losses,
                lrs=list(config.lrs),
                seeds=list(config.seeds),
                epochs=config.epochs,
                batch_size=config.batch_size,
                momentum=config.momentum,
                eval_batch=config.eval_batch,
                device=config.device,
            )
    finally:
        torch.set_num_threads(threads)
    records = result.records.assign(**task.key)[EPOCH_COLUMNS]
    selected = select_by_validation(records, lr_order=list(config.lrs))
    seconds = time.perf_counter() - start
    metadata = {
        "seconds": seconds,
        "source": dataset.source,
        "checksums": dataset.checksums,
        "n_rows": dataset.n_rows,
        "n_features": dataset.n_features,
        "n_classes": dataset.n_classes,
        "n_train": len(dataset.train),
        "n_validation": len(dataset.validation),
        "n_test": len(dataset.test),
        "noise_seed": noise_seed(task.dataset, task.split, task.noise) if task.noise != "none" else None,
        # What the numbers were computed with, checked against the run's settings before a resume counts
        # the task as finished (a hand-edited config.json, a file copied in from another run).
        "settings": task_settings(config.to_dict()),
        "numerics": engine.NUMERICS_VERSION,
        "mixbench": __version__,
        "torch": torch.__version__,
        "host": platform.node(),
    }
    return {"records": records, "selected": selected, "seconds": seconds, "metadata": metadata}


def task_generator_seed(task: Task, seeds: Sequence[int]) -> int:
    """Seed of the global random generators during a task: a hash of its key and the run's seeds."""
    text = f"mixbench-generators|{task.dataset}|{task.net}|{int(task.split)}|{task.noise}|{list(seeds)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@contextlib.contextmanager
def _seeded_generators(seed: int) -> Iterator[None]:
    """torch's, numpy's and ``random``'s global generators seeded with ``seed``, restored afterwards.

    The engine draws initial weights and batch orders from generators of its own; these are for a user
    loss that draws random numbers (dropout-like), which would otherwise depend on what the worker process
    ran before.
    """
    import random

    import torch

    # numpy's legacy global generator on purpose: it is the one a user's np.random.rand() call draws from.
    numpy_state, random_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)  # noqa: NPY002
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)  # noqa: NPY002
            random.setstate(random_state)


@dataclass
class TaskOutcome:
    """What a worker sends back for one task: its tables (``done``) or its error (``failed``).

    ``records``, ``selected`` and ``metadata`` are :func:`run_task`'s (None when the task failed);
    ``error``, ``error_type`` and ``traceback`` say why it failed (None when it is done).
    """

    task: Task
    status: str
    seconds: float
    records: pd.DataFrame | None = None
    selected: pd.DataFrame | None = None
    metadata: dict | None = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None

    @property
    def done(self) -> bool:
        return self.status == "done"


def run_task_safely(task: Task, config: RunConfig, losses: Sequence[Loss] | None = None) -> TaskOutcome:
    """:func:`run_task` for a worker: an exception becomes a failure outcome, so the other tasks go on."""
    start = time.perf_counter()
    try:
        outcome = run_task(task, config, losses)
    except Exception as exc:  # KeyboardInterrupt and SystemExit still stop the run
        return TaskOutcome(
            task=task,
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
            error_type=type(exc).__name__,
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - start,
        )
    return TaskOutcome(task=task, status="done", **outcome)
