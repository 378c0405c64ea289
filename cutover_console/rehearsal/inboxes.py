"""The stakeholders' inboxes of the rehearsal world: a real SMTP server (aiosmtpd) for the
client's managers and the shops' support line, and a webhook receiver for the team's chat and
the support desk's ticket hook. The desk's hook answers 500 on purpose, so a newcomer sees a
failed delivery retried, abandoned and shown until acknowledged.

The world writes each channel's Apprise URL to a file under `comms/`, which the demo plan names
as `file:comms/…` references (channels are never written into a plan). Everything received is
appended to `comms/inbox.jsonl`."""

from __future__ import annotations

import http.server
import json
import threading
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

MAIL = ("127.79.0.25", 10025)
HOOKS = ("127.79.0.26", 10080)
BROKEN_PATH = "/support-desk"  # answers 500: the failure the demo shows on purpose


class Inboxes:
    def __init__(self, directory: Path) -> None:
        self.directory = directory / "comms"
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._smtp: Any = None
        self._http: http.server.ThreadingHTTPServer | None = None

    def channels(self) -> dict[str, str]:
        """The channel files the demo plan references, and the URL each holds."""
        mail = f"mailto://{MAIL[0]}:{MAIL[1]}?from=cutover@ops.rehearsal.test"
        hooks = f"json://{HOOKS[0]}:{HOOKS[1]}"
        return {
            "client-mail.url": f"{mail}&to=managers@client.rehearsal.test",
            "support-mail.url": f"{mail}&to=support@shops.rehearsal.test",
            "team-hook.url": f"{hooks}/team-chat",
            "support-desk.url": f"{hooks}{BROKEN_PATH}",
        }

    def _keep(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(entry)
            with (self.directory / "inbox.jsonl").open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.directory.mkdir(parents=True, exist_ok=True)
        for name, url in self.channels().items():
            (self.directory / name).write_text(url + "\n", encoding="utf-8")
        inboxes = self

        class Mail:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                parsed: Any = message_from_bytes(envelope.content, policy=policy.default)
                inboxes._keep(
                    {
                        "via": "smtp",
                        "to": list(envelope.rcpt_tos),
                        "message": str(parsed.get("X-Cutover-Message", "")),
                        "subject": str(parsed.get("Subject", "")),
                    }
                )
                return "250 2.0.0 accepted by the rehearsal world's mail server"

        self._smtp = Controller(Mail(), hostname=MAIL[0], port=MAIL[1])
        self._smtp.start()

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
                body = json.loads(self.rfile.read(length) or b"{}")
                broken = self.path == BROKEN_PATH
                if not broken:
                    inboxes._keep(
                        {
                            "via": "webhook",
                            "to": self.path,
                            "message": self.headers.get("X-Cutover-Message", ""),
                            "subject": str(body.get("title", "")),
                        }
                    )
                self.send_response(500 if broken else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._http = http.server.ThreadingHTTPServer(HOOKS, Hook)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="inbox-hooks", daemon=True).start()

    def stop(self) -> None:
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
