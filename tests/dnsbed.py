"""A real DNS test bed on loopback: nsd (authoritative) plus caching resolvers of three
implementations (unbound, dnsmasq, Knot Resolver), a resolver with a dead upstream, one with a
capped TTL, one that answers wrongly, and an address where nothing listens.

Started by the `dnsbed` fixture, stopped by pid. Everything binds to 127.0.53.0/24 only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.query
import dns.rcode

ZONE = "collision-bi.test"
OLD, NEW, WRONG = "198.51.100.10", "203.0.113.20", "192.0.2.99"

AUTH = ("127.0.53.1", 5301)
AUTH2 = ("127.0.53.2", 5302)  # second NS of the same zone (for agreement / serial checks)
RESOLVERS = {
    "unbound": ("127.0.53.11", 5311),
    "dnsmasq": ("127.0.53.12", 5312),
    "kresd": ("127.0.53.13", 5313),
    "capped": ("127.0.53.14", 5314),  # unbound with cache-max-ttl 20
    "deadup": ("127.0.53.15", 5315),  # unbound whose upstream is not there -> SERVFAIL
    "wrong": ("127.0.53.16", 5316),  # dnsmasq forcing a wrong address for upload.*
}
NOBODY = ("127.0.53.19", 5319)  # nothing listens here -> timeout
# Give up on an unreachable upstream quickly, so the resolver answers SERVFAIL instead of silence.
DEAD_UPSTREAM = "infra-cache-max-rtt: 100\n    outbound-msg-retry: 1\n    infra-keep-probing: no"


def zone_text(
    serial: int, upload: str, app: str, ttl: int, shop_ttl: int = 300, extra: str = ""
) -> str:
    return f"""$ORIGIN {ZONE}.
$TTL {ttl}
@       3600 IN SOA ns1.{ZONE}. hostmaster.{ZONE}. {serial} 3600 600 86400 5
@       3600 IN NS  ns1.{ZONE}.
@       3600 IN NS  ns2.{ZONE}.
ns1     3600 IN A   {AUTH[0]}
ns2     3600 IN A   {AUTH2[0]}
upload  {ttl} IN A   {upload}
app     {ttl} IN A   {app}
shop01  {shop_ttl} IN CNAME app.{ZONE}.
shop02  {shop_ttl} IN CNAME app.{ZONE}.
both    {ttl} IN A   {OLD}
both    {ttl} IN A   {NEW}
{extra}
"""


@dataclass
class DnsBed:
    root: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    serial: int = 1

    # -- authoritative data ------------------------------------------------------------
    def publish(
        self,
        upload: str = OLD,
        app: str = OLD,
        ttl: int = 300,
        shop_ttl: int = 300,
        extra: str = "",
        only: tuple[str, ...] = ("nsd1", "nsd2"),
    ) -> None:
        """Write a new zone (serial + 1) and make nsd reload it."""
        self.serial += 1
        for name in only:
            (self.root / name / f"{ZONE}.zone").write_text(
                zone_text(self.serial, upload, app, ttl, shop_ttl, extra)
            )
            self.procs[name].send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        targets = [AUTH if n == "nsd1" else AUTH2 for n in only]
        while time.monotonic() < deadline:
            if all(self.authority_serial(t) == self.serial for t in targets):
                return
            time.sleep(0.05)
        raise RuntimeError("nsd did not load the new zone")

    def authority_serial(self, addr: tuple[str, int]) -> int | None:
        q = dns.message.make_query(ZONE, "SOA")
        q.flags &= ~dns.flags.RD
        try:
            r = dns.query.udp(q, addr[0], port=addr[1], timeout=0.5)
        except Exception:
            return None
        for rrset in r.answer:
            return int(rrset[0].serial)
        return None

    # -- processes ----------------------------------------------------------------------
    def start(self) -> None:
        for name, addr in (("nsd1", AUTH), ("nsd2", AUTH2)):
            self._nsd(name, addr)
        for addr in (AUTH, AUTH2):
            _wait_udp(addr)
        self.start_resolvers_only()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    def flush(self) -> None:
        """Restart the caching resolvers (cold caches)."""
        for name in list(RESOLVERS):
            proc = self.procs.pop(name)
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        self.start_resolvers_only()

    def start_resolvers_only(self) -> None:
        self._unbound("unbound", RESOLVERS["unbound"], f"{AUTH[0]}@{AUTH[1]}")
        self._unbound("capped", RESOLVERS["capped"], f"{AUTH[0]}@{AUTH[1]}", "cache-max-ttl: 20")
        self._unbound("deadup", RESOLVERS["deadup"], f"{NOBODY[0]}@{NOBODY[1]}", DEAD_UPSTREAM)
        self._dnsmasq("dnsmasq", RESOLVERS["dnsmasq"])
        self._dnsmasq("wrong", RESOLVERS["wrong"], f"--address=/upload.{ZONE}/{WRONG}")
        self._kresd("kresd", RESOLVERS["kresd"])
        for addr in RESOLVERS.values():
            _wait_udp(addr)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 (lives as long as the process)
        self.procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _nsd(self, name: str, addr: tuple[str, int]) -> None:
        d = self.root / name
        d.mkdir(exist_ok=True)
        (d / f"{ZONE}.zone").write_text(zone_text(self.serial, OLD, OLD, 300))
        conf = d / "nsd.conf"
        conf.write_text(f"""server:
    ip-address: {addr[0]}@{addr[1]}
    port: {addr[1]}
    username: ""
    chroot: ""
    zonesdir: "{d}"
    database: ""
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: "{ZONE}"
    zonefile: "{ZONE}.zone"
