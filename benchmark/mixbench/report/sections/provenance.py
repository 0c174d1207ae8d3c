"""The provenance section (last in the report): what ran, where, with which code, versions and
configuration; ``find_setting`` looks a setting up in a run's ``config.json``."""

from __future__ import annotations

import datetime as _dt
import json
import platform
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from mixbench import __version__
from mixbench.analysis.result import RunAnalysis
from mixbench.report.model import Section, Table


# --- helpers ---------------------------------------------------------------------------------------------
def _flatten(config: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(config, dict):
        items = []
        for key, value in config.items():
            items += _flatten(value, f"{prefix}{key}.")
        return items
    text = json.dumps(config, default=str) if not isinstance(config, str) else config
    return [(prefix.rstrip("."), text)]


def _parse_time(value: Any) -> _dt.datetime | None:
    if isinstance(value, (int, float)):
        return _dt.datetime.fromtimestamp(value, tz=_dt.UTC)
    if isinstance(value, str):
        try:
            return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _accuracy_rule(eval_batch) -> str:
    if not eval_batch:  # 0, or a run directory made before the setting existed
        return "exact per-sample accuracy"
    return f"mean of per-batch accuracies, batches of {eval_batch} rows (the reference code's rule)"


def find_setting(config: dict, names: Sequence[str]) -> Any:
    """First value under any of ``names``, searched in nested dicts too."""
    for name in names:
        if name in config:
            return config[name]
    for value in config.values():
        if isinstance(value, dict):
            found = find_setting(value, names)
            if found is not None:
                return found
    return None


def _wall_time(config: dict) -> str:
    seconds = find_setting(config, ("wall_time_s", "wall_time", "elapsed_s", "duration_s", "wall_s"))
    if not isinstance(seconds, (int, float)):
        start = _parse_time(find_setting(config, ("started", "start_time", "started_at", "start")))
        end = _parse_time(find_setting(config, ("finished", "end_time", "finished_at", "ended", "end")))
        if start is None or end is None:
            return "not recorded in config.json"
        seconds = (end - start).total_seconds()
    minutes, secs = divmod(float(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    clock = f"{int(hours)} h {int(minutes)} min" if hours else f"{int(minutes)} min {secs:.0f} s"
    return f"{clock} ({seconds:.0f} s)"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, "")) or "not recorded"
    return "not recorded" if value in (None, "") else str(value)


def _git_text(git: Any) -> str:
    if not isinstance(git, dict) or not git.get("commit"):
        return "not recorded (not run from a git checkout)"
    return str(git["commit"]) + (" with uncommitted changes" if git.get("dirty") else "")


def _code_text(config: dict) -> str:
    """The code that computed the tasks: one commit, or each commit with its tasks when several did."""
    computed_by = find_setting(config, ("computed_by",))
    if not isinstance(computed_by, list) or len(computed_by) < 2:
        return _git_text(find_setting(config, ("git",)))
    return "; ".join(f"{_git_text(entry)} ({entry.get('tasks')} tasks)" for entry in computed_by)


def _numerics_text(config: dict) -> str:
    version = find_setting(config, ("numerics",))
    if version is None:
        return "not recorded (the run predates the record)"
    return f"version {version} (mixbench.engine.NUMERICS_VERSION; a run never mixes two)"


def _versions() -> list[tuple[str, str]]:
    rows = [("mixbench", __version__), ("python", platform.python_version())]
    for package in ("numpy", "pandas", "scipy", "scikit-posthocs", "matplotlib", "jinja2"):
        try:
            rows.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            rows.append((package, "not installed"))
    return rows


def provenance_section(analysis: RunAnalysis, run_name: str, has_epochs: bool) -> Section:
    """What ran and how: overview, preprocessing, versions, the whole configuration."""
    config = dict(analysis.config)
    overview = [
        ["Run", run_name],
        ["Datasets", f"{len(analysis.datasets)}"],
        ["Networks", ", ".join(analysis.nets)],
        ["Losses", ", ".join(analysis.losses)],
        ["Seeds", ", ".join(map(str, analysis.seeds))],
        ["Splits", ", ".join(map(str, analysis.splits))],
        ["Label noise", ", ".join(analysis.noises)],
        ["Validation / test accuracy", _accuracy_rule(find_setting(config, ("eval_batch",)))],
        ["Failed tasks", f"{len(analysis.failures)}"],
        ["Diverged cells", f"{len(analysis.diverged)} (some learning rate of the cell diverged)"],
        ["Wall time", _wall_time(config)],
        [
            "Started / finished",
            f"{find_setting(config, ('started',)) or '?'} / {find_setting(config, ('finished',)) or '?'}",
        ],
        ["Status", str(find_setting(config, ("status",)) or "not recorded")],
        ["Machine", _describe(find_setting(config, ("machine",)))],
        ["Git commit", _code_text(config)],
        ["Engine numerics", _numerics_text(config)],
        ["Per-epoch records", "available" if has_epochs else "not kept"],
        [
            "Reference protocol",
            "PROTOCOL.md, shipped with mixbench (mixbench/resources/PROTOCOL.md): what the reference "
            "code does "
            "and where mixbench differs on purpose",
        ],
    ]
    blocks: list = [
        Table(
            "Overview", ["Item", "Value"], overview, align=["l", "l"], pdf_max_chars=90, table_id="overview"
        )
    ]
    if analysis.preprocessing:
        blocks.append(
            Table(
                "What loading did to each dataset",
                ["Dataset", "Preprocessing (fitted on the training rows only)"],
                [line.split(": ", 1) if ": " in line else [line, ""] for line in analysis.preprocessing],
                align=["l", "l"],
                pdf_max_chars=90,
                table_id="preprocessing",
            )
        )
    run_versions = find_setting(config, ("versions",))
    if isinstance(run_versions, dict):
        rows = [[k, str(v)] for k, v in _flatten(run_versions)]
        blocks.append(
            Table("Versions used by the run", ["Package", "Version"], rows, align=["l", "l"], inline=True)
        )
    blocks.append(
        Table(
            "Versions used to render this report",
            ["Package", "Version"],
            [list(r) for r in _versions()],
            align=["l", "l"],
            inline=True,
        )
    )
    flat = [[k, v] for k, v in _flatten(config) if not k.startswith("versions.")]
    blocks.append(
        Table(
            "Configuration (config.json)",
            ["Key", "Value"],
            flat or [["(empty)", "the run recorded no configuration"]],
            align=["l", "l"],
            pdf_max_chars=80,
            collapsed=True,
        )
    )
    return Section("provenance", "Run provenance", blocks)
