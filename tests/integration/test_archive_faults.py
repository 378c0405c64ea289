"""The witness under faults (issue 13), against real servers: an unreachable endpoint, a bucket
without Object Lock, wrong credentials and AccessDenied (moto's server with IAM enforced), an S3
that does not apply the retention. Each is journaled once per change, retried, shown by
`cutover status`, never raised; a fault that clears is journaled too, and no credential is
ever written anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from s3bed import S3Bed, s3
from servers import free_port, wait_port
from support import SMALL, run_cli

from cutover_console.archive.location import ArchiveLocation
from cutover_console.archive.objects import S3Objects
from cutover_console.archive.publisher import ArchivePublisher
from cutover_console.archive.settings import ArchiveSettings
from cutover_console.journal import JournalReader
from cutover_console.journal import events as ev
from cutover_console.report.bundle import signing_key
from cutover_console.runbook import Cutover

pytestmark = pytest.mark.integration
__all__ = ["s3"]


def _faults(journal: Path) -> list[dict[str, Any]]:
    with JournalReader(journal) as reader:
        return [e.payload for e in reader.events() if e.kind == ev.ARCHIVE_FAULT]


def _tabletop_with(tmp_path: Path, where: str, env: dict[str, str], name: str = "tt"):  # type: ignore[no-untyped-def]
    journal = tmp_path / f"{name}.sqlite"
    started = time.monotonic()
    done = run_cli(
        "tabletop", str(SMALL), "--journal", str(journal), "-q", "--archive", where,
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr  # the rehearsal itself is never blocked
    assert "Traceback" not in done.stderr
    return journal, done, time.monotonic() - started


def test_an_unreachable_endpoint_is_a_fault_journaled_once_and_shown(tmp_path: Path) -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}",
    }
    journal, done, took = _tabletop_with(tmp_path, "s3://nowhere-bucket/p", env)
    assert "NOT caught up" in done.stdout and "cannot reach S3" in done.stdout
    assert took < 60
    faults = _faults(journal)
    assert [f["fault"] for f in faults] == ["unreachable"]  # retried, journaled once
    status = run_cli("status", "-j", str(journal), cwd=tmp_path)
    assert "witness FAULT unreachable" in status.stdout


def test_a_bucket_without_object_lock_is_refused_as_a_witness(tmp_path: Path, s3: S3Bed) -> None:
    bucket = s3.bucket(lock=False)
    journal, _done, _ = _tabletop_with(tmp_path, f"s3://{bucket}/p", s3.env())
    faults = _faults(journal)
    assert [f["fault"] for f in faults] == ["no-object-lock"]
    assert "has no Object Lock" in faults[0]["detail"]
    assert s3.keys(bucket, "p") == []  # nothing published where it could be rewritten


@pytest.fixture(scope="module")
def iam_s3() -> Iterator[dict[str, Any]]:
    """moto's server in a subprocess with IAM enforced after the set-up calls: one bucket with
    Object Lock, a user allowed to read it but not to write."""
    import boto3

    port = free_port()
    admin = {"aws_access_key_id": "admin", "aws_secret_access_key": "admin-secret"}
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port("127.0.0.1", port)
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **admin)
        iam.create_user(UserName="reader")
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:Get*", "s3:List*"],
                    "Resource": "*",
                }
            ],
        }
        iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(policy))
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **admin)
        s3.create_bucket(Bucket="locked-witness", ObjectLockEnabledForBucket=True)
        yield {"endpoint": endpoint, "id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        server.terminate()
        server.wait(10)


def _no_secret_anywhere(tmp_path: Path, secret: str) -> None:
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_wrong_credentials_and_access_denied_are_faults_of_their_own(
    tmp_path: Path, iam_s3: dict[str, Any]
) -> None:
    base = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": iam_s3["endpoint"]}
    wrong = {**base, "AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG", "AWS_SECRET_ACCESS_KEY": "x" * 40}
    journal, _done, _ = _tabletop_with(tmp_path, "s3://locked-witness/p", wrong, "wrong")
    assert [f["fault"] for f in _faults(journal)] == ["credentials"]
    assert "InvalidAccessKeyId" in _faults(journal)[0]["detail"]
    reader = {**base, "AWS_ACCESS_KEY_ID": iam_s3["id"], "AWS_SECRET_ACCESS_KEY": iam_s3["secret"]}
    journal, _done, _ = _tabletop_with(tmp_path, "s3://locked-witness/p", reader, "denied")
    faults = _faults(journal)
    assert [f["fault"] for f in faults] == ["access-denied"]
    assert "AccessDenied" in faults[0]["detail"] and "uploading" in faults[0]["detail"]
    status = run_cli("status", "-j", str(journal), cwd=tmp_path)
    assert "witness FAULT access-denied" in status.stdout
    export = run_cli("export", "-j", str(journal), "-o", str(tmp_path / "bundle"), cwd=tmp_path)
    assert export.returncode == 0
    _no_secret_anywhere(tmp_path, iam_s3["secret"])
    _no_secret_anywhere(tmp_path, "x" * 40)


def _drop_retention(params: dict[str, Any], **_: Any) -> None:
    params.pop("ObjectLockMode", None)
    params.pop("ObjectLockRetainUntilDate", None)


def test_a_retention_the_service_does_not_apply_is_a_fault(
    tmp_path: Path, s3: S3Bed, cutover: Cutover
) -> None:
    """An S3-compatible service that ignores Object Lock headers: the publisher reads the first
    upload's lock back and finds none. (The client here drops the headers before they are sent,
    standing in for such a service; moto itself applies them.)"""
    bucket = s3.bucket()
    client = s3.client()
    client.meta.events.register("before-parameter-build.s3.PutObject", _drop_retention)
    settings = ArchiveSettings(ArchiveLocation.parse(f"s3://{bucket}/p"))
    store = S3Objects(settings.location, settings.retention, client)
    key = signing_key(tmp_path / "key")
    publisher = ArchivePublisher(cutover.writer.path, settings, key, store=store)
    for _ in range(3):
        for kind, payload in publisher.step(final=True):
            cutover.record_archive(kind, payload)
        publisher._retry_at = 0  # no waiting for the backoff in a test
    faults = _faults(cutover.writer.path)
    assert [f["fault"] for f in faults] == ["retention"]
    assert "came back with retention none" in faults[0]["detail"]
    assert publisher.status.fault == "retention" and "retention not set" in publisher.status.line()


def test_a_fault_that_clears_is_journaled_and_publishing_catches_up(
    tmp_path: Path, cutover: Cutover, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
    }.items():
        monkeypatch.setenv(name, value)
    now = [1000.0]
    settings = ArchiveSettings(ArchiveLocation.parse("s3://later-witness/p"))
    publisher = ArchivePublisher(
        cutover.writer.path, settings, signing_key(tmp_path / "key"), monotonic=lambda: now[0]
    )

    def round_() -> None:
        for kind, payload in publisher.step():
            cutover.record_archive(kind, payload)

    round_()
    assert publisher.status.fault == "unreachable" and publisher.status.retry_in_s >= 1
    now[0] += 0.5
    round_()  # within the backoff: not even tried
    now[0] += 100
    round_()  # tried again, still down: no second fault event
    assert [f["fault"] for f in _faults(cutover.writer.path)] == ["unreachable"]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        boto3.client("s3").create_bucket(Bucket="later-witness", ObjectLockEnabledForBucket=True)
        now[0] += 100
        round_()
        assert publisher.status.fault == "" and publisher.status.started
        faults = _faults(cutover.writer.path)
        assert [f["fault"] for f in faults] == ["unreachable", None]
        assert faults[-1]["detail"] == "publishing again"
        assert publisher.published >= 1  # journal.created is a decision: its checkpoint is out
    finally:
        publisher.close()
        server.stop()
