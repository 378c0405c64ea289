"""Reports and the client's bundle: contents, determinism, time travel, tamper evidence, the
OpenSSH-only verification route, and Chromium rendering the HTML."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import asyncssh
import pytest
from support import SHIPPED, require_binary, run_cli

from cutover_console.journal import Actor, JournalWriter


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The shipped runbook walked through (tabletop), plus DNS, flow and watcher history."""
    path = tmp_path_factory.mktemp("report") / "j.sqlite"
    assert run_cli("tabletop", str(SHIPPED), "--journal", str(path), "-q").returncode == 0
    writer = JournalWriter.open(path)
    engine = Actor("engine:dns", "test")
    for percent in (0.0, 40.0, 100.0):
        writer.append(
            "dns.record",
            {
                "record": "upload.collision-bi.test/A",
                "healthy": 5,
                "new": int(percent / 20),
                "old": 5 - int(percent / 20),
                "failed": 0,
                "percent_new": percent,
                "eta": None,
            },
            actor=engine,
        )
    writer.append(
        "dns.verdict",
        {
            "record": "upload.collision-bi.test/A",
            "resolver": "google-1",
            "status": "new",
            "answers": ["203.0.113.20"],
            "ttl": 300,
            "observed_at": None,
            "flips_by": None,
            "flags": [],
            "detail": "",
        },
        actor=engine,
    )
    writer.append(
        "flow.site",
        {
            "flow": "wcf-upload",
            "site": "shop017",
            "status": "straggler",
            "last_old": "2026-12-06T17:01:00Z",
            "first_new": None,
            "last_new": None,
        },
        actor=Actor("engine:flows", "test"),
    )
    writer.append(
        "watcher.disconnected",
        {
            "fingerprint": "SHA256:x",
            "comment": "dba-raj",
            "peer": "127.0.0.1:50000",
            "duration_s": 600.0,
        },
        actor=Actor("system", "test"),
    )
    writer.close()
    yield path


