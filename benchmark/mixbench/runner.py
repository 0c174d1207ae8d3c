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
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import errno
import fnmatch
import hashlib
import json
import math
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
import tomllib
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: runs go unlocked
    fcntl = None

import joblib
import numpy as np
import pandas as pd
from joblib.externals.loky.process_executor import TerminatedWorkerError

from mixbench import __version__, data, suites
from mixbench.engine import NUMERICS_VERSION, select_by_validation, train_bank
from mixbench.losses import Loss, get_loss, resolve_losses, split_loss_names
from mixbench.models import NETS, layer_sizes
from mixbench.protocol import PRESETS as PROTOCOL_PRESETS
from mixbench.protocol import PROTOCOL
from mixbench.results import (
    EPOCH_COLUMNS,
    LOCK_FILE,
    ResultStore,
    RunDirectoryError,
    consolidation_record,
    task_name,
    task_settings,
)

__all__ = [
    "BACKENDS",
    "PRESETS",
    "SCIENCE_KEYS",
    "ConfigError",
    "RunConfig",
    "RunDirectoryError",
    "RunSummary",
    "Task",
    "Terminated",
    "estimate_cost",
    "noise_seed",
    "plan_tasks",
    "resolve_config",
    "run",
    "run_task",
    "task_dataset",
]

BACKENDS = ("loky", "dask")
#: Named protocols. ``paper``: the reference study (Table 4 of "Mixing between the Cross Entropy and the
#: Expectation Loss Terms"): 8 losses, both networks, 3 learning rates, 2 seeds, 50 epochs, batch 8, split 0.
PRESETS: dict[str, dict] = {name: protocol.as_dict() for name, (protocol, _) in PROTOCOL_PRESETS.items()}
DEFAULT_PRESET = "paper"
#: Science settings added after the first run directories were written, with their default (the value
#: every run had before them): left out of :meth:`RunConfig.science` at that value, so older run
#: directories keep their names and hashes, and a missing one in a stored config.json means that value.
_LATER_SCIENCE_KEYS = {"eval_batch": 0, "suite_options": {}, "loss_sources": {}}
_DEFAULTS = {
    **_LATER_SCIENCE_KEYS,
    "suite": "toy",
    "datasets": ["*"],
    "device": "cpu",
    "data_dir": None,
    "n_jobs": -1,
    "backend": "loky",
    "scheduler": None,
    "out": None,
}
#: Settings that change the numbers. A run directory refuses a run whose science settings differ.
SCIENCE_KEYS = (
    "suite",
    "datasets",
    "losses",
    "nets",
    "lrs",
    "seeds",
    "epochs",
    "batch_size",
    "momentum",
    "splits",
    "label_noise",
    "eval_batch",
    "device",
    "suite_options",
    "loss_sources",
)
#: Settings of how and where a run executes; they may change between invocations on one directory.
EXECUTION_KEYS = ("data_dir", "n_jobs", "backend", "scheduler", "out")
OPTION_KEYS = SCIENCE_KEYS + EXECUTION_KEYS
# Per-step cost of a model in "parameter equivalents": measured on the toy suite (2-core machine), a
# training step costs about as much fixed dispatch work as 3000 parameters of arithmetic.
_STEP_OVERHEAD = 3000.0
_REPORT_HINT = "mixbench report"
# joblib's errors for a worker process that died; the run keeps what is finished and says so.
_WORKER_DEATH = (TerminatedWorkerError, BrokenProcessPool)


class ConfigError(ValueError):
    """A run configuration that cannot be used; the message says what to change."""


# --- configuration ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunConfig:
    """The fully resolved settings of a run (see ``mixbench run --help`` for each).

    ``datasets`` holds the expanded names; ``label_noise`` the schema strings (``none``,
    ``symmetric-0.2``); ``losses`` the losses' own names, as the result tables show them (a ``module:attr``
    user loss by the name of the :class:`~mixbench.losses.Loss` it gives), and ``loss_sources`` the
    ``module:attr`` each user loss was imported from, so a resume, a worker or a report imports it again;
    ``out`` the absolute run directory.
    """

    suite: str = "toy"
    datasets: tuple[str, ...] = ()
    losses: tuple[str, ...] = PROTOCOL.losses
    nets: tuple[str, ...] = PROTOCOL.nets
    lrs: tuple[float, ...] = PROTOCOL.lrs
    seeds: tuple[int, ...] = PROTOCOL.seeds
    epochs: int = PROTOCOL.epochs
    batch_size: int = PROTOCOL.batch_size
    momentum: float = PROTOCOL.momentum
    splits: tuple[int, ...] = PROTOCOL.splits
    label_noise: tuple[str, ...] = PROTOCOL.label_noise
    eval_batch: int = PROTOCOL.eval_batch
    device: str = "cpu"
    suite_options: dict = field(default_factory=dict)
    loss_sources: dict = field(default_factory=dict)
    data_dir: str | None = None
    n_jobs: int = -1
    backend: str = "loky"
    scheduler: str | None = None
    out: str = ""
    preset: str = DEFAULT_PRESET
    config_file: str | None = None

    def science(self) -> dict:
        """The settings that change the numbers, JSON-ready (later keys left out at their old value)."""
        values = {k: getattr(self, k) for k in SCIENCE_KEYS}
        return _jsonable(
            {k: v for k, v in values.items() if k not in _LATER_SCIENCE_KEYS or v != _LATER_SCIENCE_KEYS[k]}
        )

    def to_dict(self) -> dict:
        """Every setting, JSON-ready."""
        return _jsonable(dataclasses.asdict(self))

    def config_hash(self) -> str:
        """Short hash of :meth:`science` (names the default run directory)."""
        return _science_hash(self.science())

    def tasks(self) -> list[Task]:
        """The grid in canonical order (dataset, net, split, noise)."""
        return [
            Task(d, n, s, z)
            for d in self.datasets
            for n in self.nets
            for s in self.splits
            for z in self.label_noise
        ]


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=list))


