"""moto's S3 server on 127.0.0.1 for the witness tests: a real S3 HTTP API with versioning and
Object Lock, started by a fixture and stopped with it. Also the forger's tools: a journal whose
history is rewritten and re-chained, exported and signed with the real key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import run_cli

from cutover_console.journal import JournalReader, JournalWriter
from cutover_console.journal.chain import GENESIS, StoredRow, body_from_text, body_hash

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "witness-tests",
    "AWS_SECRET_ACCESS_KEY": "witness-tests-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class S3Bed:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def env(self, **extra: str) -> dict[str, str]:
        """What a `cutover` subprocess needs to reach this server through the AWS config."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": self.endpoint, **extra}

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def bucket(self, *, lock: bool = True) -> str:
        """A new bucket (Object Lock enabled unless `lock=False`). Names are unique in the
        process: moto's servers in one process share their buckets."""
        name = f"witness-{uuid.uuid4().hex[:20]}"
        if lock:
            self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        else:
            self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str) -> list[str]:
        found = self.client().list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
        return sorted(o["Key"][len(prefix) + 1 :] for o in found.get("Contents", []))

    def read(self, bucket: str, key: str) -> bytes:
        return bytes(self.client().get_object(Bucket=bucket, Key=key)["Body"].read())

    def download(self, bucket: str, prefix: str, into: Path) -> Path:
        """A copy of the prefix, as `aws s3 cp --recursive` makes it."""
        for name in self.keys(bucket, prefix):
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read(bucket, f"{prefix}/{name}"))
        return into


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Bed]:
    import logging

    from moto.server import ThreadedMotoServer
    from servers import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Bed(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def aws_env(s3: S3Bed, monkeypatch: pytest.MonkeyPatch) -> S3Bed:
    """This process reaches the server through the AWS configuration too."""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    return s3


def tabletop(tmp_path: Path, plan: Path, where: str, s3: S3Bed, name: str = "tt") -> Path:
    journal = tmp_path / f"{name}.sqlite"
    done = run_cli(
        "tabletop", str(plan), "--journal", str(journal), "-q", "--archive", where,
        env=s3.env(), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return journal


def export(tmp_path: Path, journal: Path, out: str) -> Path:
    """`cutover export` with the key the publisher signed with (state/ under tmp_path)."""
    bundle = tmp_path / out
    done = run_cli("export", "--journal", str(journal), "-o", str(bundle), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return bundle


def rows_of(journal: Path) -> list[StoredRow]:
    with JournalReader(journal) as reader:
        return list(reader.raw_rows())


def rechain(rows: list[StoredRow]) -> list[StoredRow]:
    """What an insider with the key does after editing history: renumber, relink, rehash."""
    prev = GENESIS
    out = []
    for seq, row in enumerate(rows, start=1):
        fields = (row.ts, row.actor, row.os_user, row.kind, row.step, row.payload_text, row.v)
        body = body_from_text(seq, *fields, row.idem, prev)
        digest = body_hash(body)
        out.append(StoredRow(seq, *fields, row.idem, prev, digest))
        prev = digest
    return out


def forge(journal: Path, target: Path, edit: Callable[[list[StoredRow]], list[StoredRow]]) -> Path:
    """A journal whose history `edit` changed, consistently re-chained: it verifies on its own."""
    JournalWriter.restore(target, rechain(edit(rows_of(journal)))).close()
    return target


def changed_payload(row: StoredRow, **values: Any) -> StoredRow:
    payload = {**json.loads(row.payload_text), **values}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return StoredRow(
        row.seq, row.ts, row.actor, row.os_user, row.kind, row.step, text, row.v, row.idem,
        row.prev, row.hash,
    )  # fmt: skip
