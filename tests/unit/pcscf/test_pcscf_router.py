"""P-CSCF routing decisions (TS 24.229 §5.2) on parsed SIP messages."""

from __future__ import annotations

import pytest
from pcscf_messages import (
    CONTACT,
    DOMAIN,
    IMPU_SIP,
    IMPU_TEL,
    SERVICE_ROUTE,
    UE,
    challenge,
    invite,
    ok,
    register,
)

from ims.sip.errors import SipError
from ims.sip.events import Peer
from ims.sip.headers.auth import challenges
from ims.sip.message import Request, Response, parse_message
from ims.sip.proxy import Target
from ims.sip.uri import SipUri, parse_uri
from pcscf import regevent, router
from pcscf.registrar import ContactCache

PATH = f"<sip:term@pcscf.{DOMAIN}:5060;lr>"
ICSCF = parse_uri(f"sip:{DOMAIN}")
assert isinstance(ICSCF, SipUri)
SETTINGS = router.PcscfSettings(PATH, ICSCF, DOMAIN)
CORE = Peer("udp", "127.0.0.1", 6060)


def registered() -> ContactCache:
    cache = ContactCache()
    req = register()
    cache.update(req, ok(req), UE, now=0.0)
    return cache


def route(req: Request, source: Peer | None = UE, popped: tuple[str, ...] = (),
          cache: ContactCache | None = None, for_self: bool = False) -> Target | Response | None:
    return router.route_request(req, source, popped, cache=cache or registered(), now=10.0,
                                for_self=for_self)


# -- REGISTER ---------------------------------------------------------------------------
def test_register_gets_path_visited_network_and_icid() -> None:
    req = register(extra=("P-Asserted-Identity: <sip:forged@evil.example>",))
    target = router.prepare_register(req, SETTINGS, "0a1b2c")
    assert target.next_hop is ICSCF
    assert req.get_all("path") == [PATH]
    assert "path" in req.option_tags("supported")
    assert req.get("p-visited-network-id") == DOMAIN
    assert req.get("p-charging-vector") == "icid-value=0a1b2c"
    assert not req.has("p-asserted-identity")


def test_register_keeps_an_existing_path_below_ours() -> None:
    req = register(extra=("Path: <sip:edge.example;lr>", "Supported: path, gruu"))
    router.prepare_register(req, SETTINGS, "1")
    assert req.get_all("path") == [PATH, "<sip:edge.example;lr>"]
    assert req.option_tags("supported") == ["path", "gruu"]


def test_sec_agree_required_gets_420_until_ipsec() -> None:
    policy = router.SecAgreeUnavailable()
    req = register(extra=("Require: sec-agree", "Proxy-Require: sec-agree",
                          "Security-Client: ipsec-3gpp; alg=hmac-sha-1-96; spi-c=1; spi-s=2; "
                          "port-c=5062; port-s=5064"))
    resp = policy.check_register(req, UE)
    assert resp is not None and resp.status == 420
    assert resp.get("unsupported") == "sec-agree"
    assert policy.check_register(register(extra=("Supported: sec-agree",)), UE) is None


def test_401_loses_ik_ck_and_they_are_kept() -> None:
    resp = challenge()
    keys = router.strip_challenge_keys(resp)
    assert keys and keys[0].has_keys
    (sent,) = challenges(resp)
    assert not sent.has_keys and sent.is_aka
    assert "ik=" not in resp.to_bytes().decode()
    policy = router.SecAgreeUnavailable()
    policy.challenge(register(), UE, keys)
    assert policy.keys[(UE.host, UE.port)] == tuple(keys)


# -- originating ------------------------------------------------------------------------
def test_originating_uses_service_route_and_default_identity() -> None:
    req = invite(extra=("Route: <sip:elsewhere.example;lr>",
                        "P-Asserted-Identity: <sip:forged@evil.example>"))
    target = route(req)
    assert isinstance(target, Target)
    assert target.routes == (SERVICE_ROUTE,)
    assert not req.has("route")
    assert req.get_all("p-asserted-identity") == [f"<{IMPU_SIP}>"]


