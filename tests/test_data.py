"""mixbench.data (label noise) and the loaders it used to hold: the UCI-121 suite's parser, registry,
verification and import (mixbench.suites.uci121), the toy suite (mixbench.suites.toy) and load_dataset
(mixbench.suites)."""

from __future__ import annotations

import hashlib
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.datasets

from mixbench import data, suites
from mixbench.data import Dataset, DatasetError
from mixbench.suites import toy, uci121

# A valid 8-row dataset in the data_py layout. It is named after a registry dataset with 3 classes
# (abalone) because load_dataset takes C from the registry; checksums are only compared with verify.
NAME = "abalone"
FEATURES = [
    "0.5,-1.25,3e-2",
    "1,2,3",
    "-0.125,0.75,1.5E+1",
    "2.5,.5,-7",
    "0,0,0",
    "4,-4,4",
    "1e-3,2e-3,3e-3",
    "-9.5,9.5,0.25",
]
LABELS = ["0", "1", "2", "0", "1", "2", "0", "1"]
# Columns are splits 0..3; test (folds) and validation rows never overlap within a column.
FOLDS = ["1,0,0,0", "0,1,0,0", "0,0,1,0", "0,0,0,1", "1,0,0,0", "0,1,0,0", "0,0,1,0", "0,0,0,1"]
VALIDATION = ["0,1,0,0", "1,0,0,0", "0,0,0,1", "0,0,1,0", "0,0,0,0", "0,0,0,0", "0,0,0,0", "0,0,0,0"]
FILES = uci121.dataset_files(NAME)


def write_dataset(root: Path, **files: list[str] | str | None) -> Path:
    """Write the valid dataset under ``root/abalone``; ``features=...`` etc. replace a file's lines
    (a str is written verbatim, None leaves the file out)."""
    folder = root / NAME
    folder.mkdir(parents=True, exist_ok=True)
    contents = {"features": FEATURES, "labels": LABELS, "folds": FOLDS, "validation_folds": VALIDATION}
    contents.update(files)
    for kind, lines in contents.items():
        if lines is None:
            continue
        text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
        (folder / FILES[kind]).write_bytes(text.encode())
    return folder


def replaced(lines: list[str], line: int, text: str) -> list[str]:
    """``lines`` with the 1-based ``line`` replaced by ``text``."""
    out = list(lines)
    out[line - 1] = text
    return out


def copy_datasets(source: Path, target: Path, names: list[str]) -> Path:
    """Writable copies (the shared data is read-only) of some real dataset folders."""
    for name in names:
        (target / name).mkdir(parents=True)
        for file in uci121.dataset_files(name).values():
            if (source / name / file).is_file():
                shutil.copyfile(source / name / file, target / name / file)
    return target


# --- the loader on a small valid fixture ------------------------------------------------------------
def test_small_dataset_loads_every_value_and_split(tmp_path):
    folder = write_dataset(tmp_path)
    expected_X = np.array([[float(v) for v in line.split(",")] for line in FEATURES], dtype=np.float32)
    for split in range(4):
        ds = suites.load_dataset(NAME, split=split, data_dir=tmp_path)
        folds = np.array([[int(v) for v in line.split(",")] for line in FOLDS])
        validation = np.array([[int(v) for v in line.split(",")] for line in VALIDATION])
        assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
        np.testing.assert_array_equal(ds.X, expected_X)
        np.testing.assert_array_equal(ds.y, [int(v) for v in LABELS])
        np.testing.assert_array_equal(ds.test, np.flatnonzero(folds[:, split]))
        np.testing.assert_array_equal(ds.validation, np.flatnonzero(validation[:, split]))
        np.testing.assert_array_equal(
            ds.train, np.flatnonzero((folds[:, split] == 0) & (validation[:, split] == 0))
        )
        assert (ds.n_classes, ds.split, ds.n_rows, ds.n_features) == (3, split, 8, 3)
        assert ds.source == str(folder)
    assert ds.checksums == {
        file: hashlib.sha256((folder / file).read_bytes()).hexdigest() for file in FILES.values()
    }
    X_test, y_test = ds.part("test")
    np.testing.assert_array_equal(X_test, expected_X[ds.test])
    np.testing.assert_array_equal(y_test, ds.y[ds.test])


def test_crlf_line_endings_and_no_final_newline_are_read(tmp_path):
    write_dataset(tmp_path, features="\r\n".join(FEATURES), labels="\n".join(LABELS))
    ds = suites.load_dataset(NAME, data_dir=tmp_path)
    assert ds.X.shape == (8, 3)
    np.testing.assert_array_equal(ds.y, [int(v) for v in LABELS])


