"""Probe kinds, each a real client: ODBC (pyodbc) and SQLite, SSH (asyncssh), HTTP (httpx), TCP,
AWS (boto3) and the file system.

Every probe turns into a `Source` with one coroutine, `read()`, that never raises: a dead
database, host or API becomes a failed `Reading` with the reason. Blocking clients run in a
dedicated thread pool, each read under its own timeout, so one blackholed source cannot hold up
another.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import re
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..plan.probe_parameters import SQL_KINDS, check_parameters
from ..secrets import REDACT, SecretUnavailable, resolve
from ..untrusted import clip
from .reading import Reading, SiteSeen, as_time
from .recipes import recipe_query

DETAIL_LIMIT = 1000  # characters of a probe's detail or error kept
SITE_LIMIT = 200  # characters of a site name kept

# Blocking reads (ODBC, SQLite, boto3) get their own pool: a hung connect keeps a thread, so the
# pool is larger than the default executor and shared by nothing else.
SQL_ATTR_LOGIN_TIMEOUT = 103
BLOCKING = ThreadPoolExecutor(max_workers=32, thread_name_prefix="probe")


@dataclass
class Source:
    """A configured probe, ready to read."""

    label: str  # "flow-id/old" etc., for messages
    kind: str
    read_once: Callable[[], Any]  # coroutine function returning a Reading
    timeout: float

    async def read(self, clock: Clock) -> Reading:
        start = time.perf_counter()
        try:
            reading: Reading = await asyncio.wait_for(self.read_once(), self.timeout)
        except TimeoutError:
            return Reading(
                False,
                clock.now(),
                f"no answer within {self.timeout:g} s",
                (time.perf_counter() - start) * 1000,
            )
        except SecretUnavailable as exc:
            return Reading(False, clock.now(), str(exc))
        except Exception as exc:  # every failure of a source is a reading, never a crash
            elapsed = (time.perf_counter() - start) * 1000
            if "Timeout" in type(exc).__name__:  # a client's own timeout (httpx, botocore)
                return Reading(
                    False, clock.now(), f"no answer within {elapsed / 1000:.1f} s", elapsed
                )
            return Reading(False, clock.now(), _describe(exc), elapsed)
        reading.latency_ms = (time.perf_counter() - start) * 1000
        reading.detail = clip(REDACT(reading.detail), DETAIL_LIMIT)
        if reading.sites and any(len(site) > SITE_LIMIT for site in reading.sites):
            # a site name is what a remote database says it is: bounded before it is journaled
            reading.sites = {clip(site, SITE_LIMIT): seen for site, seen in reading.sites.items()}
        return reading


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return clip(REDACT(f"{type(exc).__name__}: {text}"), DETAIL_LIMIT)


def build_source(
    label: str,
    kind: str,
    params: dict[str, Any],
    clock: Clock,
    *,
    sites: bool,
    base: Path | None = None,
) -> Source:
    """A `Source` for one probe of the plan. Secrets are resolved at read time, not here."""
    check_parameters(kind, params)
    timeout = float(params.get("timeout", 10))
    zone = str(params.get("timezone", "UTC"))
    if kind in SQL_KINDS:
        query = params.get("query") or recipe_query(kind, str(params.get("dialect", "mssql")))
        arg = params.get("job") or params.get("package") or params.get("report")
        recipe = kind not in ("sql", "sqlite")

        def run_sql() -> list[tuple[Any, ...]]:
            if kind == "sqlite":
                path = Path(str(params["path"]))
                if not path.is_absolute() and base is not None:
                    path = base / path
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
            else:
                from .odbc import import_pyodbc

                pyodbc = import_pyodbc()
                dsn = resolve(str(params["dsn"]), base=base)
                if params.get("database"):
                    dsn = f"{dsn.rstrip(';')};Database={params['database']}"
                # Login and query timeouts where the driver supports them (psqlODBC refuses the
                # connection-timeout attribute); the read's own asyncio timeout bounds it anyway.
                try:
                    conn = pyodbc.connect(
                        dsn, autocommit=True, attrs_before={SQL_ATTR_LOGIN_TIMEOUT: int(timeout)}
                    )
                except pyodbc.Error as exc:
                    if "unsupported" not in str(exc).lower():
                        raise
                    conn = pyodbc.connect(dsn, autocommit=True)
                with contextlib.suppress(pyodbc.Error):
                    conn.timeout = int(timeout)
            try:
                cursor = conn.cursor()
                cursor.execute(query, (arg,)) if arg is not None else cursor.execute(query)
                return [tuple(row) for row in cursor.fetchall()]
            finally:
                conn.close()

        async def read_sql() -> Reading:
            rows = await asyncio.get_running_loop().run_in_executor(BLOCKING, run_sql)
            return _sql_reading(rows, clock, zone, sites=sites, recipe=recipe)

        return Source(label, kind, read_sql, timeout + 1)
    if kind == "ssh":
        return Source(label, kind, lambda: _read_ssh(params, clock, zone, base), timeout)
    if kind == "http":
        return Source(label, kind, lambda: _read_http(params, clock, timeout), timeout + 1)
    if kind == "tcp":
        return Source(label, kind, lambda: _read_tcp(params, clock), timeout)
    if kind == "aws":

        async def read_aws() -> Reading:
            from .aws import read_aws_blocking

            return await asyncio.get_running_loop().run_in_executor(
                BLOCKING, read_aws_blocking, params, clock
            )

        return Source(label, kind, read_aws, timeout + 1)
    return Source(label, kind, lambda: _read_file(params, clock, base), timeout)


_OUTCOMES_OK = {"succeeded", "success", "rssuccess", "1", "7", "9"}


def _sql_reading(
    rows: list[tuple[Any, ...]], clock: Clock, zone: str, *, sites: bool, recipe: bool
) -> Reading:
    now = clock.now()
    if recipe:
        if not rows:
            return Reading(False, now, "no execution recorded")
        last, outcome = rows[0][0], str(rows[0][1]).strip()
        ok = outcome.lower() in _OUTCOMES_OK
        return Reading(ok, now, f"last run {outcome}", last_seen=as_time(last, zone))
    if sites:
        seen: dict[str, SiteSeen] = {}
        for row in rows:
            if len(row) < 2:
                return Reading(False, now, "a site query returns (site, last_seen[, count]) rows")
            when = as_time(row[1], zone)
            if when is not None:
                seen[str(row[0])] = SiteSeen(
                    when, int(row[2]) if len(row) > 2 and row[2] is not None else None
                )
        newest = max((s.last_seen for s in seen.values()), default=None)
        total = sum(s.count or 0 for s in seen.values())
        return Reading(
            True,
            now,
            f"{len(seen)} site(s)",
            last_seen=newest,
            count=total,
            sites=seen,
            values=list(rows[0]) if rows else [],
        )
    if not rows:
        return Reading(True, now, "no rows", values=[])
    row = rows[0]
    last = as_time(row[0], zone) if _looks_like_time(row[0]) else None
    count = int(row[1]) if len(row) > 1 and isinstance(row[1], int) else None
    # every row, in a stable order: what a reconciliation compares
    table = sorted([[str(v) for v in r] for r in rows])
    return Reading(True, now, f"{len(rows)} row(s)", last_seen=last, count=count, values=table)


def _looks_like_time(value: Any) -> bool:
    from datetime import datetime

    if isinstance(value, datetime):
        return True
    return isinstance(value, str) and bool(re.match(r"^\d{4}-\d{2}-\d{2}", value))


_SSH_CONNECTIONS: dict[tuple[str, int, str], Any] = {}


async def _read_ssh(params: dict[str, Any], clock: Clock, zone: str, base: Path | None) -> Reading:
    import asyncssh

    host, port = str(params["host"]), int(params.get("port", 22))
    user = str(params.get("user", "")) or None
    key = (host, port, user or "")
    conn = _SSH_CONNECTIONS.get(key)
    if conn is None or conn.is_closed():
        options: dict[str, Any] = {
            "port": port,
            "username": user,
            "known_hosts": str(params.get("known_hosts", "~/.ssh/known_hosts")).replace(
                "~", str(Path.home()), 1
            ),
        }
        if "key" in params:
            key_text = resolve(str(params["key"]), base=base)
            options["client_keys"] = [asyncssh.import_private_key(key_text)]
        options["agent_path"] = None
        conn = await asyncssh.connect(host, **options)
        _SSH_CONNECTIONS[key] = conn
    result = await conn.run(str(params["command"]), check=False)
    now = clock.now()
    output = str(result.stdout or "").strip()
    if result.exit_status != 0:
        err = str(result.stderr or "").strip()
        return Reading(False, now, f"exit {result.exit_status}: {(err or output)[:200]}")
    if params.get("columns"):
        rows = [
            tuple(cell.strip() for cell in line)
            for line in csv.reader(output.splitlines())
            if line and line != list(params["columns"])
        ]
        return _sql_reading(rows, clock, zone, sites="site" in params["columns"], recipe=False)
    if params.get("expect"):
        ok = re.search(str(params["expect"]), output) is not None
        return Reading(
            ok,
            now,
            output.splitlines()[0][:200] if output else "(no output)",
            last_seen=now if ok else None,
        )
    if params.get("last_seen"):
        try:
            when = as_time(output.splitlines()[0], zone) if output else None
        except ValueError:
            return Reading(False, now, f"cannot read a time from {output[:80]!r}")
        return Reading(True, now, output[:200], last_seen=when)
    return Reading(True, now, output[:200], last_seen=now)  # the command ran: alive now


async def _read_http(params: dict[str, Any], clock: Clock, timeout: float) -> Reading:
    import httpx

    url = str(params["url"])
    if url.startswith(("env:", "file:")):
        url = resolve(url)
    expect = params.get("expect_status", "200-399")
    headers: dict[str, str] = {}
    extensions: dict[str, Any] = {}
    if params.get("resolve"):  # host:port:address, like curl --resolve
        host, port, address = str(params["resolve"]).rsplit(":", 2)
        parsed = httpx.URL(url)
        default = {"https": 443, "http": 80}.get(parsed.scheme, 0)
        if parsed.host == host and (parsed.port or default) == int(port):
            headers["Host"] = host if parsed.port in (None, default) else f"{host}:{port}"
            extensions["sni_hostname"] = host
            url = str(parsed.copy_with(host=address))
    async with httpx.AsyncClient(
        timeout=timeout, verify=bool(params.get("verify", True)), follow_redirects=False
    ) as client:
        response = await client.request(
            str(params.get("method", "GET")), url, headers=headers, extensions=extensions
        )
    now = clock.now()
    ok = _status_ok(response.status_code, expect)
    detail = f"HTTP {response.status_code}"
    if ok and params.get("match"):
        ok = re.search(str(params["match"]), response.text) is not None
        detail += "" if ok else f"; body does not match {params['match']!r}"
    return Reading(
        ok, now, detail, value=float(response.status_code), last_seen=now if ok else None
    )


def _status_ok(status: int, expect: Any) -> bool:
    for part in str(expect).split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= status <= int(high or low):
            return True
    return False


async def _read_tcp(params: dict[str, Any], clock: Clock) -> Reading:
    reader, writer = await asyncio.open_connection(str(params["host"]), int(params["port"]))
    writer.close()
    await writer.wait_closed()
    now = clock.now()
    del reader
    return Reading(True, now, "port open", last_seen=now)


async def _read_file(params: dict[str, Any], clock: Clock, base: Path | None) -> Reading:
    path = Path(str(params["path"]))
    if not path.is_absolute() and base is not None:
        path = base / path
    now = clock.now()
    if not path.exists():
        return Reading(False, now, f"{path} does not exist")
    files = (
        [path]
        if path.is_file()
        else [p for p in path.glob(str(params.get("pattern", "*"))) if p.is_file()]
    )
    if not files:
        return Reading(True, now, "no files", count=0)
    newest = max(p.stat().st_mtime for p in files)
    return Reading(True, now, f"{len(files)} file(s)", last_seen=as_time(newest), count=len(files))
