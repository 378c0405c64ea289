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
