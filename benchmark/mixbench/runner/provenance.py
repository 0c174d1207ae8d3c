"""What computed a run: the library versions, the git state of the code, the machine, the time, and per
code version the tasks it computed (recorded in config.json)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess

import joblib
import numpy as np
import pandas as pd

from mixbench import __version__, data


def now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def versions() -> dict:
    """The versions of mixbench and of the libraries that compute its numbers."""
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


def git_state() -> dict | None:
    """The checkout's commit and whether its code has uncommitted changes (None outside a git clone)."""
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


def machine() -> dict:
    """The platform and the CPUs of this machine."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
    }


def computed_by(history: list[dict]) -> list[dict]:
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
