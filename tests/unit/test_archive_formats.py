"""The witness's formats and rules (issue 13), without a server: addresses, the plan's
`archive:` section, segments and checkpoints read strictly, faults named for people."""

from __future__ import annotations

import json
import re
from pathlib import Path

import asyncssh
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from support import SMALL

from cutover_console.archive.checkpoints import (
    CheckpointProblem,
    PublishedCheckpoint,
    signer_of,
)
from cutover_console.archive.location import ArchiveLocation, LocationInvalid
from cutover_console.archive.objects import fault_of
from cutover_console.archive.segments import SegmentProblem, decode, encode, segment_name
from cutover_console.archive.settings import archive_settings
from cutover_console.journal import JournalReader
from cutover_console.plan import PlanInvalid, load_plan_text
from cutover_console.runbook import Cutover
from cutover_console.secrets import REDACT


def test_addresses_name_a_bucket_and_a_prefix_and_never_a_credential() -> None:
    where = ArchiveLocation.parse("s3://cutover-witness/acme/2026-12")
    assert (where.bucket, where.prefix, str(where)) == (
        "cutover-witness",
        "acme/2026-12",
        "s3://cutover-witness/acme/2026-12",
    )
    assert where.key("segments/x") == "acme/2026-12/segments/x"
    assert ArchiveLocation.parse("copy/of/prefix").directory == Path("copy/of/prefix")
    for bad, said in (
        ("s3://AKIA123:secret@bucket/p", "credentials come from the AWS configuration"),
        ("s3://bucket/p?versionId=1", "names a bucket and a prefix only"),
        ("s3://Bad_Bucket/p", "is not an S3 bucket name"),
        ("s3://ab/p", "is not an S3 bucket name"),
        ("s3://bucket/../p", "is not a usable prefix"),
        ("https://bucket.s3.amazonaws.com/p", "is not an S3 address"),
    ):
        with pytest.raises(LocationInvalid, match=said.replace("?", r"\?")):
            ArchiveLocation.parse(bad)
    with pytest.raises(LocationInvalid):
        ArchiveLocation.parse("some/dir", allow_directory=False)


def _plan(archive: str) -> str:
    return SMALL.read_text() + archive


@pytest.mark.parametrize(
    ("section", "where", "said"),
    [
        ("archive:\n  to: s3://Bad/x\n", "archive.to", "is not an S3 address"),
        ("archive:\n  to: s3://ok-bucket/x\n  lag: 2h\n", "archive.lag", "between 5s and 1h"),
        (
            "archive:\n  to: s3://ok-bucket/x\n  retention: 12h\n",
            "archive.retention",
            "is not a retention (write whole days or years",
        ),
        ("archive:\n  to: s3://ok-bucket/x\n  retention: 101y\n", "archive.retention", "100y"),
        (
            "archive:\n  to: s3://ok-bucket/x\n  checkpoint_every: 10m\n",
            "archive.checkpoint_every",
            "at least every 5m",
        ),
        ("archive:\n  to: s3://ok-bucket/x\n  lag: 60\n", "archive.lag", "has no unit"),
        ("archive:\n  bucket: s3://ok-bucket/x\n", "archive", ""),
    ],
)
def test_the_plans_archive_section_is_checked_like_the_rest(
    section: str, where: str, said: str
) -> None:
    with pytest.raises(PlanInvalid) as caught:
        load_plan_text(_plan(section), "plan.yaml")
    text = "\n".join(str(p) for p in caught.value.problems)
    line = _plan(section).count("\n") - section.count("\n") + 1
    assert f"plan.yaml:{line + 1}:" in text or f"plan.yaml:{line + 2}:" in text, text
    assert where in text and said in text, text


def test_the_command_line_wins_over_the_plan() -> None:
    plan = load_plan_text(
        _plan("archive:\n  to: s3://plan-bucket/x\n  lag: 30s\n  retention: 7y\n"), "p.yaml"
    ).plan
    settings = archive_settings(plan, "s3://cli-bucket/y")
    assert settings is not None and str(settings.location) == "s3://cli-bucket/y"
    assert settings.lag.total_seconds() == 30 and settings.retention.days == 7 * 365
    from_plan = archive_settings(plan, None)
    assert from_plan is not None and str(from_plan.location) == "s3://plan-bucket/x"
    assert archive_settings(load_plan_text(SMALL.read_text(), "s.yaml").plan, None) is None


