"""Issue 14: viewers forked from a warm parent. The warm parent itself (with a probe app standing
in for the watch app): each child is forked from it with Textual already loaded, on its own
session and controlling terminal, with exactly the environment it is given, fresh signal
handlers, no fd of its parent, and a fold caught up to the journal's head. Then through the real
`cutover serve` and OpenSSH: the viewer's parent is the warm parent, and two viewers with
different sizes and filters share nothing."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import ROOT, SMALL, require_binary, run_cli
from test_ssh_hardening import PtyClient, alive
from test_ssh_watch import (
    Served,
    Tmux,
    children_of,
    start_serve,
    stop_serve,
    viewers_of,
    warm_parent_of,
)

from cutover_console.runbook.session import WatchSession
from cutover_console.settings import Settings
from cutover_console.sshwatch.forkserver import ViewerForkServer
from cutover_console.sshwatch.server import child_environment
from cutover_console.sshwatch.zygote import WarmParent
from cutover_console.ui.app import WatchApp

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 3, 14, 21, 0, tzinfo=UTC)  # the screens compared must show one time


def stat_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def read_facts(master: int, timeout: float = 20.0) -> dict[str, Any]:
    seen = b""
    deadline = time.monotonic() + timeout
    while b"END" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    assert b"FACTS" in seen and b"END" in seen, seen
    body = seen.split(b"FACTS", 1)[1].split(b"END", 1)[0]
    return dict(json.loads(body.replace(b"\r\n", b"\n")))


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "j.sqlite"
    assert run_cli("init", str(SMALL), "--journal", str(path)).returncode == 0
    return path


def test_the_warm_parent_forks_hardened_viewers_caught_up_to_the_head(journal: Path) -> None:
    # the warm parent's own environment carries what the server's does (PYTHONPATH: the probe)
    parent_env = child_environment("", {})
    parent_env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT)])
    parent_env["TEXTUAL_DRIVER"] = "must-not-reach-a-viewer"
    given = {"PATH": "/usr/bin:/bin", "HOME": "/", "TERM": "vt220", "LANG": "C.UTF-8"}

    async def scenario() -> None:
        warm = ViewerForkServer(journal, parent_env, app="zygote_probe:ProbeApp")
        info = await warm.start()
        try:
            assert info["textual"] and info["head"] == 1  # loaded and folded before any fork
            zygote = info["pid"]
            socket_inode = os.readlink(f"/proc/{zygote}/fd/3")
            # the lead goes on after the parent folded: the child must see it all
            for who in ("omar", "lena"):
                run_cli("note", f"from {who}", "-j", str(journal), "--by", who)
            master, slave = pty.openpty()
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
            try:
                viewer = await warm.fork(slave, given)
                os.close(slave)
                facts = await asyncio.to_thread(read_facts, master)
                rc = await asyncio.wait_for(viewer.wait(), 20)
                assert alive(viewer.pid) is False or stat_of(viewer.pid)[0] == "Z"
                viewer.release()
            finally:
                os.close(master)
            # forked by the warm parent, Textual already in memory (the probe imports none)
            assert facts["ppid"] == zygote and facts["pid"] == viewer.pid
            assert {"textual", "textual.drivers.linux_driver"} <= set(facts["textual"])
            # its own session and process group, the PTY its controlling terminal
            assert facts["sid"] == facts["pid"] == facts["pgid"] == facts["tcpgrp"]
            assert facts["size"] == [111, 33]
            # exactly the environment it was given: nothing of the parent's
            assert facts["env"] == given
            # fresh signal handlers, nothing blocked
            handlers = facts["handlers"]
            for name in ("SIGCHLD", "SIGHUP", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGWINCH"):
                assert handlers[name] == "<Handlers.SIG_DFL: 0>", (name, handlers[name])
            assert "default_int_handler" in handlers["SIGINT"]
            assert facts["blocked"] == []
            # no fd of the parent's: not its socket to the server, no pipe; only the PTY and
            # the journal the viewer opened itself
            fds = {int(k): v for k, v in facts["fds"].items()}
            assert {0, 1, 2} <= set(fds) and len({fds[0], fds[1], fds[2]}) == 1
            others = [v for k, v in fds.items() if k > 2]
            assert socket_inode not in others
            assert not [v for v in others if v.startswith("pipe:")], others
            # caught up to the journal's head before the app ran, from the parent's fold
            assert facts["head"] == 3
            assert rc == 3  # the app's own exit status reaches the server
            assert children_of(zygote) == []  # reaped once released
        finally:
            await warm.stop()

    asyncio.run(scenario())


def test_stopping_the_warm_parent_ends_its_viewers(journal: Path) -> None:
    env = child_environment("", {})
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT)])

    async def scenario() -> None:
        warm = ViewerForkServer(journal, env, app="zygote_probe:ProbeApp")
        info = await warm.start()
        master, slave = pty.openpty()
        try:
            viewer = await warm.fork(slave, {**env, "PROBE": "sleep"})
            os.close(slave)
            await asyncio.to_thread(read_facts, master)
            assert alive(viewer.pid)
            await warm.stop()
            deadline = time.monotonic() + 10
            while alive(viewer.pid) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert not alive(viewer.pid) and not alive(info["pid"])
        finally:
            os.close(master)
            await warm.stop()

    asyncio.run(scenario())


@contextlib.contextmanager
def serving(root: Path) -> Iterator[Served]:
    server = start_serve(root)
    try:
        yield server
    finally:
        stop_serve(server)


def test_a_viewer_over_ssh_is_forked_from_the_warm_parent(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        client = PtyClient(served.ssh("-tt"))
        try:
            client.wait_for(b"Small test cutover")
            warm = warm_parent_of(served.proc.pid)
            assert warm is not None
            (viewer,) = viewers_of(served.proc.pid)
            assert int(stat_of(viewer)[1]) == warm  # its parent is the warm parent
            assert children_of(served.proc.pid) == [warm]  # the server forks nothing itself
            # the modules it runs are the parent's pages, shared copy-on-write: a process
            # started fresh has no shared dirty memory at all
            rollup = Path(f"/proc/{viewer}/smaps_rollup").read_text()
            shared_dirty = int(rollup.split("Shared_Dirty:")[1].split()[0])
            assert shared_dirty > 8 * 1024, rollup  # kB
        finally:
            client.close()
        log = (served.root / "serve.log").read_text()
        assert f"warm parent (pid {warm}) ready" in log and "Textual loaded" in log
        assert "the app rehearsed" in log  # its first frame's caches built once, shared
        assert f"viewer pid {viewer}" in log


def test_two_viewers_with_different_sizes_and_filters_share_nothing(tmp_path: Path) -> None:
    require_binary("tmux")
    with serving(tmp_path) as served:
        wide = Tmux("fork-wide", served.ssh("-t"), size=(150, 40))
        narrow = Tmux("fork-narrow", served.ssh("-t"), size=(90, 30))
        late: Tmux | None = None
        try:
            wide.wait_for("Tell the client")
            narrow.wait_for("Tell the client")
            # the wide one narrows its checklist to finished steps: none yet
            for _ in range(3):
                wide.keys("t")
                time.sleep(0.3)
            wide.wait_for("showing finished steps")
            time.sleep(0.5)
            assert "Tell the client" not in wide.screen()
            assert "Tell the client" in narrow.screen()
            assert "showing finished" not in narrow.screen()
            # each is drawn for its own size
            assert max(len(line) for line in narrow.screen().splitlines()) <= 90
            assert max(len(line.rstrip()) for line in wide.screen().splitlines()) > 90
            # the wide one resizes: the narrow one is not redrawn for it
            subprocess.run(
                ["tmux", "resize-window", "-t", wide.name, "-x", "120", "-y", "35"], check=True
            )
            time.sleep(1.0)
            assert max(len(line) for line in narrow.screen().splitlines()) <= 90
            # a viewer arriving now starts from the warm parent, not from another viewer: the
            # default filter, its own size
            late = Tmux("fork-late", served.ssh("-t"), size=(100, 30))
            late.wait_for("Tell the client")
            assert "showing finished" not in late.screen()
            # one quits; the others go on and follow the lead
            wide.keys("q")
            deadline = time.monotonic() + 10
            while len(viewers_of(served.proc.pid)) > 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(viewers_of(served.proc.pid)) == 2
            assert (
                run_cli(
                    "step", "start", "freeze", "-j", str(served.journal), "--by", "omar"
                ).returncode
                == 0
            )
            narrow.wait_for("in progress", timeout=5)
            late.wait_for("in progress", timeout=5)
            pids = viewers_of(served.proc.pid)
            assert len(set(pids)) == 2 and len({stat_of(p)[4] for p in pids}) == 2  # sessions
        finally:
            for view in (wide, narrow, late):
                if view is not None:
                    view.close()
        deadline = time.monotonic() + 10
        while viewers_of(served.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert viewers_of(served.proc.pid) == []


def test_viewers_still_start_when_the_warm_parent_dies(tmp_path: Path) -> None:
    with serving(tmp_path) as served:
        first = PtyClient(served.ssh("-tt"))
        try:
            first.wait_for(b"Small test cutover")
            warm = warm_parent_of(served.proc.pid)
            assert warm is not None
            os.kill(warm, signal.SIGKILL)
            time.sleep(0.5)
        finally:
            first.close()
        second = PtyClient(served.ssh("-tt"))
        try:
            second.wait_for(b"Small test cutover")
            again = warm_parent_of(served.proc.pid)
            assert again is not None and again != warm  # a new warm parent
            (viewer,) = viewers_of(served.proc.pid)
            assert int(stat_of(viewer)[1]) == again
        finally:
            second.close()
        deadline = time.monotonic() + 10
        while viewers_of(served.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert viewers_of(served.proc.pid) == []
        assert "the warm parent has gone" in (served.root / "serve.log").read_text()


def test_a_viewer_starts_from_the_rehearsals_parsed_stylesheet(journal: Path) -> None:
    """The warm parent's rehearsal parsed the app's CSS and indexed its rules; a viewer with
    the same theme starts from that stylesheet instead of parsing it again (a fifth of its
    CPU before the first frame, issue 21), and draws the same screen. Another theme gets its
    own."""
    control, _server_end = socket.socketpair()
    parent = WarmParent(journal, control, "cutover_console.ui.app:WatchApp")
    parent.warm()  # ("rehearsed" in its answer is also "no thread left": not so in a test run)
    assert parent.styles is not None
    _variables, rehearsed = parent.styles

    async def screen_of(app: Any) -> str:
        given = app.stylesheet
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause(0.3)
            assert (app.stylesheet is rehearsed) == (given is rehearsed)  # never parsed again
            return str(app.export_screenshot())

    session = WatchSession(journal, state=parent.state)
    try:
        shared = WatchApp(session, clock=lambda: NOW)
        parent.share_stylesheet(shared)
        assert shared.stylesheet is rehearsed
        own = WatchApp(session, clock=lambda: NOW)
        assert own.stylesheet is not rehearsed
        assert asyncio.run(screen_of(shared)) == asyncio.run(screen_of(own))
        themed = WatchApp(session, clock=lambda: NOW, settings=Settings(theme="nord"))
        parent.share_stylesheet(themed)
        assert themed.stylesheet is not rehearsed
        asyncio.run(screen_of(themed))
    finally:
        session.close()
