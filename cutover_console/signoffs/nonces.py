"""Nonces for sign-off statements: issued by this journal's service, and no one else's.

A nonce is 12 random bytes and a 12-byte HMAC-SHA256 tag over them and the rest of the
statement, keyed by a secret kept beside the journal (`JOURNAL.signoff-key`, mode 0600, made
on first use). So any process that writes this journal (the service, or a command writing
directly when none runs) can tell a statement it issued from one written by anybody else, after
a restart too, without keeping a table. That a nonce is unused is read from the journal itself
(every signed sign-off holds its statement); the statement's `issued` time bounds its life.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path

from .statement import Statement

LIFETIME = timedelta(minutes=15)
_SECRET_BYTES = 32


def secret_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".signoff-key")


def journal_secret(journal: Path) -> bytes:
    """The secret that tags this journal's nonces: read, or made once (0600)."""
    path = secret_path(journal)
    try:
        data = path.read_bytes()
        if len(data) == _SECRET_BYTES:
            return data
    except FileNotFoundError:
        pass
    data = secrets.token_bytes(_SECRET_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another writer made it first (or it is damaged: refuse, loudly)
        existing = path.read_bytes()
        if len(existing) != _SECRET_BYTES:
            raise OSError(f"{path} is not a sign-off key ({len(existing)} bytes)") from None
        return existing
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return data


def _tag(secret: bytes, random_part: str, statement: Statement) -> str:
    fields = "\n".join(
        (
            random_part,
            statement.cutover,
            statement.journal,
            statement.step,
            statement.role,
            statement.person,
            statement.evidence,
            f"{statement.head_seq}:{statement.head_hash}",
            statement.issued,
        )
    )
    return hmac.new(secret, fields.encode(), hashlib.sha256).hexdigest()[:24]


def new_nonce(secret: bytes, statement: Statement) -> str:
    """The nonce for `statement` (whose own nonce field is ignored)."""
    random_part = secrets.token_hex(12)
    return random_part + _tag(secret, random_part, statement)


def issued_here(secret: bytes, statement: Statement) -> bool:
    random_part, tag = statement.nonce[:24], statement.nonce[24:]
    return hmac.compare_digest(tag, _tag(secret, random_part, statement))
