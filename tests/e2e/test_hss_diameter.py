"""The HSS answering Cx and S6a over real TCP from its SQLite store (TS 29.229, TS 29.272).

``ims-cli run`` starts the core on free ports; the HSS provisions its demo
subscriber (IMSI 001010000000001, TS 35.208 test set 1 keys) into an empty
store. A python-diameter Node acts as S-CSCF/I-CSCF and as MME.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from diameter.message import Message
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication
from imscore import CHARGING_CCF, CoreProcess, Ports

from ims.auth.aka import AMF_SEPARATION_BIT, plmn_id, usim_check
from ims.diameter import cx, s6a
from ims.diameter.results import Envelope, Result
from ims.diameter.userdata import parse_ims_subscription

pytestmark = pytest.mark.e2e

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
HSS = f"hss.{DOMAIN}"
IMSI = "001010000000001"
IMPI = f"{IMSI}@{DOMAIN}"
IMPU = f"sip:+10000001@{DOMAIN}"
BARRED = f"sip:{IMSI}@{DOMAIN}"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
CLIENT = "e2e-cx.test.example"
CLIENT_REALM = "test.example"
SCSCF = f"sip:scscf.{DOMAIN}:6060"
_sessions = itertools.count(1)


class Peer:
    """A python-diameter client node with Cx and S6a applications routed to the HSS."""

    def __init__(self, port: int) -> None:
        self.node = Node(CLIENT, CLIENT_REALM, vendor_ids=[10415])
        self.node.wakeup_interval = 1
        peer = self.node.add_peer(f"aaa://{HSS}:{port};transport=tcp", DOMAIN, ["127.0.0.1"],
                                  is_persistent=True)
        self.apps: dict[int, Any] = {}
        for app_id in (16777216, 16777251):
            app = SimpleThreadingApplication(app_id, is_auth_application=True,
                                             request_handler=lambda app, message: None)
            self.node.add_application(app, [peer])
            self.apps[app_id] = app

    def send(self, message: Message) -> Message:
        app = self.apps[message.header.application_id]
        app.wait_for_ready(30)
        answer: Message = app.send_request(message, timeout=10)
        return answer


@pytest.fixture(scope="module")
def peer(core: CoreProcess, ports: Ports) -> Iterator[Peer]:
    client = Peer(ports.diameter)
    client.node.start()
    try:
        yield client
    finally:
        client.node.stop(wait_timeout=10)


def envelope() -> Envelope:
    return Envelope(f"{CLIENT};{next(_sessions)}", CLIENT, CLIENT_REALM, DOMAIN)


def exp(code: int) -> Result:
    return Result(code, experimental=True)


def test_uar_for_the_demo_user_is_first_registration(peer: Peer) -> None:
    request = cx.Uar(envelope(), IMPI, IMPU, DOMAIN)
    answer = cx.read_uaa(peer.send(cx.build_uar(request)))
    assert answer.answer.result == exp(2001)
    assert answer.answer.origin_host == HSS
    assert answer.answer.session_id == request.envelope.session_id
    assert answer.server_capabilities == cx.ServerCapabilities()


def test_mar_vector_validates_on_the_usim(peer: Peer) -> None:
    request = cx.Mar(envelope(), IMPI, IMPU, SCSCF, cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5), 2)
    answer = cx.read_maa(peer.send(cx.build_mar(request)))
    assert answer.answer.result == Result(2001)
    assert (answer.number_auth_items, len(answer.auth_items)) == (2, 2)
    item = answer.auth_items[0]
    assert item.scheme == "Digest-AKAv1-MD5" and item.rand and item.autn
    usim = usim_check(K, OPC, item.rand, item.autn, 0)
    assert usim.ok
    assert usim.res == item.authorization
    assert (usim.ck, usim.ik) == (item.confidentiality_key, item.integrity_key)


def test_sar_registration_returns_user_data_non_barred_first(peer: Peer) -> None:
    request = cx.Sar(envelope(), SCSCF, cx.ServerAssignmentType.REGISTRATION, (BARRED,), IMPI)
    answer = cx.read_saa(peer.send(cx.build_sar(request)))
    assert (answer.answer.result, answer.user_name) == (Result(2001), IMPI)
    assert answer.charging_information == cx.ChargingInformation(primary_ccf=CHARGING_CCF)
    assert answer.user_data is not None
    profile = parse_ims_subscription(answer.user_data)
    assert profile.private_id == IMPI
    identities = profile.service_profiles[0].public_identities
    assert not identities[0].barred
    assert {(i.identity, i.barred) for i in identities} == {
        (BARRED, True), (IMPU, False), ("tel:+10000001", False)}
    again = cx.read_uaa(peer.send(cx.build_uar(cx.Uar(envelope(), IMPI, IMPU, DOMAIN))))
    assert (again.answer.result, again.server_name) == (exp(2002), SCSCF)
    located = cx.read_lia(peer.send(cx.build_lir(cx.Lir(envelope(), "tel:+10000001"))))
    assert (located.answer.result, located.server_name) == (Result(2001), SCSCF)


def test_unknown_user_is_experimental_5001(peer: Peer) -> None:
    request = cx.Uar(envelope(), f"nobody@{DOMAIN}", f"sip:nobody@{DOMAIN}", DOMAIN)
    answer = cx.read_uaa(peer.send(cx.build_uar(request)))
    assert answer.answer.result == exp(5001)


def test_missing_mandatory_avp_is_5005(peer: Peer) -> None:
    message = cx.build_uar(cx.Uar(envelope(), IMPI, IMPU, DOMAIN))
    message.public_identity = None
    answer = peer.send(message)
    assert answer.result_code == 5005


def test_air_returns_an_eutran_vector_with_the_separation_bit(peer: Peer) -> None:
    request = s6a.Air(envelope(), IMSI, plmn_id("001", "01"))
    answer = s6a.read_aia(peer.send(s6a.build_air(request)))
    assert answer.answer.result == Result(2001)
    (vector,) = answer.vectors
    assert vector.autn[6] & AMF_SEPARATION_BIT
    assert len(vector.kasme) == 32
    usim = usim_check(K, OPC, vector.rand, vector.autn, 0, require_separation_bit=True)
    assert usim.ok and usim.res == vector.xres


def test_ulr_returns_subscription_data_with_the_ims_apn(peer: Peer, core: CoreProcess) -> None:
    request = s6a.Ulr(envelope(), IMSI, plmn_id("001", "01"))
    answer = s6a.read_ula(peer.send(s6a.build_ulr(request)))
    assert answer.answer.result == Result(2001)
    data = answer.subscription
    assert data is not None and data.apn_profile is not None
    assert data.msisdn == "10000001"
    apns = {apn.apn: apn.qos.qci for apn in data.apn_profile.configurations}
    assert apns == {"internet": 9, "ims": 5}
    hss = core.process_status("hss")
    assert hss["store"]["subscribers"] == 1
    assert hss["counters"]["diameter_rx_ulr"] >= 1
