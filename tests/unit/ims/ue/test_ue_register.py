"""REGISTER builders and RegistrationFlow (TS 24.229 §5.1.1, RFC 3310) on real 401s.

The 401s carry vectors from ims.auth.aka.generate_vector for TS 35.208 Test
Set 1; the UE's Authorization is verified as the S-CSCF would, against XRES.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

from ue_registrar import challenge_401, expected_response, ok_200, only_credentials
from ue_vectors import AMF, DOMAIN, IMPI, IMPU, OPC, RAND, RES, SQN, K

from ims.auth.aka import generate_vector, resync
from ims.auth.digest import parse_auts_param
from ims.auth.sqn import SqnArray
from ims.sip.headers.auth import Challenge, challenges
from ims.sip.message import Request, Response, make_response, parse_message
from ims.ue.isim import AkaStatus, Isim
from ims.ue.register import (
    ChallengeAnswered,
    Deregistered,
    FlowAction,
    Registered,
    RegistrationFailed,
    RegistrationFlow,
    RegState,
    SendRegister,
    UeState,
    answer_challenge,
    build_register,
)

CONTACT = "sip:001010000000001@127.0.0.1:40001"
INSTANCE = "urn:uuid:00000000-0000-0000-0000-000000000001"
UE = UeState(IMPI, IMPU, DOMAIN, INSTANCE)
IMPUS = (IMPU, "tel:+15550001", "sip:+15550001@" + DOMAIN)


def ids() -> Iterator[str]:
    return (f"id{n}" for n in count(1))


def make_flow(isim: Isim | None = None, ue: UeState = UE) -> RegistrationFlow:
    card = isim or Isim(IMPI, IMPU, K, OPC, AMF, SqnArray.starting_at(SQN - 32))
    names = ids()
    return RegistrationFlow(ue, card, contact=CONTACT, transport="udp", call_id="cid-1",
                            from_tag="ft", new_id=lambda: next(names))


def state(flow: RegistrationFlow) -> RegState:
    """The flow's state, read through a call (mypy would narrow the attribute)."""
    return flow.state


def sent(actions: list[FlowAction]) -> Request:
    (send,) = [a for a in actions if isinstance(a, SendRegister)]
    # over the wire and back: what the network parses
    req = parse_message(send.request.to_bytes())
    assert isinstance(req, Request)
    return req


def test_initial_register_has_the_fields_of_24229_5_1_1_2() -> None:
    req = parse_message(build_register(
        UE, expires=600000, call_id="c1", cseq=1, branch="z9hG4bKb1", from_tag="t1",
        contact=CONTACT, transport="udp").to_bytes())
    assert isinstance(req, Request)
    assert str(req.uri) == f"sip:{DOMAIN}"
    assert (str(req.from_.uri), req.from_.tag, str(req.to.uri), req.to.tag) == (IMPU, "t1", IMPU, None)
    assert (req.top_via.host, req.top_via.port, req.top_via.branch) == ("127.0.0.1", 40001, "z9hG4bKb1")
    assert (req.max_forwards, req.expires, req.cseq.seq, req.cseq.method) == (70, 600000, 1, "REGISTER")
    (contact,) = req.contacts
    assert str(contact.uri) == CONTACT and contact.expires == 600000
    assert contact.instance_id == INSTANCE
    assert contact.params.get("+g.3gpp.icsi-ref") == '"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"'
    assert req.option_tags("supported") == ["path"]
    assert req.get("authorization") == (
        f'Digest username="{IMPI}", realm="{DOMAIN}", nonce="", uri="sip:{DOMAIN}", response=""')
    assert req.get("user-agent") == "ims-ue/0.1" and "MESSAGE" in req.get_all("allow")


def test_aka_answer_verifies_against_xres_with_qop_auth() -> None:
    vector = generate_vector(K, OPC, AMF, SQN, RAND)
    card = Isim(IMPI, IMPU, K, OPC, AMF, SqnArray.starting_at(SQN - 32))
    first = build_register(UE, expires=600000, call_id="c1", cseq=1, branch="z9hG4bKb1",
                           from_tag="t1", contact=CONTACT, transport="udp")
    resp = parse_message(challenge_401(first, vector, DOMAIN).to_bytes())
    assert isinstance(resp, Response)
    (challenge,) = challenges(resp)
    answer = answer_challenge(challenge, UE, card, uri=f"sip:{DOMAIN}", cnonce="cn1")
    cred = answer.credentials
    assert (answer.rand, answer.autn) == (RAND, vector.autn)
    assert answer.outcome is not None and answer.outcome.res == RES == vector.xres
    assert (cred.qop, cred.nc, cred.cnonce, cred.algorithm) == ("auth", "00000001", "cn1", "AKAv1-MD5")
    assert cred.response == expected_response(cred, vector.xres)
    assert cred.auts is None


def test_flow_registers_through_401_and_200() -> None:
    flow = make_flow()
    first = sent(flow.register(600000))
    assert state(flow) is RegState.SENT_INITIAL
    vector = generate_vector(K, OPC, AMF, SQN, RAND)
    actions = flow.on_response(challenge_401(first, vector, DOMAIN))
    assert state(flow) is RegState.CHALLENGED
    (answered,) = [a for a in actions if isinstance(a, ChallengeAnswered)]
    assert answered.answer.outcome is not None
    assert answered.answer.outcome.status is AkaStatus.SUCCESS
    second = sent(actions)
    assert (second.call_id, second.cseq.seq, second.from_.tag) == ("cid-1", 2, "ft")
    assert second.top_via.branch != first.top_via.branch
    cred = only_credentials(second)
    assert cred.response == expected_response(cred, vector.xres)
    (done,) = flow.on_response(ok_200(second, 3600, IMPUS))
    assert isinstance(done, Registered) and state(flow) is RegState.REGISTERED
    assert done.binding.expires == 3600 and done.binding.contact == CONTACT
    assert done.binding.service_routes == ("<sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr>",)
    assert done.binding.associated_uris == IMPUS
    assert flow.binding == done.binding


