"""The old server and the new cloud side of the rehearsal world: each an HTTP service (upload
endpoint and health URL) with its own SQLite database and log file, plus the sync job that copies
what still lands on the old side to the new one (the seed's SSIS package)."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..clock import Clock

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    received_at TEXT NOT NULL,      -- UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'
    old_id INTEGER UNIQUE           -- set on rows the sync job copied from the old side
);
CREATE INDEX IF NOT EXISTS uploads_site ON uploads(site, received_at);
CREATE TABLE IF NOT EXISTS sync_runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    copied INTEGER NOT NULL,
    status TEXT NOT NULL
);
"""


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class LogFile:
    """An application log with ISO timestamps and levels, appended by several threads."""

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path, self.clock = path, clock
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, level: str, text: str) -> None:
        line = f"{self.clock.now().astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z {level:<5} {text}\n"
        with self._lock:
            if not self._file.closed:  # a request finishing after the world stopped
                self._file.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class AppServer:
    """One side's upload endpoint and health URL, writing to its own database and log."""

    def __init__(
        self, side: str, address: str, port: int, database: Path, log: LogFile, clock: Clock
    ) -> None:
        self.side, self.address, self.port = side, address, port
        self.database, self.log, self.clock = database, log, clock
        self._conn = connect(database)
        self._conn.executescript(SCHEMA)
        self._db_lock = threading.Lock()
        self._closed = False
        self.uploads = 0
        self.healthy = True  # a rehearsal can break a side on purpose
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = f"rehearsal-{app.side}"

            def log_message(self, format: str, *args: Any) -> None:
                return  # the app writes its own log

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, separators=(",", ":")).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path != "/health":
                    self._send(404, {"error": "not found"})
                    return
                if not app.healthy:
                    self._send(503, {"status": "down", "db": "unreachable", "side": app.side})
                    return
                self._send(200, {"status": "ok", "db": "ok", "side": app.side})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                    site, kind = str(body["site"]), str(body.get("kind", "estimate"))
                    amount = int(body.get("amount_cents", 0))
                except (ValueError, KeyError, TypeError):
                    app.log.write("WARN", f"POST {self.path} 400 malformed upload")
                    self._send(400, {"error": "malformed upload"})
                    return
                if self.path != "/upload" or not app.healthy:
                    status = 404 if self.path != "/upload" else 503
                    app.log.write("ERROR", f"POST {self.path} {status} site={site}")
                    self._send(status, {"error": "unavailable"})
                    return
                try:
                    row_id = app.store(site, kind, amount)
                except (sqlite3.Error, OSError) as exc:  # the database is gone (or stopping)
                    app.log.write("ERROR", f"POST /upload 503 site={site} {exc}")
                    self._send(503, {"error": "database unavailable"})
                    return
                app.log.write("INFO", f"POST /upload 201 site={site} kind={kind} id={row_id}")
                self._send(201, {"id": row_id, "side": app.side})

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # into the app's log, like a real service; never onto the console's terminal
                app.log.write("ERROR", f"request from {client_address[0]} failed")

        self._server = Server((self.address, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"world-{self.side}-http", daemon=True
        )
        self._thread.start()
        self.log.write("INFO", f"{self.side} upload service listening on {self.address}")

    def store(self, site: str, kind: str, amount: int) -> int:
        with self._db_lock:
            if self._closed:
                raise OSError("the service is stopping")
            cursor = self._conn.execute(
                "INSERT INTO uploads(site, kind, amount_cents, received_at) VALUES (?,?,?,?)",
                (site, kind, amount, stamp(self.clock.now())),
            )
            self.uploads += 1
            return int(cursor.lastrowid or 0)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._db_lock:
            self._closed = True
            self._conn.close()


class SyncJob:
    """Copies rows that reached the old side to the new one, in order, as a scheduled job."""

    def __init__(self, old: Path, new: Path, log: LogFile, clock: Clock) -> None:
        self.old, self.new, self.log, self.clock = old, new, log, clock
        self.runs = 0

    def run_once(self) -> int:
        started = stamp(self.clock.now())
        old = sqlite3.connect(f"file:{self.old}?mode=ro", uri=True, timeout=10)
        new = connect(self.new)
        try:
            done = new.execute("SELECT COALESCE(MAX(old_id), 0) FROM uploads").fetchone()[0]
            rows = old.execute(
                "SELECT id, site, kind, amount_cents, received_at FROM uploads WHERE id > ? "
                "ORDER BY id",
                (done,),
            ).fetchall()
            new.execute("BEGIN")
            new.executemany(
                "INSERT INTO uploads(old_id, site, kind, amount_cents, received_at) "
                "VALUES (?,?,?,?,?)",
                rows,
            )
            new.execute(
                "INSERT INTO sync_runs(started_at, finished_at, copied, status) VALUES (?,?,?,?)",
                (started, stamp(self.clock.now()), len(rows), "ok"),
            )
            new.execute("COMMIT")
        finally:
            old.close()
            new.close()
        self.runs += 1
        last = rows[-1][0] if rows else done
        self.log.write("INFO", f"sync old->new copied {len(rows)} row(s), now up to old id {last}")
        return len(rows)
