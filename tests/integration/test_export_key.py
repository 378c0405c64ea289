"""Issue 20, item 10: the export key lives beside the journal, whatever the working directory;
the export and the witness publisher sign with the same key, an export refuses to mix keys,
`verify --witness` names a key mismatch as such, and `--witness` checks a journal itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from s3bed import S3Bed, s3, tabletop
from support import SMALL, run_cli

pytestmark = pytest.mark.integration
__all__ = ["s3"]  # the fixture


def test_an_export_from_another_directory_signs_with_the_witness_key(
    tmp_path: Path, s3: S3Bed
) -> None:
    bucket = s3.bucket()
    where = f"s3://{bucket}/small"
    cutover = tmp_path / "cutover"
    cutover.mkdir()
    journal = tabletop(cutover, SMALL, where, s3)  # run from cutover/: the publisher signs
    key = cutover / "export_signing_key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    bundle = tmp_path / "bundle"
    done = run_cli("export", "-j", str(journal), "-o", str(bundle), cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert f"key {key}" in done.stdout
    assert not (elsewhere / "state").exists()  # no second key made where the command ran
    checked = run_cli("verify", str(bundle), "--witness", where, env=s3.env(), cwd=elsewhere)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # the journal itself, without a bundle, against the same witness
    bare = run_cli("verify", str(journal), "--witness", where, env=s3.env(), cwd=elsewhere)
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert "published checkpoint(s) checked" in bare.stdout and "the journal extends" in bare.stdout
    assert "the checkpoints are signed by SHA256:" in bare.stderr
    as_json = run_cli("verify", str(journal), "--witness", where, "--json", env=s3.env())
    assert as_json.returncode == 0 and '"witness": {"ok": true' in as_json.stdout

    # another key: the export refuses to mix them, naming both
    other = tmp_path / "other_key"
    mixed = run_cli("export", "-j", str(journal), "-o", str(tmp_path / "mixed"),
                    "--sign-key", str(other))  # fmt: skip
    assert mixed.returncode == 2 and "Traceback" not in mixed.stderr, mixed.stderr
    assert "not mixing two keys" in mixed.stderr and "SHA256:" in mixed.stderr
    assert not (tmp_path / "mixed" / "journal.sqlite").exists()

    # a bundle signed by another key (an export made before this fix): named a key mismatch
    from cutover_console.report import bundle as bundles

    keep = bundles.refuse_another_key
    bundles.refuse_another_key = lambda _reader, _key: None  # as exports were made before
    try:
        bundles.export(journal, tmp_path / "old", bundles.signing_key(tmp_path / "old_key"))
    finally:
        bundles.refuse_another_key = keep
    mismatch = run_cli("verify", str(tmp_path / "old"), "--witness", where, env=s3.env())
    assert mismatch.returncode == 1, mismatch.stdout
    assert "key mismatch" in mismatch.stderr and "not by itself another history" in mismatch.stderr


def test_a_key_file_open_to_other_users_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    assert run_cli("init", str(SMALL), "-j", str(journal), "--by", "lena").returncode == 0
    key = tmp_path / "export_signing_key"
    first = run_cli("export", "-j", str(journal), "-o", str(tmp_path / "b1"))
    assert first.returncode == 0, first.stderr
    os.chmod(key, 0o644)
    refused = run_cli("export", "-j", str(journal), "-o", str(tmp_path / "b2"))
    assert refused.returncode == 2 and "open to other users" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
