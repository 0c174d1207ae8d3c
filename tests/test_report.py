"""The report as a user meets it: HTML opened in headless Chromium, PDF text extracted, the CLI, a real run.

The screenshot and copies of the rendered files are kept in tests/artifacts/ (git-ignored) to look at.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mixbench import analysis as an
from mixbench import cli, report
from mixbench.results import ResultStore, RunResults, load

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LOSSES = [*an.PAPER_LOSSES, "MyLoss"]  # the six published ones and a user-defined name
CHROMIUM = "/usr/bin/chromium"


def make_run(
    *,
    n_datasets=8,
    losses=LOSSES,
    nets=("linear", "hidden"),
    epochs=True,
    n_epochs=5,
    seed=0,
    path="synthetic-run",
) -> RunResults:
    """A small run with known problems: a diverged cell without result, one with, a failed task."""
    rng = np.random.default_rng(seed)
    selected, records = [], []
    for d in range(n_datasets):
        name, n_test = f"set-{d:02d}", int(rng.integers(20, 60))
        base = rng.uniform(0.5, 0.9)
        for net in nets:
            for s in (60, 1234):
                for i, loss in enumerate(losses):
                    curve = (
                        base + 0.01 * i - 0.2 * np.exp(-np.arange(n_epochs)) + rng.normal(0, 0.02, n_epochs)
                    )
                    curve = np.round(np.clip(curve, 0, 1) * n_test) / n_test  # k / n_test: exact ties happen
                    best = int(np.flatnonzero(curve == curve.max())[-1])
                    cell = dict(dataset=name, net=net, split=0, noise="none", loss=loss, seed=s, lr=0.01)
                    records += [
                        dict(cell, epoch=e, train_loss=1 / (e + 1), val_acc=v, test_acc=v, diverged=False)
                        for e, v in enumerate(curve)
                    ]
                    selected.append(
                        dict(cell, epoch=best, val_acc=curve[best], test_acc=curve[best], diverged=False)
                    )
    selected = pd.DataFrame(selected)
    lost = (selected["dataset"] == "set-01") & (selected["loss"] == "EL") & (selected["net"] == "linear")
    selected.loc[lost & (selected["seed"] == 60), ["test_acc", "diverged"]] = [np.nan, True]
    kept = (selected["dataset"] == "set-02") & (selected["loss"] == "Focal") & (selected["net"] == "hidden")
    selected.loc[kept & (selected["seed"] == 1234), "diverged"] = True
    failed = (selected["dataset"] == "set-03") & (selected["net"] == "hidden")
    selected = selected[~failed].reset_index(drop=True)
    failures = pd.DataFrame(
        [
            dict(
                dataset="set-03",
                net="hidden",
                split=0,
                noise="none",
                error="DatasetError: set-03 line 3: bad",
            )
        ]
    )
    config = {
        "config": {"suite": "uci121", "losses": list(losses), "epochs": n_epochs, "seeds": [60, 1234]},
        "versions": {"mixbench": "0.1.0", "torch": "2.13.0"},
        "machine": {"platform": "test", "cpu_count": 2},
        "started": "2025-01-01T10:00:00+00:00",
        "finished": "2025-01-01T10:01:05+00:00",
        "wall_time_s": 65.0,
    }
    epochs_frame = pd.DataFrame(records) if epochs else None
    if epochs_frame is not None:
        epochs_frame = epochs_frame[
            ~((epochs_frame["dataset"] == "set-03") & (epochs_frame["net"] == "hidden"))
        ]
    return RunResults(
        config=config, selected=selected, epochs=epochs_frame, failures=failures, path=Path(path)
    )


class Tables(HTMLParser):
    """Cell texts of every <table id=...>, and every id attribute seen."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.ids: list[str] = []
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "table" and "id" in attrs:
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    return parser


