"""The P-CSCF's reg-event subscription (RFC 3680, TS 24.229 §5.2.3): pure parts.

After each initial registration the P-CSCF subscribes to the ``reg`` event
of the UE's default IMPU at the S-CSCF (TS 24.229 §5.2.3); a NOTIFY whose
reginfo (RFC 3680 §5.3) shows a registration ``terminated`` makes it drop
that UE's cached registration (network-initiated deregistration, §5.2.3).
Subscription refresh is not done yet: the subscription lasts as long as the
registration it was made for.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ims.sip.errors import SipError
from ims.sip.message import Request, Response, build_request, make_response
from ims.sip.uri import parse_uri

from .registrar import Registration

REGINFO = "application/reginfo+xml"
_NS = "{urn:ietf:params:xml:ns:reginfo}"


def build_subscribe(reg: Registration, local: str, via: str, call_id: str, tag: str,
                    expires: int) -> Request:
    """The SUBSCRIBE to reg for ``reg``'s default IMPU (TS 24.229 §5.2.3).

    Args:
        reg: the registration just cached.
        local: our SIP URI (From, Contact, P-Asserted-Identity).
        via: our Via value with a fresh branch.
        call_id: a new Call-ID.
        tag: our From tag.
        expires: subscription length, at least the registration's.
    """
    default = reg.default_impu
    impu = str(default.uri) if default is not None else reg.registered_impu
    headers = [("Via", via), ("Max-Forwards", "70")]
    headers += [("Route", route) for route in reg.service_route]
    headers += [
        ("From", f"<{local}>;tag={tag}"), ("To", f"<{impu}>"), ("Call-ID", call_id),
        ("CSeq", "1 SUBSCRIBE"), ("Event", "reg"), ("Accept", REGINFO),
        ("Expires", str(expires)), ("Contact", f"<{local}>"),
        ("P-Asserted-Identity", f"<{local}>"), ("Content-Length", "0"),
    ]
    return build_request("SUBSCRIBE", impu, headers)


def is_reg_notify(req: Request) -> bool:
    """A NOTIFY of the reg event package (RFC 3680 §5)."""
    event = (req.get("event") or "").split(";")[0].strip().lower()
    return req.method == "NOTIFY" and event == "reg"


def terminated_aors(body: bytes) -> list[str]:
    """The AORs whose ``<registration>`` is ``terminated`` in a reginfo document (RFC 3680 §5.3).

    Raises:
        SipError: 400 when the body is not reginfo XML.
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as err:
        raise SipError(f"Bad reginfo body: {err}", 400) from err
    found = []
    for registration in root.iter(f"{_NS}registration"):
        if registration.get("state") == "terminated" and registration.get("aor"):
            found.append(str(registration.get("aor")))
    return found


def notify_response(req: Request) -> tuple[Response, list[str]]:
    """200 for a reg NOTIFY, with the AORs to drop (TS 24.229 §5.2.3).

    Raises:
        SipError: 400 for a body that is not reginfo XML or names a bad AOR.
    """
    aors = terminated_aors(req.body) if req.body else []
    for aor in aors:
        parse_uri(aor)
    return make_response(req, 200), aors
