"""The S-CSCF registrar end to end: real HSS and S-CSCF (``ims-cli run``), Cx over TCP.

A minimal UE in the test talks UDP straight to the S-CSCF, sending what a
P-CSCF and I-CSCF would pass on (a Path header, the IMPI in Authorization),
answers the AKA challenge with the USIM functions of ``ims.auth`` and the
RFC 3310 digest, and checks 401, 200, 403, reg-event SUBSCRIBE/NOTIFY and
deregistration (TS 24.229 §5.4.1, §5.4.2). Every wait is bounded.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from imscore import CoreProcess, Ports

from ims.auth.aka import usim_check
from ims.auth.digest import digest_response, parse_aka_nonce
from ims.sip.headers.auth import Challenge, challenges
from ims.sip.message import Request, Response, make_response, parse_message

pytestmark = pytest.mark.e2e

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
TOKEN = "ims-lab-token-change-me"
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
PATH = f"<sip:term@pcscf.{DOMAIN}:5060;lr>"
REGINFO = "{urn:ietf:params:xml:ns:reginfo}"
WAIT = 20.0
_imsis = itertools.count(1)


def rest_post(ports: Ports, path: str, body: object) -> tuple[int, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports.rest}/api/v1{path}", data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return reply.status, json.loads(reply.read() or b"null")


def provision(ports: Ports) -> tuple[str, str, str]:
    """A fresh subscriber through the REST API: (IMPI, IMSI IMPU, tel IMPU)."""
    imsi = f"00101{next(_imsis) + 8100000000:010d}"
    msisdn = f"3{imsi[-8:]}"
    status, _ = rest_post(ports, "/subscribers",
                          {"imsi": imsi, "msisdn": msisdn, "k": K.hex(), "opc": OPC.hex()})
    assert status == 201
    return f"{imsi}@{DOMAIN}", f"sip:{imsi}@{DOMAIN}", f"tel:+{msisdn}"


class MiniUe:
    """Just enough of a UE (behind a P-CSCF) to register, subscribe and take NOTIFYs."""

    def __init__(self, scscf_port: int, impi: str, impu: str) -> None:
        self.target = ("127.0.0.1", scscf_port)
        self.impi, self.impu = impi, impu
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(1.0)
        self.port = int(self.sock.getsockname()[1])
        self.call_id = f"{uuid.uuid4().hex}@ue"
        self.cseq = 0
        self.notifies: list[Request] = []

    def close(self) -> None:
        self.sock.close()

    @property
    def contact(self) -> str:
        return f"sip:ue@127.0.0.1:{self.port}"

    def _head(self, method: str, uri: str, to: str, call_id: str) -> list[str]:
        self.cseq += 1
        return [f"{method} {uri} SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{uuid.uuid4().hex};rport",
                "Max-Forwards: 70", f"From: <{self.impu}>;tag=ue{self.port}", f"To: {to}",
                f"Call-ID: {call_id}", f"CSeq: {self.cseq} {method}",
                f"Contact: <{self.contact}>"]

    def register(self, expires: int = 600000, authorization: str | None = None) -> Response:
        lines = self._head("REGISTER", f"sip:{DOMAIN}", f"<{self.impu}>", self.call_id)
        lines += [f"Path: {PATH}", "Supported: path", f"Expires: {expires}",
                  "Authorization: " + (authorization or (
                      f'Digest username="{self.impi}", realm="{DOMAIN}", uri="sip:{DOMAIN}", '
                      'nonce="", response=""'))]
        return self.send(lines)

    def answer(self, challenge: Challenge, res: bytes) -> str:
        """The Authorization answering ``challenge`` with RES as password (RFC 3310 §3.3)."""
        uri, nonce = f"sip:{DOMAIN}", challenge.nonce or ""
        response = digest_response(self.impi, DOMAIN, res, "REGISTER", uri, nonce, "auth",
                                   "00000001", "0a4f113b")
        return (f'Digest username="{self.impi}", realm="{DOMAIN}", uri="{uri}", '
                f'nonce="{nonce}", response="{response}", algorithm=AKAv1-MD5, qop=auth, '
                'nc=00000001, cnonce="0a4f113b"')

    def subscribe(self) -> Response:
        lines = self._head("SUBSCRIBE", self.impu, f"<{self.impu}>", f"{uuid.uuid4().hex}@ue")
        lines += ["Event: reg", "Accept: application/reginfo+xml", "Expires: 600000",
                  f"P-Asserted-Identity: <{self.impu}>"]
        return self.send(lines)

    def send(self, lines: list[str]) -> Response:
        self.sock.sendto(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode(),
                         self.target)
        return self.final_response()

    def receive(self, deadline: float) -> Request | Response | None:
        """One message (NOTIFYs answered 200 and kept), None on a quiet second."""
        try:
            data, source = self.sock.recvfrom(65535)
        except TimeoutError:
            if time.monotonic() > deadline:
                raise AssertionError("no message from the S-CSCF in time") from None
            return None
        message = parse_message(data)
        if isinstance(message, Request):
            self.sock.sendto(make_response(message, 200, "OK").to_bytes(), source)
            if message.method == "NOTIFY":
                self.notifies.append(message)
        return message

    def final_response(self) -> Response:
        deadline = time.monotonic() + WAIT
        while True:
            message = self.receive(deadline)
            if isinstance(message, Response) and message.status >= 200:
                return message

    def wait_notifies(self, count: int) -> list[Request]:
        deadline = time.monotonic() + WAIT
        while len(self.notifies) < count:
            self.receive(deadline)
        return self.notifies

    def authenticate(self, expires: int = 600000) -> Response:
        """REGISTER -> 401 -> REGISTER with RES: the final response."""
        challenge = the_challenge(self.register(expires))
        return self.register(expires, self.answer(challenge, res_for(challenge)))


def the_challenge(resp: Response) -> Challenge:
    assert resp.status == 401, (resp.status, resp.reason)
    found = challenges(resp)
    assert len(found) == 1
    return found[0]


def res_for(challenge: Challenge) -> bytes:
    rand, autn, _ = parse_aka_nonce(challenge.nonce or "")
    result = usim_check(K, OPC, rand, autn, lambda sqn: True, sqn_ms=0)
    assert result.ok and result.res is not None, result.status
    return result.res


def contacts(notify: Request) -> list[tuple[str, str]]:
    """(state, event) of every contact in a NOTIFY's reginfo."""
    root = ET.fromstring(notify.body)
    return [(c.get("state", ""), c.get("event", ""))
            for c in root.iter(f"{REGINFO}contact")]


