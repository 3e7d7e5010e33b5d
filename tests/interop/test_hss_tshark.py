"""The HSS's Diameter on the wire, decoded by tshark (RFC 6733, TS 29.229, TS 29.272).

The HSS runs alone (``python -m hss.app``) on a free port with its demo
subscriber; tshark captures loopback TCP on that port, decoded as Diameter
(``-d tcp.port==<port>,diameter``: the port is not 3868). A python-diameter
Node acting as S-CSCF and MME sends CER, UAR, MAR, SAR, LIR, AIR and ULR.
The capture must hold every one of these commands as request and answer,
no malformed packet and no expert item of severity error, and a few fields
must decode to the values TS 29.229/29.272 require.
"""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from diameter.message import Message
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

from ims.auth.aka import plmn_id
from ims.diameter import cx, s6a
from ims.diameter.results import Envelope
from tests.interop.conftest import STEP_TIMEOUT, Capture, free_udp_port
from tests.interop.hss_fixture import DOMAIN, HSS_IDENTITY, HssProcess

pytestmark = pytest.mark.interop

IMSI = "001010000000001"
IMPI = f"{IMSI}@{DOMAIN}"
IMPU = f"sip:+10000001@{DOMAIN}"
BARRED = f"sip:{IMSI}@{DOMAIN}"
CLIENT = f"interop-client.{DOMAIN}"
CLIENT_REALM = DOMAIN  # the default admits peers of the served realms from loopback
SCSCF = f"sip:scscf.{DOMAIN}:6060"
CX, S6A = 16777216, 16777251
#: Command code → name, for every command pair the capture must hold.
COMMANDS = {257: "CER/CEA", 300: "UAR/UAA", 303: "MAR/MAA", 301: "SAR/SAA",
            302: "LIR/LIA", 318: "AIR/AIA", 316: "ULR/ULA"}
_sessions = itertools.count(1)


