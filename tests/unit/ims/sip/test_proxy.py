"""Stateful proxy rules and response contexts (RFC 3261 §16, RFC 5658)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

import pytest

from ims.sip.events import CancelTimer, Peer, StartTimer, Timeout, TransportError
from ims.sip.message import Request, Response, make_response, parse_message
from ims.sip.proxy import (
    BRANCH_PREFIX,
    LocalAddress,
    LocalIdentity,
    ProxyConfig,
    Target,
    build_cancel,
    check_request,
    choose_best,
    preprocess_routes,
)
from ims.sip.proxy_core import (
    Decision,
    Finished,
    Forward,
    ForwardStateless,
    ProxyAction,
    ProxyCore,
    RelayStateless,
    Respond,
    Route,
    SendCancel,
)
from ims.sip.uri import SipUri, parse_uri

UDP = LocalAddress("udp", "10.0.0.1", 5060)
TCP = LocalAddress("tcp", "10.0.0.1", 5060)
IDENTITY = LocalIdentity((UDP, TCP), aliases=frozenset({"proxy.example.com"}), secret=b"k")
UA = Peer("udp", "10.0.0.9", 5070)
TXN = "txn-1"
A = TypeVar("A")


def request(
    method: str = "INVITE",
    uri: str = "sip:bob@example.org",
    *,
    extra: str = "",
    max_forwards: str | None = "70",
    to_tag: str = "",
    branch: str = "z9hG4bKua1",
) -> Request:
    mf = f"Max-Forwards: {max_forwards}\r\n" if max_forwards is not None else ""
    text = (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 10.0.0.9:5070;branch={branch}\r\n"
        f"{mf}"
        "From: <sip:alice@example.org>;tag=a1\r\n"
        f"To: <sip:bob@example.org>{to_tag}\r\n"
        "Call-ID: c1@10.0.0.9\r\n"
        f"CSeq: 1 {method}\r\n"
        "Contact: <sip:alice@10.0.0.9:5070>\r\n"
        f"{extra}"
        "Content-Length: 0\r\n\r\n"
    )
    msg = parse_message(text.encode())
    assert isinstance(msg, Request)
    return msg


def of(actions: list[ProxyAction], kind: type[A]) -> list[A]:
    return [a for a in actions if isinstance(a, kind)]


def statuses(actions: list[ProxyAction]) -> list[int]:
    return [a.response.status for a in of(actions, Respond)]


def forward(core: ProxyCore, req: Request, key: Hashable = TXN, decision: Decision = None) -> Forward:
    forwards = of(core.process(key, req, UA, 0.0, decision), Forward)
    assert len(forwards) == 1
    return forwards[0]


def reply(fwd: Forward | Request, status: int, tag: str = ";tag=b1") -> Response:
    """The downstream UAS answers the forwarded request (all Vias copied)."""
    req = fwd.request if isinstance(fwd, Forward) else fwd
    resp = make_response(req, status, to_tag=tag.removeprefix(";tag=") if tag else None)
    data = parse_message(resp.to_bytes())
    assert isinstance(data, Response)
    return data


# -- §16.3 validation ------------------------------------------------------
def test_max_forwards_zero_is_answered_483() -> None:
    resp = check_request(request(max_forwards="0"), IDENTITY, ProxyConfig())
    assert resp is not None and resp.status == 483 and resp.to.tag


def test_max_forwards_is_decremented() -> None:
    fwd = forward(ProxyCore(IDENTITY), request(max_forwards="10"))
    assert fwd.request.get("max-forwards") == "9"


def test_max_forwards_is_inserted_when_absent() -> None:
    fwd = forward(ProxyCore(IDENTITY), request(max_forwards=None))
    assert fwd.request.get("max-forwards") == "70"


def test_options_with_max_forwards_zero_to_self_gets_200() -> None:
    actions = ProxyCore(IDENTITY).process(TXN, request("OPTIONS", "sip:10.0.0.1", max_forwards="0"), UA, 0.0)
    assert statuses(actions) == [200]


def test_options_with_max_forwards_zero_elsewhere_gets_483() -> None:
    actions = ProxyCore(IDENTITY).process(TXN, request("OPTIONS", max_forwards="0"), UA, 0.0)
    assert statuses(actions) == [483]


def test_request_forwarded_back_to_us_unchanged_is_a_loop() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request())
    back = parse_message(fwd.request.to_bytes())
    assert isinstance(back, Request)
    back.add("Via", "SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKother", first=True)
    actions = core.process("txn-2", back, Peer("udp", "10.0.0.7", 5060), 1.0)
    assert statuses(actions) == [482]


def test_request_back_with_new_request_uri_is_a_spiral() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request())
    back = parse_message(fwd.request.to_bytes())
    assert isinstance(back, Request)
    back.uri = parse_uri("sip:bob@192.0.2.5")
    back.add("Via", "SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bKother", first=True)
    assert statuses(core.process("txn-2", back, Peer("udp", "10.0.0.7", 5060), 1.0)) == [100]


def test_unsupported_proxy_require_gets_420_with_unsupported() -> None:
    req = request("MESSAGE", extra="Proxy-Require: sec-agree, foo\r\n")
    resp = check_request(req, IDENTITY, ProxyConfig(proxy_require=frozenset({"sec-agree"})))
    assert resp is not None and resp.status == 420
    assert resp.get_all("unsupported") == ["foo"]


def test_supported_proxy_require_is_forwarded() -> None:
    req = request("MESSAGE", extra="Proxy-Require: sec-agree\r\n")
    assert check_request(req, IDENTITY, ProxyConfig(proxy_require=frozenset({"sec-agree"}))) is None


def test_unsupported_uri_scheme_gets_416() -> None:
    resp = check_request(request(uri="mailto:bob@example.org"), IDENTITY, ProxyConfig())
    assert resp is not None and resp.status == 416


# -- Via ---------------------------------------------------------------------
def test_via_is_pushed_with_our_branch_and_rport() -> None:
    fwd = forward(ProxyCore(IDENTITY), request())
    vias = fwd.request.vias
    assert [v.sent_by for v in vias] == ["10.0.0.1:5060", "10.0.0.9:5070"]
    assert vias[0].transport == "UDP" and vias[0].wants_rport
    assert vias[0].branch is not None and vias[0].branch.startswith(BRANCH_PREFIX)


def test_branch_is_stable_for_a_retransmission_and_unique_per_transaction() -> None:
    first = forward(ProxyCore(IDENTITY), request()).request.top_via.branch
    again = forward(ProxyCore(IDENTITY), request()).request.top_via.branch
    other = forward(ProxyCore(IDENTITY), request(branch="z9hG4bKua2")).request.top_via.branch
    assert first == again and first != other


def test_forked_branches_get_distinct_branches() -> None:
    targets = [Target(uri=parse_uri("sip:bob@10.0.0.21")), Target(uri=parse_uri("sip:bob@10.0.0.22"))]
    forwards = of(ProxyCore(IDENTITY).process(TXN, request(), UA, 0.0, targets), Forward)
    assert len({f.request.top_via.branch for f in forwards}) == 2
    assert [str(f.hop.destination) for f in forwards] == ["sip:bob@10.0.0.21", "sip:bob@10.0.0.22"]


# -- Record-Route ------------------------------------------------------------
def test_initial_invite_gets_one_record_route() -> None:
    fwd = forward(ProxyCore(IDENTITY), request())
    assert fwd.request.get_all("record-route") == ["<sip:10.0.0.1:5060;lr>"]


def test_message_and_in_dialog_requests_get_no_record_route() -> None:
    assert not forward(ProxyCore(IDENTITY), request("MESSAGE")).request.has("record-route")
    assert not forward(ProxyCore(IDENTITY), request(to_tag=";tag=b1")).request.has("record-route")


def test_transport_change_gets_double_record_route() -> None:
    req = request(extra="Route: <sip:10.0.0.30:5080;transport=tcp;lr>\r\n")
    fwd = forward(ProxyCore(IDENTITY), req)
    assert fwd.request.get_all("record-route") == [
        "<sip:10.0.0.1:5060;transport=tcp;lr;r2=on>",
        "<sip:10.0.0.1:5060;lr;r2=on>",
    ]
    assert fwd.request.top_via.transport == "TCP" and fwd.hop.transport == "tcp"


def test_double_record_route_is_popped_as_a_pair() -> None:
    req = request("BYE", "sip:bob@10.0.0.30:5080;transport=tcp", to_tag=";tag=b1", extra=(
        "Route: <sip:10.0.0.1:5060;lr;r2=on>, <sip:10.0.0.1:5060;transport=tcp;lr;r2=on>\r\n"))
    popped = preprocess_routes(req, IDENTITY)
    assert len(popped) == 2 and not req.has("route")


# -- Route processing --------------------------------------------------------
def test_our_loose_route_is_popped_and_next_route_is_the_next_hop() -> None:
    req = request(extra="Route: <sip:proxy.example.com;lr>, <sip:next.example.net:5080;lr>\r\n")
    fwd = forward(ProxyCore(IDENTITY), req)
    assert fwd.request.get_all("route") == ["<sip:next.example.net:5080;lr>"]
    assert str(fwd.hop.destination) == "sip:next.example.net:5080;lr"
    assert fwd.request.uri_text == "sip:bob@example.org"


def test_strict_router_request_uri_is_fixed_from_the_last_route() -> None:
    req = request(uri="sip:10.0.0.1:5060;lr", extra=(
        "Route: <sip:next.example.net;lr>, <sip:bob@192.0.2.9:5090>\r\n"))
    fwd = forward(ProxyCore(IDENTITY), req)
    assert fwd.request.uri_text == "sip:bob@192.0.2.9:5090"
    assert fwd.request.get_all("route") == ["<sip:next.example.net;lr>"]


def test_next_hop_strict_router_gets_request_uri_appended_to_route() -> None:
    req = request(extra="Route: <sip:strict.example.net:5070>\r\n")
    fwd = forward(ProxyCore(IDENTITY), req)
    assert fwd.request.uri_text == "sip:strict.example.net:5070"
    assert fwd.request.get_all("route") == ["<sip:bob@example.org>"]
    assert str(fwd.hop.destination) == "sip:strict.example.net:5070"


def test_without_route_the_request_uri_is_the_next_hop() -> None:
    fwd = forward(ProxyCore(IDENTITY), request(uri="sip:bob@192.0.2.9:5090;transport=tcp"))
    assert fwd.hop.destination.host_port == "192.0.2.9:5090" and fwd.hop.transport == "tcp"


def test_route_hook_target_retargets_and_preloads_route() -> None:
    target = Target(uri=parse_uri("sip:bob@10.0.0.50:5062"), routes=("<sip:scscf.example:6060;lr>",))
    fwd = forward(ProxyCore(IDENTITY), request(), decision=target)
    assert fwd.request.uri_text == "sip:bob@10.0.0.50:5062"
    assert fwd.request.get("route") == "<sip:scscf.example:6060;lr>"
    assert fwd.hop.destination.host_port == "scscf.example:6060"


def test_route_hook_exact_peer_wins() -> None:
    fwd = forward(ProxyCore(IDENTITY), request(), decision=Target(peer=Peer("tcp", "::1", 6100)))
    assert fwd.hop.peer == Peer("tcp", "::1", 6100) and fwd.hop.transport == "tcp"


def test_route_hook_response_is_sent_with_a_to_tag() -> None:
    core = ProxyCore(IDENTITY)
    req = request("MESSAGE")
    actions = core.process(TXN, req, UA, 0.0, make_response(req, 403))
    assert statuses(actions) == [403] and of(actions, Respond)[0].response.to.tag
    assert of(actions, Finished) and not core.contexts


# -- requests for the proxy itself (§16.5, §11) -----------------------------
def test_options_to_self_gets_200_with_allow_accept_supported() -> None:
    actions = ProxyCore(IDENTITY).process(TXN, request("OPTIONS", "sip:proxy.example.com"), UA, 0.0)
    resp = of(actions, Respond)[0].response
    assert resp.status == 200
    assert "INVITE" in resp.get_all("allow") and "OPTIONS" in resp.get_all("allow")
    assert resp.get_all("accept") == ["application/sdp"]
    assert resp.get_all("supported") == ["path"]


def test_other_request_to_self_gets_405_or_404() -> None:
    core = ProxyCore(IDENTITY)
    assert statuses(core.process("a", request("MESSAGE", "sip:10.0.0.1"), UA, 0.0)) == [405]
    assert statuses(core.process("b", request("MESSAGE", "sip:x@10.0.0.1"), UA, 0.0)) == [404]


def test_receive_request_asks_the_tu_for_a_route() -> None:
    core = ProxyCore(IDENTITY)
    actions = core.receive_request(TXN, request("MESSAGE", extra="Route: <sip:10.0.0.1;lr>\r\n"), UA, 0.0)
    assert [type(a) for a in actions] == [Route]
    assert core.popped_routes(TXN) == ["<sip:10.0.0.1;lr>"]
    assert not of(actions, Route)[0].request.has("route")


# -- responses (§16.7) ---------------------------------------------------------
def test_invite_gets_100_trying_at_once() -> None:
    assert statuses(ProxyCore(IDENTITY).receive_request(TXN, request(), UA, 0.0)) == [100]


def test_response_is_relayed_with_our_via_popped() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request("MESSAGE"))
    actions = core.receive_response(TXN, 0, reply(fwd, 200), 0.1)
    relayed = of(actions, Respond)[0].response
    assert relayed.status == 200 and [v.sent_by for v in relayed.vias] == ["10.0.0.9:5070"]
    done = of(actions, Finished)
    assert [(d.key, d.status, d.branches) for d in done] == [(TXN, 200, 1)] and not core.contexts


def test_response_whose_top_via_is_not_ours_is_dropped() -> None:
    core = ProxyCore(IDENTITY)
    forward(core, request("MESSAGE"))
    assert core.receive_response(TXN, 0, reply(request("MESSAGE"), 200), 0.1) == []


def test_100_is_absorbed_and_180_relayed() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request())
    assert statuses(core.receive_response(TXN, 0, reply(fwd, 100, ""), 0.1)) == []
    assert statuses(core.receive_response(TXN, 0, reply(fwd, 180), 0.2)) == [180]


def test_best_response_of_a_fork_waits_for_all_branches() -> None:
    core = ProxyCore(IDENTITY)
    targets = [Target(uri=parse_uri("sip:b@10.0.0.21")), Target(uri=parse_uri("sip:b@10.0.0.22"))]
    forwards = of(core.process(TXN, request("MESSAGE"), UA, 0.0, targets), Forward)
    assert statuses(core.receive_response(TXN, 0, reply(forwards[0], 503), 0.1)) == []
    assert statuses(core.receive_response(TXN, 1, reply(forwards[1], 486), 0.2)) == [486]


def test_choose_best_prefers_6xx_then_lowest_class() -> None:
    req = request()
    pick = choose_best([make_response(req, s) for s in (500, 404, 302)])
    assert pick.status == 302
    assert choose_best([make_response(req, s) for s in (200, 603)]).status == 603
    assert choose_best([make_response(req, s) for s in (486, 407)]).status == 407


def test_only_503_becomes_500() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request("MESSAGE"))
    assert statuses(core.receive_response(TXN, 0, reply(fwd, 503), 0.1)) == [500]


def test_timeout_is_answered_408_and_transport_error_500() -> None:
    core = ProxyCore(IDENTITY)
    forward(core, request("MESSAGE"), key="a")
    forward(core, request("MESSAGE", branch="z9hG4bKb"), key="b")
    assert statuses(core.branch_failed("a", 0, Timeout("F"), 32.0)) == [408]
    assert statuses(core.branch_failed("b", 0, TransportError("refused"), 0.1)) == [500]


def test_2xx_of_one_branch_cancels_the_others() -> None:
    core = ProxyCore(IDENTITY)
    targets = [Target(uri=parse_uri("sip:b@10.0.0.21")), Target(uri=parse_uri("sip:b@10.0.0.22"))]
    forwards = of(core.process(TXN, request(), UA, 0.0, targets), Forward)
    core.receive_response(TXN, 1, reply(forwards[1], 180, ";tag=x"), 0.1)
    actions = core.receive_response(TXN, 0, reply(forwards[0], 200), 0.2)
    assert statuses(actions) == [200]
    cancels = of(actions, SendCancel)
    assert [c.branch for c in cancels] == [1]
    assert cancels[0].request.top_via.branch == forwards[1].request.top_via.branch


def test_stray_2xx_retransmission_is_relayed_by_via() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request())
    ok = reply(fwd, 200)
    core.receive_response(TXN, 0, ok, 0.1)
    again = reply(fwd, 200)
    actions = core.receive_stray_response(again)
    assert actions == [RelayStateless(again, Peer("udp", "10.0.0.9", 5070))]
    assert len(again.vias) == 1


# -- CANCEL (§16.10) -----------------------------------------------------------
def test_cancel_is_propagated_with_the_branch_via() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request())
    core.receive_response(TXN, 0, reply(fwd, 180), 0.1)
    actions = core.receive_cancel(TXN, 0.5)
    assert statuses(actions) == []
    cancel = of(actions, SendCancel)[0].request
    assert cancel.method == "CANCEL" and str(cancel.cseq) == "1 CANCEL"
    assert cancel.get_all("via") == [fwd.request.get_all("via")[0]]
    assert cancel.uri_text == fwd.request.uri_text
    final = core.receive_response(TXN, 0, reply(fwd, 487), 0.6)
    assert statuses(final) == [487] and of(final, Finished)


def test_cancel_before_any_provisional_waits_for_one() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request())
    assert core.receive_cancel(TXN, 0.1) == []
    actions = core.receive_response(TXN, 0, reply(fwd, 100, ""), 0.2)
    assert len(of(actions, SendCancel)) == 1


def test_cancel_while_routing_answers_the_invite_487() -> None:
    core = ProxyCore(IDENTITY)
    core.receive_request(TXN, request(), UA, 0.0)
    actions = core.receive_cancel(TXN, 0.1)
    assert [(a.key, a.response.status) for a in of(actions, Respond)] == [(TXN, 487)]
    assert core.route(TXN, None, 0.2) == []


def test_cancel_after_the_final_response_does_nothing() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request())
    core.receive_response(TXN, 0, reply(fwd, 486), 0.1)
    assert core.receive_cancel(TXN, 0.2) == []


def test_build_cancel_copies_route_and_request_uri() -> None:
    invite = request(extra="Route: <sip:next.example.net;lr>\r\n")
    cancel = build_cancel(invite)
    assert cancel.get_all("route") == ["<sip:next.example.net;lr>"]
    assert cancel.get("max-forwards") == "70" and cancel.to.tag is None


# -- Timer C (§16.6 step 11, §16.8) -------------------------------------------------
def test_timer_c_is_armed_for_invite_only() -> None:
    core = ProxyCore(IDENTITY, ProxyConfig(timer_c=200.0))
    timers = of(core.process("a", request(), UA, 10.0), StartTimer)
    assert [t.at for t in timers] == [210.0]
    assert not of(core.process("b", request("MESSAGE"), UA, 10.0), StartTimer)


def test_timer_c_is_reset_by_a_provisional() -> None:
    core = ProxyCore(IDENTITY)
    actions = core.process(TXN, request(), UA, 0.0)
    fwd, timer = of(actions, Forward)[0], of(actions, StartTimer)[0]
    reset = core.receive_response(TXN, 0, reply(fwd, 180), 100.0)
    assert of(reset, CancelTimer) == [CancelTimer(timer.name)]
    assert [t.at for t in of(reset, StartTimer)] == [100.0 + core.config.timer_c]


def test_timer_c_after_a_provisional_cancels_the_branch() -> None:
    core = ProxyCore(IDENTITY)
    fwd = forward(core, request())
    core.receive_response(TXN, 0, reply(fwd, 183), 1.0)
    name = core.contexts[TXN].branches[0].timer
    assert name is not None
    actions = core.handle_timer(name, 200.0)
    assert len(of(actions, SendCancel)) == 1 and statuses(actions) == []


def test_timer_c_without_a_provisional_acts_as_408() -> None:
    core = ProxyCore(IDENTITY)
    actions = core.process(TXN, request(), UA, 0.0)
    name = of(actions, StartTimer)[0].name
    fired = core.handle_timer(name, 181.0)
    assert statuses(fired) == [408] and of(fired, Finished)


# -- ACK (§16.11) ----------------------------------------------------------------
def test_ack_for_2xx_is_forwarded_statelessly_by_route() -> None:
    ack = request("ACK", "sip:bob@10.0.0.50:5062", to_tag=";tag=b1",
                  extra="Route: <sip:10.0.0.1;lr>\r\n")
    core = ProxyCore(IDENTITY)
    actions = core.process(None, ack, UA, 0.0)
    sent = of(actions, ForwardStateless)
    assert len(sent) == 1 and not of(actions, Respond)
    assert sent[0].hop.destination.host_port == "10.0.0.50:5062"
    assert sent[0].request.top_via.sent_by == "10.0.0.1:5060"
    assert not core.contexts


def test_ack_with_max_forwards_zero_is_dropped_silently() -> None:
    assert ProxyCore(IDENTITY).process(None, request("ACK", max_forwards="0"), UA, 0.0) == []


# -- identity ----------------------------------------------------------------------
@pytest.mark.parametrize(("uri", "local"), [
    ("sip:10.0.0.1", True),
    ("sip:10.0.0.1:5060;lr", True),
    ("sip:10.0.0.1:5070", False),
    ("sip:proxy.example.com", True),
    ("sips:10.0.0.1", False),
    ("sip:10.0.0.2", False),
    ("tel:+123", False),
])
def test_is_local(uri: str, local: bool) -> None:
    assert IDENTITY.is_local(parse_uri(uri)) is local


def test_ipv6_identity_uses_brackets() -> None:
    ident = LocalIdentity((LocalAddress("udp", "::1", 5062),))
    assert ident.is_local(parse_uri("sip:[::1]:5062"))
    assert str(ident.uri()) == "sip:[::1]:5062"
    uri = ident.uri()
    assert isinstance(uri, SipUri) and uri.bare_host == "::1"


def test_route_hook_response_to_an_ack_is_not_sent() -> None:
    ack = request("ACK", to_tag=";tag=b1")
    core = ProxyCore(IDENTITY)
    assert core.process(None, ack, UA, 0.0, make_response(ack, 404)) == []
    assert not core.contexts


def test_late_final_response_after_the_context_ended_is_dropped_but_2xx_relayed() -> None:
    core = ProxyCore(IDENTITY)
    actions = core.process(TXN, request(), UA, 0.0)
    fwd, timer = of(actions, Forward)[0], of(actions, StartTimer)[0]
    assert statuses(core.handle_timer(timer.name, 181.0)) == [408]
    assert core.receive_response(TXN, 0, reply(fwd, 486), 182.0) == []
    assert len(of(core.receive_response(TXN, 0, reply(fwd, 200), 183.0), RelayStateless)) == 1


def test_request_from_a_protected_port_gets_that_port_in_the_record_route_facing_it() -> None:
    """TS 33.203 §7.1: the UE's in-dialog requests must come back to the port-s it used."""
    from_port_c = Peer("udp", "10.0.0.9", 51000, None, 5100)
    actions = ProxyCore(IDENTITY).process(TXN, request(), from_port_c, 0.0)
    (fwd,) = of(actions, Forward)
    assert fwd.request.get_all("record-route") == [
        "<sip:10.0.0.1:5060;lr;r2=on>",  # facing the core (the next hop), topmost
        "<sip:10.0.0.1:5100;lr;r2=on>",  # facing the UE, which reads the route set bottom up
    ]