def expected_rows(summary: pd.DataFrame) -> list[list[str]]:
    """The summary as the report should print it (formats written out here, not taken from report.py)."""
    rows = []
    for loss, r in summary.iterrows():
        wins = f"{r['wins']:.0f}" if float(r["wins"]).is_integer() else f"{r['wins']:.1f}"
        delta = "0.00" if loss == "CE" else f"{r['delta_acc']:+.2f}"
        ci = "baseline" if loss == "CE" else f"[{r['delta_ci_low']:+.2f}, {r['delta_ci_high']:+.2f}]"
        rows.append([loss, wins, delta, ci, f"{r['mean_rank']:.2f}"])
    return rows


@pytest.fixture(scope="module")
def run() -> RunResults:
    return make_run()


@pytest.fixture(scope="module")
def rendered(run, tmp_path_factory) -> dict[str, Path]:
    paths = report.render_report(run, tmp_path_factory.mktemp("report"), n_boot=2000, random_state=3)
    ARTIFACTS.mkdir(exist_ok=True)
    for path in paths.values():
        shutil.copy(path, ARTIFACTS / path.name)
    return paths


def summary_of(run, net, how, **kwargs) -> pd.DataFrame:
    datasets = sorted(set(run.selected["dataset"]) | set(run.failures["dataset"]))
    rows = run.selected[run.selected["net"] == net]
    return an.summary_table(rows, how=how, n_boot=2000, random_state=3, datasets=datasets, **kwargs)


# --- HTML -------------------------------------------------------------------------------------------
def test_html_summary_tables_show_the_analysis_numbers(run, rendered):
    tables = parse(rendered["html"].read_text(encoding="utf-8")).tables
    for net in ("linear", "hidden"):
        for how in ("per_seed", "seed_mean"):
            shown = tables[f"summary-none-{net}-{how}"]
            assert shown[0][:5] == ["Loss", "Wins", "ΔAcc (pp)", "95% CI (pp)", "Mean rank"]
            assert [row[:5] for row in shown[1:]] == expected_rows(summary_of(run, net, how))
    paper = tables["paper-linear"]
    published = an.load_paper_table().query("net == 'linear'").set_index("loss")
    reproduced = summary_of(run, "linear", "per_seed", losses=an.PAPER_LOSSES, tie_method="min")
    for row in paper[1:]:
        loss = row[0]
        assert row[7] == f"{published.loc[loss, 'mean_rank']:.2f}"
        assert row[8] == f"{reproduced.loc[loss, 'mean_rank']:.2f}"
        diff = reproduced.loc[loss, "mean_rank"] - published.loc[loss, "mean_rank"]
        assert row[9] == f"{diff:+.2f}"


def test_html_says_what_was_excluded_and_why(rendered):
    html = rendered["html"].read_text(encoding="utf-8")
    excluded = parse(html).tables["excluded"]
    assert ["linear", "none", "set-01", "EL: NaN accuracy for seed 60"] in excluded
    assert ["hidden", "none", "set-03", "no result for any loss"] in excluded
    failures = parse(html).tables["failures"]
    assert failures[1][:2] == ["set-03", "hidden"] and "DatasetError" in failures[1][4]
    assert "7 datasets (datasets with a missing cell are excluded); excluded: set-01." in html
    assert "tie_method=&#39;min&#39;" in html  # the comparison names its tie method


def test_html_is_self_contained(rendered):
    html = rendered["html"].read_text(encoding="utf-8")
    assert "<svg" in html and html.count("<svg") >= 6  # figures inline
    # No resource from elsewhere: every URL in the page is an XML namespace name, never fetched.
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not re.search(r"<(script|img|iframe)[^>]*\bsrc=", html)
    assert not re.search(r"<link[^>]*stylesheet", html) and "@import" not in html
    ids = parse(html).ids
    assert len(ids) == len(set(ids)), "ids of the inline SVGs must not collide"


def chromium_or_skip() -> str:
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    reason = f"{CHROMIUM} not installed (apt-get install chromium); the browser test needs it"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}; CI must run it", pytrace=False)
    pytest.skip(reason)


