"""Where a journal's service listens: a Unix socket in a directory only its owner can enter.

Beside the journal: `<journal>.service/socket`, the directory 0700 and the socket 0600. A Unix
socket's path is limited to 107 bytes (sun_path), so a journal deep in a tree, or in a folder
where others may create files (where they could squat that name), gets its directory in the
user's runtime directory instead, keyed by a hash of the journal's real path: every client finds
it the same way. The runtime directory is `$XDG_RUNTIME_DIR/cutover` when that is this user's
private directory; otherwise a folder in the system's temporary directory whose name carries a
secret kept in the user's config directory, so that no other user can know the name to squat it.
Either directory must be a real directory owned by this user and closed to others, or it is
refused with a sentence (someone else could otherwise put a socket there first).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..journal.errors import JournalError

SERVICE_COMMAND = "cutover service"  # how the writer lock names the service to a second writer
SUN_PATH_MAX = 107  # bytes of a socket path, without the final NUL (Linux: sun_path[108])


class UnsafeServiceDir(JournalError):
    """The service directory exists but is not this user's private directory (exit 2)."""


@dataclass(frozen=True)
class ServiceAddress:
    journal: Path  # resolved
    directory: Path

    @classmethod
    def of(cls, journal: Path) -> ServiceAddress:
        journal = journal.resolve()
        beside = journal.with_name(journal.name + ".service")
        if len(os.fsencode(beside / "socket")) <= SUN_PATH_MAX and _only_mine(journal.parent):
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
        try:
            self.directory.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.directory, 0o700)
        except OSError as exc:
            raise UnsafeServiceDir(
                f"cannot create the journal service's directory {self.directory}: "
                f"{exc.strerror or exc}"
            ) from None
        check_private(self.directory)

    def exists(self) -> bool:
        return self.socket.exists()


def _only_mine(directory: Path) -> bool:
    """Whether only this user can create names in `directory` (so none can be squatted)."""
    try:
        info = os.stat(directory)
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def check_private(directory: Path) -> None:
    try:
        info = os.lstat(directory)
    except OSError as exc:
        raise UnsafeServiceDir(f"cannot use {directory}: {exc.strerror or exc}") from None
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
    """This user's private runtime directory, created 0700 and checked: `$XDG_RUNTIME_DIR/cutover`
    when $XDG_RUNTIME_DIR is this user's private directory; else a folder under the system's
    temporary directory named with a secret of this user's (see `_unguessable`)."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg):
        try:
            check_private(Path(xdg))
        except UnsafeServiceDir:
            pass  # not ours, or open to others: as if unset
        else:
            return _private_dir(Path(xdg) / "cutover")
    name = f"cutover-{os.getuid()}-{_unguessable()}"
    return _private_dir(Path(tempfile.gettempdir()) / name)


def _private_dir(base: Path) -> Path:
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(base, 0o700)
    except OSError as exc:
        raise UnsafeServiceDir(
            f"cannot create the runtime directory {base}: {exc.strerror or exc}; set "
            "XDG_RUNTIME_DIR to a directory only you can enter"
        ) from None
    check_private(base)
    return base


def _unguessable() -> str:
    """16 hex characters derived from a secret in this user's config directory (created once,
    0600): a name in a shared temporary directory that no other user can predict, so none can
    create it first and decide whether this user's service starts."""
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    folder = config / "cutover-console"
    secret = folder / "runtime.key"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_private(folder)
        try:
            value = secret.read_bytes()
        except FileNotFoundError:
            tmp = folder / f"runtime.key.{os.getpid()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(32).hex().encode())
            try:
                os.link(tmp, secret)  # the first process to make it wins; the others read it
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
            value = secret.read_bytes()
        info = os.stat(secret)
        if info.st_uid != os.getuid() or info.st_mode & 0o077 or len(value) < 32:
            raise UnsafeServiceDir(f"{secret} is not this user's private key (mode 0600)")
    except OSError as exc:
        raise UnsafeServiceDir(
            f"cannot keep the runtime directory's key in {folder}: {exc.strerror or exc}; set "
            "XDG_RUNTIME_DIR to a directory only you can enter"
        ) from None
    return hashlib.sha256(b"cutover runtime directory\0" + value).hexdigest()[:16]