# --- every bad input: one DatasetError naming the file, the line and the fix -------------------------
BAD_INPUTS = {
    # case: (file kind, replacement content, 1-based line, phrase in the message)
    "ragged row, too few values": ("features", replaced(FEATURES, 3, "1.0,2.0"), 3, "ragged row"),
    "ragged row, too many values": ("features", replaced(FEATURES, 5, "1,2,3,4"), 5, "ragged row"),
    "non-numeric value": ("features", replaced(FEATURES, 4, "2.5,abc,-7"), 4, "'abc') is not a number"),
    "quoted value": ("features", replaced(FEATURES, 2, '"1",2,3'), 2, "is not a number"),
    "hex value": ("features", replaced(FEATURES, 2, "0x1,2,3"), 2, "is not a number"),
    "empty value": ("features", replaced(FEATURES, 6, "4,,4"), 6, "value 2 is empty"),
    "trailing comma": ("features", replaced(FEATURES, 1, "0.5,-1.25,3e-2,"), 1, "value 4 is empty"),
    "NaN feature": ("features", replaced(FEATURES, 7, "nan,2e-3,3e-3"), 7, "NaN or infinite"),
    "NA feature": ("features", replaced(FEATURES, 7, "NA,2e-3,3e-3"), 7, "is not a number"),
    "inf feature": ("features", replaced(FEATURES, 8, "-9.5,inf,0.25"), 8, "NaN or infinite"),
    "Infinity feature": ("features", replaced(FEATURES, 8, "-Infinity,1,0.25"), 8, "NaN or infinite"),
    "overflowing feature": ("features", replaced(FEATURES, 2, "1,2,1e999"), 2, "overflows to infinity"),
    "blank line": ("features", FEATURES[:4] + [""] + FEATURES[4:7], 5, "blank line"),
    "trailing blank line": ("features", "\n".join(FEATURES) + "\n\n", 9, "blank line"),
    "empty file": ("features", "", 1, "the file is empty"),
    "label above C-1": ("labels", replaced(LABELS, 6, "3"), 6, "label 3 is outside 0..2"),
    "negative label": ("labels", replaced(LABELS, 2, "-1"), 2, "label -1 is outside 0..2"),
    "fractional label": ("labels", replaced(LABELS, 4, "1.5"), 4, "'1.5' is not an integer"),
    "float-written label": ("labels", replaced(LABELS, 4, "2.0"), 4, "'2.0' is not an integer"),
    "signed label": ("labels", replaced(LABELS, 2, "+1"), 2, "'+1' is not an integer"),
    "text label": ("labels", replaced(LABELS, 1, "cat"), 1, "'cat' is not an integer"),
    "two labels on a line": ("labels", replaced(LABELS, 3, "1,2"), 3, "ragged row"),
    "fold value 2": ("folds", replaced(FOLDS, 4, "0,0,2,1"), 4, "'2') is not 0 or 1"),
    "fold value 0.5": ("validation_folds", replaced(VALIDATION, 2, "1,0.5,0,0"), 2, "not 0 or 1"),
    "ragged fold row": ("folds", replaced(FOLDS, 7, "0,0,1"), 7, "ragged row"),
    "labels one row short": ("labels", LABELS[:7], 8, "labels_py.dat has 7 rows but abalone_py.dat has 8"),
    "folds one row long": ("folds", [*FOLDS, "0,0,0,0"], 9, "folds_py.dat has 9 rows but abalone"),
    "test/validation overlap": ("validation_folds", replaced(VALIDATION, 5, "1,0,0,0"), 5, "also a test row"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_names_file_line_and_fix(tmp_path, case):
    kind, content, line, phrase = BAD_INPUTS[case]
    folder = write_dataset(tmp_path, **{kind: content})
    with pytest.raises(DatasetError) as caught:
        suites.load_dataset(NAME, data_dir=tmp_path)
    message = str(caught.value)
    assert f"{folder / FILES[kind]}, line {line}:" in message
    assert phrase in message
    assert "mixbench data import" in message  # the fix
    assert (caught.value.path, caught.value.line) == (str(folder / FILES[kind]), line)


@pytest.mark.parametrize("kind", ["features", "labels", "folds", "validation_folds"])
def test_missing_file_is_named_with_the_fix(tmp_path, kind):
    folder = write_dataset(tmp_path, **{kind: None})
    with pytest.raises(DatasetError, match="file is missing") as caught:
        suites.load_dataset(NAME, data_dir=tmp_path)
    assert caught.value.path == str(folder / FILES[kind])
    assert "mixbench data fetch" in str(caught.value) and "--data-dir" in str(caught.value)


@pytest.mark.parametrize(("kind", "width", "split"), [("folds", 3, 3), ("validation_folds", 2, 2)])
def test_fold_file_without_the_split_column(tmp_path, kind, width, split):
    lines = [",".join(row.split(",")[:width]) for row in (FOLDS if kind == "folds" else VALIDATION)]
    folder = write_dataset(tmp_path, **{kind: lines})
    for ok_split in range(width):  # the columns that exist still load
        assert suites.load_dataset(NAME, split=ok_split, data_dir=tmp_path).split == ok_split
    with pytest.raises(DatasetError) as caught:
        suites.load_dataset(NAME, split=split, data_dir=tmp_path)
    assert f"{folder / FILES[kind]}, line 1:" in str(caught.value)
    assert f"split {split} needs column {split}" in str(caught.value)
    assert f"only {width} column(s)" in str(caught.value)


def test_split_without_training_rows_is_an_error(tmp_path):
    folds = ["1,0,0,0"] * 4 + ["0,0,0,0"] * 4
    validation = ["0,0,0,0"] * 4 + ["1,0,0,0"] * 4
    write_dataset(tmp_path, folds=folds, validation_folds=validation)
    with pytest.raises(DatasetError, match="leaves no training row"):
        suites.load_dataset(NAME, data_dir=tmp_path)


@pytest.mark.parametrize(("kind", "what"), [("validation_folds", "validation"), ("folds", "test")])
def test_split_without_validation_or_test_rows_is_an_error(tmp_path, kind, what):
    # Before: NaN results with lr NaN and epoch -1, stored as a finished, not diverged task.
    folder = write_dataset(tmp_path, **{kind: ["0,0,0,0"] * 8})
    with pytest.raises(DatasetError, match=f"split 0 has no {what} row") as caught:
        suites.load_dataset(NAME, data_dir=tmp_path)
    assert caught.value.path == str(folder / FILES[kind])


@pytest.mark.parametrize(("line", "token"), [(3, "1e39"), (8, "-1e308"), (1, "3.5e38")])
def test_a_feature_beyond_float32_range_is_malformed(tmp_path, line, token):
    # 1e39 parses as a finite float64 but becomes inf in the float32 features: before, a validation row
    # changed the accuracies and a training row made the cell "diverged", with only a numpy warning.
    row = FEATURES[line - 1].split(",")
    row[1] = token
    folder = write_dataset(tmp_path, features=replaced(FEATURES, line, ",".join(row)))
    with pytest.raises(DatasetError) as caught:
        suites.load_dataset(NAME, data_dir=tmp_path)
    assert caught.value.line == line and caught.value.path == str(folder / FILES["features"])
    assert f"value 2 ({token!r}) is beyond float32's range" in str(caught.value)
    status = uci121.verify_dataset(NAME, tmp_path)  # `mixbench data verify` called it well-formed
    assert status.status == "malformed" and f"line {line}" in status.detail
    # the largest float32 itself is fine
    row[1] = "3.4e38"
    write_dataset(tmp_path, features=replaced(FEATURES, line, ",".join(row)))
    assert np.isfinite(suites.load_dataset(NAME, data_dir=tmp_path).X).all()


def test_dataset_error_survives_pickling_for_parallel_workers(tmp_path):
    write_dataset(tmp_path, labels=replaced(LABELS, 6, "7"))
    with pytest.raises(DatasetError) as caught:
        suites.load_dataset(NAME, data_dir=tmp_path)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (str(copy), copy.path, copy.line) == (str(caught.value), caught.value.path, 6)


def test_bad_arguments(tmp_path):
    write_dataset(tmp_path)
    with pytest.raises(ValueError, match="split must be an integer in 0..3"):
        suites.load_dataset(NAME, split=4, data_dir=tmp_path)
    with pytest.raises(DatasetError, match="did you mean abalone"):
        suites.load_dataset("abalon", data_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown suite .uci.; give one of uci121, toy, folder:PATH"):
        suites.load_dataset(NAME, suite="uci", data_dir=tmp_path)


# --- the real UCI-121 data --------------------------------------------------------------------------
@pytest.mark.parametrize("split", range(4))
def test_every_dataset_and_split_matches_the_registry(uci_dir, split):
    reg = uci121.registry().set_index("name")
    names = suites.list_datasets("uci121", uci_dir)
    assert len(names) == 120 and "miniboone" not in names
    for name in names:
        ds = suites.load_dataset(name, split=split, data_dir=uci_dir, verify=split == 0)
        row = reg.loc[name]
        assert ds.X.shape == (row.n_rows, row.n_features), name
        assert ds.X.dtype == np.float32 and np.isfinite(ds.X).all(), name
        assert ds.n_classes == row.n_classes, name
        assert np.array_equal(np.unique(ds.y), np.arange(row.n_classes)), name  # every class occurs
        assert len(ds.test) == row.n_test, name
        parts = np.concatenate([ds.train, ds.validation, ds.test])
        assert np.array_equal(np.sort(parts), np.arange(row.n_rows)), name  # disjoint and complete
        assert len(ds.train) > 0 and len(ds.validation) > 0, name


@pytest.mark.parametrize(("name", "split"), [("abalone", 0), ("iris", 2), ("trains", 3), ("connect-4", 1)])
def test_loader_agrees_with_an_independent_reader(uci_dir, name, split):
    folder = uci_dir / name
    X = np.loadtxt(folder / f"{name}_py.dat", delimiter=",", ndmin=2)
    y = np.loadtxt(folder / "labels_py.dat", dtype=np.int64)
    folds = np.loadtxt(folder / "folds_py.dat", delimiter=",", dtype=np.int64)
    validation = np.loadtxt(folder / "validation_folds_py.dat", delimiter=",", dtype=np.int64)
    ds = suites.load_dataset(name, split=split, data_dir=uci_dir)
    np.testing.assert_array_equal(ds.X, X.astype(np.float32))
    np.testing.assert_array_equal(ds.y, y)
    np.testing.assert_array_equal(ds.test, np.flatnonzero(folds[:, split] == 1))
    np.testing.assert_array_equal(ds.validation, np.flatnonzero(validation[:, split] == 1))


def test_miniboone_has_no_features_file(uci_dir):
    with pytest.raises(DatasetError, match="miniboone_py.dat: file is missing"):
        suites.load_dataset("miniboone", data_dir=uci_dir)


# --- registry ---------------------------------------------------------------------------------------
def test_registry_has_the_121_datasets():
    reg = uci121.registry()
    assert len(reg) == 121 and reg["name"].is_unique
    assert list(reg["name"]) == sorted(reg["name"])
    assert {"oocytes_merluccius_nucleus_4d", "connect-4", "miniboone"} <= set(reg["name"])
    mini = reg.set_index("name").loc["miniboone"]
    assert pd.isna(mini.n_features) and pd.isna(mini.sha256_features) and mini.status == "features_missing"
    assert reg.drop(index=reg.index[reg["name"] == "miniboone"]).notna().all().all()
    assert (reg.set_index("name").loc["connect-4", ["n_rows", "n_classes"]] == [67557, 2]).all()


def test_package_copy_of_the_registry_is_the_data_copy(repo_root):
    shipped = repo_root / "benchmark" / "mixbench" / "resources" / "registry.tsv"
    assert shipped.read_bytes() == (repo_root / "data" / "registry.tsv").read_bytes()


def test_registry_is_rebuilt_from_the_manifest(uci_dir, repo_root, tmp_path):
    manifest = uci_dir / "MANIFEST.tsv"
    if not manifest.is_file():
        pytest.skip(f"{uci_dir} has no MANIFEST.tsv")
    rebuilt = uci121.build_registry(manifest, outputs=[tmp_path / "registry.tsv"])
    assert (tmp_path / "registry.tsv").read_bytes() == (repo_root / "data" / "registry.tsv").read_bytes()
    pd.testing.assert_frame_equal(rebuilt, uci121.registry())


# --- where the data lives ---------------------------------------------------------------------------
def test_data_dir_precedence(monkeypatch, tmp_path, repo_root):
    monkeypatch.delenv("MIXBENCH_DATA", raising=False)
    assert uci121.resolve_data_dir(None) == repo_root / "data" / "uci121"
    monkeypatch.setenv("MIXBENCH_DATA", str(tmp_path / "env"))
    assert uci121.resolve_data_dir(None) == tmp_path / "env"
    assert uci121.resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"


def test_list_datasets(uci_dir, tmp_path):
    assert suites.list_datasets("toy") == ["iris", "wine", "breast_cancer", "digits"]
    names = suites.list_datasets("uci121", uci_dir)
    assert names == sorted(names) and len(names) == 120
    copy_datasets(uci_dir, tmp_path, ["iris", "zoo", "miniboone"])
    (tmp_path / "not-a-dataset").mkdir()
    assert suites.list_datasets("uci121", tmp_path) == ["iris", "zoo"]
    with pytest.raises(DatasetError, match="no UCI-121 data directory"):
        suites.list_datasets("uci121", tmp_path / "absent")


# --- verification -----------------------------------------------------------------------------------
def test_shared_data_verifies_120_complete_and_miniboone_missing_its_features(uci_dir):
    table = uci121.data_status(uci_dir)
    assert len(table) == 121 and table["complete"].sum() == 120
    mini = table.set_index("name").loc["miniboone"]
    assert mini.status == "missing file" and "missing miniboone_py.dat" in mini.detail
    assert "labels_py.dat" not in mini.detail
    assert (table.loc[table["name"] != "miniboone", "status"] == "ok").all()


def test_verification_finds_tampered_malformed_and_missing_files(uci_dir, tmp_path):
    copy_datasets(uci_dir, tmp_path, ["iris", "wine", "zoo", "balloons"])
    labels = tmp_path / "iris" / "labels_py.dat"
    lines = labels.read_text().splitlines()
    lines[10] = str((int(lines[10]) + 1) % 3)  # still well-formed, but not the reference file
    labels.write_text("\n".join(lines) + "\n")
    features = tmp_path / "wine" / "wine_py.dat"
    rows = features.read_text().splitlines()
    rows[1] = "nan," + rows[1].split(",", 1)[1]  # line 2 gets a NaN
    features.write_text("\n".join(rows) + "\n")
    (tmp_path / "zoo" / "folds_py.dat").unlink()

    status = {name: uci121.verify_dataset(name, tmp_path) for name in ["iris", "wine", "zoo", "balloons"]}
    assert status["balloons"].status == "ok" and status["balloons"].complete
    assert status["iris"].status == "checksum mismatch" and "labels_py.dat" in status["iris"].detail
    assert "iris_py.dat" not in status["iris"].detail
    assert status["wine"].status == "malformed"
    assert f"{features}, line 2:" in status["wine"].detail and "NaN" in status["wine"].detail
    assert status["zoo"].status == "missing file" and "folds_py.dat" in status["zoo"].detail
    assert not any(status[name].complete for name in ["iris", "wine", "zoo"])

    # Loading checks the format always and the checksums on request.
    ds = suites.load_dataset("iris", data_dir=tmp_path)
    assert ds.checksums["labels_py.dat"] == hashlib.sha256(labels.read_bytes()).hexdigest()
    with pytest.raises(DatasetError, match="checksum mismatch") as caught:
        suites.load_dataset("iris", data_dir=tmp_path, verify=True)
    assert caught.value.path == str(labels)


def test_features_without_a_registry_checksum_are_unverified(uci_dir, tmp_path):
    copy_datasets(uci_dir, tmp_path, ["miniboone"])
    n_rows = int(uci121.registry().set_index("name").loc["miniboone", "n_rows"])
    rng = np.random.default_rng(0)
    np.savetxt(
        tmp_path / "miniboone" / "miniboone_py.dat", rng.normal(size=(n_rows, 2)), fmt="%.4f", delimiter=","
    )
    status = uci121.verify_dataset("miniboone", tmp_path)
    assert status.status == "unverified" and status.complete
    assert "no sha256 for miniboone_py.dat" in status.detail
    assert suites.load_dataset("miniboone", data_dir=tmp_path, verify=True).X.shape == (n_rows, 2)


# --- import -----------------------------------------------------------------------------------------
SMALL = ["balloons", "iris", "lenses", "trains"]


def test_import_from_a_folder_copies_and_verifies(uci_dir, tmp_path):
    table = uci121.import_data(uci_dir / "iris", tmp_path / "cache", progress=False)  # one dataset folder
    assert table[["name", "status", "installed"]].values.tolist() == [["iris", "ok", 4]]
    source = copy_datasets(uci_dir, tmp_path / "src" / "data_py", SMALL)  # nested one level down
    table = uci121.import_data(tmp_path / "src", tmp_path / "cache", progress=False)
    assert table["name"].tolist() == SMALL and (table["status"] == "ok").all()
    for name in SMALL:
        for file in uci121.dataset_files(name).values():
            assert (tmp_path / "cache" / name / file).read_bytes() == (source / name / file).read_bytes()
    assert suites.list_datasets("uci121", tmp_path / "cache") == SMALL


def test_import_from_a_zip_ignores_the_stray_file(uci_dir, tmp_path):
    archive = tmp_path / "data_py.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(uci_dir / "abalone" / "abalone_py.dat", "abalone_py.dat")  # the stray top-level file
        zf.write(uci_dir / "abalone" / "abalone_py.dat", "data_py/abalone_py.dat")
        for name in SMALL:
            for file in uci121.dataset_files(name).values():
                zf.write(uci_dir / name / file, f"data_py/{name}/{file}")
    table = uci121.import_data(archive, tmp_path / "cache", progress=False)
    assert table["name"].tolist() == SMALL and (table["status"] == "ok").all()
    assert table["installed"].tolist() == [4] * len(SMALL)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == SMALL


def test_import_rejects_a_tampered_file_and_keeps_the_good_copy(uci_dir, tmp_path):
    cache = tmp_path / "cache"
    uci121.import_data(uci_dir / "iris", cache, progress=False)
    source = copy_datasets(uci_dir, tmp_path / "src", ["iris", "lenses"])
    (source / "iris" / "labels_py.dat").write_text("0\n" * 150)
    table = uci121.import_data(source, cache, progress=False).set_index("name")
    assert table.loc["iris", "rejected"] == "labels_py.dat" and table.loc["iris", "installed"] == 3
    assert table.loc["iris", "status"] == "ok"  # the earlier good copy is still there
    assert "not installed, checksum differs" in table.loc["iris", "detail"]
    assert table.loc["lenses", "status"] == "ok"
    good = (uci_dir / "iris" / "labels_py.dat").read_bytes()
    assert (cache / "iris" / "labels_py.dat").read_bytes() == good
    assert not [p for p in cache.rglob("*") if p.name.endswith(".part")]  # no temporary file left


def test_import_errors(uci_dir, tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        uci121.import_data(tmp_path / "absent.zip", tmp_path / "cache", progress=False)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable zip archive"):
        uci121.import_data(tmp_path / "junk.zip", tmp_path / "cache", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no UCI-121 dataset in it"):
        uci121.import_data(tmp_path / "empty", tmp_path / "cache", progress=False)
    copy_datasets(uci_dir, tmp_path / "twice" / "a", ["iris"])
    copy_datasets(uci_dir, tmp_path / "twice" / "b", ["iris"])
    with pytest.raises(DatasetError, match="'iris' occurs in 2 places"):
        uci121.import_data(tmp_path / "twice", tmp_path / "cache", progress=False)
    with pytest.raises(DatasetError, match="the data directory itself"):
        uci121.import_data(uci_dir, uci_dir, progress=False)


# --- the toy suite ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", toy.TOY_DATASETS)
def test_toy_dataset_split_is_stratified_standardized_and_deterministic(name):
    bunch = getattr(sklearn.datasets, f"load_{name}")()
    ds = toy.toy_dataset(name)
    assert isinstance(ds, Dataset) and ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.X.shape == bunch.data.shape and ds.n_classes == len(np.unique(bunch.target))
    np.testing.assert_array_equal(ds.y, bunch.target)
    n = len(ds.y)
    parts = np.concatenate([ds.train, ds.validation, ds.test])
    assert np.array_equal(np.sort(parts), np.arange(n))
    assert abs(len(ds.test) - n / 4) <= 1 and abs(len(ds.validation) - n / 4) <= 1
    for c in range(ds.n_classes):  # every class is dealt a quarter to test and validation, +-1 row
        count = int((ds.y == c).sum())
        assert abs((ds.y[ds.test] == c).sum() - count / 4) <= 1
        assert abs((ds.y[ds.validation] == c).sum() - count / 4) <= 1
    train = ds.X[ds.train].astype(np.float64)
    varying = bunch.data[ds.train].std(axis=0) > 0
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0)[varying], 1, rtol=1e-4)
    np.testing.assert_array_equal(train[:, ~varying], 0)
    again = suites.load_dataset(name, suite="toy")
    np.testing.assert_array_equal(again.X, ds.X)
    np.testing.assert_array_equal(again.test, ds.test)
    other = toy.toy_dataset(name, split=1)
    assert not np.array_equal(other.test, ds.test)


def test_toy_errors():
    with pytest.raises(DatasetError, match="the toy suite has iris"):
        toy.toy_dataset("abalone")
    with pytest.raises(ValueError, match="split must be"):
        toy.toy_dataset("iris", split=-1)


# --- label noise ------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.2, 0.4, 0.5, 1.0])
@pytest.mark.parametrize("kind", ["symmetric", "pairflip"])
def test_noise_flips_exactly_the_rate_and_only_candidate_rows(rate, kind):
    y = np.repeat(np.arange(5), 200)
    before = y.copy()
    indices = np.arange(1, 1000, 3)  # 333 candidates
    noisy = data.inject_label_noise(y, indices, rate, kind, seed=7)
    np.testing.assert_array_equal(y, before)  # the input is not modified
    changed = np.flatnonzero(noisy != y)
    assert len(changed) == round(rate * 333)
    assert np.isin(changed, indices).all()
    assert noisy.min() >= 0 and noisy.max() <= 4
    if kind == "pairflip":
        np.testing.assert_array_equal(noisy[changed], (y[changed] + 1) % 5)


def test_symmetric_noise_is_uniform_over_the_other_classes():
    from scipy.stats import chisquare

    y = np.repeat(np.arange(4), 5000)
    noisy = data.inject_label_noise(y, np.arange(len(y)), 0.4, "symmetric", seed=3)
    changed = noisy != y
    shifts = (noisy[changed] - y[changed]) % 4
    counts = np.bincount(shifts, minlength=4)
    assert counts[0] == 0 and counts.sum() == 8000
    assert chisquare(counts[1:]).pvalue > 0.001
    for c in range(4):  # every class loses its share
        assert abs(changed[y == c].sum() - 2000) < 150


def test_noise_is_reproducible_from_the_seed():
    y = np.repeat(np.arange(3), 100)
    indices = np.arange(0, 300, 2)
    first = data.inject_label_noise(y, indices, 0.3, seed=11, n_classes=3)
    np.testing.assert_array_equal(first, data.inject_label_noise(y, indices, 0.3, seed=11, n_classes=3))
    assert not np.array_equal(first, data.inject_label_noise(y, indices, 0.3, seed=12, n_classes=3))
    # n_classes matters when the top class is absent from y
    sparse = data.inject_label_noise(
        np.zeros(50, dtype=np.int64), np.arange(50), 1.0, "pairflip", n_classes=3
    )
    np.testing.assert_array_equal(sparse, np.ones(50))


def test_noise_rounds_like_python():
    y = np.zeros(10, dtype=np.int64)
    assert (data.inject_label_noise(y, np.arange(5), 0.5, n_classes=2) != 0).sum() == round(2.5) == 2
    assert (data.inject_label_noise(y, np.arange(7), 0.5, n_classes=2) != 0).sum() == round(3.5) == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 1.5}, "rate must be in"),
        ({"kind": "asymmetric"}, "kind must be one of"),
        ({"indices": np.array([1, 1, 2])}, "distinct"),
        ({"indices": np.array([0, 10])}, "must lie in 0..9"),
        ({"y": np.linspace(0, 1, 10)}, "1-D integer array"),
        ({"n_classes": 2}, "labels must lie in 0..1"),
    ],
)
def test_noise_argument_errors(kwargs, message):
    arguments = {"y": np.arange(10) % 3, "indices": np.arange(5), "rate": 0.2} | kwargs
    with pytest.raises(ValueError, match=message):
        data.inject_label_noise(**arguments)


