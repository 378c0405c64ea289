"""Where a cutover is witnessed: `s3://BUCKET/PREFIX`, or a directory holding a copy of a prefix.

A location is printed in the journal, the report and VERIFY.md, so it never holds a credential:
an `s3://` address with a user, a password, a query or a fragment is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..untrusted import inert

# S3's bucket naming rules (general purpose buckets): 3-63 of a-z 0-9 . -, alphanumeric ends.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9!_.*'()\-]+$")


class LocationInvalid(ValueError):
    """Why a witness address cannot be used (one sentence, terminal-safe)."""


@dataclass(frozen=True)
class ArchiveLocation:
    """`bucket` and `prefix` for S3; `directory` for a local copy (read-only use)."""

    bucket: str = ""
    prefix: str = ""
    directory: Path | None = None

    @classmethod
    def parse(cls, text: str, *, allow_directory: bool = True) -> ArchiveLocation:
        text = text.strip()
        if text.startswith("s3://"):
            return cls._s3(text)
        if "://" in text or not allow_directory:
            raise LocationInvalid(
                f"'{inert(text)}' is not an S3 address (expected s3://BUCKET/PREFIX)"
            )
        if not text:
            raise LocationInvalid("an empty witness location (expected s3://BUCKET/PREFIX or DIR)")
        return cls(directory=Path(text))

    @classmethod
    def _s3(cls, text: str) -> ArchiveLocation:
        rest = text[len("s3://") :]
        bucket, _, prefix = rest.partition("/")
        if any(c in rest for c in "@?#") or ":" in bucket:
            raise LocationInvalid(
                f"'{inert(text)}': an S3 address names a bucket and a prefix only "
                "(s3://BUCKET/PREFIX); credentials come from the AWS configuration, never the "
                "address"
            )
        if not _BUCKET.match(bucket) or ".." in bucket:
            raise LocationInvalid(
                f"'{inert(bucket)}' is not an S3 bucket name (3-63 lowercase letters, digits, "
                "dots and hyphens, starting and ending with a letter or digit)"
            )
        parts = [p for p in prefix.split("/") if p]
        for part in parts:
            if part in (".", "..") or not _PREFIX_PART.match(part):
                raise LocationInvalid(
                    f"'{inert(prefix)}' is not a usable prefix: use letters, digits and "
                    "! _ . * ' ( ) - between slashes"
                )
        if len("/".join(parts)) > 512:
            raise LocationInvalid("the prefix is longer than 512 characters")
        return cls(bucket=bucket, prefix="/".join(parts))

    @property
    def is_s3(self) -> bool:
        return self.directory is None

    def key(self, name: str) -> str:
        """The object key of `name` (e.g. `segments/…`) under the prefix."""
        return f"{self.prefix}/{name}" if self.prefix else name

    def __str__(self) -> str:
        if self.directory is not None:
            return str(self.directory)
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