class DiameterCapture(Capture):
    """``tshark -i lo`` on one TCP port, read back with that port decoded as Diameter."""

    def __init__(self, tshark: str, port: int, path: Path) -> None:  # noqa: D107
        self.tshark = tshark
        self.ports = [port]
        self.path = path
        self.probe = free_udp_port()
        self.proc = subprocess.Popen(
            [tshark, "-i", "lo", "-f", f"tcp port {port} or udp port {self.probe}",
             "-w", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._wait_capturing()
        self._wait_probe_seen()

    def _wait_probe_seen(self) -> None:
        """Send UDP probes until one is on file: "Capturing on" comes before dumpcap captures."""
        deadline = time.monotonic() + STEP_TIMEOUT
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while time.monotonic() < deadline:
                sock.sendto(b"probe", ("127.0.0.1", self.probe))
                if self.path.exists() and self.read("-Y", "udp", "-T", "fields",
                                                    "-e", "frame.number").split():
                    return
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("tshark captured no probe packet")

    def decode_args(self) -> list[str]:
        return ["-d", f"tcp.port=={self.ports[0]},diameter"]

    def messages(self) -> list[tuple[int, bool]]:
        """(command code, request flag) of every Diameter message (several per frame too)."""
        if not self.path.exists():
            return []
        out = self.read("-Y", "diameter", "-T", "fields", "-E", "occurrence=a",
                        "-E", "aggregator=;", "-e", "diameter.cmd.code",
                        "-e", "diameter.flags.request")
        found = []
        for line in out.splitlines():
            codes, _, flags = line.partition("\t")
            for code, flag in zip(codes.split(";"), flags.split(";"), strict=True):
                found.append((int(code), flag in ("1", "True")))
        return found

    def finish(self, expected: int) -> None:
        """Wait until ``expected`` Diameter messages are on file (bounded), then stop."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline and len(self.messages()) < expected:
            time.sleep(0.2)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


class Client:
    """A python-diameter Node with Cx and S6a applications routed to the HSS."""

    def __init__(self, port: int) -> None:
        self.node = Node(CLIENT, CLIENT_REALM, vendor_ids=[10415])
        self.node.wakeup_interval = 1
        peer = self.node.add_peer(f"aaa://{HSS_IDENTITY}:{port};transport=tcp", DOMAIN,
                                  ["127.0.0.1"], is_persistent=True)
        self.apps: dict[int, Any] = {}
        for app_id in (CX, S6A):
            app = SimpleThreadingApplication(app_id, is_auth_application=True,
                                             request_handler=lambda app, message: None)
            self.node.add_application(app, [peer])
            self.apps[app_id] = app

    def send(self, message: Message) -> Message:
        app = self.apps[message.header.application_id]
        app.wait_for_ready(STEP_TIMEOUT)
        answer: Message = app.send_request(message, timeout=STEP_TIMEOUT)
        return answer


def envelope() -> Envelope:
    return Envelope(f"{CLIENT};{next(_sessions)}", CLIENT, CLIENT_REALM, DOMAIN)


@pytest.fixture
def hss(tmp_path: Path) -> Iterator[HssProcess]:
    process = HssProcess(tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def exchange(client: Client) -> None:
    """UAR, MAR, SAR, LIR (Cx), AIR, ULR (S6a) for the demo subscriber; CER came first."""
    cx.read_uaa(client.send(cx.build_uar(cx.Uar(envelope(), IMPI, IMPU, DOMAIN))))
    mar = cx.Mar(envelope(), IMPI, IMPU, SCSCF, cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5), 1)
    assert len(cx.read_maa(client.send(cx.build_mar(mar))).auth_items) == 1
    sar = cx.Sar(envelope(), SCSCF, cx.ServerAssignmentType.REGISTRATION, (BARRED,), IMPI)
    assert cx.read_saa(client.send(cx.build_sar(sar))).user_data is not None
    lia = cx.read_lia(client.send(cx.build_lir(cx.Lir(envelope(), IMPU))))
    assert lia.server_name == SCSCF
    air = s6a.Air(envelope(), IMSI, plmn_id("001", "01"))
    assert len(s6a.read_aia(client.send(s6a.build_air(air))).vectors) == 1
    ulr = s6a.Ulr(envelope(), IMSI, plmn_id("001", "01"))
    assert s6a.read_ula(client.send(s6a.build_ulr(ulr))).subscription is not None


def field_of(capture: DiameterCapture, code: int, request: bool, *fields: str) -> list[str]:
    """``fields`` of the one message with ``code`` and the request flag (tab-separated)."""
    flag = 1 if request else 0
    out = capture.read("-Y", f"diameter.cmd.code == {code} && diameter.flags.request == {flag}",
                       "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                       *itertools.chain.from_iterable(("-e", name) for name in fields))
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    return lines[0].split("\t")


def test_cx_and_s6a_exchange_decodes_cleanly(
    tshark: str, hss: HssProcess, tmp_path: Path,
) -> None:
    capture = DiameterCapture(tshark, hss.diameter_port, tmp_path / "hss.pcapng")
    client = Client(hss.diameter_port)
    client.node.start()
    try:
        exchange(client)
    finally:
        capture.finish(expected=2 * len(COMMANDS))
        client.node.stop(wait_timeout=10)

    seen = set(capture.messages())
    for code, name in COMMANDS.items():
        assert (code, True) in seen and (code, False) in seen, (name, sorted(seen))
    assert capture.read("-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number").split() == []
    assert capture.read("-Y", "_ws.expert.severity == error", "-T", "fields",
                        "-e", "frame.number").split() == []
    expert = capture.read("-q", "-z", "expert,error")
    assert "Errors (" not in expert, expert

    # UAA: Experimental-Result (vendor 10415) 2001 first registration, no base Result-Code.
    vendor, result, base = field_of(capture, 300, False, "diameter.Vendor-Id",
                                    "diameter.Experimental-Result-Code", "diameter.Result-Code")
    assert (result, base) == ("2001", "")
    assert "10415" in vendor.split(";")
    # MAA: the 3GPP SIP-Auth-Data-Item (612) and SIP-Number-Auth-Items (607), not RFC 4740's.
    (codes,) = field_of(capture, 303, False, "diameter.avp.code")
    assert {"612", "607", "608", "609", "610", "625", "626"} <= set(codes.split(";"))
    assert not {"376", "382"} & set(codes.split(";"))
    item, items, scheme, rand_autn = field_of(
        capture, 303, False, "diameter.3GPP-SIP-Auth-Data-Item",
        "diameter.3GPP-SIP-Number-Auth-Items", "diameter.3GPP-SIP-Authentication-Scheme",
        "diameter.3GPP-SIP-Authenticate")
    assert item != "" and (items, scheme) == ("1", "Digest-AKAv1-MD5")
    assert len(bytes.fromhex(rand_autn.replace(":", ""))) == 32
    # AIA: one E-UTRAN-Vector (1414) whose KASME (1450) is 32 bytes; Result-Code 2001.
    result, kasme = field_of(capture, 318, False, "diameter.Result-Code", "diameter.KASME")
    assert result == "2001"
    assert len(bytes.fromhex(kasme.replace(":", ""))) == 32
