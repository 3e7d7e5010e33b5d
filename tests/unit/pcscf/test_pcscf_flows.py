"""pcscf/flows.py: the protected-port flow rules (TS 33.203 §7.1; RFC 5658 for Record-Route)."""

from __future__ import annotations

from ims.sip.message import Request, build_request
from ims.sip.proxy import LocalAddress, LocalIdentity
from pcscf.flows import record_route_facing_ue

IDENTITY = LocalIdentity((LocalAddress("udp", "10.45.0.1", 5060),
                          LocalAddress("udp", "10.45.0.1", 5100)), secret=b"k")


def invite(*record_routes: str) -> Request:
    return build_request("INVITE", "sip:ue@10.45.0.2:51001", [
        ("Via", "SIP/2.0/UDP 10.45.0.1:5060;branch=z9hG4bKpc"), ("Max-Forwards", "69"),
        *(("Record-Route", rr) for rr in record_routes),
        ("From", "<sip:alice@ims.test>;tag=a"), ("To", "<sip:ue@ims.test>"),
        ("Call-ID", "c@test"), ("CSeq", "1 INVITE")])


def test_single_record_route_becomes_a_pair_with_port_s_facing_the_ue() -> None:
    req = invite("<sip:10.45.0.1:5060;lr>", "<sip:scscf.ims.test;lr>")
    assert record_route_facing_ue(req, IDENTITY, 5100)
    assert req.get_all("record-route") == [
        "<sip:10.45.0.1:5100;lr;r2=on>", "<sip:10.45.0.1:5060;lr;r2=on>",
        "<sip:scscf.ims.test;lr>"]


def test_double_record_route_gets_its_top_value_on_port_s() -> None:
    req = invite("<sip:10.45.0.1:5060;transport=tcp;lr;r2=on>", "<sip:10.45.0.1:5060;lr;r2=on>")
    assert record_route_facing_ue(req, IDENTITY, 5101)
    assert req.get_all("record-route") == [
        "<sip:10.45.0.1:5101;transport=tcp;lr;r2=on>", "<sip:10.45.0.1:5060;lr;r2=on>"]


def test_foreign_or_absent_record_route_is_left_alone() -> None:
    req = invite("<sip:scscf.ims.test;lr>")
    assert not record_route_facing_ue(req, IDENTITY, 5100)
    assert req.get_all("record-route") == ["<sip:scscf.ims.test;lr>"]
    bare = invite()
    assert not record_route_facing_ue(bare, IDENTITY, 5100)
    assert not bare.has("record-route")
