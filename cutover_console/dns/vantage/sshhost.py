"""SSH vantage hosts: `dig` run on a host the team controls, over a connection whose host key is
pinned in the plan (a different key is refused, never learnt).

Each way of failing is told apart, because each asks for a different fix: the host is down or
unreachable, its key is not the pinned one, our key is refused, `dig` is not installed, or the
host (or its resolver) does not answer in time.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ...clock import Clock
from ...plan.vantage import SshVantageHost
from ...secrets import SecretUnavailable, resolve
from ..classify import TrackedRecord, Verdict, failure
from .points import Answer, VantagePoint, classify_answers

_STATUS = re.compile(r"->>HEADER<<-.*status:\s*([A-Z]+)")
_RECORD = re.compile(r"^(\S+)\s+(\d+)\s+IN\s+([A-Z0-9]+)\s+(.+)$")


@dataclass(frozen=True)
class HostFault:
    kind: str  # "down", "host-key", "key-refused", "no-dig", "hangs", "key-unreadable", "output"
    message: str


class SshHostError(Exception):
    def __init__(self, fault: HostFault) -> None:
        super().__init__(fault.message)
        self.fault = fault


def point_of(host: SshVantageHost) -> VantagePoint:
    return VantagePoint(
        key=f"ssh:{host.name}",
        source="ssh",
        country=host.country,
        city=host.city,
        network=host.network,
        resolver=host.resolver if host.resolver != "own" else "own",
    )


def dig_command(host: SshVantageHost, record: TrackedRecord) -> str:
    """dig with TTLs: one try, a short timeout, the answer section and the header only."""
    words = ["dig", "+noall", "+answer", "+comments", "+time=3", "+tries=1"]
    if host.resolver != "own":
        words += [f"@{host.resolver}", "-p", str(host.resolver_port)]
    words += [record.name, record.rdtype]
    return " ".join(shlex.quote(w) for w in words)


def parse_dig(output: str, record: TrackedRecord, observed_at: datetime) -> Verdict:
    status = _STATUS.search(output)
    if status is None:
        text = output.strip().splitlines()[-1:] or [""]
        return failure(
            "timeout" if "timed out" in output else "error", observed_at, text[0][:200], None
        )
    answers = []
    for line in output.splitlines():
        if line.startswith(";"):
            continue
        match = _RECORD.match(line.strip())
        if match:
            name, ttl, rdtype, value = match.groups()
            answers.append(Answer(name.rstrip(".").lower(), rdtype, int(ttl), value.strip()))
    return classify_answers(answers, record, observed_at, status.group(1))


OUTPUT_LIMIT = 64 * 1024  # dig's answer for one name is a few KiB; a host that sends more is cut


async def _run_bounded(conn: Any, command: str) -> tuple[str | None, int | None]:
    """A command's stdout (None past OUTPUT_LIMIT: the rest is never read) and exit status."""
    async with conn.create_process(command, encoding="utf-8", errors="replace") as process:
        chunks: list[str] = []
        size = 0
        while True:
            chunk = await process.stdout.read(OUTPUT_LIMIT)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > OUTPUT_LIMIT:
                process.close()
                return None, None
        await process.wait(check=False)
        return "".join(chunks), process.exit_status


async def ask_host(
    host: SshVantageHost,
    records: list[TrackedRecord],
    clock: Clock,
    *,
    base: Path | None = None,
) -> dict[str, Verdict]:
    """Every record asked on the host, over one connection. Raises SshHostError."""
    import asyncssh

    try:
        key = asyncssh.import_private_key(resolve(host.key, base=base))
    except SecretUnavailable as exc:
        raise SshHostError(HostFault("key-unreadable", str(exc))) from None
    except (asyncssh.KeyImportError, ValueError):
        raise SshHostError(
            HostFault("key-unreadable", f"{host.key} does not hold a private key")
        ) from None
    try:
        pinned = asyncssh.import_public_key(host.host_key)
    except (asyncssh.KeyImportError, ValueError):
        raise SshHostError(HostFault("host-key", "the pinned host key cannot be read")) from None
    where = f"{host.address}:{host.port}"

    async def session() -> dict[str, Verdict]:
        async with asyncssh.connect(
            host.address,
            host.port,
            username=host.user,
            client_keys=[key],
            known_hosts=([pinned], [], []),
            agent_path=None,
            config=[],
            connect_timeout=host.timeout,
        ) as conn:
            out: dict[str, Verdict] = {}
            for record in records:
                stdout, exit_status = await _run_bounded(conn, dig_command(host, record))
                if stdout is None:
                    raise SshHostError(
                        HostFault(
                            "output",
                            f"{host.name} sent more than {OUTPUT_LIMIT // 1024} KiB for one "
                            "dig: not read further",
                        )
                    )
                if exit_status == 127:
                    raise SshHostError(
                        HostFault("no-dig", f"dig is not installed on {host.name} (exit 127)")
                    )
                out[record.key] = parse_dig(stdout, record, clock.now())
            return out

    try:
        return await asyncio.wait_for(session(), timeout=host.timeout)
    except SshHostError:
        raise
    except TimeoutError:
        raise SshHostError(
            HostFault("hangs", f"{where} did not answer within {host.timeout:g} s")
        ) from None
    except asyncssh.HostKeyNotVerifiable:
        raise SshHostError(
            HostFault("host-key", f"{where} presented a host key that is not the pinned one")
        ) from None
    except asyncssh.PermissionDenied:
        raise SshHostError(
            HostFault("key-refused", f"{where} refused the key for {host.user}")
        ) from None
    except (OSError, asyncssh.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise SshHostError(HostFault("down", f"{where} is down or unreachable: {reason}")) from None
