"""The objects of a witness prefix: S3 through boto3 (the standard AWS configuration: profiles,
environment, `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_S3`), or a directory holding a downloaded copy.

Every upload carries a SHA-256 checksum (an Object Lock bucket refuses uploads without one) and a
compliance-mode retention. S3 keeps every version of a key; a locked version can be neither
deleted nor shortened, but anyone allowed to write may add a newer one. So readers take the
*oldest* version of each key (the one written first, still locked) and report newer ones.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from ..secrets import REDACT
from ..untrusted import clip, inert
from .location import ArchiveLocation

MAX_OBJECTS = 250_000  # per folder of a prefix: a listing never grows without bound

FAULT_KINDS = {
    "unreachable": "S3 endpoint unreachable",
    "credentials": "credentials refused",
    "access-denied": "access denied",
    "no-bucket": "no such bucket",
    "no-object-lock": "bucket without Object Lock",
    "retention": "retention not set",
    "conflict": "the prefix holds another history",
    "error": "S3 error",
    "behind": "events left unarchived at stop",  # journaled by a publisher that stopped behind
}


class ArchiveFault(Exception):
    """Why publishing (or reading) failed: a kind from FAULT_KINDS and a sentence for people,
    never holding a credential."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(inert(clip(REDACT(message), 400), limit=400))
        self.kind = kind

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class StoredObject:
    """One name under the prefix (e.g. `segments/…`), by its oldest version."""

    name: str
    size: int
    version: str | None = None
    newer_versions: int = 0  # versions written after it (S3 keeps the locked one)


class ObjectStore(Protocol):
    location: ArchiveLocation

    def list(self, folder: str) -> list[StoredObject]: ...

    def read(self, obj: StoredObject, limit: int) -> bytes: ...


_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
    "AuthorizationHeaderMalformed",
}


def fault_of(exc: BaseException, location: ArchiveLocation, doing: str) -> ArchiveFault:
    """The fault a boto3 exception means, for people."""
    from botocore import exceptions as bx

    where = str(location)
    if isinstance(exc, ArchiveFault):
        return exc
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ArchiveFault(
            "credentials",
            f"no AWS credentials for {where}: set a profile (AWS_PROFILE) or the environment",
        )
    if isinstance(
        exc,
        bx.EndpointConnectionError
        | bx.ConnectTimeoutError
        | bx.ReadTimeoutError
        | bx.ConnectionClosedError
        | bx.ProxyConnectionError,
    ):
        return ArchiveFault("unreachable", f"cannot reach S3 for {where} ({doing}): {exc}")
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        text = str(error.get("Message", "")) or code
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _CREDENTIAL_CODES:
            return ArchiveFault(
                "credentials", f"S3 refused the credentials for {where} ({code}): {text}"
            )
        if code == "NoSuchBucket":
            return ArchiveFault("no-bucket", f"the bucket of {where} does not exist")
        if code == "ObjectLockConfigurationNotFoundError" or (
            code == "InvalidRequest" and "objectlock" in text.lower().replace(" ", "")
        ):
            return ArchiveFault(
                "no-object-lock",
                f"the bucket of {where} has no Object Lock ({code}): create it with Object "
                "Lock enabled; what is published there could be rewritten",
            )
        if code == "InvalidArgument" and "retain" in text.lower():
            return ArchiveFault("retention", f"S3 refused the retention for {where}: {text}")
        if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
            return ArchiveFault("access-denied", f"S3 denied {doing} on {where} ({code}): {text}")
        return ArchiveFault("error", f"S3 answered {code or status} to {doing} on {where}: {text}")
    if isinstance(exc, bx.BotoCoreError):
        return ArchiveFault("error", f"S3 client error for {where} ({doing}): {exc}")
    raise exc


