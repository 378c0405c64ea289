"""The statement a signer signs: one canonical text per sign-off, stable across versions.

    cutover-console sign-off v1
    cutover weekend-2026
    journal 3f1c…(64 hex: the hash of the journal's first event)
    step go-no-go
    role client-observer
    person cleo
    evidence sha256:9a0e…(64 hex: the gate evidence frozen for this sign-off)
    head 412:77be…(the journal's head when the statement was issued)
    nonce 5d2a…(48 hex, from the journal service)
    issued 2026-12-07T06:52:03Z

Ten lines, each `name value`, in this order, UTF-8, LF-terminated, nothing else. It is signed
with `ssh-keygen -Y sign -n sign-off@cutover-console`. The format is documented in the README;
a change to it is a new first line (v2), and v1 statements keep verifying.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..plan.model import Plan, Step

NAMESPACE = "sign-off@cutover-console"
HEADER = "cutover-console sign-off v1"
MAX_STATEMENT = 2048
_ID = r"[a-z0-9][a-z0-9_.-]{0,63}"
_HEX = r"[0-9a-f]{64}"
_TEXT = re.compile(
    rf"cutover-console sign-off v1\n"
    rf"cutover ({_ID})\n"
    rf"journal ({_HEX})\n"
    rf"step ({_ID})\n"
    rf"role ({_ID})\n"
    rf"person ({_ID})\n"
    rf"evidence sha256:({_HEX})\n"
    rf"head ([1-9][0-9]{{0,11}}):({_HEX})\n"
    rf"nonce ([0-9a-f]{{48}})\n"
    rf"issued (\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\n"
)


class StatementInvalid(ValueError):
    """Text that is not a sign-off statement."""


@dataclass(frozen=True, slots=True)
class Statement:
    cutover: str
    journal: str
    step: str
    role: str
    person: str
    evidence: str  # hex SHA-256 of the frozen gate evidence
    head_seq: int
    head_hash: str
    nonce: str
    issued: str  # UTC, YYYY-MM-DDTHH:MM:SSZ

    def text(self) -> str:
        return (
            f"{HEADER}\ncutover {self.cutover}\njournal {self.journal}\nstep {self.step}\n"
            f"role {self.role}\nperson {self.person}\nevidence sha256:{self.evidence}\n"
            f"head {self.head_seq}:{self.head_hash}\nnonce {self.nonce}\nissued {self.issued}\n"
        )

    @property
    def issued_at(self) -> datetime:
        return datetime.strptime(self.issued, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    @classmethod
    def parse(cls, data: bytes | str) -> Statement:
        """A statement from its exact text; StatementInvalid when it is anything else."""
        if isinstance(data, bytes):
            if len(data) > MAX_STATEMENT:
                raise StatementInvalid("it is longer than any sign-off statement")
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise StatementInvalid("it is not UTF-8 text") from None
        match = _TEXT.fullmatch(data) if len(data) <= MAX_STATEMENT else None
        if match is None:
            raise StatementInvalid(
                f"it is not a sign-off statement (ten lines, the first '{HEADER}')"
            )
        g = match.groups()
        return cls(g[0], g[1], g[2], g[3], g[4], g[5], int(g[6]), g[7], g[8], g[9])


def issued_now(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def evidence_digest(evidence: dict[str, Any]) -> str:
    """SHA-256 of the gate evidence a sign-off freezes, as canonical JSON."""
    text = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def signature_required(plan: Plan, step: Step) -> bool:
    """`signoffs: signed` on the step, or on the cutover unless the step says `recorded`."""
    mode = step.signoffs or plan.cutover.signoffs
    return mode == "signed"