@pytest.mark.parametrize("include_validation", [True, False])
def test_apply_label_noise_never_touches_test_labels(include_validation):
    ds = toy.toy_dataset("digits")
    noisy = data.apply_label_noise(ds, 0.2, "symmetric", seed=5, include_validation=include_validation)
    assert noisy.X is ds.X and noisy.test is ds.test and noisy.name == ds.name
    np.testing.assert_array_equal(noisy.y[ds.test], ds.y[ds.test])
    assert (noisy.y[ds.train] != ds.y[ds.train]).sum() == round(0.2 * len(ds.train))
    flipped_validation = (noisy.y[ds.validation] != ds.y[ds.validation]).sum()
    assert flipped_validation == (round(0.2 * len(ds.validation)) if include_validation else 0)
    np.testing.assert_array_equal(toy.toy_dataset("digits").y, ds.y)  # the input is not modified
    same = data.apply_label_noise(ds, 0.2, "symmetric", seed=5, include_validation=include_validation)
    np.testing.assert_array_equal(same.y, noisy.y)


def test_noise_names_follow_the_result_schema():
    assert data.format_noise(0.2) == "symmetric-0.2"
    assert data.format_noise(0.4, "pairflip") == "pairflip-0.4"
    assert data.format_noise(0) == "none"
    assert data.parse_noise("symmetric-0.2") == (0.2, "symmetric")
    assert data.parse_noise("none") == (0.0, "symmetric")
    with pytest.raises(ValueError, match="KIND-RATE"):
        data.parse_noise("symmetric-2")


