"""The SSHSIG format (`ssh-keygen -Y sign`), read and written here for every signature the
console checks: sign-offs, and the export's own checkpoints and manifest.

    "SSHSIG" ‖ uint32 1 ‖ string publickey ‖ string namespace ‖ string reserved
             ‖ string hash_algorithm ‖ string signature

armored between `-----BEGIN SSH SIGNATURE-----` lines. The signed data is "SSHSIG" ‖ string
namespace ‖ string reserved ‖ string hash_algorithm ‖ string H(message). asyncssh (imported
lazily: it is heavy) checks the signature itself; the namespace, which its `validate_sshsig`
does not take, and the key are checked here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..plan.keys import PublicKey
from ..untrusted import inert

if TYPE_CHECKING:
    import asyncssh

MAGIC = b"SSHSIG"
VERSION = 1
HASHES = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
MAX_SIGNATURE = 16 << 10  # an RSA-8192 SSHSIG is under 3 kB armored
_ARMOR = re.compile(
    rb"-----BEGIN SSH SIGNATURE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END SSH SIGNATURE-----\s*"
)


class SignatureInvalid(ValueError):
    """Not a valid SSH signature for this purpose; the message says why, in words."""


@dataclass(frozen=True, slots=True)
class SshSig:
    """A parsed SSHSIG blob."""

    key: PublicKey
    namespace: str
    hash_algorithm: str
    signature: bytes  # string algorithm ‖ string bytes, as the key type defines it

    @property
    def signature_algorithm(self) -> str:
        fields = ssh_strings(self.signature, first_only=True) or [b""]
        return fields[0].decode("ascii", "replace")


def ssh_strings(data: bytes, *, first_only: bool = False) -> list[bytes] | None:
    """SSH wire-format strings (uint32 length, bytes) until `data` ends; None if it is not that."""
    out, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        if at + 4 + size > len(data):
            return None
        out.append(data[at + 4 : at + 4 + size])
        at += 4 + size
        if first_only:
            break
    return out


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def unarmor(armored: bytes) -> bytes:
    """The blob inside `-----BEGIN SSH SIGNATURE-----`; SignatureInvalid when it is not one."""
    match = _ARMOR.fullmatch(armored) if len(armored) <= MAX_SIGNATURE else None
    if match is None:
        raise SignatureInvalid("it is not an SSH signature (the format of ssh-keygen -Y sign)")
    try:
        return base64.b64decode(re.sub(rb"\s", b"", match.group(1)), validate=True)
    except binascii.Error:
        raise SignatureInvalid("the SSH signature's base64 is damaged") from None


def armor(blob: bytes) -> bytes:
    """The armored form, 70 characters a line, as ssh-keygen writes it."""
    text = base64.b64encode(blob)
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return (
        b"-----BEGIN SSH SIGNATURE-----\n" + b"\n".join(lines) + b"\n-----END SSH SIGNATURE-----\n"
    )


def parse(armored: bytes) -> SshSig:
    """The fields of an armored SSHSIG (not yet checked against any data)."""
    return parse_blob(unarmor(armored))


def parse_blob(blob: bytes) -> SshSig:
    """The fields of an SSHSIG blob (the armor's content)."""
    fields = ssh_strings(blob[10:]) if blob[:10] == MAGIC + VERSION.to_bytes(4, "big") else None
    if fields is None or len(fields) != 5:
        raise SignatureInvalid("it is not an SSH signature (the format of ssh-keygen -Y sign)")
    public, namespace, _reserved, hash_name, signature = fields
    algorithm = (ssh_strings(public, first_only=True) or [b""])[0].decode("ascii", "replace")
    if algorithm.endswith("-cert-v01@openssh.com"):
        raise SignatureInvalid("it is made with a certificate; sign with the key itself")
    try:
        return SshSig(
            PublicKey(algorithm, public),
            namespace.decode("utf-8"),
            hash_name.decode("ascii"),
            signature,
        )
    except UnicodeDecodeError:
        raise SignatureInvalid("its namespace or hash algorithm is not text") from None


def signed_data(message: bytes, namespace: str, hash_algorithm: str) -> bytes:
    """What the key actually signs for `message` under `namespace`."""
    digest = HASHES[hash_algorithm](message).digest()
    return (
        MAGIC
        + _string(namespace.encode())
        + _string(b"")
        + _string(hash_algorithm.encode())
        + _string(digest)
    )


def wrap(public_blob: bytes, namespace: str, hash_algorithm: str, signature: bytes) -> bytes:
    """An armored SSHSIG around a signature some signer made of `signed_data(...)` (an agent's)."""
    blob = (
        MAGIC
        + VERSION.to_bytes(4, "big")
        + _string(public_blob)
        + _string(namespace.encode())
        + _string(b"")
        + _string(hash_algorithm.encode())
        + _string(signature)
    )
    return armor(blob)


def verify(message: bytes, armored: bytes, namespace: str) -> SshSig:
    """The parsed signature when it is a valid SSHSIG of `message` under `namespace` by the key
    it carries; SignatureInvalid says why not. Whose key that is, the caller checks."""
    return verify_blob(message, unarmor(armored), namespace)


def verify_blob(message: bytes, blob: bytes, namespace: str) -> SshSig:
    """`verify` of the blob itself (as a journal keeps it)."""
    sig = parse_blob(blob)
    if sig.namespace != namespace:
        raise SignatureInvalid(
            f"it was made for the namespace '{inert(sig.namespace, limit=60)}', not '{namespace}' "
            f"(sign with -n {namespace})"
        )
    if sig.hash_algorithm not in HASHES:
        raise SignatureInvalid(
            f"its hash algorithm '{inert(sig.hash_algorithm, limit=20)}' is not SSHSIG's"
        )
    if sig.signature_algorithm == "ssh-rsa":  # RSA with SHA-1: ssh-keygen itself never makes it
        raise SignatureInvalid("it is an RSA signature with SHA-1; use rsa-sha2-256 or -512")
    if not _valid(sig, signed_data(message, namespace, sig.hash_algorithm)):
        raise SignatureInvalid("the signature does not match the statement (forged or altered)")
    return sig


_CURVES = {
    "ecdsa-sha2-nistp256": ("secp256r1", "sha256"),
    "ecdsa-sha2-nistp384": ("secp384r1", "sha384"),
    "ecdsa-sha2-nistp521": ("secp521r1", "sha512"),
}
_RSA = {"rsa-sha2-256": "sha256", "rsa-sha2-512": "sha512"}
_ED25519: dict[bytes, Any] = {}


def _valid(sig: SshSig, data: bytes) -> bool:
    """Checked with `cryptography` itself for ed25519, RSA (SHA-2) and ECDSA keys: importing
    asyncssh costs more than a thousand verifications (0.3-0.5 s); security keys (sk-…) go to
    asyncssh, which knows their format."""
    from cryptography.exceptions import InvalidSignature

    key_fields = ssh_strings(sig.key.blob) or []
    sig_fields = ssh_strings(sig.signature) or []
    if len(sig_fields) != 2 or not key_fields:
        return False
    algorithm, blob = sig_fields[0].decode("ascii", "replace"), sig_fields[1]
    try:
        if sig.key.algorithm == "ssh-ed25519" and algorithm == "ssh-ed25519":
            from cryptography.hazmat.primitives.asymmetric import ed25519

            if len(key_fields) != 2:
                return False
            public = _ED25519.get(key_fields[1])
            if public is None:
                public = ed25519.Ed25519PublicKey.from_public_bytes(key_fields[1])
                if len(_ED25519) < 256:  # a journal has a few signers and many signatures
                    _ED25519[key_fields[1]] = public
            public.verify(blob, data)
            return True
        if sig.key.algorithm == "ssh-rsa" and algorithm in _RSA:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding, rsa

            if len(key_fields) != 3:
                return False
            numbers = rsa.RSAPublicNumbers(
                int.from_bytes(key_fields[1], "big"), int.from_bytes(key_fields[2], "big")
            )
            digest = hashes.SHA256() if _RSA[algorithm] == "sha256" else hashes.SHA512()
            numbers.public_key().verify(blob, data, padding.PKCS1v15(), digest)
            return True
        if sig.key.algorithm in _CURVES and algorithm == sig.key.algorithm:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import ec, utils

            curve_name, hash_name = _CURVES[algorithm]
            rs = ssh_strings(blob) or []
            if len(key_fields) != 3 or len(rs) != 2:
                return False
            curve = getattr(ec, curve_name.upper())()
            point = ec.EllipticCurvePublicKey.from_encoded_point(curve, key_fields[2])
            der = utils.encode_dss_signature(
                int.from_bytes(rs[0], "big"), int.from_bytes(rs[1], "big")
            )
            point.verify(der, data, ec.ECDSA(getattr(hashes, hash_name.upper())()))
            return True
    except (InvalidSignature, ValueError, TypeError):
        return False
    return _valid_by_asyncssh(sig, data)


def _valid_by_asyncssh(sig: SshSig, data: bytes) -> bool:
    import asyncssh

    try:
        key = asyncssh.import_public_key(sig.key.line)
        return bool(key.verify(data, sig.signature))
    except (asyncssh.KeyImportError, ValueError):
        return False


def sign(key: asyncssh.SSHKey, message: bytes, namespace: str) -> bytes:
    """An armored SSHSIG of `message` with a private key in this process (sha512, as ssh-keygen)."""
    import asyncssh

    return bytes(asyncssh.create_sshsig(key, message, namespace=namespace))


async def sign_with_agent(agent_key: Any, message: bytes, namespace: str) -> bytes:
    """An armored SSHSIG made by ssh-agent. asyncssh's create_sshsig calls the key pair's
    synchronous `sign`, which an agent's key pair does not have (its signing is a round trip to
    the agent): so the agent signs `signed_data` here and the blob is built around it."""
    if agent_key.algorithm == b"ssh-rsa":  # ask the agent for rsa-sha2-512, never SHA-1
        agent_key.set_sig_algorithm(b"rsa-sha2-512")
    data = signed_data(message, namespace, "sha512")
    signature = await agent_key.sign_async(data)
    return wrap(bytes(agent_key.public_data), namespace, "sha512", bytes(signature))