""")
        self._spawn(name, ["nsd", "-d", "-c", str(conf)])

    def _unbound(self, name: str, addr: tuple[str, int], stub: str, extra: str = "") -> None:
        d = self.root / name
        d.mkdir(exist_ok=True)
        conf = d / "unbound.conf"
        conf.write_text(f"""server:
    interface: {addr[0]}@{addr[1]}
    port: {addr[1]}
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    use-syslog: no
    logfile: ""
    do-ip6: no
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    local-zone: "test." nodefault
    domain-insecure: "test."
    module-config: "iterator"
    num-threads: 1
    prefetch: no
    serve-expired: no
    {extra}
stub-zone:
    name: "{ZONE}"
    stub-addr: {stub}
remote-control:
    control-enable: no
""")
        self._spawn(name, ["unbound", "-d", "-c", str(conf)])

    def _dnsmasq(self, name: str, addr: tuple[str, int], *extra: str) -> None:
        self._spawn(
            name,
            [
                "dnsmasq",
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--no-dhcp-interface=",
                f"--listen-address={addr[0]}",
                f"--port={addr[1]}",
                "--bind-interfaces",
                f"--server=/{ZONE}/{AUTH[0]}#{AUTH[1]}",
                "--cache-size=1000",
                "--user=root",
                f"--pid-file={self.root}/{name}.pid",
                *extra,
            ],
        )

    def _kresd(self, name: str, addr: tuple[str, int]) -> None:
        d = self.root / name
        shutil.rmtree(d / "cache", ignore_errors=True)  # its cache persists across restarts
        d.mkdir(exist_ok=True)
        conf = d / "config"
        conf.write_text(f"""
net.listen('{addr[0]}', {addr[1]}, {{ kind = 'dns' }})
modules = {{ 'policy' }}
cache.open(10 * MB, 'lmdb://{d}/cache')
policy.add(policy.suffix(policy.FORWARD({{'{AUTH[0]}@{AUTH[1]}'}}), {{todname('{ZONE}')}}))
trust_anchors.remove('.')
""")
        self._spawn(name, ["kresd", "-n", "-c", str(conf), str(d)])


def _wait_udp(addr: tuple[str, int], timeout: float = 10.0) -> None:
    """Until something answers DNS at addr (any rcode: a resolver with a dead upstream counts)."""
    deadline = time.monotonic() + timeout
    q = dns.message.make_query("localhost.", "A")
    while time.monotonic() < deadline:
        try:
            dns.query.udp(q, addr[0], port=addr[1], timeout=0.3)
            return
        except (dns.exception.Timeout, OSError):
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers DNS at {addr[0]}:{addr[1]}")


def port_free(addr: tuple[str, int]) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(addr)
        except OSError:
            return False
    return True
