"""The result store: atomic per-task files, what counts as finished, and load()."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mixbench import results
from mixbench.engine import select_by_validation, train_bank
from mixbench.results import EPOCH_COLUMNS, FAILURE_COLUMNS, SELECTED_COLUMNS, ResultStore, load, task_name
from mixbench.suites import load_dataset


def _task_tables(name: str, net: str, epochs: int = 2, lrs=(0.01, 0.001)):
    """Real per-epoch records and selected results of one toy task."""
    ds = load_dataset(name, suite="toy")
    res = train_bank(
        ds.X, ds.y, ds.train, ds.validation, ds.test, ds.n_classes,
        net=net, losses=["CE", "Sigmoid-MSE"], lrs=lrs, seeds=[60], epochs=epochs,
    )  # fmt: skip
    key = {"dataset": name, "net": net, "split": 0, "noise": "none"}
    records = res.records.assign(**key)[EPOCH_COLUMNS]
    return key, records, select_by_validation(records, lr_order=lrs)


@pytest.fixture(scope="module")
def tables():
    return {(d, n): _task_tables(d, n) for d in ("iris", "wine") for n in ("linear", "hidden")}


def _new_run(path, tables, which) -> ResultStore:
    store = ResultStore(path)
    store.write_config({"config": {"suite": "toy"}, "versions": {"mixbench": "test"}})
    for k in which:
        key, records, selected = tables[k]
        store.write_task(key, records, selected, {"seconds": 1.5})
    return store


def _consolidate(store: ResultStore) -> pd.DataFrame:
    """selected.parquet written, and recorded in config.json, as the runner does at the end of a run."""
    consolidated = store.consolidate()
    store.write_config({**store.read_config(), "consolidated": results.consolidation_record(consolidated)})
    return consolidated


def test_write_task_then_load_round_trips_the_tables(tmp_path, tables):
    store = _new_run(tmp_path / "run", tables, [("wine", "linear"), ("iris", "hidden")])
    run = load(store.path)
    assert run.config["config"] == {"suite": "toy"}
    assert list(run.selected.columns) == SELECTED_COLUMNS
    assert list(run.epochs.columns) == EPOCH_COLUMNS
    # canonical order: by dataset, net, split, noise; each task's own rows kept in their order
    expected_sel = pd.concat(
        [tables[("iris", "hidden")][2], tables[("wine", "linear")][2]], ignore_index=True
    )
    expected_ep = pd.concat([tables[("iris", "hidden")][1], tables[("wine", "linear")][1]], ignore_index=True)
    pd.testing.assert_frame_equal(run.selected, expected_sel, check_dtype=False, check_exact=True)
    pd.testing.assert_frame_equal(run.epochs, expected_ep, check_dtype=False, check_exact=True)
    assert run.selected["split"].dtype == np.int64 and run.selected["seed"].dtype == np.int64
    assert run.selected["diverged"].dtype == bool and run.epochs["epoch"].dtype == np.int64
    assert len(run.failures) == 0 and list(run.failures.columns) == FAILURE_COLUMNS
    assert store.finished() == {"wine__linear__split0__none", "iris__hidden__split0__none"}
    meta = results.read_parquet_metadata(store.tasks_dir / "iris__hidden__split0__none.parquet")
    assert meta["seconds"] == 1.5 and meta["dataset"] == "iris" and meta["net"] == "hidden"


def test_a_committed_directory_with_only_config_and_selected_loads(tmp_path, tables):
    store = _new_run(tmp_path / "run", tables, list(tables))
    consolidated = _consolidate(store)
    assert len(consolidated) == 4 * 2  # 4 tasks x 2 losses x 1 seed
    committed = tmp_path / "committed"
    committed.mkdir()
    for name in ("config.json", "selected.parquet"):
        shutil.copy(store.path / name, committed / name)
    run = load(committed)
    pd.testing.assert_frame_equal(run.selected, load(store.path).selected, check_exact=True)
    assert run.epochs is None
    assert list(run.failures.columns) == FAILURE_COLUMNS and len(run.failures) == 0
    assert ResultStore(committed).finished() == store.finished()


def test_task_files_win_over_consolidated_rows_and_both_count_as_finished(tmp_path, tables):
    store = _new_run(tmp_path / "run", tables, [("iris", "linear"), ("wine", "linear")])
    old = _consolidate(store)
    # a newer result of iris/linear (4 epochs instead of 2) and a new task only in tasks/
    key, records, selected = _task_tables("iris", "linear", epochs=4)
    columns = ["val_acc", "test_acc", "epoch"]
    assert not np.array_equal(selected[columns].to_numpy(), old.iloc[:2][columns].to_numpy())
    (store.tasks_dir / "wine__linear__split0__none.parquet").unlink()  # now only in selected.parquet
    store.write_task(key, records, selected)
    store.write_task(*tables[("iris", "hidden")])
    run = load(store.path)
    got = run.selected.set_index(["dataset", "net"]).sort_index()
    pd.testing.assert_frame_equal(
        got.loc[("iris", "linear")].reset_index(drop=True), selected.drop(columns=["dataset", "net"])
    )
    assert set(got.index) == {("iris", "linear"), ("iris", "hidden"), ("wine", "linear")}
    assert store.finished() == {
        "iris__linear__split0__none",
        "iris__hidden__split0__none",
        "wine__linear__split0__none",
    }


def test_partial_and_orphan_files_are_never_read_as_finished(tmp_path, tables):
    store = _new_run(tmp_path / "run", tables, [("iris", "linear")])
    good = store.tasks_dir / "iris__linear__split0__none.parquet"
    # what a writer killed mid-way leaves: a truncated temporary file next to the final names
    partial = good.read_bytes()[:100]
    (store.tasks_dir / ".wine__linear__split0__none.parquet.abc123.tmp").write_bytes(partial)
    (store.epochs_dir / ".wine__linear__split0__none.parquet.abc123.tmp").write_bytes(partial)
    # an epochs file whose task file was never written (killed between the two writes)
    key, records, _ = tables[("wine", "hidden")]
    results.write_parquet_atomic(records, store.epochs_dir / "wine__hidden__split0__none.parquet")
    assert store.finished() == {"iris__linear__split0__none"}
    run = load(store.path)
    assert set(run.selected["dataset"]) == {"iris"} and set(run.epochs["dataset"]) == {"iris"}
    assert store.clean_temporary() == 2
    assert sorted(p.name for p in store.tasks_dir.iterdir()) == [good.name]


def test_a_sigkill_in_the_middle_of_a_write_keeps_the_previous_file(tmp_path):
    """A real process is killed (SIGKILL) while the second version of a file is half written."""
    target = tmp_path / "tasks" / "x__linear__split0__none.parquet"
    script = textwrap.dedent(
        f"""
        import sys, time
        import pandas as pd, pyarrow.parquet as pq
        from mixbench import results

        frame = pd.DataFrame({{"v": range(200_000)}})
        results.write_parquet_atomic(frame, {str(target)!r})      # version 1, complete
        real = pq.write_table

        def half_then_hang(table, where, **kw):
            real(table, where, **kw)
            data = open(where, "rb").read()
            open(where, "wb").write(data[: len(data) // 2])      # half of version 2 is on disk
            print("half", flush=True)
            time.sleep(60)

        pq.write_table = half_then_hang
        results.write_parquet_atomic(frame * 2, {str(target)!r})  # version 2: killed in the middle
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "half"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        proc.kill()
    leftovers = [p for p in target.parent.iterdir() if p != target]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".") and leftovers[0].suffix == ".tmp"
    with pytest.raises(Exception):  # noqa: B017 - the leftover really is a broken parquet file
        pq.read_table(leftovers[0])
    assert pq.read_table(target).to_pandas()["v"].tolist() == list(range(200_000))  # still version 1
    assert ResultStore(tmp_path).finished() == {"x__linear__split0__none"}
    assert ResultStore(tmp_path).clean_temporary() == 1


def test_failures_are_recorded_listed_and_cleared_when_the_task_succeeds(tmp_path, tables):
    store = _new_run(tmp_path / "run", tables, [])
    key, records, selected = tables[("wine", "hidden")]
    store.write_failure(key, "DatasetError: wine.dat, line 3: bad", "DatasetError", "Traceback ...")
    run = load(store.path)
    assert run.failures.to_dict("records") == [{**key, "error": "DatasetError: wine.dat, line 3: bad"}]
    record = json.loads((store.failures_dir / "wine__hidden__split0__none.json").read_text())
    assert record["error_type"] == "DatasetError" and record["traceback"] == "Traceback ..."
    store.write_task(key, records, selected)
    assert not store.failures_dir.joinpath("wine__hidden__split0__none.json").exists()
    assert len(load(store.path).failures) == 0
    # a stale failure record of a finished task is not listed either
    store.write_failure(key, "old error", "RuntimeError")
    assert len(load(store.path).failures) == 0


def test_load_explains_what_is_wrong(tmp_path, tables):
    with pytest.raises(FileNotFoundError, match="not a mixbench run directory"):
        load(tmp_path)
    store = _new_run(tmp_path / "run", tables, [("iris", "linear")])
    (store.tasks_dir / "iris__linear__split0__none.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(
        results.RunDirectoryError, match=r"iris__linear__split0__none\.parquet: cannot be read"
    ) as e:
        load(store.path)
    # the fix names both files of the task: deleting only one of them would recompute nothing
    assert f"delete it and {store.epochs_dir / 'iris__linear__split0__none.parquet'}" in str(e.value)
    assert "that task alone is recomputed" in str(e.value)


def test_task_names_are_safe_and_distinct():
    assert task_name("iris", "linear", 0, "none") == "iris__linear__split0__none"
    assert task_name("wine", "hidden", 2, "symmetric-0.2") == "wine__hidden__split2__symmetric-0.2"
    odd = [task_name(d, "linear", 0, "none") for d in ("a/b", "a b", "a_b", "a%2Fb")]
    assert len(set(odd)) == 4 and all("/" not in n and " " not in n for n in odd)
