"""People's SSH public keys in the plan (`people[].keys`): inline OpenSSH lines or `file:PATH`.

Parsed here without asyncssh (a key line is an algorithm name and a base64 blob whose first SSH
string repeats that name), so `cutover check` and every fold stay quick. A `file:` reference is
read relative to the plan file when the plan is loaded from a file; the journal records the keys
it resolved to (the plan event's `plan.keys`), so a sign-off verifies where the file is absent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path as FsPath

from ..untrusted import inert
from .model import Plan
from .problems import PlanProblem
from .yaml_source import SourceMap

ALGORITHMS = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
MAX_KEY_FILE = 16 << 10  # a .pub is one line; an authorized_keys-sized file is a mistake


class KeySyntaxError(ValueError):
    """Text that is not one OpenSSH public key line; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """One OpenSSH public key, without its comment."""

    algorithm: str
    blob: bytes

    @property
    def line(self) -> str:
        return f"{self.algorithm} {base64.b64encode(self.blob).decode()}"

    @property
    def fingerprint(self) -> str:
        """`SHA256:…`, as ssh-keygen -l prints it."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")
        return f"SHA256:{digest}"


def parse_key(text: str) -> PublicKey:
    """`ALGORITHM BASE64 [comment]` → PublicKey; KeySyntaxError names what is wrong."""
    fields = text.strip().split()
    if len(fields) < 2:
        raise KeySyntaxError("expected an OpenSSH public key line ('ssh-ed25519 AAAA… comment')")
    algorithm, encoded = fields[0], fields[1]
    if algorithm not in ALGORITHMS:
        raise KeySyntaxError(
            f"'{inert(algorithm, limit=40)}' is not a public key type "
            f"(one of: {', '.join(sorted(ALGORITHMS))})"
        )
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise KeySyntaxError("the key's base64 is damaged") from None
    size = int.from_bytes(blob[:4], "big")
    if len(blob) < 4 + size or blob[4 : 4 + size] != algorithm.encode():
        raise KeySyntaxError(f"the key's data is not a {algorithm} key")
    return PublicKey(algorithm, blob)


def resolve(
    plan: Plan, plan_file: str | None, source: SourceMap | None = None
) -> tuple[dict[str, list[str]], list[PlanProblem]]:
    """Each person's keys (as `ALGORITHM BASE64` lines) and the problems found: an unreadable
    key, a `file:` that cannot be read (only when the plan came from a file), a key listed for
    two people."""
    base = FsPath(plan_file).parent if plan_file is not None else None
    out: dict[str, list[str]] = {}
    problems: list[PlanProblem] = []
    owner: dict[bytes, str] = {}

    def problem(path: tuple[str | int, ...], message: str, hint: str = "") -> None:
        if source is not None:
            problems.append(source.problem(path, message, hint))

    for p_index, person in enumerate(plan.people):
        for k_index, entry in enumerate(person.keys):
            here = ("people", p_index, "keys", k_index)
            text = entry
            if entry.startswith("file:"):
                if base is None:
                    continue  # from a journal: the resolved keys come with the plan event
                path = base / entry[5:]
                try:
                    with path.open("rb") as handle:
                        raw = handle.read(MAX_KEY_FILE + 1)
                    text = raw.decode("utf-8") if len(raw) <= MAX_KEY_FILE else ""
                except (OSError, UnicodeDecodeError) as exc:
                    why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                    problem(
                        here,
                        f"cannot read the key file {inert(entry[5:], limit=80)}: {why}",
                        "give the path of a .pub file, relative to the plan",
                    )
                    continue
                lines = [line for line in text.splitlines() if line.strip()]
                if len(lines) != 1:
                    problem(
                        here, f"{inert(entry[5:], limit=80)} must hold exactly one public key line"
                    )
                    continue
                text = lines[0]
            try:
                key = parse_key(text)
            except KeySyntaxError as exc:
                problem(here, str(exc), "paste the whole line of the .pub file, or use file:PATH")
                continue
            first = owner.setdefault(key.blob, person.id)
            if first != person.id:
                problem(
                    here,
                    f"this key ({key.fingerprint}) is also listed for '{first}'",
                    "a key belongs to one person: a shared key cannot tell who signed",
                )
                continue
            out.setdefault(person.id, []).append(key.line)
    return out, problems
