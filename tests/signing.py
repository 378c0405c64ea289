"""Helpers for signed sign-offs: throwaway keys made by the real ssh-keygen, a plan that lists
them, a real ssh-agent (stopped by its pid)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from support import SMALL, require_binary

NAMESPACE = "sign-off@cutover-console"


@dataclass
class Key:
    private: Path
    public: Path

    @property
    def line(self) -> str:
        return " ".join(self.public.read_text().split()[:2])

    @property
    def fingerprint(self) -> str:
        """`SHA256:…` as ssh-keygen -l prints it."""
        out = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(self.public)], capture_output=True, text=True, check=True
        ).stdout
        return out.split()[1]


def keygen(folder: Path, name: str, kind: str = "ed25519") -> Key:
    """A throwaway key pair (no passphrase) made by ssh-keygen."""
    require_binary("ssh-keygen")
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / name
    extra = ["-b", "3072"] if kind == "rsa" else []
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            kind,
            *extra,
            "-N",
            "",
            "-C",
            f"{name}@test",
            "-f",
            str(private),
        ],
        check=True,
        capture_output=True,
    )
    return Key(private, private.with_name(name + ".pub"))


def signed_plan(folder: Path, keys: dict[str, Key], *, mode: str = "signed") -> Path:
    """The small plan with `signoffs: <mode>` and each person's keys: cleo's through `file:`
    (relative to the plan), the others inline. `go` is a step only client-observer signs."""
    text = SMALL.read_text()
    text = text.replace(
        "  timezone: America/Chicago\n", f"  timezone: America/Chicago\n  signoffs: {mode}\n", 1
    )
    for person, key in keys.items():
        entry = f"file:keys/{key.public.name}" if person == "cleo" else key.line
        text = re.sub(
            rf"(  - {{id: {person}, [^\n]*roles: \[[^\]]*\])}}",
            rf'\1, keys: ["{entry}"]}}',
            text,
            count=1,
        )
    text = text.replace(
        "\ndns:\n",
        "\n  - id: go\n    title: Go or no-go\n    phase: sunday\n    owner: network\n"
        "    duration: 5m\n    signoff: {roles: [client-observer, lead], count: 1}\n"
        "    gates: [{check: authority_new, records: [upload.small.test]}]\ndns:\n",
        1,
    )
    (folder / "keys").mkdir(exist_ok=True)
    for person, key in keys.items():
        if person == "cleo":
            (folder / "keys" / key.public.name).write_text(key.public.read_text())
    plan = folder / "signed.yaml"
    plan.write_text(text)
    return plan


@contextlib.contextmanager
def ssh_agent(folder: Path) -> Iterator[dict[str, str]]:
    """A real ssh-agent on a socket in `folder`; yields the environment that reaches it."""
    require_binary("ssh-agent")
    sock = folder / "agent.sock"
    out = subprocess.run(
        ["ssh-agent", "-s", "-a", str(sock)], check=True, capture_output=True, text=True
    ).stdout
    pid = int(re.search(r"SSH_AGENT_PID=(\d+)", out).group(1))  # type: ignore[union-attr]
    try:
        yield {"SSH_AUTH_SOCK": str(sock)}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def ssh_add(env: dict[str, str], key: Key) -> None:
    subprocess.run(
        ["ssh-add", str(key.private)], check=True, capture_output=True, env={**os.environ, **env}
    )


def stock_sign(
    key: Path, statement: Path, namespace: str = NAMESPACE, env: dict[str, str] | None = None
) -> Path:
    """`ssh-keygen -Y sign` as a signer runs it; returns the .sig file."""
    subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", str(key), str(statement)],
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    return statement.with_name(statement.name + ".sig")
