"""The layers of cutover_console, as import-linter contracts (pyproject.toml): no cycle between
packages and no upward import can come back, and Textual stays in the ui package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).parent / "lint-imports"
    assert binary.exists(), "import-linter is a dev dependency: pip install -e '.[dev]'"
    return subprocess.run(
        [str(binary), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # the cycles issue 14 removed: runbook starting engines that import runbook
        ("runbook/session.py", "from ..dns import monitor", "Layers"),
        ("runbook/actions.py", "from ..heartbeats import flows", "Layers"),
        # the plan reaching up into the probes
        ("plan/crossrefs.py", "from ..heartbeats import sources", "Layers"),
        # the engines' orchestration reaching into the views
        ("service/engines.py", "from ..ui import app", "Layers"),
        # Textual in the core
        ("journal/store.py", "import textual", "Textual only in the ui package"),
        # a test runner in the product
        ("service/engines.py", "import pytest", "never imports pytest"),
    ],
)
def test_an_upward_import_or_textual_in_the_core_breaks_the_contracts(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    package = tmp_path / "cutover_console"
    shutil.copytree(
        ROOT / "cutover_console", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = package / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout, result.stdout
    assert f"cutover_console.{module[:-3].replace('/', '.')}" in result.stdout, result.stdout
