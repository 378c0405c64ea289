"""SSH keys the console owns (the watch server's host key, the export signing key)."""

from __future__ import annotations

import os
from pathlib import Path

import asyncssh


def load_or_create_key(path: Path, comment: str) -> asyncssh.SSHKey:
    """An OpenSSH private key: read if it exists, else generated once (ed25519, mode 0600)."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.export_private_key())
    return key


EXPORT_KEY_NAME = "export_signing_key"


def export_key_path(journal: Path) -> Path:
    """Where a journal's export signing key lives: in the journal's folder, whatever the working
    directory, so that `cutover export` and the witness publisher of one journal sign with the
    same key (the default layout, `state/<cutover>.sqlite`, keeps `state/export_signing_key`)."""
    return journal.resolve().parent / EXPORT_KEY_NAME


class UnsafeKeyFile(ValueError):
    """A key file that another account could have written or can read."""


def check_own_key(path: Path) -> None:
    """Refuse a private key file this account does not own, or that others can read or write:
    in a folder others can write to, someone could have put their key there first."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not os.path.isfile(path) or os.path.islink(path):
        raise UnsafeKeyFile(f"{path} is not a regular file")
    if info.st_uid != os.getuid():
        raise UnsafeKeyFile(f"{path} belongs to uid {info.st_uid}, not to this user")
    if info.st_mode & 0o077:
        raise UnsafeKeyFile(
            f"{path} is open to other users (mode {info.st_mode & 0o777:o}): chmod 600"
        )
