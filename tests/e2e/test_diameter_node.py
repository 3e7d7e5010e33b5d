"""The Diameter node's peer handling over real TCP (RFC 6733 §5.3 CER/CEA, §5.6.4 election).

Raw sockets (python-diameter encodes, the test owns the bytes) let a test
write a byte stream in any chunking, open two connections with the same
Origin-Host, and see when the node closes one. Most tests run a
:class:`DiameterNode` in this process with a Cx MAR handler the test can
hold back (a request in flight); the last ones talk to the real HSS process.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from diameter.message import Message
from diameter.message.avp.grouped import VendorSpecificApplicationId
from diameter.message.commands import CapabilitiesExchangeRequest, DeviceWatchdogRequest
from imscore import CoreProcess, Ports, free_port

from ims.diameter import cx
from ims.diameter.node import APP_CX, APP_S6A, APP_SH, DiameterNode, NodeSettings
from ims.diameter.results import Envelope

pytestmark = pytest.mark.e2e

REALM = "ims.mnc001.mcc001.3gppnetwork.org"
EPC_REALM = "epc.mnc001.mcc001.3gppnetwork.org"
HSS = f"hss.{REALM}"
LOWER = f"alpha.{REALM}"  # "alpha..." < "hss...": the node wins the election
HIGHER = f"scscf.{REALM}"  # "scscf..." > "hss...": the node loses it
TOOL = f"e2e-tool.{REALM}"  # a local tool: served realm from loopback
_ids = itertools.count(0x1000)


def _number(message: Message) -> Message:
    ident = next(_ids)
    message.header.hop_by_hop_identifier = ident
    message.header.end_to_end_identifier = ident
    return message


def build_cer(host: str, realm: str = REALM, vendor_apps: tuple[int, ...] = (APP_CX,),
              auth_apps: tuple[int, ...] = ()) -> Message:
    """A CER from ``host`` advertising 3GPP ``vendor_apps`` and plain ``auth_apps``."""
    cer = CapabilitiesExchangeRequest()
    cer.origin_host = host.encode()
    cer.origin_realm = realm.encode()
    cer.host_ip_address = ["127.0.0.1"]
    cer.vendor_id = 10415
    cer.product_name = "raw-test"
    cer.supported_vendor_id = [10415]
    cer.auth_application_id = list(auth_apps)
    cer.vendor_specific_application_id = [
        VendorSpecificApplicationId(vendor_id=10415, auth_application_id=app)
        for app in vendor_apps]
    return _number(cer)


def build_dwr(host: str) -> Message:
    dwr = DeviceWatchdogRequest()
    dwr.origin_host = host.encode()
    dwr.origin_realm = REALM.encode()
    return _number(dwr)


def build_mar(host: str) -> Message:
    """A Cx MAR (TS 29.229 §6.1.7) from ``host``."""
    request = cx.Mar(Envelope(f"{host};{next(_ids)}", host, REALM, REALM, HSS),
                     f"001010000000001@{REALM}", f"sip:+10000001@{REALM}",
                     f"sip:scscf.{REALM}:6060", cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5), 1)
    return _number(cx.build_mar(request))


class RawPeer:
    """One TCP connection to a Diameter node."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10,
                                             source_address=(source, 0))

    def send(self, *messages: Message) -> None:
        self.sock.sendall(b"".join(message.as_bytes() for message in messages))

    def read(self) -> Any:
        """The next whole message."""
        head = self._exactly(20)
        return Message.from_bytes(head + self._exactly(int.from_bytes(head[1:4], "big") - 20))

    def closed_by_peer(self) -> bool:
        """True once the node closed (or reset) the connection."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise AssertionError(f"connection closed after {len(data)} of {count} bytes")
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


class GatedMar:
    """A MAR handler answering 2001 once ``release`` is set; ``arrived`` tells a MAR is held."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Event()

    def __call__(self, request: Message) -> Message:
        self.arrived.set()
        assert self.release.wait(20)
        answer = request.to_answer()
        answer.session_id = request.session_id
        answer.auth_session_state = 1
        answer.origin_host = HSS.encode()
        answer.origin_realm = REALM.encode()
        answer.result_code = 2001
        return answer


def start_node(gate: GatedMar, **overrides: Any) -> DiameterNode:
    settings = NodeSettings(identity=HSS, realm=REALM, served_realms=(EPC_REALM,),
                            listen_host="127.0.0.1", listen_port=free_port(),
                            applications=(APP_CX, APP_SH, APP_S6A), **overrides)
    node = DiameterNode(settings, {APP_CX: {303: gate}})
    node.start()
    return node


@pytest.fixture()
def gate() -> GatedMar:
    return GatedMar()


@pytest.fixture()
def node(gate: GatedMar) -> Iterator[DiameterNode]:
    started = start_node(gate)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture()
