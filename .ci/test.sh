#!/usr/bin/env bash
# The test command (README: "Run the tests"). Installs what the tests need, then lints, type-checks
# and runs the whole suite. Safe to run again; under CI=true no test may skip.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages for the real components the tests start or call.
DEBS=(sqlite3 unixodbc tmux nsd unbound knot-resolver dnsmasq-base bind9-dnsutils dnsperf
      postgresql odbc-postgresql libsqliteodbc openssh-server openssh-client chromium procps
      strace)
missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"

echo "== ruff";  .venv/bin/ruff check cutover_console tests benchmarks
echo "== mypy";  .venv/bin/mypy
echo "== lint-imports"; .venv/bin/lint-imports --no-cache
echo "== pytest"; .venv/bin/python -m pytest -q "$@"
