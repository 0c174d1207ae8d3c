"""Dataset suites as plug-ins: the interface every suite implements, and the registry that names them.

A *suite* is a collection of classification datasets the benchmark runs on (after benchopt's
``BaseDataset``, but one object per collection). It lists its datasets, knows each one's size for
scheduling without loading it, loads a dataset's split as the :class:`~mixbench.data.Dataset` value the
engine takes, says how many splits it has and where its data lives, and gives the checksums of a dataset's
files, which the run records so that a changed file is noticed on resume.

A suite is named by a *spec* string, the ``--suite`` option::

    uci121                 the 121 UCI datasets (mixbench.suites.uci121)
    toy                    four datasets embedded in scikit-learn (mixbench.suites.toy)
    folder:PATH            one CSV or Parquet file per dataset (mixbench.suites.folder)
    openml:99              an OpenML benchmark suite; openml:3,6,11 a list of tasks (mixbench.suites.openml)

:func:`get_suite` turns a spec (plus the data directory and the suite's options) into a :class:`Suite`.
Adding a suite is one new module with a :class:`Suite` subclass and one line in :data:`_BUILTIN` (or a call
to :func:`register_suite` from your own code)::

    from mixbench.suites import Suite, register_suite

    class Blobs(Suite):
        kind = "blobs"
        def datasets(self): return ["blobs3"]
        def shape(self, name): return 300, 2, 3
        def load(self, name, split=0): ...  # a mixbench.data.Dataset

    register_suite(Blobs)          # then: mixbench run --suite blobs (in a process that imported this)
"""

from __future__ import annotations

import abc
import importlib
import json
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mixbench.data import Dataset, DatasetError, check_split
from mixbench.io import jsonable, sha256_file

__all__ = [
    "STATUS_COLUMNS",
    "Suite",
    "SuiteError",
    "available_suites",
    "changed_files",
    "get_suite",
    "list_datasets",
    "load_dataset",
    "preprocessing_summary",
    "register_suite",
    "relative_to",
    "sha256_file",
    "suite_kind",
    "suite_slug",
]

#: Columns of :meth:`Suite.status` (those of :func:`mixbench.suites.uci121.data_status`).
STATUS_COLUMNS = ["name", "n_rows", "n_features", "n_classes", "n_test", "status", "detail", "complete"]

# kind -> "module:Class" (imported on first use, so the openml package is only needed for openml suites),
# or the class itself once registered / imported.
_BUILTIN: dict[str, str] = {
    "toy": "mixbench.suites.toy:ToySuite",
    "uci121": "mixbench.suites.uci121:UCI121Suite",
    "folder": "mixbench.suites.folder:FolderSuite",
    "openml": "mixbench.suites.openml:OpenMLSuite",
}
_REGISTRY: dict[str, str | type[Suite]] = dict(_BUILTIN)
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


class SuiteError(ValueError):
    """A suite spec or suite option that cannot be used; the message says what to give instead."""