def test_reregister_keeps_call_id_and_deregister_sends_expires_0() -> None:
    flow = make_flow(Isim(IMPI, IMPU, K, OPC, AMF, trust_network=True))
    first = sent(flow.register(600000))
    flow.on_response(ok_200(first, 600000, IMPUS))  # registrar that does not challenge
    again = sent(flow.register(300))
    assert (again.call_id, again.cseq.seq, again.expires) == ("cid-1", 2, 300)
    flow.on_response(ok_200(again, 270, IMPUS))
    assert flow.binding is not None and flow.binding.expires == 270
    bye = sent(flow.deregister())
    assert (bye.expires, bye.contacts[0].expires, bye.cseq.seq) == (0, 0, 3)
    assert state(flow) is RegState.DEREGISTERING
    assert flow.on_response(make_response(bye, 200, to_tag="r")) == [Deregistered()]
    assert state(flow) is RegState.UNREGISTERED and flow.binding is None


def test_mac_failure_sends_empty_response_without_auts_and_reports_it() -> None:
    flow = make_flow(Isim(IMPI, IMPU, bytes(16), OPC, AMF, SqnArray.starting_at(SQN - 32)))
    first = sent(flow.register())
    actions = flow.on_response(challenge_401(first, generate_vector(K, OPC, AMF, SQN, RAND), DOMAIN))
    cred = only_credentials(sent(actions))
    assert cred.response == "" and cred.auts is None and cred.username == IMPI
    (failed,) = flow.on_response(make_response(sent(actions), 403, "Forbidden", to_tag="r"))
    assert isinstance(failed, RegistrationFailed) and failed.status == 403
    assert failed.reason == ("MAC failure reported (network not authenticated); "
                             "network answered 403 Forbidden")
    assert state(flow) is RegState.FAILED


def test_sync_failure_sends_auts_then_registers_with_the_fresh_vector() -> None:
    ahead = SQN + 32 * 4
    flow = make_flow(Isim(IMPI, IMPU, K, OPC, AMF, SqnArray.starting_at(ahead)))
    first = sent(flow.register())
    actions = flow.on_response(challenge_401(first, generate_vector(K, OPC, AMF, SQN, RAND), DOMAIN))
    assert state(flow) is RegState.SENT_INITIAL
    resync_req = sent(actions)
    cred = only_credentials(resync_req)
    assert cred.auts is not None
    assert resync(K, OPC, RAND, parse_auts_param(cred.auts)) == ahead
    assert cred.response == expected_response(cred, b"")  # RFC 3310 §3.4: empty password
    fresh = generate_vector(K, OPC, AMF, ahead + 32, bytes(range(16)))
    final = sent(flow.on_response(challenge_401(resync_req, fresh, DOMAIN)))
    cred2 = only_credentials(final)
    assert cred2.auts is None and cred2.response == expected_response(cred2, fresh.xres)
    (done,) = flow.on_response(ok_200(final, 3600, IMPUS))
    assert isinstance(done, Registered)


def test_md5_challenge_is_answered_with_the_password() -> None:
    ue = UeState(IMPI, IMPU, DOMAIN, INSTANCE, password="secret")
    challenge = Challenge(realm=DOMAIN, nonce="abc123", algorithm="MD5", qop=["auth"])
    answer = answer_challenge(challenge, ue, None, uri=f"sip:{DOMAIN}", cnonce="c", nc=2)
    cred = answer.credentials
    assert answer.outcome is None and cred.nc == "00000002"
    assert cred.response == expected_response(cred, "secret")


def test_403_timeout_and_challenge_loops_end_with_reasons() -> None:
    flow = make_flow()
    first = sent(flow.register())
    (failed,) = flow.on_response(make_response(first, 403, "Forbidden - identity barred"))
    assert isinstance(failed, RegistrationFailed)
    assert (failed.reason, failed.status) == ("403 Forbidden - identity barred", 403)
    sent(flow.register())
    assert flow.on_timeout("Timer F") == [RegistrationFailed("timeout: Timer F", None)]
    loop = make_flow(Isim(IMPI, IMPU, K, OPC, AMF, trust_network=True))
    req = sent(loop.register())
    for _ in range(3):
        req = sent(loop.on_response(challenge_401(req, generate_vector(K, OPC, AMF, SQN, RAND), DOMAIN)))
    (looped,) = loop.on_response(challenge_401(req, generate_vector(K, OPC, AMF, SQN, RAND), DOMAIN))
    assert looped == RegistrationFailed("still challenged after 3 answers", 401)


def test_401_without_challenge_fails_cleanly() -> None:
    flow = make_flow()
    first = sent(flow.register())
    (failed,) = flow.on_response(make_response(first, 401, to_tag="r"))
    assert isinstance(failed, RegistrationFailed) and failed.status == 401
    assert "no WWW-Authenticate Digest challenge" in failed.reason