def _science_hash(science: dict) -> str:
    return hashlib.sha256(json.dumps(science, sort_keys=True).encode()).hexdigest()[:8]


def _as_list(value) -> list:
    """A list from a TOML list, a comma-separated string or a scalar."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _numbers(value, key: str, kind: type, check=None, what: str = "") -> tuple:
    items = _as_list(value)
    if not items:
        raise ConfigError(f"{key}: give at least one value")
    out = []
    for item in items:
        try:
            if isinstance(item, bool) or (kind is int and isinstance(item, float) and not item.is_integer()):
                raise ValueError
            number = kind(item)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{key}: {item!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if check is not None and not check(number):
            raise ConfigError(f"{key}: {item!r} is out of range; {what}")
        if number in out:
            raise ConfigError(f"{key}: {item!r} is listed twice")
        out.append(number)
    return tuple(out)


def _scalar(value, key: str, kind: type, check, what: str):
    try:
        if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {value!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not check(number):
        raise ConfigError(f"{key}: {value!r} is out of range; {what}")
    return number


def _split_losses(value, sources: Mapping | None = None) -> tuple[list[str], dict[str, str]]:
    """The run's losses from a list or a comma-separated string: their own names and the sources of the
    user losses among them.

    Names as :func:`mixbench.losses.split_loss_names` reads them (names with commas, parameterised names such
    as ``SCE(alpha=0.1,beta=1)``, named sets such as ``standard``, ``zoo`` or ``robust``, ``module:attr``),
    each checked to name a loss. ``sources`` (a resumed run's ``loss_sources``) are imported first, so the
    names they registered resolve.

    Returns
    -------
    names : list of str
        Each loss's own name (:attr:`Loss.name`), the name its result rows carry.
    loss_sources : dict
        ``{name: "module:attr"}`` of the losses imported from a module.
    """
    given: list[str] = []
    try:
        imported = {}
        for name, source in (sources or {}).items():
            imported[str(name)] = _import_source(str(name), str(source))
        given = split_loss_names(value if isinstance(value, str) else [str(v) for v in _as_list(value)])
        if not given:
            raise ValueError("give at least one loss")
        losses = resolve_losses(given)
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"losses: {exc.args[0] if exc.args else exc}") from None
    except Exception as exc:  # a user module that raises while it is imported
        raise ConfigError(_import_failure(given or list((sources or {}).values()), exc)) from None
    names = [loss.name for loss in losses]
    out_sources = {}
    for item, loss in zip(given, losses, strict=True):
        if ":" in item:
            out_sources[loss.name] = item
        elif loss.name in imported:
            out_sources[loss.name] = str(sources[loss.name])
    return names, out_sources


def _import_source(name: str, source: str) -> Loss:
    """The user loss ``name`` of a stored run, imported from its ``module:attr`` ``source``."""
    try:
        loss = get_loss(source)
    except (KeyError, ImportError, AttributeError) as exc:
        raise ConfigError(
            f"losses: the run's loss {name!r} comes from {source!r}, which cannot be imported here "
            f"({_first_line(str(exc.args[0] if exc.args else exc), 200)}); make that module importable "
            "(install it, or add its folder to PYTHONPATH) and run again"
        ) from None
    if loss.name != name:
        raise ConfigError(
            f"losses: {source!r} now gives a loss named {loss.name!r}, but the run's results are of "
            f"{name!r}; restore that name in the module, or run into another --out directory"
        )
    return loss


def config_losses(config: RunConfig) -> list[Loss]:
    """The :class:`~mixbench.losses.Loss` objects of a run (its user losses imported from their sources)."""
    for name, source in config.loss_sources.items():
        _import_source(name, source)
    return resolve_losses(list(config.losses))


def _import_failure(names: list[str], exc: Exception) -> str:
    """One line for a ``module:attr`` loss whose module raised on import: the file, the line, the cause."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    users = [n for n in names if ":" in n]
    where = ""
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{exc.filename}, line {exc.lineno}: "
    elif frames:
        where = f"{frames[-1].filename}, line {frames[-1].lineno}: "
    which = f"loss {users[0]!r}" if len(users) == 1 else f"one of the losses {users}"
    return (
        f"losses: {where}importing {which} raised {type(exc).__name__}: {_first_line(str(exc), 200)}; fix "
        "that module (`python -c 'import MODULE'` shows the whole traceback) or leave the loss out"
    )


def parse_label_noise(spec) -> str:
    """One noise setting as the schema string.

    ``RATE[,KIND]`` (``0.2``, ``0.2,pairflip``), ``KIND-RATE`` (``symmetric-0.2``), ``none`` or ``0``.
    """
    text = str(spec).strip()
    if text.lower() in ("none", "0", "0.0", ""):
        return "none"
    rate_text, _, kind = text.partition(",")
    kind = kind.strip() or "symmetric"
    try:
        rate = float(rate_text)
    except ValueError:
        try:
            rate, kind = data.parse_noise(text)
        except ValueError:
            raise ConfigError(
                f"label_noise: {spec!r} is not RATE[,KIND] (e.g. 0.2 or 0.4,pairflip), KIND-RATE or none; "
                f"KIND is one of {', '.join(data.NOISE_KINDS)}"
            ) from None
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"label_noise: rate {rate_text!r} is outside [0, 1]")
    if kind not in data.NOISE_KINDS:
        raise ConfigError(f"label_noise: unknown kind {kind!r}; use one of {', '.join(data.NOISE_KINDS)}")
    return data.format_noise(data.check_noise_rate(rate, kind, error=ConfigError), kind)


