"""The client's end of the journal service: one connection, named requests, the service's
answers or its refusals raised as the same exceptions a direct write raises."""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..journal.errors import JournalError
from . import protocol
from .address import ServiceAddress, UnsafeServiceDir, check_private
from .protocol import FrameError, Request

REQUEST_TIMEOUT = 120.0  # seconds: an fsync on a struggling disk, a long revision
CONNECT_WAIT = 10.0  # seconds of retrying a connection the service's backlog turned away
# a listener whose backlog is full (a connect flood): the connection is worth trying again
_TRANSIENT = frozenset(
    {errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.ENOBUFS, errno.ETIMEDOUT}
)


class ServiceUnavailable(JournalError):
    """The service went away before it answered: the request may or may not be journaled."""


class ServiceClient:
    def __init__(self, sock: socket.socket, address: ServiceAddress) -> None:
        self.sock = sock
        self.address = address

    @classmethod
    @contextmanager
    def connect(
        cls, journal: Path, *, timeout: float = REQUEST_TIMEOUT
    ) -> Iterator[ServiceClient | None]:
        """A connection to the journal's service, or None when none is running (no socket, or
        a socket left by a service that died)."""
        client = cls.open(journal, timeout=timeout)
        try:
            yield client
        finally:
            if client is not None:
                client.close()

    @classmethod
    def open(cls, journal: Path, *, timeout: float = REQUEST_TIMEOUT) -> ServiceClient | None:
        address = ServiceAddress.of(journal)
        if not address.directory.exists():
            return None
        try:
            check_private(address.directory)
        except UnsafeServiceDir as exc:
            raise JournalError(f"not using the journal service: {exc}") from None
        deadline = time.monotonic() + CONNECT_WAIT
        pause = 0.005
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(str(address.socket))
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                return None
            except OSError as exc:
                sock.close()
                if exc.errno in _TRANSIENT and time.monotonic() < deadline:
                    time.sleep(pause)  # turned away by a full backlog: its turn comes
                    pause = min(pause * 2, 0.02)  # a flood retries at once: keep up
                    continue
                busy = " (busy: a connect flood?)" if exc.errno in _TRANSIENT else ""
                raise JournalError(
                    f"cannot reach the journal service of {journal} at {address.socket}{busy}: "
                    f"{exc.strerror or exc}"
                ) from None
            return cls(sock, address)

    def call(
        self, op: str, args: dict[str, Any] | None = None, idem: str | None = None
    ) -> dict[str, Any]:
        """Send one request; its result, or the service's refusal raised."""
        request = Request(op, {k: v for k, v in (args or {}).items() if v is not None}, idem)
        try:
            protocol.send_frame(self.sock, request.to_json())
            response = protocol.recv_frame(self.sock)
        except (FrameError, OSError) as exc:
            raise ServiceUnavailable(
                f"the journal service stopped answering ({exc}); the request may or may not "
                "have been journaled: `cutover events` shows it, and a retry with the same "
                "--idempotency-key is recorded once"
            ) from None
        ok = type(response) is dict and response.get("ok") is True
        if ok and type(response.get("result")) is dict:
            return response["result"]
        from .operations import raise_error  # the refusals' classes: only when refused

        raise_error(response.get("error") if type(response) is dict else None)

    def close(self) -> None:
        self.sock.close()
