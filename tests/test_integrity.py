"""Issue 14, never a silent wrong result: every result file is checked before it counts as finished, damaged
run directories and unwritable places give one-line errors (exit 2, the file, the cause, the fix), and kills
and SIGTERM leave no process behind. Every corrupt file is made in the test; nothing computed may be lost."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli_helpers import mixbench
from mixbench import analysis, engine, report, results, suites
from mixbench.results import load
from mixbench.suites.uci121 import install

# 2 toy datasets x 2 nets = 4 tasks of well under a second each.
SMALL = ["--suite", "toy", "--datasets", "iris,wine", "--losses", "CE,EL", "--lrs", "0.01,0.001",
         "--seeds", "60", "--epochs", "2", "--n-jobs", "1", "--no-progress"]  # fmt: skip


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every result file of a run directory with its bytes (config.json aside: a run may rewrite it)."""
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name not in ("config.json", ".lock")
    }


def one_line_error(stderr: str, code: int) -> str:
    """The error of a refused command: exit 2, no traceback, one message (which may list several files)."""
    assert code == 2, stderr
    assert "Traceback" not in stderr
    assert re.search(r"^mixbench [a-z]+: error: ", stderr, re.MULTILINE), stderr  # after any progress bar
    return stderr


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """SMALL run to the end, kept as a template: tests work on copies."""
    out = tmp_path_factory.mktemp("template") / "run"
    code, _, stderr = mixbench("run", *SMALL, "--out", str(out))
    assert code == 0, stderr
    return out


@pytest.fixture
def run_dir(finished_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


# --- every finished task is checked before it counts --------------------------------------------------
def test_a_task_file_copied_over_another_is_refused_and_kept(run_dir):
    before = snapshot(run_dir)
    shutil.copy(
        run_dir / "tasks" / "iris__linear__split0__none.parquet",
        run_dir / "tasks" / "wine__linear__split0__none.parquet",
    )
    code, stdout, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    assert not stdout
    assert (
        f"{run_dir / 'tasks' / 'wine__linear__split0__none.parquet'}: holds the results of iris/linear"
        in stderr
    )
    assert "but its name says wine/linear: the file was copied over another" in stderr
    assert "nothing was deleted" in stderr and "re-run the same `mixbench run` command" in stderr
    after = snapshot(run_dir)
    assert set(after) == set(before)  # nothing deleted, only the copy differs
    assert [k for k in before if before[k] != after[k]] == ["tasks/wine__linear__split0__none.parquet"]
    # the report refuses it too, instead of merging iris rows twice
    code, _, stderr = mixbench("report", str(run_dir), "--html", "--out", str(run_dir.parent / "r"))
    assert code == 2 and "holds the results of iris/linear" in stderr


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (
            ["--losses", "CE,Focal"],
            'computed with losses ["CE", "Focal"] (the run\'s config.json says ["CE", "EL"])',
        ),
        (["--epochs", "3"], "computed with epochs 3 (the run's config.json says 2)"),
        (["--lrs", "0.01,0.05"], "computed with lrs [0.01, 0.05] (the run's config.json says [0.01, 0.001])"),
    ],
)
def test_a_task_file_from_another_run_is_refused(run_dir, tmp_path, other, message):
    donor = tmp_path / "other"
    args = [*SMALL, *other, "--datasets", "iris", "--nets", "linear", "--out", str(donor)]
    assert mixbench("run", *args)[0] == 0
    name = "iris__linear__split0__none.parquet"
    for folder in ("tasks", "epochs"):
        shutil.copy(donor / folder / name, run_dir / folder / name)
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    assert f"{run_dir / 'tasks' / name}: " in stderr and message in stderr
    assert "it is not a result of this run" in stderr
    assert (run_dir / "tasks" / name).read_bytes() == (donor / "tasks" / name).read_bytes()  # kept