def peers(node: DiameterNode) -> Iterator[list[RawPeer]]:
    opened: list[RawPeer] = []
    yield opened
    close_all(node, opened)


def close_all(node: DiameterNode, opened: list[RawPeer]) -> None:
    """Close the raw peers and let the node notice (so its stop sends no DPR to wait on)."""
    for peer in opened:
        peer.close()
    deadline = time.monotonic() + 5
    while any(p.state == "ready" for p in node.peers()) and time.monotonic() < deadline:
        time.sleep(0.05)


def connect(node: DiameterNode, peers: list[RawPeer], source: str = "127.0.0.1") -> RawPeer:
    peer = RawPeer(node.settings.listen_port, source)
    peers.append(peer)
    return peer


def handshake(node: DiameterNode, peers: list[RawPeer], host: str, **cer: Any) -> RawPeer:
    peer = connect(node, peers)
    peer.send(build_cer(host, **cer))
    assert peer.read().result_code == 2001
    return peer


def test_cer_dwr_mar_stream_in_odd_chunks_is_reassembled(node: DiameterNode,
                                                         peers: list[RawPeer]) -> None:
    requests = [build_cer(LOWER), build_dwr(LOWER), build_mar(LOWER), build_dwr(LOWER)]
    stream = b"".join(m.as_bytes() for m in requests)
    peer = connect(node, peers)
    cuts = [0, 1, 7, 19, 20, 21, 150, 151, len(stream) - 3, len(stream)]
    for start, end in itertools.pairwise(cuts):
        peer.sock.sendall(stream[start:end])
    cea = peer.read()  # the MAA is answered by a worker thread: it may pass a DWA
    assert (type(cea).__name__, cea.result_code, cea.origin_host) == (
        "CapabilitiesExchangeAnswer", 2001, HSS.encode())
    answers = {a.header.hop_by_hop_identifier: (type(a).__name__, a.result_code)
               for a in (peer.read() for _ in range(3))}
    assert answers == {
        requests[1].header.hop_by_hop_identifier: ("DeviceWatchdogAnswer", 2001),
        requests[2].header.hop_by_hop_identifier: ("MultimediaAuthAnswer", 2001),
        requests[3].header.hop_by_hop_identifier: ("DeviceWatchdogAnswer", 2001)}


def test_coalesced_requests_in_one_write_all_answered(node: DiameterNode,
                                                      peers: list[RawPeer]) -> None:
    peer = handshake(node, peers, LOWER)
    mars = [build_mar(LOWER) for _ in range(5)]
    peer.send(*mars)
    answers = {a.header.hop_by_hop_identifier: a.result_code for a in
               (peer.read() for _ in mars)}
    assert answers == {m.header.hop_by_hop_identifier: 2001 for m in mars}


def test_cer_from_unserved_realm_gets_3010_and_is_closed(node: DiameterNode,
                                                          peers: list[RawPeer]) -> None:
    peer = connect(node, peers)
    peer.send(build_cer("intruder.evil.example", realm="evil.example"))
    cea = peer.read()
    assert (cea.result_code, cea.header.is_error) == (3010, True)
    assert peer.closed_by_peer()
    assert "intruder.evil.example" not in {p.host for p in node.peers()}


def test_epc_realm_from_loopback_is_accepted(node: DiameterNode, peers: list[RawPeer]) -> None:
    handshake(node, peers, f"mme.{EPC_REALM}", realm=EPC_REALM, vendor_apps=(APP_S6A,))
    (mme,) = [p for p in node.peers() if p.host == f"mme.{EPC_REALM}"]
    assert (mme.state, mme.applications, mme.transport) == ("ready", ("S6a",), "tcp")


def test_served_realm_from_a_network_not_allowed_gets_3010(gate: GatedMar) -> None:
    node = start_node(gate, allowed_networks=("127.0.0.2/32",))
    opened: list[RawPeer] = []
    try:
        outside = connect(node, opened, source="127.0.0.1")
        outside.send(build_cer(LOWER))
        assert outside.read().result_code == 3010
        inside = connect(node, opened, source="127.0.0.2")
        inside.send(build_cer(LOWER))
        assert inside.read().result_code == 2001
    finally:
        close_all(node, opened)
        node.stop()


def test_allowed_host_from_any_realm_is_accepted(gate: GatedMar) -> None:
    node = start_node(gate, allowed_hosts=("Tool.Lab.Example",), allowed_networks=())
    opened: list[RawPeer] = []
    try:
        assert handshake(node, opened, "tool.lab.example", realm="lab.example")
    finally:
        close_all(node, opened)
        node.stop()


def test_cer_without_common_application_gets_5010(node: DiameterNode,
                                                  peers: list[RawPeer]) -> None:
    peer = connect(node, peers)
    peer.send(build_cer(LOWER, vendor_apps=(16777236,), auth_apps=(4,)))  # Rx, Gy
    assert peer.read().result_code == 5010
    assert peer.closed_by_peer()