# --- learnable noise rates ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "n_classes", "largest_refused", "largest_accepted"),
    [
        ("symmetric", None, 1.0, 0.99),  # below (C-1)/C < 1 for every C
        ("symmetric", 2, 0.5, 0.49),
        ("symmetric", 3, 2 / 3, 0.66),
        ("symmetric", 10, 0.9, 0.89),
        ("pairflip", None, 0.5, 0.49),
        ("pairflip", 10, 0.5, 0.49),
    ],
)
def test_noise_rates_are_refused_where_the_true_label_is_no_longer_the_most_frequent(
    kind, n_classes, largest_refused, largest_accepted
):
    assert data.check_noise_rate(largest_accepted, kind, n_classes) == largest_accepted
    assert data.check_noise_rate(0.0, kind, n_classes) == 0.0
    for rate in (largest_refused, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=rf"; give a rate in \[0, {largest_refused:.4g}\)"):
            data.check_noise_rate(rate, kind, n_classes)


def test_the_noise_bound_is_where_the_noisy_labels_stop_favouring_the_true_class():
    """The rule checked on labels the noise really draws: below the bound the true class keeps the most
    rows of its class, above it another class gets more (at the bound, as many in expectation)."""
    for kind, n_classes in (("symmetric", 3), ("symmetric", 2), ("pairflip", 4)):
        bound = 0.5 if kind == "pairflip" else (n_classes - 1) / n_classes
        y = np.repeat(np.arange(n_classes), 3000)
        for rate, learnable in ((bound - 0.05, True), (bound + 0.05, False)):
            noisy = data.inject_label_noise(y, np.arange(len(y)), rate, kind, seed=1, n_classes=n_classes)
            counts = np.bincount(noisy[y == 0], minlength=n_classes)
            assert (counts[0] > counts[1:].max()) == learnable
            if learnable:
                assert data.check_noise_rate(rate, kind, n_classes) == rate
            else:
                with pytest.raises(ValueError):
                    data.check_noise_rate(rate, kind, n_classes)


