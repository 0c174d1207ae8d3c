"""`mixbench data list / verify / import / fetch`."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import zipfile
from pathlib import Path

import pytest

from mixbench import suites
from mixbench.cli import main
from mixbench.suites import uci121

SMALL = ["balloons", "iris", "lenses", "trains"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["data", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def make_zip(uci_dir: Path, archive: Path, names: list[str]) -> Path:
    """A data_py.zip lookalike: data_py/<name>/<files>, plus the original's stray abalone_py.dat."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(uci_dir / "abalone" / "abalone_py.dat", "abalone_py.dat")
        for name in names:
            for file in uci121.dataset_files(name).values():
                zf.write(uci_dir / name / file, f"data_py/{name}/{file}")
    return archive


@pytest.fixture
def http_root(tmp_path):
    """A folder served over HTTP on 127.0.0.1 by a background thread; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=root)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_verify_shared_data_reports_120_complete_and_miniboone_incomplete(capsys, uci_dir):
    code, out, _ = run(capsys, "verify", "--data-dir", uci_dir)
    lines = out.splitlines()
    assert lines[-1] == "120 complete, 1 incomplete (missing file: 1)"
    statuses = {line.split()[0]: line.split()[1] for line in lines[1:-1]}
    assert len(statuses) == 121
    assert [name for name, status in statuses.items() if status != "ok"] == ["miniboone"]
    mini = next(line for line in lines if line.startswith("miniboone"))
    assert "missing file" in mini and "missing miniboone_py.dat" in mini
    assert code == 0  # only missing, nothing corrupt
    assert run(capsys, "verify", "--strict", "--data-dir", uci_dir)[0] == 1


def test_verify_fails_on_a_tampered_file(capsys, uci_dir, tmp_path):
    for name in ["iris", "zoo"]:
        shutil.copytree(uci_dir / name, tmp_path / name, copy_function=shutil.copyfile)
    labels = tmp_path / "zoo" / "labels_py.dat"
    labels.write_text(labels.read_text().replace("0", "1", 1))
    code, out, _ = run(capsys, "verify", "--data-dir", tmp_path)
    assert code == 1
    zoo = next(line for line in out.splitlines() if line.startswith("zoo"))
    assert "checksum mismatch" in zoo and "labels_py.dat" in zoo
    assert out.splitlines()[-1] == "1 complete, 120 incomplete (missing file: 119, checksum mismatch: 1)"


def test_verify_and_list_without_data(capsys, tmp_path):
    code, out, err = run(capsys, "verify", "--data-dir", tmp_path / "absent")
    assert code == 1 and "0 complete, 121 incomplete" in out and "does not exist" in err
    code, out, err = run(capsys, "list", "--data-dir", tmp_path / "absent")
    assert code == 0 and "mixbench data fetch" in err


def test_verify_and_list_with_a_file_as_data_dir_say_it_is_a_file(capsys, tmp_path):
    # was: 121 "no folder FILE/<name>" rows and "FILE does not exist", though it exists
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    for action in ("verify", "list"):
        code, out, err = run(capsys, action, "--data-dir", a_file)
        assert code == 2 and out == ""
        assert err.strip() == (
            f"mixbench data: error: {a_file}: is a file, not a folder; point --data-dir / $MIXBENCH_DATA at "
            "the folder of the UCI-121 datasets."
        )


def test_list_shows_sizes_and_status(capsys, uci_dir):
    code, out, _ = run(capsys, "list", "--data-dir", uci_dir)
    assert code == 0
    assert out.splitlines()[1].split() == ["name", "rows", "features", "classes", "test", "status"]
    assert "abalone 4177 8 3 1044 ok" in [" ".join(line.split()) for line in out.splitlines()]
    assert "miniboone 130064 ? 2 32516 missing file" in [" ".join(line.split()) for line in out.splitlines()]


def test_data_dir_comes_from_the_environment(capsys, uci_dir, monkeypatch):
    monkeypatch.setenv("MIXBENCH_DATA", str(uci_dir))
    code, out, _ = run(capsys, "verify")
    assert code == 0 and out.splitlines()[0] == f"data directory: {uci_dir}"


def test_import_a_folder(capsys, uci_dir, tmp_path):
    source = tmp_path / "src"
    for name in SMALL:
        shutil.copytree(uci_dir / name, source / name)
    code, out, _ = run(capsys, "import", source, "--data-dir", tmp_path / "cache")
    assert code == 0
    assert f"imported 16 file(s) of 4 dataset(s) into {tmp_path / 'cache'}" in out
    assert out.splitlines()[-1] == "4 complete, 0 incomplete"
    assert suites.list_datasets("uci121", tmp_path / "cache") == SMALL
    code, out, _ = run(capsys, "verify", "--data-dir", tmp_path / "cache")
    assert code == 0 and out.splitlines()[-1] == "4 complete, 117 incomplete (missing file: 117)"


def test_import_a_zip(capsys, uci_dir, tmp_path):
    archive = make_zip(uci_dir, tmp_path / "data_py.zip", SMALL)
    code, out, _ = run(capsys, "import", archive, "--data-dir", tmp_path / "cache")
    assert code == 0 and out.splitlines()[-1] == "4 complete, 0 incomplete"
    for name in SMALL:
        for file in uci121.dataset_files(name).values():
            assert (tmp_path / "cache" / name / file).read_bytes() == (uci_dir / name / file).read_bytes()


def test_import_reports_a_rejected_file(capsys, uci_dir, tmp_path):
    source = tmp_path / "src"
    shutil.copytree(uci_dir / "lenses", source / "lenses", copy_function=shutil.copyfile)
    (source / "lenses" / "lenses_py.dat").write_text("1,2,3,4\n" * 24)
    code, out, _ = run(capsys, "import", source, "--data-dir", tmp_path / "cache")
    assert code == 1
    assert "not installed, checksum differs from the registry: lenses_py.dat" in out
    assert not (tmp_path / "cache" / "lenses" / "lenses_py.dat").exists()


def test_import_a_missing_path_is_an_error(capsys, tmp_path):
    code, _, err = run(capsys, "import", tmp_path / "nothing.zip", "--data-dir", tmp_path / "cache")
    assert code == 1 and "nothing.zip: no such file or folder" in err


def test_fetch_downloads_and_imports(capsys, uci_dir, tmp_path, http_root):
    root, url = http_root
    make_zip(uci_dir, root / "data_py.zip", SMALL)
    code, out, err = run(capsys, "fetch", "--url", f"{url}/data_py.zip", "--data-dir", tmp_path / "cache")
    assert code == 0, err
    assert out.splitlines()[-1] == "4 complete, 0 incomplete"
    assert "data_py.zip" in err  # the progress bar
    assert suites.list_datasets("uci121", tmp_path / "cache") == SMALL
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == SMALL  # the download is gone


def test_fetch_reports_a_failed_download(capsys, tmp_path, http_root):
    _, url = http_root
    code, _, err = run(capsys, "fetch", "--url", f"{url}/missing.zip", "--data-dir", tmp_path / "cache")
    assert code == 1 and "download failed" in err and "HTTP 404" in err and "mixbench data import" in err
    assert list((tmp_path / "cache").iterdir()) == []


def test_fetch_keeps_a_download_that_is_not_a_zip(capsys, tmp_path, http_root):
    root, url = http_root
    (root / "data_py.zip").write_text("<html>moved</html>")
    code, _, err = run(capsys, "fetch", "--url", f"{url}/data_py.zip", "--data-dir", tmp_path / "cache")
    assert code == 1 and "not a readable zip archive" in err
    assert (tmp_path / "cache" / "data_py.zip").read_text() == "<html>moved</html>"


def test_data_without_an_action_prints_help(capsys):
    code, out, _ = run(capsys)
    assert code == 2
    for action in ["list", "verify", "import", "fetch"]:
        assert f"\n    {action} " in out


def test_verify_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["data", "verify", "--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out and "--strict" in out
