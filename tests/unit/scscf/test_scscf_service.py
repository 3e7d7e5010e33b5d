"""scscf.service: the registrar orchestrator against a fake Cx port and a fake notifier."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from scscf_fixtures import (
    DOMAIN,
    IMPI,
    IMPU_IMSI,
    IMPU_SIP,
    IMPU_TEL,
    PCSCF_PATH,
    UE_CONTACT,
    item,
    register,
    ue_authorization,
    user_data,
    vector,
)

from ims.diameter import cx
from ims.diameter.client import DiameterTimeout, DiameterUnreachable
from ims.diameter.results import (
    SUCCESS,
    Answer,
    CxExperimentalResult,
    Envelope,
    Result,
    ResultCode,
)
from ims.sip.headers.auth import challenges
from ims.sip.message import Request, Response, build_request
from ims.sip.proxy import Target
from ims.sip.uri import parse_uri
from scscf.registrar import RegistrarConfig
from scscf.service import RegistrarService, cx_failure
from scscf.terminating import is_originating

T = TypeVar("T")
SAT = cx.ServerAssignmentType


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _answer(result: Result = SUCCESS) -> Answer:
    return Answer("sid", f"hss.{DOMAIN}", DOMAIN, result)


class FakeCx:
    """A CxPort answering from canned results (or raising)."""

    def __init__(self) -> None:
        self.mar_result: Result | Exception = SUCCESS
        self.sar_result: Result | Exception = SUCCESS
        self.mars: list[tuple[str, str, tuple[bytes, bytes] | None]] = []
        self.sars: list[SAT] = []

    async def mar(self, impi: str, impu: str, server_name: str, items: int = 1,
                  resync: tuple[bytes, bytes] | None = None) -> cx.Maa:
        self.mars.append((impi, impu, resync))
        if isinstance(self.mar_result, Exception):
            raise self.mar_result
        ok = self.mar_result.is_success
        return cx.Maa(_answer(self.mar_result), impi, impu, 1, (item(),) if ok else ())

    async def sar(self, impi: str | None, impus: tuple[str, ...], server_name: str,
                  assignment_type: cx.ServerAssignmentType,
                  user_data_already_available: cx.UserDataAlreadyAvailable = (
                      cx.UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE)) -> cx.Saa:
        self.sars.append(assignment_type)
        if isinstance(self.sar_result, Exception):
            raise self.sar_result
        return cx.Saa(_answer(self.sar_result), impi, user_data())

    async def lir(self, impu: str) -> cx.Lia:
        raise NotImplementedError

    async def uar(self, impi: str, impu: str, visited_network: str,
                  authorization_type: cx.UserAuthorizationType = (
                      cx.UserAuthorizationType.REGISTRATION)) -> cx.Uaa:
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self) -> None:
        self.cx = FakeCx()
        self.sent: list[Request] = []
        self.clock = Clock()
        self.cseq = 0
        self.service = RegistrarService(self.cx, self._notify, RegistrarConfig(realm=DOMAIN),
                                        clock=self.clock)

    async def _notify(self, req: Request) -> int | None:
        self.sent.append(req)
        return 200

    async def challenge(self, **kwargs: Any) -> str:
        self.cseq += 1
        resp = await self.service.register(register(cseq=self.cseq, **kwargs))
        assert resp.status == 401
        nonce = challenges(resp)[0].nonce
        assert nonce is not None
        return nonce

    async def registered(self, expires: int = 600000) -> Response:
        nonce = await self.challenge()
        auth = ue_authorization(nonce, vector().xres)
        self.cseq += 1
        return await self.service.register(register(auth=auth, cseq=self.cseq, expires=expires))


def subscribe_request() -> Request:
    return build_request("SUBSCRIBE", IMPU_SIP, [
        ("Via", "SIP/2.0/UDP 10.45.0.2:5060;branch=z9hG4bKs1"), ("Max-Forwards", "70"),
        ("From", f"<{IMPU_SIP}>;tag=s1"), ("To", f"<{IMPU_SIP}>"), ("Call-ID", "sub-1"),
        ("CSeq", "1 SUBSCRIBE"), ("Contact", f"<{UE_CONTACT}>"), ("Event", "reg"),
        ("Accept", "application/reginfo+xml"), ("Expires", "600000"),
        ("P-Asserted-Identity", f"<{IMPU_SIP}>"),
    ])


def test_challenge_stores_the_vector_before_the_401() -> None:
    h = Harness()

    async def scenario() -> None:
        await h.challenge()
        assert len(h.service.challenges) == 1
        assert h.cx.mars == [(IMPI, IMPU_IMSI, None)]

    run(scenario())


def test_res_registers_with_sar_registration() -> None:
    h = Harness()
    resp = run(h.registered())
    assert resp.status == 200
    assert h.cx.sars == [SAT.REGISTRATION]
    assert resp.get_all("contact") == [f"<{UE_CONTACT}>;expires=3600"]
    assert h.service.store.get(IMPU_SIP) is not None
    assert len(h.service.challenges) == 0  # nonce used up


def test_wrong_res_gives_403_and_sar_authentication_failure() -> None:
    h = Harness()

    async def scenario() -> Response:
        nonce = await h.challenge()
        auth = ue_authorization(nonce, b"\x00" * 8)
        return await h.service.register(register(auth=auth, cseq=2))

    resp = run(scenario())
    assert resp.status == 403
    assert h.cx.sars == [SAT.AUTHENTICATION_FAILURE]
    assert h.service.store.get(IMPU_SIP) is None


@pytest.mark.parametrize(("failure", "status"), [
    (Result.of(CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN), 403),
    (Result.of(CxExperimentalResult.DIAMETER_ERROR_IDENTITIES_DONT_MATCH), 403),
    (Result.of(ResultCode.DIAMETER_UNABLE_TO_COMPLY), 500),
    (DiameterTimeout("slow"), 504),
    (DiameterUnreachable("down"), 500),
])
def test_mar_failures_map_to_sip(failure: Result | Exception, status: int) -> None:
    h = Harness()
    h.cx.mar_result = failure
    resp = run(h.service.register(register()))
    assert resp.status == status
    assert resp.reason
    assert len(h.service.challenges) == 0


def test_sar_failure_gives_500_and_no_binding() -> None:
    h = Harness()
    h.cx.sar_result = Result.of(CxExperimentalResult.DIAMETER_ERROR_IN_ASSIGNMENT_TYPE)
    resp = run(h.registered())
    assert resp.status == 500
    assert h.service.store.get(IMPU_SIP) is None


def test_cx_failure_reason_names_the_command() -> None:
    assert cx_failure(Result(5012), "SAR") == (500, "Server Internal Error - HSS answered SAR "
                                                    "with 5012")


def test_subscribe_notify_then_deregistration_notify() -> None:
    h = Harness()

    async def scenario() -> None:
        assert (await h.registered()).status == 200
        resp = await h.service.subscribe(subscribe_request())
        assert resp.status == 200
        await h.service.drain()
        assert len(h.sent) == 1
        gone = await h.registered(expires=0)
        assert gone.status == 200
        await h.service.drain()

    run(scenario())
    assert h.cx.sars == [SAT.REGISTRATION, SAT.USER_DEREGISTRATION]
    first, last = h.sent
    assert (first.get("subscription-state") or "").startswith("active")
    assert (last.get("subscription-state") or "").startswith("terminated")
    assert b'state="terminated"' in last.body
    assert last.cseq.seq == first.cseq.seq + 1
    assert h.service.subscriptions.all() == []
    assert h.service.store.get(IMPU_SIP) is None


def test_route_takes_register_and_reg_subscribe_only() -> None:
    h = Harness()
    options = build_request("OPTIONS", f"sip:{DOMAIN}", [("Call-ID", "o"), ("CSeq", "1 OPTIONS")])
    assert h.service.route(options) is None
    assert h.service.route(subscribe_request()) is None  # nobody registered: proxied
    coro = h.service.route(register())
    assert isinstance(coro, Coroutine)
    assert run(coro).status == 401


def test_expiry_sweep_sends_timeout_deregistration() -> None:
    h = Harness()

    async def scenario() -> None:
        await h.registered()
        h.clock.now += 3601
        await h.service.sweep()

    run(scenario())
    assert h.cx.sars == [SAT.REGISTRATION, SAT.TIMEOUT_DEREGISTRATION]
    assert h.service.store.get(IMPU_SIP) is None


def _envelope() -> Envelope:
    return Envelope("s", f"hss.{DOMAIN}", DOMAIN, DOMAIN, f"scscf.{DOMAIN}")


def test_rtr_deregisters_and_notifies_terminated() -> None:
    h = Harness()

    async def scenario() -> Result:
        await h.registered()
        await h.service.subscribe(subscribe_request())
        result = await h.service.on_rtr(cx.Rtr(_envelope(), IMPI, cx.ReasonCode.PERMANENT_TERMINATION))
        await h.service.drain()
        return result

    assert run(scenario()) == SUCCESS
    assert h.service.store.get(IMPU_SIP) is None
    last = h.sent[-1]
    assert (last.get("subscription-state") or "").startswith("terminated;reason=deactivated")
    assert b'event="deactivated"' in last.body


def test_ppr_replaces_profile_or_reports_unknown_user() -> None:
    h = Harness()
    unknown = run(h.service.on_ppr(cx.Ppr(_envelope(), IMPI, user_data())))
    assert unknown == Result.of(CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)

    async def scenario() -> Result:
        await h.registered()
        return await h.service.on_ppr(cx.Ppr(_envelope(), IMPI, user_data()))

    assert run(scenario()) == SUCCESS
    assert h.service.store.get(IMPU_SIP) is not None
    bad = run(h.service.on_ppr(cx.Ppr(_envelope(), IMPI, "<not-xml")))
    assert bad == Result.of(ResultCode.DIAMETER_UNABLE_TO_COMPLY)


def test_in_dialog_subscribe_refresh_is_accepted() -> None:
    h = Harness()

    async def scenario() -> Response:
        await h.registered()
        first = await h.service.subscribe(subscribe_request())
        await h.service.drain()
        refresh = subscribe_request()
        refresh.uri = parse_uri(RegistrarConfig().server_uri)
        refresh.set("To", f"<{IMPU_SIP}>;tag={first.to.tag}")
        refresh.set("CSeq", "2 SUBSCRIBE")
        resp = await h.service.subscribe(refresh)
        await h.service.drain()
        return resp

    resp = run(scenario())
    assert resp.status == 200
    assert len(h.sent) == 2
    assert h.sent[1].cseq.seq == h.sent[0].cseq.seq + 1


# -- terminating routing (TS 24.229 §5.4.3.3) ---------------------------------------------------
def message_to(uri: str, *, to_tag: str | None = None) -> Request:
    to = f"<{uri}>" + (f";tag={to_tag}" if to_tag else "")
    return build_request("MESSAGE", uri, [
        ("Via", "SIP/2.0/UDP icscf.ims:4060;branch=z9hG4bKm1"), ("Max-Forwards", "69"),
        ("From", "<sip:alice@example.net>;tag=a1"), ("To", to), ("Call-ID", "msg-1"),
        ("CSeq", "1 MESSAGE"), ("P-Asserted-Identity", "<sip:alice@example.net>"),
    ])


@pytest.mark.parametrize("impu", [IMPU_SIP, IMPU_TEL, IMPU_IMSI])
def test_request_for_a_registered_impu_goes_to_its_contact_by_path(impu: str) -> None:
    h = Harness()
    run(h.registered())
    req = message_to(impu)
    target = h.service.route(req)
    assert isinstance(target, Target)
    assert str(target.uri) == UE_CONTACT and target.routes == (PCSCF_PATH,)
    assert req.get("p-called-party-id") == f"<{impu}>"
    assert h.service.counters["terminating_routed"] == 1


def test_originating_request_terminates_here_only_for_a_tel_uri() -> None:
    h = Harness()
    run(h.registered())
    assert h.service.route(message_to(IMPU_SIP), originating=True) is None  # via the I-CSCF
    assert isinstance(h.service.route(message_to(IMPU_TEL), originating=True), Target)


def test_known_identity_without_live_contact_gets_480() -> None:
    h = Harness()
    run(h.registered())
    h.clock.now += 3601  # expired, not yet swept
    answer = h.service.route(message_to(IMPU_SIP))
    assert isinstance(answer, Response) and answer.status == 480
    assert h.service.counters["terminating_unavailable"] == 1


def test_unknown_user_and_in_dialog_requests_are_proxied_as_usual() -> None:
    h = Harness()
    run(h.registered())
    assert h.service.route(message_to("sip:+19999@example.net")) is None
    assert h.service.route(message_to("tel:+19999")) is None
    assert h.service.route(message_to(IMPU_SIP, to_tag="x")) is None


def test_is_originating_reads_the_orig_parameter_of_popped_routes() -> None:
    assert is_originating([f"<sip:scscf.{DOMAIN}:6060;lr;orig>"])
    assert not is_originating([f"<sip:scscf.{DOMAIN}:6060;lr>"])
    assert not is_originating([])
