"""Hostile text through every input path (notes, log lines from a local file and an SSH tail,
probe site names and probe errors from a real SQLite source) to every surface: the CLI on a
pseudo-terminal, both reports, the lead's console and a watcher (Pilot), including a click on a
row that carries an action link. Corpus and checks: tests/hostile.py."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hostile import CORPUS, HOSTILE, forbidden_in, missing
from servers import Sshd
from support import SMALL, require_binary, run_cli
from terminal import on_pty, text_of_html

from cutover_console.clock import SystemClock
from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan
from cutover_console.runbook.session import WatchSession
from cutover_console.service.lead import LeadSession
from cutover_console.ui.app import LeadApp, WatchApp
from cutover_console.ui.table import KeyedTable
from cutover_console.ui.views import JournalPane, LogsPane

pytestmark = pytest.mark.integration
# what a probe's error quotes: the hostile table name, whose controls sqlite3 passes on raw
ERROR_CLASSES = ("action-quit", "osc52-clipboard", "ed-clear")


@dataclass
class World:
    root: Path
    plan: Path
    journal: Path
    local_log: Path
    remote_log: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_binary("sshd")
    root = tmp_path_factory.mktemp("untrusted")
    sshd = Sshd(root / "sshd")
    sshd.start()
    db = root / "uploads.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE uploads (shop text, received_at text)")
    conn.executemany(
        "INSERT INTO uploads VALUES (?, datetime('now', '-3 minutes'))", [(h,) for h in HOSTILE]
    )
    conn.commit()
    conn.close()
    bad_table = " ".join(CORPUS[c][0] for c in ERROR_CLASSES).replace('"', "")
    local_log, remote_log = root / "local.log", root / "remote.log"
    local_log.write_text("")
    remote_log.write_text("")
    base = SMALL.read_text().split("dns:\n")[0]
    plan = root / "plan.yaml"
    plan.write_text(
        base
        + f"""dns:
  records:
    - {{name: upload.small.test, type: A, old: [198.51.100.10], new: [203.0.113.20], ttl: 300}}
flows:
  - id: uploads
    title: Shop uploads
    system: wcf
    late_after: 15m
    sites: true
    old: {{kind: sqlite, path: "{db}",
          query: "SELECT shop, MAX(received_at), COUNT(*) FROM uploads GROUP BY shop"}}
  - id: broken
    title: A probe whose error quotes hostile text
    system: other
    late_after: 15m
    new: {{kind: sqlite, path: "{db}", query: "SELECT 1 FROM \\"{_yaml(bad_table)}\\""}}
logs:
  - {{id: local-app, title: local app, side: old, path: "{local_log}"}}
  - {{id: remote-app, title: remote app, side: new,
      path: "ssh://root@127.0.0.1:{sshd.port}{remote_log}",
      key: "file:{sshd.client_key}", known_hosts: "{sshd.known_hosts}"}}