_GET_DATA_HINT = (
    "get them with `mixbench data fetch` or `mixbench data import PATH`, or point --data-dir at them"
)


def _expand_datasets(patterns: list[str], suite: suites.Suite) -> tuple[str, ...]:
    """Dataset names from names and globs (``*``, ``?``, ``[ab]``); ``!PATTERN`` removes matches."""
    try:
        available = suite.datasets()
    except data.DatasetError as exc:
        raise ConfigError(str(exc)) from None
    if not available:
        raise ConfigError(
            f"no complete {suite.spec} dataset in {suite.location}; get the data with `mixbench data fetch` "
            "or `mixbench data import PATH`, or point --data-dir at it (`mixbench data verify` checks it)"
        )
    # A dataset the suite knows, named exactly, is kept even when its files are missing: as a malformed
    # dataset, it fails only its own tasks (with the missing file named), and a run that lost one dataset's
    # files still resumes.
    named = suite.known()
    chosen: set[str] = set()
    for raw in patterns or ["*"]:
        pattern = str(raw).strip()
        remove = pattern.startswith("!")
        pattern = pattern[1:] if remove else pattern
        matches = fnmatch.filter(available, pattern) or ([pattern] if pattern in named else [])
        if not matches and not remove:
            chosen_hint = difflib.get_close_matches(pattern, available, n=3)
            hint = f" (did you mean {', '.join(chosen_hint)}?)" if chosen_hint else ""
            raise ConfigError(
                f"datasets: {pattern!r} matches no available {suite.spec} dataset{hint}"
                f"{suite.missing_hint(pattern)}; `mixbench data list` shows them"
            )
        chosen = chosen - set(matches) if remove else chosen | set(matches)
    if not chosen:
        raise ConfigError(f"datasets: the patterns {patterns} leave no dataset")
    if not chosen & set(available):  # nothing could run at all: say so now rather than fail every task
        raise ConfigError(
            f"datasets: {', '.join(sorted(chosen))}: {suite.spec} dataset(s) with files missing from "
            f"{suite.location} (`mixbench data verify` says which); {_GET_DATA_HINT}"
        )
    universe = sorted(set(available) | (chosen & named)) if named else available  # the suite's order
    return tuple(name for name in universe if name in chosen)


def config_suite(config: RunConfig) -> suites.Suite:
    """The suite of a run configuration (cheap: it reads its files only when asked)."""
    return suites.get_suite(config.suite, config.data_dir, **config.suite_options)


def _normalise_key(key: str) -> str:
    return key.strip().replace("-", "_")


