"""Parsed SIP messages for the P-CSCF unit tests (no __init__.py here: see the brief)."""

from __future__ import annotations

from ims.sip.events import Peer
from ims.sip.message import Request, Response, parse_message

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMPI = f"001010000000001@{DOMAIN}"
IMPU_IMSI = f"sip:001010000000001@{DOMAIN}"
IMPU_SIP = f"sip:+15550001@{DOMAIN}"
IMPU_TEL = "tel:+15550001"
CONTACT = "sip:001010000000001@10.45.0.2:5062"
SERVICE_ROUTE = f"<sip:orig@scscf.{DOMAIN}:6060;lr>"
UE = Peer("udp", "10.45.0.2", 5062)


def _parse(lines: list[str], body: str = "") -> Request | Response:
    text = "\r\n".join(lines + [f"Content-Length: {len(body)}", "", body])
    return parse_message(text.encode())


def register(*, expires: int = 600000, extra: tuple[str, ...] = (),
             contact: str | None = None) -> Request:
    msg = _parse([
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/UDP 10.45.0.2:5062;rport;branch=z9hG4bKue1",
        "Max-Forwards: 70",
        f"From: <{IMPU_IMSI}>;tag=ue1",
        f"To: <{IMPU_IMSI}>",
        "Call-ID: reg-1@10.45.0.2",
        "CSeq: 1 REGISTER",
        contact or f'Contact: <{CONTACT}>;+sip.instance="<urn:gsma:imei:35-1>"',
        f"Expires: {expires}",
        f'Authorization: Digest username="{IMPI}", realm="{DOMAIN}", uri="sip:{DOMAIN}", '
        'nonce="", response=""',
        *extra,
    ])
    assert isinstance(msg, Request)
    return msg


def ok(req: Request, *, expires: int = 3600, others: tuple[str, ...] = ()) -> Response:
    contacts = [f"Contact: <{CONTACT}>;expires={expires}"] + [f"Contact: <{o}>;expires=90"
                                                                 for o in others]
    msg = _parse([
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 10.45.0.2:5062;rport;branch=z9hG4bKue1",
        f"From: <{IMPU_IMSI}>;tag=ue1",
        f"To: <{IMPU_IMSI}>;tag=s1",
        f"Call-ID: {req.call_id}",
        f"CSeq: {req.cseq.seq} REGISTER",
        *contacts,
        f"Service-Route: {SERVICE_ROUTE}",
        f"P-Associated-URI: <{IMPU_SIP}>, <{IMPU_TEL}>",
        f"Path: <sip:term@pcscf.{DOMAIN}:5060;lr>",
    ])
    assert isinstance(msg, Response)
    return msg


def challenge(ik: str = "00112233445566778899aabbccddeeff") -> Response:
    msg = _parse([
        "SIP/2.0 401 Unauthorized",
        "Via: SIP/2.0/UDP 10.45.0.2:5062;rport;branch=z9hG4bKue1",
        f"From: <{IMPU_IMSI}>;tag=ue1",
        f"To: <{IMPU_IMSI}>;tag=s1",
        "Call-ID: reg-1@10.45.0.2",
        "CSeq: 1 REGISTER",
        f'WWW-Authenticate: Digest realm="{DOMAIN}", nonce="I1VTvpY3qJ0hiuZNrke/NQ==", '
        f'algorithm=AKAv1-MD5, qop="auth", ik="{ik}", '
        'ck="ffeeddccbbaa99887766554433221100"',
    ])
    assert isinstance(msg, Response)
    return msg


def invite(uri: str = "tel:+15550002", *, extra: tuple[str, ...] = (),
           to_tag: str = "") -> Request:
    msg = _parse([
        f"INVITE {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 10.45.0.2:5062;rport;branch=z9hG4bKinv1",
        "Max-Forwards: 70",
        f"From: <{IMPU_SIP}>;tag=c1",
        f"To: <{uri}>{';tag=' + to_tag if to_tag else ''}",
        "Call-ID: call-1@10.45.0.2",
        "CSeq: 1 INVITE",
        f"Contact: <{CONTACT}>",
        *extra,
    ])
    assert isinstance(msg, Request)
    return msg
