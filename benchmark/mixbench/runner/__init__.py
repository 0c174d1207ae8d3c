"""The benchmark grid: tasks, configuration, parallel execution, progress and the end-of-run summary.

A *task* is one (dataset, network, split, noise) cell of the grid. It loads the dataset (label noise applied
to its training and validation labels), trains every (loss, learning rate, seed) model of the network with
:func:`mixbench.engine.train_bank`, selects by validation, and returns the per-epoch records and the selected
results; the parent process writes them to the result store (:mod:`mixbench.results`) as each task finishes.

Configuration is layered: the defaults and a preset (``paper``, the reference protocol, which the defaults
equal) < a TOML file (``--config``) < command-line options. :func:`resolve_config` returns the fully resolved
:class:`RunConfig` (dataset globs expanded), :func:`run` runs it::

    from mixbench import runner
    config = runner.resolve_config({"datasets": "iris,wine", "epochs": 5, "out": "results/quick"})
    summary = runner.run(config)
    print(summary.format())

Execution uses joblib: locally with the ``loky`` backend (one process per core, each with one torch thread,
so results do not depend on ``n_jobs``), or on a dask.distributed cluster with ``backend="dask"``::

    # on the scheduler machine               # on each worker machine (mixbench installed, same data)
    dask scheduler --port 8786               MIXBENCH_DATA=/data/uci121 dask worker tcp://HOST:8786 \\
                                                 --nworkers 16 --nthreads 1
    # then, where the results should land:
    mixbench run --suite uci121 --backend dask --scheduler tcp://HOST:8786

The workers need mixbench (and any user loss module) importable, and the UCI-121 data either at the
``--data-dir`` path given to ``mixbench run`` or, without ``--data-dir``, wherever ``$MIXBENCH_DATA`` points
on the worker. Results travel back to the process that runs ``mixbench run``, which alone writes the store,
so the workers need no shared filesystem for results.

Tasks run largest first (estimated from rows x epochs x network size), so the wall time is not held up by
one big dataset at the end. Finished tasks are skipped when the same command runs again; a task that raises
is recorded under ``failures/`` and the others continue.

Modules: :mod:`~mixbench.runner.config` (settings and their resolution), :mod:`~mixbench.runner.tasks` (the
grid's tasks and running one), :mod:`~mixbench.runner.backends` (loky and dask workers),
:mod:`~mixbench.runner.checks` (what a run directory must pass before a run writes into it),
:mod:`~mixbench.runner.lock` (the run lock), :mod:`~mixbench.runner.provenance` (versions, git, machine),
:mod:`~mixbench.runner.summary` (:class:`RunSummary`), :mod:`~mixbench.runner.invocation` (:func:`run`) and
:mod:`~mixbench.runner.messages` (how messages name paths and errors).
"""

from __future__ import annotations

from mixbench.results import RunDirectoryError
from mixbench.runner.checks import check_run_dir
from mixbench.runner.config import (
    BACKENDS,
    DEFAULT_PRESET,
    EXECUTION_KEYS,
    OPTION_KEYS,
    PRESET_SETTINGS,
    SCIENCE_KEYS,
    ConfigError,
    RunConfig,
    config_losses,
    config_suite,
    default_out,
    parse_label_noise,
    read_config_file,
    resolve_config,
)
from mixbench.runner.grid import Task
from mixbench.runner.invocation import Terminated, run
from mixbench.runner.summary import RunSummary
from mixbench.runner.tasks import (
    estimate_cost,
    noise_seed,
    plan_tasks,
    run_task,
    task_dataset,
    task_generator_seed,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_PRESET",
    "EXECUTION_KEYS",
    "OPTION_KEYS",
    "PRESET_SETTINGS",
    "SCIENCE_KEYS",
    "ConfigError",
    "RunConfig",
    "RunDirectoryError",
    "RunSummary",
    "Task",
    "Terminated",
    "check_run_dir",
    "config_losses",
    "config_suite",
    "default_out",
    "estimate_cost",
    "noise_seed",
    "parse_label_noise",
    "plan_tasks",
    "read_config_file",
    "resolve_config",
    "run",
    "run_task",
    "task_dataset",
    "task_generator_seed",
]

#: Old names, kept working with a DeprecationWarning: ``PRESETS`` also names ``mixbench.protocol.PRESETS``
#: (Protocol tuples); the runner's are the settings dicts.
_RENAMED = {"PRESETS": "PRESET_SETTINGS"}


def __getattr__(name: str):
    if name in _RENAMED:
        import warnings

        warnings.warn(
            f"{__name__}.{name} is now {__name__}.{_RENAMED[name]}", DeprecationWarning, stacklevel=2
        )
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
