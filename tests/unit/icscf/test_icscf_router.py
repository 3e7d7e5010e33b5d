"""I-CSCF decisions (TS 24.229 §5.3, TS 29.228 §6.1) on parsed SIP messages."""

from __future__ import annotations

import asyncio

import pytest

from icscf import router
from icscf.router import CxFailure, LirQuery, UarQuery
from icscf.scscf_select import ScscfCandidate, select_scscf
from icscf.service import IcscfRouting
from ims.diameter.cx import Lia, ServerCapabilities, Uaa, UserAuthorizationType
from ims.diameter.node import DiameterTimeout, DiameterUnreachable
from ims.diameter.results import Answer, CxExperimentalResult, Result, ResultCode
from ims.sip.message import Request, Response, parse_message
from ims.sip.proxy import Target

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMPI = f"001010000000001@{DOMAIN}"
SCSCF = f"sip:scscf.{DOMAIN}:6060"
CANDIDATES = (ScscfCandidate("sip:scscf-a.example:6060", frozenset({1})),
              ScscfCandidate("sip:scscf-b.example:6060", frozenset({1, 2, 3})))


def register(*, auth: bool = True, expires: int = 600000, pvni: bool = True,
             contact: str | None = None) -> Request:
    lines = [
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKpcscf1",
        "Via: SIP/2.0/UDP 10.45.0.2:5060;rport;branch=z9hG4bKue1",
        "Max-Forwards: 69",
        f"From: <sip:001010000000001@{DOMAIN}>;tag=ue1",
        f"To: <sip:001010000000001@{DOMAIN}>",
        "Call-ID: reg-1@10.45.0.2",
        "CSeq: 1 REGISTER",
        contact or "Contact: <sip:001010000000001@10.45.0.2:5060>;+sip.instance=\"<urn:gsma:imei:1>\"",
        f"Expires: {expires}",
        f"Path: <sip:term@pcscf.{DOMAIN}:5060;lr>",
        "Supported: path",
    ]
    if pvni:
        lines.append('P-Visited-Network-ID: "visited.example.net"')
    if auth:
        lines.append(f'Authorization: Digest username="{IMPI}", realm="{DOMAIN}", '
                     f'uri="sip:{DOMAIN}", nonce="", response=""')
    lines += ["Content-Length: 0", "", ""]
    msg = parse_message("\r\n".join(lines).encode())
    assert isinstance(msg, Request)
    return msg


def invite(uri: str = f"sip:+15550001@{DOMAIN}", to_tag: str = "", route: str = "") -> Request:
    lines = [
        f"INVITE {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKorig",
        "Max-Forwards: 68",
        "From: <sip:alice@example.net>;tag=a1",
        f"To: <{uri}>{';tag=' + to_tag if to_tag else ''}",
        "Call-ID: call-1@192.0.2.9",
        "CSeq: 1 INVITE",
        "Contact: <sip:alice@192.0.2.9>",
    ] + ([f"Route: {route}"] if route else []) + ["Content-Length: 0", "", ""]
    msg = parse_message("\r\n".join(lines).encode())
    assert isinstance(msg, Request)
    return msg


def answer(code: int = 2001, experimental: bool = True) -> Answer:
    return Answer("s;1", f"hss.{DOMAIN}", DOMAIN, Result(code, experimental))


# -- queries ------------------------------------------------------------------------
def test_uar_query_from_authorization_and_visited_network() -> None:
    query = router.uar_query(register(), DOMAIN)
    assert query == UarQuery(IMPI, f"sip:001010000000001@{DOMAIN}", "visited.example.net",
                             UserAuthorizationType.REGISTRATION)


def test_uar_query_derives_impi_and_defaults_visited_network() -> None:
    query = router.uar_query(register(auth=False, pvni=False), DOMAIN)
    assert query.user_name == IMPI
    assert query.visited_network == DOMAIN


def test_expires_zero_is_deregistration() -> None:
    assert router.uar_query(register(expires=0), DOMAIN).authorization_type \
        is UserAuthorizationType.DE_REGISTRATION
    star = register(expires=0, contact="Contact: *")
    assert router.is_deregistration(star)
    param = register(contact="Contact: <sip:001010000000001@10.45.0.2:5060>;expires=0")
    assert router.is_deregistration(param)


def test_location_query_only_for_initial_requests_to_a_user() -> None:
    assert router.needs_location_query(invite())
    assert router.needs_location_query(invite("tel:+15550001"))
    assert not router.needs_location_query(invite(to_tag="b1"))
    assert not router.needs_location_query(invite(route=f"<{SCSCF};lr>"))
    assert not router.needs_location_query(invite("sip:127.0.0.1:4060"))
    assert router.lir_query(invite(f"sip:+15550001@{DOMAIN};user=phone")) == \
        LirQuery(f"sip:+15550001@{DOMAIN}")


# -- answers ------------------------------------------------------------------------
def test_server_name_returned_is_the_next_hop() -> None:
    decision = router.registration_decision(register(), Uaa(answer(), SCSCF), CANDIDATES)
    assert isinstance(decision, Target)
    assert str(decision.next_hop) == SCSCF
    assert decision.routes == ()


def test_capabilities_pick_a_configured_scscf() -> None:
    caps = ServerCapabilities(mandatory=(1,), optional=(2, 3))
    decision = router.registration_decision(register(), Uaa(answer(), None, caps), CANDIDATES)
    assert isinstance(decision, Target)
    assert str(decision.next_hop) == "sip:scscf-b.example:6060"


