"""pyodbc is imported lazily and a missing ODBC library gives install instructions."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import ROOT

from cutover_console.heartbeats import odbc


def test_missing_system_library_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name: str) -> None:
        raise ImportError("libodbc.so.2: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(odbc.importlib, "import_module", fail)
    with pytest.raises(odbc.OdbcUnavailable) as exc:
        odbc.import_pyodbc()
    message = str(exc.value)
    assert "system ODBC library is missing" in message and "unixodbc" in message.lower()


def test_missing_package_names_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyodbc", None)  # makes `import pyodbc` raise ImportError
    with pytest.raises(odbc.OdbcUnavailable, match="pip install pyodbc"):
        odbc.import_pyodbc()


def test_core_commands_never_import_pyodbc_or_textual() -> None:
    code = (
        "import sys\n"
        "from cutover_console.cli import cli\n"
        "try:\n"
        "    cli.main(['check', 'tests/plans/small.yaml'], standalone_mode=False)\n"
        "finally:\n"
        "    bad = [m for m in ('textual', 'pyodbc') if m in sys.modules]\n"
        "    print('LOADED', bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert "LOADED []" in result.stdout, result.stdout + result.stderr
