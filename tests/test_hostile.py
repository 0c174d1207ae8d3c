"""A hostile user's inputs, each met the way that user meets it (the ``mixbench`` command): one line with
exit status 2 (or a failed task naming the file), never a traceback, never a verdict of the wrong thing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_helpers import mixbench

TINY = ["--suite", "toy", "--datasets", "iris", "--lrs", "0.01", "--seeds", "60", "--epochs", "1",
        "--nets", "linear", "--n-jobs", "1", "--no-progress"]  # fmt: skip


def _user_module(tmp_path, monkeypatch, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))


# --- user losses whose names stand for another loss -------------------------------------------------------
@pytest.mark.parametrize(
    ("attr", "name", "said"),
    [
        ("AS_GCE", "GCE(q=0.5)", "reads as the built-in GCE"),  # was trained and shown as the zoo's GCE
        ("AS_SET", "standard", "named set"),  # was trained, then its own resume read it as the set
        ("AS_TWO", "CE,Focal", "reads as the losses"),  # shown as one row named like two losses
        ("PADDED", " CE", "white space"),  # printed as a second CE
        ("EMPTY", "", "needs a name"),  # a verdict row with no name
    ],
)
def test_a_user_loss_named_like_another_loss_is_refused(tmp_path, monkeypatch, attr, name, said):
    module = f"hostile_name_{attr.lower()}"
    _user_module(
        tmp_path,
        monkeypatch,
        module,
        f"import torch\nfrom mixbench.losses import Loss\n"
        f"def _ce(q, y):\n    return torch.nn.functional.cross_entropy(q, y, reduction='none')\n"
        f"{attr} = Loss(name={name!r}, function=_ce)\n",
    )
    out = tmp_path / "run"
    code, _, err = mixbench("run", *TINY, "--losses", f"CE,{module}:{attr}", "--out", str(out))
    assert code == 2
    assert said in err and "name of its own" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (out / "selected.parquet").exists()


def test_a_module_registering_a_built_in_name_is_refused_naming_its_file_and_line(tmp_path, monkeypatch):
    # replace=True used to make the module's function train, and be reported, as CE: the baseline itself
    _user_module(
        tmp_path,
        monkeypatch,
        "hostile_replaces_ce",
        "from mixbench.losses import register_loss\n"
        "MINE = register_loss('CE', lambda q, y: q.sum(-1), replace=True)\n",
    )
    code, _, err = mixbench(
        "run", *TINY, "--losses", "EL,hostile_replaces_ce:MINE", "--out", str(tmp_path / "r")
    )
    assert code == 2
    assert f"{tmp_path / 'hostile_replaces_ce.py'}, line 2" in err
    assert "built in" in err and "name of its own" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    from mixbench.losses import get_loss

    assert get_loss("CE").coefficients == {"ce": 1.0}  # CE is still CE


@pytest.mark.parametrize(
    ("losses", "said"),
    [
        (
            "CE,GCE,GCE(q=0.7)",
            "'GCE(q=0.7)' is 'GCE' with the same parameters",
        ),  # one loss twice in the ranks
        ("CE,robust,GCE()", "'GCE()' is 'GCE' with the same parameters"),
        ("CE,GCE(q=0.5,q=0.6)", "parameter q is given twice"),  # the last value won unseen
    ],
)
def test_one_loss_twice_or_a_parameter_twice_is_refused(tmp_path, losses, said):
    code, _, err = mixbench("run", *TINY, "--losses", losses, "--out", str(tmp_path / "r"))
    assert code == 2
    assert said in err and "Traceback" not in err


# --- folder suites -----------------------------------------------------------------------------------------
def _frame(rows: int = 60, classes: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"a": rng.normal(size=rows), "b": rng.normal(size=rows), "class": np.arange(rows) % classes}
    )


def _folder_run(tmp_path, folder) -> tuple[int, str, str]:
    return mixbench(
        "run", "--suite", f"folder:{folder}", "--losses", "CE,EL", "--lrs", "0.01", "--seeds", "60",
        "--epochs", "1", "--nets", "linear", "--n-jobs", "1", "--no-progress", "--out", str(tmp_path / "run"),
    )  # fmt: skip


def test_two_files_of_one_name_fail_their_dataset_not_the_command(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    _frame().to_csv(folder / "x.csv", index=False)
    _frame().to_parquet(folder / "x.parquet")
    _frame(seed=1).to_csv(folder / "other.csv", index=False)
    code, out, err = _folder_run(tmp_path, folder)  # was a traceback while the tasks were planned
    assert code == 1
    assert "Traceback" not in err
    assert "dataset name 'x' is given twice (x.csv and x.parquet)" in out + err
    assert "1 done" in out  # the other dataset finished


def test_a_continuous_target_is_refused_even_with_a_split_column(tmp_path):
    # With a split column nothing stopped it: a 58-class "classifier" of mostly unseen classes got a verdict.
    folder = tmp_path / "data"
    folder.mkdir()
    frame = _frame()
    frame["class"] = np.round(np.random.default_rng(1).normal(size=60), 2)
    frame["split"] = ["train"] * 30 + ["validation"] * 15 + ["test"] * 15
    frame.to_csv(folder / "t.csv", index=False)
    code, out, err = _folder_run(tmp_path, folder)
    assert code == 1
    n_values = frame["class"].nunique()
    assert f"target column 'class' has {n_values} distinct values in 60 rows" in out + err
    assert "--target" in out + err
    assert "0 done" in out


def test_a_class_with_no_train_row_in_the_split_column_is_refused(tmp_path):
    # Its test rows counted as errors for every loss, and the verdict was computed on that.
    folder = tmp_path / "data"
    folder.mkdir()
    frame = _frame()
    frame["split"] = [
        "test" if c == 2 else ("train" if i % 2 else "validation") for i, c in enumerate(frame["class"])
    ]
    frame.to_csv(folder / "s.csv", index=False)
    code, out, err = _folder_run(tmp_path, folder)
    assert code == 1
    assert "class 2 of target column 'class' has no train row in split column 'split', so" in out + err
    assert "0 done" in out


def test_integers_too_large_for_int64_are_read_as_numbers(tmp_path):
    # pandas keeps them as Python ints (dtype object): the column was refused as "type object ... convert it
    # to numbers", though it holds numbers only
    folder = tmp_path / "data"
    folder.mkdir()
    frame = _frame()
    frame.insert(0, "big", [10**25 * (1 + i % 7) for i in range(60)])
    frame.loc[5, "big"] = None  # a missing value stays missing (imputed)
    frame.to_csv(folder / "big.csv", index=False)
    code, out, err = _folder_run(tmp_path, folder)
    assert code == 0, err
    assert "Traceback" not in err and "1 done" in out
    record = json.loads((tmp_path / "run" / "config.json").read_text())["suite"]["datasets"]["big"]
    assert record["numeric"] == ["big", "a", "b"] and record["missing"] == {"big": 1}
    assert record["numbers_from_text"] == {"big": "integers too large for int64"}
    assert "read as numbers: 'big' (integers too large for int64)" in record["preprocessing"]

    # beyond float64 too: refused naming the line, not as a column of the wrong type
    frame.loc[7, "big"] = 10**400
    frame.to_csv(folder / "big.csv", index=False)
    code, out, err = mixbench("data", "verify", "--suite", f"folder:{folder}")
    assert code != 0 and "Traceback" not in err
    line = next(line for line in out.splitlines() if line.startswith("big"))
    assert f"{folder / 'big.csv'}, line 9 (data row 8): column 'big' holds an integer of 401 digits" in line
    assert "type object" not in out + err


def test_a_parquet_file_with_a_repeated_column_name_is_named_in_one_line(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    table = pa.table(
        [pa.array(rng.normal(size=60)), pa.array(rng.normal(size=60)), pa.array(np.arange(60) % 3)],
        names=["a", "a", "class"],
    )
    pq.write_table(table, folder / "d.parquet")
    code, out, err = mixbench("data", "verify", "--suite", f"folder:{folder}")
    assert code != 0
    line = next(line for line in out.splitlines() if "d.parquet" in line)
    assert "column name(s) 'a' appear more than once" in line
    assert "__filename" not in out + err  # pyarrow's whole schema was printed across lines


# --- report and bench options -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "run"
    argv = [*TINY, "--datasets", "iris,wine", "--losses", "CE,EL,GCE(q=0.5)", "--out", str(out)]
    assert mixbench("run", *argv)[0] == 0
    return out


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--baseline", "el"], "did you mean 'EL'?"),  # exit 1 after the run was loaded
        (["--curves", "iris,nosuch"], "'nosuch' not a dataset of this run"),  # silently no curve
        (["--n-boot", "1"], "1 is below the least allowed, 40"),  # a 95% interval of zero width
        (["--n-boot", "0"], "0 is below the least allowed, 40"),  # no interval, no word why
    ],
)
def test_report_options_naming_nothing_of_the_run_are_refused(small_run, tmp_path, options, said):
    code, _, err = mixbench("report", str(small_run), "--html", "--out", str(tmp_path / "rep"), *options)
    assert code == 2
    assert said in err and "Traceback" not in err
    assert not (tmp_path / "rep" / "report.html").exists()


def test_report_baseline_in_another_spelling_of_a_parameterised_loss(small_run, tmp_path):
    code, _, err = mixbench(
        "report", str(small_run), "--html", "--out", str(tmp_path / "rep"), "--baseline", "GCE(q=.50)"
    )
    assert code == 0, err
    assert "baseline" in (tmp_path / "rep" / "report.html").read_text()


def test_bench_losses_honours_epochs_given_as_one_argument(capsys):
    # `--epochs=2` was missed (sys.argv was searched for "--epochs"), as was any in-process main(argv)
    code, out, err = mixbench(
        "bench", "--suite", "toy", "--datasets", "iris", "--losses", "GCE", "--epochs=2", "--repeats", "1"
    )
    assert code == 0, err
    assert "seconds of 2 epoch(s)" in out