@pytest.fixture()
def ue(core: CoreProcess, ports: Ports) -> Iterator[MiniUe]:
    impi, impu, _ = provision(ports)
    client = MiniUe(ports.sip["scscf"], impi, impu)
    yield client
    client.close()


def test_first_register_is_challenged_with_aka(ue: MiniUe) -> None:
    challenge = the_challenge(ue.register())
    assert challenge.algorithm == "AKAv1-MD5"
    assert challenge.qop == ["auth"]
    assert challenge.realm == DOMAIN
    assert challenge.ik is not None and len(bytes.fromhex(challenge.ik)) == 16
    assert challenge.ck is not None and len(bytes.fromhex(challenge.ck)) == 16
    rand, autn, _ = parse_aka_nonce(challenge.nonce or "")
    assert len(rand) == 16 and len(autn) == 16


def test_register_with_res_gets_200(ue: MiniUe, ports: Ports) -> None:
    ok = ue.authenticate()
    assert ok.status == 200, ok.reason
    assert ok.get_all("path") == [PATH]
    assert ok.get_all("service-route") == [f"<sip:scscf.{DOMAIN}:{ports.sip['scscf']};lr;orig>"]
    associated = ok.get("p-associated-uri") or ""
    assert "tel:+" in associated and ue.impu not in associated  # the IMSI IMPU is barred
    assert ok.get_all("contact") == [f"<{ue.contact}>;expires=3600"]


def test_wrong_res_is_forbidden(ue: MiniUe) -> None:
    challenge = the_challenge(ue.register())
    wrong = bytes(8)
    resp = ue.register(authorization=ue.answer(challenge, wrong))
    assert resp.status == 403, resp.reason


def test_unknown_impi_is_forbidden(core: CoreProcess, ports: Ports) -> None:
    stranger = MiniUe(ports.sip["scscf"], f"001019999999999@{DOMAIN}",
                      f"sip:001019999999999@{DOMAIN}")
    try:
        resp = stranger.register()
    finally:
        stranger.close()
    assert resp.status == 403, resp.reason


def test_reg_event_then_deregistration(ue: MiniUe) -> None:
    assert ue.authenticate().status == 200
    accepted = ue.subscribe()
    assert accepted.status == 200, accepted.reason
    first = ue.wait_notifies(1)[0]
    assert first.get("event") == "reg"
    assert (first.get("subscription-state") or "").startswith("active")
    assert contacts(first) and all(state == "active" for state, _ in contacts(first))
    gone = ue.authenticate(expires=0)
    assert gone.status == 200, gone.reason
    assert gone.get_all("contact") == []
    last = ue.wait_notifies(2)[-1]
    assert (last.get("subscription-state") or "").startswith("terminated")
    assert ("terminated", "unregistered") in contacts(last)
    assert int(last.cseq.seq) == int(first.cseq.seq) + 1


def test_rest_deregister_sends_rtr_and_terminated_notify(ue: MiniUe, ports: Ports) -> None:
    assert ue.authenticate().status == 200
    assert ue.subscribe().status == 200
    ue.wait_notifies(1)
    imsi = ue.impi.split("@")[0]
    status, document = rest_post(ports, f"/subscribers/{imsi}/deregister", {"reason": "e2e"})
    assert status == 200, document
    last = ue.wait_notifies(2)[-1]
    assert (last.get("subscription-state") or "").startswith("terminated")
    assert ("terminated", "deactivated") in contacts(last)


def test_options_still_answered(core: CoreProcess, ports: Ports) -> None:
    from imscore import send_options

    resp, _ = send_options(ports.sip["scscf"], "udp")
    assert resp.status == 200