class Suite(abc.ABC):
    """A collection of classification datasets.

    Subclasses set :attr:`kind` (the registry name, the part of the spec before ``:``) and implement
    :meth:`datasets`, :meth:`shape` and :meth:`load`; the rest have defaults. A suite must be cheap to
    build (the runner builds one per task in each worker) and must read its files when asked, never keep
    them from construction, so that a changed file is seen.

    Parameters
    ----------
    argument : str
        The part of the spec after ``kind:`` (empty for ``toy`` and ``uci121``).
    data_dir : str or PathLike, optional
        ``--data-dir``: where suites that have a data directory look (UCI-121, the OpenML cache).
    **options
        The suite's options (:attr:`options`); unknown names raise :class:`SuiteError`.
    """

    #: Registry name: ``--suite KIND`` or ``--suite KIND:ARGUMENT``.
    kind: ClassVar[str] = ""
    #: Options and their defaults (``--target`` and friends for folder suites).
    default_options: ClassVar[dict[str, Any]] = {}
    #: Splits per dataset: ``--splits`` takes 0..n_splits-1.
    n_splits: int = 1

    def __init__(self, argument: str = "", data_dir: str | os.PathLike | None = None, **options: Any):
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            known = ", ".join(self.default_options) or "none"
            raise SuiteError(
                f"suite {self.kind!r} has no option {', '.join(map(repr, unknown))} (its options: {known})"
            )
        self.argument = argument
        self.data_dir = None if data_dir in (None, "") else str(data_dir)
        self.options: dict[str, Any] = {**self.default_options, **options}

    # --- what a suite must say --------------------------------------------------------------------------
    @abc.abstractmethod
    def datasets(self) -> list[str]:
        """Names of the datasets present, in a stable order (a malformed one still listed: it fails alone)."""

    @abc.abstractmethod
    def shape(self, name: str) -> tuple[int, int, int]:
        """(rows, features, classes) of a dataset for scheduling, without loading it (an estimate will do)."""

    @abc.abstractmethod
    def load(self, name: str, split: int = 0) -> Dataset:
        """One split of a dataset, ready for the engine (features standardised, labels 0..C-1).

        Raises
        ------
        DatasetError
            A missing or malformed file, naming the file, the column or row and the fix.
        """

    # --- what a suite may refine ------------------------------------------------------------------------
    @property
    def spec(self) -> str:
        """The canonical spec, as stored in config.json (paths made absolute)."""
        return f"{self.kind}:{self.argument}" if self.argument else self.kind

    @property
    def slug(self) -> str:
        """A file-name-safe name for the default run directory (``results/<slug>-<hash>``)."""
        tail = _SLUG.sub("_", os.path.basename(self.argument.rstrip("/\\")) or self.argument).strip("_")
        return f"{self.kind}-{tail}" if tail else self.kind

    @property
    def location(self) -> str | None:
        """Where the data lives (a folder), or None for embedded data."""
        return None

    def checksums(self, name: str) -> dict[str, str]:
        """sha256 of each file of a dataset, by file name (empty for embedded data)."""
        return {}

    def describe(self, name: str) -> dict:
        """What loading does to a dataset (column roles, imputation, encoding), JSON-ready; {} if nothing."""
        return {}

    @classmethod
    def argument_relative_to(cls, argument: str, base: str | os.PathLike) -> str:
        """The spec's argument as seen from folder ``base`` (a path argument made absolute); default as is."""
        return argument

    def missing_hint(self, pattern: str) -> str:
        """Why a dataset name the user gave is not listed, if the suite knows (else empty)."""
        return ""

    def known(self) -> set[str]:
        """Dataset names the suite knows even when their files are missing (a run keeps such a name when
        it is given exactly: its tasks fail alone, naming the missing file). Default: none."""
        return set()

    def split_check(self, split: int) -> int:
        """``split`` as an int in 0..n_splits-1, else ValueError."""
        return check_split(split, self.n_splits)

    def bench_datasets(self) -> list[str]:
        """Datasets of different shapes to time the engine on: up to six, from the smallest to the largest."""
        names = self.datasets()
        if len(names) <= 6:
            return names
        by_size = sorted(names, key=lambda n: self.shape(n)[0])
        picks = np.unique(np.linspace(0, len(by_size) - 1, 6).round().astype(int))
        return [by_size[i] for i in picks]

    def status(self) -> pd.DataFrame:
        """Each dataset's status (``ok`` or ``malformed`` with the error), loading its split 0.

        Returns
        -------
        DataFrame with :data:`STATUS_COLUMNS`, one row per dataset.
        """
        rows = []
        for name in self.datasets():
            try:
                ds = self.load(name, 0)
            except Exception as exc:  # DatasetError, or a plug-in suite's own failure: this dataset only
                n_rows, n_features, _ = self._safe_shape(name)  # the class count of shape() may be a guess
                rows.append([name, n_rows, n_features, pd.NA, pd.NA, "malformed", str(exc), False])
            else:
                rows.append([name, ds.n_rows, ds.n_features, ds.n_classes, len(ds.test), "ok", "", True])
        table = pd.DataFrame(rows, columns=STATUS_COLUMNS)
        for column in ("n_rows", "n_features", "n_classes", "n_test"):
            table[column] = table[column].astype("Int64")
        return table

    def _safe_shape(self, name: str) -> tuple:
        try:
            return self.shape(name)
        except (DatasetError, OSError, ValueError):
            return pd.NA, pd.NA, pd.NA

    def record(self, names: list[str]) -> dict:
        """What a run stores about its data in config.json: spec, location, options, per dataset checksums
        and what loading does. A dataset that cannot be read is recorded with its error (its tasks fail)."""
        datasets = {}
        for name in names:
            try:
                datasets[name] = {"checksums": self.checksums(name), **self.describe(name)}
            except Exception as exc:  # any suite's failure: recorded; that dataset's tasks fail on their own
                datasets[name] = {"checksums": {}, "error": f"{type(exc).__name__}: {exc}"}
        return {
            "spec": self.spec,
            "kind": self.kind,
            "location": self.location,
            "n_splits": self.n_splits,
            "options": jsonable(self.options),
            "datasets": datasets,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


# --- the registry -----------------------------------------------------------------------------------
def register_suite(cls: type[Suite], kind: str | None = None) -> type[Suite]:
    """Make a suite class available to :func:`get_suite` (and ``--suite``) under ``kind`` (default
    ``cls.kind``). Usable as a class decorator. A kind registered twice raises SuiteError."""
    kind = kind or cls.kind
    if not kind or not re.fullmatch(r"[a-z][a-z0-9_-]*", kind):
        raise SuiteError(f"suite kind {kind!r}: use lower-case letters, digits, '_' or '-'")
    if not (isinstance(cls, type) and issubclass(cls, Suite)):
        raise SuiteError(f"{cls!r} is not a subclass of mixbench.suites.Suite")
    current = _REGISTRY.get(kind)
    if current is not None and current is not cls and not isinstance(current, str):
        raise SuiteError(f"suite kind {kind!r} is registered already (by {current.__module__})")
    _REGISTRY[kind] = cls
    return cls


def available_suites() -> list[str]:
    """The registered suite kinds."""
    return list(_REGISTRY)


def suite_kind(spec: str) -> str:
    """The kind of a spec: ``folder:data/`` -> ``folder``."""
    return str(spec).partition(":")[0].strip()


def _suite_class(kind: str) -> type[Suite]:
    entry = _REGISTRY.get(kind)
    if entry is None:
        raise SuiteError(
            f"unknown suite {kind!r}; give one of uci121, toy, folder:PATH, openml:SUITE_ID or "
            f"openml:TASK_ID,TASK_ID,... (registered kinds: {', '.join(_REGISTRY)})"
        )
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        _REGISTRY[kind] = entry
    return entry


def get_suite(spec: str, data_dir: str | os.PathLike | None = None, **options: Any) -> Suite:
    """The suite a spec names.

    Parameters
    ----------
    spec : str
        ``uci121``, ``toy``, ``folder:PATH``, ``openml:ID[,ID...]`` or a registered ``KIND[:ARGUMENT]``.
    data_dir : str or PathLike, optional
        ``--data-dir`` (the UCI-121 data directory, the OpenML cache).
    **options
        The suite's options (see each suite's ``default_options``); None values mean "default".

    Raises
    ------
    SuiteError
        Unknown kind, bad argument or unknown option.
    """
    kind, _, argument = str(spec).strip().partition(":")
    cls = _suite_class(kind)
    return cls(argument.strip(), data_dir=data_dir, **{k: v for k, v in options.items() if v is not None})


def load_dataset(
    name: str,
    suite: str = "uci121",
    split: int = 0,
    data_dir: str | os.PathLike | None = None,
    verify: bool = False,
) -> Dataset:
    """Load one dataset of a suite with one of its splits: ``get_suite(suite, data_dir).load(name, split)``.

    Parameters
    ----------
    name : str
        A dataset name of the suite.
    suite : str, default "uci121"
        A suite spec (:func:`mixbench.suites.get_suite`): ``uci121``, ``toy``, ``folder:PATH``, ``openml:ID``.
    split : int, default 0
    data_dir : str or PathLike, optional
        See :func:`mixbench.suites.uci121.resolve_data_dir`.
    verify : bool, default False
        Also check the files' sha256 against the suite's registry (suites that have one: ``uci121``).

    Returns
    -------
    Dataset
    """
    return get_suite(suite, data_dir).load(name, split, **({"verify": True} if verify else {}))


def list_datasets(suite: str, data_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the datasets of a suite: ``get_suite(suite, data_dir).datasets()``.

    For ``uci121`` the registry datasets whose four files are all present, sorted (presence only: a
    malformed file raises its :class:`DatasetError` when the dataset is loaded; ``mixbench data verify``
    checks all); a data directory that does not exist raises :class:`DatasetError`.
    """
    return get_suite(suite, data_dir).datasets()


def relative_to(spec: str, base: str | os.PathLike) -> str:
    """A spec written in a file in folder ``base`` (``folder:data`` -> ``folder:<base>/data``)."""
    kind, colon, argument = str(spec).strip().partition(":")
    if not colon or kind not in _REGISTRY:
        return spec
    return f"{kind}:{_suite_class(kind).argument_relative_to(argument, base)}"


def suite_slug(spec: str) -> str:
    """A file-name-safe name of a spec, without building the suite (``folder:/x/a b`` -> ``folder-a_b``)."""
    kind, _, argument = str(spec).partition(":")
    tail = _SLUG.sub("_", os.path.basename(argument.rstrip("/\\")) or argument).strip("_")
    return f"{kind}-{tail}" if tail else kind


# --- reading a run's record back ----------------------------------------------------------------------
def changed_files(
    stored: Mapping | None, current: Mapping, datasets=None, *, loading: bool = True
) -> list[str]:
    """What changed in the data between two :meth:`Suite.record` values: files whose checksum differs (a
    dataset's files changed since the run started), as ``"dataset: file (sha256 abc... -> def...)"``, and
    what loading does to a dataset (columns dropped or parsed, preprocessing: mixbench's loading code
    changed), as ``"dataset: loading now differs (key: old -> new)"``; [] if none or nothing stored.

    ``datasets``: only these (those with finished tasks: a dataset whose tasks all failed may be fixed).
    ``loading``: compare what loading does too (a run that computes nothing new mixes nothing).
    """
    if not stored:
        return []
    out = []
    for name, now in current.get("datasets", {}).items():
        if datasets is not None and name not in datasets:
            continue
        then = stored.get("datasets", {}).get(name, {})
        before = then.get("checksums") or {}
        after = now.get("checksums") or {}
        for file in sorted(set(before) | set(after)):
            old, new = before.get(file), after.get(file)
            if old is not None and old != new:
                change = "removed" if new is None else f"sha256 {old[:12]}... -> {new[:12]}..."
                out.append(f"{name}: {file} ({change})")
        if not loading or "error" in then or "error" in now:
            continue  # a dataset that could not be read: its tasks failed, nothing of it was computed
        loading = sorted(k for k in set(then) | set(now) if k != "checksums" and then.get(k) != now.get(k))
        if loading:
            shown = "; ".join(f"{k}: {_short(then.get(k))} -> {_short(now.get(k))}" for k in loading)
            out.append(f"{name}: loading it now differs from when its tasks ran ({shown})")
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def preprocessing_summary(config: Mapping) -> list[str]:
    """What loading did to each dataset of a run, one sentence each, for the report.

    Parameters
    ----------
    config : mapping
        A run's config.json (as :func:`mixbench.results.load` gives it in ``run.config``).

    Returns
    -------
    list of str
        Empty when the run's suite does no preprocessing (UCI-121, toy) or the run predates suites.
    """
    record = (config or {}).get("suite") or {}
    lines = []
    for name, info in sorted((record.get("datasets") or {}).items()):
        steps = info.get("preprocessing")
        if info.get("error"):
            lines.append(f"{name}: not readable ({info['error']})")
        elif steps:
            lines.append(f"{name}: {steps}")
    return lines
