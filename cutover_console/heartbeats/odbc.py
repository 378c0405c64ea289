"""pyodbc, imported only where SQL probes run.

pyodbc's wheel links against the system unixODBC library (libodbc.so.2). Without it, `import pyodbc`
fails with a loader error that does not say what to install; everything else in the console must
keep working, so the import happens here, lazily, and fails with instructions.
"""

from __future__ import annotations

import importlib
import platform
from types import ModuleType

INSTALL_HINT = {
    "Linux": "install unixODBC: `apt-get install unixodbc` (Debian/Ubuntu) or "
    "`dnf install unixODBC` (Fedora/RHEL); then the driver for your database, e.g. "
    "Microsoft's `msodbcsql18` or FreeTDS (`tdsodbc`) for SQL Server, `odbc-postgresql` "
    "for PostgreSQL, `libsqliteodbc` for SQLite",
    "Darwin": "install unixODBC: `brew install unixodbc`, then your database's ODBC driver",
}


class OdbcUnavailable(RuntimeError):
    """pyodbc or the system ODBC library is missing; the message says what to install."""


def import_pyodbc() -> ModuleType:
    """Return the pyodbc module or raise OdbcUnavailable naming what to install."""
    try:
        return importlib.import_module("pyodbc")
    except ImportError as exc:
        detail = str(exc)
        if "libodbc" in detail or "cannot open shared object" in detail:
            what = "the system ODBC library is missing"
        else:
            what = "the Python package pyodbc is missing (`pip install pyodbc`)"
        hint = INSTALL_HINT.get(
            platform.system(), "install unixODBC and your database's ODBC driver"
        )
        raise OdbcUnavailable(
            f"SQL probes need ODBC, but {what} ({detail}). To fix: {hint}."
        ) from None