class S3Objects:
    """A prefix in an S3 bucket with Object Lock, through boto3."""

    def __init__(
        self, location: ArchiveLocation, retention: timedelta, client: Any | None = None
    ) -> None:
        assert location.is_s3
        self.location = location
        self.retention = retention
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # short timeouts and few retries: the publisher retries on its own schedule
            config = Config(
                connect_timeout=5,
                read_timeout=20,
                retries={"max_attempts": 2, "mode": "standard"},
            )
            self._client = boto3.session.Session().client("s3", config=config)
        return self._client

    def hurry(self, seconds: float) -> None:
        """From now on, calls that give up after about `seconds` (one attempt): a publisher
        stopping must finish in a bounded time, and a slow S3 must not hold it."""
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=seconds, read_timeout=seconds, retries={"max_attempts": 1})
        self._client = boto3.session.Session().client("s3", config=config)

    def endpoint(self) -> str:
        return str(getattr(self.client.meta, "endpoint_url", "") or "")

    def check_object_lock(self) -> None:
        """The bucket has Object Lock enabled (else nothing published there is a witness)."""
        try:
            answer = self.client.get_object_lock_configuration(Bucket=self.location.bucket)
        except Exception as exc:
            raise fault_of(exc, self.location, "reading the Object Lock configuration") from None
        enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise ArchiveFault(
                "no-object-lock",
                f"the bucket of {self.location} has no Object Lock enabled: create it with "
                "Object Lock; what is published there could be rewritten",
            )

    def put(self, name: str, data: bytes) -> str:
        """Upload `name` locked in compliance mode until now + retention; its version id."""
        until = datetime.now(UTC) + self.retention
        try:
            answer = self.client.put_object(
                Bucket=self.location.bucket,
                Key=self.location.key(name),
                Body=data,
                ChecksumAlgorithm="SHA256",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=until,
            )
        except Exception as exc:
            raise fault_of(exc, self.location, f"uploading {name}") from None
        return str(answer.get("VersionId") or "")

    def check_retention(self, name: str, version: str) -> datetime:
        """Read back a fresh upload's lock: compliance mode, retained at least as asked."""
        wanted = datetime.now(UTC) + self.retention - timedelta(minutes=5)
        try:
            head = self.client.head_object(
                Bucket=self.location.bucket,
                Key=self.location.key(name),
                **({"VersionId": version} if version else {}),
            )
        except Exception as exc:
            raise fault_of(exc, self.location, f"reading back {name}") from None
        mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
        if mode != "COMPLIANCE" or not isinstance(until, datetime) or until < wanted:
            raise ArchiveFault(
                "retention",
                f"{self.location.key(name)} came back with retention {mode or 'none'} until "
                f"{until or 'never'}, not COMPLIANCE for {self.retention.days} days: the bucket "
                "or the S3 service did not apply it",
            )
        return until

    def list(self, folder: str) -> list[StoredObject]:
        prefix = self.location.key(folder) + "/"
        found: dict[str, list[tuple[str | None, int]]] = {}
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(
                Bucket=self.location.bucket, Prefix=prefix
            )
            for page in pages:
                for version in page.get("Versions", []):
                    key = str(version.get("Key", ""))
                    found.setdefault(key, []).append(
                        (version.get("VersionId"), int(version.get("Size", 0)))
                    )
                if len(found) > MAX_OBJECTS:
                    raise ArchiveFault(
                        "error", f"{self.location} holds more than {MAX_OBJECTS:,} objects"
                    )
        except ArchiveFault:
            raise
        except Exception as exc:
            raise fault_of(exc, self.location, f"listing {folder}") from None
        base = f"{self.location.prefix}/" if self.location.prefix else ""
        out = []
        for key, versions in found.items():
            oldest = versions[-1]  # S3 lists the versions of a key newest first
            version = oldest[0] if oldest[0] not in (None, "null") else None
            out.append(StoredObject(key[len(base) :], oldest[1], version, len(versions) - 1))
        return sorted(out, key=lambda o: o.name)

    def read(self, obj: StoredObject, limit: int) -> bytes:
        if obj.size > limit:
            raise ArchiveFault("error", f"{obj.name} is {obj.size:,} bytes, more than {limit:,}")
        try:
            answer = self.client.get_object(
                Bucket=self.location.bucket,
                Key=self.location.key(obj.name),
                **({"VersionId": obj.version} if obj.version else {}),
            )
            data: bytes = answer["Body"].read(min(obj.size, limit) + 1)  # (see DirectoryObjects)
            if len(data) > obj.size:
                data += answer["Body"].read(limit + 1 - len(data))
        except Exception as exc:
            raise fault_of(exc, self.location, f"reading {obj.name}") from None
        if len(data) > limit:
            raise ArchiveFault("error", f"{obj.name} is more than {limit:,} bytes")
        return data