def read_config_file(path: str | os.PathLike) -> dict:
    """Settings from a TOML file: the keys of ``mixbench run`` options (``batch_size`` or ``batch-size``).

    Relative ``data_dir`` and ``out`` paths are relative to the file's folder.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix that line") from None
    allowed = set(OPTION_KEYS) | {"preset"}
    values = {}
    for key, value in raw.items():
        name = _normalise_key(key)
        if name not in allowed:
            close = difflib.get_close_matches(name, sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{path}: unknown setting {key!r}{hint} (known: {', '.join(sorted(allowed))})")
        values[name] = value
    for key in ("data_dir", "out"):
        if isinstance(values.get(key), str):
            values[key] = str((path.parent / Path(values[key]).expanduser()).absolute())
    if isinstance(values.get("suite"), str):  # e.g. folder:data/ is relative to the file too
        values["suite"] = suites.relative_to(values["suite"], path.parent)
    return values


def default_out(suite: str, science: dict) -> Path:
    """``results/<suite>-<hash of the science settings>`` under the repository root (else the CWD)."""
    root = data.repo_root() or Path.cwd()
    return root / "results" / f"{suites.suite_slug(suite)}-{_science_hash(science)}"


def resolve_config(
    overrides: Mapping | None = None,
    *,
    preset: str | None = None,
    config_file: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
) -> RunConfig:
    """The resolved run settings: defaults < preset < resumed run < config file < ``overrides``.

    Parameters
    ----------
    overrides : mapping, optional
        Settings by :data:`OPTION_KEYS` name (a None value means "not given"). Lists may be given as
        comma-separated strings, as on the command line.
    preset : str, optional
        A name of :data:`PRESETS`; default the config file's ``preset``, else ``paper``.
    config_file : path, optional
        A TOML file of settings (:func:`read_config_file`).
    resume : path, optional
        A run directory: start from its stored science settings and ``data_dir``, and write into it.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        An unknown or invalid setting, or a dataset pattern that matches nothing.
    """
    file_values = read_config_file(config_file) if config_file is not None else {}
    given = {
        _normalise_key(k): v for k, v in (overrides or {}).items() if v is not None and v != [] and v != ()
    }
    unknown = sorted(set(given) - set(OPTION_KEYS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown}; known: {', '.join(OPTION_KEYS)}")
    stored: dict = {}
    if resume is not None:
        store = ResultStore(Path(resume).expanduser().absolute())
        record = store.read_config()
        if record is None:
            raise ConfigError(f"--resume {resume}: no config.json there, so there is no run to resume")
        keep = SCIENCE_KEYS + ("data_dir", "preset")
        stored = {k: record["config"][k] for k in keep if k in record["config"]}
        stored["out"] = str(store.path)
        if given.get("out") and Path(given["out"]).expanduser().absolute() != store.path:
            raise ConfigError("--resume DIR writes into DIR; leave out --out (or give the same directory)")
    preset_name = preset or file_values.get("preset") or stored.pop("preset", None) or DEFAULT_PRESET
    if preset_name not in PRESETS:
        raise ConfigError(f"unknown preset {preset_name!r}; presets: {', '.join(PRESETS)}")
    file_values.pop("preset", None)
    values = {**_DEFAULTS, **PRESETS[preset_name], **stored, **file_values, **given}

    data_dir = (
        None if values["data_dir"] in (None, "") else str(Path(values["data_dir"]).expanduser().absolute())
    )
    suite_options = {
        **dict(stored.get("suite_options") or {}),
        **dict(file_values.get("suite_options") or {}),
        **dict(given.get("suite_options") or {}),
    }
    try:
        the_suite = suites.get_suite(str(values["suite"]), data_dir, **suite_options)
    except (suites.SuiteError, data.DatasetError) as exc:
        raise ConfigError(f"suite: {exc}") from None
    suite = the_suite.spec
    nets = tuple(str(n) for n in _as_list(values["nets"]))
    bad = [n for n in nets if n not in NETS]
    if bad or not nets or len(set(nets)) != len(nets):
        raise ConfigError(f"nets: {list(nets)} must be distinct names among {', '.join(NETS)}")
    noise = tuple(parse_label_noise(z) for z in (_as_list_noise(values["label_noise"]) or ["none"]))
    if len(set(noise)) != len(noise):
        raise ConfigError(f"label_noise: a setting is listed twice in {list(noise)}")
    device = str(values["device"])
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"device: {device!r} is not cpu or cuda")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                f"device: {device!r} asked for, but torch sees no CUDA device; use --device cpu"
            )
    backend = str(values["backend"])
    if backend not in BACKENDS:
        raise ConfigError(f"backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    scheduler = values["scheduler"] or None
    if scheduler and backend == "loky":
        if "backend" in given or "backend" in file_values:
            raise ConfigError("scheduler: a dask scheduler address needs --backend dask")
        backend = "dask"
    if backend == "dask" and not scheduler:
        raise ConfigError("backend dask needs the scheduler's address: --scheduler tcp://HOST:8786")
    n_jobs = _scalar(
        values["n_jobs"], "n_jobs", int, lambda v: v != 0 and v >= -1, "use -1 (all cores) or >= 1"
    )
    patterns = [str(p) for p in _as_list(values["datasets"])]
    if not patterns:
        raise ConfigError("datasets: give at least one name or glob ('*' for all of the suite's datasets)")
    loss_names, loss_sources = _split_losses(values["losses"], stored.get("loss_sources"))
    config = RunConfig(
        suite=suite,
        datasets=_expand_datasets(patterns, the_suite),
        losses=tuple(loss_names),
        loss_sources=loss_sources,
        nets=nets,
        lrs=_numbers(
            values["lrs"], "lrs", float, lambda v: v > 0 and math.isfinite(v), "learning rates are > 0"
        ),
        seeds=_numbers(values["seeds"], "seeds", int, lambda v: 0 <= v < 2**63, "seeds are integers >= 0"),
        epochs=_scalar(values["epochs"], "epochs", int, lambda v: v >= 1, "use 1 or more"),
        batch_size=_scalar(values["batch_size"], "batch_size", int, lambda v: v >= 1, "use 1 or more"),
        momentum=_scalar(
            values["momentum"], "momentum", float, lambda v: 0 <= v < 1, "use a value in [0, 1)"
        ),
        splits=_splits(values["splits"], the_suite.n_splits),
        label_noise=noise,
        eval_batch=_scalar(
            values["eval_batch"],
            "eval_batch",
            int,
            lambda v: v >= 0,
            "use 0 (exact accuracy) or a batch size",
        ),
        device=device,
        suite_options=_jsonable(the_suite.options),
        data_dir=data_dir,
        n_jobs=n_jobs,
        backend=backend,
        scheduler=scheduler,
        out="",
        preset=preset_name,
        config_file=None if config_file is None else str(Path(config_file).absolute()),
    )
    out = values["out"]
    out_path = default_out(suite, config.science()) if not out else Path(out).expanduser().absolute()
    return dataclasses.replace(config, out=str(out_path))


def _as_list_noise(value) -> list:
    # One string is one setting: "0.2,pairflip" holds a comma of its own.
    if value is None:
        return []
    return [value] if isinstance(value, str | int | float) else list(value)


def _splits(value, n_splits: int) -> tuple[int, ...]:
    if isinstance(value, str) and value.strip() == "all":
        return tuple(range(n_splits))
    return _numbers(value, "splits", int, lambda v: 0 <= v < n_splits, f"splits are 0..{n_splits - 1}")


# --- tasks ------------------------------------------------------------------------------------------
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
        parts = [self.dataset, self.net]
        if self.split:
            parts.append(f"split {self.split}")
        if self.noise != "none":
            parts.append(self.noise)
        return "/".join(parts)


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
        "numerics": NUMERICS_VERSION,
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


def _run_task_safely(task: Task, config: RunConfig, losses: Sequence[Loss] | None = None) -> dict:
    """:func:`run_task` for a worker: an exception becomes a failure outcome, so the other tasks go on."""
    start = time.perf_counter()
    try:
        outcome = run_task(task, config, losses)
    except Exception as exc:  # KeyboardInterrupt and SystemExit still stop the run
        return {
            "task": task,
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "error_type": type(exc).__name__,
            "traceback": traceback.format_exc(),
            "seconds": time.perf_counter() - start,
        }
    return {"task": task, "status": "done", **outcome}


# --- provenance -------------------------------------------------------------------------------------
def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _versions() -> dict:
    import sklearn
    import torch

    return {
        "mixbench": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
    }


def _git() -> dict | None:
    root = data.repo_root()
    if root is None or not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        # Only the code counts: results and reports written into the clone do not change what computed them.
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "benchmark", "pyproject.toml"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}


def _machine() -> dict:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
    }


def _n_workers(config: RunConfig, n_tasks: int, client=None) -> int:
    if client is not None:
        threads = sum(client.nthreads().values())
        return threads if config.n_jobs == -1 else config.n_jobs
    wanted = joblib.cpu_count() if config.n_jobs == -1 else config.n_jobs
    return max(1, min(wanted, n_tasks))


# --- the run directory ------------------------------------------------------------------------------
def _display(path: str | os.PathLike) -> str:
    """``path`` relative to the CWD when inside it, shell-quoted."""
    path = Path(path)
    with contextlib.suppress(ValueError):
        path = path.relative_to(Path.cwd())
    return shlex.quote(str(path))


def _describe_difference(key: str, old, new) -> str:
    if key == "datasets" and isinstance(old, list) and isinstance(new, list):
        added = [d for d in new if d not in old]
        removed = [d for d in old if d not in new]
        parts = []
        if added:
            parts.append(
                f"{len(added)} not in the stored run ({', '.join(added[:5])}{', ...' * (len(added) > 5)})"
            )
        if removed:
            shown = ", ".join(removed[:5]) + ", ..." * (len(removed) > 5)
            parts.append(f"{len(removed)} of the stored run missing ({shown})")
        return f"datasets: {'; '.join(parts) or 'different order'}"
    return f"{key}: stored {json.dumps(old)}, now {json.dumps(new)}"


def check_run_dir(store: ResultStore, config: RunConfig) -> dict | None:
    """Refuse a run directory that holds another configuration; returns its stored record (or None)."""
    record = store.read_config()
    if record is None:
        if store.path.is_file():
            raise ConfigError(f"--out {store.path} is a file; give a directory")
        if store.path.is_dir() and any(p.name != LOCK_FILE for p in store.path.iterdir()):
            results = len(store.finished())
            if results:
                raise RunDirectoryError(
                    f"{store.config_path}: missing, but {store.path} holds the results of {results} "
                    "task(s) of a mixbench run; restore its config.json (e.g. from git or a backup) and "
                    "resume it, or give another --out (do not empty it: those results would be lost)",
                    path=store.config_path,
                )
            raise ConfigError(
                f"{store.path} exists and holds files but no config.json, so it is not a mixbench run "
                "directory; give another --out"
            )
        return None
    stored = record["config"]
    _check_config_hash(store, record)
    now = {**_LATER_SCIENCE_KEYS, **config.science()}
    stored = {**_LATER_SCIENCE_KEYS, **stored}
    differences = [
        _describe_difference(k, stored.get(k), now[k]) for k in SCIENCE_KEYS if stored.get(k) != now[k]
    ]
    if differences:
        where = _display(store.path)
        raise ConfigError(
            f"{where} holds a run with a different configuration, and results of two configurations "
            "must not mix:\n  "
            + "\n  ".join(differences)
            + f"\nRun into another directory (--out DIR, or leave out --out to get one named after the "
            f"configuration), or delete {where} to start it over, or resume it as it was with "
            f"`mixbench run --resume {where}`."
        )
    return record


def _stored_science(stored: dict) -> dict:
    """The science settings of a stored config as :meth:`RunConfig.science` gives them (for the hash)."""
    return {
        k: stored[k]
        for k in SCIENCE_KEYS
        if k in stored and not (k in _LATER_SCIENCE_KEYS and stored[k] == _LATER_SCIENCE_KEYS[k])
    }


def _check_config_hash(store: ResultStore, record: dict) -> None:
    """Refuse a config.json whose settings were edited after the run wrote it (its hash says so)."""
    written = record.get("config_hash")
    if written and _science_hash(_stored_science(record["config"])) != written:
        raise RunDirectoryError(
            f"{store.config_path}: its settings are not those it was written with (their hash is not its "
            f"config_hash {written}), so it was edited by hand; editing config.json cannot change results "
            "already computed. Restore the original settings (e.g. from git or a backup), or run the new "
            "settings into another --out directory",
            path=store.config_path,
        )


def _check_data(config: RunConfig, finished: dict[str, dict]) -> None:
    """Refuse to resume when a data file differs from the one the finished tasks were computed from."""
    if config.suite != "uci121":
        return
    root = data.resolve_data_dir(config.data_dir)
    now: dict[Path, str | None] = {}
    changed: dict[Path, list[str]] = {}
    stored_sums: dict[Path, str] = {}
    for metadata in finished.values():
        dataset = metadata.get("dataset")
        for file, digest in (metadata.get("checksums") or {}).items():
            path = root / str(dataset) / file
            if path not in now:
                now[path] = _sha256(path)
            if now[path] is not None and now[path] != digest:  # a missing file fails its tasks anyway
                key = {k: metadata[k] for k in ("dataset", "net", "split", "noise")}
                changed.setdefault(path, []).append(Task(**key).label)
                stored_sums[path] = digest
    if changed:
        lines = [
            f"{path}: sha256 {now[path][:12]}... now, but the finished task(s) {', '.join(sorted(tasks))} "
            f"were computed from {stored_sums[path][:12]}..."
            for path, tasks in sorted(changed.items())
        ]
        raise RunDirectoryError(
            "\n  ".join(lines)
            + f"\nResuming would mix results of two versions of the data. Point --data-dir "
            f"at the data the run started with, or run into another --out; to recompute those tasks with "
            f"this data, move their files out of {_display(Path(config.out) / 'tasks')} and "
            f"{_display(Path(config.out) / 'epochs')}",
            path=next(iter(sorted(changed))),
        )


def _sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as stream:
            return hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        return None


# --- running ----------------------------------------------------------------------------------------
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
        return f"{_REPORT_HINT} {_display(self.out)}"

    @property
    def resume_command(self) -> str:
        return f"mixbench run --resume {_display(self.out)}"

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
        lines.append(f"{head}; wall time {_duration(self.wall_time_s)}{workers}")
        if self.slowest is not None:
            lines.append(f"slowest task: {self.slowest[0].label} ({_duration(self.slowest[1])})")
        if self.failed:
            lines.append(f"failed tasks ({len(self.failed)}), recorded in {_display(self.out / 'failures')}:")
            lines += [f"  {task.label}: {_first_line(error)}" for task, error in self.failed]
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
        lines.append(f"results: {_display(self.out)}")
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


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


@contextlib.contextmanager
def _outcomes(tasks: list[Task], config: RunConfig, n_workers: int) -> Iterator[Iterator[dict]]:
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
        generator = parallel(joblib.delayed(_run_task_safely)(t, config, losses) for t in tasks)
        try:
            yield generator
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # joblib warns when a generator is closed early
                generator.close()


def _dask_client(address: str):
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
    with _locked(store), _sigterm_stops_like_ctrl_c() as stopped:
        return _run_locked(config, store, progress, stopped)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the run stops as after Ctrl-C (a KeyboardInterrupt)."""


