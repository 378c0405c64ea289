"""The export a client keeps, and its offline verification.

A bundle: `journal.sqlite` (a single-file copy, no -wal/-shm), `events.jsonl` (every event with
its hashes), `report.html`, `report.md`, `checkpoint.txt` (event count and head),
`manifest.sha256` (every file's SHA-256, `sha256sum -c` format), SSH signatures (SSHSIG,
`ssh-keygen -Y verify`) of the checkpoint and the manifest, `allowed_signers` and `VERIFY.md`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import asyncssh

from ..journal import JournalReader
from ..journal import events as ev
from ..journal.chain import (
    MAX_PAYLOAD_VALUES,
    Checkpoint,
    Event,
    StoredRow,
    canonical_json,
    json_values,
    jsonl_line,
    verify_rows,
)
from ..journal.store import APPLICATION_ID
from ..keys import UnsafeKeyFile, check_own_key, load_or_create_key
from ..runbook.archive_record import ArchiveRecord
from ..runbook.fold import CutoverState
from ..signoffs import sshsig
from ..untrusted import LINE_LIMIT, clip, inert
from .document import build
from .render import html_document, markdown, write_both
from .signoff_files import FOLDER, SignOffFilesProblem, signoff_files, verify_section
from .signoff_files import MAX_FILES as MAX_SIGNOFF_FILES

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
    """The exporter's key: an existing OpenSSH private key of this user's (0600), or one generated
    once. BundleProblem (a sentence) when it cannot be used."""
    try:
        check_own_key(path)
        return load_or_create_key(path, "cutover-console export key")
    except (UnsafeKeyFile, OSError, asyncssh.KeyImportError) as exc:
        raise BundleProblem(f"cannot use the export key {path}: {exc}") from None


def refuse_another_key(reader: JournalReader, key: asyncssh.SSHKey) -> None:
    """A bundle is signed by the key that signed the checkpoints its witness holds (the journal
    says which: its archive.published events), or it is not written: `verify --witness` could
    only fail it, for a key and not for its history."""
    rows = reader.conn.execute(
        "SELECT DISTINCT json_extract(payload, '$.signer') FROM events WHERE kind = ?",
        (ev.ARCHIVE_PUBLISHED,),
    ).fetchall()
    signers = {str(r[0]) for r in rows if isinstance(r[0], str)} - {str(key.get_fingerprint())}
    if signers:
        raise BundleProblem(
            f"the witness's checkpoints were signed by {', '.join(sorted(signers))}; this export "
            f"would be signed by {key.get_fingerprint()}: not mixing two keys. Export with the "
            "key that signed them (by default the export_signing_key beside the journal), or "
            "pass it with --sign-key"
        )


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return sha256_stream(handle)


def sha256_stream(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
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
        refuse_another_key(reader, key)
        copy = out / "journal.sqlite"
        # a stale -journal or -wal beside the copy would be applied to it (and refused by verify)
        for stale in (copy, *(out / f"journal.sqlite{s}" for s in ("-journal", "-wal", "-shm"))):
            stale.unlink(missing_ok=True)
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
    signoffs, found = signoff_files(events)
    if signoffs:
        (out / FOLDER).mkdir(exist_ok=True)
    for name, data in signoffs.items():
        (out / name).write_bytes(data)
    (out / "checkpoint.txt").write_text(f"{head}\nevents {head.seq}\n", encoding="utf-8")
    public = key.export_public_key("openssh").decode().strip()
    (out / "allowed_signers").write_text(f'{PRINCIPAL} namespaces="{NAMESPACE}" {public}\n')
    (out / "VERIFY.md").write_text(
        verify_text(head, key.get_fingerprint(), state.archive, verify_section(found)),
        encoding="utf-8",
    )
    manifest = "".join(f"{sha256_file(out / name)}  {name}\n" for name in (*FILES, *signoffs))
    (out / "manifest.sha256").write_text(manifest, encoding="utf-8")
    for name in SIGNED:
        signature = asyncssh.create_sshsig(key, (out / name).read_bytes(), namespace=NAMESPACE)
        (out / f"{name}.sig").write_bytes(signature)
    return head


# What one verification may read, so that no input makes it run long or use much memory (each
# limit is checked before the work it bounds). At these limits, 150,000 events of the usual mix
# (52 MB of journal) verify in 4.4 s of CPU with 326 MB; with JSON bombs filling the rest of the
# values budget, 433 MB; the slowest refusal (events.jsonl differing from its first line, all
# of it parsed) takes 5.8 s (docs/benchmarks.md, "Verifier under attack").
MAX_EVENTS = 150_000
MAX_SIZE = {"journal.sqlite": 64 << 20, "events.jsonl": 64 << 20}
MAX_REPORT = 32 << 20
MAX_SMALL = 64 << 10  # signatures, allowed_signers, checkpoint, manifest, VERIFY.md
MAX_VALUE = 16 << 20  # one stored value, one line of events.jsonl
MAX_JSON_VALUES = 2_500_000  # kept parsed, all payloads together (chain.MAX_PAYLOAD_VALUES)
MAX_ENTRIES = 64
_REPORTS = ("report.md", "report.html")
BUNDLE = (*FILES, "manifest.sha256", *(f"{name}.sig" for name in SIGNED))
_COLUMNS = ("seq", "ts", "actor", "os_user", "kind", "step", "payload", "v", "idem", "prev", "hash")
_SIDE_FILES = {
    "-journal": "a SQLite rollback journal",
    "-wal": "a SQLite write-ahead log",
    "-shm": "a SQLite shared-memory index",
}


def verify_text(
    head: Checkpoint, fingerprint: str, archive: ArchiveRecord | None = None, signoffs: str = ""
) -> str:
    names = " ".join(sorted(BUNDLE, key=str.lower))
    folder = f" and the folder `{FOLDER}/` (signed sign-offs, below)" if signoffs else ""
    return (
        _VERIFY.format(
            folder=folder,
            head=head,
            count=head.seq,
            fingerprint=fingerprint,
            PRINCIPAL=PRINCIPAL,
            NAMESPACE=NAMESPACE,
            files=len(BUNDLE),
            names=names,
            witness=_witness_text(archive, fingerprint),
        )
        + signoffs
    )


def _witness_text(archive: ArchiveRecord | None, fingerprint: str) -> str:
    """VERIFY.md's witness section: the latest checkpoint the journal says it published, where,
    and the commands that check the bundle against all of them."""
    if archive is None or not archive.latest_seq:
        return ""
    where = inert(archive.location, limit=600)
    return f"""