class DirectoryObjects:
    """A downloaded copy of a prefix (`aws s3 cp --recursive s3://B/P DIR`), read-only.

    Nothing outside the copy is ever opened (issue 21): the directory given is opened once, and
    every name under it is walked one component at a time from the directory above it
    (`openat` with `O_NOFOLLOW`), so a symbolic link anywhere inside the copy (the `segments/`
    or `checkpoints/` folder, or any file) is refused, not followed."""

    def __init__(self, location: ArchiveLocation) -> None:
        assert location.directory is not None
        self.location = location
        self.root: Path = location.directory

    def _open_root(self) -> int:
        try:
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            raise ArchiveFault("error", f"{inert(self.root)} is not a directory") from None

    def _walk(self, root: int, parts: list[str], *, last_is_dir: bool) -> int:
        """An fd for `parts` under `root`, every component opened without following a link."""
        fd = root
        try:
            for number, part in enumerate(parts):
                if part in ("", ".", ".."):
                    raise ArchiveFault("error", f"{inert('/'.join(parts))} is not a name inside")
                is_dir = last_is_dir or number < len(parts) - 1
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
                try:
                    child = os.open(part, flags | (os.O_DIRECTORY if is_dir else 0), dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and _is_link(
                        fd, part
                    ):
                        where = inert("/".join(parts[: number + 1]))
                        raise ArchiveFault(
                            "error",
                            f"{where} in {inert(self.root)} is a symbolic link: refused "
                            "(everything read must be inside the copy)",
                        ) from None
                    raise
                if fd != root:
                    os.close(fd)
                fd = child
            return fd
        except BaseException:
            if fd != root:
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise

    def list(self, folder: str) -> list[StoredObject]:
        root = self._open_root()
        out: list[StoredObject] = []
        try:
            try:
                fd = self._walk(root, folder.split("/"), last_is_dir=True)
            except FileNotFoundError:
                return []
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        st = entry.stat(follow_symlinks=False)
                        if stat.S_ISREG(st.st_mode):
                            out.append(StoredObject(f"{folder}/{entry.name}", st.st_size))
                        elif stat.S_ISLNK(st.st_mode):
                            raise ArchiveFault(
                                "error",
                                f"{inert(folder)}/{inert(entry.name)} in {inert(self.root)} is "
                                "a symbolic link: refused (everything read must be inside "
                                "the copy)",
                            )
                        if len(out) > MAX_OBJECTS:
                            raise ArchiveFault(
                                "error",
                                f"{inert(self.root)} holds more than {MAX_OBJECTS:,} files",
                            )
            finally:
                os.close(fd)
        except OSError as exc:
            raise ArchiveFault("error", f"{inert(self.root / folder)}: {exc.strerror}") from None
        finally:
            os.close(root)
        return sorted(out, key=lambda o: o.name)

    def read(self, obj: StoredObject, limit: int) -> bytes:
        path = self.root / obj.name
        root = self._open_root()
        try:
            fd = self._walk(root, obj.name.split("/"), last_is_dir=False)
            with os.fdopen(fd, "rb") as handle:
                st = os.fstat(handle.fileno())
                if not stat.S_ISREG(st.st_mode):
                    raise ArchiveFault("error", f"{inert(path)} is not a regular file")
                # sized by the file, not the limit: a read of `limit` bytes allocates them all
                # and keeps a mapping per small result (100,000 segments ran out: issue 21)
                data = handle.read(min(st.st_size, limit) + 1)
                if len(data) > st.st_size:  # it grew meanwhile
                    data += handle.read(limit + 1 - len(data))
        except OSError as exc:
            raise ArchiveFault("error", f"{inert(path)} cannot be read: {exc.strerror}") from None
        finally:
            os.close(root)
        if len(data) > limit:
            raise ArchiveFault("error", f"{inert(obj.name)} is more than {limit:,} bytes")
        return data


def _is_link(dir_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def open_store(location: ArchiveLocation, retention: timedelta = timedelta(days=1)) -> ObjectStore:
    if location.directory is not None:
        return DirectoryObjects(location)
    return S3Objects(location, retention)
