"""A verdict to trust end to end: a user's loss from the command line to the report, reproducible user
losses, and every file a verdict is read from checked (consolidated results, engine numerics, provenance)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from cli_helpers import mixbench
from mixbench import engine, results
from mixbench.losses import STANDARD_LOSSES
from mixbench.runner import provenance

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


# --- every file a verdict is read from is checked ------------------------------------------------------
SMALL = ["--suite", "toy", "--datasets", "iris,wine", "--losses", "CE,EL", "--lrs", "0.01,0.001",
         "--seeds", "60", "--epochs", "2", "--n-jobs", "1", "--no-progress"]  # fmt: skip


def _refused(code: int, stderr: str, *needles: str) -> None:
    assert code == 2 and "Traceback" not in stderr, stderr
    for needle in needles:
        assert needle in stderr, stderr


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """SMALL run to the end, and the same datasets with other learning rates and epochs."""
    base = tmp_path_factory.mktemp("runs")
    code, _, err = mixbench("run", *SMALL, "--out", str(base / "a"))
    assert code == 0, err
    other = [*SMALL[:-5], "--epochs", "3", "--n-jobs", "1", "--no-progress"]
    other[other.index("--lrs") + 1] = "0.1,0.05"
    code, _, err = mixbench("run", *other, "--out", str(base / "b"))
    assert code == 0, err
    return base / "a", base / "b"


@pytest.fixture
def run_a(two_runs, tmp_path) -> Path:
    copy = tmp_path / "a"
    shutil.copytree(two_runs[0], copy)
    return copy


def _committed_copy(run: Path, tmp_path: Path) -> Path:
    """What a committed run directory holds: config.json and selected.parquet alone."""
    out = tmp_path / "committed"
    out.mkdir()
    for name in ("config.json", "selected.parquet"):
        shutil.copy(run / name, out / name)
    return out


def test_a_selected_parquet_copied_from_another_run_is_refused_by_run_and_report(two_runs, run_a, tmp_path):
    shutil.copy(two_runs[1] / "selected.parquet", run_a / "selected.parquet")
    for where in (run_a, _committed_copy(run_a, tmp_path)):
        code, _, err = mixbench("report", str(where), "--out", str(tmp_path / "rep"))
        _refused(code, err, f"{where / 'selected.parquet'}", "not the file this run consolidated")
    code, _, err = mixbench("run", *SMALL, "--out", str(run_a))
    _refused(code, err, "selected.parquet", "Move it out")
    # Following the fix rebuilds it from tasks/ and recomputes nothing.
    (run_a / "selected.parquet").rename(tmp_path / "set-aside.parquet")
    code, out, err = mixbench("run", *SMALL, "--out", str(run_a))
    assert code == 0 and "4 skipped" in out + err, err
    pd.testing.assert_frame_equal(
        results.load(run_a).selected, results.load(two_runs[0]).selected, check_exact=True
    )


def test_edited_and_dropped_rows_of_a_committed_run_are_refused(run_a, tmp_path):
    committed = _committed_copy(run_a, tmp_path)
    path = committed / "selected.parquet"
    table = pq.read_table(path)
    original = table.to_pandas()
    # an accuracy edited with pyarrow, keeping the file's metadata
    frame = original.copy()
    frame.loc[0, "test_acc"] = 1.0
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(
        table.schema.metadata), path)  # fmt: skip
    code, _, err = mixbench("report", str(committed), "--out", str(tmp_path / "rep"))
    _refused(code, err, str(path), "differ from those it was written with", "iris__hidden")
    # the same edit with pandas, which drops the metadata
    frame.to_parquet(path, index=False)
    code, _, err = mixbench("report", str(committed), "--out", str(tmp_path / "rep"))
    _refused(code, err, str(path), "not the file this run consolidated")
    # rows dropped: one dataset's, then one loss's of a task
    for dropped in (original[original["dataset"] != "wine"], original.drop(index=[0])):
        pq.write_table(pa.Table.from_pandas(dropped, preserve_index=False).replace_schema_metadata(
            table.schema.metadata), path)  # fmt: skip
        code, _, err = mixbench("report", str(committed), "--out", str(tmp_path / "rep"))
        _refused(code, err, str(path))
    # and the file as written passes
    pq.write_table(table, path)
    code, _, err = mixbench("report", str(committed), "--out", str(tmp_path / "rep"))
    assert code == 0, err


def test_an_edited_task_file_is_refused(run_a, tmp_path):
    path = run_a / "tasks" / "iris__linear__split0__none.parquet"
    table = pq.read_table(path)
    frame = table.to_pandas()
    frame.loc[0, "val_acc"] = 0.0
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(
        table.schema.metadata), path)  # fmt: skip
    code, _, err = mixbench("run", *SMALL, "--out", str(run_a))
    _refused(code, err, str(path), "it was edited")


def test_a_consolidation_that_config_json_missed_is_rebuilt_from_the_task_files(run_a):
    # killed between writing selected.parquet and config.json: the record is stale, the task files agree
    record = json.loads((run_a / "config.json").read_text())
    record["consolidated"]["sha256"] = "0" * 64
    (run_a / "config.json").write_text(json.dumps(record))
    code, out, err = mixbench("run", *SMALL, "--out", str(run_a))
    assert code == 0 and "4 skipped" in out + err, err
    assert json.loads((run_a / "config.json").read_text())["consolidated"]["sha256"] != "0" * 64


# --- two engines never mix in one run -------------------------------------------------------------------
def test_a_run_is_not_resumed_by_another_engine_numerics_version(run_a, monkeypatch):
    record = json.loads((run_a / "config.json").read_text())
    assert record["numerics"] == engine.NUMERICS_VERSION
    meta = results.read_parquet_metadata(run_a / "tasks" / "wine__hidden__split0__none.parquet")
    assert meta["numerics"] == engine.NUMERICS_VERSION
    for sub in ("tasks", "epochs"):  # interrupted: one task left to do
        (run_a / sub / "wine__hidden__split0__none.parquet").unlink()
    (run_a / "selected.parquet").unlink()
    version = engine.NUMERICS_VERSION
    monkeypatch.setattr(engine, "NUMERICS_VERSION", version + 1)  # another engine
    for argv in (("run", *SMALL, "--out", str(run_a)), ("run", "--resume", str(run_a), "--no-progress")):
        code, _, err = mixbench(*argv)
        _refused(code, err, f"numerics version {version}", f"{version + 1}")
    assert not (run_a / "tasks" / "wine__hidden__split0__none.parquet").exists()
    # with nothing left to do, the other engine only reads: the report and a no-op re-run work
    monkeypatch.setattr(engine, "NUMERICS_VERSION", version)
    assert mixbench("run", *SMALL, "--out", str(run_a))[0] == 0
    monkeypatch.setattr(engine, "NUMERICS_VERSION", version + 1)
    assert mixbench("run", *SMALL, "--out", str(run_a))[0] == 0


def test_task_files_of_two_engines_in_one_run_are_refused(run_a, tmp_path, monkeypatch):
    path = run_a / "tasks" / "iris__linear__split0__none.parquet"
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"mixbench"])
    meta["numerics"] = engine.NUMERICS_VERSION + 1
    pq.write_table(
        table.replace_schema_metadata({**table.schema.metadata, b"mixbench": json.dumps(meta)}), path
    )
    code, _, err = mixbench("run", *SMALL, "--out", str(run_a))
    _refused(code, err, "two engines", f"1 by version {engine.NUMERICS_VERSION + 1}")


# A small run's numbers, per engine numerics version: an arithmetic change that does not bump
# engine.NUMERICS_VERSION fails here (a change that bumps it adds its digest).
GOLDEN_DIGESTS = {1: "c0ffc6cde153c74975ebb52aaac0bbd57d9903d194f93cf4cee5e5ea093dc359"}


def test_the_engines_numbers_match_the_golden_digest_of_its_numerics_version():
    X, y = _toy("wine")
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, val, test = order[:100], order[100:140], order[140:]
    losses = [*STANDARD_LOSSES, "GCE", "SCE", "LS", "Brier", "MPCE"]
    frames = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the runner's workers train
    try:
        for net in ("linear", "hidden"):
            result = engine.train_bank(X, y, train, val, test, 3, net=net, losses=losses, lrs=[0.01, 0.001],
                                       seeds=[60, 1234], epochs=6)  # fmt: skip
            frames.append(result.records.assign(net=net))
    finally:
        torch.set_num_threads(threads)
    records = pd.concat(frames, ignore_index=True)
    assert records[["train_loss", "val_acc", "test_acc"]].notna().all().all()
    text = records.to_csv(index=False, float_format="%.17g")
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert digest == GOLDEN_DIGESTS[engine.NUMERICS_VERSION], digest


def _toy(name: str):
    from mixbench import suites

    dataset = suites.get_suite("toy").load(name, 0)
    return dataset.X, dataset.y


# --- provenance per run segment -------------------------------------------------------------------------
def test_a_dirty_segment_stays_recorded_after_a_clean_no_op_rerun(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(provenance, "git_state", lambda: {"commit": "a" * 40, "dirty": True})
    assert mixbench("run", *SMALL, "--datasets", "iris", "--out", str(out))[0] == 0
    monkeypatch.setattr(provenance, "git_state", lambda: {"commit": "b" * 40, "dirty": False})
    assert mixbench("run", *SMALL, "--datasets", "iris", "--out", str(out))[0] == 0  # trains nothing
    record = json.loads((out / "config.json").read_text())
    assert record["git"] == {"commit": "a" * 40, "dirty": True}
    assert record["computed_by"] == [
        {"commit": "a" * 40, "dirty": True, "numerics": engine.NUMERICS_VERSION, "tasks": 2}
    ]
    assert [h["git_dirty"] for h in record["history"]] == [True, False]
    code, _, err = mixbench("report", str(out), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    html = (tmp_path / "rep" / "report.html").read_text()
    assert f"{'a' * 40} with uncommitted changes" in html


# --- a folder suite whose loading changed is not resumed -------------------------------------------------
def test_a_folder_run_is_not_resumed_when_loading_a_finished_dataset_changed(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("one", "two"):
        frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
        frame["label"] = np.repeat(["x", "y", "z"], 20)
        frame.to_csv(folder / f"{name}.csv", index=False)
    argv = ["run", "--suite", f"folder:{folder}", "--losses", "CE,EL", "--nets", "linear", "--seeds", "0",
            "--epochs", "2", "--n-jobs", "1", "--no-progress", "--out", str(tmp_path / "run")]  # fmt: skip
    assert mixbench(*argv)[0] == 0
    # the run was made by a mixbench that loaded 'one' differently (here: kept a column now dropped)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config["suite"]["datasets"]["one"]["dropped"] = {}
    config["suite"]["datasets"]["one"]["preprocessing"] = "an older reading"
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    code, _, err = mixbench(*argv)  # nothing to do: nothing mixes, the same command works
    assert code == 0, err
    for sub in ("tasks", "epochs"):  # 'two' left to do
        (tmp_path / "run" / sub / "two__linear__split0__none.parquet").unlink()
    (tmp_path / "run" / "selected.parquet").unlink()
    code, _, err = mixbench(*argv)
    _refused(code, err, "one: loading it now differs from when its tasks ran", "preprocessing")
    assert not (tmp_path / "run" / "tasks" / "two__linear__split0__none.parquet").exists()


# --- a user loss whose code changed, a derived setting in a config file, learning rates float32 drops ------
def test_a_run_is_not_resumed_after_a_user_losss_module_changed(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    module = lib / "trust_edited_loss.py"
    first = (
        "import torch\n\ndef myloss(q, y):\n    if q.shape[1] == 2:\n        raise ValueError('not yet')\n"
    )
    first += "    return torch.nn.functional.cross_entropy(q, y, reduction='none')\n"
    module.write_text(first)
    monkeypatch.syspath_prepend(str(lib))
    argv = ["run", "--suite", "toy", "--datasets", "iris,breast_cancer", "--nets", "linear", "--seeds", "0",
            "--epochs", "2", "--losses", "CE,trust_edited_loss:myloss", "--n-jobs", "1", "--no-progress",
            "--out", str(tmp_path / "run")]  # fmt: skip
    code, _, err = mixbench(*argv)
    assert code == 1 and "breast_cancer/linear failed" in err  # iris finished with the first code
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["loss_code"] == {"myloss": hashlib.sha256(module.read_bytes()).hexdigest()}
    module.write_text(first.replace("raise ValueError('not yet')", "pass"))
    code, _, err = mixbench(*argv)
    _refused(code, err, "loss 'myloss' (trust_edited_loss:myloss): its module changed since 1 finished task")
    assert not (tmp_path / "run" / "tasks" / "breast_cancer__linear__split0__none.parquet").exists()


def test_loss_sources_in_a_config_file_is_refused_as_derived(tmp_path):
    (tmp_path / "study.toml").write_text('losses = ["CE"]\nloss_sources = {CE = "mymodule:ce"}\n')
    code, _, err = mixbench("run", "--config", str(tmp_path / "study.toml"), "--out", str(tmp_path / "run"))
    _refused(code, err, "'loss_sources' is not a setting", "list the loss in `losses`")


def test_learning_rates_that_float32_cannot_hold_are_refused():
    for rates in ("0.01,1e-320", "1e39"):
        code, _, err = mixbench("run", "--lrs", rates, "--datasets", "iris", "--epochs", "1")
        _refused(code, err, "float32's normal range")


# --- one loss under two names ----------------------------------------------------------------------------
def test_identical_losses_are_found_by_their_gradients_at_every_epoch():
    from mixbench.losses import identical_losses, resolve_losses

    names = ["CE", "CE+EL F=0", "Poly-1(eps=1)", "Poly-1(eps=2)", "EL", "GCE(q=1)", "MAE", "CE+EL F=0,0.5",
             "CE+EL F=0-0.5", "Sigmoid-MSE+OR", "Sigmoid-MSE(margin=0.1)"]  # fmt: skip
    losses = resolve_losses(names)
    assert identical_losses(losses, 50) == [("CE+EL F=0", "Poly-1(eps=1)"), ("EL", "GCE(q=1)")]
    # a schedule is compared as it runs: in a 1-epoch run F=0,0.5 gets no epoch of F=0, so it is EL alone
    assert ("EL", "CE+EL F=0,0.5") in identical_losses(losses, 1)


def test_a_run_with_one_loss_under_two_names_warns_and_its_report_says_so(tmp_path):
    out = tmp_path / "run"
    argv = ["run", "--datasets", "iris,wine", "--nets", "linear", "--seeds", "0", "--epochs", "2",
            "--n-jobs", "1", "--no-progress", "--out", str(out)]  # fmt: skip
    code, stdout, err = mixbench(*argv, "--losses", "CE,CE+EL F=0,Poly-1(eps=1),EL")
    assert code == 0, err
    assert "losses 'CE+EL F=0' and 'Poly-1(eps=1)' train identically at every epoch" in err
    assert "'CE+EL F=0' and 'Poly-1(eps=1)' train identically" in stdout  # the verdict printed at the end
    code, _, err = mixbench("report", str(out), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    assert "&#39;Poly-1(eps=1)&#39; train identically" in (tmp_path / "rep" / "report.html").read_text()
    # losses that differ raise no such warning
    code, stdout, err = mixbench(*argv[:-1], str(tmp_path / "other"), "--losses", "CE,Poly-1(eps=2),EL")
    assert code == 0 and "identically" not in err + stdout


def test_a_warning_is_one_line_without_mixbenchs_source(tmp_path):
    done = _cli("run", "--datasets", "iris", "--nets", "linear", "--seeds", "0", "--epochs", "2", "--losses",
                "CE,CE+EL F=0-0.5", "--no-progress", "--no-report", "--out", "run", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "mixbench: warning: loss 'CE+EL F=0-0.5': with 2 epochs the focus values" in done.stderr
    assert "UserWarning" not in done.stderr and ".py:" not in done.stderr
