"""P-CSCF registration cache (TS 24.229 §5.2.2) from parsed REGISTER / 200 OK pairs."""

from __future__ import annotations

from pcscf_messages import (
    CONTACT,
    IMPU_IMSI,
    IMPU_SIP,
    IMPU_TEL,
    SERVICE_ROUTE,
    UE,
    ok,
    register,
)

from ims.sip.events import Peer
from ims.sip.uri import parse_uri
from pcscf.registrar import LINGER, ContactCache


def test_200_ok_fills_the_cache() -> None:
    cache = ContactCache()
    req = register()
    reg = cache.update(req, ok(req, others=("sip:other@10.45.0.9",)), UE, now=100.0)
    assert reg is not None
    assert reg.ue == UE
    assert reg.registered_impu == IMPU_IMSI
    assert [str(a.uri) for a in reg.associated] == [IMPU_SIP, IMPU_TEL]
    assert reg.service_route == (SERVICE_ROUTE,)
    assert [str(b.contact.uri) for b in reg.bindings] == [CONTACT]  # not the other UE's
    assert reg.bindings[0].expires_at == 3700.0
    assert reg.bindings[0].instance == "urn:gsma:imei:35-1"
    assert cache.for_ue(UE, 200.0) is reg
    assert cache.for_ue(Peer("udp", "10.45.0.2", 9999), 200.0) is None
    found = cache.for_contact(parse_uri(CONTACT), 200.0)
    assert found is not None and found[0] is reg


def test_identity_lookup_in_sip_and_tel_form() -> None:
    cache = ContactCache()
    req = register()
    reg = cache.update(req, ok(req), UE, now=0.0)
    assert reg is not None
    assert reg.owns(parse_uri("tel:+15550001")) is not None
    assert reg.owns(parse_uri("sip:+15550001@ims.mnc001.mcc001.3gppnetwork.org;user=phone"))
    assert reg.owns(parse_uri("tel:+15550009")) is None
    assert reg.default_impu is not None and str(reg.default_impu.uri) == IMPU_SIP


def test_reregister_replaces_and_deregister_removes() -> None:
    cache = ContactCache()
    first = register()
    cache.update(first, ok(first), UE, now=0.0)
    again = register()
    reg = cache.update(again, ok(again, expires=600), UE, now=1000.0)
    assert reg is not None and reg.expires_at == 1600.0
    assert len(cache) == 1
    query = register(contact="Max-Forwards: 70")  # no Contact: a binding query
    assert cache.update(query, ok(query), UE, now=1001.0) is reg
    bye = register(expires=0)
    assert cache.update(bye, ok(bye, expires=0), UE, now=1002.0) is None
    assert len(cache) == 0


def test_expiry_and_reg_event_drop() -> None:
    cache = ContactCache()
    req = register()
    cache.update(req, ok(req, expires=60), UE, now=0.0)
    assert cache.for_ue(UE, 61.0) is None  # expired, even before the sweep
    assert cache.expire(30.0) == []
    assert len(cache.expire(61.0)) == 1
    cache.update(req, ok(req), UE, now=0.0)
    assert cache.drop_identity(parse_uri(IMPU_TEL)) == 1
    assert len(cache) == 0


def test_ended_registration_lingers_for_terminating_requests_only() -> None:
    cache = ContactCache()
    req = register()
    cache.update(req, ok(req, expires=60), UE, now=0.0)
    assert len(cache.expire(61.0)) == 1
    # the S-CSCF's "expired" NOTIFY comes after the expiry: still delivered to the UE ...
    found = cache.for_contact(parse_uri(CONTACT), 62.0)
    assert found is not None and found[0].ue == UE
    # ... but the UE may no longer originate, and the linger ends
    assert cache.for_ue(UE, 62.0) is None
    cache.expire(61.0 + LINGER + 1)
    assert cache.for_contact(parse_uri(CONTACT), 61.0 + LINGER + 1) is None


def test_reg_event_termination_lingers_with_a_time() -> None:
    cache = ContactCache()
    req = register()
    cache.update(req, ok(req), UE, now=0.0)
    assert cache.drop_identity(parse_uri(IMPU_TEL), 10.0) == 1
    assert cache.for_ue(UE, 11.0) is None
    assert cache.for_contact(parse_uri(CONTACT), 11.0) is not None
    assert cache.for_contact(parse_uri(CONTACT), 10.0 + LINGER) is None


def test_a_ue_over_ipsec_is_found_from_its_port_c_over_udp_and_tcp() -> None:
    """TS 33.203 §7.1: one SA pair carries both transports from the UE's port-c."""
    cache = ContactCache()
    req = register()
    over_sa = Peer("udp", "10.45.0.2", 51000, None, 5100)
    reg = cache.update(req, ok(req), over_sa, now=100.0)
    assert reg is not None
    assert cache.for_ue(Peer("tcp", "10.45.0.2", 51000, 4, 5100), 200.0) is reg
    assert cache.for_ue(Peer("tcp", "10.45.0.2", 51000, 4), 200.0) is None  # not over the SA
