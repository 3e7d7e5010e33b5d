"""reg-event on the UE side: SUBSCRIBE (TS 24.229 §5.1.1.3) and NOTIFY checks (RFC 3680)."""

from __future__ import annotations

import pytest
from ue_vectors import DOMAIN, IMPI, IMPU

from ims.sip.message import Request, build_request, make_response, parse_message
from ims.ue.register import UeState
from ims.ue.subscribe import (
    RegContact,
    ReginfoError,
    RegSubscription,
    build_subscribe,
    parse_reginfo,
)

UE = UeState(IMPI, IMPU, DOMAIN, "urn:uuid:00000000-0000-0000-0000-000000000001")
ROUTE = "<sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr>"

# RFC 3680 §5.4 (example document; the §6 flow's NOTIFYs have the same shape)
RFC3680_FULL = b"""<?xml version="1.0"?>
<reginfo xmlns="urn:ietf:params:xml:ns:reginfo"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         version="0" state="full">
  <registration aor="sip:user@example.com" id="as9"
                state="active">
    <contact id="76" state="active" event="registered"
             duration-registered="7322"
             q="0.8">
      <uri>sip:user@pc887.example.com</uri>
    </contact>
    <contact id="77" state="terminated" event="expired"
             duration-registered="3600">
      <uri>sip:user@university.edu</uri>
    </contact>
  </registration>
</reginfo>
"""


def reginfo(version: int, state: str = "active", expires: int = 3600) -> bytes:
    return (f'<?xml version="1.0"?><reginfo xmlns="urn:ietf:params:xml:ns:reginfo" '
            f'version="{version}" state="full"><registration aor="{IMPU}" id="r1" '
            f'state="{state}"><contact id="c1" state="{state}" event="registered" '
            f'expires="{expires}"><uri>sip:ue@127.0.0.1:5070</uri></contact>'
            f'</registration></reginfo>').encode()


def notify(cseq: int, body: bytes, *, from_tag: str = "srv", to_tag: str = "ue1",
           call_id: str = "sub-1", state: str = "active;expires=600000") -> Request:
    return build_request("NOTIFY", "sip:ue@127.0.0.1:5070", [
        ("Via", "SIP/2.0/UDP 127.0.0.1:6060;branch=z9hG4bKn" + str(cseq)),
        ("From", f"<{IMPU}>;tag={from_tag}"), ("To", f"<{IMPU}>;tag={to_tag}"),
        ("Call-ID", call_id), ("CSeq", f"{cseq} NOTIFY"), ("Event", "reg"),
        ("Subscription-State", state), ("Content-Type", "application/reginfo+xml"),
    ], body)


def test_parse_rfc3680_example() -> None:
    info = parse_reginfo(RFC3680_FULL)
    assert (info.version, info.state) == (0, "full")
    reg = info.registration("sip:user@example.com")
    assert reg is not None and (reg.id, reg.state) == ("as9", "active")
    assert reg.contacts == (
        RegContact("76", "active", "registered", "sip:user@pc887.example.com"),
        RegContact("77", "terminated", "expired", "sip:user@university.edu"),
    )


@pytest.mark.parametrize("body", [
    b"not xml", b"<reginfo version='0' state='full'/>",
    b'<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" state="full"/>',
    b'<reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="x" state="full"/>',
])
def test_bad_reginfo_is_rejected(body: bytes) -> None:
    with pytest.raises(ReginfoError):
        parse_reginfo(body)


def test_subscribe_has_the_fields_of_24229_5_1_1_3() -> None:
    req = parse_message(build_subscribe(
        UE, service_routes=(ROUTE,), call_id="sub-1", from_tag="ue1", cseq=1,
        branch="z9hG4bKs1", contact="sip:ue@127.0.0.1:5070", transport="udp",
        host="127.0.0.1", port=5070).to_bytes())
    assert isinstance(req, Request)
    assert (req.method, str(req.uri)) == ("SUBSCRIBE", IMPU)
    assert (str(req.from_.uri), req.from_.tag, str(req.to.uri), req.to.tag) == (IMPU, "ue1", IMPU, None)
    assert [str(r) for r in req.routes] == [ROUTE]
    assert (req.get("event"), req.get("accept"), req.expires) == ("reg", "application/reginfo+xml", 600000)
    assert str(req.contacts[0].uri) == "sip:ue@127.0.0.1:5070"


def test_notifies_in_dialog_with_increasing_version_are_accepted() -> None:
    sub = RegSubscription("sub-1", "ue1")
    subscribe = build_subscribe(
        UE, service_routes=(), call_id="sub-1", from_tag="ue1", cseq=1, branch="z9hG4bKs1",
        contact="sip:ue@127.0.0.1:5070", transport="udp", host="127.0.0.1", port=5070)
    ok = make_response(subscribe, 200, to_tag="srv",
                       headers=[("Record-Route", "<sip:pcscf@127.0.0.1:5060;lr>"),
                                ("Expires", "600000")])
    sub.on_response(ok)
    assert (sub.remote_tag, sub.route_set, sub.expires) == (
        "srv", ("<sip:pcscf@127.0.0.1:5060;lr>",), 600000)
    assert sub.on_notify(notify(1, reginfo(0), from_tag="intruder")).status == 481
    outcome = sub.on_notify(notify(1, reginfo(0)))
    assert (outcome.status, outcome.problems, outcome.terminated) == (200, (), False)
    assert outcome.reginfo is not None and outcome.reginfo.registrations[0].contacts[0].expires == 3600
    gone = sub.on_notify(notify(2, reginfo(1, "terminated", 0), state="terminated;reason=deactivated"))
    assert (gone.status, gone.problems, gone.terminated) == (200, (), True)
    assert sub.version == 1 and len(sub.notifies) == 2


def test_version_gap_is_reported_but_answered_200() -> None:
    sub = RegSubscription("sub-1", "ue1")
    sub.on_notify(notify(1, reginfo(0)))
    outcome = sub.on_notify(notify(2, reginfo(2)))
    assert outcome.status == 200
    assert outcome.problems == ("reginfo version 2 after 0 (expected 1, RFC 3680 §5.2.1)",)


def test_out_of_dialog_old_cseq_and_bad_body_get_errors() -> None:
    sub = RegSubscription("sub-1", "ue1")
    assert sub.on_notify(notify(5, reginfo(0))).status == 200
    assert sub.on_notify(notify(6, reginfo(1), call_id="other")).status == 481
    assert sub.on_notify(notify(6, reginfo(1), to_tag="nope")).status == 481
    assert sub.on_notify(notify(6, reginfo(1), from_tag="someone-else")).status == 481
    assert (sub.on_notify(notify(5, reginfo(1))).status,
            sub.on_notify(notify(5, reginfo(1))).reason) == (500, "CSeq Out of Order")
    bad = sub.on_notify(notify(7, b"<oops"))
    assert bad.status == 400 and bad.reason.startswith("Bad reginfo")