@contextlib.contextmanager
def _sigterm_stops_like_ctrl_c() -> Iterator[dict]:
    """While the run goes on, SIGTERM raises :class:`Terminated` in the main thread (once: a second one
    during the clean-up is noted, not raised, so the clean-up completes). Yields a dict whose ``signal``
    is set to the name of the signal that stopped the run."""
    stopped: dict = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield stopped  # signal handlers can only be set in the main thread
        return

    def handler(signum, frame):
        if stopped["signal"] is None:
            stopped["signal"] = "SIGTERM"
            raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGTERM, previous)


def _unwritable(path: Path, exc: OSError, out: Path) -> RunDirectoryError:
    where = exc.filename or path
    if exc.errno == errno.ENOSPC:
        fix = f"free space on that disk, then resume with `mixbench run --resume {_display(out)}`"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = (
            f"make {_display(out)} writable (chmod u+w), or copy it somewhere writable and resume it there; "
            "`mixbench report` reads a run without writing to it"
        )
    else:
        fix = f"fix that, then resume with `mixbench run --resume {_display(out)}`"
    return RunDirectoryError(f"{where}: cannot be written ({exc.strerror or exc}); {fix}", path=where)


@contextlib.contextmanager
def _locked(store: ResultStore) -> Iterator[None]:
    """Hold ``<run>/.lock`` (flock) for the run, so a second run into the same directory is refused.

    The kernel drops the lock when the process dies, even by SIGKILL; the file is removed at the end.
    """
    created = not store.path.exists()
    try:
        store.path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(store.path, exc, store.path) from None
    try:
        if fcntl is None:
            yield
        else:
            with _flock(store):
                yield
    finally:
        if created and not any(store.path.iterdir()):  # e.g. the dask scheduler was unreachable
            store.path.rmdir()


