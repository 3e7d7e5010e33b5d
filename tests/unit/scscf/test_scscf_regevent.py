"""scscf.regevent: SUBSCRIBE handling, reginfo XML and in-dialog NOTIFYs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from scscf_fixtures import DOMAIN, IMPI, IMPU_IMSI, IMPU_SIP, IMPU_TEL, user_data

from ims.diameter.userdata import parse_ims_subscription
from ims.sip.message import Request, build_request, parse_message
from scscf.bindings import Binding, Registration, RegState
from scscf.regevent import (
    REGINFO_NS,
    RegEventConfig,
    SubscriptionTable,
    build_reginfo,
    build_subscribe_response,
    handle_subscribe,
    notify_registration,
)

NS = {"r": REGINFO_NS}
CONFIG = RegEventConfig()
NOW = 1000.0
PCSCF_PATH = f"<sip:term@pcscf.{DOMAIN}:5060;lr>"
UE = "sip:001010000000001@10.45.0.2:5060"


def _record(now: float = NOW) -> Registration:
    binding = Binding(UE, now + 3600, "reg-1", 2, path=(PCSCF_PATH,), pcscf=PCSCF_PATH)
    return Registration(IMPI, (IMPU_SIP, IMPU_IMSI, IMPU_TEL), RegState.REGISTERED, [binding],
                        user_data(), parse_ims_subscription(user_data()))


def _subscribe(target: str = IMPU_TEL, asserted: str = IMPU_SIP, expires: int = 600000,
               to_tag: str | None = None, cseq: int = 1) -> Request:
    to = f"<{target}>" + (f";tag={to_tag}" if to_tag else "")
    return build_request("SUBSCRIBE", target, [
        ("Via", f"SIP/2.0/UDP pcscf.{DOMAIN}:5060;branch=z9hG4bKs1"),
        ("Record-Route", f"<sip:mo@pcscf.{DOMAIN}:5060;lr>"),
        ("Record-Route", f"<sip:orig@scscf2.{DOMAIN};lr>"),
        ("From", f"<{IMPU_SIP}>;tag=ue-tag"), ("To", to), ("Call-ID", "sub-1"),
        ("CSeq", f"{cseq} SUBSCRIBE"), ("Contact", f"<{UE};transport=udp>"),
        ("P-Asserted-Identity", f"<{asserted}>"), ("Event", "reg"),
        ("Accept", "application/reginfo+xml"), ("Expires", str(expires)),
    ])


def test_subscribe_accepted_for_tel_form_and_200_carries_our_tag() -> None:
    req = _subscribe()
    decision = handle_subscribe(_record(), req, NOW, CONFIG, "s-tag")
    assert decision.status == 200 and decision.subscription is not None
    resp = build_subscribe_response(req, decision)
    assert resp.to.tag == "s-tag" and resp.get("expires") == "600000"
    assert decision.notify_state == "active;expires=600000"
    sub = decision.subscription
    assert sub.route_set == (f"<sip:mo@pcscf.{DOMAIN}:5060;lr>", f"<sip:orig@scscf2.{DOMAIN};lr>")
    assert sub.remote_target == f"{UE};transport=udp" and sub.remote_tag == "ue-tag"


def test_pcscf_may_subscribe_others_forbidden() -> None:
    record = _record()
    pcscf = handle_subscribe(record, _subscribe(IMPU_SIP, f"sip:pcscf.{DOMAIN}"), NOW, CONFIG, "a")
    assert pcscf.status == 200
    stranger = handle_subscribe(record, _subscribe(IMPU_SIP, f"sip:eve@{DOMAIN}"), NOW, CONFIG, "b")
    assert stranger.status == 403
    other = handle_subscribe(record, _subscribe(f"sip:bob@{DOMAIN}"), NOW, CONFIG, "c")
    assert other.status == 403
    assert handle_subscribe(None, _subscribe(), NOW, CONFIG, "d").status == 403


def test_wrong_event_is_489() -> None:
    req = _subscribe()
    req.set("Event", "presence")
    assert handle_subscribe(_record(), req, NOW, CONFIG, "t").status == 489


def test_notify_is_in_dialog_and_versions_increase() -> None:
    record = _record()
    sub = handle_subscribe(record, _subscribe(), NOW, CONFIG, "s-tag").subscription
    assert sub is not None
    first, sub = notify_registration(sub, record, NOW + 10)
    second, sub = notify_registration(sub, record, NOW + 20)
    wire = parse_message(first.to_bytes())
    assert isinstance(wire, Request) and wire.method == "NOTIFY"
    assert str(wire.uri) == f"{UE};transport=udp"
    assert str(wire.to.uri) == IMPU_SIP and wire.to.tag == "ue-tag"
    assert str(wire.from_.uri) == IMPU_TEL and wire.from_.tag == "s-tag"
    assert wire.call_id == "sub-1"
    assert [str(r) for r in wire.routes] == list(sub.route_set)
    assert (wire.cseq.seq, second.cseq.seq) == (1, 2)
    assert wire.get("event") == "reg"
    assert wire.get("subscription-state") == "active;expires=599990"
    assert wire.get("content-type") == "application/reginfo+xml"
    versions = [ET.fromstring(m.body).get("version") for m in (first, second)]
    assert versions == ["0", "1"] and sub.version == 2


def test_reginfo_lists_set_and_real_expiry() -> None:
    root = ET.fromstring(build_reginfo(_record(), 3, NOW + 100))
    assert root.tag == f"{{{REGINFO_NS}}}reginfo" and root.get("state") == "full"
    regs = root.findall("r:registration", NS)
    assert [r.get("aor") for r in regs] == [IMPU_SIP, IMPU_TEL]  # barred IMSI IMPU left out
    assert {r.get("state") for r in regs} == {"active"}
    contact = regs[0].find("r:contact", NS)
    assert contact is not None
    assert (contact.get("state"), contact.get("event"), contact.get("expires")) == (
        "active", "registered", "3500")
    assert contact.findtext("r:uri", namespaces=NS) == UE
    assert regs[0].get("id") != regs[1].get("id")


def test_terminated_notify_on_network_deregistration() -> None:
    record = _record()
    sub = handle_subscribe(record, _subscribe(), NOW, CONFIG, "s-tag").subscription
    assert sub is not None
    _, sub = notify_registration(sub, record, NOW)
    gone = [Binding(UE, NOW + 3600, "reg-1", 2, event="deactivated")]
    req, sub = notify_registration(sub, record, NOW + 5, removed=gone, reason="deactivated")
    assert req.get("subscription-state") == "terminated;reason=deactivated"
    root = ET.fromstring(req.body)
    assert root.get("version") == "1"
    for reg in root.findall("r:registration", NS):
        assert reg.get("state") == "terminated"
        (contact,) = reg.findall("r:contact", NS)
        assert (contact.get("state"), contact.get("event")) == ("terminated", "deactivated")


def test_refresh_and_unsubscribe_in_dialog() -> None:
    record = _record()
    table = SubscriptionTable()
    sub = handle_subscribe(record, _subscribe(), NOW, CONFIG, "s-tag").subscription
    assert sub is not None
    table.put(sub)
    refresh = _subscribe(expires=1200, to_tag="s-tag", cseq=2)
    existing = table.find(refresh)
    assert existing == sub
    again = handle_subscribe(record, refresh, NOW + 60, CONFIG, "ignored", existing)
    assert again.subscription is not None and again.subscription.local_tag == "s-tag"
    assert again.subscription.expires_at == NOW + 60 + 1200
    bye = handle_subscribe(record, _subscribe(expires=0, to_tag="s-tag", cseq=3), NOW + 70,
                           CONFIG, "x", again.subscription)
    assert bye.notify_state == "terminated;reason=timeout"
    unknown = handle_subscribe(record, _subscribe(to_tag="nope", cseq=3), NOW, CONFIG, "x")
    assert unknown.status == 481
    assert table.for_record(record) == [sub]