def test_no_matching_scscf_gives_600() -> None:
    caps = ServerCapabilities(mandatory=(9,))
    decision = router.registration_decision(register(), Uaa(answer(), None, caps), CANDIDATES)
    assert isinstance(decision, Response) and decision.status == 600


@pytest.mark.parametrize(("code", "experimental", "status"), [
    (CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN, True, 403),
    (CxExperimentalResult.DIAMETER_ERROR_IDENTITIES_DONT_MATCH, True, 403),
    (CxExperimentalResult.DIAMETER_ERROR_ROAMING_NOT_ALLOWED, True, 403),
    (ResultCode.DIAMETER_AUTHORIZATION_REJECTED, False, 403),
    (ResultCode.DIAMETER_UNABLE_TO_DELIVER, False, 480),
    (ResultCode.DIAMETER_UNABLE_TO_COMPLY, False, 500),
])
def test_uaa_errors_map_to_sip(code: int, experimental: bool, status: int) -> None:
    decision = router.registration_decision(register(), Uaa(answer(code, experimental)),
                                            CANDIDATES)
    assert isinstance(decision, Response)
    assert decision.status == status
    assert decision.reason and len(decision.reason) > 10


def test_lia_errors_and_unregistered_service() -> None:
    unknown = router.location_decision(
        invite(), Lia(answer(CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)), CANDIDATES)
    assert isinstance(unknown, Response) and unknown.status == 404
    not_registered = router.location_decision(
        invite(), Lia(answer(CxExperimentalResult.DIAMETER_ERROR_IDENTITY_NOT_REGISTERED)),
        CANDIDATES)
    assert isinstance(not_registered, Response) and not_registered.status == 480
    unreg = Lia(answer(CxExperimentalResult.DIAMETER_UNREGISTERED_SERVICE), None,
                ServerCapabilities(mandatory=(1,)))
    chosen = router.location_decision(invite(), unreg, CANDIDATES)
    assert isinstance(chosen, Target)
    assert str(chosen.next_hop) == "sip:scscf-a.example:6060"


def test_failures_have_useful_reasons() -> None:
    timeout = router.failure_response(register(), CxFailure.TIMEOUT)
    assert timeout.status == 504 and "HSS" in (timeout.reason or "")
    down = router.failure_response(register(), CxFailure.UNREACHABLE)
    assert down.status == 480


def test_selection_prefers_named_server_then_config_order() -> None:
    named = ServerCapabilities(server_names=("sip:scscf-b.example:6060",))
    assert select_scscf(CANDIDATES, named) == CANDIDATES[1]
    assert select_scscf(CANDIDATES, None) == CANDIDATES[0]
    assert select_scscf((), None) is None


# -- the orchestrator with a fake port ------------------------------------------------
class FakeCx:
    def __init__(self, uaa: Uaa | None = None, lia: Lia | None = None,
                 error: BaseException | None = None, delay: float = 0.0) -> None:
        self.uaa, self.lia, self.error, self.delay = uaa, lia, error, delay
        self.queries: list[tuple[str, ...]] = []

    async def _answer(self) -> None:
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error

    async def uar(self, impi: str, impu: str, visited_network: str,
                  authorization_type: UserAuthorizationType = (
                      UserAuthorizationType.REGISTRATION)) -> Uaa:
        self.queries.append(("uar", impi, impu, visited_network, authorization_type.name))
        await self._answer()
        assert self.uaa is not None
        return self.uaa

    async def lir(self, impu: str) -> Lia:
        self.queries.append(("lir", impu))
        await self._answer()
        assert self.lia is not None
        return self.lia


def test_service_register_and_terminating() -> None:
    cx = FakeCx(Uaa(answer(), SCSCF), Lia(answer(), SCSCF))
    hook = IcscfRouting(cx, CANDIDATES, DOMAIN)
    reg = asyncio.run(hook(register()))
    term = asyncio.run(hook(invite()))
    assert isinstance(reg, Target) and isinstance(term, Target)
    assert cx.queries == [
        ("uar", IMPI, f"sip:001010000000001@{DOMAIN}", "visited.example.net", "REGISTRATION"),
        ("lir", f"sip:+15550001@{DOMAIN}")]
    assert asyncio.run(hook(invite(to_tag="b1"))) is None


def test_service_timeout_and_unreachable_never_hang() -> None:
    slow = IcscfRouting(FakeCx(delay=1.0), CANDIDATES, DOMAIN, timeout=0.01)
    resp = asyncio.run(slow(register()))
    assert isinstance(resp, Response) and resp.status == 504
    down = IcscfRouting(FakeCx(error=ConnectionRefusedError()), CANDIDATES, DOMAIN)
    resp = asyncio.run(down(invite()))
    assert isinstance(resp, Response) and resp.status == 480
    assert down.counters["cx_failures"] == 1
    unreachable = IcscfRouting(FakeCx(error=DiameterUnreachable("no peer")), CANDIDATES, DOMAIN)
    resp = asyncio.run(unreachable(register()))
    assert isinstance(resp, Response) and resp.status == 480
    late = IcscfRouting(FakeCx(error=DiameterTimeout("late")), CANDIDATES, DOMAIN)
    resp = asyncio.run(late(register()))
    assert isinstance(resp, Response) and resp.status == 504