@pytest.mark.parametrize(("vendor_apps", "auth_apps", "shown"), [
    ((), (APP_CX,), ("Cx",)),
    ((APP_CX, APP_SH), (), ("Cx", "Sh")),
    ((), (0xFFFFFFFF,), ("relay",)),
])
def test_cer_with_a_common_or_relay_application_is_accepted(
        node: DiameterNode, peers: list[RawPeer], vendor_apps: tuple[int, ...],
        auth_apps: tuple[int, ...], shown: tuple[str, ...]) -> None:
    handshake(node, peers, LOWER, vendor_apps=vendor_apps, auth_apps=auth_apps)
    (state,) = [p for p in node.peers() if p.host == LOWER]
    assert (state.state, state.applications) == ("ready", shown)


def test_election_won_keeps_new_connection_and_answers_request_in_flight(
        node: DiameterNode, gate: GatedMar, peers: list[RawPeer]) -> None:
    first = handshake(node, peers, LOWER)
    gate.release.clear()
    held = build_mar(LOWER)
    first.send(held)
    assert gate.arrived.wait(10)
    second = handshake(node, peers, LOWER)  # RFC 6733 §5.6.4: "hss" > "alpha", node wins
    gate.release.set()
    answer = first.read()
    assert (answer.header.hop_by_hop_identifier, answer.result_code) == (
        held.header.hop_by_hop_identifier, 2001)
    assert first.closed_by_peer()
    second.send(build_mar(LOWER))
    assert second.read().result_code == 2001
    assert [(p.host, p.state) for p in node.peers()] == [(LOWER, "ready")]


def test_election_lost_rejects_new_connection_and_keeps_the_first(
        node: DiameterNode, gate: GatedMar, peers: list[RawPeer]) -> None:
    first = handshake(node, peers, HIGHER)
    gate.release.clear()
    held = build_mar(HIGHER)
    first.send(held)
    assert gate.arrived.wait(10)
    second = connect(node, peers)
    second.send(build_cer(HIGHER))
    assert second.read().result_code == 4003  # DIAMETER_ELECTION_LOST
    assert second.closed_by_peer()
    gate.release.set()
    assert first.read().result_code == 2001
    first.send(build_dwr(HIGHER))
    assert first.read().result_code == 2001


def test_counters_per_command_and_result(node: DiameterNode, peers: list[RawPeer]) -> None:
    peer = handshake(node, peers, LOWER)
    peer.send(build_mar(LOWER), build_mar(LOWER))
    peer.read(), peer.read()
    rejected = connect(node, peers)
    rejected.send(build_cer("x.evil.example", realm="evil.example"))
    rejected.read()
    counters = node.counters()
    assert counters['diameter_answers{command="MAA",result="2001"}'] == 2
    assert counters['diameter_answers{command="CEA",result="2001"}'] == 1
    assert counters['diameter_answers{command="CEA",result="3010"}'] == 1


def test_node_status_states_sctp_and_peers(node: DiameterNode, peers: list[RawPeer]) -> None:
    handshake(node, peers, LOWER, vendor_apps=(APP_CX, APP_S6A))
    status = node.status()
    assert status["sctp"] == node.sctp_status()
    assert status["diameter_peers"] == [{
        "host": LOWER, "realm": REALM, "state": "ready", "applications": ["Cx", "S6a"],
        "transport": "tcp", "address": "127.0.0.1"}] or status["diameter_peers"] == [{
        "host": LOWER, "realm": REALM, "state": "ready", "applications": ("Cx", "S6a"),
        "transport": "tcp", "address": "127.0.0.1"}]


# ----------------------------------------------------------------- the HSS process


def test_hss_refuses_unknown_realm_and_reports_peers(core: CoreProcess, ports: Ports) -> None:
    intruder = RawPeer(ports.diameter)
    try:
        intruder.send(build_cer("intruder.evil.example", realm="evil.example"))
        assert intruder.read().result_code == 3010
        assert intruder.closed_by_peer()
    finally:
        intruder.close()
    member = RawPeer(ports.diameter)
    try:
        member.send(build_cer(TOOL, vendor_apps=(APP_CX,)))
        assert member.read().result_code == 2001
        hss = core.process_status("hss")
        (peer,) = [p for p in hss["diameter_peers"] if p["host"] == TOOL]
        assert (peer["state"], peer["applications"]) == ("ready", ["Cx"])
        assert hss["counters"]['diameter_answers{command="CEA",result="3010"}'] >= 1
        assert hss["sctp"] in ("listening", "unavailable: kernel has no SCTP",
                               "unavailable: pysctp not installed (pip install '.[sctp]')")
        with urllib.request.urlopen(f"http://127.0.0.1:{ports.mgmt['hss']}/metrics") as reply:
            assert "ims_diameter_answers_command__cea__result__3010_total{" in reply.read().decode()
    finally:
        member.close()
