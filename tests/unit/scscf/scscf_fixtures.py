"""Shared values for the S-CSCF unit tests (no __init__.py here: see the brief)."""

from __future__ import annotations

from ims.auth.aka import AuthVector, generate_vector
from ims.auth.digest import digest_response
from ims.diameter.cx import AuthDataItem, aka_item
from ims.diameter.userdata import (
    IMSSubscription,
    PublicIdentity,
    ServiceProfile,
    build_ims_subscription,
)
from ims.sip.message import Request, build_request

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMPI = f"001010000000001@{DOMAIN}"
IMPU_IMSI = f"sip:001010000000001@{DOMAIN}"
IMPU_TEL = "tel:+15550001"
IMPU_SIP = f"sip:+15550001@{DOMAIN}"
PCSCF_PATH = f"<sip:term@pcscf.{DOMAIN}:5060;lr>"
UE_CONTACT = "sip:001010000000001@10.45.0.2:5060"

# TS 35.208 v4.3 §4.3 test set 1 (also tests/vectors/ts35208).
K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
SQN = bytes.fromhex("ff9bb4d0b607")
AMF = bytes.fromhex("b9b9")


def vector() -> AuthVector:
    return generate_vector(K, OPC, AMF, SQN, RAND)


def item() -> AuthDataItem:
    v = vector()
    return aka_item(1, v.rand, v.autn, v.xres, v.ck, v.ik)


def user_data(barred_all: bool = False) -> str:
    ids = (
        PublicIdentity(IMPU_IMSI, barred=True),
        PublicIdentity(IMPU_SIP),
        PublicIdentity(IMPU_TEL),
    )
    xml = build_ims_subscription(IMSSubscription(IMPI, (ServiceProfile(ids),)))
    if barred_all:  # the builder refuses this on purpose; an HSS may still send it
        xml = xml.replace("<BarringIndication>0<", "<BarringIndication>1<")
    return xml


def ue_authorization(nonce: str, res: bytes | None, *, username: str = IMPI,
                     auts: str | None = None, split: bool = False) -> list[tuple[str, str]]:
    """Authorization line(s) as a UE sends them; ``split`` mimics the Pixel."""
    uri = f"sip:{DOMAIN}"
    response = "" if res is None else digest_response(
        username, DOMAIN, res, "REGISTER", uri, nonce, "auth", "00000001", "0a4f113b")
    head = (f'Digest username="{username}", realm="{DOMAIN}", uri="{uri}", '
            f'nonce="{nonce}", response="{response}", algorithm=AKAv1-MD5, qop=auth')
    tail = 'nc=00000001, cnonce="0a4f113b"'
    if auts is not None:
        tail += f', auts="{auts}"'
    if split:
        return [("Authorization", head), ("Authorization", tail)]
    return [("Authorization", f"{head}, {tail}")]


def register(
    *, impu: str = IMPU_IMSI, contacts: list[str] | None = None, expires: int | None = 600000,
    auth: list[tuple[str, str]] | None = None, cseq: int = 1, call_id: str = "reg-1",
) -> Request:
    """A REGISTER as the S-CSCF sees it (after P-CSCF and I-CSCF)."""
    headers = [
        ("Via", "SIP/2.0/UDP icscf.ims:4060;branch=z9hG4bKi1"),
        ("Via", f"SIP/2.0/UDP pcscf.{DOMAIN}:5060;branch=z9hG4bKp1"),
        ("Via", "SIP/2.0/UDP 10.45.0.2:5060;received=10.45.0.2;rport=5062;branch=z9hG4bKu1"),
        ("Max-Forwards", "68"), ("Path", PCSCF_PATH),
        ("From", f"<{impu}>;tag=ue1"), ("To", f"<{impu}>"),
        ("Call-ID", call_id), ("CSeq", f"{cseq} REGISTER"),
    ]
    for contact in [f"<{UE_CONTACT}>"] if contacts is None else contacts:
        headers.append(("Contact", contact))
    if expires is not None:
        headers.append(("Expires", str(expires)))
    headers += auth or [("Authorization", f'Digest username="{IMPI}", realm="{DOMAIN}", '
                         f'uri="sip:{DOMAIN}", nonce="", response=""')]
    return build_request("REGISTER", f"sip:{DOMAIN}", headers)