@contextlib.contextmanager
def _flock(store: ResultStore) -> Iterator[None]:
    path = store.path / LOCK_FILE
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole run
    except OSError as exc:
        raise _unwritable(path, exc, store.path) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ConfigError(
                f"{_display(store.path)} is being written by another mixbench run ({holder}); wait for it to "
                "end, or run into another --out directory"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {platform.node()}\n")
            handle.flush()
        except OSError as exc:  # e.g. a full disk
            raise _unwritable(path, exc, store.path) from None
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
    finally:
        handle.close()


def _run_locked(config: RunConfig, store: ResultStore, progress: bool, stopped: dict) -> RunSummary:
    started_clock = time.perf_counter()
    started = _now()
    previous = check_run_dir(store, config)  # again, now that no other run can write
    try:
        store.clean_temporary()
    except OSError as exc:
        raise _unwritable(store.path, exc, store.path) from None
    tasks = plan_tasks(config)
    # Every finished task is checked against the task it claims to be, the run's settings and the data it
    # was computed from, before it counts as finished.
    checked = store.check(config.to_dict(), (previous or {}).get("consolidated"))
    _check_data(config, checked)
    finished = set(checked)
    todo = [t for t in tasks if t.name not in finished]
    numerics = _check_numerics(store, previous, checked, bool(todo))
    client = _dask_client(config.scheduler) if config.backend == "dask" and todo else None
    n_workers = _n_workers(config, len(todo), client)
    summary = RunSummary(
        out=store.path,
        n_tasks=len(tasks),
        skipped=len(tasks) - len(todo),
        n_workers=n_workers,
        backend=config.backend,
    )
    versions = _versions()
    old = (previous or {}).get("versions")
    old = old if isinstance(old, dict) else {}
    if previous is not None and old != versions:
        changed = [f"{k} {old.get(k)} -> {v}" for k, v in versions.items() if old.get(k) != v]
        print(
            f"mixbench run: note: {_display(store.path)} was started with other versions "
            f"({', '.join(changed)}); tasks run now may differ in the last digits from those run then",
            file=sys.stderr,
        )
    old_history = [dict(h) for h in (previous or {}).get("history", []) if isinstance(h, dict)]
    if previous is not None and previous.get("status") == "running":
        # We hold the lock, so the process that wrote "running" is gone: killed before it could close.
        last = old_history[-1] if old_history else {}
        print(
            f"mixbench run: note: the previous run into {_display(store.path)} (started "
            f"{last.get('started') or previous.get('started') or '?'} on {last.get('host') or '?'}) ended "
            "without closing its config.json (killed?); its status is corrected to 'killed' and its "
            "finished tasks are kept",
            file=sys.stderr,
        )
        if old_history and old_history[-1].get("status") == "running":
            old_history[-1]["status"] = "killed"
    for loss in config_losses(config):
        loss.check_epochs(config.epochs)  # warn once here; the workers stay quiet
    suite = config_suite(config)
    suite_record = suite.record(list(config.datasets))  # checksums and preprocessing, into config.json
    done_datasets = {t.dataset for t in tasks if t.name in finished}
    changed = suites.changed_files(
        (previous or {}).get("suite"), suite_record, done_datasets, loading=bool(todo)
    )
    if changed:
        raise ConfigError(
            f"{_display(store.path)}: the data, or how mixbench loads it, changed since its finished tasks "
            "ran, and results of two versions of the data must not mix:\n  " + "\n  ".join(changed) + "\n"
            "Restore the files (or the mixbench that started the run), or run into another directory "
            "(--out DIR)."
        )
    # config.json keeps describing the data the finished tasks were computed from (a run that computes
    # nothing must not replace that record with today's reading of the data).
    stored_datasets = ((previous or {}).get("suite") or {}).get("datasets") or {}
    for name in done_datasets & set(stored_datasets):
        suite_record["datasets"][name] = stored_datasets[name]
    git = _git()
    invocation = {
        "started": started,
        "finished": None,
        "wall_time_s": None,
        "status": "running",
        "done": 0,
        "skipped": summary.skipped,
        "failed": 0,
        "n_jobs": config.n_jobs,
        "n_workers": n_workers,
        "backend": config.backend,
        "scheduler": config.scheduler,
        "git_commit": (git or {}).get("commit"),
        "git_dirty": (git or {}).get("dirty"),
        "numerics": NUMERICS_VERSION,
        "host": platform.node(),
        "pid": os.getpid(),
    }
    history = old_history + [invocation]
    record = {
        "format": 1,
        "config": config.to_dict(),
        "science_keys": list(SCIENCE_KEYS),
        "config_hash": config.config_hash(),
        "data_dir_resolved": suite.location,
        "suite": suite_record,
        "versions": versions,
        # The code of the tasks already finished until this invocation computes one (see _close_run).
        "git": (previous or {}).get("git", git) if previous is not None and finished else git,
        "numerics": numerics,
        "machine": _machine(),
        "first_started": (previous or {}).get("first_started") or started,
        "started": started,
        "finished": None,
        "wall_time_s": None,
        "status": "running",
        "tasks": {"total": len(tasks), "finished": summary.skipped, "failed": None},
        "history": history,
    }
    try:
        store.write_config(record)
    except OSError as exc:
        raise _unwritable(store.config_path, exc, store.path) from None

    bar = _progress_bar(sum(t.cost for t in todo), len(todo), progress and bool(todo))
    try:
        if todo:
            with _outcomes(todo, config, n_workers) as outcomes:
                for outcome in outcomes:
                    task = outcome["task"]
                    try:
                        if outcome["status"] == "done":
                            store.write_task(
                                task.key, outcome["records"], outcome["selected"], outcome["metadata"]
                            )
                            summary.done += 1
                            if summary.slowest is None or outcome["seconds"] > summary.slowest[1]:
                                summary.slowest = (task, outcome["seconds"])
                        else:
                            store.write_failure(
                                task.key, outcome["error"], outcome["error_type"], outcome["traceback"]
                            )
                        # True counts in config.json even if this process is killed next.
                        record["tasks"]["finished"] = summary.skipped + summary.done
                        store.write_config(record)
                    except OSError as exc:
                        summary.store_error = _unwritable(store.path, exc, store.path)
                        summary.aborted = str(summary.store_error)
                        break
                    if outcome["status"] != "done":
                        summary.failed.append((task, outcome["error"]))
                        bar.write(
                            f"mixbench run: task {task.label} failed: {_first_line(outcome['error'])}",
                            sys.stderr,
                        )
                    n = summary.done + len(summary.failed)
                    failed = f", {len(summary.failed)} failed" if summary.failed else ""
                    bar.set_description_str(f"{n}/{len(todo)} tasks{failed}", refresh=False)
                    bar.set_postfix_str(f"last: {task.label}", refresh=False)
                    bar.update(task.cost)
    except KeyboardInterrupt:
        summary.interrupted = True
    except Exception as exc:  # e.g. a worker process died (killed for memory): keep what is finished
        if stopped["signal"] is not None:  # SIGTERM to the process group: the workers died of it first
            summary.interrupted = True
        else:
            summary.aborted = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, _WORKER_DEATH):
                traceback.print_exc()
    finally:
        summary.stopped_by = stopped["signal"] or ("SIGINT" if summary.interrupted else None)
        bar.close()
        if client is not None:
            client.close()
        summary.wall_time_s = time.perf_counter() - started_clock
        _close_run(store, config, summary, record, invocation, history, tasks, todo)
    return summary