def open_in_chromium(url: str, tmp_path: Path, *args: str) -> tuple[str, list[str]]:
    """Load ``url`` headless; return the DOM after scripts ran and the console messages."""
    command = [
        chromium_or_skip(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # any network request would fail and log an error
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        *args,
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


def test_console_errors_are_detected(tmp_path):
    # The check below must be able to fail: a page with a script error shows up in the console lines.
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>notDefined();</script></body></html>")
    _, console = open_in_chromium(page.as_uri(), tmp_path, "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console)


def test_html_renders_in_chromium_without_console_errors(rendered, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    url = rendered["html"].as_uri()
    dom, console = open_in_chromium(url, tmp_path, "--dump-dom")
    assert console == []
    assert 'data-report-ready="yes"' in dom  # the inline script ran to its end
    summary = parse(dom).tables["summary-none-linear-per_seed"]
    assert len(summary) == 1 + len(LOSSES) and summary[1][0] == "CE"
    _, console = open_in_chromium(url, tmp_path, f"--screenshot={screenshot}", "--window-size=1400,2000")
    assert console == []
    assert screenshot.is_file() and screenshot.stat().st_size > 50_000  # a page, not a blank image


def test_per_dataset_table_sorts_and_filters_in_the_browser(rendered, tmp_path):
    # The page applies ?sort=TABLE:COLUMN:DIR&select=...&filter=... on load, as a shareable view.
    ce_column = 2  # Network, Dataset, then the losses
    url = rendered["html"].as_uri() + f"?sort=per-dataset:{ce_column}:desc&select=hidden&filter=set-0"
    dom, console = open_in_chromium(url, tmp_path, "--dump-dom")
    assert console == []
    table = dom[dom.index('<table id="per-dataset"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr( style=\"display: none;\")?>\s*(<td.*?)</tr>", table, flags=re.S)
    visible = [re.findall(r"<td[^>]*>(.*?)</td>", cells) for hidden, cells in rows if not hidden]
    assert {row[0] for row in visible} == {"hidden"}
    assert all(row[1].startswith("set-0") for row in visible) and len(visible) == 8
    values = [float(row[ce_column]) for row in visible if row[ce_column] != "-"]
    assert values == sorted(values, reverse=True) and len(values) == 7
    assert visible[-1][ce_column] == "-"  # the failed task's row: missing values sort last


# --- PDF --------------------------------------------------------------------------------------------
def test_pdf_holds_the_summary_numbers_as_text_and_vector_figures(run, rendered):
    from pypdf import PdfReader

    pdf = PdfReader(rendered["pdf"])
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert len(pdf.pages) >= 5
    for net in ("linear", "hidden"):
        for how in ("per_seed", "seed_mean"):
            for loss, *cells in expected_rows(summary_of(run, net, how)):
                row = re.compile(r"\s+".join(map(re.escape, [loss, *cells])))
                assert row.search(text), f"{net} {how}: row {[loss, *cells]} not in the PDF text"
    assert "Paper vs reproduction, linear network" in text and "tie_method='min'" in text
    assert "Friedman test" in text and "set-03" in text
    for page in pdf.pages:
        assert page.extract_text().strip(), "every page has text"
        assert len(page.images) == 0, "figures are vector graphics, not embedded images"


# --- variants and errors ----------------------------------------------------------------------------
def test_report_without_epochs_or_published_losses(tmp_path):
    run = make_run(n_datasets=4, losses=["CE", "EL", "MyLoss"], epochs=False)
    paths = report.render_report(run, tmp_path, pdf=False, n_boot=200)
    assert set(paths) == {"html"}
    html = paths["html"].read_text(encoding="utf-8")
    # Without the six published losses there is nothing to set beside the published table: no such section.
    assert "were not kept" in html and "Published table vs reproduction" not in html
    assert "summary-none-linear-per_seed" in parse(html).tables


def test_render_report_refuses_nothing_to_do(run, tmp_path):
    with pytest.raises(ValueError, match="nothing to render"):
        report.render_report(run, tmp_path, html=False, pdf=False)
    empty = RunResults(
        config={}, selected=run.selected[:0], epochs=None, failures=run.failures, path=Path("x")
    )
    with pytest.raises(ValueError, match="no selected results"):
        report.render_report(empty, tmp_path)


def test_cd_diagram_joins_exactly_the_losses_the_pvalues_do_not_separate():
    ranks = pd.Series({"a": 1.2, "b": 1.9, "c": 2.9})
    pvalues = pd.DataFrame(np.ones((3, 3)), index=list("abc"), columns=list("abc"))
    pvalues.loc["a", "c"] = pvalues.loc["c", "a"] = 0.001  # only a-c differs: bars a-b and b-c
    fig = Figure()
    ax = fig.add_subplot()
    report.plot_critical_difference(ranks, pvalues, ax=ax, cd=0.5)
    bars = [line for line in ax.get_lines() if line.get_linewidth() == 2 and len(set(line.get_ydata())) == 1]
    spans = sorted(tuple(sorted(line.get_xdata())) for line in bars)
    assert spans == [(1.2, 1.9), (1.9, 2.9)]
    undefined = pvalues * np.nan  # an undefined test claims no difference: one bar over all
    ax2 = Figure().add_subplot()
    report.plot_critical_difference(ranks, undefined, ax=ax2)
    bars = [line for line in ax2.get_lines() if line.get_linewidth() == 2 and len(set(line.get_ydata())) == 1]
    assert [tuple(sorted(line.get_xdata())) for line in bars] == [(1.2, 1.9, 2.9)]


# --- the command line, on a real result store ------------------------------------------------------
def write_store(run: RunResults, path: Path) -> None:
    store = ResultStore(path)
    store.write_config(run.config)
    keys = ["dataset", "net", "split", "noise"]
    for key, selected in run.selected.groupby(keys):
        key = dict(zip(keys, key, strict=True))
        records = run.epochs.merge(pd.DataFrame([key]), on=keys)
        store.write_task(key, records, selected)
    for failure in run.failures.to_dict("records"):
        store.write_failure({k: failure[k] for k in keys}, failure["error"])


def test_cli_report_writes_the_asked_formats_and_prints_paths(tmp_path):
    run_dir = tmp_path / "results" / "my-run"
    write_store(make_run(n_datasets=3, losses=["CE", "EL", "Focal"], n_epochs=3), run_dir)
    out = tmp_path / "elsewhere"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert cli.main(["report", str(run_dir), "--html", "--out", str(out), "--n-boot", "100"]) == 0
    assert stdout.getvalue().strip() == f"html: {out / 'report.html'}"
    assert sorted(p.name for p in out.iterdir()) == ["report.html"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "mixbench report: my-run" in html and "set-03" in html


def test_cli_report_defaults_and_options(tmp_path, monkeypatch):
    run_dir = tmp_path / "results" / "other-run"
    write_store(make_run(n_datasets=2, losses=["CE", "EL", "Focal"], n_epochs=2), run_dir)
    calls = []

    def fake_render(run, out, **kwargs):
        calls.append((run, Path(out), kwargs))
        return {kind: Path(out) / f"report.{kind}" for kind in ("html", "pdf") if kwargs[kind]}

    import mixbench.data

    monkeypatch.setattr(report, "render_report", fake_render)
    monkeypatch.setattr(mixbench.data, "repo_root", lambda: tmp_path / "checkout")
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        assert cli.main(["report", str(run_dir)]) == 0
        assert (
            cli.main(["report", str(run_dir), "--pdf", "--missing", "worst", "--curves", "set-00, set-01"])
            == 0
        )
    (run, out, both), (_, _, pdf_only) = calls
    assert out == tmp_path / "checkout" / "reports" / "other-run"  # as `mixbench run --report` does
    assert isinstance(run, RunResults) and set(run.selected["dataset"]) == {"set-00", "set-01"}
    assert both["html"] and both["pdf"] and both["missing"] == "exclude" and both["curve_datasets"] is None
    assert not pdf_only["html"] and pdf_only["pdf"] and pdf_only["missing"] == "worst"
    assert pdf_only["curve_datasets"] == ["set-00", "set-01"]
    assert stdout.getvalue().splitlines()[:2] == [
        f"html: {out / 'report.html'}",
        f"pdf: {out / 'report.pdf'}",
    ]


_OUT_FIX = "give --out a folder that can be written (it is created if needed)"


@pytest.mark.parametrize(
    ("out", "options", "expected"),
    [
        ("a-file", ["--html"], f"a-file: is a file, not a folder; {_OUT_FIX}"),
        ("a-file/sub", ["--html"], f"a-file: is a file, not a folder; {_OUT_FIX}"),
        ("/proc/x", ["--html"], f"/proc/x: cannot be written (No such file or directory); {_OUT_FIX}"),
        (
            "old",
            ["--pdf"],
            f"old/report.pdf: is a folder where a file is to be written; remove it, or {_OUT_FIX}",
        ),
        (
            "old",
            ["--latex"],
            f"old/latex: is a file where a folder is to be written; remove it, or {_OUT_FIX}",
        ),
    ],
)
def test_cli_report_refuses_an_output_folder_it_cannot_write(tmp_path, monkeypatch, out, options, expected):
    """The user's finding: --out <an existing file> and --out /proc/x ended in tracebacks (after the
    analysis). Now one line, exit 2, before any statistic is computed; what was there stays."""
    from cli_helpers import mixbench

    write_store(make_run(n_datasets=2, losses=["CE", "EL"], n_epochs=2), tmp_path / "run")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("keep me")
    (tmp_path / "old" / "report.pdf").mkdir(parents=True)
    (tmp_path / "old" / "latex").write_text("keep me too")
    monkeypatch.setattr(an, "analyse_run", lambda *a, **k: pytest.fail("analysed before the check"))
    monkeypatch.setattr(report, "analyse_run", an.analyse_run)
    code, stdout, stderr = mixbench("report", "run", "--out", out, *options)
    assert (code, stdout) == (2, "")
    assert stderr == f"mixbench report: error: {expected}\n"
    assert (tmp_path / "a-file").read_text() == "keep me"
    assert (tmp_path / "old" / "latex").read_text() == "keep me too"
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == ["latex", "report.pdf"]


def test_a_report_write_that_fails_half_way_is_one_line(tmp_path, monkeypatch):
    """A disk that fills up while the PDF is written: the HTML already written is named, no traceback."""
    import errno

    from cli_helpers import mixbench

    write_store(make_run(n_datasets=2, losses=["CE", "EL"], n_epochs=2), tmp_path / "run")

    def full_disk(report_model, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(report, "render_pdf", full_disk)
    out = tmp_path / "out"
    code, _, stderr = mixbench("report", str(tmp_path / "run"), "--out", str(out), "--n-boot", "50")
    assert code == 2 and stderr.count("\n") == 1
    assert stderr.startswith(f"mixbench report: error: {out}: cannot be written (No space left on device); ")
    assert (
        f"free space on that disk, or give another folder with --out (written: {out / 'report.html'})"
        in stderr
    )
    assert (out / "report.html").stat().st_size > 0 and not (out / "report.pdf").exists()
    assert [p.name for p in out.iterdir()] == ["report.html"]  # no temporary file left


def test_run_whose_report_folder_is_a_file_keeps_its_results_and_says_how_to_report(tmp_path, monkeypatch):
    from cli_helpers import mixbench
    from mixbench import data

    monkeypatch.setattr(data, "repo_root", lambda: tmp_path)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "small").write_text("not a folder")
    run_dir = tmp_path / "results" / "small"
    argv = ["--suite", "toy", "--datasets", "iris", "--losses", "CE,EL", "--nets", "linear", "--seeds", "0"]
    code, stdout, stderr = mixbench(
        "run", *argv, "--epochs", "1", "--out", str(run_dir), "--report", "--no-progress"
    )
    assert code == 1 and "Verdict against CE" in stdout  # the verdict is printed, the results are stored
    target = tmp_path / "reports" / "small"
    assert stderr == (
        f"mixbench run: the report failed: {target}: is a file, not a folder; write it elsewhere: "
        f"mixbench report {run_dir} --out DIR\n"
    )
    assert len(load(run_dir).selected) == 2
    code, _, _ = mixbench("report", str(run_dir), "--html", "--n-boot", "50", "--out", str(tmp_path / "r"))
    assert code == 0 and (tmp_path / "r" / "report.html").exists()


def test_cli_report_on_a_directory_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "config.json" in capsys.readouterr().err


@pytest.mark.slow
def test_report_of_a_real_toy_run(tmp_path):
    """End to end: `mixbench run` on two toy datasets, then the statistics and the report of its results."""
    run_dir = tmp_path / "toy"
    argv = ["run", "--suite", "toy", "--datasets", "iris,wine", "--nets", "linear", "--epochs", "3"]
    argv += ["--losses", "CE,EL,Focal,Sigmoid-MSE", "--eval-batch", "16"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli.main([*argv, "--n-jobs", "1", "--out", str(run_dir), "--no-progress", "--no-report"])
    real = load(run_dir)
    assert set(real.selected["dataset"]) == {"iris", "wine"} and real.epochs is not None
    summary = an.summary_table(real.selected, how="seed_mean", n_boot=200, random_state=0)
    # Mean ranks by hand from the stored rows: pandas ranks each dataset's seed-averaged accuracies.
    mean_acc = real.selected.groupby(["dataset", "loss"])["test_acc"].mean().round(12).unstack("loss")
    by_hand = mean_acc.rank(axis=1, ascending=False, method="average").mean()
    np.testing.assert_allclose(summary["mean_rank"], by_hand[summary.index])
    paths = report.render_report(real, tmp_path / "report", pdf=False, n_boot=200, random_state=0)
    html = paths["html"].read_text(encoding="utf-8")
    shown = parse(html).tables["summary-none-linear-seed_mean"]
    assert [row[4] for row in shown[1:]] == [f"{r:.2f}" for r in summary["mean_rank"]]
    assert "mean of per-batch accuracies, batches of 16 rows (the reference code&#39;s rule)" in html


def test_report_of_several_noise_settings_and_splits(tmp_path):
    base = make_run(n_datasets=4, losses=["CE", "EL", "Focal"], nets=("linear",), epochs=False)
    parts = []
    for noise, split, shift in (("none", 0, 0.0), ("none", 1, 0.01), ("symmetric-0.2", 0, -0.05)):
        part = base.selected.assign(noise=noise, split=split)
        parts.append(part.assign(test_acc=(part["test_acc"] + shift).clip(0, 1)))
    run = RunResults(base.config, pd.concat(parts, ignore_index=True), None, base.failures, Path("noisy"))
    html = report.render_report(run, tmp_path, pdf=False, n_boot=100)["html"].read_text(encoding="utf-8")
    tables = parse(html).tables
    assert {"summary-none-linear-per_seed", "summary-symmetric-0.2-linear-seed_mean"} <= set(tables)
    splits = tables["splits-none-linear"]
    assert splits[0] == ["Loss", "split 0", "split 1", "splits averaged"]
    by_split = an.summary_table(run.selected[run.selected["noise"] == "none"], "linear", split=1, n_boot=0)
    assert [row[2] for row in splits[1:]] == [f"{r:.2f}" for r in by_split["mean_rank"]]
    assert "accuracies averaged over splits [0, 1]" in html
