"""Signed checkpoints: a journal's head (SEQ:HASH) and the time, signed with the export key.

A checkpoint is a short plain-text note (in the spirit of C2SP's tlog-checkpoint) stored as
`checkpoints/SEQ.txt` with its SSH signature in `checkpoints/SEQ.txt.sig`, the SSHSIG of
`ssh-keygen -Y sign -n file`, so a client checks one with the bundle's allowed_signers:

    ssh-keygen -Y verify -f allowed_signers -I cutover-export -n file \\
        -s 000000000042.txt.sig < 000000000042.txt
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncssh

from ..journal.chain import Checkpoint
from ..report.bundle import NAMESPACE, PRINCIPAL, BundleProblem, _signature_key, _signed_by
from ..untrusted import inert

FOLDER = "checkpoints"
HEADER = "cutover-console checkpoint v1"
MAX_CHECKPOINT_BYTES = 4096
_NAME = re.compile(r"checkpoints/(\d{12})\.txt")
_TEXT = re.compile(
    r"cutover-console checkpoint v1\n"
    r"cutover ([a-z0-9][a-z0-9_.-]{0,63})\n"
    r"journal ([0-9a-f]{64})\n"
    r"head ([1-9][0-9]{0,11}):([0-9a-f]{64})\n"
    r"at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z)\n"
)


class CheckpointProblem(Exception):
    """A published checkpoint that cannot be trusted: names the object (terminal-safe)."""


@dataclass(frozen=True)
class PublishedCheckpoint:
    """A head of the journal whose first event hashes to `journal`, of cutover `cutover`."""

    cutover: str
    journal: str
    seq: int
    hash: str
    at: str  # when it was published, UTC (the journal's timestamp format)

    @property
    def head(self) -> Checkpoint:
        return Checkpoint(self.seq, self.hash)

    @property
    def name(self) -> str:
        return checkpoint_name(self.seq)

    def text(self) -> str:
        return (
            f"{HEADER}\ncutover {self.cutover}\njournal {self.journal}\n"
            f"head {self.seq}:{self.hash}\nat {self.at}\n"
        )

    @classmethod
    def parse(cls, name: str, data: bytes) -> PublishedCheckpoint:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointProblem(f"{inert(name)} is not UTF-8 text") from None
        match = _TEXT.fullmatch(text)
        if match is None:
            raise CheckpointProblem(
                f"{inert(name)} is not a checkpoint (expected the lines '{HEADER}', 'cutover ID', "
                "'journal HASH', 'head SEQ:HASH', 'at TIME')"
            )
        cutover, journal, seq, digest, at = match.groups()
        found = cls(cutover, journal, int(seq), digest, at)
        if checkpoint_seq(name) != found.seq:
            raise CheckpointProblem(f"{inert(name)} holds the checkpoint of event {found.seq}")
        return found

    def sign(self, key: asyncssh.SSHKey) -> bytes:
        return bytes(asyncssh.create_sshsig(key, self.text().encode(), namespace=NAMESPACE))


def checkpoint_name(seq: int) -> str:
    return f"{FOLDER}/{seq:012d}.txt"


def checkpoint_seq(name: str) -> int | None:
    match = _NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def signer_of(name: str, data: bytes, signature: bytes) -> str:
    """The fingerprint of the key that signed `data` (the key the SSHSIG carries, checked)."""
    try:
        key = _signature_key(f"{name}.sig", signature)
    except BundleProblem as exc:
        raise CheckpointProblem(str(exc)) from None
    public = key.export_public_key("openssh").decode().split()
    signers = asyncssh.import_allowed_signers(
        f'{PRINCIPAL} namespaces="{NAMESPACE}" {" ".join(public[:2])}'
    )
    if not _signed_by(data, signature, signers):
        raise CheckpointProblem(f"the signature of {inert(name)} does not verify")
    return str(key.get_fingerprint())