def _check_numerics(
    store: ResultStore, previous: dict | None, checked: dict[str, dict], todo: bool
) -> int | None:
    """The engine numerics version of the run's finished tasks (this engine's when there are none).

    Refuses to add tasks to a run whose finished tasks another engine computed (a version recorded in each
    task file and in config.json; a run that predates the record counts as another engine), and a run
    whose finished tasks come from two engines.
    """
    if not checked:
        return NUMERICS_VERSION
    recorded = (previous or {}).get("numerics")
    by_version: dict = {}
    for name, meta in checked.items():
        version = meta.get("numerics", recorded) if meta else recorded  # {}: rows of selected.parquet
        by_version.setdefault(version, []).append(name)
    if len(by_version) > 1:
        counts = ", ".join(f"{len(v)} by version {k}" for k, v in sorted(by_version.items(), key=str))
        raise RunDirectoryError(
            f"{_display(store.path)}: its finished tasks were computed by two engines ({counts}); results of "
            "two engines must not mix in one run. Move the task files of one version out of tasks/ and "
            "epochs/ (their metadata's `numerics` says which) and re-run, or start the run over in another "
            "--out directory",
            path=store.path,
        )
    (version,) = by_version
    if todo and version != NUMERICS_VERSION:
        commit = ((previous or {}).get("git") or {}).get("commit")
        older = (
            "not recorded (they predate the record, so this engine may differ)"
            if version is None
            else f"{version}"
        )
        raise RunDirectoryError(
            f"{_display(store.path)}: its {len(checked)} finished task(s) were computed by engine numerics "
            f"version {older}, but this mixbench computes version {NUMERICS_VERSION}; tasks of two engines "
            "must not mix in one run. Finish it with the mixbench that started it"
            + (f" (git commit {commit[:12]})" if commit else "")
            + ", or run into another --out directory, or move tasks/, epochs/ and selected.parquet out of it "
            "to recompute every task with this engine",
            path=store.config_path,
        )
    return version


