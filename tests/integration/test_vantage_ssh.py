"""SSH vantage hosts against a real sshd on loopback, running the real `dig` against a real unbound
of the DNS test bed: the host key pinned (a mismatch refused), a refused key, a host without
`dig`, a dead host and a hanging one, each shown as what it is."""

from __future__ import annotations

import asyncio
import getpass
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnsbed import NEW, OLD, RESOLVERS, DnsBed
from servers import Blackhole, Sshd, free_port
from support import SMALL

from cutover_console.clock import SystemClock
from cutover_console.dns.vantage.engine import VantageMonitor
from cutover_console.plan import load_plan_text

pytestmark = pytest.mark.integration
UNBOUND = RESOLVERS["unbound"]


@pytest.fixture(scope="module")
def dnsbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsBed]:
    bed = DnsBed(tmp_path_factory.mktemp("dnsbed"))
    bed.start()
    bed.publish(upload=OLD, ttl=300)
    yield bed
    bed.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    # a second key whose sessions run without `dig` on their PATH: the "host without dig"
    nodig = server.root / "nodig_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(nodig)], check=True)
    restricted = 'command="env PATH=/nonexistent /bin/sh -c \\"$SSH_ORIGINAL_COMMAND\\"" '
    with (server.root / "authorized_keys").open("a") as keys:
        keys.write(restricted + (server.root / "nodig_key.pub").read_text())
    yield server
    server.stop()


def host_key(server: Sshd) -> str:
    return " ".join((server.root / "host_key.pub").read_text().split()[:2])


def plan_for(hosts: list[str]) -> str:
    base = SMALL.read_text(encoding="utf-8").replace(
        "upload.small.test", "upload.collision-bi.test"
    )
    lines = "".join(f"      - {h}\n" for h in hosts)
    return base.rstrip() + "\n  vantage:\n    ssh_hosts:\n" + lines


def host(
    name: str,
    server: Sshd,
    *,
    port: int | None = None,
    key: Path | None = None,
    pinned: str | None = None,
    timeout: float = 5,
) -> str:
    return (
        f"{{name: {name}, address: 127.0.0.1, port: {port or server.port}, "
        f"user: {getpass.getuser()}, key: 'file:{key or server.client_key}', "
        f"host_key: '{pinned or host_key(server)}', resolver: {UNBOUND[0]}, "
        f"resolver_port: {UNBOUND[1]}, country: DE, city: Frankfurt, network: our VM, "
        f"timeout: {timeout}}}"
    )


def once(text: str) -> dict:  # type: ignore[type-arg]
    document = load_plan_text(text)
    assert document.plan.dns is not None
    return asyncio.run(VantageMonitor(document.plan.dns, SystemClock()).once())


def test_dig_on_the_host_reads_old_then_new_with_ttl(dnsbed: DnsBed, sshd: Sshd) -> None:
    dnsbed.flush()
    snapshot = once(plan_for([host("vm-fra", sshd)]))
    (row,) = snapshot["points"]
    assert row["point"] == "ssh:vm-fra" and row["source"] == "ssh"
    assert row["status"] == "old" and 290 <= row["ttl"] <= 300
    assert row["flips_by"] is not None and snapshot["faults"] == {}
    dnsbed.publish(upload=NEW, ttl=300)
    dnsbed.flush()
    try:
        (row,) = once(plan_for([host("vm-fra", sshd)]))["points"]
        assert row["status"] == "new" and row["answers"] == [NEW]
        assert snapshot["by_country"][0]["key"] == "DE"
    finally:
        dnsbed.publish(upload=OLD, ttl=300)


def test_host_key_mismatch_is_refused(dnsbed: DnsBed, sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    pinned = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    snapshot = once(plan_for([host("vm-fra", sshd, pinned=pinned)]))
    assert "not the pinned one" in snapshot["faults"]["ssh:vm-fra"]
    assert snapshot["points"][0]["status"] == "error"


def test_refused_key_missing_dig_dead_and_hanging_hosts_each_named(
    dnsbed: DnsBed, sshd: Sshd, tmp_path: Path
) -> None:
    dnsbed.flush()
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    hole = Blackhole()
    try:
        snapshot = once(
            plan_for(
                [
                    host("good", sshd),
                    host("refused", sshd, key=stranger),
                    host("nodig", sshd, key=sshd.root / "nodig_key"),
                    host("dead", sshd, port=free_port()),
                    host("hangs", sshd, port=hole.port, timeout=1.5),
                ]
            )
        )
    finally:
        hole.close()
    faults = snapshot["faults"]
    assert "refused the key" in faults["ssh:refused"]
    assert "dig is not installed" in faults["ssh:nodig"]
    assert "down or unreachable" in faults["ssh:dead"]
    assert "did not answer within 1.5 s" in faults["ssh:hangs"]
    assert "ssh:good" not in faults  # the others' failures cost the good host nothing
    statuses = {r["point"]: r["status"] for r in snapshot["points"]}
    assert statuses["ssh:good"] == "old"


def forced_key(server: Sshd, name: str, script: str) -> Path:
    """A key whose sessions run `script` (a hostile host's `dig`) whatever they ask for."""
    key = server.root / f"{name}_key"
    program = server.root / f"{name}.sh"
    program.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    program.chmod(0o755)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with (server.root / "authorized_keys").open("a") as keys:
        keys.write(f'command="{program}" ' + (server.root / f"{name}_key.pub").read_text())
    return key


def test_a_hostile_hosts_dig_output_arrives_inert_and_bounded(
    dnsbed: DnsBed, sshd: Sshd, tmp_path: Path
) -> None:
    """What a vantage host prints is data from outside: answers carrying every class of the
    corpus reach `cutover dns --once` (table and JSON) inert, and a host that floods its output
    is cut at the limit and named, while the good host still answers."""
    from hostile import HOSTILE, forbidden_in

    lines = "".join(
        f"upload.collision-bi.test. 300 IN A {text}\n".replace("'", "'\\''") for text in HOSTILE
    )
    liar = forced_key(
        sshd,
        "liar",
        "printf '%s\\n' ';; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1'\n"
        f"printf '%s' '{lines}'\n",
    )
    flood = forced_key(sshd, "flood", "head -c 50000000 /dev/zero | tr '\\000' A\n")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        plan_for([host("good", sshd), host("liar", sshd, key=liar), host("flood", sshd, key=flood)])
    )
    from support import run_cli

    table = run_cli("dns", str(plan), "--once")
    assert table.returncode == 0, table.stderr
    assert forbidden_in(table.stdout + table.stderr) == []
    as_json = run_cli("dns", str(plan), "--once", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert forbidden_in(as_json.stdout) == []
    import json

    vantage = json.loads(as_json.stdout)["vantage"]
    points = {p["point"]: p for p in vantage["points"]}
    assert points["ssh:good"]["status"] == "old"
    assert points["ssh:liar"]["status"] == "other"  # answers that are not the old or new address
    shown = json.dumps(points["ssh:liar"]["answers"], ensure_ascii=False)
    assert "titleword" in shown and "\x1b" not in shown
    assert "more than 64 KiB" in vantage["faults"]["ssh:flood"]
    assert "liar" in table.stdout and "flood" in table.stdout