def test_a_segment_reads_back_exactly_and_anything_else_is_named(cutover: Cutover) -> None:
    cutover.note("hello", "lena")
    with JournalReader(cutover.writer.path) as reader:
        events = list(reader.events())
        stored = list(reader.raw_rows())
    name = segment_name(1, len(events))
    data = encode(events)
    assert decode(name, data) == stored
    assert name == "segments/000000000001-000000000002.jsonl"
    lines = data.split(b"\n")
    for bad, said in (
        (segment_name(1, 3), "holds 2 line(s), but its name says events 1-3"),
        ("segments/1-2.jsonl", "is not a segment's name"),
    ):
        with pytest.raises(SegmentProblem, match=re.escape(said)):
            decode(bad, data)
    for damaged, said in (
        (data[:-1], "does not end with a newline"),
        (b"\xff" + data, "is not UTF-8"),
        (b"[1]\n" + lines[1] + b"\n", "is not an event"),
        (data.replace(b'"seq":1', b'"seq":"1"', 1), "'seq' has the wrong type"),
        (data.replace(b'"seq":2', b'"seq":7', 1), "holds event 7, where event 2 belongs"),
        (b"[" * 100_000 + b"\n" + lines[1] + b"\n", "is not JSON"),
    ):
        with pytest.raises(SegmentProblem, match=re.escape(said)):
            decode(name, damaged)


def test_a_checkpoint_is_a_strict_signed_note(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    other = asyncssh.generate_private_key("ssh-ed25519")
    checkpoint = PublishedCheckpoint("acme", "a" * 64, 42, "b" * 64, "2026-12-06T15:00:00.000000Z")
    text = checkpoint.text().encode()
    assert PublishedCheckpoint.parse(checkpoint.name, text) == checkpoint
    assert checkpoint.name == "checkpoints/000000000042.txt"
    assert signer_of(checkpoint.name, text, checkpoint.sign(key)) == key.get_fingerprint()
    with pytest.raises(CheckpointProblem, match="does not verify"):
        signer_of(checkpoint.name, text.replace(b"42:", b"43:"), checkpoint.sign(key))
    assert signer_of(checkpoint.name, text, checkpoint.sign(other)) == other.get_fingerprint()
    for bad, said in (
        (text + b"extra\n", "is not a checkpoint"),
        (text.replace(b"head 42", b"head 042"), "is not a checkpoint"),
        (text.replace(b"cutover acme", b"cutover \x1b[2J"), "is not a checkpoint"),
        (b"\xc3\x28", "is not UTF-8"),
    ):
        with pytest.raises(CheckpointProblem, match=said):
            PublishedCheckpoint.parse(checkpoint.name, bad)
    with pytest.raises(CheckpointProblem, match="holds the checkpoint of event 42"):
        PublishedCheckpoint.parse("checkpoints/000000000041.txt", text)
    with pytest.raises(CheckpointProblem, match="not an SSH signature"):
        signer_of(checkpoint.name, text, b"-----BEGIN SSH SIGNATURE-----\nxx\n")


def _client_error(code: str, message: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutObject",
    )


def test_faults_are_named_for_people_and_never_carry_a_secret() -> None:
    where = ArchiveLocation.parse("s3://b-bucket/p")
    cases = [
        (EndpointConnectionError(endpoint_url="http://x"), "unreachable"),
        (NoCredentialsError(), "credentials"),
        (_client_error("InvalidAccessKeyId", "no such key", 403), "credentials"),
        (_client_error("SignatureDoesNotMatch", "bad signature", 403), "credentials"),
        (_client_error("AccessDenied", "Access Denied", 403), "access-denied"),
        (_client_error("NoSuchBucket", "gone", 404), "no-bucket"),
        (
            _client_error("InvalidRequest", "Bucket is missing ObjectLockConfiguration"),
            "no-object-lock",
        ),
        (_client_error("ObjectLockConfigurationNotFoundError", "none"), "no-object-lock"),
        (
            _client_error("InvalidArgument", "The retain until date must be in the future"),
            "retention",
        ),
        (_client_error("InternalError", "oops", 500), "error"),
    ]
    for exc, kind in cases:
        assert fault_of(exc, where, "uploading x").kind == kind, exc
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    REDACT.remember(secret)
    fault = fault_of(_client_error("AccessDenied", f"denied for {secret}\x1b[2J", 403), where, "x")
    assert secret not in fault.message and "\x1b" not in fault.message
    assert json.dumps(fault.message)  # journal-ready
