"""The README's set-up commands, .ci/run and pyproject agree with each other."""

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_opens_with_install_and_run_then_test_command():
    install, test = readme_commands()[:2]
    assert "\n" not in install and "\n" not in test
    assert install.startswith("python3 -m venv .venv") and install.endswith(".venv/bin/mixbench run")
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim():
    test = readme_commands()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines


def test_dependencies_are_ranges_and_the_constraints_pin_this_machines_torch():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = {Requirement(r).name: Requirement(r) for r in project["dependencies"]}
    # a user's own torch (any release from 2.2 on) satisfies mixbench: no exact pin for everyone
    assert requirements["torch"].specifier.contains("2.4.1") and requirements["torch"].specifier.contains(
        "2.13.0"
    )
    assert not any(spec.operator == "==" for r in requirements.values() for spec in r.specifier)
    pins = [Requirement(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]  # fmt: skip
    assert [(p.name, str(p.specifier)) for p in pins] == [("torch", "==2.13.0")]
    install, test = readme_commands()[:2]
    assert "-c constraints.txt" in install and "-c constraints.txt" in test
    assert project["scripts"]["mixbench"] == "mixbench.cli:main"
    assert {"dev", "dask"} <= set(project["optional-dependencies"])


def _imported_top_level_modules() -> set[str]:
    names = set()
    for path in (ROOT / "benchmark" / "mixbench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"mixbench"}


def test_every_package_the_code_imports_is_declared():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {Requirement(r).name.lower() for r in project["dependencies"]}
    extras = [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    # dask[distributed] brings the distribution named after its extra
    optional = {r.name.lower() for r in extras} | {e.lower() for r in extras for e in r.extras}
    distributions = metadata.packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level_modules()):
        names = {d.lower() for d in distributions.get(module, [module])}
        if not names & (declared | optional):
            missing[module] = sorted(names)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_a_plain_install_runs_from_an_empty_folder_and_writes_under_it(tmp_path):
    """`pip install .` (not editable): the package data (templates, registry, protocol) ships, and results
    and reports go under the current folder, as `mixbench run --help` says."""
    target, cwd = tmp_path / "site", tmp_path / "empty"
    cwd.mkdir()
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target"]
    subprocess.run([*pip, str(target), str(ROOT)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import mixbench; print(mixbench.__file__)"], cwd=cwd,
                           env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert where.stdout.startswith(str(target))  # the installed copy, not the checkout
    run = [sys.executable, "-m", "mixbench", "run", "--datasets", "iris", "--nets", "linear", "--seeds", "0",
           "--epochs", "1", "--losses", "CE,EL", "--no-progress"]  # fmt: skip
    done = subprocess.run(run, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (cwd / "results").iterdir()
    assert (run_dir / "config.json").is_file() and (cwd / "reports" / run_dir.name / "report.html").is_file()
    helped = subprocess.run([*run[:4], "--help"], cwd=cwd, env=env, capture_output=True, text=True)
    assert "else under the current directory" in " ".join(helped.stdout.split())
