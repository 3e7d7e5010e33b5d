"""The HSS as a Diameter client: RTR/PPR to the S-CSCF, CLR/IDR to the MME (TS 29.228 §6.1.3,
§6.1.4; TS 29.272 §5.2.1.2, §5.2.2.1), triggered through the REST provisioning API.

``ims-cli run`` starts the core on free ports. Fake peers are python-diameter
Nodes connecting to the HSS over TCP: a fake S-CSCF (Cx) that registers a
subscriber through UAR/MAR/SAR, so the HSS stores it as the serving S-CSCF,
and fake MMEs (S6a) that send ULR. Each records the requests the HSS sends
it and answers 2001 (or nothing, for the timeout test).
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from diameter.message import Message
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication
from imscore import CoreProcess, Ports

from ims.auth.aka import plmn_id
from ims.diameter import cx, s6a
from ims.diameter.results import Answer, Envelope, Result, session_id
from ims.diameter.userdata import parse_ims_subscription

pytestmark = pytest.mark.e2e

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
EPC = "epc.mnc001.mcc001.3gppnetwork.org"
HSS = f"hss.{DOMAIN}"
TOKEN = "ims-lab-token-change-me"
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
SCSCF_HOST = f"scscf-fake.{DOMAIN}"
SCSCF_NAME = f"sip:scscf-fake.{DOMAIN}:6060"
WAIT = 30.0
_sessions = itertools.count(1)
_imsis = itertools.count(1)

Responder = Callable[[Message], Message | None]


class FakePeer:
    """A python-diameter Node connected to the HSS, recording the requests it receives."""

    def __init__(self, host: str, realm: str, hss_port: int, app_id: int,
                 respond: Callable[[FakePeer, Message], Message | None]) -> None:
        self.host, self.realm = host, realm
        self.received: list[Message] = []
        self._arrived = threading.Condition()
        self._respond = respond
        self.node = Node(host, realm, vendor_ids=[10415])
        self.node.wakeup_interval = 1
        # python-diameter 0.9's PushProfileRequest wrongly requires SIP-Auth-Data-Item
        # (TS 29.229 §6.1.11: not in PPR); cx.read_ppr checks the mandatory AVPs instead.
        self.node.validate_received_request_avps = False
        peer = self.node.add_peer(f"aaa://{HSS}:{hss_port};transport=tcp", DOMAIN, ["127.0.0.1"],
                                  is_persistent=True)
        self.app = SimpleThreadingApplication(app_id, is_auth_application=True,
                                              request_handler=self._handle)
        self.node.add_application(self.app, [peer], realms=[DOMAIN, EPC])

    def _handle(self, _app: Any, request: Message) -> Message | None:
        with self._arrived:
            self.received.append(request)
            self._arrived.notify_all()
        return self._respond(self, request)

    def send(self, message: Message) -> Message:
        self.app.wait_for_ready(30)
        answer: Message = self.app.send_request(message, timeout=15)
        return answer

    def wait_for(self, count: int) -> list[Message]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout=WAIT):
                raise AssertionError(f"{self.host} received {len(self.received)} requests, "
                                     f"expected {count}")
            return list(self.received)

    def envelope(self) -> Envelope:
        return Envelope(f"{self.host};{next(_sessions)}", self.host, self.realm, DOMAIN)

    def answer(self, request: Message) -> Answer:
        return Answer(session_id(request), self.host, self.realm, Result(2001))


def answer_cx(peer: FakePeer, request: Message) -> Message | None:
    """RTA/PPA 2001, except no answer at all for IMPIs starting with ``mute``."""
    if str(request.user_name or "").startswith("mute"):
        return None
    if request.header.command_code == 304:
        return cx.build_rta(request, cx.Rta(peer.answer(request)))
    return cx.build_ppa(request, cx.Ppa(peer.answer(request)))


def answer_s6a(peer: FakePeer, request: Message) -> Message:
    code = request.header.command_code
    if code == 317:
        return s6a.build_cla(request, s6a.Cla(peer.answer(request)))
    return s6a.build_ida(request, s6a.Ida(peer.answer(request)))


def start(peer: FakePeer) -> FakePeer:
    peer.node.start()
    return peer


@pytest.fixture(scope="module")
def scscf(core: CoreProcess, ports: Ports) -> Iterator[FakePeer]:
    peer = start(FakePeer(SCSCF_HOST, DOMAIN, ports.diameter, 16777216, answer_cx))
    yield peer
    peer.node.stop(wait_timeout=10)


@pytest.fixture(scope="module")
def mmes(core: CoreProcess, ports: Ports) -> Iterator[tuple[FakePeer, FakePeer]]:
    pair = (start(FakePeer(f"mme1.{EPC}", EPC, ports.diameter, 16777251, answer_s6a)),
            start(FakePeer(f"mme2.{EPC}", EPC, ports.diameter, 16777251, answer_s6a)))
    yield pair
    for peer in pair:
        peer.node.stop(wait_timeout=10)


def rest(ports: Ports, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{ports.rest}/api/v1{path}", data=data,
                                     method=method, headers={"Authorization": f"Bearer {TOKEN}",
                                                             "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            raw = reply.read()
            return reply.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def new_subscriber(ports: Ports, prefix: str = "00101") -> tuple[str, str]:
    """A fresh subscriber; its IMSI and IMPI."""
    imsi = f"{prefix}{next(_imsis) + 7000000000:010d}"
    msisdn = f"2{imsi[-8:]}"
    status, _ = rest(ports, "POST", "/subscribers",
                     {"imsi": imsi, "msisdn": msisdn, "k": K, "opc": OPC})
    assert status == 201
    return imsi, f"{imsi}@{DOMAIN}"


def register(scscf: FakePeer, impi: str, impu: str) -> None:
    """UAR, MAR, SAR(REGISTRATION) from the fake S-CSCF, as a real one registers a UE."""
    uaa = cx.read_uaa(scscf.send(cx.build_uar(cx.Uar(scscf.envelope(), impi, impu, DOMAIN))))
    assert uaa.answer.result == Result(2001, experimental=True)
    item = cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5)
    maa = cx.read_maa(scscf.send(cx.build_mar(cx.Mar(scscf.envelope(), impi, impu,
                                                     SCSCF_NAME, item, 1))))
    assert maa.answer.result == Result(2001)
    sar = cx.Sar(scscf.envelope(), SCSCF_NAME, cx.ServerAssignmentType.REGISTRATION, (impu,), impi)
    assert cx.read_saa(scscf.send(cx.build_sar(sar))).answer.result == Result(2001)


def ulr(mme: FakePeer, imsi: str) -> s6a.Ula:
    request = s6a.Ulr(Envelope(f"{mme.host};{next(_sessions)}", mme.host, EPC, EPC), imsi,
                      plmn_id("001", "01"))
    return s6a.read_ula(mme.send(s6a.build_ulr(request)))


def test_deregister_sends_rtr_to_the_registering_scscf(scscf: FakePeer, ports: Ports) -> None:
    imsi, impi = new_subscriber(ports)
    impu = f"sip:{imsi}@{DOMAIN}"
    register(scscf, impi, impu)
    before = len(scscf.received)
    status, document = rest(ports, "POST", f"/subscribers/{imsi}/deregister",
                            {"reason": "operator says so"})
    assert status == 200, document
    assert document["results"][0]["result_code"] == 2001
    rtr = cx.read_rtr(scscf.wait_for(before + 1)[before])
    assert rtr.envelope.destination_host == SCSCF_HOST
    assert rtr.envelope.origin_host == HSS
    assert (rtr.user_name, rtr.reason, rtr.reason_info) == (
        impi, cx.ReasonCode.PERMANENT_TERMINATION, "operator says so")
    assert set(rtr.public_identities) == set(document["results"][0]["impus"])
    assert impu in rtr.public_identities and len(rtr.public_identities) == 3
    again = cx.read_uaa(scscf.send(cx.build_uar(cx.Uar(scscf.envelope(), impi, impu, DOMAIN))))
    assert (again.answer.result, again.server_name) == (Result(2001, experimental=True), None)


def test_push_profile_sends_ppr_with_the_user_data(scscf: FakePeer, ports: Ports) -> None:
    imsi, impi = new_subscriber(ports)
    register(scscf, impi, f"sip:{imsi}@{DOMAIN}")
    before = len(scscf.received)
    status, document = rest(ports, "POST", f"/subscribers/{imsi}/push-profile")
    assert status == 200, document
    ppr = cx.read_ppr(scscf.wait_for(before + 1)[before])
    assert (ppr.user_name, ppr.envelope.destination_host) == (impi, SCSCF_HOST)
    assert ppr.user_data is not None
    profile = parse_ims_subscription(ppr.user_data)
    assert profile.private_id == impi
    identities = {i.identity for i in profile.service_profiles[0].public_identities}
    assert f"sip:{imsi}@{DOMAIN}" in identities and len(identities) == 3


def test_an_scscf_that_never_answers_is_a_502_not_a_hang(scscf: FakePeer, ports: Ports) -> None:
    imsi = f"00101{next(_imsis) + 8000000000:010d}"
    impi = f"mute{imsi}@{DOMAIN}"
    status, _ = rest(ports, "POST", "/subscribers",
                     {"imsi": imsi, "msisdn": f"3{imsi[-8:]}", "k": K, "opc": OPC, "impi": impi})
    assert status == 201
    register(scscf, impi, f"sip:{imsi}@{DOMAIN}")
    status, document = rest(ports, "POST", f"/subscribers/{imsi}/deregister")
    assert status == 502
    result = document["results"][0]
    assert result["ok"] is False and result["result_code"] is None
    assert f"no RTA from {SCSCF_HOST}" in result["detail"]


def test_ulr_from_a_second_mme_cancels_the_first(mmes: tuple[FakePeer, FakePeer],
                                                 ports: Ports) -> None:
    first, second = mmes
    imsi, _ = new_subscriber(ports)
    assert ulr(first, imsi).answer.result == Result(2001)
    before = len(first.received)
    assert ulr(second, imsi).answer.result == Result(2001)
    clr = s6a.read_clr(first.wait_for(before + 1)[before])
    assert (clr.user_name, clr.cancellation_type) == (imsi, s6a.CancellationType.MME_UPDATE_PROCEDURE)
    assert clr.envelope.destination_host == first.host
    assert all(s6a.read_clr(m).user_name != imsi for m in second.received
               if m.header.command_code == 317)


def test_eps_data_change_sends_idr_with_the_new_subscription(mmes: tuple[FakePeer, FakePeer],
                                                             ports: Ports) -> None:
    mme = mmes[0]
    imsi, _ = new_subscriber(ports)
    assert ulr(mme, imsi).answer.result == Result(2001)
    before = len(mme.received)
    status, document = rest(ports, "PATCH", f"/subscribers/{imsi}",
                            {"ambr_ul": 12345678, "ambr_dl": 87654321})
    assert status == 200, document
    (note,) = [n for n in document["notifications"] if n["action"] == "eps_data_changed"]
    assert (note["ok"], note["result_code"]) == (True, 2001)
    idr = s6a.read_idr(mme.wait_for(before + 1)[before])
    assert idr.user_name == imsi and idr.envelope.destination_host == mme.host
    assert idr.subscription.ambr == s6a.Ambr(12345678, 87654321)


def test_deleting_a_subscriber_sends_clr_withdrawal(mmes: tuple[FakePeer, FakePeer],
                                                    ports: Ports) -> None:
    mme = mmes[1]
    imsi, _ = new_subscriber(ports)
    assert ulr(mme, imsi).answer.result == Result(2001)
    before = len(mme.received)
    status, _ = rest(ports, "DELETE", f"/subscribers/{imsi}")
    assert status == 204
    clr = s6a.read_clr(mme.wait_for(before + 1)[before])
    assert (clr.user_name, clr.cancellation_type) == (
        imsi, s6a.CancellationType.SUBSCRIPTION_WITHDRAWAL)
    assert rest(ports, "GET", f"/subscribers/{imsi}")[0] == 404