## Against the witness

While the cutover ran, signed checkpoints were published where nobody (the key holder
included) can change them: S3 with Object Lock in compliance mode. The latest this journal
records is `{inert(archive.latest, limit=200)}`, published {inert(archive.latest_at, limit=60)},
in `{where}`. Only a witness shows that history was not rewritten, cut or extended and then
re-signed with the real key:

    cutover verify . --signer-fingerprint {fingerprint} --witness {where}

Offline, with a copy of the prefix (`aws s3 cp --recursive {where} witness/`), pass
`--witness witness/`. Each checkpoint there is checked with OpenSSH alone too:

    ssh-keygen -Y verify -f allowed_signers -I {PRINCIPAL} -n {NAMESPACE} \\
        -s witness/checkpoints/SEQ.txt.sig < witness/checkpoints/SEQ.txt

Its `head SEQ:HASH` line must be the event SEQ of journal.sqlite.
"""


_VERIFY = """# Verifying this export

Signed by the key `{fingerprint}`; compare it with the fingerprint you were given out of band.
Journal checkpoint: `{head}` ({count} events).

## With Cutover Console

    cutover verify . --signer-fingerprint {fingerprint} --expect-head SEQ:HASH

`--expect-head` takes a checkpoint you wrote down during the cutover (the head shown on screen
or quoted in a status update). Only that shows that the history up to it was not rewritten or
cut off since: whoever holds the key can re-sign anything.

## With OpenSSH, coreutils and sqlite3 only

