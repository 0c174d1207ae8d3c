"""`mixbench run`: configuration, the task grid, resume, kills, failures, parallel and dask backends."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli_helpers import mixbench
from mixbench import data, runner
from mixbench.engine import train_bank
from mixbench.losses import STANDARD_LOSSES
from mixbench.results import EPOCH_COLUMNS, SELECTED_COLUMNS, load
from mixbench.runner.config import split_losses
from mixbench.suites import load_dataset

# 4 toy datasets x 2 nets x 2 splits = 16 tasks of about 0.1 to 1 s each.
GRID = [
    "--suite", "toy", "--losses", "CE,Sigmoid-MSE", "--lrs", "0.01,0.001", "--seeds", "60",
    "--epochs", "3", "--splits", "0,1",
]  # fmt: skip
N_GRID_TASKS = 16
# 2 datasets x 2 nets = 4 quick tasks.
SMALL = ["--datasets", "iris,wine", "--losses", "CE", "--lrs", "0.01,0.001", "--seeds", "60", "--epochs", "2"]


def mtimes(run_dir: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((run_dir / "tasks").iterdir())}


def assert_same_results(a: Path, b: Path) -> None:
    ra, rb = load(a), load(b)
    pd.testing.assert_frame_equal(ra.selected, rb.selected, check_exact=True)
    pd.testing.assert_frame_equal(ra.epochs, rb.epochs, check_exact=True)


def start_subprocess(args: list[str], cwd: Path) -> subprocess.Popen:
    # A session of its own, so signals can go to the whole process group (parent and loky workers) as a
    # terminal's Ctrl-C or a job killer would send them.
    return subprocess.Popen(
        [sys.executable, "-m", "mixbench", "run", "--no-progress", "--no-report", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_first_task(run_dir: Path, proc: subprocess.Popen, timeout: float = 120) -> list[Path]:
    """Poll until a task is finished; every final task file seen must be complete at any moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        files = sorted((run_dir / "tasks").glob("[!.]*.parquet")) if (run_dir / "tasks").is_dir() else []
        for f in files:
            assert pq.read_table(f).num_rows == 2  # 2 losses x 1 seed: a final file is never partial
        if files:
            return files
        time.sleep(0.02)
    raise AssertionError("no task finished in time")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The 16-task GRID run uninterrupted with one process."""
    out = tmp_path_factory.mktemp("reference") / "run"
    code, stdout, stderr = mixbench("run", *GRID, "--n-jobs", "1", "--out", str(out), "--no-progress")
    assert code == 0, stderr
    (out / "stdout.txt").write_text(stdout)
    return out


# --- end to end ---------------------------------------------------------------------------------------
def test_run_toy_grid_end_to_end(reference):
    stdout = (reference / "stdout.txt").read_text()
    assert "16 tasks: 16 done, 0 skipped (already finished), 0 failed" in stdout
    assert f"report:  mixbench report {reference}" in stdout
    run = load(reference)
    assert list(run.selected.columns) == SELECTED_COLUMNS and list(run.epochs.columns) == EPOCH_COLUMNS
    assert len(run.selected) == N_GRID_TASKS * 2 * 1  # x 2 losses x 1 seed
    assert len(run.epochs) == N_GRID_TASKS * 2 * 2 * 3  # x 2 losses x 2 lrs x 3 epochs
    assert set(run.selected["dataset"]) == {"iris", "wine", "breast_cancer", "digits"}
    assert set(run.selected["split"]) == {0, 1} and set(run.selected["noise"]) == {"none"}
    assert run.selected["test_acc"].between(0, 1).all() and not run.selected["diverged"].any()
    assert run.selected.equals(pd.read_parquet(reference / "selected.parquet"))
    assert not run.failures.size

    # a selected row holds the best validation accuracy of its (lr, epoch) grid, and that cell's test accuracy
    keys = ["dataset", "net", "split", "noise", "loss", "seed"]
    best_val = run.epochs.groupby(keys)["val_acc"].max()
    chosen = run.selected.merge(run.epochs, on=keys + ["lr", "epoch"], suffixes=("", "_cell"))
    assert len(chosen) == len(run.selected)
    np.testing.assert_array_equal(chosen["val_acc"], chosen["val_acc_cell"])
    np.testing.assert_array_equal(chosen["test_acc"], chosen["test_acc_cell"])
    np.testing.assert_array_equal(
        chosen.set_index(keys)["val_acc"], best_val.loc[chosen.set_index(keys).index]
    )

    # one task against the engine called directly with the same settings
    ds = load_dataset("wine", suite="toy", split=1)
    direct = train_bank(
        ds.X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes, net="hidden",
        losses=["CE", "Sigmoid-MSE"], lrs=[0.01, 0.001], seeds=[60], epochs=3, batch_size=8, momentum=0.9,
    )  # fmt: skip
    task = run.epochs.query("dataset == 'wine' and net == 'hidden' and split == 1")
    pd.testing.assert_frame_equal(
        task[direct.records.columns].reset_index(drop=True), direct.records, check_exact=True
    )

    record = json.loads((reference / "config.json").read_text())
    config = record["config"]
    assert config["losses"] == ["CE", "Sigmoid-MSE"] and config["lrs"] == [0.01, 0.001]
    assert config["seeds"] == [60] and config["epochs"] == 3 and config["splits"] == [0, 1]
    assert config["batch_size"] == 8 and config["momentum"] == 0.9 and config["n_jobs"] == 1
    assert config["datasets"] == ["iris", "wine", "breast_cancer", "digits"]
    assert {"mixbench", "torch", "python"} <= set(record["versions"])
    assert record["machine"]["cpu_count"] == os.cpu_count() and record["machine"]["platform"]
    assert record["git"] is None or len(record["git"]["commit"]) == 40
    assert record["status"] == "complete" and record["tasks"] == {"total": 16, "finished": 16, "failed": 0}
    assert record["started"] <= record["finished"] and record["wall_time_s"] > 0
    assert len(record["history"]) == 1 and record["history"][0]["done"] == 16


def test_tasks_run_largest_first():
    config = runner.resolve_config({"out": "/tmp/unused"})
    tasks = runner.plan_tasks(config)
    costs = [t.cost for t in tasks]
    assert costs == sorted(costs, reverse=True) and len(set(costs)) == len(costs)
    assert [t.label for t in tasks[:2]] == ["digits/hidden", "digits/linear"]
    assert tasks[-1].dataset == "iris"


def test_resume_skips_finished_tasks(tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = mixbench("run", *SMALL, "--n-jobs", "1", "--out", str(out))
    assert code == 0 and "4 tasks: 4 done, 0 skipped" in stdout
    before, first = mtimes(out), load(out).selected
    code, stdout, _ = mixbench("run", *SMALL, "--n-jobs", "1", "--out", str(out))
    assert code == 0 and "4 tasks: 0 done, 4 skipped (already finished), 0 failed" in stdout
    assert mtimes(out) == before  # nothing rewritten
    # the state a kill leaves on a first run: some task files, no consolidated selected.parquet yet
    (out / "tasks" / "wine__hidden__split0__none.parquet").unlink()
    (out / "selected.parquet").unlink()
    code, stdout, _ = mixbench("run", *SMALL, "--n-jobs", "1", "--out", str(out))
    assert code == 0 and "4 tasks: 1 done, 3 skipped" in stdout
    pd.testing.assert_frame_equal(load(out).selected, first, check_exact=True)
    code, stdout, _ = mixbench("run", "--resume", str(out), "--n-jobs", "1")  # the stored settings
    assert code == 0 and "4 tasks: 0 done, 4 skipped" in stdout
    history = json.loads((out / "config.json").read_text())["history"]
    assert [h["done"] for h in history] == [4, 0, 1, 0]


def test_a_different_configuration_is_refused(tmp_path):
    out = tmp_path / "run"
    assert mixbench("run", *SMALL, "--n-jobs", "1", "--out", str(out))[0] == 0
    before = mtimes(out)
    code, stdout, stderr = mixbench("run", *SMALL, "--epochs", "3", "--lrs", "0.01", "--out", str(out))
    assert code == 2 and not stdout
    assert "holds a run with a different configuration" in stderr
    assert "epochs: stored 2, now 3" in stderr and "lrs: stored [0.01, 0.001], now [0.01]" in stderr
    assert "--out DIR" in stderr and f"delete {out}" in stderr
    assert mtimes(out) == before
    # how it runs (n_jobs) is not a difference
    code, stdout, _ = mixbench("run", *SMALL, "--n-jobs", "2", "--out", str(out))
    assert code == 0 and "0 done, 4 skipped" in stdout


def test_eval_batch_is_a_science_setting_that_older_run_directories_lack(tmp_path):
    """``--eval-batch`` (the reference code's accuracy rule) changes the numbers, so it is part of the
    configuration; a config.json written before the setting existed means its default, 0."""
    assert "eval_batch" not in runner.resolve_config({}).science()  # default names stay as they were
    assert runner.resolve_config({"eval_batch": 16}).out != runner.resolve_config({}).out
    out = tmp_path / "run"
    assert mixbench("run", *SMALL, "--n-jobs", "1", "--out", str(out))[0] == 0
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["eval_batch"] == 0
    del record["config"]["eval_batch"]  # as a run directory made before the setting
    (out / "config.json").write_text(json.dumps(record))
    code, stdout, _ = mixbench("run", *SMALL, "--n-jobs", "1", "--out", str(out))
    assert code == 0 and "0 done, 4 skipped" in stdout
    code, _, stderr = mixbench("run", *SMALL, "--eval-batch", "16", "--out", str(out))
    assert code == 2 and "eval_batch: stored 0, now 16" in stderr
    other = tmp_path / "batched"
    code, _, stderr = mixbench("run", *SMALL, "--eval-batch", "16", "--n-jobs", "1", "--out", str(other))
    assert code == 0, stderr
    exact, batched = load(out).selected, load(other).selected
    assert json.loads((other / "config.json").read_text())["config"]["eval_batch"] == 16
    # iris and wine have 30-odd validation rows: batches of 16 with a short last one move some accuracies
    assert (exact["val_acc"] != batched["val_acc"]).any()


def test_a_second_run_into_a_directory_being_written_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    out = tmp_path / "run"
    assert mixbench("run", *SMALL, "--datasets", "iris", "--n-jobs", "1", "--out", str(out))[0] == 0
    assert not (out / ".lock").exists()  # released and removed at the end
    (out / ".lock.holder").write_text("pid 12345 on somewhere\n")  # what a running `mixbench run` holds
    with open(out / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, _, stderr = mixbench("run", *SMALL, "--datasets", "iris", "--n-jobs", "1", "--out", str(out))
    assert code == 2 and "is being written by another mixbench run (pid 12345 on somewhere)" in stderr
    (out / ".lock.holder").unlink()  # the holder's: left as a killed run leaves it
    code, stdout, _ = mixbench("run", *SMALL, "--datasets", "iris", "--n-jobs", "1", "--out", str(out))
    assert code == 0 and "0 done, 2 skipped" in stdout  # a stale lock file (holder gone) is no obstacle


# --- configuration ------------------------------------------------------------------------------------
def test_defaults_are_the_paper_preset_and_name_the_output_directory():
    default = runner.resolve_config({})
    paper = runner.resolve_config({}, preset="paper")
    assert default == paper
    assert default.losses == STANDARD_LOSSES and default.nets == ("linear", "hidden")
    assert default.lrs == (0.01, 0.005, 0.001) and default.seeds == (60, 1234)
    assert (default.epochs, default.batch_size, default.splits, default.label_noise) == (
        50,
        8,
        (0,),
        ("none",),
    )
    assert default.suite == "toy" and default.datasets == ("iris", "wine", "breast_cancer", "digits")
    assert default.n_jobs == -1 and default.backend == "loky"
    root = data.repo_root() or Path.cwd()  # the checkout (editable install), else the current folder
    assert Path(default.out) == root / "results" / f"toy-{default.config_hash()}"
    # the name follows the science settings, not how the run executes
    assert runner.resolve_config({"n_jobs": 1}).out == default.out
    assert runner.resolve_config({"epochs": 10}).out != default.out


def test_config_file_then_command_line_override_the_preset(tmp_path):
    toml = tmp_path / "study" / "study.toml"
    toml.parent.mkdir()
    toml.write_text(
        'suite = "toy"\ndatasets = ["*e*", "!wine"]\nlosses = ["CE", "CE+EL F=0,0.5"]\nepochs = 7\n'
        'batch-size = 16\nlabel_noise = "0.2,pairflip"\nout = "runs/a"\n'
    )
    config = runner.resolve_config({"epochs": 5, "seeds": "1,2"}, config_file=toml)
    assert config.datasets == ("breast_cancer",)  # *e* matches wine and breast_cancer; !wine removes one
    assert config.losses == ("CE", "CE+EL F=0,0.5") and config.batch_size == 16
    assert config.epochs == 5 and config.seeds == (1, 2)  # the command line wins
    assert config.lrs == (0.01, 0.005, 0.001)  # from the preset
    assert config.label_noise == ("pairflip-0.2",)
    assert Path(config.out) == toml.parent / "runs" / "a"  # relative to the file
    toml.write_text("epoch = 3\n")
    with pytest.raises(runner.ConfigError, match=r"unknown setting 'epoch'; did you mean 'epochs'"):
        runner.resolve_config({}, config_file=toml)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"datasets": "irs"}, r"'irs' matches no available toy dataset \(did you mean iris\?\)"),
        ({"losses": "CE,Nope"}, r"unknown loss 'Nope'"),
        ({"lrs": "0.1,-1"}, r"lrs: '-1' is out of range"),
        ({"splits": "4"}, r"splits are 0..3"),
        ({"label_noise": ["0.2,gaussian"]}, r"unknown kind 'gaussian'"),
        ({"nets": "linear,deep"}, r"nets: .* among linear, hidden"),
        ({"backend": "dask"}, r"needs the scheduler's address"),
        ({"epochs": 0}, r"epochs: 0 is out of range"),
        ({"eval_batch": -8}, r"eval_batch: -8 is out of range; use 0 \(exact accuracy\) or a batch size"),
    ],
)
def test_bad_settings_say_what_to_change(overrides, message):
    with pytest.raises(runner.ConfigError, match=message):
        runner.resolve_config(overrides)


def test_loss_names_with_commas_and_noise_settings_parse():
    assert split_losses("CE,CE+EL F=0,0.5,EL")[0] == ["CE", "CE+EL F=0,0.5", "EL"]
    assert split_losses("standard")[0] == list(STANDARD_LOSSES)
    assert [runner.parse_label_noise(s) for s in ("0.2", "0.4,pairflip", "symmetric-0.3", "none", "0")] == [
        "symmetric-0.2",
        "pairflip-0.4",
        "symmetric-0.3",
        "none",
        "none",
    ]


def test_label_noise_is_seeded_from_the_task_and_spares_test_labels(tmp_path):
    config = runner.resolve_config({"datasets": "wine", "label_noise": ["0.2"], "out": str(tmp_path)})
    clean = load_dataset("wine", suite="toy")
    linear, hidden, split1 = (
        runner.task_dataset(runner.Task("wine", net, split, "symmetric-0.2"), config)
        for net, split in (("linear", 0), ("hidden", 0), ("hidden", 1))
    )
    for part in ("train", "validation"):
        rows = getattr(clean, part)
        assert (linear.y[rows] != clean.y[rows]).sum() == round(0.2 * len(rows))
    np.testing.assert_array_equal(linear.y[clean.test], clean.y[clean.test])
    np.testing.assert_array_equal(linear.y, hidden.y)  # both networks see the same noisy labels
    clean1 = load_dataset("wine", suite="toy", split=1)
    assert (split1.y != clean1.y).sum() == round(0.2 * len(clean1.train)) + round(
        0.2 * len(clean1.validation)
    )
    again = runner.task_dataset(runner.Task("wine", "linear", 0, "symmetric-0.2"), config)
    np.testing.assert_array_equal(again.y, linear.y)  # reproducible


# --- parallel and distributed -------------------------------------------------------------------------
def test_n_jobs_2_gives_identical_results(reference, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = mixbench("run", *GRID, "--n-jobs", "2", "--out", str(out), "--no-progress")
    assert code == 0, stderr
    assert "16 done" in stdout and "(2 loky workers)" in stdout
    assert_same_results(out, reference)


@pytest.mark.slow
def test_dask_local_cluster_lands_the_same_results(reference, tmp_path):
    try:
        import distributed
    except ImportError:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail("dask.distributed is missing; CI installs mixbench[dask] so this test runs")
        pytest.skip("dask.distributed is not installed (pip install 'mixbench[dask]')")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True, dashboard_address=None
    ) as cluster:
        out = tmp_path / "run"
        code, stdout, stderr = mixbench(
            "run", *GRID, "--backend", "dask", "--scheduler", cluster.scheduler_address, "--out", str(out)
        )
    assert code == 0, stderr
    assert "16 done" in stdout and "(2 dask workers)" in stdout
    assert_same_results(out, reference)
    assert json.loads((out / "config.json").read_text())["history"][0]["backend"] == "dask"


# --- interruption and failures ------------------------------------------------------------------------
@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(reference, tmp_path):
    out = tmp_path / "run"
    proc = start_subprocess([*GRID, "--n-jobs", "2", "--out", str(out)], cwd=tmp_path)
    try:
        wait_for_first_task(out, proc)
        os.killpg(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    finished = sorted((out / "tasks").glob("[!.]*.parquet"))
    assert 1 <= len(finished) < N_GRID_TASKS, "the kill must land mid-run"
    partial = load(out)  # only complete tasks are read, and they already equal the reference's
    ref = load(reference).selected.merge(partial.selected[["dataset", "net", "split"]].drop_duplicates())
    pd.testing.assert_frame_equal(partial.selected, ref, check_exact=True)
    assert json.loads((out / "config.json").read_text())["status"] == "running"  # killed: never closed

    code, stdout, stderr = mixbench("run", *GRID, "--n-jobs", "2", "--out", str(out), "--no-progress")
    assert code == 0, stderr
    assert f"{N_GRID_TASKS - len(finished)} done, {len(finished)} skipped" in stdout
    assert_same_results(out, reference)
    assert not [p for p in out.rglob(".*") if p.is_file()]  # temporary files cleaned


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_keeps_finished_tasks_and_says_how_to_resume(reference, tmp_path):
    out = tmp_path / "run"
    proc = start_subprocess([*GRID, "--n-jobs", "2", "--out", str(out)], cwd=tmp_path)
    try:
        wait_for_first_task(out, proc)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted: the finished tasks are kept. Resume with the same command" in stdout
    assert "mixbench run --resume run" in stdout
    n_kept = len(list((out / "tasks").glob("[!.]*.parquet")))
    assert 1 <= n_kept < N_GRID_TASKS
    assert f"{N_GRID_TASKS} tasks: {n_kept} done, 0 skipped (already finished), 0 failed" in stdout
    record = json.loads((out / "config.json").read_text())
    assert record["status"] == "interrupted" and record["tasks"]["finished"] == n_kept
    assert len(load(out).selected) == 2 * n_kept  # consolidated: selected.parquet holds the kept tasks
    assert len(pd.read_parquet(out / "selected.parquet")) == 2 * n_kept

    code, stdout, _ = mixbench("run", "--resume", str(out), "--n-jobs", "2", "--no-progress")
    assert code == 0 and f"{N_GRID_TASKS - n_kept} done, {n_kept} skipped" in stdout
    assert_same_results(out, reference)


@pytest.fixture
def uci_pair(tmp_path, uci_dir) -> Path:
    """A small UCI-121 data directory: acute-inflammation and balloons copied from the real data."""
    root = tmp_path / "uci121"
    for name in ("acute-inflammation", "balloons"):
        shutil.copytree(uci_dir / name, root / name)
    return root


def test_a_malformed_dataset_fails_its_own_tasks_and_the_others_finish(uci_pair, tmp_path):
    labels = uci_pair / "balloons" / "labels_py.dat"
    good = labels.read_text()
    lines = good.splitlines(keepends=True)
    labels.write_text("".join(lines[:2] + ["one\n"] + lines[3:]))
    out = tmp_path / "run"
    args = ["run", "--suite", "uci121", "--data-dir", str(uci_pair), *SMALL[2:], "--n-jobs", "2"]
    code, stdout, stderr = mixbench(*args, "--out", str(out))
    assert code == 1
    assert "4 tasks: 2 done, 0 skipped (already finished), 2 failed" in stdout
    assert f"failed tasks (2), recorded in {out / 'failures'}:" in stdout
    for net in ("linear", "hidden"):
        assert f"  balloons/{net}: DatasetError: {labels}, line 3:" in stdout
        assert f"task balloons/{net} failed: DatasetError: {labels}, line 3" in stderr
    assert "fix the cause and re-run the same command" in stdout
    run = load(out)
    assert set(run.selected["dataset"]) == {"acute-inflammation"} and len(run.selected) == 2
    assert sorted(run.failures["net"]) == ["hidden", "linear"]
    assert (run.failures["dataset"] == "balloons").all()
    assert run.failures["error"].str.startswith(f"DatasetError: {labels}, line 3").all()
    assert json.loads((out / "config.json").read_text())["status"] == "failed"

    labels.write_text(good)  # fixed: the same command retries only the failed tasks
    code, stdout, _ = mixbench(*args, "--out", str(out))
    assert code == 0 and "4 tasks: 2 done, 2 skipped (already finished), 0 failed" in stdout
    run = load(out)
    assert len(run.failures) == 0 and set(run.selected["dataset"]) == {"acute-inflammation", "balloons"}


def test_a_finished_run_prints_its_verdict_and_writes_its_report(tmp_path, monkeypatch):
    from mixbench import data

    monkeypatch.setattr(data, "repo_root", lambda: tmp_path)  # reports/ of a checkout in tmp
    out = tmp_path / "my-run"
    grid = ["--suite", "toy", "--datasets", "iris,wine", "--losses", "CE,EL", "--lrs", "0.01,0.001"]
    grid += ["--epochs", "2"]
    code, stdout, stderr = mixbench("run", *grid, "--n-jobs", "1", "--out", str(out), "--report")
    assert code == 0, stderr
    report = tmp_path / "reports" / "my-run" / "report.html"
    assert report.is_file() and f"report: {report}" in stdout
    assert not (report.parent / "report.pdf").exists()  # the PDF is `mixbench report`'s
    # The verdict table of each network, after the run's summary.
    verdict = stdout.split("Verdict against CE", 1)[1]
    for line in ("linear network (2 datasets)", "hidden network (2 datasets)"):
        assert line in verdict
    assert "EL " in verdict and ("equivalent" in verdict or "undecided" in verdict or "worse" in verdict)
    # --no-report: the verdict, no report.
    other = tmp_path / "other-run"
    code, stdout, _ = mixbench("run", *grid, "--n-jobs", "1", "--out", str(other))
    assert code == 0 and "Verdict against CE" in stdout
    assert not (tmp_path / "reports" / "other-run").exists()


def test_help_explains_the_options_and_the_dask_cluster():
    code, stdout, _ = mixbench("run", "--help")
    assert code == 0
    for text in ("--label-noise RATE[,KIND]", "--preset", "--config FILE.toml", "dask worker tcp://HOST:8786",
                 "MIXBENCH_DATA", "--nthreads 1", "exit status"):  # fmt: skip
        assert text in stdout
    # the config example in the help is valid TOML with known keys
    example = stdout.split("relative to the file):\n", 1)[1].split("\n\n", 1)[0]
    keys = tomllib.loads("\n".join(line.strip() for line in example.splitlines())).keys()
    assert set(keys) <= set(runner.OPTION_KEYS) | {"preset"}
