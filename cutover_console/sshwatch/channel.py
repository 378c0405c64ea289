"""Between an SSH client and its viewer's pseudo-terminal (issue 21): whatever the client sends,
the viewer gets only valid UTF-8, whole and in order, and a window no larger than a cap.

- `ClientInput` makes the client's bytes inert for the viewer: Textual's input thread decodes
  strict UTF-8 and dies on the first invalid byte (one typed 0xff, an X10 mouse report past
  column 95). X10 reports become the SGR reports Textual reads (so a click past column 95 still
  lands), and every other invalid byte becomes U+FFFD. What comes out is always valid UTF-8,
  whatever goes in; an incomplete character is held until its next bytes arrive.
- `PtyWriter` writes to the PTY with backpressure: what the PTY cannot take now waits, whole, and
  the session reads nothing more from the channel until it has gone (SSH flow control then stops
  the client). Nothing is dropped, so no character is ever cut; nothing is written before the
  viewer has turned line editing off.
- `capped_size` bounds every window size the client asks for; `CapNotice` says so on the
  client's screen, outside the viewer's area, at a point where the viewer's output is not in the
  middle of an escape sequence or a character.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import re
import termios

MAX_WIDTH = 1000
MAX_HEIGHT = 500
DEFAULT_SIZE = (80, 24)  # what a client's 0 ("unknown", RFC 4254) stands for

# ESC [ M Cb Cx Cy: the X10/normal mouse report, each value + 32 in one raw byte
_X10 = re.compile(rb"\x1b\[M([\x20-\xff])([\x20-\xff])([\x20-\xff])", re.DOTALL)
_X10_PARTIAL = re.compile(rb"\x1b\[M[\x20-\xff]{0,2}\Z")


def _sgr(match: re.Match[bytes]) -> bytes:
    button, x, y = (match.group(i)[0] - 32 for i in (1, 2, 3))
    if button & 3 == 3 and not button & 32:  # a release (X10 does not say which button)
        return b"\x1b[<%d;%d;%dm" % (button & ~3, x, y)
    return b"\x1b[<%d;%d;%dM" % (button, x, y)


class ClientInput:
    """The client's byte stream, made valid UTF-8 for the viewer (see the module's docstring)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._held = b""  # the start of an X10 report whose bytes have not all arrived

    def feed(self, data: bytes) -> bytes:
        data = self._held + data
        self._held = b""
        partial = _X10_PARTIAL.search(data)
        if partial is not None:
            self._held, data = data[partial.start() :], data[: partial.start()]
        if b"\x1b[M" in data:
            data = _X10.sub(_sgr, data)
        return self._decoder.decode(data).encode("utf-8")


class PtyWriter:
    """Writes to a non-blocking PTY master; `write` returns once every byte is in the PTY."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.waits = 0  # how often the PTY was full (the client was held back), for the log
        self.raw = False  # the viewer has turned line editing off

    async def write(self, data: bytes) -> None:
        """Raises OSError when the PTY is gone (the viewer exited)."""
        if not self.raw:
            await self._until_raw()
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                written = 0
            view = view[written:]
            if view:
                self.waits += 1
                await self._writable()

    async def _until_raw(self, within: float = 10.0) -> None:
        """Hold the client's first bytes until the viewer has turned the PTY's line editing
        off (the master reads the pair's modes): a canonical line discipline would drop what
        is typed past 4,095 bytes on a line, turn CR into LF and echo it all. Setting the modes
        for the viewer instead, before it starts, delayed its first frame (~0.5 s)."""
        loop = asyncio.get_running_loop()
        ends = loop.time() + within
        while loop.time() < ends:
            if not termios.tcgetattr(self.fd)[3] & termios.ICANON:
                break
            await asyncio.sleep(0.02)
        self.raw = True

    async def _writable(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def writable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_writer(self.fd, writable)
        try:
            await ready
        finally:
            loop.remove_writer(self.fd)


def capped_size(width: int, height: int) -> tuple[int, int]:
    """The window the viewer gets for the one the client asks for: 0 is unknown (the
    default), anything larger than MAX_WIDTH × MAX_HEIGHT is cut to it."""
    width = min(width, MAX_WIDTH) if width > 0 else DEFAULT_SIZE[0]
    height = min(height, MAX_HEIGHT) if height > 0 else DEFAULT_SIZE[1]
    return width, height


# The end of the viewer's output is a safe point for a notice when its last escape sequence is
# complete (CSI, OSC ended by BEL or ST, or a two-byte one) and no character is cut.
_COMPLETE_ESCAPE = re.compile(
    rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])", re.DOTALL
)


def at_safe_point(tail: bytes) -> bool:
    """Whether more bytes may follow `tail` (the end of what the viewer wrote) without landing
    inside one of its escape sequences or characters."""
    escape = tail.rfind(b"\x1b")
    if escape >= 0:
        st = tail.rfind(b"\x1b", 0, escape)  # ESC \ ends an OSC: start from the OSC
        start = st if st >= 0 and tail[escape : escape + 2] == b"\x1b\\" else escape
        if not _COMPLETE_ESCAPE.match(tail, start):
            return False
    for back in range(1, min(4, len(tail)) + 1):  # a multi-byte character cut at the end?
        byte = tail[-back]
        if byte < 0x80:
            return True
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back >= need
    return True


class CapNotice:
    """The line that tells a client its window was capped, placed below (or beside) the
    viewer's area, which the viewer never draws on."""

    def __init__(self) -> None:
        self.asked: tuple[int, int] | None = None  # the client's size while it is capped
        self.given = DEFAULT_SIZE

    def resized(self, asked: tuple[int, int], given: tuple[int, int]) -> bool:
        """Record a size change; True when the new size is capped."""
        capped = asked[0] > given[0] or asked[1] > given[1]
        self.asked = asked if capped else None
        self.given = given
        return capped

    def text(self) -> str:
        assert self.asked is not None
        return (
            f"cutover: your window is {self.asked[0]}×{self.asked[1]}; the console is drawn at "
            f"{self.given[0]}×{self.given[1]} (the largest served)"
        )

    def escape(self) -> bytes:
        """The notice as terminal output: cursor and attributes saved, written, restored."""
        if self.asked is None:
            return b""
        width, height = self.given
        if self.asked[1] > height:
            row, column = height + 1, 1
        else:
            row, column = 1, width + 2
        return f"\x1b7\x1b[{row};{column}H\x1b[0m{self.text()}\x1b8".encode()


__all__ = [
    "DEFAULT_SIZE",
    "MAX_HEIGHT",
    "MAX_WIDTH",
    "CapNotice",
    "ClientInput",
    "PtyWriter",
    "at_safe_point",
    "capped_size",
]