def _computed_by(history: list[dict]) -> list[dict]:
    """The code that computed the run's tasks: per (git commit, uncommitted changes, numerics version), how
    many tasks the invocations with that code finished (invocations that computed nothing left out)."""
    groups: dict[tuple, int] = {}
    for entry in history:
        if entry.get("done"):
            key = (entry.get("git_commit"), entry.get("git_dirty"), entry.get("numerics"))
            groups[key] = groups.get(key, 0) + int(entry["done"])
    return [
        {"commit": commit, "dirty": dirty, "numerics": numerics, "tasks": n}
        for (commit, dirty, numerics), n in groups.items()
    ]


def _close_run(store, config, summary, record, invocation, history, tasks, todo) -> None:
    """Consolidate and write the final status; a store that cannot be written is said, not raised."""
    try:
        # Count from the store: a Ctrl-C can land between a task's write and the counter's increment.
        summary.done = len(store.finished() & {t.name for t in todo})
        selected = store.consolidate({"settings": task_settings(config.to_dict())})
        record["consolidated"] = consolidation_record(selected)
        n_failed_now = len(store.read_failures())
    except OSError as exc:
        if summary.store_error is None:
            summary.store_error = _unwritable(store.path, exc, store.path)
            summary.aborted = str(summary.store_error)
        selected, n_failed_now = None, len(summary.failed)
    if selected is not None and len(selected):
        diverged = selected[selected["diverged"]]
        summary.diverged = {str(k): int(v) for k, v in diverged.groupby("loss").size().items()}
        summary.n_no_result = int(selected["test_acc"].isna().sum())
        summary.n_selected = len(selected)
    status = summary.status
    invocation.update(
        finished=_now(),
        wall_time_s=round(summary.wall_time_s, 3),
        status=status,
        done=summary.done,
        failed=len(summary.failed),
    )
    if summary.stopped_by:
        invocation["signal"] = summary.stopped_by
    if summary.done:
        record["git"] = {"commit": invocation["git_commit"], "dirty": invocation["git_dirty"]}
    record["computed_by"] = _computed_by(history)
    record.update(
        finished=invocation["finished"],
        wall_time_s=invocation["wall_time_s"],
        total_wall_time_s=round(sum(h.get("wall_time_s") or 0 for h in history), 3),
        status=status,
        tasks={"total": len(tasks), "finished": summary.done + summary.skipped, "failed": n_failed_now},
    )
    try:
        store.write_config(record)
    except OSError as exc:  # e.g. still no space: the next start sees "running" and corrects it
        if summary.store_error is None:
            summary.store_error = _unwritable(store.config_path, exc, store.path)
            summary.aborted = str(summary.store_error)
