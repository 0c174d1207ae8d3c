"""A run's configuration: the settings, their layers (defaults < preset < resumed run < TOML file < options),
their validation, and the run directory they name.

:func:`resolve_config` returns the fully resolved :class:`RunConfig` (dataset globs expanded, user losses
imported and named); :meth:`RunConfig.science` holds the settings that change the numbers.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import hashlib
import importlib.util
import json
import os
import tomllib
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mixbench import data, suites
from mixbench.io import jsonable, sha256_file
from mixbench.losses import Loss, get_loss, resolve_losses, split_loss_names
from mixbench.models import NETS
from mixbench.protocol import PRESETS as PROTOCOL_PRESETS
from mixbench.protocol import PROTOCOL
from mixbench.results import ResultStore
from mixbench.runner.grid import Task
from mixbench.runner.messages import first_line

BACKENDS = ("loky", "dask")


#: The settings of each named protocol (``mixbench.protocol.PRESETS``, by name), as ``resolve_config``
#: layers them. ``paper``: the reference study (Table 4 of "Mixing between the Cross Entropy and the
#: Expectation Loss Terms"): 8 losses, both networks, 3 learning rates, 2 seeds, 50 epochs, batch 8, split 0.
PRESET_SETTINGS: dict[str, dict] = {
    name: protocol.as_dict() for name, (protocol, _) in PROTOCOL_PRESETS.items()
}


DEFAULT_PRESET = "paper"


#: Science settings added after the first run directories were written, with their default (the value
#: every run had before them): left out of :meth:`RunConfig.science` at that value, so older run
#: directories keep their names and hashes, and a missing one in a stored config.json means that value.
LATER_SCIENCE_KEYS = {"eval_batch": 0, "suite_options": {}, "loss_sources": {}}


_DEFAULTS = {
    **LATER_SCIENCE_KEYS,
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


#: Science settings mixbench derives rather than takes: ``loss_sources`` comes from ``module:attr`` losses.
DERIVED_KEYS = ("loss_sources",)
OPTION_KEYS = tuple(k for k in SCIENCE_KEYS if k not in DERIVED_KEYS) + EXECUTION_KEYS


#: float32's smallest normal and largest finite value: the range a learning rate keeps in the engine.
_FLOAT32_NORMAL = (1.1754943508222875e-38, 3.4028234663852886e38)


class ConfigError(ValueError):
    """A run configuration that cannot be used; the message says what to change."""


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
        return jsonable(
            {k: v for k, v in values.items() if k not in LATER_SCIENCE_KEYS or v != LATER_SCIENCE_KEYS[k]}
        )

    def to_dict(self) -> dict:
        """Every setting, JSON-ready."""
        return jsonable(dataclasses.asdict(self))

    def config_hash(self) -> str:
        """Short hash of :meth:`science` (names the default run directory)."""
        return science_hash(self.science())

    def tasks(self) -> list[Task]:
        """The grid in canonical order (dataset, net, split, noise)."""
        return [
            Task(d, n, s, z)
            for d in self.datasets
            for n in self.nets
            for s in self.splits
            for z in self.label_noise
        ]


def science_hash(science: dict) -> str:
    """Short sha256 of science settings (names the default run directory, checks config.json)."""
    return hashlib.sha256(json.dumps(science, sort_keys=True).encode()).hexdigest()[:8]


def stored_science(stored: dict) -> dict:
    """The science settings of a stored config as :meth:`RunConfig.science` gives them (for the hash)."""
    return {
        k: stored[k]
        for k in SCIENCE_KEYS
        if k in stored and not (k in LATER_SCIENCE_KEYS and stored[k] == LATER_SCIENCE_KEYS[k])
    }


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


def split_losses(value, sources: Mapping | None = None) -> tuple[list[str], dict[str, str]]:
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
            f"({first_line(str(exc.args[0] if exc.args else exc), 200)}); make that module importable "
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


def loss_code_digests(config: RunConfig) -> dict[str, str]:
    """sha256 of the module file each ``module:attr`` user loss of the run comes from, by loss name.

    Recorded with every task, so a run is not resumed after a user loss's code changed (its finished tasks
    were computed by the old code). A loss registered in the caller's Python session has no file to hash
    and is not recorded.
    """
    digests = {}
    for name, source in sorted(config.loss_sources.items()):
        spec = importlib.util.find_spec(source.partition(":")[0])
        origin = getattr(spec, "origin", None)
        if origin and os.path.isfile(origin):
            digests[name] = sha256_file(origin)
    return digests


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
        f"losses: {where}importing {which} raised {type(exc).__name__}: {first_line(str(exc), 200)}; fix "
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
        if name in DERIVED_KEYS:
            raise ConfigError(
                f"{path}: {key!r} is not a setting: mixbench records it from the losses given as "
                'module:attr; list the loss in `losses` instead (e.g. losses = ["CE", "mymodule:my_loss"])'
            )
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
    return root / "results" / f"{suites.suite_slug(suite)}-{science_hash(science)}"


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
        A name of :data:`PRESET_SETTINGS`; default the config file's ``preset``, else ``paper``.
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
    if preset_name not in PRESET_SETTINGS:
        raise ConfigError(f"unknown preset {preset_name!r}; presets: {', '.join(PRESET_SETTINGS)}")
    file_values.pop("preset", None)
    values = {**_DEFAULTS, **PRESET_SETTINGS[preset_name], **stored, **file_values, **given}

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
    loss_names, loss_sources = split_losses(values["losses"], stored.get("loss_sources"))
    config = RunConfig(
        suite=suite,
        datasets=_expand_datasets(patterns, the_suite),
        losses=tuple(loss_names),
        loss_sources=loss_sources,
        nets=nets,
        lrs=_numbers(
            values["lrs"],
            "lrs",
            float,
            lambda v: _FLOAT32_NORMAL[0] <= v <= _FLOAT32_NORMAL[1],
            "learning rates are > 0 and within float32's normal range (1.2e-38 to 3.4e38), the precision the "
            "engine trains in (a smaller rate is 0 there, and trains nothing)",
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
        suite_options=jsonable(the_suite.options),
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
