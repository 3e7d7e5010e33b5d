"""Inside User-Mode Linux: the HSS's Diameter node over SCTP (RFC 6733 §2.1, RFC 4960).

The host kernel has no SCTP; the guest loads the ``sctp`` module, starts a
:class:`DiameterNode` with SCTP enabled on 127.0.0.1 and connects a
python-diameter client over SCTP: CER/CEA, then a Cx MAR answered.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from diameter.message import Message
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication

from ims.diameter import sctp
from ims.diameter.node import APP_CX, APP_S6A, APP_SH, DiameterNode, NodeSettings

REALM = "ims.mnc001.mcc001.3gppnetwork.org"
HSS = f"hss.{REALM}"
CLIENT = f"scscf.{REALM}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answer_mar(request: Message) -> Message:
    answer = request.to_answer()
    answer.session_id = request.session_id
    answer.auth_session_state = 1
    answer.origin_host = HSS.encode()
    answer.origin_realm = REALM.encode()
    answer.result_code = 2001
    return answer


@pytest.fixture(scope="module")
def sctp_module() -> None:
    subprocess.run(["modprobe", "sctp"], check=True)


@pytest.fixture()
def hss(sctp_module: None) -> Iterator[DiameterNode]:
    settings = NodeSettings(identity=HSS, realm=REALM, listen_host="127.0.0.1",
                            listen_port=free_port(), applications=(APP_CX, APP_SH, APP_S6A))
    node = DiameterNode(settings, {APP_CX: {303: answer_mar}})
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture()
def client(hss: DiameterNode) -> Iterator[tuple[Node, Any]]:
    node = Node(CLIENT, REALM, vendor_ids=[10415])
    node.wakeup_interval = 1
    peer = node.add_peer(f"aaa://{HSS}:{hss.settings.listen_port};transport=sctp", REALM,
                         ["127.0.0.1"], is_persistent=True)
    app = SimpleThreadingApplication(APP_CX, is_auth_application=True,
                                     request_handler=lambda app, message: None)
    node.add_application(app, [peer])
    node.start()
    try:
        yield node, app
    finally:
        node.stop(wait_timeout=5)


def test_kernel_and_pysctp_are_detected(sctp_module: None) -> None:
    found = sctp.detect()
    assert (found.kernel, found.library, found.describe()) == (True, True, "available")


def test_node_listens_on_tcp_and_sctp(hss: DiameterNode) -> None:
    port = hss.settings.listen_port
    assert hss.listening() == [f"tcp 127.0.0.1:{port}", f"sctp 127.0.0.1:{port}"]
    assert hss.status()["sctp"] == "listening"


def test_cer_cea_over_sctp_then_mar(hss: DiameterNode, client: tuple[Node, Any]) -> None:
    _, app = client
    app.wait_for_ready(20)
    (peer,) = hss.peers()
    assert (peer.host, peer.state, peer.transport, peer.applications) == (
        CLIENT, "ready", "sctp", ("Cx",))
    from ims.diameter import cx
    from ims.diameter.results import Envelope
    request = cx.build_mar(cx.Mar(Envelope(f"{CLIENT};1", CLIENT, REALM, REALM, HSS),
                                  f"001010000000001@{REALM}", f"sip:+10000001@{REALM}",
                                  f"sip:{CLIENT}:6060", cx.AuthDataItem(cx.AuthScheme.AKAV1_MD5),
                                  1))
    answer = app.send_request(request, timeout=10)
    assert answer.result_code == 2001
    assert hss.counters()['diameter_answers{command="CEA",result="2001"}'] == 1
    assert hss.counters()['diameter_answers{command="MAA",result="2001"}'] == 1