"""
    )
    journal = root / "j.sqlite"
    assert run_cli("init", str(plan), "--journal", str(journal), "--by", "lena").returncode == 0
    for text in HOSTILE:
        done = run_cli("note", text, "-j", str(journal), "--by", "lena", "--step", "freeze")
        assert done.returncode == 0, done.stderr
    try:
        yield World(root, plan, journal, local_log, remote_log)
    finally:
        sshd.stop()


def _yaml(text: str) -> str:
    """`text` inside a double-quoted YAML scalar, control characters as YAML escapes."""
    escaped = text.replace("\\", "\\\\")
    return re.sub("[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", escaped)


@pytest.fixture(scope="module")
def flowed(world: World) -> World:
    """The flows engine has probed once (--once, on a terminal) and followed the logs (--watch,
    on a terminal) while hostile lines were written locally and on the SSH host."""
    once = on_pty("flows", str(world.plan), "--once", "--journal", str(world.journal))
    world_out["flows --once"] = once

    def write_lines() -> None:
        time.sleep(2)  # the SSH tail is connected by then
        for path in (world.local_log, world.remote_log):
            with path.open("a", encoding="utf-8") as f:
                for text in HOSTILE:
                    f.write(f"ERROR {text}\n")
                f.write("INFO " + "x" * 1_500_000 + "\n")  # a 1.5 MB line

    watched = on_pty(
        "flows",
        str(world.plan),
        "--watch",
        "--journal",
        str(world.journal),
        seconds=6,
        when_shown=("Data flows at", write_lines),
    )
    world_out["flows --watch"] = watched
    return world


world_out: dict[str, str] = {}


def log_texts(journal: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{journal}?mode=ro", uri=True)) as db:
        return [row[0] for row in db.execute("SELECT text FROM log_lines ORDER BY id")]


def test_ingestion_keeps_the_text_and_bounds_it(flowed: World) -> None:
    texts = log_texts(flowed.journal)
    for hostile in HOSTILE:  # stored exactly (the journal keeps what was said) ...
        assert sum(f"ERROR {hostile}" == t for t in texts) == 2, hostile  # local and SSH
    huge = [t for t in texts if t.startswith("INFO xxx")]
    assert len(huge) == 2 and all(len(t) < 1_100_000 and "[cut: " in t for t in huge)


@pytest.mark.parametrize("command", ["flows --once", "flows --watch"])
def test_flows_on_a_terminal_emits_no_control(flowed: World, command: str) -> None:
    out = world_out[command]
    assert forbidden_in(out) == []
    if command == "flows --once":  # the sites table and the probe's error
        assert "Traceback" not in out
        assert "[@click=app.quit]" in out and "␛]52;c;" in out
    else:  # the logs, local and remote: whichever of them the live view still shows when it
        # is captured (the 1.5 MB line may have pushed them off) is shown inert
        plain = out.replace("\r", "")
        for word, c in (("titleword", "osc-title"), ("clearword", "ed-clear")):
            if word in plain:
                assert missing(plain, [CORPUS[c][1]]) == [], word


def test_events_and_status_on_a_terminal(flowed: World) -> None:
    events = on_pty("events", "-j", str(flowed.journal))
    assert forbidden_in(events) == []
    assert missing(events) == []
    status = on_pty("status", "-j", str(flowed.journal))
    assert forbidden_in(status) == [] and "Small test cutover" in status
    exact = run_cli("events", "-j", str(flowed.journal), "--jsonl")
    import json

    notes = [json.loads(line)["payload"].get("text") for line in exact.stdout.splitlines()]
    assert all(h in notes for h in HOSTILE)  # JSON Lines stay exact


def test_both_reports(flowed: World) -> None:
    from markdown_it import MarkdownIt

    md_file, html_file = flowed.root / "r.md", flowed.root / "r.html"
    for out in (md_file, html_file):
        done = run_cli("report", "--journal", str(flowed.journal), "-o", str(out), "--no-rehearsal")
        assert done.returncode == 0, done.stderr
    for path in (md_file, html_file):
        raw = path.read_text(encoding="utf-8")
        assert forbidden_in(raw) == [] and "\x1b" not in raw, path.name
    rendered = MarkdownIt("commonmark").enable("table").render(md_file.read_text())
    assert not re.search(r"<(script|img|a)\b", rendered), "HTML or a link from data"
    assert missing(text_of_html(rendered)) == []
    page = html_file.read_text()
    assert "Content-Security-Policy" in page
    assert not re.search(r"<(script|img|a)\b", page)
    assert missing(text_of_html(page)) == []


def _cells(table: KeyedTable) -> list[str]:
    from rich.text import Text

    shown = []
    for key in table.rows:
        for value in table.get_row(key):
            assert isinstance(value, Text), "a cell Textual would parse as markup"
            assert not value.spans or all("@click" not in str(s.style) for s in value.spans)
            shown.append(value.plain)
    return shown


async def click_every_row(pilot: Any, table: KeyedTable, column_x: int) -> None:
    """Scroll each row into view and click it where its text is."""
    for row in range(table.row_count):
        table.move_cursor(row=row)
        await pilot.pause(0.02)
        y = row - round(table.scroll_y) + 1  # under the header
        if 0 < y < table.size.height:
            await pilot.click(table, offset=(column_x, y))


@pytest.mark.parametrize("who", ["lead", "watcher"])
def test_console_and_watcher_show_it_and_a_click_does_nothing(
    flowed: World, who: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # where a screenshot would land
    session: LeadSession | WatchSession
    if who == "lead":
        session = LeadSession.open(flowed.journal, load_plan(flowed.plan), clock=SystemClock())
        app: LeadApp | WatchApp = LeadApp(session, operator="lena", engines=False)
    else:
        session = WatchSession(flowed.journal)
        app = WatchApp(session)
    with JournalReader(flowed.journal) as reader:
        before = reader.head().seq if reader.head() else 0  # type: ignore[union-attr]

    async def scenario() -> None:
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.press("4")
            await pilot.pause(0.3)
            events = app.query_one(JournalPane).query_one(KeyedTable)
            assert missing(" ".join(_cells(events))) == []
            await pilot.press("3")
            await pilot.pause(1.5)
            logs = app.query_one(LogsPane)
            lines = " ".join(strip.text for strip in logs.query_one("#log").lines)  # type: ignore[attr-defined]
            assert missing(lines) == []
            assert "more characters]" in lines  # the 1.5 MB line, cut for display
            await pilot.press("2")
            await pilot.pause(0.3)
            sites = app.query_one("#sites", KeyedTable)
            assert missing(" ".join(_cells(sites))) == []
            await click_every_row(pilot, sites, column_x=3)  # site names, links included
            await pilot.press("4")
            await pilot.pause(0.2)
            await click_every_row(pilot, events, column_x=70)  # the notes' text
            await pilot.pause(0.3)
            assert app.is_running

    try:
        asyncio.run(scenario())
    finally:
        session.close()
    with JournalReader(flowed.journal) as reader:
        after = reader.head()
    assert after is not None and after.seq == before  # nothing was started or recorded
    assert list(tmp_path.iterdir()) == []  # and no file written
