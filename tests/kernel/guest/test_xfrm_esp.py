"""Inside User-Mode Linux: the four ESP SAs of TS 33.203 §7.1 carry UDP and TCP both ways.

UE and P-CSCF live in two network namespaces joined by a veth pair.
``ims.ipsec.xfrm.NetlinkXfrm`` installs the same four transport-mode SAs on both
sides (UE port-c → P-CSCF port-s, P-CSCF port-s → UE port-c, P-CSCF port-c →
UE port-s, UE port-s → P-CSCF port-c), each with one policy (protocol any +
port pair). Proof that every packet was ESP: each SA's ``cur_packets``
(``XFRM_MSG_GETSA`` dump, ``struct xfrm_lifetime_cur``) rises, and the veth's
transmit counter grows by exactly the packets the outbound SAs encrypted (no
ARP: static neighbours; no IPv6: disabled before the link exists).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ims.ipsec.xfrm import (
    Direction,
    NetlinkXfrm,
    PolicySpec,
    ReqidRange,
    SaSpec,
    XfrmSpec,
    policy_for,
)

UE, PCSCF, UE2 = "10.99.0.1", "10.99.0.2", "10.99.0.3"
UE_PORT_C, UE_PORT_S, PORT_S, PORT_C = 50001, 50002, 5100, 6100
MARKER = ReqidRange(0x1A150000, 0x1A15FFFF)
ALGORITHMS = {  # TS 33.203 Annex I key sizes: IK_esp / CK_esp
    "sha1-aes": ("hmac-sha-1-96", bytes(range(16)) + bytes(4), "aes-cbc", bytes(range(16, 32))),
    "md5-null": ("hmac-md5-96", bytes(range(16)), "null", b""),
}

# One UDP datagram and one TCP exchange from (local, lport) to (remote, rport),
# or the matching echo server; run with `ip netns exec` in a namespace.
PEER = r"""
import socket, sys
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "serve":
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((host, port))
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((host, port)); t.listen(1); u.settimeout(20); t.settimeout(20)
    print("ready", flush=True)
    data, addr = u.recvfrom(2000); u.sendto(data.upper(), addr)
    c, _ = t.accept(); c.sendall(c.recv(2000).upper()); c.close()
elif mode == "clear":  # one datagram, and say whether anything answered
    rhost, rport = sys.argv[4], int(sys.argv[5])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((host, port)); u.settimeout(2)
    u.sendto(b"clear", (rhost, rport))
    try:
        print(u.recv(2000).decode(), flush=True)
    except TimeoutError:
        print("nothing", flush=True)
else:
    rhost, rport = sys.argv[4], int(sys.argv[5])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind((host, port)); u.settimeout(10)
    u.sendto(b"udp over esp", (rhost, rport)); assert u.recv(2000) == b"UDP OVER ESP"
    t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((host, port)); t.settimeout(10); t.connect((rhost, rport))
    t.sendall(b"tcp over esp"); assert t.recv(2000) == b"TCP OVER ESP"; t.close()
    print("ok", flush=True)
"""


@dataclass(frozen=True)
class Link:
    """Two namespaces joined by a veth: ``ue`` (UE, UE2) and ``pcscf``."""

    ue: str
    pcscf: str


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def tx_packets(netns: str, dev: str) -> int:
    (link,) = json.loads(sh("ip", "-n", netns, "-j", "-s", "link", "show", dev))
    return int(link["stats64"]["tx"]["packets"])


@pytest.fixture(scope="module", autouse=True)
def modules() -> None:
    for module in ("esp4", "xfrm_user", "veth"):
        subprocess.run(["modprobe", module], check=True)


def make_netns(name: str) -> None:
    sh("ip", "netns", "add", name)
    if os.path.exists("/proc/sys/net/ipv6"):  # ipv6 may be an unloaded module in the guest
        sh("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1")
    sh("ip", "-n", name, "link", "set", "lo", "up")


@pytest.fixture(scope="module")
def veth() -> Iterator[Link]:
    pair = Link(f"ue{os.getpid()}", f"pc{os.getpid()}")
    make_netns(pair.ue)
    make_netns(pair.pcscf)
    try:
        sh("ip", "link", "add", "v-ue", "netns", pair.ue, "type", "veth", "peer", "name", "v-pc",
           "netns", pair.pcscf)
        for ns, dev, addrs in ((pair.ue, "v-ue", (UE, UE2)), (pair.pcscf, "v-pc", (PCSCF,))):
            for addr in addrs:
                sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        static_neighbours(pair)
        yield pair
    finally:
        sh("ip", "netns", "del", pair.ue)
        sh("ip", "netns", "del", pair.pcscf)


@pytest.fixture()
def link(veth: Link) -> Iterator[Link]:
    """The module's namespaces, emptied of SAs and policies after each test (test-only flush)."""
    yield veth
    for ns in (veth.ue, veth.pcscf):
        sh("ip", "-n", ns, "xfrm", "state", "flush")
        sh("ip", "-n", ns, "xfrm", "policy", "flush")


