"""`cutover restore` (issue 13) from moto's S3 and from a copy of a prefix: the same events and
hashes, the restore journaled as a recovery that names its source, a resumed journal that the
publisher carries on with; a gap or an altered segment named and refused, or, asked for, a
shorter journal that says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from s3bed import S3Bed, aws_env, rows_of, s3, tabletop
from support import SMALL, run_cli

from cutover_console.archive.location import ArchiveLocation
from cutover_console.archive.publisher import ArchivePublisher
from cutover_console.archive.settings import ArchiveSettings
from cutover_console.journal import JournalReader, JournalWriter
from cutover_console.journal import events as ev
from cutover_console.keys import export_key_path
from cutover_console.report.bundle import signing_key

pytestmark = pytest.mark.integration
__all__ = ["aws_env", "s3"]


def _witnessed(tmp_path: Path, s3: S3Bed) -> tuple[str, str, Path]:
    bucket = s3.bucket()
    where = f"s3://{bucket}/small"
    return bucket, where, tabletop(tmp_path, SMALL, where, s3)


def _restore(tmp_path: Path, source: str, name: str, s3: S3Bed, *extra: str):  # type: ignore[no-untyped-def]
    target = tmp_path / f"{name}.sqlite"
    done = run_cli("restore", source, "--journal", str(target), *extra, env=s3.env(), cwd=tmp_path)
    assert "Traceback" not in done.stderr
    return target, done


def test_restore_then_resume_gives_the_same_head_and_chain_and_records_where_from(
    tmp_path: Path, aws_env: S3Bed
) -> None:
    s3 = aws_env
    _bucket, where, journal = _witnessed(tmp_path, s3)
    original = rows_of(journal)
    target, done = _restore(tmp_path, where, "restored", s3)
    assert done.returncode == 0, done.stderr
    assert f"restored {target}: {len(original)} events from {where}, chain intact" in done.stdout
    assert "published checkpoint(s) verified" in done.stdout
    restored = rows_of(target)
    assert restored[: len(original)] == original  # every field of every event, hashes included
    recovery = restored[len(original)]
    assert recovery.kind == ev.JOURNAL_RECOVERED and len(restored) == len(original) + 1
    payload = json.loads(recovery.payload_text)
    assert payload["restored_from"] == where and payload["complete"] is True
    assert payload["restored_head"] == f"{original[-1].seq}:{original[-1].hash}"
    assert payload["checkpoints_verified"] > 10
    assert run_cli("verify", str(target), cwd=tmp_path).returncode == 0
    # resume: a writer extends the restored journal, and the publisher carries on in the same
    # prefix (it is this journal's history there), so a second restore has everything
    note = run_cli("note", "resumed on the spare laptop", "-j", str(target), "--by", "lena")
    assert note.returncode == 0, note.stderr
    settings = ArchiveSettings(ArchiveLocation.parse(where))
    key = signing_key(export_key_path(journal))  # the key the tabletop's publisher signed with
    publisher = ArchivePublisher(target, settings, key)
    with JournalWriter.open(target) as writer:
        from cutover_console.runbook import Cutover

        cutover = Cutover(writer, writer.clock)
        assert publisher.finish(cutover.record_archive)
    publisher.close()
    assert publisher.status.fault == ""
    again, second = _restore(tmp_path, where, "again", s3)
    assert second.returncode == 0, second.stderr
    with JournalReader(target) as reader:
        head = reader.head()
    assert rows_of(again)[:-1] == rows_of(target) and head is not None
    assert f"head {head}" in second.stdout


def test_a_gap_or_an_altered_segment_is_named_and_refused_unless_shorter_is_asked_for(
    tmp_path: Path, s3: S3Bed
) -> None:
    bucket, _where, journal = _witnessed(tmp_path, s3)
    copy = s3.download(bucket, "small", tmp_path / "copy")
    segments = sorted(copy.glob("segments/*.jsonl"))
    assert len(segments) >= 3

    def variant(name: str) -> Path:
        shutil.copytree(copy, tmp_path / name)
        return tmp_path / name

    gap = variant("gap")
    middle = segments[1].name
    (gap / "segments" / middle).unlink()
    first, last = (int(x) for x in middle[: -len(".jsonl")].split("-"))
    target, refused = _restore(tmp_path, str(gap), "gap", s3)
    assert refused.returncode == 1 and not target.exists()
    assert f"events {first}-{last} are missing: no segment holds them" in refused.stderr
    assert f"(after segments/{segments[0].name})" in refused.stderr
    assert "Nothing written" in refused.stderr

    altered = variant("altered")
    victim = altered / "segments" / segments[-1].name
    lines = victim.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace('"actor":"', '"actor":"x', 1)
    victim.write_text("".join(lines))
    target, refused = _restore(tmp_path, str(altered), "altered", s3)
    assert refused.returncode == 1 and not target.exists()
    assert f"segments/{segments[-1].name}" in refused.stderr and "changed" in refused.stderr

    cut = variant("cut")  # the segments from the one holding the latest checkpoint on are gone
    latest = max(int(p.name[:12]) for p in copy.glob("checkpoints/*.txt"))
    for segment in segments:
        if int(segment.name[13:25]) >= latest:
            (cut / "segments" / segment.name).unlink()
    target, refused = _restore(tmp_path, str(cut), "cut", s3)
    assert refused.returncode == 1 and "was published at" in refused.stderr
    assert "are missing" in refused.stderr

    target, shorter = _restore(tmp_path, str(gap), "shorter", s3, "--up-to-last-good")
    assert shorter.returncode == 0, shorter.stderr
    assert "SHORTER than the archive" in shorter.stdout
    rows = rows_of(target)
    assert rows[-2].seq == first - 1 and rows[:-1] == rows_of(journal)[: first - 1]
    payload = json.loads(rows[-1].payload_text)
    assert payload["complete"] is False
    assert f"events {first}-{last} are missing" in payload["shorter"]


def test_a_newer_version_written_over_a_segment_does_not_change_the_restore(
    tmp_path: Path, s3: S3Bed
) -> None:
    bucket, where, journal = _witnessed(tmp_path, s3)
    client = s3.client()
    key = "small/" + next(k for k in s3.keys(bucket, "small") if k.startswith("segments/"))
    client.put_object(Bucket=bucket, Key=key, Body=b"{}\n", ChecksumAlgorithm="SHA256")
    target, done = _restore(tmp_path, where, "restored", s3)
    assert done.returncode == 0, done.stderr
    assert "was written again 1 time(s)" in done.stderr
    assert rows_of(target)[:-1] == rows_of(journal)


def test_restore_refuses_an_existing_journal_and_a_bad_address(tmp_path: Path, s3: S3Bed) -> None:
    existing = tmp_path / "j.sqlite"
    existing.write_bytes(b"keep me")
    refused = run_cli("restore", "s3://some-bucket/p", "--journal", str(existing), cwd=tmp_path)
    assert refused.returncode == 2 and "already exists" in refused.stderr
    assert existing.read_bytes() == b"keep me"
    for bad in ("s3://AKIA:secret@bucket/p", "s3://x/p", "http://bucket/p"):
        out = run_cli("restore", bad, "--journal", str(tmp_path / "n.sqlite"), cwd=tmp_path)
        assert out.returncode == 2 and "Traceback" not in out.stderr, bad
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run_cli("restore", str(empty), "--journal", str(tmp_path / "n.sqlite"))
    assert nothing.returncode == 1 and "holds no events" in nothing.stderr
