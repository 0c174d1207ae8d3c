"""The README's set-up commands, .ci/run and pyproject agree with each other."""

import re
import tomllib
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


def test_torch_is_pinned_to_the_local_cpu_build():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "torch==2.13.0" in project["dependencies"]
    assert project["scripts"]["mixbench"] == "mixbench.cli:main"
    assert {"dev", "dask"} <= set(project["optional-dependencies"])
