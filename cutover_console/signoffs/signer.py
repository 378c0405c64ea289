"""Signing a statement on the signer's machine: with a private key file, or with ssh-agent when
given a `.pub` whose private key the agent holds (as `ssh-keygen -Y sign -f KEY.pub` does)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ..plan.keys import KeySyntaxError, parse_key
from . import sshsig
from .statement import NAMESPACE


class SigningFailed(Exception):
    """The statement could not be signed; the message says why and what to do."""


def sign_statement(key_file: Path, statement: str) -> str:
    """The armored SSHSIG of `statement` (namespace sign-off@cutover-console)."""
    import asyncssh

    try:
        text = key_file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SigningFailed(f"cannot read {key_file}: {exc.strerror}") from None
    if "PRIVATE KEY" not in text:
        return asyncio.run(_sign_with_agent(key_file, text, statement))
    try:
        key = asyncssh.import_private_key(text)
    except asyncssh.KeyEncryptionError:
        raise SigningFailed(
            f"{key_file} is protected by a passphrase: add it to ssh-agent (ssh-add) and pass "
            f"its .pub instead"
        ) from None
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise SigningFailed(f"{key_file} is not an OpenSSH private key: {exc}") from None
    return sshsig.sign(key, statement.encode(), NAMESPACE).decode()


async def _sign_with_agent(key_file: Path, text: str, statement: str) -> str:
    import asyncssh

    try:
        wanted = parse_key(text)
    except KeySyntaxError as exc:
        raise SigningFailed(f"{key_file} is neither a private nor a public key: {exc}") from None
    if not os.environ.get("SSH_AUTH_SOCK"):
        raise SigningFailed(
            f"{key_file} is a public key and no ssh-agent runs (SSH_AUTH_SOCK is not set): "
            "pass the private key file, or start ssh-agent and ssh-add the key"
        )
    try:
        async with asyncssh.connect_agent() as agent:
            if agent is None:
                raise SigningFailed("cannot reach ssh-agent at SSH_AUTH_SOCK")
            for held in await agent.get_keys():
                if bytes(held.public_data) == wanted.blob:
                    return (
                        await sshsig.sign_with_agent(held, statement.encode(), NAMESPACE)
                    ).decode()
    except (OSError, asyncssh.Error, ValueError) as exc:
        raise SigningFailed(f"ssh-agent could not sign: {exc}") from None
    raise SigningFailed(
        f"ssh-agent does not hold the private key of {key_file} ({wanted.fingerprint}): ssh-add it"
    )