def test_apply_and_parse_noise_refuse_an_unlearnable_rate_naming_the_dataset():
    binary, three = toy.toy_dataset("breast_cancer"), toy.toy_dataset("iris")
    with pytest.raises(ValueError) as info:
        data.apply_label_noise(binary, 0.6, "symmetric")
    assert str(info.value) == (
        "dataset 'breast_cancer': label noise 0.6,symmetric over C = 2 classes: the true label stays the "
        "most frequent only while rate < (C-1)/C = 0.5; give a rate in [0, 0.5) or leave this dataset out"
    )
    noisy = data.apply_label_noise(three, 0.6, "symmetric")  # learnable with 3 classes
    assert (noisy.y[three.train] != three.y[three.train]).sum() == round(0.6 * len(three.train))
    with pytest.raises(ValueError, match=r"dataset 'iris': label noise 0.5,pairflip: .*\[0, 0.5\)"):
        data.apply_label_noise(three, 0.5, "pairflip")
    with pytest.raises(ValueError, match=r"^label noise 1,symmetric: .*; give a rate in \[0, 1\)$"):
        data.parse_noise("symmetric-1")
    with pytest.raises(ValueError, match=r"^label noise 0.5,pairflip: "):
        data.parse_noise("pairflip-0.5")
    assert data.parse_noise("symmetric-0.8") == (0.8, "symmetric")