def test_an_old_task_file_without_settings_is_checked_by_its_rows(run_dir, tmp_path):
    # Files written before the settings were stored: the rows still show other losses, rates or epochs.
    donor = tmp_path / "other"
    assert (
        mixbench(
            "run",
            *SMALL,
            "--lrs",
            "0.05,0.001",
            "--datasets",
            "iris",
            "--nets",
            "linear",
            "--out",
            str(donor),
        )[0]
        == 0
    )
    name = "iris__linear__split0__none.parquet"
    frame = pd.read_parquet(donor / "tasks" / name)
    assert (frame["lr"] == 0.05).any()  # otherwise the rows could not tell
    meta = results.read_parquet_metadata(donor / "tasks" / name)
    del meta["settings"]
    results.write_parquet_atomic(frame, run_dir / "tasks" / name, meta)
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    assert "selected learning rate(s) [0.05] are not among the run's [0.01, 0.001]" in stderr


def test_a_selected_parquet_from_another_run_is_refused(run_dir, tmp_path):
    donor = tmp_path / "other"
    assert mixbench("run", *SMALL, "--epochs", "3", "--out", str(donor))[0] == 0
    for folder in ("tasks", "epochs"):
        shutil.rmtree(run_dir / folder)  # a committed run: config.json and selected.parquet only
    shutil.copy(donor / "selected.parquet", run_dir / "selected.parquet")
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    assert f"{run_dir / 'selected.parquet'} (rows of " in stderr and "computed with epochs 3" in stderr


def test_a_hand_edited_config_is_refused_on_resume(run_dir):
    before = snapshot(run_dir)
    record = json.loads((run_dir / "config.json").read_text())
    record["config"]["epochs"] = 5  # the 2-epoch results would have been labelled as 5-epoch ones
    (run_dir / "config.json").write_text(json.dumps(record))
    code, _, stderr = mixbench("run", "--resume", str(run_dir), "--no-progress")
    one_line_error(stderr, code)
    assert f"{run_dir / 'config.json'}: its settings are not those it was written with" in stderr
    assert "edited by hand" in stderr and "Restore the original settings" in stderr
    # without the hash (or with a matching one forged) the task files still say what they were made with
    del record["config_hash"]
    (run_dir / "config.json").write_text(json.dumps(record))
    code, _, stderr = mixbench("run", "--resume", str(run_dir), "--no-progress")
    one_line_error(stderr, code)
    assert "4 result file(s) fail the check" in stderr
    assert "computed with epochs 2 (the run's config.json says 5)" in stderr
    assert snapshot(run_dir) == before


@pytest.fixture
def uci_pair(tmp_path, uci_dir) -> Path:
    """A small UCI-121 data directory: acute-inflammation and balloons copied from the real data."""
    root = tmp_path / "uci121"
    for name in ("acute-inflammation", "balloons"):
        shutil.copytree(uci_dir / name, root / name)
    return root


UCI_SMALL = ["--suite", "uci121", "--losses", "CE", "--lrs", "0.01", "--seeds", "60", "--epochs", "2",
             "--n-jobs", "1", "--no-progress"]  # fmt: skip


def test_resume_with_other_data_files_is_refused(uci_pair, tmp_path):
    out = tmp_path / "run"
    assert mixbench("run", *UCI_SMALL, "--data-dir", str(uci_pair), "--out", str(out))[0] == 0
    before = snapshot(out)
    other = tmp_path / "uci121-v2"
    shutil.copytree(uci_pair, other)
    labels = other / "balloons" / "labels_py.dat"
    rows = labels.read_text().splitlines()
    rows[0] = "1" if rows[0] == "0" else "0"  # well-formed, but another version of the data
    labels.write_text("\n".join(rows) + "\n")
    (out / "tasks" / "acute-inflammation__hidden__split0__none.parquet").unlink()  # a task still to run
    (out / "epochs" / "acute-inflammation__hidden__split0__none.parquet").unlink()
    (out / "selected.parquet").unlink()
    code, _, stderr = mixbench("run", *UCI_SMALL, "--data-dir", str(other), "--out", str(out))
    one_line_error(stderr, code)
    assert f"{labels}: sha256 " in stderr
    assert "the finished task(s) balloons/hidden, balloons/linear were computed from" in stderr
    assert "Resuming would mix results of two versions of the data" in stderr and "--data-dir" in stderr
    assert not (out / "tasks" / "acute-inflammation__hidden__split0__none.parquet").exists()  # nothing ran
    # back on the data it started with, it resumes
    code, stdout, _ = mixbench("run", *UCI_SMALL, "--data-dir", str(uci_pair), "--out", str(out))
    assert code == 0 and "4 tasks: 1 done, 3 skipped" in stdout
    assert snapshot(out).keys() == before.keys()


