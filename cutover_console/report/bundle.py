"""The export a client keeps, and its offline verification.

A bundle: `journal.sqlite` (a single-file copy, no -wal/-shm), `events.jsonl` (every event with
its hashes), `report.html`, `report.md`, `checkpoint.txt` (event count and head),
`manifest.sha256` (every file's SHA-256, `sha256sum -c` format), SSH signatures (SSHSIG,
`ssh-keygen -Y verify`) of the checkpoint and the manifest, `allowed_signers` and `VERIFY.md`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from ..journal import JournalReader
from ..journal.chain import Checkpoint, StoredRow, verify_rows
from ..keys import load_or_create_key
from ..runbook.fold import CutoverState
from .document import build
from .render import write_both

PRINCIPAL = "cutover-export"
NAMESPACE = "file"
SIGNED = ("checkpoint.txt", "manifest.sha256")
FILES = (
    "journal.sqlite",
    "events.jsonl",
    "report.html",
    "report.md",
    "checkpoint.txt",
    "allowed_signers",
    "VERIFY.md",
)


def signing_key(path: Path) -> asyncssh.SSHKey:
    """The exporter's key: an existing OpenSSH private key, or one generated once (0600)."""
    return load_or_create_key(path, "cutover-console export key")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export(
    journal: Path,
    out: Path,
    key: asyncssh.SSHKey,
    progress: Callable[[str, int, int], None] | None = None,
) -> Checkpoint:
    """Write the bundle; returns the checkpoint it signs."""
    out.mkdir(parents=True, exist_ok=True)
    tick = progress or (lambda _what, _done, _total: None)
    with JournalReader(journal) as reader:
        head = reader.head()
        assert head is not None
        copy = out / "journal.sqlite"
        if copy.exists():
            copy.unlink()
        tick("copying the journal", 0, head.seq)
        # VACUUM INTO writes only the new file; the reader's query_only forbids it, so a plain
        # read-only connection makes the copy.
        source = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
        try:
            source.execute("VACUUM INTO ?", (str(copy),))
        finally:
            source.close()
        events = []
        with (out / "events.jsonl").open("w", encoding="utf-8") as handle:
            for count, event in enumerate(reader.events(), start=1):
                events.append(event)
                handle.write(
                    json.dumps(
                        event.as_json(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
                    )
                    + "\n"
                )
                if count % 10000 == 0:
                    tick("writing events", count, head.seq)
        state = CutoverState.from_events(events)
    tick("writing the report", head.seq, head.seq)
    write_both(build(state, events), out)
    (out / "checkpoint.txt").write_text(f"{head}\nevents {head.seq}\n", encoding="utf-8")
    public = key.export_public_key("openssh").decode().strip()
    (out / "allowed_signers").write_text(f'{PRINCIPAL} namespaces="{NAMESPACE}" {public}\n')
    (out / "VERIFY.md").write_text(verify_text(head, key.get_fingerprint()), encoding="utf-8")
    manifest = "".join(f"{sha256_file(out / name)}  {name}\n" for name in FILES)
    (out / "manifest.sha256").write_text(manifest, encoding="utf-8")
    for name in SIGNED:
        signature = asyncssh.create_sshsig(key, (out / name).read_bytes(), namespace=NAMESPACE)
        (out / f"{name}.sig").write_bytes(signature)
    return head


def verify_text(head: Checkpoint, fingerprint: str) -> str:
    return f"""# Verifying this export

Signed by the key `{fingerprint}`; compare it with the fingerprint you were given out of band.
Journal checkpoint: `{head}`.

## With Cutover Console

    cutover verify .  --signer-fingerprint {fingerprint}

## With OpenSSH and sqlite3 only

    ssh-keygen -Y verify -f allowed_signers -I {PRINCIPAL} -n {NAMESPACE} \\
        -s manifest.sha256.sig < manifest.sha256
    ssh-keygen -Y verify -f allowed_signers -I {PRINCIPAL} -n {NAMESPACE} \\
        -s checkpoint.txt.sig < checkpoint.txt
    sha256sum -c manifest.sha256
    sqlite3 journal.sqlite "PRAGMA integrity_check"
    sqlite3 journal.sqlite "SELECT seq || ':' || hash FROM events ORDER BY seq DESC LIMIT 1"

The last line must print the first line of checkpoint.txt. The signatures cover the manifest,
the manifest covers every file, and the journal's last event is the signed head.
"""


@dataclass
class BundleReport:
    ok: bool
    problem: str = ""
    signer: str = ""
    head: str = ""


def verify_bundle(bundle: Path, signer_fingerprint: str | None = None) -> BundleReport:
    """Signatures, every file's hash, the chain in SQLite and in JSON Lines, and that they agree."""

    def fail(problem: str) -> BundleReport:
        return BundleReport(False, problem)

    for name in (*FILES, "manifest.sha256", *(f"{n}.sig" for n in SIGNED)):
        if not (bundle / name).exists():
            return fail(f"{name} is missing")
    try:
        signers = asyncssh.import_allowed_signers((bundle / "allowed_signers").read_text())
    except (ValueError, asyncssh.KeyImportError) as exc:
        return fail(f"allowed_signers cannot be read: {exc}")
    words = (bundle / "allowed_signers").read_text().split()
    at = next((i for i, w in enumerate(words) if w.startswith(("ssh-", "ecdsa-", "sk-"))), None)
    if at is None or at + 1 >= len(words):
        return fail("allowed_signers holds no public key")
    signer = asyncssh.import_public_key(f"{words[at]} {words[at + 1]}").get_fingerprint()
    if signer_fingerprint is not None and signer != signer_fingerprint:
        return fail(f"signed by {signer}, not by the expected {signer_fingerprint}")
    for name in SIGNED:
        try:
            valid = asyncssh.validate_sshsig(
                (bundle / name).read_bytes(),
                (bundle / f"{name}.sig").read_bytes(),
                PRINCIPAL,
                signers,
            )
        except (ValueError, asyncssh.KeyImportError) as exc:
            valid, _ = False, exc
        if not valid:
            return fail(f"the signature of {name} does not verify")
    listed = {}
    for line in (bundle / "manifest.sha256").read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    if set(listed) != set(FILES):
        return fail("manifest.sha256 does not list exactly the bundle's files")
    for name, digest in listed.items():
        if sha256_file(bundle / name) != digest:
            return fail(f"{name} does not match its SHA-256 in the manifest")
    checkpoint = Checkpoint.parse((bundle / "checkpoint.txt").read_text().splitlines()[0])
    conn = sqlite3.connect(f"file:{bundle / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return fail("journal.sqlite fails SQLite's integrity_check")
        rows = [
            StoredRow(*r)
            for r in conn.execute(
                "SELECT seq, ts, actor, os_user, kind, step, payload, v, idem, prev, hash "
                "FROM events ORDER BY rowid"
            )
        ]
    finally:
        conn.close()
    chain = verify_rows(rows, checkpoint)
    if not chain.ok:
        return fail(f"journal.sqlite: {chain.problem}")
    lines = (bundle / "events.jsonl").read_text(encoding="utf-8").splitlines()
    json_rows = []
    for number, line in enumerate(lines, start=1):
        try:
            e = json.loads(line)
            json_rows.append(
                StoredRow(
                    e["seq"],
                    e["ts"],
                    e["actor"],
                    e["os_user"],
                    e["kind"],
                    e["step"],
                    json.dumps(
                        e["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
                    ),
                    e["v"],
                    e["idem"],
                    e["prev"],
                    e["hash"],
                )
            )
        except (ValueError, KeyError, TypeError):
            return fail(f"events.jsonl line {number} is not an event")
    chain = verify_rows(json_rows, checkpoint)
    if not chain.ok:
        return fail(f"events.jsonl: {chain.problem}")
    if [(r.seq, r.hash) for r in rows] != [(r.seq, r.hash) for r in json_rows]:
        return fail("journal.sqlite and events.jsonl disagree")
    return BundleReport(True, signer=signer, head=str(checkpoint))
