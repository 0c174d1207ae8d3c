"""Dataset suites: the registry, folder:PATH (CSV / Parquet), openml:ID (a cache built here), their errors,
and runs of them end to end into a report."""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, load_wine

from mixbench import cli, engine, runner, schema, suites
from mixbench.data import Dataset, DatasetError
from mixbench.estimator import MixLossClassifier
from mixbench.protocol import PROTOCOL
from mixbench.report import render_report
from mixbench.results import load
from mixbench.suites import Suite, SuiteError, get_suite, preprocessing_summary, register_suite
from mixbench.suites.folder import preprocess

RUN = [
    "--losses",
    "CE,EL",
    "--nets",
    "linear",
    "--epochs",
    "4",
    "--seeds",
    "60",
    "--no-progress",
    "--n-jobs",
    "1",
]


def mixbench(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def flowers() -> pd.DataFrame:
    """Iris with a categorical column, missing numbers and missing categories; the class last."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    frame = X.set_axis(["sepal_length", "sepal_width", "petal_length", "petal_width"], axis=1)
    frame["colour"] = np.where(frame["petal_length"] > 3, "purple", "white")
    frame.loc[[4, 60, 120], "sepal_width"] = np.nan
    frame.loc[[7, 77], "colour"] = None
    frame["species"] = np.array(["setosa", "versicolor", "virginica"])[y]
    return frame


def wine_with_split() -> pd.DataFrame:
    X, y = load_wine(return_X_y=True, as_frame=True)
    frame = X.iloc[:, :6].copy()
    frame["label"] = y
    frame["split"] = np.array(["train", "train", "validation", "test"])[np.arange(len(frame)) % 4]
    return frame


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "mydata"
    root.mkdir()
    flowers().to_csv(root / "flowers.csv", index=False)
    wine_with_split().to_parquet(root / "wine.parquet")
    return root


# --- the registry -----------------------------------------------------------------------------------
def test_get_suite_names_every_builtin_suite_and_refuses_unknown_ones(folder):
    assert get_suite("toy").datasets() == ["iris", "wine", "breast_cancer", "digits"]
    suite = get_suite(f"folder:{folder}")
    assert (suite.kind, suite.spec, suite.slug, suite.n_splits) == (
        "folder",
        f"folder:{folder}",
        "folder-mydata",
        4,
    )
    assert get_suite("openml:31,3").slug == "openml-31_3"
    with pytest.raises(SuiteError, match="unknown suite 'csv'; give one of uci121, toy, folder:PATH"):
        get_suite("csv:x")
    with pytest.raises(SuiteError, match=r"suite 'toy' has no option 'target' \(its options: none\)"):
        get_suite("toy", target="y")
    with pytest.raises(SuiteError, match="three positive fractions"):
        get_suite(f"folder:{folder}", split_fractions="0.5,0.5")
    with pytest.raises(SuiteError, match="benchmark suite id"):
        get_suite("openml:cc18")


class Blobs(Suite):
    """The tiny example of a new suite: one module, one registration."""

    kind = "blobs"

    def datasets(self):
        return ["blobs3"]

    def shape(self, name):
        return 90, 2, 3

    def load(self, name, split=0):
        rng = np.random.default_rng(split)
        y = np.repeat(np.arange(3), 30)
        X = (rng.normal(size=(90, 2)) + 3 * np.eye(3, 2)[y]).astype(np.float32)
        part = np.arange(90) % 3
        rows = [np.flatnonzero(part == p) for p in range(3)]
        return Dataset(name, X, y, 3, *rows, split=split, source="blobs")


def test_a_registered_suite_runs_through_the_runner(tmp_path):
    register_suite(Blobs)
    with pytest.raises(SuiteError, match="registered already"):
        register_suite(type("Other", (Blobs,), {}), "blobs")
    config = runner.resolve_config(
        {"suite": "blobs", "losses": "CE", "nets": "linear", "epochs": 20, "seeds": "60", "n_jobs": 1,
         "out": str(tmp_path / "run")}
    )  # fmt: skip
    summary = runner.run(config, progress=False)
    assert summary.done == 1 and summary.exit_code == 0
    selected = load(tmp_path / "run").selected
    assert list(selected["dataset"]) == ["blobs3"] and selected["test_acc"].iloc[0] > 0.5  # chance: 1/3


# --- folder suites ----------------------------------------------------------------------------------
def test_folder_preprocessing_is_fitted_on_the_training_rows_only(folder):
    suite = get_suite(f"folder:{folder}")
    ds = suite.load("flowers", 0)
    frame = flowers()
    train = frame.iloc[ds.train]
    assert (ds.n_rows, ds.n_classes, ds.n_features) == (150, 3, 4 + 2)  # 4 numbers + one-hot purple / white
    np.testing.assert_allclose(ds.X[ds.train, :4].mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(ds.X[ds.train, :4].std(axis=0), 1, atol=1e-5)
    assert abs(ds.X[:, :4].mean()) > 1e-3  # the other rows are scaled with the training statistics
    # row 4's sepal width is missing: imputed with the training median, then standardised like the rest
    width = train["sepal_width"]
    filled = width.fillna(width.median())
    expected = (width.median() - filled.mean()) / filled.std(ddof=0)
    assert ds.X[4, 1] == pytest.approx(expected, rel=1e-5)
    # row 7's colour is missing: the training mode (white for setosa-heavy... whatever it is) gets the 1
    mode = train["colour"].mode()[0]
    assert ds.X[7, 4:].tolist() == ([1.0, 0.0] if mode == "purple" else [0.0, 1.0])
    assert ds.X[0, 4:].tolist() == [0.0, 1.0]  # a setosa: white
    assert ds.checksums == {"flowers.csv": suites.sha256_file(folder / "flowers.csv")}


def test_drawn_splits_are_stratified_reproducible_and_differ_by_split(folder):
    suite = get_suite(f"folder:{folder}", split_fractions="0.6,0.2,0.2", split_seed=7)
    a, b, again = suite.load("flowers", 0), suite.load("flowers", 1), suite.load("flowers", 0)
    assert np.array_equal(a.test, again.test) and not np.array_equal(a.test, b.test)
    for ds in (a, b):
        assert len(np.intersect1d(ds.train, ds.test)) == len(np.intersect1d(ds.validation, ds.test)) == 0
        # 50 rows a class: 10 test, 10 validation, 30 train each
        assert np.bincount(ds.y[ds.test]).tolist() == [10, 10, 10]
        assert np.bincount(ds.y[ds.validation]).tolist() == [10, 10, 10]
        assert len(ds.train) == 90
    other_seed = get_suite(f"folder:{folder}", split_fractions="0.6,0.2,0.2", split_seed=8).load("flowers", 0)
    assert not np.array_equal(a.test, other_seed.test)


def test_a_split_column_fixes_the_split_of_its_file(folder):
    suite = get_suite(f"folder:{folder}")
    ds = suite.load("wine", 0)
    parts = wine_with_split()["split"].to_numpy()
    assert np.array_equal(ds.test, np.flatnonzero(parts == "test"))
    assert np.array_equal(ds.validation, np.flatnonzero(parts == "validation"))
    assert ds.n_features == 6  # the split column is not a feature
    with pytest.raises(DatasetError, match=r"wine.parquet: the split column 'split' fixes one split \(0\)"):
        suite.load("wine", 1)


def bad(folder: Path, name: str, frame: pd.DataFrame | str, **options) -> str:
    """The error message of loading one bad file."""
    path = folder / name
    if isinstance(frame, str):
        path.write_text(frame)
    elif path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    with pytest.raises(DatasetError) as caught:
        get_suite(f"folder:{folder}", **options).load(path.stem, 0)
    return str(caught.value)


def test_each_bad_input_is_a_named_error_with_the_file_the_place_and_the_fix(tmp_path):
    ok = flowers()
    message = bad(tmp_path, "a.csv", ok, target="kind")
    assert "a.csv: no target column 'kind' (columns: sepal_length" in message and "--target COLUMN" in message
    message = bad(tmp_path, "b.csv", ok.assign(species="setosa"))
    assert "b.csv: target column 'species' has one class ('setosa') in all 150 rows" in message
    tiny = pd.concat([ok, ok.iloc[[0]].assign(species="rare")], ignore_index=True)
    message = bad(tmp_path, "c.csv", tiny)
    assert (
        "c.csv: class 'rare' of target column 'species' has 1 row(s)" in message and "split column" in message
    )
    assert "c2.csv: the file is empty" in bad(tmp_path, "c2.csv", "")
    assert "c3.csv: no data rows (only a header)" in bad(tmp_path, "c3.csv", "x,y\n")
    dates = ok.assign(when=pd.Timestamp("2024-01-01"))[["when", *ok.columns]]
    message = bad(tmp_path, "d.parquet", dates)
    assert (
        "d.parquet: column 'when' has type datetime64" in message
        and "neither numeric nor categorical" in message
    )
    typo = ok.astype({"petal_width": object})
    typo.loc[9, "petal_width"] = "0.2o"
    message = bad(tmp_path, "e.csv", typo)
    assert "e.csv, line 11 (data row 10): column 'petal_width' is numeric but for '0.2o'" in message
    split = ok.assign(split=np.array(["train", "validation", "test"])[np.arange(150) % 3])
    split.loc[5, "split"] = "holdout"
    message = bad(tmp_path, "f.csv", split)
    assert "f.csv, line 7 (data row 6): split column 'split' holds 'holdout' (1 such row(s))" in message
    assert "use train, validation or test" in message
    message = bad(tmp_path, "g.csv", ok.assign(species=ok["species"].where(ok.index != 12)))
    assert "g.csv, line 14 (data row 13): no class in target column 'species'" in message
    message = bad(tmp_path, "g2.csv", "a,b,a,y\n1,2,3,x\n4,5,6,y\n")
    assert "g2.csv, line 1: column name(s) 'a' appear more than once in the header" in message
    ok.to_parquet(tmp_path / "h.parquet")
    message = bad(tmp_path, "h.csv", ok)
    assert "dataset name 'h' is given twice (h.csv and h.parquet); rename or remove one file" in message


def noise_sorted_by_class(n: int = 200) -> pd.DataFrame:
    """Features of pure noise and a class in sorted blocks: only the row order knows the class."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["y"] = np.repeat(["p", "q"], n // 2)
    return frame


def people(n: int = 200) -> pd.DataFrame:
    """Identifier columns (a shuffled id range, distinct names) beside a legitimate integer and a float."""
    rng = np.random.default_rng(2)
    return pd.DataFrame(
        {
            "id": rng.permutation(np.arange(1001, 1001 + n)),
            "name": [f"person {i}" for i in range(n)],
            "age": rng.integers(18, 80, n),
            "weight": rng.normal(70, 10, n).round(1),
            "y": np.repeat(["p", "q"], n // 2),
        }
    )


def verify_line(folder: Path, name: str) -> str:
    """The line `mixbench data verify` prints about one (malformed) dataset, checking that it is one line."""
    code, out, err = mixbench("data", "verify", "--suite", f"folder:{folder}")
    assert code == 1 and "Traceback" not in out + err
    (line,) = [line for line in out.splitlines() if line.split()[:2] == [name, "malformed"]]
    return line


def data_list(folder: Path) -> dict[str, list[str]]:
    """`mixbench data list`: each dataset's [rows, features, status]."""
    code, out, err = mixbench("data", "list", "--suite", f"folder:{folder}")
    rows = [line.split() for line in out.splitlines()[2:]]
    return {row[0]: [row[1], row[2], row[5]] for row in rows if len(row) == 6}


def test_a_row_index_and_identifiers_are_dropped_recorded_and_reported(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    noise_sorted_by_class().to_csv(root / "noise.csv")  # pandas' default: the index as column 'Unnamed: 0'
    people().to_csv(root / "people.csv", index=False)
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"people.csv: column\(s\) 'id', 'name' dropped as identifiers"):
        code, stdout, stderr = mixbench(
            "run", "--suite", f"folder:{root}", *RUN, "--out", str(out), "--no-report"
        )
    assert code == 0, stderr
    run = load(out)
    # the index gave the class away on rows sorted by class; without it the noise is at chance (1/2)
    ce = run.selected.query("loss == 'CE' and dataset == 'noise'")["test_acc"]
    assert ce.mean() < 0.7, ce
    record = json.loads((out / "config.json").read_text())["suite"]["datasets"]
    assert list(record["noise"]["dropped"]) == ["Unnamed: 0"]
    assert record["noise"]["dropped"]["Unnamed: 0"].startswith("a row index: distinct integers 0..199")
    assert record["noise"]["numeric"] == ["a", "b", "c"]
    assert list(record["people"]["dropped"]) == ["id", "name"]
    assert "1001..1200" in record["people"]["dropped"]["id"]
    assert record["people"]["numeric"] == ["age", "weight"] and record["people"]["categorical"] == {}
    summary = dict(line.split(": ", 1) for line in preprocessing_summary(run.config))
    assert "1 column(s) dropped: 'Unnamed: 0' (a row index" in summary["noise"]
    assert "2 column(s) dropped: 'id' (an identifier" in summary["people"]
    html = Path(render_report(run, tmp_path / "report", html=True, pdf=False, n_boot=200)["html"]).read_text()
    assert "Unnamed: 0" in html and "a row index: distinct integers 0..199" in html

    # the same file with its index counted from 1, and a leading unnamed column (not named by pandas)
    one_based = noise_sorted_by_class().set_axis(np.arange(1, 201))
    one_based.to_csv(root / "noise.csv")
    (root / "people.csv").unlink()
    assert data_list(root)["noise"] == ["200", "3", "ok"]
    assert (
        get_suite(f"folder:{root}")
        .describe("noise")["dropped"]["Unnamed: 0"]
        .startswith("a row index: distinct integers 1..200")
    )


def test_an_identifier_is_kept_when_named_in_keep_columns(tmp_path):
    people().to_csv(tmp_path / "people.csv", index=False)
    study = tmp_path / "study.toml"
    study.write_text('suite = "folder:."\n[suite_options]\nkeep_columns = ["id"]\n')
    config = runner.resolve_config(config_file=study)
    assert config.suite_options["keep_columns"] == ["id"]
    suite = runner.config_suite(config)
    with pytest.warns(UserWarning, match=r"column\(s\) 'name' dropped as identifiers"):
        record = suite.describe("people")
    assert record["numeric"] == ["id", "age", "weight"] and list(record["dropped"]) == ["name"]
    assert suite.load("people", 0).n_features == 3
    # left out at its default, so the configuration (and the hash) of earlier folder runs is unchanged
    assert "keep_columns" not in get_suite(f"folder:{tmp_path}").options
    with pytest.raises(SuiteError, match="keep_columns: give column names"):
        get_suite(f"folder:{tmp_path}", keep_columns=3)


def test_a_normal_file_with_float_and_integer_features_is_kept_whole(tmp_path):
    rng = np.random.default_rng(3)
    frame = people().drop(columns=["id", "name"])
    frame["height"] = rng.normal(170, 10, len(frame))  # continuous: distinct in every row, yet a feature
    frame["visits"] = np.arange(len(frame)) % 7  # small integers, repeated
    frame["city"] = np.array(["Oslo", "Lyon", "Kyiv"])[np.arange(len(frame)) % 3]
    frame.loc[[3, 30], "age"] = np.nan
    frame = frame[["age", "weight", "height", "visits", "city", "y"]]
    frame.to_csv(tmp_path / "normal.csv", index=False)
    frame.to_parquet(tmp_path / "normal2.parquet")
    assert data_list(tmp_path)["normal"] == ["200", "7", "ok"]  # 4 numbers + 3 cities
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("normal", "normal2"):
            record = get_suite(f"folder:{tmp_path}").describe(name)
            assert record["dropped"] == {} and record["numbers_from_text"] == {}
            assert record["numeric"] == ["age", "weight", "height", "visits"]
            assert record["categorical"] == {"city": 3} and record["missing"] == {"age": 2}
            assert record.get("separator") == ("," if name == "normal" else None)  # Parquet has none


def test_numbers_with_thousands_separators_are_read_as_numbers(tmp_path):
    frame = noise_sorted_by_class()
    income = np.round(np.linspace(800, 60000, len(frame)), 1)
    frame.insert(3, "income", [f"{v:,.1f}" if i % 3 else f"{v:g}" for i, v in enumerate(income)])
    frame.to_csv(tmp_path / "money.csv", index=False)
    text = (tmp_path / "money.csv").read_text()
    assert '"60,000.0"' in text and ",800," in text  # quoted by the writer; plain numbers in between
    assert data_list(tmp_path)["money"] == ["200", "4", "ok"]  # was 3 numbers + 100 one-hot levels
    suite = get_suite(f"folder:{tmp_path}")
    record = suite.describe("money")
    assert record["numbers_from_text"] == {"income": "thousands separators"}
    assert record["numeric"] == ["a", "b", "c", "income"] and record["categorical"] == {}
    assert "read as numbers: 'income' (thousands separators)" in record["preprocessing"]
    ds = suite.load("money", 0)
    train = income[ds.train]
    np.testing.assert_allclose(ds.X[:, 3], (income - train.mean()) / train.std(), rtol=1e-4, atol=1e-5)
    # a typo among such numbers is named, not read as a category
    frame.loc[150, "income"] = "5,10O"
    frame.to_csv(tmp_path / "money.csv", index=False)
    assert "money.csv, line 152 (data row 151): column 'income' is numeric but for '5,10O'" in verify_line(
        tmp_path, "money"
    )
    # decimal commas in a comma-separated file: ambiguous (1,5 is 1.5 or 15), refused with the fix
    frame["income"] = [f"{v:.1f}".replace(".", ",") for v in income]
    frame.to_csv(tmp_path / "money.csv", index=False)
    assert (
        "money.csv: column 'income' holds numbers with a decimal comma ('800,0') in a file whose separator "
        "is a comma; write them with a decimal point" in verify_line(tmp_path, "money")
    )


def test_a_semicolon_or_tab_separated_file_is_read_with_its_separator(tmp_path):
    frame = flowers()
    european = frame.assign(petal_length=frame["petal_length"].map(lambda v: f"{v:.1f}".replace(".", ",")))
    european.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    frame.to_csv(tmp_path / "tabs.csv", sep="\t", index=False)
    frame.to_csv(tmp_path / "comma.csv", index=False)
    listed = data_list(tmp_path)
    assert listed["semi"] == listed["tabs"] == listed["comma"] == ["150", "6", "ok"]
    suite = get_suite(f"folder:{tmp_path}")
    semi, tabs = suite.describe("semi"), suite.describe("tabs")
    assert semi["separator"] == ";" and tabs["separator"] == "\t"
    assert semi["numbers_from_text"] == {"petal_length": "decimal commas"}
    assert "read with the separator ';'" in semi["preprocessing"]
    assert "read with the separator a tab" in tabs["preprocessing"]
    np.testing.assert_allclose(suite.load("semi", 0).X, suite.load("comma", 0).X, atol=1e-6)
    # a separator that is none of , ; tab |: the error says so
    (tmp_path / "spaces.csv").write_text("a b y\n1 2 p\n")
    assert "spaces.csv: no feature column besides the target 'a b y'" in verify_line(tmp_path, "spaces")
    assert "The header is one column: separate the columns with ','" in verify_line(tmp_path, "spaces")


def test_errors_name_the_physical_line_after_multiline_fields_and_blank_lines(tmp_path):
    rows = [f"{i}.5,note {i},{'pq'[i % 2]}" for i in range(30)]
    rows[2] = '2.5,"a note\nover three\nlines",p'
    typo = rows.copy()
    typo[20] = "2O.5,note 20,p"
    extra = rows.copy()
    extra[20] = "20.5,note 20,p,EXTRA"
    blank = rows[:10] + ["", "   "] + rows[10:]
    blank[22] = "2O.5,note 20,p"
    for name, lines, marker in (
        ("typo", typo, "2O.5"),
        ("extra", extra, "EXTRA"),
        ("blank", blank, "2O.5"),
        ("blank_extra", [*blank[:22], "20.5,note 20,p,EXTRA", *blank[23:]], "EXTRA"),
    ):
        text = "x,note,y\n" + "\n".join(lines) + "\n"
        (tmp_path / f"{name}.csv").write_text(text)
        physical = next(i for i, line in enumerate(text.split("\n"), 1) if marker in line)
        message = verify_line(tmp_path, name)
        assert f"{name}.csv, line {physical}" in message, message
    assert "line 24 (data row 21): column 'x' is numeric but for '2O.5'" in verify_line(tmp_path, "typo")
    assert "line 24: 4 fields where the header has 3; put a value holding the separator ','" in verify_line(
        tmp_path, "extra"
    )
    (tmp_path / "open.csv").write_text('x,note,y\n1,a,p\n2,b,q\n3,"never closed,p\n4,d,q\n')
    assert "open.csv, line 4: a double quote opened in the row starting on this line" in verify_line(
        tmp_path, "open"
    )


def test_an_empty_feature_column_is_dropped_and_named_when_it_is_the_only_one(tmp_path):
    frame = flowers()
    frame.insert(0, "nothing", np.nan)
    frame["sepal_length"] = np.nan
    frame.to_csv(tmp_path / "holes.csv", index=False)
    pd.DataFrame({"x": [np.nan] * 9, "y": list("pqr") * 3}).to_csv(tmp_path / "void.csv", index=False)
    assert data_list(tmp_path)["holes"] == ["150", "5", "ok"]
    record = get_suite(f"folder:{tmp_path}").describe("holes")
    assert record["dropped"] == {"nothing": "empty in all 150 rows", "sepal_length": "empty in all 150 rows"}
    assert "2 column(s) dropped: 'nothing' (empty in all 150 rows), 'sepal_length'" in record["preprocessing"]
    code, out, err = mixbench(
        "run", "--suite", f"folder:{tmp_path}", "--datasets", "void", *RUN, "--out", str(tmp_path / "r"),
        "--no-report",
    )  # fmt: skip
    assert code == 1 and "Traceback" not in out + err and "0 feature(s)" not in out + err
    assert (
        "void/linear: DatasetError: "
        + str(tmp_path / "void.csv")
        + ": no feature column besides the target 'y' "
        "('x' dropped: empty in all 9 rows); fill in the empty column or add feature columns." in out
    )


def test_a_feature_empty_in_the_training_rows_only_is_dropped_or_named(tmp_path):
    frame = pd.DataFrame({"x": np.arange(12.0), "y": list("pq") * 6})
    train = np.arange(6)
    X = preprocess(frame.assign(z=1.0), ["x", "z"], [], train, "here.csv")
    assert X.shape == (12, 2)
    frame.loc[train, "x"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert preprocess(frame.assign(z=frame.index * 1.0), ["x", "z"], [], train, "here.csv").shape == (
            12,
            1,
        )
    with pytest.raises(
        DatasetError, match="here.csv: feature column\\(s\\) 'x' have no value in the training rows"
    ):
        preprocess(frame, ["x"], [], train, "here.csv")


def test_a_bad_file_fails_only_its_own_tasks_and_data_verify_names_it(folder, tmp_path):
    flowers().assign(species="setosa").to_csv(folder / "onlyone.csv", index=False)
    code, out, err = mixbench(
        "run", "--suite", f"folder:{folder}", *RUN, "--out", str(tmp_path / "r"), "--no-report"
    )
    assert code == 1 and "3 tasks: 2 done, 0 skipped (already finished), 1 failed" in out
    assert "onlyone/linear: DatasetError:" in out and "has one class ('setosa')" in out
    assert sorted(load(tmp_path / "r").selected["dataset"].unique()) == ["flowers", "wine"]
    code, out, _ = mixbench("data", "verify", "--suite", f"folder:{folder}")
    assert code == 1 and "2 complete, 1 incomplete (malformed: 1)" in out
    assert [line.split()[:2] for line in out.splitlines()[1:4]] == [
        ["flowers", "ok"], ["onlyone", "malformed"], ["wine", "ok"]
    ]  # fmt: skip
    code, out, _ = mixbench("data", "list", "--suite", f"folder:{folder}")
    assert code == 0 and "flowers      150         6        3      39  ok" in out
    assert "onlyone      150         5        ?       ?  malformed" in out


def test_a_folder_suite_runs_end_to_end_into_a_report_and_notices_a_changed_file(folder, tmp_path):
    out = tmp_path / "run"
    # two loky workers: each rebuilds the suite from the configuration
    argv = ["run", "--suite", f"folder:{folder}", *RUN, "--n-jobs", "2", "--out", str(out), "--no-report"]
    code, stdout, stderr = mixbench(*argv)
    assert code == 0, stderr
    assert "2 tasks: 2 done, 0 skipped (already finished), 0 failed" in stdout
    run = load(out)
    assert sorted(run.selected["dataset"].unique()) == ["flowers", "wine"]
    assert list(run.selected.columns) == list(schema.SELECTED_COLUMNS)
    ce = run.selected.query("loss == 'CE'").groupby("dataset")["test_acc"].mean()
    assert (ce > 0.6).all(), ce  # chance is 1/3 on both
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["suite"] == f"folder:{folder}"
    assert config["config"]["suite_options"]["split_fractions"] == [0.5, 0.25, 0.25]
    record = config["suite"]["datasets"]
    assert record["flowers"]["checksums"] == {"flowers.csv": suites.sha256_file(folder / "flowers.csv")}
    assert record["flowers"]["categorical"] == {"colour": 2}
    assert record["flowers"]["missing"] == {"sepal_width": 3, "colour": 2}
    assert record["wine"]["split"] == "split column 'split'"
    summary = preprocessing_summary(config)
    assert summary[0].startswith(
        "flowers: 150 rows, class column 'species' (3 classes); stratified 0.5/0.25/0.25"
    )
    assert "1 categorical column(s) mode-imputed and one-hot encoded (2 levels)" in summary[0]
    paths = render_report(run, tmp_path / "report", html=True, pdf=False, n_boot=200)
    html = Path(paths["html"]).read_text(encoding="utf-8")
    assert "flowers" in html and "wine" in html
    # the report's provenance shows what loading did to each file, in its own table and in the configuration
    assert "suite.datasets.flowers.preprocessing" in html and "mode-imputed and one-hot encoded" in html
    assert 'id="preprocessing"' in html and "What loading did to each dataset" in html
    assert "Published" not in html  # the comparison with the published table is for UCI-121 only

    code, stdout, _ = mixbench(*argv)  # the same command: nothing to do
    assert code == 0 and "2 tasks: 0 done, 2 skipped" in stdout
    frame = flowers()
    frame.loc[0, "sepal_length"] = 9.9
    frame.to_csv(folder / "flowers.csv", index=False)
    code, _, stderr = mixbench(*argv)
    assert code == 2 and "changed since its finished tasks ran" in stderr
    assert "flowers: flowers.csv (sha256 " in stderr


@pytest.mark.filterwarnings("ignore:Polyfit may be poorly conditioned")  # two datasets of one shape
def test_bench_times_any_suite(folder):
    code, out, err = mixbench(
        "bench", "--suite", f"folder:{folder}", "--epochs", "1", "--naive-steps", "4", "--no-memory"
    )
    assert code == 0, err
    assert (
        "projected full protocol on folder:" in out and "(2 datasets x 2 nets x 48 models x 50 epochs)" in out
    )


# --- openml suites, from a cache written here in openml's own layout ----------------------------------
def write_openml_cache(root: Path, task_id: int, dataset_id: int, name: str, frame: pd.DataFrame, target: str,
                       folds: int = 3) -> None:  # fmt: skip
    """Task and dataset files as openml-python 0.14+ caches them for www.openml.org (ARFF, XML, splits)."""
    base = root / "org" / "openml" / "www"
    dataset_dir, task_dir = base / "datasets" / str(dataset_id), base / "tasks" / str(task_id)
    dataset_dir.mkdir(parents=True)
    task_dir.mkdir(parents=True)
    attributes, features = [], []
    for i, column in enumerate(frame.columns):
        nominal = not pd.api.types.is_numeric_dtype(frame[column])
        values = sorted(frame[column].dropna().unique()) if nominal else []
        attributes.append(
            f"@attribute '{column}' " + ("{" + ",".join(values) + "}" if nominal else "numeric")
        )
        features.append(
            f"<oml:feature><oml:index>{i}</oml:index><oml:name>{column}</oml:name>"
            f"<oml:data_type>{'nominal' if nominal else 'numeric'}</oml:data_type>"
            + "".join(f"<oml:nominal_value>{v}</oml:nominal_value>" for v in values)
            + f"<oml:is_target>{str(column == target).lower()}</oml:is_target>"
            "<oml:is_ignore>false</oml:is_ignore>"
            "<oml:is_row_identifier>false</oml:is_row_identifier></oml:feature>"
        )
    rows = [",".join("?" if pd.isna(v) else str(v) for v in row) for row in frame.itertuples(index=False)]
    (dataset_dir / "dataset.arff").write_text(f"@relation {name}\n" + "\n".join(attributes) + "\n@data\n"
                                              + "\n".join(rows) + "\n")  # fmt: skip
    oml = 'xmlns:oml="http://openml.org/openml"'
    (dataset_dir / "features.xml").write_text(
        f"<oml:data_features {oml}>{''.join(features)}</oml:data_features>"
    )
    (dataset_dir / "description.xml").write_text(
        f"<oml:data_set_description {oml}><oml:id>{dataset_id}</oml:id><oml:name>{name}</oml:name>"
        "<oml:version>1</oml:version><oml:description>made in a test</oml:description>"
        "<oml:format>ARFF</oml:format>"
        f"<oml:url>http://127.0.0.1:9/data/{dataset_id}</oml:url><oml:file_id>{dataset_id}</oml:file_id>"
        f"<oml:default_target_attribute>{target}</oml:default_target_attribute><oml:status>active</oml:status>"
        "</oml:data_set_description>"
    )
    (task_dir / "task.xml").write_text(
        f"<oml:task {oml}><oml:task_id>{task_id}</oml:task_id><oml:task_type_id>1</oml:task_type_id>"
        "<oml:task_type>Supervised Classification</oml:task_type>"
        f'<oml:input name="source_data"><oml:data_set><oml:data_set_id>{dataset_id}</oml:data_set_id>'
        f"<oml:target_feature>{target}</oml:target_feature></oml:data_set></oml:input>"
        '<oml:input name="estimation_procedure"><oml:estimation_procedure><oml:id>1</oml:id>'
        f"<oml:type>crossvalidation</oml:type><oml:data_splits_url>http://127.0.0.1:9/{task_id}</oml:data_splits_url>"
        f'<oml:parameter name="number_repeats">1</oml:parameter><oml:parameter name="number_folds">{folds}'
        '</oml:parameter><oml:parameter name="stratified_sampling">true</oml:parameter>'
        "</oml:estimation_procedure></oml:input></oml:task>"
    )
    fold = np.random.default_rng(task_id).permutation(len(frame)) % folds
    lines = ["@relation splits", "@attribute type {TRAIN,TEST}", "@attribute rowid numeric",
             "@attribute repeat numeric", "@attribute fold numeric", "@data"]  # fmt: skip
    lines += [
        f"{'TEST' if fold[r] == f else 'TRAIN'},{r},0,{f}" for f in range(folds) for r in range(len(frame))
    ]
    (task_dir / "datasplits.arff").write_text("\n".join(lines) + "\n")


@pytest.fixture
def openml_cache(tmp_path) -> tuple[Path, np.ndarray]:
    pytest.importorskip("openml")
    root = tmp_path / "openml-cache"
    frame = flowers()
    write_openml_cache(root, 59, 61, "flowers", frame, "species", folds=3)
    wine = wine_with_split().drop(columns="split").astype({"label": str})
    write_openml_cache(root, 187, 187, "wine", wine.assign(label="c" + wine["label"]), "label", folds=2)
    (root / "mixbench").mkdir()
    (root / "mixbench" / "openml-suite-99.json").write_text(json.dumps({"suite": 99, "tasks": [59, 187]}))
    return root


def test_an_openml_task_uses_its_own_folds_and_a_stratified_validation_part(openml_cache):
    suite = get_suite("openml:99", openml_cache)
    assert suite.task_ids() == [59, 187] and suite.datasets() == ["flowers", "wine"]
    assert suite.shape("flowers") == (150, 5, 2)
    fold = np.random.default_rng(59).permutation(150) % 3
    for split in range(3):
        ds = suite.load("flowers", split)
        assert np.array_equal(ds.test, np.flatnonzero(fold == split))  # the task's test fold
        assert np.array_equal(
            np.sort(np.concatenate([ds.train, ds.validation])), np.flatnonzero(fold != split)
        )
        assert len(ds.validation) == pytest.approx(0.25 * 100, abs=2)
        np.testing.assert_allclose(ds.X[ds.train, :4].mean(axis=0), 0, atol=1e-6)
    assert (ds.n_classes, ds.n_features, ds.source) == (3, 6, "openml:task/59")
    with pytest.raises(
        DatasetError, match=r"OpenML task 59 \(flowers\) has 1 x 3 splits, so split 3 does not exist"
    ):
        suite.load("flowers", 3)


def test_an_openml_task_missing_from_the_cache_fails_with_what_to_do(tmp_path, monkeypatch):
    openml = pytest.importorskip("openml")
    monkeypatch.setattr(
        openml.config, "server", "http://127.0.0.1:9/api/v1/xml"
    )  # refused at once: no network
    monkeypatch.setattr(openml.config, "connection_n_retries", 1)
    suite = get_suite("openml:4242,4243", tmp_path / "empty-cache")
    assert suite.datasets() == ["task-4242", "task-4243"]
    with pytest.raises(DatasetError) as caught:
        suite.load("task-4242")
    message = str(caught.value)
    assert message.startswith(f"OpenML task 4242 (task-4242): not in the cache at {tmp_path / 'empty-cache'}")
    assert "could not be downloaded (" in message and "openml.tasks.get_task(4242" in message
    with pytest.raises(DatasetError, match="OpenML suite 12: its task list is not in the cache"):
        get_suite("openml:12", tmp_path / "empty-cache").datasets()


def test_an_openml_suite_runs_end_to_end_into_a_report(openml_cache, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = mixbench(
        "run", "--suite", "openml:99", "--data-dir", str(openml_cache), *RUN, "--splits", "0,1",
        "--out", str(out),
        "--no-report",
    )  # fmt: skip
    assert code == 0, stderr
    assert "4 tasks: 4 done" in stdout
    run = load(out)
    assert sorted(run.selected["dataset"].unique()) == ["flowers", "wine"]
    assert (run.selected.query("loss == 'CE'").groupby("dataset")["test_acc"].mean() > 0.6).all()
    config = json.loads((out / "config.json").read_text())
    assert config["suite"]["datasets"]["flowers"]["checksums"][
        "tasks/59/datasplits.arff"
    ] == suites.sha256_file(openml_cache / "org/openml/www/tasks/59/datasplits.arff")
    assert preprocessing_summary(config)[0].startswith("flowers: OpenML task 59 (dataset 61), 150 rows")
    paths = render_report(run, tmp_path / "report", html=True, pdf=False, n_boot=200)
    assert "flowers" in Path(paths["html"]).read_text(encoding="utf-8")


# --- one protocol, one schema ---------------------------------------------------------------------------
def test_every_stage_takes_its_defaults_from_the_one_protocol():
    # the reference study's protocol (shared/reference/PROTOCOL.md), written out: not PROTOCOL compared
    # with what is defined from it
    reference = (50, 8, 0.9, (0.01, 0.005, 0.001), (60, 1234))
    config = runner.RunConfig()
    assert (config.epochs, config.batch_size, config.momentum, config.lrs, config.seeds) == reference
    assert config.losses == ("CE", "CE+EL F=0", "CE+EL F=0,0.5", "CE+EL F=0-0.5", "EL", "Focal",
                             "Sigmoid-MSE", "Sigmoid-MSE+OR")  # fmt: skip
    paper = runner.resolve_config({"datasets": "iris"}, preset="paper")
    assert (paper.epochs, paper.batch_size, paper.momentum, paper.lrs, paper.seeds) == reference
    for fn in (engine.train_bank, engine.train_naive):
        defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items()}
        assert (defaults["epochs"], defaults["batch_size"], defaults["momentum"]) == (50, 8, 0.9)
    assert inspect.signature(engine.train_bank).parameters["lrs"].default == PROTOCOL.lrs
    params = MixLossClassifier().get_params()
    assert (params["epochs"], params["batch_size"], params["momentum"], params["lr"]) == (
        PROTOCOL.epochs, PROTOCOL.batch_size, PROTOCOL.momentum, PROTOCOL.lrs[0]
    )  # fmt: skip
    doc = MixLossClassifier.__doc__
    assert (
        f"epochs : int, default={PROTOCOL.epochs}" in doc
        and f"momentum : float, default={PROTOCOL.momentum}" in doc
    )
    code, help_text, _ = mixbench_help("run")
    assert "epochs (default: 50)" in help_text and "learning rates (default: 0.01,0.005,0.001)" in help_text


def mixbench_help(command: str) -> tuple[int, str, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as caught:
        cli.main([command, "--help"])
    return caught.value.code, " ".join(out.getvalue().split()), ""


def test_one_result_schema_is_read_by_every_stage():
    from mixbench import analysis, results

    assert list(schema.SELECTED_COLUMNS) == results.SELECTED_COLUMNS
    assert list(schema.EPOCH_COLUMNS) == results.EPOCH_COLUMNS
    assert analysis.CELL_COLUMNS == schema.CELL_KEY == ("dataset", "net", "split", "noise", "loss", "seed")
    records = pd.DataFrame(
        {"dataset": "d", "net": "linear", "split": 0, "noise": "none", "loss": "CE", "lr": [0.01, 0.01],
         "seed": 60, "epoch": [0, 1], "train_loss": 1.0, "val_acc": [0.5, 0.7], "test_acc": [0.4, 0.6],
         "diverged": False}
    )  # fmt: skip
    selected = engine.select_by_validation(records[list(schema.EPOCH_COLUMNS)])
    assert list(selected.columns) == list(schema.SELECTED_COLUMNS)
    assert selected[["epoch", "test_acc"]].iloc[0].tolist() == [1, 0.6]


def test_a_folder_in_a_config_file_is_relative_to_the_file(folder, tmp_path):
    study = folder.parent / "study.toml"
    study.write_text('suite = "folder:mydata"\ndatasets = ["flowers"]\n[suite_options]\ntarget = "species"\n')
    config = runner.resolve_config({"out": str(tmp_path / "r")}, config_file=study)
    assert config.suite == f"folder:{folder}" and config.datasets == ("flowers",)
    assert config.suite_options["target"] == "species"
    assert runner.default_out(config.suite, config.science()).name.startswith("folder-mydata-")


def test_a_corrupt_cached_openml_file_fails_that_dataset_only(openml_cache, tmp_path):
    arff = openml_cache / "org/openml/www/datasets/187/dataset.arff"
    arff.write_text(arff.read_text().replace("@data\n", "@data\n1,2,oops\n", 1))
    table = get_suite("openml:99", openml_cache).status()
    assert table.set_index("name")["status"].to_dict() == {"flowers": "ok", "wine": "malformed"}
    detail = table.set_index("name").loc["wine", "detail"]
    assert (
        detail.startswith("OpenML task 187 (wine): its dataset 187 in the cache at")
        and "delete datasets/187" in detail
    )