def test_run_with_unlearnable_noise_names_the_cause_and_keeps_what_was_learnable(tmp_path):
    """The user's finding: --label-noise 1.0 flipped every label and the verdict read 'EL better, +17 pp'.
    A rate no dataset can learn fails every task with the range; one that only the binary dataset cannot
    learn fails that dataset, and the other's results are kept."""
    from cli_helpers import mixbench

    argv = ["--suite", "toy", "--losses", "CE,EL", "--nets", "linear", "--seeds", "0", "--epochs", "1"]
    out = tmp_path / "all"
    code, stdout, stderr = mixbench(
        "run", *argv, "--datasets", "iris", "--label-noise", "1.0", "--out", str(out)
    )
    assert code == 2 and "Traceback" not in stderr and "Verdict" not in stdout  # refused before training
    assert "label noise 1,symmetric: " in stderr and "give a rate in [0, 1)" in stderr
    assert not out.exists()
    out = tmp_path / "some"
    code, stdout, stderr = mixbench(
        "run", *argv, "--datasets", "iris,breast_cancer", "--label-noise", "0.6", "--out", str(out)
    )
    assert code == 1 and "Traceback" not in stderr
    assert (
        "task breast_cancer/linear/symmetric-0.6 failed: ValueError: dataset 'breast_cancer': label noise"
        in (stderr)
    )
    from mixbench.results import load

    assert set(load(out).selected["dataset"]) == {"iris"}