def test_a_dataset_whose_files_are_gone_fails_only_its_own_tasks(uci_pair, tmp_path):
    out = tmp_path / "run"
    (uci_pair / "balloons" / "folds_py.dat").unlink()
    args = ["run", *UCI_SMALL, "--datasets", "acute-inflammation,balloons", "--data-dir", str(uci_pair)]
    code, stdout, stderr = mixbench(*args, "--out", str(out))
    assert code == 1, stderr  # not refused whole with "did you mean ...?"
    assert "did you mean" not in stderr + stdout
    assert "4 tasks: 2 done, 0 skipped (already finished), 2 failed" in stdout
    assert (
        f"balloons/linear: DatasetError: {uci_pair / 'balloons' / 'folds_py.dat'}: file is missing" in stdout
    )
    assert set(load(out).selected["dataset"]) == {"acute-inflammation"}
    # named alone, nothing could run: refused at once, without a misleading "did you mean"
    code, _, stderr = mixbench("run", *UCI_SMALL, "--datasets", "balloons", "--data-dir", str(uci_pair))
    one_line_error(stderr, code)
    assert "datasets: balloons: uci121 dataset(s) with files missing from" in stderr
    assert "did you mean" not in stderr


def test_an_incomplete_run_says_so_with_true_counts(run_dir):
    # the state a kill -9 after 3 of 4 tasks leaves: no consolidated file, status "running", stale counts
    (run_dir / "selected.parquet").unlink()
    for folder in ("tasks", "epochs"):
        (run_dir / folder / "wine__hidden__split0__none.parquet").unlink()
    record = json.loads((run_dir / "config.json").read_text())
    record.update(status="running", tasks={"total": 4, "finished": 0, "failed": None})
    (run_dir / "config.json").write_text(json.dumps(record))

    run = load(run_dir)
    done = run.completeness
    assert (done.total, len(done.finished), done.missing, done.failed) == (4, 3, ("wine/hidden",), ())
    assert done.status == "killed" and done.recorded_status == "running" and not done.live
    assert run.config["tasks"] == {"total": 4, "finished": 3, "failed": 0, "missing": 1}
    assert run.config["status"] == "killed"
    built = report.build_report(analysis.analyse_run(run, n_boot=50, n_samples=500))
    first = built.sections[0]
    assert first.title == "Warning: incomplete run"
    text = first.blocks[0].text
    assert text.startswith("This run is incomplete: 3 of 4 tasks are finished")
    assert "1 missing: wine/hidden." in text and "it was killed" in text
    assert f"mixbench run --resume {run_dir}" in text
    target = run_dir.parent / "report"
    code, _, stderr = mixbench("report", str(run_dir), "--html", "--n-boot", "50", "--out", str(target))
    assert code == 0 and "mixbench report: warning: This run is incomplete: 3 of 4 tasks" in stderr
    html = (target / "report.html").read_text()
    assert html.index("This run is incomplete: 3 of 4 tasks") < html.index("Overview")  # at the top
    # a complete run has no banner
    code, _, _ = mixbench("run", *SMALL, "--out", str(run_dir))
    assert code == 0
    assert load(run_dir).completeness.complete
    complete = analysis.analyse_run(load(run_dir), n_boot=50, n_samples=500)
    assert not complete.incomplete
    assert report.build_report(complete).sections[0].title != "Warning: incomplete run"


# --- damaged files: one-line errors ------------------------------------------------------------------
def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


