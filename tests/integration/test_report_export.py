"""Reports and the client's bundle: contents, determinism, time travel, tamper evidence, the
OpenSSH-only verification route, and Chromium rendering the HTML."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

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


def test_bundle_verifies_and_tampering_is_refused(journal: Path, tmp_path: Path) -> None:
    """The untouched export passes (with its fingerprint and its own checkpoint); one flipped
    bit does not. The hostile corpus is tests/integration/test_verify_hostile.py."""
    bundle = tmp_path / "bundle"
    fingerprint = export(journal, bundle, tmp_path / "export_key")
    head = (bundle / "checkpoint.txt").read_text().splitlines()[0]
    code, output = verify(bundle, "--signer-fingerprint", fingerprint, "--expect-head", head)
    assert code == 0 and f"signed by {fingerprint}, the expected key" in output, output
    assert json.loads(verify(bundle, "--json")[1])["ok"] is True
    data = bytearray((bundle / "report.md").read_bytes())
    data[100] ^= 0x01
    (bundle / "report.md").write_bytes(bytes(data))
    code, output = verify(bundle)
    assert code == 1 and "report.md does not match its SHA-256" in output, output


def test_fresh_install_verify_prints_only_its_verdict(journal: Path, tmp_path: Path) -> None:
    """What the client sees first: `verify` prints its verdict and nothing else, even with every
    warning shown (PYTHONWARNINGS=default also shows the deprecations Python hides): a library's
    warning at import (cryptography's DSA deprecation through asyncssh) never reaches them, and
    `--json` is one JSON document on stdout."""
    bundle = tmp_path / "bundle"
    export_run = run_cli(
        "export",
        "--journal",
        str(journal),
        "-o",
        str(bundle),
        "--sign-key",
        str(tmp_path / "k"),
        env={"PYTHONWARNINGS": "default"},
    )
    assert export_run.returncode == 0 and export_run.stderr == "", export_run.stderr
    for args in ((), ("--json",)):
        result = run_cli("verify", str(bundle), *args, env={"PYTHONWARNINGS": "default"})
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", result.stderr
        if args:
            assert json.loads(result.stdout)["ok"] is True
        else:
            assert result.stdout.startswith("OK: bundle intact") and result.stdout.count("\n") == 1


def verify_md_commands(bundle: Path) -> list[str]:
    """The shell commands of VERIFY.md's OpenSSH section, continuation lines joined."""
    section = (bundle / "VERIFY.md").read_text().split("## With OpenSSH")[1]
    block = "\n".join(line[4:] for line in section.splitlines() if line.startswith("    "))
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def test_openssh_and_sqlite3_route(journal: Path, tmp_path: Path) -> None:
    """VERIFY.md's commands, run as written: every one succeeds on the export, the journal is
    opened immutable, and the last prints the signed checkpoint."""
    for binary in ("ssh-keygen", "sqlite3", "sha256sum"):
        require_binary(binary)
    bundle = tmp_path / "bundle"
    export(journal, bundle, tmp_path / "key")

    def sh(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, shell=True, cwd=bundle, capture_output=True, text=True)

    commands = verify_md_commands(bundle)
    assert sum("ssh-keygen -Y verify" in c for c in commands) == 2
    assert all("file:journal.sqlite?immutable=1" in c for c in commands if c.startswith("sqlite3"))
    results = [sh(c) for c in commands]
    assert all(r.returncode == 0 for r in results), [(r.args, r.stderr) for r in results]
    listed = {line.split()[-1] for line in results[0].stdout.splitlines()[1:]} - {".", ".."}
    assert listed == set(
        (bundle / "VERIFY.md").read_text().split("files (no `->`): ")[1].split(".\n")[0].split()
    )
    assert results[-2].stdout.strip() == "ok"
    assert results[-1].stdout.strip() == (bundle / "checkpoint.txt").read_text().splitlines()[0]
    (bundle / "manifest.sha256").write_text((bundle / "manifest.sha256").read_text() + "\n")
    bad = sh(next(c for c in commands if "manifest.sha256.sig" in c))
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
