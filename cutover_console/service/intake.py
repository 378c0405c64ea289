"""Frames coming in, under one memory budget shared by every peer.

A frame may be up to `protocol.MAX_FRAME` (8 MiB: a revised plan travels whole), but a frame is
held in memory only as its bytes arrive, and all the incomplete frames of all peers together hold
at most their budget: `LARGE_BUDGET` for frames over `SMALL_FRAME`, and `SMALL_BUDGET` of its own
for the small ones every note, step and status request is, so that big stalled frames never
crowd out a script's note. A peer whose next bytes would pass its budget is answered that the
service is busy and hung up on; a frame that does not complete within `FRAME_DEADLINE` is refused
the same way. Sixty-four peers that each declare 8 MiB and stall therefore cost the budget, not
512 MiB, and what they held is given back to the operating system once they are gone
(`give_memory_back`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
from typing import Any

from .protocol import _HEADER, MAX_FRAME, FrameError

LARGE_BUDGET = 32 * 1024 * 1024  # bytes of incomplete frames over SMALL_FRAME, all peers
SMALL_BUDGET = 16 * 1024 * 1024  # bytes of incomplete frames up to SMALL_FRAME, all peers
SMALL_FRAME = 64 * 1024  # a request without a plan in it is far smaller
FRAME_DEADLINE = 30.0  # seconds from a frame's header to its last byte
CHUNK = 256 * 1024  # bytes read (and reserved) at a time


class FrameBudget:
    """The bytes of incomplete frames held now, against the total allowed."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.held = 0
        self.released = 0  # bytes given back since memory was last returned to the system

    def take(self, size: int) -> bool:
        if self.held + size > self.total:
            return False
        self.held += size
        return True

    def give(self, size: int) -> None:
        self.held -= size
        self.released += size


class FrameBudgets:
    """The service's two budgets, and what was freed since memory was last given back."""

    def __init__(self, large: int = LARGE_BUDGET, small: int = SMALL_BUDGET) -> None:
        self.large = FrameBudget(large)
        self.small = FrameBudget(small)

    def of(self, length: int) -> FrameBudget:
        return self.small if length <= SMALL_FRAME else self.large

    @property
    def held(self) -> int:
        return self.large.held + self.small.held


async def read_frame(reader: asyncio.StreamReader, budgets: FrameBudgets) -> bytes | None:
    """The next frame's bytes, None when the peer closed between frames; FrameError when the
    frame is too big, cut, too slow, or would pass its budget."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise FrameError("the peer left in the middle of a frame header") from None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME:
        raise FrameError(f"a frame of {length} bytes is over the limit of {MAX_FRAME}")
    budget = budgets.of(length)
    chunks: list[bytes] = []
    held = 0
    try:
        async with asyncio.timeout(FRAME_DEADLINE):
            while held < length:
                want = min(length - held, CHUNK)
                if not budget.take(want):
                    raise FrameError(
                        "the service is busy: incomplete requests of all its clients already "
                        f"hold {budget.total // (1024 * 1024)} MiB; send it again later"
                    )
                chunk = await reader.read(want)
                budget.give(want - len(chunk))  # what was reserved but did not come
                held += len(chunk)
                if not chunk:
                    raise FrameError("the peer left in the middle of a frame")
                chunks.append(chunk)
    except TimeoutError:
        raise FrameError(
            f"a frame of {length} bytes was not complete within {FRAME_DEADLINE:.0f} s"
        ) from None
    finally:
        budget.give(held)
    return b"".join(chunks)


_LIBC: Any = None


def give_memory_back(budgets: FrameBudgets, at_least: int = 4 * 1024 * 1024) -> bool:
    """Once frames holding `at_least` bytes were freed, ask the C allocator to return its free
    pages to the system (glibc's malloc_trim; elsewhere nothing to do): Python's freed buffers
    otherwise stay in the process's heap. True when it asked."""
    global _LIBC
    budget = budgets.large  # small frames are freed and reused in place
    if budget.released < at_least:
        return False
    budget.released = 0
    if _LIBC is None:
        name = ctypes.util.find_library("c")
        _LIBC = False
        with contextlib.suppress(OSError):
            libc = ctypes.CDLL(name) if name else None
            if libc is not None and hasattr(libc, "malloc_trim"):
                _LIBC = libc
    if _LIBC is False:
        return False
    # the connections that held them (asyncio's protocol, transport and reader refer to each
    # other) are freed by the cyclic collector: collect first, or their buffers are still there
    gc.collect()
    _LIBC.malloc_trim(0)
    return True
