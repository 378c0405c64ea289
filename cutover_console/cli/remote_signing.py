"""`cutover signoff --remote HOST:PORT STEP --sign-with KEY`: the three stock OpenSSH commands a
signer without the tool runs, wrapped (the journal service sits behind `cutover serve`):

    ssh -p PORT HOST statement STEP > s.txt
    ssh-keygen -Y sign -n sign-off@cutover-console -f KEY s.txt
    ssh -p PORT HOST signoff STEP < s.txt.sig

CUTOVER_SSH, like GIT_SSH_COMMAND, names the ssh to run with its options.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from ..signoffs.statement import NAMESPACE, Statement, StatementInvalid

TIMEOUT = 60.0


def _ssh(key: Path, host: str, port: str, command: str, stdin: bytes = b"") -> bytes:
    # like GIT_SSH_COMMAND: the ssh to run, with options (a known_hosts file, a jump host)
    ssh = shlex.split(os.environ.get("CUTOVER_SSH", "") or "ssh")
    run = subprocess.run(
        [
            *ssh,
            "-p",
            port,
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-i",
            str(key),
            "-T",
            host,
            command,
        ],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    if run.returncode != 0:
        said = run.stderr.decode("utf-8", "replace").strip().splitlines()
        raise click.ClickException(said[-1] if said else f"ssh exited with {run.returncode}")
    return run.stdout


def sign_remotely(remote: str, step_id: str, by: str, key: Path) -> str:
    """Fetch the statement, sign it with ssh-keygen, hand the signature in; what to print."""
    host, _, port = remote.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter("give HOST:PORT, e.g. cutover.example:2222", param_hint="--remote")
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            raise click.ClickException(f"{tool} (OpenSSH) is not installed")
    text = _ssh(key, host, port, f"statement {step_id}")
    try:
        statement = Statement.parse(text)
    except StatementInvalid as exc:
        raise click.ClickException(f"the server sent no statement: {exc}") from None
    if statement.person != by:
        raise click.ClickException(
            f"the server issued the statement for {statement.person}: this key is not {by}'s"
        )
    with tempfile.TemporaryDirectory(prefix="cutover-signoff-") as folder:
        path = Path(folder) / "statement.txt"
        path.write_bytes(text)
        signed = subprocess.run(
            ["ssh-keygen", "-Y", "sign", "-n", NAMESPACE, "-f", str(key), str(path)],
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
        if signed.returncode != 0:
            said = signed.stderr.decode("utf-8", "replace").strip().splitlines()
            raise click.ClickException(f"ssh-keygen could not sign: {said[-1] if said else ''}")
        signature = (Path(folder) / "statement.txt.sig").read_bytes()
    return _ssh(key, host, port, f"signoff {step_id}", signature).decode("utf-8", "replace").strip()
