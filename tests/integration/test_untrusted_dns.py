"""Hostile DNS data from a real server to every surface that shows it.

A real nsd serves a zone whose TXT records carry escape sequences (written as \\DDD bytes: ESC,
BEL, the C1 CSI 0x9b), Rich/Textual markup (an `@click` action, a hyperlink), HTML and a
Markdown link, and whose CNAME points at a label holding ESC and markup characters. A real
unbound in front of it caches and passes the data on. The plan asks both as resolvers; its own
values for those records (what the zone is meant to hold after the change) are hostile text as a
person would paste it, raw controls included, and so are the resolvers' operator names.

Surfaces: `cutover dns --once` (tables and `--json`) and `--watch` on a pseudo-terminal, the
journal, the lead console's and a watcher's DNS pane (Pilot: cells, the screen, clicks on the
answers that carry markup), and both reports.

What each check guards. dnspython renders every non-printable byte of an answer as `\\DDD`
(`to_text`), so the answers themselves never carry a raw control: what would fail if the
untrusted-text boundary were bypassed is, per surface,
- the DNS pane: the answers' markup (a `str` cell is parsed by Textual's DataTable, so the
  `@click` would quit the app on a click and the hyperlink would be live) -- hence the checks
  that every cell is a `Text` with no action or link, that the screen shows the markup
  literally, and that clicks on it leave the app running and the journal as it was;
- the CLI tables: they show no answer at all (only statuses); the raw controls in the plan's
  operator names would reach the terminal;
- `--json` (through `untrusted.json_text`): a raw C1 control in an operator name
  (`json.dumps` leaves C1 raw);
- the reports: the plan's before/after values for these records (raw controls, and HTML or a
  link for Markdown and HTML).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import pytest
import yaml
from hostile import CORPUS, forbidden_in, missing, svg_text
from support import SMALL, require_binary, run_cli
from terminal import on_pty as run_on_pty
from terminal import text_of_html

from cutover_console.clock import SystemClock
from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan
from cutover_console.runbook.session import WatchSession
from cutover_console.service.lead import LeadSession
from cutover_console.ui.app import LeadApp, WatchApp
from cutover_console.ui.table import KeyedTable

pytestmark = pytest.mark.integration

ZONE = "small.test"  # the small plan's gates name upload.small.test
NSD_ADDR = "127.0.66.1"  # an address of its own: the shared DNS bed uses 127.0.53.0/24
UNBOUND_ADDR = "127.0.66.2"
ANSWER_LIMIT = 40  # characters of the answers the DNS pane shows
CLICKS = 12  # columns clicked at the start of an answers cell that carries markup

# name -> (type, the record's data in the zone file, what dnspython's to_text gives for it
# (the answer the engine reports, and what every surface must show exactly), the classes of the
# hostile corpus the plan gives as the record's new value)
RECORDS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "click": ("TXT", '"[@click=app.quit]x[/]"', '"[@click=app.quit]x[/]"', ("action-quit",)),
    "link": (
        "TXT",
        '"[link=https://evil.example]y[/link]"',
        '"[link=https://evil.example]y[/link]"',
        ("markup-hyperlink", "action-screenshot"),
    ),
    "osc52": (
        "TXT",
        r'"\027]52;c;Y3VybCBldmlsfHNo\007"',
        r'"\027]52;c;Y3VybCBldmlsfHNo\007"',
        ("osc52-clipboard", "osc-title", "osc2-title"),
    ),
    "clear": (
        "TXT",
        r'"\027[2J\1552J"',
        r'"\027[2J\1552J"',
        ("ed-clear", "c1-csi", "dsr-report", "ris-reset"),
    ),
    "html": (
        "TXT",
        '"<script>alert(1)</script>"',
        '"<script>alert(1)</script>"',
        ("html", "del", "bidi"),
    ),
    "mdlink": (
        "TXT",
        '"[mdlink](javascript:alert(3))"',
        '"[mdlink](javascript:alert(3))"',
        ("md-link", "markup-blink", "action-start"),
    ),
    # a CNAME whose target label holds an OSC title sequence (ESC ] 0 ; t BEL) and markup
    # (names are lower-cased by nsd and the engine alike, so no upper-case final byte such as
    # ED's `J` survives in a name; `;` is escaped in both the zone file and to_text)
    "www": (
        "CNAME",
        rf"\027]0\;t\007[b]cn[/b].{ZONE}.",
        rf"\027]0\;t\007[b]cn[/b].{ZONE}",
        ("markup-blink",),
    ),
}
SHOWN_ANSWERS = [answer for _, _, answer, _ in RECORDS.values()]
# The markup among the answers: shown literally wherever an answer is shown.
MARKUP = ["[@click=app.quit]x[/]", "[link=https://evil.example]y[/link]", "[b]cn[/b]"]
# The resolvers' operator names, as a plan may copy them from somewhere (raw controls, markup).
OPERATORS = {
    "nsd-direct": ("osc52-clipboard", "action-quit"),
    "unbound": ("c1-csi", "markup-hyperlink"),
}


def _free_port(address: str) -> int:
    """A port free on `address` for both UDP and TCP (nsd and unbound listen on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
        return port
    raise RuntimeError(f"no free port on {address}")


def _wait_answer(address: str, port: int, name: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    query = dns.message.make_query(name, "SOA")
    while time.monotonic() < deadline:
        try:
            response = dns.query.udp(query, address, port=port, timeout=0.3)
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
            continue
        if response.answer:
            return
        time.sleep(0.05)
    raise RuntimeError(f"no answer for {name} from {address}:{port}")


def zone_file() -> str:
    lines = [
        f"$ORIGIN {ZONE}.",
        "$TTL 300",
        f"@ 3600 IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 5",
        f"@ 3600 IN NS ns1.{ZONE}.",
        f"ns1 3600 IN A {NSD_ADDR}",
        "upload 300 IN A 198.51.100.10",
    ]
    lines += [f"{name} 300 IN {rtype} {data}" for name, (rtype, data, _, _) in RECORDS.items()]
    return "\n".join(lines) + "\n"


def plan_text(nsd_port: int, unbound_port: int) -> str:
    """The small plan with a `dns:` section on this server (YAML escapes the raw controls)."""
    section = {
        "zone": ZONE,
        "resolvers": [
            {
                "name": name,
                "address": address,
                "port": port,
                "operator": " ".join(CORPUS[c][0] for c in OPERATORS[name]),
                "qps": 200,
            }
            for name, address, port in (
                ("nsd-direct", NSD_ADDR, nsd_port),
                ("unbound", UNBOUND_ADDR, unbound_port),
            )
        ],
        "authorities": [{"name": "ns1", "address": NSD_ADDR, "port": nsd_port}],
        "records": [
            {
                "name": f"upload.{ZONE}",
                "type": "A",
                "old": ["198.51.100.10"],
                "new": ["203.0.113.20"],
                "ttl": 300,
            },
            *(
                {
                    "name": f"{name}.{ZONE}",
                    "type": rtype,
                    "old": [answer],  # what the zone serves now: every resolver answers 'old'
                    "new": [CORPUS[c][0] for c in classes],
                }
                for name, (rtype, _, answer, classes) in RECORDS.items()
            ),
        ],
    }
    base = SMALL.read_text().split("dns:\n")[0]
    return base + yaml.safe_dump({"dns": section}, allow_unicode=False, sort_keys=False)


@dataclass
class HostileDns:
    root: Path
    plan: Path
    journal: Path
    nsd_port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    out: dict[str, str] = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the process)
        self.procs.append(
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def start_nsd(bed: HostileDns, port: int) -> None:
    d = bed.root / "nsd"
    d.mkdir()
    (d / f"{ZONE}.zone").write_text(zone_file())
    conf = d / "nsd.conf"
    conf.write_text(f"""server:
    ip-address: {NSD_ADDR}@{port}
    port: {port}
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: "{ZONE}"
    zonefile: "{ZONE}.zone"
""")
    bed.spawn("nsd", ["nsd", "-d", "-c", str(conf)])


def start_unbound(bed: HostileDns, port: int, nsd_port: int) -> None:
    d = bed.root / "unbound"
    d.mkdir()
    conf = d / "unbound.conf"
    conf.write_text(f"""server:
    interface: {UNBOUND_ADDR}@{port}
    port: {port}
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    use-syslog: no
    logfile: ""
    do-ip6: no
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    local-zone: "test." nodefault
    domain-insecure: "test."
    module-config: "iterator"
    num-threads: 1
stub-zone:
    name: "{ZONE}"
    stub-addr: {NSD_ADDR}@{nsd_port}
remote-control:
    control-enable: no
""")
    bed.spawn("unbound", ["unbound", "-d", "-c", str(conf)])


def on_pty(*args: str, seconds: float | None = None) -> str:
    """`cutover ARGS` on a pseudo-terminal (tests/terminal.py); it must exit 0."""
    return run_on_pty(*args, seconds=seconds, check=True)


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileDns]:
    for binary in ("nsd", "unbound"):
        require_binary(binary)
    root = tmp_path_factory.mktemp("hostile-dns")
    nsd_port, unbound_port = _free_port(NSD_ADDR), _free_port(UNBOUND_ADDR)
    plan = root / "hostile-dns.yaml"
    plan.write_text(plan_text(nsd_port, unbound_port))
    testbed = HostileDns(root, plan, root / "j.sqlite", nsd_port)
    try:
        start_nsd(testbed, nsd_port)
        _wait_answer(NSD_ADDR, nsd_port, ZONE)
        start_unbound(testbed, unbound_port, nsd_port)
        _wait_answer(UNBOUND_ADDR, unbound_port, ZONE)
        done = run_cli("init", str(plan), "--journal", str(testbed.journal), "--by", "lena")
        assert done.returncode == 0, done.stderr
        testbed.out["tables"] = on_pty("dns", str(plan), "--once", "--timeout", "1")
        testbed.out["json"] = on_pty("dns", str(plan), "--once", "--json", "--timeout", "1")
        testbed.out["journaled"] = on_pty(
            "dns", str(plan), "--once", "--timeout", "1", "--journal", str(testbed.journal)
        )
        testbed.out["watch"] = on_pty("dns", str(plan), "--watch", "--timeout", "1", seconds=4)
        yield testbed
    finally:
        testbed.stop()
    assert all(p.poll() is not None for p in testbed.procs)


def test_the_server_serves_the_hostile_bytes(bed: HostileDns) -> None:
    """The bytes on the wire are the hostile ones (the zone file's \\DDD were read as bytes)."""
    response = dns.query.udp(
        dns.message.make_query(f"osc52.{ZONE}", "TXT"), NSD_ADDR, port=bed.nsd_port, timeout=2
    )
    assert response.answer[0][0].strings == (b"\x1b]52;c;Y3VybCBldmlsfHNo\x07",)
    response = dns.query.udp(
        dns.message.make_query(f"www.{ZONE}", "CNAME"), NSD_ADDR, port=bed.nsd_port, timeout=2
    )
    assert response.answer[0][0].target.labels[0] == b"\x1b]0;t\x07[b]cn[/b]"


def test_cli_tables_on_a_terminal(bed: HostileDns) -> None:
    for run in ("tables", "journaled", "watch"):
        out = bed.out[run]
        assert "\x1b[" in out, "no colour: the terminal test would prove nothing"
        assert forbidden_in(out) == [], run
        assert "Traceback" not in out
        plain = re.sub(r"\x1b\[[0-9;:]*m", "", out)
        for name, (rtype, _, _, _) in RECORDS.items():
            assert f"{name}.{ZONE} {rtype}" in plain
        operators = [CORPUS[c][1] for classes in OPERATORS.values() for c in classes]
        assert missing(plain, operators) == [], run


def test_cli_json_is_exact_and_inert(bed: HostileDns) -> None:
    out = bed.out["json"]
    assert forbidden_in(out) == []
    snapshot = json.loads(out)
    records = {r["name"]: r for r in snapshot["records"]}
    for name, (_, _, answer, _) in RECORDS.items():
        record = records[f"{name}.{ZONE}"]
        assert record["authority"]["status"] == "old", name
        for resolver in record["resolvers"]:
            assert resolver["status"] == "old", (name, resolver)
            assert resolver["answers"] == [answer], (name, resolver)
    operators = {r["name"]: r["operator"] for r in snapshot["resolvers"]}
    for name, classes in OPERATORS.items():  # JSON keeps the exact text
        assert operators[name] == " ".join(CORPUS[c][0] for c in classes)


def test_the_journal_keeps_the_exact_answers(bed: HostileDns) -> None:
    with JournalReader(bed.journal) as reader:
        verdicts = [e.payload for e in reader.events() if e.kind == "dns.verdict"]
    for name, (rtype, _, answer, _) in RECORDS.items():
        record = f"{name}.{ZONE}/{rtype}"
        got = {v["resolver"]: v["answers"] for v in verdicts if v["record"] == record}
        assert got == {"nsd-direct": [answer], "unbound": [answer]}, record


def _shown(cell: object) -> str:
    """A table cell's characters, after checking that nothing in it is markup-made."""
    from rich.text import Text

    assert isinstance(cell, Text), f"a cell Textual would parse as markup: {cell!r}"
    for span in cell.spans:
        style = span.style
        assert isinstance(style, str) or (not style.link and not style.meta), cell.spans
        assert "@click" not in str(style) and "link" not in str(style), cell.spans
    return cell.plain


def _clip(value: str) -> str:
    return value if len(value) <= ANSWER_LIMIT else value[: ANSWER_LIMIT - 1] + "…"


@pytest.mark.parametrize("who", ["lead", "watcher"])
def test_dns_pane_shows_answers_and_a_click_does_nothing(
    bed: HostileDns, who: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # where a screenshot would land
    session: LeadSession | WatchSession
    if who == "lead":
        session = LeadSession.open(bed.journal, load_plan(bed.plan), clock=SystemClock())
        app: LeadApp | WatchApp = LeadApp(session, operator="lena", engines=False)
    else:
        session = WatchSession(bed.journal)
        app = WatchApp(session)
    with JournalReader(bed.journal) as reader:
        head = reader.head()
        before = head.seq if head else 0
    seen: dict[str, dict[str, str]] = {}
    answers = {f"{name}.{ZONE}/{t}": answer for name, (t, _, answer, _) in RECORDS.items()}
    screen: dict[str, str] = {}

    async def scenario() -> None:
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.press("1")
            await pilot.pause(0.3)
            records = app.query_one("#dns-records", KeyedTable)
            resolvers = app.query_one("#dns-resolvers", KeyedTable)
            keys = [str(r.value) for r in records.rows]
            assert {f"{name}.{ZONE}/{t}" for name, (t, _, _, _) in RECORDS.items()} <= set(keys)
            for row_key in records.rows:
                for value in records.get_row(row_key):
                    _shown(value)
            for index, key in enumerate(keys):
                # Rebuild the resolvers' rows for each record: an update in place keeps the
                # columns as wide as the first record's answers made them (only a rebuild
                # measures), and the screen check below needs the whole answer on screen.
                resolvers.clear()
                records.move_cursor(row=index)
                app.refresh_views()
                await pilot.pause(0.2)
                seen[key] = {}
                if key in answers:  # what the screen shows, however the cells were built
                    screen[key] = svg_text(app.export_screenshot())
                columns = list(resolvers.columns.values())
                start = sum(c.get_render_width(resolvers) for c in columns[:2])
                width = columns[2].get_render_width(resolvers)
                for row, resolver in enumerate(list(resolvers.rows)):
                    cells = resolvers.get_row(resolver)
                    seen[key][str(resolver.value)] = _shown(cells[2])
                    for value in cells:
                        _shown(value)
                    if not any(m in answers.get(key, "") for m in MARKUP):
                        continue
                    # the start of the answers cell, where the markup's words (the `x` of the
                    # quit action, the `y` of the link) would be if it had been parsed
                    for x in range(start, start + min(width, CLICKS)):
                        await pilot.click(resolvers, offset=(x, row + 1))
                    assert app.is_running, f"a click on {key}'s answers ended the app"
            await pilot.pause(0.3)
            assert app.is_running

    try:
        asyncio.run(scenario())
    finally:
        session.close()
    for name, (rtype, _, answer, _) in RECORDS.items():
        shown = seen[f"{name}.{ZONE}/{rtype}"]
        assert set(shown) == {"nsd-direct", "unbound"}
        assert all(value == _clip(answer) for value in shown.values()), (name, shown)
        on_screen = screen[f"{name}.{ZONE}/{rtype}"]
        rows = [
            line for line in on_screen.splitlines() if re.match(r" ?(nsd-direct|unbound) ", line)
        ]
        assert on_screen.count(_clip(answer)) == 2, (name, rows)  # both resolvers' rows
    everything = " ".join(v for row in seen.values() for v in row.values())
    assert missing(everything, MARKUP) == []
    assert "\x1b" not in everything and "\\027" in everything
    with JournalReader(bed.journal) as reader:
        after = reader.head()
    assert after is not None and after.seq == before  # no click started or recorded anything
    assert list(tmp_path.iterdir()) == []  # and wrote no file


def test_both_reports(bed: HostileDns) -> None:
    from markdown_it import MarkdownIt

    md_file, html_file = bed.root / "r.md", bed.root / "r.html"
    for out in (md_file, html_file):
        done = run_cli("report", "--journal", str(bed.journal), "-o", str(out), "--no-rehearsal")
        assert done.returncode == 0, done.stderr
    # the report's DNS table: every record's value before (what the servers answer, as the
    # engine writes it) and after (the plan's text, raw controls included), shown literally
    before = SHOWN_ANSWERS
    after = [CORPUS[c][1] for _, _, _, classes in RECORDS.values() for c in classes]
    for path in (md_file, html_file):
        raw = path.read_text(encoding="utf-8")
        assert "\x1b" not in raw and forbidden_in(raw) == [], path.name
    rendered = MarkdownIt("commonmark").enable("table").render(md_file.read_text())
    assert "<script" not in rendered and not re.search(r"<(img|a)\b", rendered)
    assert 'href="javascript:' not in rendered
    text = text_of_html(rendered)
    assert missing(text, before) == [] and missing(text, after) == []
    page = html_file.read_text(encoding="utf-8")
    assert "<script" not in page and not re.search(r"<(img|a|blink|link)\b", page)
    assert 'href="javascript:' not in page
    text = text_of_html(page)
    assert missing(text, before) == [] and missing(text, after) == []