def report(journal: Path, out: Path, *args: str) -> str:
    result = run_cli("report", "--journal", str(journal), "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    return out.read_text(encoding="utf-8")


class Balanced(HTMLParser):
    VOID: ClassVar[set[str]] = {
        "meta",
        "br",
        "hr",
        "img",
        "line",
        "rect",
        "polyline",
        "link",
        "input",
    }

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href") or (value and "://" in value and name != "xmlns"):
                self.problems.append(f"{tag} {name}={value}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


def test_report_has_every_section_and_the_right_numbers(journal: Path, tmp_path: Path) -> None:
    md = report(journal, tmp_path / "r.md")
    for heading in (
        "Outcome and summary",
        "Task by task",
        "Timeline of key events",
        "Sign-offs and the evidence",
        "Deviations",
        "## DNS",
        "## Data flows",
        "Participants",
        "Open items",
        "Integrity",
    ):
        assert heading in md, heading
    assert "**Outcome: successful with deviations.** 43 of 43 steps finished" in md
    assert "27 override(s)" in md and "passed Sun 2026-12-06 11:05" in md
    assert "GO decided by dana-whitfield" in md and "Stragglers at close: wcf-upload/shop017" in md
    assert "| google-1 |" in md and "dba-raj" in md
    head = run_cli("verify", str(journal)).stdout.split("head ")[1].strip()
    assert f"`{head}`" in md


def test_html_is_self_contained_valid_and_deterministic(journal: Path, tmp_path: Path) -> None:
    first = report(journal, tmp_path / "a.html")
    second = report(journal, tmp_path / "b.html")
    assert first == second  # same journal, same bytes
    assert "Content-Security-Policy" in first and "default-src 'none'" in first
    assert "<script" not in first.lower()
    parser = Balanced()
    parser.feed(first)
    assert parser.problems == [] and parser.stack == []
    assert {"svg", "polyline", "table", "style"} <= parser.tags


def test_time_travel_and_status(journal: Path, tmp_path: Path) -> None:
    saturday = report(journal, tmp_path / "sat.md", "--at", "2026-12-05 09:00")
    assert "**Outcome: in progress.**" in saturday
    assert "Point of no return (open-new-writes) not passed" in saturday
    status = report(journal, tmp_path / "status.md", "--status")
    assert "status report" in status and "Task by task" in status
    assert "Timeline of key events" not in status  # the one-page version


def export(journal: Path, out: Path, key: Path) -> str:
    result = run_cli("export", "--journal", str(journal), "-o", str(out), "--sign-key", str(key))
    assert result.returncode == 0, result.stderr
    return result.stdout.split("signed by ")[1].split()[0]


def verify(bundle: Path, *args: str) -> tuple[int, str]:
    result = run_cli("verify", str(bundle), *args)
    return result.returncode, result.stdout + result.stderr


def resign(bundle: Path, key: asyncssh.SSHKey, *, replace_signers: bool = False) -> None:
    from cutover_console.report.bundle import FILES, SIGNED, sha256_file

    if replace_signers:
        public = key.export_public_key("openssh").decode().strip()
        (bundle / "allowed_signers").write_text(f'cutover-export namespaces="file" {public}\n')
    (bundle / "manifest.sha256").write_text(
        "".join(f"{sha256_file(bundle / n)}  {n}\n" for n in FILES)
    )
    for name in SIGNED:
        (bundle / f"{name}.sig").write_bytes(
            asyncssh.create_sshsig(key, (bundle / name).read_bytes(), namespace="file")
        )


def test_tampered_bundles_are_caught(journal: Path, tmp_path: Path) -> None:
    key_path = tmp_path / "export_key"
    base = tmp_path / "bundle"
    fingerprint = export(journal, base, key_path)
    assert verify(base, "--signer-fingerprint", fingerprint) == (0, verify(base)[1])
    insider = asyncssh.read_private_key(str(key_path))
    stranger = asyncssh.generate_private_key("ssh-ed25519")

    def copy() -> Path:
        target = tmp_path / f"t{len(list(tmp_path.glob('t*')))}"
        shutil.copytree(base, target)
        return target

    def flip(path: Path, offset: int = 2000) -> None:
        data = bytearray(path.read_bytes())
        data[min(offset, len(data) - 1)] ^= 0x01
        path.write_bytes(bytes(data))

    cases: list[tuple[str, Path, str]] = []
    for name in ("journal.sqlite", "events.jsonl", "report.html", "report.md", "VERIFY.md"):
        b = copy()
        flip(b / name)
        cases.append((f"bit flip in {name}", b, f"{name} does not match"))
    b = copy()
    lines = (b / "events.jsonl").read_text().splitlines()
    (b / "events.jsonl").write_text("\n".join(lines[:-5]) + "\n")
    cases.append(("truncated events.jsonl", b, "events.jsonl does not match"))
    b = copy()
    lines[10], lines[11] = lines[11], lines[10]
    (b / "events.jsonl").write_text("\n".join(lines) + "\n")
    resign(b, insider)  # even the key holder cannot reorder events unnoticed
    cases.append(("reordered events, re-signed", b, "events.jsonl: reordered"))
    b = copy()
    (b / "checkpoint.txt").write_text(f"{len(lines)}:{'a' * 64}\nevents {len(lines)}\n")
    resign(b, insider)
    cases.append(("forged checkpoint, re-signed", b, "rewritten"))
    b = copy()
    (b / "checkpoint.txt").write_text("1:" + "b" * 64 + "\n")
    cases.append(("forged checkpoint, old signature", b, "checkpoint.txt does not verify"))
    b = copy()
    flip(b / "events.jsonl")
    resign(b, stranger)  # signed by someone else, allowed_signers left alone
    cases.append(("re-signed with another key", b, "does not verify"))
    b = copy()
    (b / "report.md").unlink()
    cases.append(("a file removed", b, "report.md is missing"))
    for label, bundle, expected in cases:
        code, output = verify(bundle)
        assert code == 1 and expected in output, (label, output)
    b = copy()
    flip(b / "events.jsonl")
    resign(b, stranger, replace_signers=True)  # a complete forgery: only the fingerprint tells
    code, output = verify(b, "--signer-fingerprint", fingerprint)
    assert code == 1 and "not by the expected" in output


def test_openssh_and_sqlite3_route(journal: Path, tmp_path: Path) -> None:
    for binary in ("ssh-keygen", "sqlite3", "sha256sum"):
        require_binary(binary)
    bundle = tmp_path / "bundle"
    export(journal, bundle, tmp_path / "key")

    def sh(command: str, stdin: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            shell=True,
            cwd=bundle,
            capture_output=True,
            text=True,
            stdin=stdin.open("rb") if stdin else None,
        )

    for name in ("manifest.sha256", "checkpoint.txt"):
        good = sh(
            f"ssh-keygen -Y verify -f allowed_signers -I cutover-export -n file -s {name}.sig",
            bundle / name,
        )
        assert good.returncode == 0 and "Good" in good.stdout + good.stderr
    assert sh("sha256sum -c manifest.sha256").returncode == 0
    assert sh("sqlite3 journal.sqlite 'PRAGMA integrity_check'").stdout.strip() == "ok"
    head = sh(
        "sqlite3 journal.sqlite \"SELECT seq || ':' || hash FROM events ORDER BY seq DESC LIMIT 1\""
    ).stdout.strip()
    assert head == (bundle / "checkpoint.txt").read_text().splitlines()[0]
    assert "ssh-keygen -Y verify" in (bundle / "VERIFY.md").read_text()
    (bundle / "manifest.sha256").write_text((bundle / "manifest.sha256").read_text() + "\n")
    bad = sh(
        "ssh-keygen -Y verify -f allowed_signers -I cutover-export -n file -s manifest.sha256.sig",
        bundle / "manifest.sha256",
    )
    assert bad.returncode != 0
    assert json.loads((bundle / "events.jsonl").read_text().splitlines()[0])["seq"] == 1


def test_chromium_renders_the_html_report(journal: Path, tmp_path: Path) -> None:
    chromium = require_binary("chromium")
    html = tmp_path / "r.html"
    report(journal, html)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 40_000  # a rendered page, not a blank one
