"""Network-side helpers for the UE tests: the S-CSCF's 401 and 200 (TS 24.229 §5.4.1.2)."""

from __future__ import annotations

import asyncio
import os

from ue_vectors import AMF, DOMAIN, IMPU, OPC, SQN, K

from ims.auth.aka import AuthVector, generate_vector, resync
from ims.auth.digest import aka_nonce, digest_response, parse_auts_param
from ims.sip.events import Peer
from ims.sip.headers.auth import Challenge, Credentials, credentials
from ims.sip.message import Request, Response, build_request, make_response
from ims.transport.config import ListenSpec
from ims.transport.stack import ServerTransactionHandle, SipStack

GRANTED = 3600
IMPUS = (IMPU, "tel:+15550001")
SERVICE_ROUTE = "<sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr>"


def challenge_401(req: Request, vector: AuthVector, realm: str) -> Response:
    """401 with nonce = base64(RAND || AUTN), AKAv1-MD5, qop="auth" (TS 24.229 §5.4.1.2.1)."""
    challenge = Challenge(realm=realm, nonce=aka_nonce(vector.rand, vector.autn),
                          algorithm="AKAv1-MD5", qop=["auth"])
    return make_response(req, 401, to_tag="reg1", headers=[("WWW-Authenticate", str(challenge))])


def expected_response(cred: Credentials, password: bytes | str, method: str = "REGISTER") -> str:
    """What a registrar computes for ``cred`` with ``password`` (XRES, or b"" on resync)."""
    return digest_response(
        cred.username or "", cred.realm or "", password, method, cred.uri or "",
        cred.nonce or "", cred.qop, cred.nc, cred.cnonce, cred.algorithm or "MD5",
    )


def only_credentials(req: Request) -> Credentials:
    (cred,) = credentials(req)
    return cred


def ok_200(req: Request, expires: int, impus: tuple[str, ...]) -> Response:
    """200 OK: our contact with its granted expiry, Service-Route, P-Associated-URI."""
    contact = f"{req.get('contact')}".split(";expires=")[0] + f";expires={expires}"
    headers = [("Contact", contact), ("Service-Route", SERVICE_ROUTE),
               ("P-Associated-URI", ", ".join(f"<{uri}>" for uri in impus))]
    return make_response(req, 200, to_tag="reg1", headers=headers)


class Registrar:
    """TU of the in-test registrar (one vector per IMPI, SQN advanced per challenge)."""

    def __init__(self) -> None:
        self.stack = SipStack(self, [ListenSpec("udp", "127.0.0.1", 0),
                                     ListenSpec("tcp", "127.0.0.1", 0)])
        self.sqn: dict[str, int] = {}
        self.vectors: dict[str, AuthVector] = {}
        self.requests: list[tuple[Request, Peer]] = []
        self.notify_results: list[object] = []

    def address(self, transport: str) -> tuple[str, int]:
        return self.stack.transport.local_address(transport)

    def on_request(self, req: Request, txn: ServerTransactionHandle) -> None:
        self.requests.append((req, txn.peer))
        if req.method == "REGISTER":
            self.stack.send_response(txn, self._register(req))
        elif req.method == "SUBSCRIBE":
            self.stack.send_response(txn, make_response(req, 200, to_tag="srv",
                                                        headers=[("Expires", "600000")]))
            asyncio.get_running_loop().create_task(self._notify(req, txn.peer))
        else:
            self.stack.send_response(txn, make_response(req, 200, to_tag="srv"))

    def _register(self, req: Request) -> Response:
        cred = only_credentials(req)
        impi = cred.username or ""
        if req.expires == 0:
            return make_response(req, 200, to_tag="srv")
        vector = self.vectors.pop(impi, None)
        if cred.auts:
            sqn_ms = resync(K, OPC, vector.rand if vector else b"", parse_auts_param(cred.auts))
            assert sqn_ms is not None and cred.response == expected_response(cred, b"")
            self.sqn[impi] = sqn_ms
        elif vector is not None:
            if cred.response == expected_response(cred, vector.xres):
                return ok_200(req, GRANTED, IMPUS)
            return make_response(req, 403, "Forbidden - authentication failed", to_tag="srv")
        self.sqn[impi] = self.sqn.get(impi, SQN) + 32
        fresh = generate_vector(K, OPC, AMF, self.sqn[impi], os.urandom(16))
        self.vectors[impi] = fresh
        return challenge_401(req, fresh, DOMAIN)

    async def _notify(self, sub: Request, peer: Peer) -> None:
        contact = sub.contacts[0].uri
        transport = "tcp" if ";transport=tcp" in str(contact) else "udp"
        host, port = self.address(transport)
        body = (f'<?xml version="1.0"?><reginfo xmlns="urn:ietf:params:xml:ns:reginfo" '
                f'version="0" state="full"><registration aor="{IMPU}" id="r1" state="active">'
                f'<contact id="c1" state="active" event="registered" expires="{GRANTED}">'
                f'<uri>{contact}</uri></contact></registration></reginfo>').encode()
        notify = build_request("NOTIFY", str(contact), [
            ("Via", f"SIP/2.0/{transport.upper()} {host}:{port};branch=z9hG4bKnotify1"),
            ("Max-Forwards", "70"), ("From", f"<{IMPU}>;tag=srv"),
            ("To", f"{sub.get('from')}"), ("Call-ID", sub.call_id), ("CSeq", "1 NOTIFY"),
            ("Event", "reg"), ("Subscription-State", "active;expires=600000"),
            ("Contact", f"<sip:registrar@{host}:{port}>"),
            ("Content-Type", "application/reginfo+xml"),
        ], body)
        target = Peer(transport, contact.host, contact.port or 5060)  # type: ignore[union-attr]
        self.notify_results.append(await self.stack.send_request(notify, target))

    def on_ack(self, ack: Request, peer: Peer) -> None:
        pass

    def on_cancel(self, cancel: Request, invite_txn: ServerTransactionHandle) -> None:
        pass

    def on_stray_response(self, resp: Response, peer: Peer) -> None:
        pass
