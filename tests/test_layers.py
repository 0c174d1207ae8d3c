"""The architecture as a checked contract: the layers of the data flow and no import cycle (import-linter,
configured in pyproject.toml), and the check fails when a module imports a later stage or makes a cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is in the dev extra")


def _lint(project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project / "benchmark")}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )


def _scratch_copy(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "benchmark" / "mixbench", project / "benchmark" / "mixbench")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    return project


def test_the_package_keeps_its_layers_and_has_no_import_cycle():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_an_import_of_a_later_stage_breaks_the_layers(tmp_path):
    project = _scratch_copy(tmp_path)
    data = project / "benchmark" / "mixbench" / "data.py"
    data.write_text(data.read_text() + "\nfrom mixbench import report  # noqa: E402\n")
    done = _lint(project)
    assert done.returncode == 1
    assert "mixbench.data is not allowed to import mixbench.report" in done.stdout


def test_an_import_cycle_inside_a_package_is_refused(tmp_path):
    project = _scratch_copy(tmp_path)
    lock = project / "benchmark" / "mixbench" / "runner" / "messages.py"
    lock.write_text(lock.read_text() + "\nfrom mixbench.runner import summary  # noqa: E402\n")
    done = _lint(project)
    assert done.returncode == 1
    assert "No cycles are allowed in mixbench.runner" in done.stdout


def test_renamed_public_names_still_work_and_say_their_new_name():
    from mixbench import analysis, runner

    for module, old, new in ((analysis, "holm_adjust", "adjust_pvalues"), (analysis, "KEY_COLUMNS",
                             "CELL_COLUMNS"), (runner, "PRESETS", "PRESET_SETTINGS")):  # fmt: skip
        with pytest.warns(DeprecationWarning, match=f"{old} is now {module.__name__}.{new}"):
            assert getattr(module, old) is getattr(module, new)
    with pytest.raises(AttributeError):
        analysis.no_such_name  # noqa: B018
