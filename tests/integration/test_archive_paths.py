"""Issue 21: `restore` and `verify --witness` from a directory copy of a witness prefix open
nothing outside it. A `segments/` or `checkpoints/` folder that is a symbolic link (to a
complete, valid copy elsewhere: following it would succeed) is refused by name; strace shows no
file under the link's target opened; no journal is written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from s3bed import S3Bed, export, s3, tabletop
from support import SMALL, require_binary

pytestmark = pytest.mark.integration
__all__ = ["s3"]


def traced(tmp_path: Path, trace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`cutover ARGS` under strace: every path it opens (or stats through) goes to `trace`."""
    require_binary("strace")
    return subprocess.run(
        [
            "strace", "-f", "-qq", "-o", str(trace),
            "-e", "trace=open,openat,openat2,stat,newfstatat,statx,readlink,readlinkat",
            sys.executable, "-m", "cutover_console", *args,
        ],
        capture_output=True, text=True, cwd=tmp_path, timeout=180,
    )  # fmt: skip


@pytest.mark.parametrize("folder", ["segments", "checkpoints"])
def test_a_symlinked_folder_in_the_copy_is_refused_and_nothing_outside_is_opened(
    tmp_path: Path, s3: S3Bed, folder: str
) -> None:
    bucket = s3.bucket()
    journal = tabletop(tmp_path, SMALL, f"s3://{bucket}/small", s3)
    bundle = export(tmp_path, journal, "bundle")
    copy = s3.download(bucket, "small", tmp_path / "copy")
    assert any((copy / folder).iterdir())
    # the folder moves outside the copy, intact, and a link takes its place
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.move(copy / folder, outside / folder)
    (copy / folder).symlink_to(outside / folder, target_is_directory=True)
    # (following the link would work: the same copy with the real folder verifies)
    real = tmp_path / "real"
    shutil.copytree(copy, real, symlinks=False)
    ok = subprocess.run(
        [sys.executable, "-m", "cutover_console", "verify", str(bundle), "--witness", str(real)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr

    target = tmp_path / "restored.sqlite"
    for name, args in {
        "restore": ("restore", str(copy), "--journal", str(target)),
        "verify": ("verify", str(bundle), "--witness", str(copy)),
    }.items():
        trace = tmp_path / f"{name}.trace"
        done = traced(tmp_path, trace, *args)
        assert done.returncode != 0, f"{name} followed the link: {done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr
        assert f"{folder} in {copy} is a symbolic link: refused" in done.stderr, done.stderr
        opened = [line for line in trace.read_text().splitlines() if str(outside) in line]
        assert opened == [], f"{name} opened outside the copy:\n" + "\n".join(opened[:5])
    assert not target.exists()


def test_a_symlinked_segment_file_is_refused_too(tmp_path: Path, s3: S3Bed) -> None:
    bucket = s3.bucket()
    journal = tabletop(tmp_path, SMALL, f"s3://{bucket}/small", s3)
    bundle = export(tmp_path, journal, "bundle")
    copy = s3.download(bucket, "small", tmp_path / "copy")
    first = min((copy / "segments").iterdir())
    outside = tmp_path / "elsewhere.jsonl"
    shutil.move(first, outside)
    first.symlink_to(outside)
    trace = tmp_path / "verify.trace"
    done = traced(tmp_path, trace, "verify", str(bundle), "--witness", str(copy))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"segments/{first.name} in {copy} is a symbolic link: refused" in done.stderr
    assert [line for line in trace.read_text().splitlines() if str(outside) in line] == []
