"""Shared fixtures: the repository root and the real UCI-121 data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# One thread per process, as the runner's workers use: on 2 cores more threads only fight each other.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def uci_dir() -> Path:
    """The real UCI-121 data: ``$MIXBENCH_DATA``, else ``../shared/uci121`` next to the repository.

    Skips when neither holds the data, except under CI (``$CI`` set), where missing data fails the test: CI
    must never skip the real-data tests silently.
    """
    env = os.environ.get("MIXBENCH_DATA", "")
    candidates = ([Path(env).expanduser()] if env else []) + [REPO_ROOT.parent / "shared" / "uci121"]
    for candidate in candidates:
        if (candidate / "abalone" / "labels_py.dat").is_file():
            return candidate.absolute()
    reason = f"no UCI-121 data at {' or '.join(map(str, candidates))} (set MIXBENCH_DATA to it)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}; CI requires the real data", pytrace=False)
    pytest.skip(reason)