def static_neighbours(pair: Link) -> None:
    macs = {ns: json.loads(sh("ip", "-n", ns, "-j", "link", "show", dev))[0]["address"]
            for ns, dev in ((pair.ue, "v-ue"), (pair.pcscf, "v-pc"))}
    for addr in (UE, UE2):
        sh("ip", "-n", pair.pcscf, "neigh", "replace", addr, "lladdr", macs[pair.ue], "dev",
           "v-pc", "nud", "permanent")
    sh("ip", "-n", pair.ue, "neigh", "replace", PCSCF, "lladdr", macs[pair.pcscf], "dev", "v-ue",
       "nud", "permanent")


def four_sas(ue: str, reqid: int, spi_base: int, algorithms: str) -> tuple[SaSpec, ...]:
    """TS 33.203 §7.1: the SPI of each SA is the receiver's spi-c/spi-s."""
    auth, ik, enc, ck = ALGORITHMS[algorithms]
    flows = ((ue, PCSCF, UE_PORT_C, PORT_S), (PCSCF, ue, PORT_S, UE_PORT_C),
             (PCSCF, ue, PORT_C, UE_PORT_S), (ue, PCSCF, UE_PORT_S, PORT_C))
    return tuple(SaSpec(src, dst, sport, dport, spi_base + i, reqid, auth, ik, enc, ck)
                 for i, (src, dst, sport, dport) in enumerate(flows))


def plan_for(owner: str, sas: tuple[SaSpec, ...], local: str) -> XfrmSpec:
    """The side owning ``local``: OUT policies for what it sends, IN for what it receives."""
    policies = tuple(policy_for(sa, Direction.OUT if sa.src == local else Direction.IN)
                     for sa in sas)
    return XfrmSpec(owner, sas, policies)