In this directory, in this order; stop at the first step that fails:

    ls -lA
    ssh-keygen -Y verify -f allowed_signers -I {PRINCIPAL} -n {NAMESPACE} \\
        -s manifest.sha256.sig < manifest.sha256
    ssh-keygen -Y verify -f allowed_signers -I {PRINCIPAL} -n {NAMESPACE} \\
        -s checkpoint.txt.sig < checkpoint.txt
    sha256sum -c manifest.sha256
    sqlite3 'file:journal.sqlite?immutable=1' "PRAGMA integrity_check"
    sqlite3 'file:journal.sqlite?immutable=1' \\
        "SELECT seq || ':' || hash FROM events ORDER BY seq DESC LIMIT 1"

`ls -lA` must list exactly these {files} files, all plain files (no `->`): {names}{folder}.
Each `ssh-keygen` must say "Good" and name the fingerprint you were given (allowed_signers
travels with the bundle, so only the fingerprint says whose key signed). `sha256sum -c` must
say OK for every file. The last command must print the first line of checkpoint.txt.

Why `immutable=1`: SQLite applies a rollback journal (`journal.sqlite-journal`) or a
write-ahead log (`journal.sqlite-wal`) that it finds beside a database. A plain
`sqlite3 journal.sqlite` would replay such a file, which is not covered by the manifest, and
show (and write into the file) whatever it holds, even after `sha256sum -c` passed. An export
never has these files; `file:journal.sqlite?immutable=1` makes SQLite read the signed file as
it is and never look beside it. Open the journal that way with any tool (sqlite-utils,
Datasette), or copy journal.sqlite alone into an empty directory first.
{witness}"""


class BundleProblem(Exception):
    """Why a bundle does not verify: one sentence naming the file and what is wrong with it.
    `usage`: the path is no bundle at all (exit 2, like any bad input)."""

    def __init__(self, problem: str, *, usage: bool = False) -> None:
        super().__init__(problem)
        self.usage = usage


@dataclass
class BundleReport:
    ok: bool
    problem: str = ""
    signer: str = ""
    head: str = ""
    events: int = 0
    after_expected: int | None = None  # events after the --expect-head checkpoint
    usage: bool = False


def verify_bundle(
    bundle: Path, signer_fingerprint: str | None = None, expect: Checkpoint | None = None
) -> BundleReport:
    """Everything a bundle claims, in an order that trusts nothing before it is checked: the
    directory holds exactly the bundle's regular files; the signatures are by the key they
    carry (and that key is the expected one and the one allowed_signers names); every file
    matches the signed manifest; the journal (opened immutable) and events.jsonl hold the same
    intact chain, ending at the signed checkpoint and containing `expect`; the reports and
    VERIFY.md are exactly what the journal and the key give. Messages are terminal-safe."""
    collecting = gc.isenabled()
    # a million objects and no cycles: collecting would rescan them, 30 % of the time
    gc.disable()
    try:
        report = _verify(bundle, signer_fingerprint, expect)
    except BundleProblem as exc:
        report = BundleReport(False, str(exc), usage=exc.usage)
    except OSError as exc:  # the disk, not the bundle: still nothing to vouch for
        report = BundleReport(False, f"{exc.filename or bundle} cannot be read: {exc.strerror}")
    except Exception as exc:  # a hostile input this code did not foresee: never a pass
        report = BundleReport(
            False, f"the bundle cannot be verified: {type(exc).__name__}: {clip(str(exc), 300)}"
        )
    finally:
        if collecting:
            gc.enable()
    report.problem = inert(report.problem, limit=LINE_LIMIT)
    return report


def _verify(bundle: Path, fingerprint: str | None, expect: Checkpoint | None) -> BundleReport:
    stats = _inventory(bundle)
    small = {
        name: _read(bundle, name, MAX_SMALL, stats[name])
        for name in (*SIGNED, *(f"{n}.sig" for n in SIGNED), "allowed_signers", "VERIFY.md")
    }
    signer = _check_signatures(small, fingerprint)
    reports = {name: _read(bundle, name, MAX_REPORT, stats[name]) for name in _REPORTS}
    held_signoffs = {
        name: _read(bundle, name, MAX_SMALL, stats[name]) for name in stats if "/" in name
    }
    _check_manifest(bundle, small["manifest.sha256"], {**small, **reports, **held_signoffs}, stats)
    signed = _checkpoint(small["checkpoint.txt"])
    rows = _journal_rows(bundle, stats["journal.sqlite"])
    with _open(bundle, "events.jsonl", stats["events.jsonl"]) as handle:
        replay = _Replay(handle)
        chain = verify_rows(rows, expect, ends_at=signed, on_intact=replay)
        if not chain.ok:
            raise BundleProblem(f"journal.sqlite: {chain.problem}")
        differs_at = replay.differs_at or (len(rows) + 1 if handle.read(1) else None)
    if differs_at is not None:
        # the lines before `differs_at` are these rows, byte for byte: only the rest is parsed
        same, offset = rows[: differs_at - 1], replay.offset
        del rows, replay  # the events' memory goes to the explanation
        raise _jsonl_problem(bundle, same, offset, signed, expect)
    del rows  # the events share their strings; the rows' own memory goes to the reports
    _check_rebuilt(replay.events, reports, small["VERIFY.md"], signed, signer, held_signoffs)
    for name in ("journal.sqlite", "events.jsonl"):  # what was hashed is what was read
        try:
            same_file = _identity(os.lstat(bundle / name)) == _identity(stats[name])
        except OSError:
            same_file = False
        if not same_file:
            raise BundleProblem(f"{name} changed while it was being verified")
    return BundleReport(
        True,
        signer=signer,
        head=str(signed),
        events=signed.seq,
        after_expected=None if expect is None else signed.seq - expect.seq,
    )


def _inventory(bundle: Path) -> dict[str, os.stat_result]:
    """The directory's entries (not followed), checked before any is opened: exactly the
    bundle's files, each a regular file within its size limit."""
    found: dict[str, os.stat_result] = {}
    try:
        with os.scandir(bundle) as entries:
            for entry in entries:
                if len(found) > MAX_ENTRIES:
                    break
                found[entry.name] = entry.stat(follow_symlinks=False)
    except OSError as exc:
        raise BundleProblem(f"{inert(bundle)} cannot be read: {exc.strerror}") from None
    if not found.keys() & set(BUNDLE):
        raise BundleProblem(
            f"{inert(bundle)} is not a bundle: it holds none of {', '.join(BUNDLE)}", usage=True
        )
    if len(found) > MAX_ENTRIES:
        raise BundleProblem(
            f"{inert(bundle)} holds more than {MAX_ENTRIES} entries; a bundle holds "
            f"{len(BUNDLE)} files"
        )
    beside = sorted(name for name in found if name.startswith("journal.sqlite-"))
    if beside:
        named = ", ".join(
            f"{inert(name)} ("
            f"{_SIDE_FILES.get(name.removeprefix('journal.sqlite'), 'a SQLite side file')})"
            for name in beside[:5]
        )
        raise BundleProblem(
            f"{named} {'is' if len(beside) == 1 else 'are'} beside journal.sqlite: an export "
            "never has one, and SQLite would apply it to the journal in place of the signed "
            "content (open the journal only with immutable=1)"
        )
    for name in BUNDLE:  # a symlink is named even if its target is an extra file
        if name not in found:
            continue
        mode = found[name].st_mode
        if stat.S_ISLNK(mode):
            raise BundleProblem(f"{name} is a symlink; a bundle holds only regular files")
        if not stat.S_ISREG(mode):
            raise BundleProblem(f"{name} is not a regular file")
        limit = MAX_SIZE.get(name, MAX_REPORT if name in _REPORTS else MAX_SMALL)
        if found[name].st_size > limit:
            raise BundleProblem(
                f"{name} is {found[name].st_size:,} bytes, more than this verifier reads "
                f"({limit:,}): not an export it can vouch for"
            )
    if FOLDER in found:
        found.pop(FOLDER)
        found.update(_signoff_inventory(bundle))
    extra = sorted(name for name in found.keys() - set(BUNDLE) if "/" not in name)
    if extra:
        shown = ", ".join(inert(name) for name in extra[:5])
        raise BundleProblem(
            f"the bundle holds file(s) that are not part of an export: {shown}"
            + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        )
    missing = [name for name in BUNDLE if name not in found]
    if missing:
        raise BundleProblem(f"{missing[0]} is missing")
    return found


