"""The two narrow commands `cutover serve` runs for a signer with stock OpenSSH:

    ssh -p PORT HOST statement STEP > s.txt          # a fresh statement for the key's person
    ssh-keygen -Y sign -n sign-off@cutover-console -f ~/.ssh/id_ed25519 s.txt
    ssh -p PORT HOST signoff STEP < s.txt.sig         # the signature; journaled once it holds

Only a key that the plan in force lists for a person may run them, and only for that person
(a watcher's key in authorized_keys does not). The journal service (or, when none runs, this
process as the journal's writer for one request) issues the statement and checks the signature
before anything is journaled; this desk only remembers which statement it handed to whom, so
that `signoff` can be given the signature alone. Nothing else is served to a signing key: no
other command, no subsystem, no console.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from ..journal import JournalReader
from ..plan.keys import KeySyntaxError, parse_key
from ..untrusted import inert

log = logging.getLogger("cutover.serve")
_COMMAND = re.compile(r"(statement|signoff) ([a-z0-9][a-z0-9_.-]{0,63})")
MAX_SIGNATURE = 16 << 10
HELD = 8  # statements remembered per person (the newest)
READ_TIMEOUT = 30.0


@dataclass
class Issued:
    step: str
    text: str


class SigningDesk:
    """Who may sign (from the plan in force) and the statements handed out."""

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.issued: dict[str, list[Issued]] = {}
        self._keys: tuple[str, dict[str, list[str]]] = ("", {})  # by the plan's sha256

    def person_of(self, key: asyncssh.SSHKey) -> str | None:
        """The person the plan in force lists this key for (read at each login: a revision
        that removes a key takes effect at once)."""
        from ..signoffs.verdict import plan_keys

        try:
            blob = parse_key(key.export_public_key("openssh").decode()).blob
            with JournalReader(self.journal) as reader:
                plan = reader.plan_payload()
            if self._keys[0] != plan.get("sha256"):
                self._keys = (str(plan.get("sha256")), plan_keys(plan))
            keys = self._keys[1]
        except (KeySyntaxError, Exception) as exc:  # a damaged journal must not open a door
            log.warning("signing keys unavailable: %s", type(exc).__name__)
            return None
        for person, lines in keys.items():
            for line in lines:
                try:
                    if parse_key(line).blob == blob:
                        return person
                except KeySyntaxError:
                    continue
        return None

    @staticmethod
    def is_signing_command(command: str | None) -> bool:
        return command is not None and command.split(" ", 1)[0] in ("statement", "signoff")

    async def run(self, process: asyncssh.SSHServerProcess[bytes], person: str) -> None:
        """Serve one `statement STEP` or `signoff STEP`; exit 0 when done, 1 with a sentence."""
        command = process.command or ""
        match = _COMMAND.fullmatch(command.strip())
        if match is None:
            return _fail(
                process,
                f"not a signing command: {inert(command, limit=80)} "
                "(run `statement STEP` or `signoff STEP`)",
            )
        verb, step = match.groups()
        if verb == "statement":
            try:
                result = await self._request(
                    "signoff_statement", {"step": step, "by": person}, person
                )
            except Exception as exc:
                return _fail(process, _message(exc))
            text = str(result["statement"])
            held = self.issued.setdefault(person, [])
            held.append(Issued(step, text))
            del held[:-HELD]
            process.stdout.write(text.encode())
            process.exit(0)
            return None
        signature = await _read_all(process)
        if signature is None:
            return _fail(process, "send the signature on stdin (ssh … signoff STEP < s.txt.sig)")
        candidates = [i for i in reversed(self.issued.get(person, [])) if i.step == step]
        if not candidates:
            return _fail(
                process,
                f"no statement was issued here to {person} for '{step}': "
                f"run `statement {step}` first, then sign it",
            )
        last: Exception | None = None
        for issued in candidates:  # the newest statement the signature is for
            args = {"step": step, "by": person, "statement": issued.text, "signature": signature}
            try:
                result = await self._request("signoff", args, person)
            except Exception as exc:
                last = exc
                if "does not match the statement" in str(exc):
                    continue  # signed another of the statements handed out: try it
                break
            event = result["event"]
            process.stdout.write(
                f"{step}: signed off by {person} as {event.get('role')}, signed with "
                f"{event.get('key')}; journaled as event {event['seq']} "
                f"({str(event['hash'])[:16]})\n".encode()
            )
            self.issued[person] = [i for i in self.issued[person] if i is not issued]
            process.exit(0)
            return None
        return _fail(process, _message(last) if last else "refused")

    async def _request(self, op: str, args: dict[str, Any], person: str) -> dict[str, Any]:
        from ..service.protocol import Request
        from ..service.routing import perform

        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(
            None, perform, self.journal, f"cutover serve ({person} signing)", Request(op, args)
        )
        log.info("%s %s for %s", op, args.get("step"), person)
        return outcome.result


async def _read_all(process: asyncssh.SSHServerProcess[bytes]) -> str | None:
    data = b""
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            while len(data) <= MAX_SIGNATURE:
                chunk = await process.stdin.read(4096)
                if not chunk:
                    break
                data += chunk
    except (TimeoutError, asyncssh.Error):
        return None
    if not data or len(data) > MAX_SIGNATURE:
        return None
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        return None


def _message(exc: BaseException) -> str:
    return inert(str(exc), limit=1000, multiline=True)


def _fail(process: asyncssh.SSHServerProcess[bytes], message: str) -> None:
    process.stderr.write(f"cutover: {message}\n".encode())
    process.exit(1)
