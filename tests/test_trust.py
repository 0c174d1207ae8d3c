"""A verdict to trust end to end: a user's loss from the command line to the report, reproducible user
losses, and every file a verdict is read from checked (consolidated results, engine numerics, provenance)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mixbench import results

USER_MODULE = """
import torch
from mixbench.losses import register_loss

def ce(q, y):
    return torch.nn.functional.cross_entropy(q, y, reduction="none")

MY_GCE = register_loss("MyGCE", of_p_true=lambda p: (1 - p**0.7) / 0.7)
"""

# A loss registered in the caller's script (no module to import it from) that draws random numbers.
CALLER_SCRIPT = """
import sys
import torch
from mixbench import runner
from mixbench.losses import register_loss

register_loss("Jittered CE", lambda q, y: torch.nn.functional.cross_entropy(q, y, reduction="none")
              * (1 + torch.rand(len(y))))
register_loss("Script GCE", of_p_true=lambda p: (1 - p**0.7) / 0.7)

if __name__ == "__main__":
    config = runner.resolve_config({"datasets": "iris,wine", "epochs": 3, "out": sys.argv[1],
                                    "losses": "CE,Jittered CE,Script GCE", "n_jobs": int(sys.argv[2])})
    summary = runner.run(config, progress=False)
    print(summary.format())
    sys.exit(summary.exit_code)
"""


def _cli(*argv: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-m", "mixbench", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_module_attr_losses_from_the_command_line_reach_the_report(tmp_path):
    lib = tmp_path / "lib"  # not the working directory, which `python -m` puts on sys.path
    lib.mkdir()
    (lib / "mymod.py").write_text(USER_MODULE)
    run = ["run", "--datasets", "iris", "--epochs", "2", "--losses", "CE,mymod:ce,mymod:MY_GCE"]
    run += ["--out", "run", "--no-report"]
    first = _cli(*run, cwd=tmp_path, pythonpath=lib)
    assert first.returncode == 0, first.stderr
    # The verdict names each loss as its results do: the function by its name, the Loss by its own name.
    assert "MyGCE" in first.stdout and "\n  ce " in first.stdout, first.stdout
    config = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert config["losses"] == ["CE", "ce", "MyGCE"]
    assert config["loss_sources"] == {"ce": "mymod:ce", "MyGCE": "mymod:MY_GCE"}

    again = _cli(*run, cwd=tmp_path, pythonpath=lib)  # the same command: nothing to do, same verdict
    assert again.returncode == 0 and "2 skipped" in again.stderr + again.stdout, again.stderr
    resumed = _cli("run", "--resume", "run", "--no-report", cwd=tmp_path, pythonpath=lib)
    assert resumed.returncode == 0 and "MyGCE" in resumed.stdout, resumed.stderr

    # Resuming where the module cannot be imported: one line naming the loss, its source and the fix.
    lost = _cli("run", "--resume", "run", "--no-report", cwd=tmp_path)
    assert lost.returncode == 2 and "Traceback" not in lost.stderr
    assert "'mymod:ce'" in lost.stderr and "PYTHONPATH" in lost.stderr

    # The report needs no import: the results carry the names.
    report = _cli("report", "run", "--out", "rep", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "MyGCE" in html and "mymod:ce" in html


@pytest.mark.slow
def test_a_loss_of_the_callers_session_trains_in_workers_and_its_random_draws_are_reproducible(tmp_path):
    (tmp_path / "script.py").write_text(CALLER_SCRIPT)
    cells = {}
    for name, n_jobs in (("one", 1), ("two", 2), ("again", 2)):
        done = subprocess.run(
            [sys.executable, "script.py", name, str(n_jobs)], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        cells[name] = results.load(tmp_path / name, epochs=False).selected
    jittered = cells["one"][cells["one"]["loss"] == "Jittered CE"]
    assert len(jittered) == 2 * 2 * 2 and jittered["test_acc"].notna().all()
    pd.testing.assert_frame_equal(cells["one"], cells["two"])
    pd.testing.assert_frame_equal(cells["two"], cells["again"])


def test_the_generators_seed_depends_on_the_task(tmp_path):
    from mixbench import runner

    a = runner.Task("iris", "linear", 0, "none")
    b = runner.Task("iris", "hidden", 0, "none")
    assert runner.task_generator_seed(a, (60, 1234)) != runner.task_generator_seed(b, (60, 1234))
    assert runner.task_generator_seed(a, (60, 1234)) != runner.task_generator_seed(a, (60,))
    assert runner.task_generator_seed(a, (60, 1234)) == runner.task_generator_seed(a, (60, 1234))
