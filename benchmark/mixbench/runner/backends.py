"""Where tasks run: joblib's ``loky`` workers on this machine (one torch thread each, ended with the run), or
a dask.distributed cluster; the outcomes come back to the one process that writes the store."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool

import joblib
from joblib.externals.loky.process_executor import TerminatedWorkerError

from mixbench.runner.config import ConfigError, RunConfig, config_losses
from mixbench.runner.grid import Task
from mixbench.runner.tasks import TaskOutcome, run_task_safely

# joblib's errors for a worker process that died; the run keeps what is finished and says so.
WORKER_DEATH = (TerminatedWorkerError, BrokenProcessPool)


def _init_worker(parent_pid: int | None = None) -> None:
    """Set up a loky worker process: one torch thread, Ctrl-C left to the parent, and an end with it.

    A terminal's Ctrl-C reaches every process of the group; the parent stops the run and terminates the
    workers, so they ignore SIGINT instead of each printing a KeyboardInterrupt traceback. When the parent
    dies without stopping them (kill -9, the OOM killer), nothing would: a watcher thread ends the worker
    as soon as it is orphaned (its parent process id changes).
    """
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    if parent_pid is not None:
        _watch_parent(parent_pid)


#: How often a worker checks that the process that started it is alive (seconds).
_PARENT_POLL_S = 0.25


def _watch_parent(parent_pid: int) -> None:
    # Not prctl(PR_SET_PDEATHSIG): it fires when the *thread* that forked the worker ends, and loky forks
    # from helper threads. The parent id changes the moment the parent dies (the orphan is re-parented).
    watched = parent_pid if os.getppid() == parent_pid else os.getppid()

    def watch() -> None:
        while os.getppid() == watched:
            time.sleep(_PARENT_POLL_S)
        os._exit(1)  # the run is gone; nobody will read this worker's result

    threading.Thread(target=watch, name="mixbench-parent-watch", daemon=True).start()


@contextlib.contextmanager
def outcomes(tasks: list[Task], config: RunConfig, n_workers: int) -> Iterator[Iterator[TaskOutcome]]:
    """Outcomes of ``tasks`` as they finish, from joblib (loky locally, or the dask cluster).

    With the dask backend, joblib uses the ``distributed.Client`` connected last (see :func:`run`).
    """
    if config.backend == "dask":
        context, options = joblib.parallel_config(backend="dask"), {}
    else:
        options = {"backend": "loky", "initializer": _init_worker, "initargs": (os.getpid(),)}
        context = contextlib.nullcontext()
    with context:
        parallel = joblib.Parallel(n_jobs=n_workers, return_as="generator_unordered", batch_size=1, **options)
        losses = config_losses(config)  # sent to the workers as objects (cloudpickle): see run_task
        generator = parallel(joblib.delayed(run_task_safely)(t, config, losses) for t in tasks)
        try:
            yield generator
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # joblib warns when a generator is closed early
                generator.close()


def dask_client(address: str):
    """A ``distributed.Client`` connected to the scheduler at ``address`` (ConfigError if it cannot be)."""
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError(
            "--backend dask needs dask.distributed: pip install 'mixbench[dask]' (here and on the workers)"
        ) from None
    try:
        return Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"cannot reach the dask scheduler at {address} ({exc}); start it with `dask scheduler` and give "
            "its address (tcp://HOST:8786)"
        ) from None


def n_workers(config: RunConfig, n_tasks: int, client=None) -> int:
    """How many tasks run at once: the cluster's threads, or ``n_jobs`` cores (at most one per task)."""
    if client is not None:
        threads = sum(client.nthreads().values())
        return threads if config.n_jobs == -1 else config.n_jobs
    wanted = joblib.cpu_count() if config.n_jobs == -1 else config.n_jobs
    return max(1, min(wanted, n_tasks))
