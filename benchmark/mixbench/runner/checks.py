"""The checks before a run writes into a directory: the directory holds this configuration (or none), its
config.json was not edited, the data of its finished tasks is unchanged, and one engine computed them."""

from __future__ import annotations

import json
from pathlib import Path

from mixbench import engine
from mixbench.io import sha256_file
from mixbench.results import LOCK_FILE, ResultStore, RunDirectoryError
from mixbench.results.files import LOCK_HOLDER_FILE
from mixbench.runner.config import (
    LATER_SCIENCE_KEYS,
    SCIENCE_KEYS,
    ConfigError,
    RunConfig,
    science_hash,
    stored_science,
)
from mixbench.runner.grid import Task
from mixbench.runner.messages import display
from mixbench.suites.uci121 import resolve_data_dir


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
        if store.path.is_dir() and any(
            p.name not in (LOCK_FILE, LOCK_HOLDER_FILE) for p in store.path.iterdir()
        ):
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
    now = {**LATER_SCIENCE_KEYS, **config.science()}
    stored = {**LATER_SCIENCE_KEYS, **stored}
    differences = [
        _describe_difference(k, stored.get(k), now[k]) for k in SCIENCE_KEYS if stored.get(k) != now[k]
    ]
    if differences:
        where = display(store.path)
        raise ConfigError(
            f"{where} holds a run with a different configuration, and results of two configurations "
            "must not mix:\n  "
            + "\n  ".join(differences)
            + f"\nRun into another directory (--out DIR, or leave out --out to get one named after the "
            f"configuration), or delete {where} to start it over, or resume it as it was with "
            f"`mixbench run --resume {where}`."
        )
    return record


def _check_config_hash(store: ResultStore, record: dict) -> None:
    """Refuse a config.json whose settings were edited after the run wrote it (its hash says so)."""
    written = record.get("config_hash")
    if written and science_hash(stored_science(record["config"])) != written:
        raise RunDirectoryError(
            f"{store.config_path}: its settings are not those it was written with (their hash is not its "
            f"config_hash {written}), so it was edited by hand; editing config.json cannot change results "
            "already computed. Restore the original settings (e.g. from git or a backup), or run the new "
            "settings into another --out directory",
            path=store.config_path,
        )


def check_data(config: RunConfig, finished: dict[str, dict]) -> None:
    """Refuse to resume when a data file differs from the one the finished tasks were computed from."""
    if config.suite != "uci121":
        return
    root = resolve_data_dir(config.data_dir)
    now: dict[Path, str | None] = {}
    changed: dict[Path, list[str]] = {}
    stored_sums: dict[Path, str] = {}
    for metadata in finished.values():
        dataset = metadata.get("dataset")
        for file, digest in (metadata.get("checksums") or {}).items():
            path = root / str(dataset) / file
            if path not in now:
                now[path] = _sha256_or_none(path)
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
            f"this data, move their files out of {display(Path(config.out) / 'tasks')} and "
            f"{display(Path(config.out) / 'epochs')}",
            path=next(iter(sorted(changed))),
        )


def _sha256_or_none(path: Path) -> str | None:
    """sha256 of a file; None when it cannot be read (a missing file fails its tasks anyway)."""
    try:
        return sha256_file(path)
    except OSError:
        return None


def check_numerics(
    store: ResultStore, previous: dict | None, checked: dict[str, dict], todo: bool
) -> int | None:
    """The engine numerics version of the run's finished tasks (this engine's when there are none).

    Refuses to add tasks to a run whose finished tasks another engine computed (a version recorded in each
    task file and in config.json; a run that predates the record counts as another engine), and a run
    whose finished tasks come from two engines.
    """
    if not checked:
        return engine.NUMERICS_VERSION
    recorded = (previous or {}).get("numerics")
    by_version: dict = {}
    for name, meta in checked.items():
        version = meta.get("numerics", recorded) if meta else recorded  # {}: rows of selected.parquet
        by_version.setdefault(version, []).append(name)
    if len(by_version) > 1:
        counts = ", ".join(f"{len(v)} by version {k}" for k, v in sorted(by_version.items(), key=str))
        raise RunDirectoryError(
            f"{display(store.path)}: its finished tasks were computed by two engines ({counts}); results of "
            "two engines must not mix in one run. Move the task files of one version out of tasks/ and "
            "epochs/ (their metadata's `numerics` says which) and re-run, or start the run over in another "
            "--out directory",
            path=store.path,
        )
    (version,) = by_version
    current = engine.NUMERICS_VERSION
    if todo and version != current:
        commit = ((previous or {}).get("git") or {}).get("commit")
        older = (
            "not recorded (they predate the record, so this engine may differ)"
            if version is None
            else f"{version}"
        )
        raise RunDirectoryError(
            f"{display(store.path)}: its {len(checked)} finished task(s) were computed by engine numerics "
            f"version {older}, but this mixbench computes version {current}; tasks of two engines "
            "must not mix in one run. Finish it with the mixbench that started it"
            + (f" (git commit {commit[:12]})" if commit else "")
            + ", or run into another --out directory, or move tasks/, epochs/ and selected.parquet out of it "
            "to recompute every task with this engine",
            path=store.config_path,
        )
    return version


def check_loss_code(
    store: ResultStore, previous: dict | None, checked: dict[str, dict], current: dict[str, str], todo: bool
) -> None:
    """Refuse to add tasks to a run after the code of one of its ``module:attr`` user losses changed.

    Each task records the sha256 of the module file of each user loss (``loss_code``); a task of
    ``selected.parquet`` alone counts with config.json's record. A run that computes nothing mixes nothing.
    """
    if not todo or not checked:
        return
    recorded = (previous or {}).get("loss_code") or {}
    changed: dict[str, list[str]] = {}
    for name, meta in checked.items():
        then = (meta.get("loss_code") if meta else None) or recorded
        for loss, digest in then.items():
            if loss in current and current[loss] != digest:
                changed.setdefault(loss, []).append(name)
    if changed:
        sources = ((previous or {}).get("config") or {}).get("loss_sources") or {}
        lines = [
            f"loss {loss!r} ({sources.get(loss, '?')}): its module changed since {len(names)} finished "
            "task(s) were computed with it"
            for loss, names in sorted(changed.items())
        ]
        raise RunDirectoryError(
            f"{display(store.path)}: "
            + "; ".join(lines)
            + ". Tasks computed by two versions of a loss must not mix in one run: restore the module, or "
            "run into another --out directory (or move tasks/, epochs/ and selected.parquet out of it to "
            "recompute every task with the new code)",
            path=store.config_path,
        )