def _signoff_inventory(bundle: Path) -> dict[str, os.stat_result]:
    """`signoffs/`: a real folder of regular files, each small (what they hold is checked
    against the journal later)."""
    folder = bundle / FOLDER
    if not stat.S_ISDIR(os.lstat(folder).st_mode):
        raise BundleProblem(f"{FOLDER} is not a folder (a symlink?); a bundle holds only its own")
    found: dict[str, os.stat_result] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if len(found) > MAX_SIGNOFF_FILES:
                    raise BundleProblem(f"{FOLDER}/ holds more files than an export writes")
                found[f"{FOLDER}/{entry.name}"] = entry.stat(follow_symlinks=False)
    except OSError as exc:
        raise BundleProblem(f"{FOLDER}/ cannot be read: {exc.strerror}") from None
    for name, st in found.items():
        if not stat.S_ISREG(st.st_mode):
            raise BundleProblem(f"{inert(name)} is not a regular file")
        if st.st_size > MAX_SMALL:
            raise BundleProblem(f"{inert(name)} is larger than any sign-off file")
    return found


def _identity(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _open(bundle: Path, name: str, expected: os.stat_result) -> BinaryIO:
    """The bundle's file itself: never through a symlink, never a FIFO or device, and the same
    file the inventory saw."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(bundle / name, flags)
    except OSError as exc:
        raise BundleProblem(f"{name} cannot be read: {exc.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (
        expected.st_dev,
        expected.st_ino,
    ):
        os.close(fd)
        raise BundleProblem(f"{name} changed while it was being verified")
    return os.fdopen(fd, "rb")


def _read(bundle: Path, name: str, limit: int, expected: os.stat_result) -> bytes:
    with _open(bundle, name, expected) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise BundleProblem(f"{name} cannot be read: {exc.strerror}") from None
    if len(data) > limit:
        raise BundleProblem(f"{name} is larger than this verifier reads ({limit:,} bytes)")
    return data


def _check_signatures(files: dict[str, bytes], expected: str | None) -> str:
    """The signer is the key inside the signatures, not whatever allowed_signers says; returns
    its fingerprint."""
    keys = [_signature_key(f"{name}.sig", files[f"{name}.sig"]) for name in SIGNED]
    if keys[0] != keys[1]:
        raise BundleProblem(f"{SIGNED[0]}.sig and {SIGNED[1]}.sig are made by different keys")
    key = keys[0]
    signer: str = key.get_fingerprint()
    if expected is not None and signer != expected.strip():
        raise BundleProblem(f"signed by {signer}, not by the expected {inert(expected)}")
    public = key.export_public_key("openssh").decode().split()
    own = asyncssh.import_allowed_signers(
        f'{PRINCIPAL} namespaces="{NAMESPACE}" {" ".join(public[:2])}'
    )
    for name in SIGNED:
        if not _signed_by(files[name], files[f"{name}.sig"], own):
            raise BundleProblem(f"the signature of {name} does not verify")
    try:
        text = files["allowed_signers"].decode("utf-8")
        lines = [line for line in text.splitlines() if line.strip()]
        listed = asyncssh.import_allowed_signers(text) if len(lines) == 1 else None
    except (UnicodeDecodeError, ValueError, asyncssh.KeyImportError):
        raise BundleProblem("allowed_signers cannot be read as an allowed signers file") from None
    if listed is None or lines[0].lstrip().startswith("#"):
        raise BundleProblem(
            f"allowed_signers must name exactly one signer, the key that made the signatures "
            f"({signer}); it has {len(lines)} non-blank line(s)"
        )
    for name in SIGNED:
        if not _signed_by(files[name], files[f"{name}.sig"], listed):
            raise BundleProblem(
                f"the signature of {name} does not verify against allowed_signers: it was made "
                f"by {signer}, which allowed_signers does not name for {PRINCIPAL} and the "
                f"namespace {NAMESPACE}"
            )
    return signer


def _signed_by(data: bytes, signature: bytes, signers: Any) -> bool:
    try:
        return bool(asyncssh.validate_sshsig(data, signature, PRINCIPAL, signers))
    except (ValueError, asyncssh.KeyImportError):  # e.g. a hash algorithm SSHSIG does not know
        return False


def _signature_key(name: str, armored: bytes) -> asyncssh.SSHKey:
    """The public key an SSHSIG (`ssh-keygen -Y sign`) carries; checked against the data later."""
    try:
        sig = sshsig.parse(armored)
    except sshsig.SignatureInvalid as exc:
        if "certificate" in str(exc):
            raise BundleProblem(
                f"{name} is made with a certificate; an export is signed by a key"
            ) from None
        raise BundleProblem(
            f"{name} is not an SSH signature (the format of ssh-keygen -Y sign)"
        ) from None
    if sig.namespace != NAMESPACE:
        raise BundleProblem(
            f"{name} is a signature for another purpose (namespace not '{NAMESPACE}')"
        )
    try:
        return asyncssh.import_public_key(sig.key.line)
    except (asyncssh.KeyImportError, ValueError):
        raise BundleProblem(
            f"{name} is not an SSH signature (the format of ssh-keygen -Y sign)"
        ) from None


_MANIFEST_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")


def _check_manifest(
    bundle: Path, manifest: bytes, read: dict[str, bytes], stats: dict[str, os.stat_result]
) -> None:
    listed: dict[str, str] = {}
    try:
        lines = manifest.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise BundleProblem("manifest.sha256 is not UTF-8 text") from None
    for number, line in enumerate(lines, start=1):
        match = _MANIFEST_LINE.fullmatch(line)
        if match is None or match.group(2) in listed:
            raise BundleProblem(f"manifest.sha256 line {number} is not 'SHA256  NAME' of a file")
        listed[match.group(2)] = match.group(1)
    if set(listed) != {*FILES, *(name for name in stats if "/" in name)}:
        raise BundleProblem("manifest.sha256 does not list exactly the bundle's files")
    for name, digest in listed.items():
        if name in read:
            actual = hashlib.sha256(read[name]).hexdigest()
        else:
            with _open(bundle, name, stats[name]) as handle:
                actual = sha256_stream(handle)
        if actual != digest:
            raise BundleProblem(f"{name} does not match its SHA-256 in the manifest")


def _checkpoint(data: bytes) -> Checkpoint:
    """checkpoint.txt exactly as the exporter writes it: `SEQ:HASH`, then `events SEQ`."""
    text = data.decode("utf-8", errors="replace")
    try:
        checkpoint = Checkpoint.parse(text.partition("\n")[0])
    except ValueError:
        checkpoint = None
    if checkpoint is None or text != f"{checkpoint}\nevents {checkpoint.seq}\n":
        raise BundleProblem(
            "checkpoint.txt is not a checkpoint: it must be a line SEQ:HASH (64 hex digits) "
            "and a line 'events SEQ'"
        )
    return checkpoint


def _journal_rows(bundle: Path, expected: os.stat_result) -> list[StoredRow]:
    """The events table of journal.sqlite, read immutable: SQLite never looks for a -journal or
    -wal beside it, never writes, and a crafted schema runs nothing of its own."""
    path = bundle / "journal.sqlite"
    with _open(bundle, "journal.sqlite", expected) as handle:
        header = handle.read(100)
    if not header:
        raise BundleProblem("journal.sqlite is empty, not an SQLite database")
    if len(header) < 100 or not header.startswith(b"SQLite format 3\0"):
        raise BundleProblem("journal.sqlite is not an SQLite database (no SQLite header)")
    if header[18:20] != b"\x01\x01":
        raise BundleProblem("journal.sqlite is not a single-file (rollback mode) SQLite copy")
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise BundleProblem(f"journal.sqlite cannot be opened: {exc}") from None
    try:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE)
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA query_only = ON")
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise BundleProblem("journal.sqlite is not a Cutover Console journal")
        _check_events_table(conn)
        problems = conn.execute("PRAGMA integrity_check(1)").fetchone()[0]
        if problems != "ok":
            raise BundleProblem(f"journal.sqlite fails SQLite's integrity_check: {problems}")
        count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        if count > MAX_EVENTS:
            raise BundleProblem(
                f"journal.sqlite holds {count:,} events, more than this verifier checks "
                f"({MAX_EVENTS:,})"
            )
        cursor = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM events ORDER BY rowid")
        rows: list[StoredRow] = []
        values = 0
        while batch := cursor.fetchmany(4096):
            rows.extend(StoredRow(*r) for r in batch)
            values += sum(json_values(r[6]) for r in batch if type(r[6]) is str)
            if values > MAX_JSON_VALUES:
                raise BundleProblem(
                    f"journal.sqlite's payloads hold more than {MAX_JSON_VALUES:,} JSON values, "
                    "more than this verifier parses"
                )
        return rows
    except sqlite3.Error as exc:
        raise BundleProblem(f"journal.sqlite cannot be read as a journal: {exc}") from None
    finally:
        conn.close()


def _check_events_table(conn: sqlite3.Connection) -> None:
    """`events` must be a plain table with the journal's columns: a view, a virtual table or a
    generated column would compute what verification reads (and could run for ever)."""
    row = conn.execute(
        "SELECT type, sql FROM sqlite_schema WHERE name = 'events' COLLATE NOCASE"
    ).fetchone()
    if row is None:
        raise BundleProblem("journal.sqlite has no events table")
    kind, sql = row
    if kind != "table" or not str(sql).upper().startswith("CREATE TABLE"):
        raise BundleProblem("journal.sqlite: events is not a plain table")
    columns = {
        name: hidden for _cid, name, *_rest, hidden in conn.execute("PRAGMA table_xinfo(events)")
    }
    if any(columns.values()) or columns.keys() != set(_COLUMNS):
        raise BundleProblem("journal.sqlite: the events table does not have the journal's columns")


class _Replay:
    """Fed each intact journal row as the chain is verified: makes its event (for the reports)
    and compares the next line of events.jsonl with it, byte for byte, never reading more of a
    line than the line it should be."""

    def __init__(self, jsonl: BinaryIO) -> None:
        self.jsonl = jsonl
        self.events: list[Event] = []
        self.differs_at: int | None = None
        self.offset = 0  # bytes of events.jsonl that matched

    def __call__(self, row: StoredRow, body: str, payload: dict[str, Any]) -> None:
        v = row.v
        if ev.needs_upgrade(row.kind, v):
            v, payload = ev.upgrade(row.kind, v, payload)
        self.events.append(
            Event(
                row.seq,
                row.ts,
                row.actor,
                row.os_user,
                row.kind,
                row.step,
                payload,
                v,
                row.idem,
                row.prev,
                row.hash,
            )
        )
        if self.differs_at is None:
            line = (jsonl_line(body, row.hash) + "\n").encode("utf-8")
            if self.jsonl.readline(len(line) + 1) != line:
                self.differs_at = row.seq
            else:
                self.offset += len(line)


def _jsonl_problem(
    bundle: Path, rows: list[StoredRow], offset: int, signed: Checkpoint, expect: Checkpoint | None
) -> BundleProblem:
    """events.jsonl is `rows` (its first `offset` bytes), then differs from the journal: name
    what is wrong with it, reading the rest on its own."""
    number = len(rows) + 1
    stats = os.lstat(bundle / "events.jsonl")
    with _open(bundle, "events.jsonl", stats) as handle:
        handle.seek(offset)
        lines = iter(lambda: handle.readline(MAX_VALUE + 1), b"")
        for line_number, raw in enumerate(lines, start=number):
            if len(raw) > MAX_VALUE:
                return BundleProblem(
                    f"events.jsonl line {line_number} is longer than {MAX_VALUE:,} bytes"
                )
            if line_number > MAX_EVENTS:
                return BundleProblem(f"events.jsonl holds more than {MAX_EVENTS:,} lines")
            # a line's parsed objects are dropped once its row is made: only one line at a
            # time must stay small (the event's own 11 fields come on top of its payload's)
            if raw.count(b",") + raw.count(b"{") + raw.count(b"[") > MAX_PAYLOAD_VALUES + 12:
                return BundleProblem(
                    f"events.jsonl line {line_number} holds more than {MAX_PAYLOAD_VALUES:,} "
                    "JSON values"
                )
            try:
                rows.append(_jsonl_row(raw))
            except UnicodeDecodeError as exc:
                return BundleProblem(
                    f"events.jsonl line {line_number} is not UTF-8 text (byte {exc.start + 1})"
                )
            except (ValueError, RecursionError):
                return BundleProblem(
                    f"events.jsonl line {line_number} is not an event (one JSON object with "
                    f"the fields {', '.join(sorted(_JSONL_KEYS))})"
                )
    chain = verify_rows(rows, expect, ends_at=signed, position="line")
    if not chain.ok:
        return BundleProblem(f"events.jsonl: {chain.problem}")
    return BundleProblem(
        f"events.jsonl line {number} is not event {number} of journal.sqlite as the exporter "
        "writes it: journal.sqlite and events.jsonl disagree"
    )


_JSONL_KEYS = frozenset(_COLUMNS)


def _jsonl_row(raw: bytes) -> StoredRow:
    """A line of events.jsonl as a row to verify; shape errors are ValueError. Field types are
    left to `verify_rows`, which names the line and field."""
    event = json.loads(raw.decode("utf-8"))
    if type(event) is not dict or event.keys() != _JSONL_KEYS:
        raise ValueError("not an event")
    payload = event["payload"]
    fields = {**event, "payload": canonical_json(payload) if type(payload) is dict else None}
    return StoredRow(*(fields[key] for key in _COLUMNS))


def _check_rebuilt(
    events: list[Event],
    reports: dict[str, bytes],
    verify_md: bytes,
    signed: Checkpoint,
    signer: str,
    held_signoffs: dict[str, bytes],
) -> None:
    """The reports, VERIFY.md and the signed sign-offs' files are derived, deterministically:
    rebuilt from the verified journal and the signer, they must be the very bytes the bundle
    holds."""
    try:
        signoffs, found = signoff_files(events)
    except SignOffFilesProblem as exc:
        raise BundleProblem(f"journal.sqlite: {exc}") from None
    if signoffs.keys() != held_signoffs.keys():
        differ = sorted(signoffs.keys() ^ held_signoffs.keys())
        what = "missing" if differ[0] in signoffs else "not part of an export"
        raise BundleProblem(f"{inert(differ[0])} is {what}")
    for name, data in signoffs.items():
        if held_signoffs[name] != data:
            raise BundleProblem(f"{name} is not what the journal holds (altered)")
    try:
        state = CutoverState.from_events(events)
        document = build(state, events)
        rebuilt = {"report.md": markdown(document), "report.html": html_document(document)}
    except Exception as exc:  # hostile content meets code written for honest journals
        raise BundleProblem(
            f"the reports cannot be rebuilt from journal.sqlite: {type(exc).__name__}: "
            f"{clip(str(exc), 300)}"
        ) from None
    rebuilt["VERIFY.md"] = verify_text(signed, signer, state.archive, verify_section(found))
    held = {**reports, "VERIFY.md": verify_md}
    for name, text in rebuilt.items():
        if held[name] != text.encode("utf-8"):
            raise BundleProblem(_difference(name, held[name], text))


def _difference(name: str, held: bytes, rebuilt: str) -> str:
    ours = rebuilt.split("\n")
    theirs = held.decode("utf-8", errors="replace").split("\n")
    for number, (mine, found) in enumerate(zip(ours, theirs, strict=False), start=1):
        if mine != found:
            at = next((i for i, (a, b) in enumerate(zip(mine, found, strict=False)) if a != b), 0)
            start = max(0, min(at, len(mine), len(found)) - 20)
            cut = "…" if start else ""
            return (
                f"{name} is not what the journal gives: line {number} reads "
                f'"{cut}{clip(found[start:], 60)}" where the journal gives '
                f'"{cut}{clip(mine[start:], 60)}"'
            )
    shorter = "ends early" if len(theirs) < len(ours) else "goes on"
    lines = min(len(ours), len(theirs))
    return f"{name} is not what the journal gives: it {shorter} after line {lines}"