def test_preferred_identity_asserted_when_registered() -> None:
    req = invite(extra=(f"P-Preferred-Identity: <{IMPU_TEL}>",))
    route(req)
    assert req.get_all("p-asserted-identity") == [f"<{IMPU_TEL}>"]
    assert not req.has("p-preferred-identity")
    foreign = invite(extra=("P-Preferred-Identity: <tel:+19999999>",))
    route(foreign)
    assert foreign.get_all("p-asserted-identity") == [f"<{IMPU_SIP}>"]


def test_in_dialog_request_keeps_its_route_set() -> None:
    req = invite(to_tag="far1", extra=("Route: <sip:orig@scscf.example;lr>",))
    target = route(req)
    assert isinstance(target, Target) and target.routes == ()
    assert req.has("route")


def test_unregistered_ue_is_refused_but_self_requests_pass() -> None:
    stranger = Peer("udp", "10.45.0.77", 5060)
    resp = route(invite(), source=stranger)
    assert isinstance(resp, Response) and resp.status == 403
    assert route(invite(), source=stranger, for_self=True) is None
    assert route(invite(), source=None) is None  # ACK: default routing


def test_malformed_preferred_identity_is_a_400() -> None:
    req = invite(extra=("P-Preferred-Identity: <sip:a@x>, <sip:b@x>",))
    with pytest.raises(SipError) as caught:
        route(req)
    assert caught.value.status_hint == 400


# -- terminating ------------------------------------------------------------------------
def test_terminating_goes_to_the_cached_ue() -> None:
    target = route(invite(CONTACT), source=CORE, popped=(PATH,))
    assert isinstance(target, Target) and target.peer == UE
    gone = route(invite("sip:nobody@10.45.0.99"), source=CORE, popped=(PATH,))
    assert isinstance(gone, Response) and gone.status == 480


def test_registered_ue_addressing_a_cached_contact_still_goes_through_its_s_cscf() -> None:
    req = invite(CONTACT, extra=("P-Asserted-Identity: <sip:forged@evil.example>",))
    target = route(req, source=UE)  # the UE itself, or another UE of this P-CSCF
    assert isinstance(target, Target) and target.peer is None
    assert target.routes == (SERVICE_ROUTE,)
    assert req.get_all("p-asserted-identity") == [f"<{IMPU_SIP}>"]


# -- reg-event ------------------------------------------------------------------------
REGINFO = (
    '<?xml version="1.0"?><reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="1" '
    f'state="full"><registration aor="{IMPU_SIP}" id="a" state="terminated">'
    '<contact id="c" state="terminated" event="deactivated">'
    f"<uri>{CONTACT}</uri></contact></registration></reginfo>"
)


def test_subscribe_built_after_registration() -> None:
    cache = registered()
    reg = cache.for_ue(UE, 1.0)
    assert reg is not None
    sub = regevent.build_subscribe(reg, "sip:127.0.0.1:5060", "SIP/2.0/UDP 127.0.0.1:5060;"
                                   "branch=z9hG4bKx", "reg-x", "t1", 3700)
    parsed = parse_message(sub.to_bytes())
    assert isinstance(parsed, Request)
    assert parsed.uri_text == IMPU_SIP
    assert parsed.get("event") == "reg"
    assert parsed.get_all("route") == [SERVICE_ROUTE]
    assert parsed.to.uri == parse_uri(IMPU_SIP)


def test_terminated_notify_names_the_aor() -> None:
    lines = ["NOTIFY sip:127.0.0.1:5060 SIP/2.0",
             "Via: SIP/2.0/UDP 127.0.0.1:6060;branch=z9hG4bKn1",
             "From: <sip:+15550001@ims.mnc001.mcc001.3gppnetwork.org>;tag=s1",
             "To: <sip:127.0.0.1:5060>;tag=t1", "Call-ID: reg-x", "CSeq: 2 NOTIFY",
             "Event: reg", "Subscription-State: terminated;reason=deactivated",
             "Content-Type: application/reginfo+xml", f"Content-Length: {len(REGINFO)}",
             "", REGINFO]
    notify = parse_message("\r\n".join(lines).encode())
    assert isinstance(notify, Request) and regevent.is_reg_notify(notify)
    resp, aors = regevent.notify_response(notify)
    assert resp.status == 200 and aors == [IMPU_SIP]
    cache = registered()
    assert cache.drop_identity(parse_uri(aors[0])) == 1
    with pytest.raises(SipError):
        regevent.terminated_aors(b"<reginfo")