def exchange(client_ns: str, server_ns: str, client: tuple[str, int],
             server: tuple[str, int]) -> None:
    """One UDP datagram and one TCP connection from ``client`` to ``server`` and back."""
    serve = subprocess.Popen(["ip", "netns", "exec", server_ns, sys.executable, "-c", PEER,
                              "serve", server[0], str(server[1])], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert serve.stdout is not None and serve.stdout.readline().strip() == "ready"
        out = sh("ip", "netns", "exec", client_ns, sys.executable, "-c", PEER, "send",
                 client[0], str(client[1]), server[0], str(server[1]))
        assert out.strip() == "ok"
        assert serve.wait(timeout=20) == 0
    finally:
        serve.kill()
        serve.wait()


def packets(xfrm: NetlinkXfrm) -> dict[int, int]:
    return {sa.spi: sa.cur_packets for sa in xfrm.list_sas()}


def test_probe_esp_finds_esp_in_the_guest(link: Link) -> None:
    xfrm = NetlinkXfrm(link.pcscf)
    assert xfrm.probe_esp() is True
    assert xfrm.list_sas() == []


@pytest.mark.parametrize("algorithms", sorted(ALGORITHMS))
def test_four_sas_carry_udp_and_tcp_both_ways(link: Link, algorithms: str) -> None:
    sas = four_sas(UE, MARKER.first, 0x10000, algorithms)
    ue_side, pcscf_side = NetlinkXfrm(link.ue), NetlinkXfrm(link.pcscf)
    ue_side.apply(plan_for("ue1", sas, UE))
    pcscf_side.apply(plan_for("ue1", sas, PCSCF))
    ue_tx, pc_tx = tx_packets(link.ue, "v-ue"), tx_packets(link.pcscf, "v-pc")

    exchange(link.ue, link.pcscf, (UE, UE_PORT_C), (PCSCF, PORT_S))  # UE → P-CSCF requests
    exchange(link.pcscf, link.ue, (PCSCF, PORT_C), (UE, UE_PORT_S))  # P-CSCF → UE requests

    time.sleep(0.5)  # let the last TCP ACKs land before reading counters
    counted = packets(pcscf_side)
    assert counted == packets(ue_side)  # what one side encrypted, the other decrypted
    assert all(counted[sa.spi] >= 4 for sa in sas), counted  # a datagram plus a TCP exchange
    ue_sent = sum(counted[sa.spi] for sa in sas if sa.src == UE)
    pc_sent = sum(counted[sa.spi] for sa in sas if sa.src == PCSCF)
    assert tx_packets(link.ue, "v-ue") - ue_tx == ue_sent  # nothing left the UE in clear
    assert tx_packets(link.pcscf, "v-pc") - pc_tx == pc_sent


def test_sa_listing_names_addresses_ports_and_algorithms(link: Link) -> None:
    xfrm = NetlinkXfrm(link.pcscf)
    sas = four_sas(UE, MARKER.first, 0x10000, "sha1-aes")
    xfrm.apply(plan_for("ue1", sas, PCSCF))
    (first,) = [state for state in xfrm.list_sas() if state.spi == 0x10000]
    assert (first.src, first.src_port, first.dst, first.dst_port) == (UE, UE_PORT_C, PCSCF, PORT_S)
    assert (first.auth_alg, first.enc_alg, first.reqid) == ("hmac-sha-1-96", "aes-cbc", MARKER.first)
    assert first.add_time > 0 and first.cur_bytes == 0


def test_removing_one_ue_keeps_the_other(link: Link) -> None:
    xfrm = NetlinkXfrm(link.pcscf)
    xfrm.apply(plan_for("ue1", four_sas(UE, MARKER.first, 0x10000, "sha1-aes"), PCSCF))
    xfrm.apply(plan_for("ue2", four_sas(UE2, MARKER.first + 1, 0x20000, "md5-null"), PCSCF))
    assert xfrm.remove("ue1") == 8
    assert {sa.spi for sa in xfrm.list_sas()} == {0x20000, 0x20001, 0x20002, 0x20003}
    assert {pol.reqid for pol in xfrm.list_policies()} == {MARKER.first + 1}


def test_cleanup_at_start_removes_only_marked_sas_and_policies(link: Link) -> None:
    NetlinkXfrm(link.pcscf).apply(
        plan_for("stale", four_sas(UE, MARKER.first + 9, 0x30000, "md5-null"), PCSCF))
    foreign = four_sas(UE2, 4242, 0x40000, "md5-null")
    NetlinkXfrm(link.pcscf).apply(plan_for("foreign", foreign, PCSCF))
    sh("ip", "-n", link.pcscf, "xfrm", "policy", "add", "src", "10.99.0.9", "dst", PCSCF, "dir",
       "in", "tmpl", "proto", "esp", "reqid", "4243", "mode", "transport")

    restarted = NetlinkXfrm(link.pcscf)
    assert restarted.cleanup_stale(MARKER) == 8
    assert {sa.spi for sa in restarted.list_sas()} == {sa.spi for sa in foreign}
    assert sorted(pol.reqid for pol in restarted.list_policies()) == [4242] * 4 + [4243]


def test_second_ue_policy_set_does_not_collide(link: Link) -> None:
    xfrm = NetlinkXfrm(link.pcscf)
    xfrm.apply(plan_for("ue1", four_sas(UE, MARKER.first, 0x10000, "md5-null"), PCSCF))
    spare = PolicySpec(UE, PCSCF, UE_PORT_C + 10, PORT_S + 1, Direction.IN, MARKER.first + 2)
    xfrm.apply(XfrmSpec("ue1-new", (), (spare,)))  # TS 33.203 §7.4: new ports, new selectors
    assert len(xfrm.list_policies()) == 5


def test_clear_text_to_a_protected_port_is_dropped(link: Link) -> None:
    pcscf_side = NetlinkXfrm(link.pcscf)
    pcscf_side.apply(plan_for("ue1", four_sas(UE, MARKER.first, 0x10000, "md5-null"), PCSCF))
    serve = subprocess.Popen(["ip", "netns", "exec", link.pcscf, sys.executable, "-c", PEER,
                              "serve", PCSCF, str(PORT_S)], stdout=subprocess.PIPE, text=True)
    try:
        assert serve.stdout is not None and serve.stdout.readline().strip() == "ready"
        out = sh("ip", "netns", "exec", link.ue, sys.executable, "-c", PEER, "clear", UE,
                 str(UE_PORT_C), PCSCF, str(PORT_S))
        assert out.strip() == "nothing"  # the IN policy admits only ESP from UE port-c
        assert all(sa.cur_packets == 0 for sa in pcscf_side.list_sas())
    finally:
        serve.kill()
        serve.wait()
