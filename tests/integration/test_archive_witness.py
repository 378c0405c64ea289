"""The witness (issue 13) against moto's S3 server: what a tabletop publishes, that Object Lock
keeps it, and `cutover verify BUNDLE --witness` catching a history rewritten, cut, inserted into
or extended by someone who holds the export key and re-signs."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from s3bed import S3Bed, changed_payload, export, forge, rows_of, s3, tabletop
from support import SMALL, require_binary, run_cli

from cutover_console.journal import JournalReader
from cutover_console.journal import events as ev
from cutover_console.runbook import load_state

pytestmark = pytest.mark.integration
__all__ = ["s3"]  # the fixture


def _decisions(journal: Path) -> list[int]:
    with JournalReader(journal) as reader:
        return [e.seq for e in reader.events() if e.kind in ev.DECISIONS]


def _witnessed(tmp_path: Path, s3: S3Bed, prefix: str = "small") -> tuple[str, str, Path]:
    bucket = s3.bucket()
    journal = tabletop(tmp_path, SMALL, f"s3://{bucket}/{prefix}", s3)
    return bucket, f"s3://{bucket}/{prefix}", journal


def test_a_tabletop_publishes_a_checkpoint_per_decision_and_every_event_locked(
    tmp_path: Path, s3: S3Bed
) -> None:
    bucket, where, journal = _witnessed(tmp_path, s3)
    keys = s3.keys(bucket, "small")
    segments = [k for k in keys if k.startswith("segments/")]
    spans = [
        tuple(int(x) for x in k[len("segments/") : -len(".jsonl")].split("-")) for k in segments
    ]
    with JournalReader(journal) as reader:
        head = reader.head()
    assert head is not None
    # contiguous from event 1 to the head: the publisher's own last record is archived too
    assert spans[0][0] == 1 and spans[-1][1] == head.seq
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))
    decisions = _decisions(journal)
    assert len(decisions) >= 10
    for seq in decisions:
        assert f"checkpoints/{seq:012d}.txt" in keys and f"checkpoints/{seq:012d}.txt.sig" in keys
    # every object is locked in compliance mode for the plan's (default) 90 days, with its SHA-256
    client = s3.client()
    for key in (segments[0], f"checkpoints/{decisions[-1]:012d}.txt"):
        meta = client.head_object(Bucket=bucket, Key=f"small/{key}", ChecksumMode="ENABLED")
        assert meta["ObjectLockMode"] == "COMPLIANCE"
        assert meta["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=89)
        assert meta["ChecksumSHA256"]
    text = s3.read(bucket, f"small/checkpoints/{decisions[-1]:012d}.txt").decode()
    assert f"head {decisions[-1]}:" in text and "cutover small-cutover" in text
    # what was published is journaled, and status says where the latest is witnessed
    with JournalReader(journal) as reader:
        state = load_state(reader)
    assert state.archive.location == where and state.archive.latest_seq == decisions[-1]
    status = run_cli("status", "-j", str(journal), cwd=tmp_path)
    said = " ".join(status.stdout.split())  # Rich wraps the line at the terminal's width
    assert f"witness {where}: latest published checkpoint" in said


def test_a_checkpoint_verifies_with_openssh_alone(tmp_path: Path, s3: S3Bed) -> None:
    keygen = require_binary("ssh-keygen")
    bucket, _where, journal = _witnessed(tmp_path, s3)
    bundle = export(tmp_path, journal, "bundle")
    copy = s3.download(bucket, "small", tmp_path / "copy")
    seq = _decisions(journal)[-1]
    name = copy / "checkpoints" / f"{seq:012d}.txt"
    args = [keygen, "-Y", "verify", "-f", str(bundle / "allowed_signers"), "-I"]
    good = subprocess.run(
        [*args, "cutover-export", "-n", "file", "-s", f"{name}.sig"],
        stdin=name.open("rb"),
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0 and "Good" in good.stdout
    name.write_bytes(name.read_bytes().replace(b"head ", b"head 9"))
    bad = subprocess.run(
        [*args, "cutover-export", "-n", "file", "-s", f"{name}.sig"],
        stdin=name.open("rb"),
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0


def test_object_lock_refuses_deleting_a_published_version_and_a_new_version_changes_nothing(
    tmp_path: Path, s3: S3Bed
) -> None:
    """moto 5 enforces compliance mode for DeleteObject with a version id (AccessDenied, even
    with BypassGovernanceRetention). A PutObject on the same key adds a newer version, as on AWS:
    the witness reads the oldest (locked) version and says that the key was written again.
    (moto does not refuse shortening a compliance retention with PutObjectRetention, which AWS
    does; that is not tested here.)"""
    bucket, where, journal = _witnessed(tmp_path, s3)
    client = s3.client()
    seq = _decisions(journal)[-1]
    key = f"small/checkpoints/{seq:012d}.txt"
    version = client.head_object(Bucket=bucket, Key=key)["VersionId"]
    original = s3.read(bucket, key)
    for bypass in (False, True):
        with pytest.raises(ClientError) as refused:
            client.delete_object(
                Bucket=bucket, Key=key, VersionId=version, BypassGovernanceRetention=bypass
            )
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    segment = next(k for k in s3.keys(bucket, "small") if k.startswith("segments/"))
    with pytest.raises(ClientError):
        seg_version = client.head_object(Bucket=bucket, Key=f"small/{segment}")["VersionId"]
        client.delete_object(Bucket=bucket, Key=f"small/{segment}", VersionId=seg_version)
    # an insider writes a forged checkpoint over it and "deletes" the segment: new versions only
    forged = original.replace(original.split(b"head ")[1][:20], b"1:" + b"0" * 18)
    client.put_object(Bucket=bucket, Key=key, Body=forged, ChecksumAlgorithm="SHA256")
    client.delete_object(Bucket=bucket, Key=f"small/{segment}")
    kept = client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    assert kept == original
    bundle = export(tmp_path, journal, "bundle")
    checked = run_cli("verify", str(bundle), "--witness", where, env=s3.env(), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "was written again 1 time(s)" in checked.stderr
    assert "first version (locked)" in checked.stderr


def _forged_bundle(tmp_path: Path, journal: Path, name: str, edit) -> Path:  # type: ignore[no-untyped-def]
    forged = forge(journal, tmp_path / f"{name}.sqlite", edit)
    bundle = export(tmp_path, forged, name)
    alone = run_cli("verify", str(bundle), cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr  # signed with the real key: it verifies alone
    return bundle


def test_verify_witness_passes_the_real_bundle_and_catches_every_forgery(
    tmp_path: Path, s3: S3Bed
) -> None:
    _bucket, where, journal = _witnessed(tmp_path, s3)
    decisions = _decisions(journal)
    with JournalReader(journal) as reader:
        latest = load_state(reader).archive.latest
    real = export(tmp_path, journal, "real")
    ok = run_cli("verify", str(real), "--witness", where, env=s3.env(), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert f"{len(decisions)} published checkpoint(s) checked" in ok.stdout
    assert f"the latest {latest}" in ok.stdout
    rows = rows_of(journal)
    note = next(i for i, r in enumerate(rows) if r.kind == ev.STEP_COMPLETED)

    def rewrite(rs):  # type: ignore[no-untyped-def]
        return [
            changed_payload(r, reason="done early") if i == note else r for i, r in enumerate(rs)
        ]

    def cut(rs):  # type: ignore[no-untyped-def]
        return rs[: decisions[len(decisions) // 2]]

    def insert(rs):  # type: ignore[no-untyped-def]
        return [*rs[:3], changed_payload(rs[2], text="inserted later"), *rs[3:]]

    def extend(rs):  # type: ignore[no-untyped-def]
        return [*rs[:-4], *(changed_payload(r, text="made up") for r in rs[-4:]), rs[-1]]

    for name, edit, expected in (
        ("rewritten", rewrite, "rewritten: event"),
        ("cut", cut, "truncated:"),
        ("inserted", insert, "rewritten: event"),
        ("extended", extend, "rewritten: event"),
    ):
        bundle = _forged_bundle(tmp_path, journal, name, edit)
        caught = run_cli("verify", str(bundle), "--witness", where, env=s3.env(), cwd=tmp_path)
        assert caught.returncode == 1, (name, caught.stdout)
        assert "FAILED: witness" in caught.stderr and expected in caught.stderr, name
        assert "Traceback" not in caught.stderr
    as_json = run_cli("verify", str(real), "--witness", where, "--json", env=s3.env(), cwd=tmp_path)
    assert f'"checked": {len(decisions)}' in as_json.stdout


def test_a_witness_holding_another_cutover_is_refused_naming_it(tmp_path: Path, s3: S3Bed) -> None:
    bucket = s3.bucket()
    other = tmp_path / "other.yaml"
    other.write_text(SMALL.read_text().replace("id: small-cutover", "id: other-move", 1))
    tabletop(tmp_path, other, f"s3://{bucket}/shared", s3, name="other")
    mine = tabletop(tmp_path, SMALL, f"s3://{bucket}/mine", s3, name="mine")
    bundle = export(tmp_path, mine, "bundle")
    refused = run_cli(
        "verify", str(bundle), "--witness", f"s3://{bucket}/shared", env=s3.env(), cwd=tmp_path
    )
    assert refused.returncode == 1
    assert "another cutover: 'other-move'" in refused.stderr
    assert "this journal is of cutover 'small-cutover'" in refused.stderr


def test_an_offline_copy_of_the_prefix_is_a_witness_and_hostile_copies_are_named(
    tmp_path: Path, s3: S3Bed
) -> None:
    bucket, _where, journal = _witnessed(tmp_path, s3)
    bundle = export(tmp_path, journal, "bundle")
    copy = s3.download(bucket, "small", tmp_path / "copy")
    ok = run_cli("verify", str(bundle), "--witness", str(copy), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    latest = max(copy.glob("checkpoints/*.txt"))
    segment = min(copy.glob("segments/*.jsonl"))

    def damaged(name: str, path: Path, data: bytes) -> str:
        target = tmp_path / name
        shutil.copytree(copy, target)
        (target / path.relative_to(copy)).write_bytes(data)
        out = run_cli("verify", str(bundle), "--witness", str(target), cwd=tmp_path)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        return out.stderr

    assert "is not UTF-8" in damaged("utf8", latest, b"\xff\xfe" * 10)
    assert "is not a checkpoint" in damaged("shape", latest, b"cutover-console checkpoint v1\n")
    assert "more than 4,096 bytes" in damaged("huge", latest, b"x" * 100_000)
    assert "does not verify" in damaged(
        "lie", latest, latest.read_bytes().replace(b"at 2026", b"at 2027")
    )
    assert "is not JSON" in damaged(
        "json", segment, b"{not json\n" * segment.read_bytes().count(b"\n")
    )
    assert "\x1b" not in damaged("ctl", segment, b'{"seq": "\x1b]52;c;aGk=\x07"}\n')