@pytest.mark.parametrize("folder", ["tasks", "epochs"])
def test_a_truncated_task_or_epochs_file_names_both_files_to_delete(run_dir, folder):
    name = "wine__linear__split0__none.parquet"
    _truncate(run_dir / folder / name)
    before = snapshot(run_dir)
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    other = "epochs" if folder == "tasks" else "tasks"
    assert f"{run_dir / folder / name}: cannot be read (" in stderr and "damaged or truncated" in stderr
    assert (
        f"delete it and {run_dir / other / name} (the task's other file). Its selected results stay" in stderr
    )
    assert "to recompute the task, delete selected.parquet too" in stderr
    assert snapshot(run_dir) == before
    for path in (run_dir / "tasks" / name, run_dir / "epochs" / name, run_dir / "selected.parquet"):
        path.unlink()  # the fix works: that task alone is recomputed
    code, stdout, _ = mixbench("run", *SMALL, "--out", str(run_dir))
    assert code == 0 and "4 tasks: 1 done, 3 skipped" in stdout
    # where selected.parquet does not hold the task (a run killed before consolidating), two files suffice
    _truncate(run_dir / folder / name)
    (run_dir / "selected.parquet").unlink()
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    assert "(the task's other file), then re-run the same `mixbench run` command: that task alone" in stderr


def test_a_truncated_selected_parquet_says_whether_it_can_be_rebuilt(run_dir):
    _truncate(run_dir / "selected.parquet")
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    assert "selected.parquet: cannot be read" in stderr
    assert "it is rebuilt from the 4 file(s) in tasks/" in stderr
    code, _, stderr = mixbench("report", str(run_dir), "--out", str(run_dir.parent / "r"))
    one_line_error(stderr, code)
    shutil.rmtree(run_dir / "tasks")  # a committed run: it is the only copy
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    assert "restore it (e.g. `git checkout -- FILE` or from a backup): it is the only copy" in stderr


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (None, "not valid JSON"),  # truncated
        ("[1, 2]", "found list"),
        ('"running"', "found str"),
        ('{"config": 3}', 'an object without "config"'),
    ],
)
def test_a_damaged_config_json_is_a_one_line_error(run_dir, text, cause):
    path = run_dir / "config.json"
    path.write_text(path.read_text()[:200] if text is None else text)
    before = snapshot(run_dir)
    for argv in (["run", *SMALL, "--out", str(run_dir)], ["run", "--resume", str(run_dir)],
                 ["report", str(run_dir), "--out", str(run_dir.parent / "r")]):  # fmt: skip
        code, _, stderr = mixbench(*argv)
        one_line_error(stderr, code)
        assert f"{path}" in stderr and cause in stderr and "restore it" in stderr
    assert snapshot(run_dir) == before


def test_a_directory_without_config_json_but_with_results_is_not_to_be_emptied(run_dir):
    (run_dir / "config.json").unlink()
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    one_line_error(stderr, code)
    assert "missing, but" in stderr and "holds the results of 4 task(s)" in stderr
    assert "do not empty it" in stderr and "or empty it" not in stderr


def test_a_read_only_run_directory_is_a_one_line_error(run_dir, monkeypatch):
    from mixbench.runner import lock

    class Refused:  # what taking the lock gives in a read-only directory (as non-root)
        def __init__(self, path, *args, **kwargs):
            self.path = path

        def acquire(self, *args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied", str(self.path))

    monkeypatch.setattr(lock, "FileLock", Refused)
    before = snapshot(run_dir)
    code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))  # even a finished run
    one_line_error(stderr, code)
    assert f"{run_dir / '.lock'}: cannot be written (Permission denied); make " in stderr
    assert "`mixbench report` reads a run without writing to it" in stderr
    assert snapshot(run_dir) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_really_read_only_run_directory(run_dir):
    run_dir.chmod(0o555)
    try:
        code, _, stderr = mixbench("run", *SMALL, "--out", str(run_dir))
    finally:
        run_dir.chmod(0o755)
    one_line_error(stderr, code)
    assert "cannot be written (Permission denied)" in stderr


