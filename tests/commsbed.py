"""Real receivers for the comms tests, on loopback: an SMTP server (aiosmtpd) that accepts,
rejects (550), fails once for a while (421) or never answers, and an HTTP webhook that answers
200, 500, slowly or never. Each keeps what it received, with its X-Cutover-Message header."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

from servers import free_port


@dataclass
class Received:
    message_id: str
    subject: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    html: str = ""  # an email's HTML part


class SmtpSink:
    """`mode`: accept (250), reject (550 at RCPT), flaky (421 for the first `failures` DATA
    commands, then 250)."""

    def __init__(self, mode: str = "accept", failures: int = 1) -> None:
        from aiosmtpd.controller import Controller

        self.mode, self.failures = mode, failures
        self.received: list[Received] = []
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any,
                                  address: str, options: Any) -> str:  # fmt: skip
                if sink.mode == "reject":
                    return "550 5.1.1 no such mailbox here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if sink.mode == "flaky" and sink.failures > 0:
                    sink.failures -= 1
                    return "421 4.3.2 try again later"
                parsed: Any = message_from_bytes(envelope.content, policy=policy.default)
                plain = parsed.get_body(preferencelist=("plain",))
                html = parsed.get_body(preferencelist=("html",))
                sink.received.append(
                    Received(
                        str(parsed.get("X-Cutover-Message", "")),
                        str(parsed.get("Subject", "")),
                        plain.get_content() if plain is not None else "",
                        {k: str(v) for k, v in parsed.items()},
                        html.get_content() if html is not None else "",
                    )
                )
                return "250 2.0.0 queued as C0FFEE"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=cutover@ops.test&to=client@client.test"

    def stop(self) -> None:
        self.controller.stop()


class SilentServer:
    """Accepts TCP connections and never says a word (an SMTP server that never answers)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self) -> None:
        self._stop = True
        self.sock.close()
        for conn in self.held:
            conn.close()


class Webhook:
    """`mode`: ok (200), error (500), slow (`delay` s, then 200), hang (never answers)."""

    def __init__(self, mode: str = "ok", delay: float = 2.0) -> None:
        self.mode, self.delay = mode, delay
        self.received: list[Received] = []
        self.port = free_port()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if hook.mode == "hang":
                    time.sleep(3600)
                if hook.mode == "slow":
                    time.sleep(hook.delay)
                import json

                payload = json.loads(data or b"{}")
                if hook.mode != "error":
                    hook.received.append(
                        Received(
                            self.headers.get("X-Cutover-Message", ""),
                            payload.get("title", ""),
                            payload.get("message", ""),
                            dict(self.headers.items()),
                        )
                    )
                self.send_response(500 if hook.mode == "error" else 200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def drive(
    cutover: Any, until: Callable[[Any], bool], timeout: float = 30, clock: Any = None
) -> float:
    """Run the real comms engine on `cutover` (as the journal service does: its journal writes
    on a journal thread of their own; `clock`: the system's unless given) until `until(ledger)`
    holds; the seconds it took."""
    from cutover_console.clock import SystemClock
    from cutover_console.comms.engine import CommsEngine

    journal_thread = ThreadPoolExecutor(1, thread_name_prefix="journal")

    async def main() -> float:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        engine = CommsEngine(
            cutover, clock or SystemClock(), lambda w: loop.run_in_executor(journal_thread, w)
        )
        task = asyncio.create_task(engine.run(stop))
        start = time.monotonic()
        try:
            while time.monotonic() - start < timeout:
                await asyncio.sleep(0.05)
                if until(engine.ledger):
                    return time.monotonic() - start
            raise AssertionError(f"not there after {timeout}s: {engine.ledger.messages}")
        finally:
            stop.set()
            await task

    try:
        return asyncio.run(main())
    finally:
        journal_thread.shutdown(wait=True)
