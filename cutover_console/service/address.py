"""Where a journal's service listens: a Unix socket in a directory only its owner can enter.

Beside the journal: `<journal>.service/socket`, the directory 0700 and the socket 0600. A Unix
socket's path is limited to 107 bytes (sun_path), so a journal deep in a tree gets its directory
in the user's runtime directory instead, keyed by a hash of the journal's real path: every client
finds it the same way. Either directory must be a real directory owned by this user and closed to
others, or it is refused (someone else could otherwise put a socket there first).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVICE_COMMAND = "cutover service"  # how the writer lock names the service to a second writer
SUN_PATH_MAX = 107  # bytes of a socket path, without the final NUL (Linux: sun_path[108])


class UnsafeServiceDir(Exception):
    """The service directory exists but is not this user's private directory."""


@dataclass(frozen=True)
class ServiceAddress:
    journal: Path  # resolved
    directory: Path

    @classmethod
    def of(cls, journal: Path) -> ServiceAddress:
        journal = journal.resolve()
        beside = journal.with_name(journal.name + ".service")
        if len(os.fsencode(beside / "socket")) <= SUN_PATH_MAX:
            return cls(journal, beside)
        key = hashlib.sha256(os.fsencode(journal)).hexdigest()[:24]
        return cls(journal, runtime_dir() / key)

    @property
    def socket(self) -> Path:
        return self.directory / "socket"

    @property
    def info(self) -> Path:
        """What the running service says about itself (pid, since, journal)."""
        return self.directory / "service.json"

    @property
    def log(self) -> Path:
        """The detached service's stderr: why it could not start or what stopped it."""
        return self.directory / "service.log"

    def prepare(self) -> None:
        """Create the directory (0700), or check that the existing one is safe to use."""
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.directory, 0o700)
        check_private(self.directory)

    def exists(self) -> bool:
        return self.socket.exists()


def check_private(directory: Path) -> None:
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeServiceDir(f"{directory} is not a directory")
    if info.st_uid != os.getuid():
        raise UnsafeServiceDir(f"{directory} belongs to uid {info.st_uid}, not to this user")
    if info.st_mode & 0o077:
        raise UnsafeServiceDir(
            f"{directory} is open to other users (mode {stat.S_IMODE(info.st_mode):o}): "
            "it must be 0700"
        )


def runtime_dir() -> Path:
    """This user's private runtime directory ($XDG_RUNTIME_DIR, else one under the system's
    temporary directory, created 0700 and checked)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir():
        base = Path(xdg) / "cutover"
    else:
        base = Path(tempfile.gettempdir()) / f"cutover-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(base, 0o700)
    check_private(base)
    return base