def test_a_full_disk_stops_the_run_with_one_error_and_a_closed_status(tmp_path, monkeypatch):
    out = tmp_path / "run"
    real = pq.write_table
    writes = []

    def write_table(table, where, *args, **kwargs):  # the disk fills up after the first task
        writes.append(where)
        if len(writes) > 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return real(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", write_table)
    code, stdout, stderr = mixbench("run", *SMALL, "--out", str(out))
    assert code == 2 and "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("mixbench run: error: ")
    assert "cannot be written (No space left on device); free space on that disk, then resume" in errors[0]
    assert "4 tasks: 1 done" in stdout and "aborted:" in stdout
    record = json.loads((out / "config.json").read_text())
    assert record["status"] == "aborted" and record["tasks"]["finished"] == 1  # not left "running"
    kept = list((out / "tasks").glob("*.parquet"))
    assert len(kept) == 1 and not [p for p in out.rglob(".*.tmp")]
    monkeypatch.setattr(pq, "write_table", real)  # space freed: the same command finishes
    code, stdout, _ = mixbench("run", *SMALL, "--out", str(out))
    assert code == 0 and "4 tasks: 3 done, 1 skipped" in stdout


# --- settings -----------------------------------------------------------------------------------------
def test_empty_datasets_is_refused_not_all(tmp_path):
    code, _, stderr = mixbench("run", *SMALL, "--datasets", "", "--out", str(tmp_path / "run"))
    one_line_error(stderr, code)
    assert "datasets: give at least one name or glob" in stderr
    assert not (tmp_path / "run").exists()


def test_a_user_loss_module_that_raises_on_import_is_a_one_line_error(tmp_path, monkeypatch):
    (tmp_path / "brokenloss.py").write_text("import math\n\nraise RuntimeError('no GPU here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    args = [*SMALL, "--losses", "CE,brokenloss:my_loss", "--out", str(tmp_path / "run")]
    code, _, stderr = mixbench("run", *args)
    one_line_error(stderr, code)
    assert len(stderr.strip().splitlines()) == 1
    assert f"{tmp_path / 'brokenloss.py'}, line 3: importing loss 'brokenloss:my_loss' raised " in stderr
    assert "RuntimeError: no GPU here; fix that module" in stderr


def test_the_summary_counts_diverged_cells(tmp_path):
    args = [
        *SMALL,
        "--datasets",
        "iris",
        "--nets",
        "linear",
        "--lrs",
        "1e38,0.01",
        "--out",
        str(tmp_path / "r"),
    ]
    code, stdout, _ = mixbench("run", *args)
    assert code == 0
    selected = load(tmp_path / "r").selected
    assert selected["diverged"].sum() == 2  # lr 1e38 diverges for both losses
    assert "diverged: 2 of 2 selected results had a learning rate that diverged (CE 1, EL 1)" in stdout


def test_the_engine_names_a_float32_overflow_instead_of_diverging():
    ds = suites.load_dataset("iris", suite="toy")
    X = ds.X.astype("float64")
    X[ds.validation[0], 1] = 1e39  # finite in float64, inf in float32
    with pytest.raises(
        ValueError, match=rf"X row {ds.validation[0]} has a value that is NaN or infinite in float32"
    ):
        engine.train_bank(X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes, losses=["CE"], epochs=1)


# --- data import into a place that cannot take it ---------------------------------------------------
def test_data_import_into_a_file_a_read_only_or_a_full_directory(uci_dir, tmp_path, monkeypatch):
    source = tmp_path / "source"
    shutil.copytree(uci_dir / "balloons", source / "balloons")
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    code, _, stderr = mixbench("data", "import", str(source), "--data-dir", str(a_file))
    one_line_error(stderr, code)
    assert f"{a_file}: is a file, not a folder; give --data-dir a folder" in stderr

    target = tmp_path / "uci121"
    real_replace = os.replace

    def full(src, dst, *args, **kwargs):
        if str(dst).startswith(str(target)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(install.os, "replace", full)  # where `import_data` looks it up
    code, _, stderr = mixbench("data", "import", str(source), "--data-dir", str(target))
    one_line_error(stderr, code)
    assert (
        f"{target / 'balloons'}" in stderr
        and "cannot be written (No space left on device); free space" in stderr
    )
    assert not [p for p in target.rglob("*") if p.is_file()]  # no partial file left
    monkeypatch.setattr(install.os, "replace", real_replace)

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    code, _, stderr = mixbench("data", "import", str(source), "--data-dir", str(tmp_path / "elsewhere"))
    one_line_error(stderr, code)
    assert "cannot be written (Read-only file system); make it writable, or give another --data-dir" in stderr


# --- processes ------------------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            if (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.append(pid)
    return alive


# Enough work that the workers are busy when the signal lands: 16 tasks of up to a second.
LONG = ["--suite", "toy", "--losses", "CE,Sigmoid-MSE", "--lrs", "0.01,0.001", "--seeds", "60",
        "--epochs", "15", "--splits", "0,1", "--n-jobs", "2", "--no-progress"]  # fmt: skip


def _start_and_wait_for_a_task(out: Path) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixbench", "run", *LONG, "--no-report", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "tasks").is_dir() or not list((out / "tasks").glob("[!.]*.parquet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no task finished in time"
        time.sleep(0.05)
    children = _children(proc.pid)
    assert len(children) >= 2, children  # the loky workers (and resource trackers)
    return proc, children


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _alive(pids)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_9_of_the_main_process_ends_its_workers(tmp_path):
    out = tmp_path / "run"
    proc, children = _start_and_wait_for_a_task(out)
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the main process alone, as the OOM killer does
        proc.wait(timeout=30)
        assert _wait_gone(children, 5) == []  # before: alive 9 minutes later
    finally:
        for pid in _alive(children):
            os.kill(pid, signal.SIGKILL)
    record = json.loads((out / "config.json").read_text())
    assert record["status"] == "running" and load(out).completeness.status == "killed"
    # config.json's count is updated after each task file, so a kill leaves it at most one behind (it said 0)
    n_files = len(list((out / "tasks").glob("[!.]*.parquet")))
    assert n_files - 1 <= record["tasks"]["finished"] <= n_files
    assert load(out).config["tasks"]["finished"] == n_files  # what load() and the report show: the truth


def test_the_next_start_recognises_and_corrects_a_stale_running_status(run_dir):
    record = json.loads((run_dir / "config.json").read_text())
    record["status"] = record["history"][-1]["status"] = "running"  # what a kill -9 leaves
    (run_dir / "config.json").write_text(json.dumps(record))
    assert load(run_dir).config["status"] == "killed"  # no process holds the lock
    before = snapshot(run_dir)
    code, stdout, stderr = mixbench("run", "--resume", str(run_dir), "--n-jobs", "1", "--no-progress")
    assert code == 0 and "4 tasks: 0 done, 4 skipped" in stdout
    assert snapshot(run_dir) == before  # nothing trained, nothing rewritten (selected.parquet included)
    assert "ended without closing its config.json (killed?); its status is corrected to 'killed'" in stderr
    history = json.loads((run_dir / "config.json").read_text())["history"]
    assert [h["status"] for h in history] == ["killed", "complete"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("group", [False, True])
def test_sigterm_stops_as_cleanly_as_ctrl_c(tmp_path, group):
    out = tmp_path / "run"
    proc, children = _start_and_wait_for_a_task(out)
    try:
        (os.killpg if group else os.kill)(proc.pid, signal.SIGTERM)  # `kill PID`, or a job killer's group
        stdout, stderr = proc.communicate(timeout=60)
        assert _wait_gone(children, 5) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert "terminated (SIGTERM): the finished tasks are kept. Resume with the same command" in stdout
    record = json.loads((out / "config.json").read_text())
    n_kept = len(list((out / "tasks").glob("[!.]*.parquet")))
    assert record["status"] == "interrupted" and record["history"][-1]["signal"] == "SIGTERM"
    assert record["tasks"]["finished"] == n_kept >= 1
    assert len(pd.read_parquet(out / "selected.parquet")) == 2 * n_kept  # consolidated
