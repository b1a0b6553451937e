"""`make lint`'s layer contracts (import-linter) and dependency check (deptry) catch what
they are there for: each is run on a copy of the project with one planted violation, and
must fail naming it, where the unchanged copy passes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PACKAGES = ("schemas", "tasks", "flows", "deploy")


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("project")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint_imports(folder: Path) -> subprocess.CompletedProcess:
    # import-linter imports nothing, it reads the sources found on sys.path: the copy's.
    return subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        cwd=folder,
        env={"PYTHONPATH": str(folder), "PATH": str(BIN)},
        capture_output=True,
        text=True,
    )


def _planted(folder: Path, module: str, line: str):
    path = folder / module
    original = path.read_text()
    path.write_text(original + f"\n{line}\n")
    return lambda: path.write_text(original)


def test_the_unchanged_project_keeps_every_contract(project_copy):
    done = _lint_imports(project_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    "module,line,contract",
    [
        ("schemas/costs.py", "import tasks.paths", "schemas is the bottom layer"),
        ("schemas/search_space.py", "import prefect", "schemas is the bottom layer"),
        ("tasks/search/front.py", "import prefect", "plain tasks never import Prefect"),
        ("tasks/files/reading.py", "from flows import settings", "tasks never import flows"),
        ("tasks/predict/encode.py", "from deploy import deployments", "tasks never import flows"),
        # tasks.paths is imported by tasks.safety; the reverse closes a cycle
        ("tasks/paths.py", "from tasks.safety import ledger", "no import cycles"),
        ("tasks/search/objective.py", "from tasks.search import choose", "no import cycles"),
    ],
)
def test_a_planted_violation_breaks_its_contract(project_copy, module, line, contract):
    restore = _planted(project_copy, module, line)
    try:
        done = _lint_imports(project_copy)
    finally:
        restore()
    assert done.returncode != 0
    broken = done.stdout.split("Broken contracts")[-1]
    assert contract in broken, done.stdout


def _deptry(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "deptry"), "."],
        cwd=folder,
        capture_output=True,
        text=True,
        env={"PATH": str(BIN), "NO_COLOR": "1"},
    )


def test_deptry_passes_the_project_and_refuses_an_undeclared_import(project_copy):
    assert _deptry(ROOT).returncode == 0
    # yaml is installed (Prefect needs it) but this project does not declare it
    restore = _planted(project_copy, "tasks/files/reading.py", "import yaml")
    try:
        done = _deptry(project_copy)
    finally:
        restore()
    assert done.returncode != 0
    assert "'yaml' imported but" in done.stdout + done.stderr
