"""RFC 3261 §17 transactions with RFC 6026: client and server pairs over a fake network.

Times are the fake clock's seconds: T1 = 0.5, so 64*T1 = 32 (Timers B, F,
H, J, L, M); T2 = 4; T4 = 5. Expected retransmission schedules follow the
RFC text: Timer A doubles (§17.1.1.2), Timers E and G double up to T2
(§17.1.2.2, §17.2.1).
"""

from __future__ import annotations

import pytest
from fakes import ClientSide, FakeNetwork, ServerSide

from ims.sip.events import CancelTimer, Peer, Send, StartTimer, Terminated, TransportError
from ims.sip.message import Request, Response, build_request, make_response
from ims.sip.transaction import (
    T1,
    T2,
    T4,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    Event,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    State,
    Timers,
    TransactionStateError,
    build_ack,
    cancel_target_key,
    client_key,
    needs_immediate_trying,
    new_client_transaction,
    new_server_transaction,
    server_key,
)
from ims.sip.transaction_tables import (
    CLIENT_INVITE_TRANSITIONS,
    CLIENT_NON_INVITE_TRANSITIONS,
    SERVER_INVITE_TRANSITIONS,
    SERVER_NON_INVITE_TRANSITIONS,
)

BRANCH = "z9hG4bK-7f3a"
UDP_PEER = Peer("udp", "192.0.2.2", 5060)
ROUTES = ("<sip:pcscf.ims.example.org;lr>", "<sip:scscf.ims.example.org;lr>")


def make_request(method: str = "INVITE", *, branch: str | None = BRANCH,
                 via_host: str = "192.0.2.1", cseq_method: str | None = None,
                 to_tag: str | None = None, from_tag: str = "uac-tag",
                 call_id: str = "call-1@192.0.2.1", routes: tuple[str, ...] = ()) -> Request:
    """A request as a UAC behind one proxy would send it (two Via values)."""
    via = f"SIP/2.0/UDP {via_host}:5060" + (f";branch={branch}" if branch else "")
    headers = [("Via", via), ("Via", "SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bK-ua")]
    headers += [("Route", route) for route in routes]
    headers += [
        ("Max-Forwards", "69"),
        ("From", f"<sip:alice@ims.example.org>;tag={from_tag}"),
        ("To", "<sip:bob@ims.example.org>" + (f";tag={to_tag}" if to_tag else "")),
        ("Call-ID", call_id),
        ("CSeq", f"1 {cseq_method or method}"),
    ]
    return build_request(method, "sip:bob@ims.example.org", headers, b"v=0\r\n")


def client_and_server(method: str = "INVITE",
                      transport: str = "udp") -> tuple[FakeNetwork, ClientSide, ServerSide]:
    """A started client transaction whose request already reached the server."""
    net = FakeNetwork()
    client = net.client(make_request(method), transport)
    server = net.server(transport)
    client.start()
    net.transfer(client, server)
    return net, client, server


def server_alone(method: str = "INVITE", transport: str = "udp") -> tuple[FakeNetwork, ServerSide]:
    """A server side that received ``method``; nothing flows back."""
    net = FakeNetwork()
    server = net.server(transport)
    server.receive(make_request(method))
    return net, server


def statuses(messages: list[Request | Response]) -> list[int | str]:
    return [m.status if isinstance(m, Response) else m.method for m in messages]


# -- timer values (RFC 3261 Table 4, RFC 6026 §7) -------------------------------
def test_rfc_default_timer_bases() -> None:
    assert (T1, T2, T4) == (0.5, 4.0, 5.0)


def test_transaction_lifetime_timers_are_64_t1() -> None:
    timers = Timers()
    assert {n: timers.duration(n, reliable=False) for n in "BFHJLM"} == dict.fromkeys("BFHJLM", 32.0)


def test_reliable_transport_zeroes_timers_d_i_j_k() -> None:
    timers = Timers()
    assert [timers.duration(n, reliable=True) for n in "DIJK"] == [0.0, 0.0, 0.0, 0.0]


def test_unreliable_transport_timers_d_i_k() -> None:
    timers = Timers()
    assert [timers.duration(n, reliable=False) for n in "DIK"] == [32.0, 5.0, 5.0]


def test_reliable_transport_has_no_retransmission_timers() -> None:
    assert [Timers().duration(n, reliable=True) for n in "AEG"] == [None, None, None]


def test_timers_scale_with_configured_t1() -> None:
    txn = ClientInviteTransaction(make_request(), UDP_PEER, timers=Timers(t1=0.25))
    assert txn.start(now=100.0)[1:] == [StartTimer("A", 100.25), StartTimer("B", 116.0)]


def test_unknown_timer_letter_is_rejected() -> None:
    with pytest.raises(ValueError, match="'C'"):
        Timers().duration("C", reliable=False)


# -- INVITE client transaction (§17.1.1) ---------------------------------------
def test_invite_client_start_sends_and_arms_a_and_b() -> None:
    txn = ClientInviteTransaction(make_request(), UDP_PEER)
    actions = txn.start(now=10.0)
    assert actions == [Send(txn.request, UDP_PEER), StartTimer("A", 10.5), StartTimer("B", 42.0)]


def test_invite_client_timer_a_doubles_without_cap() -> None:
    net, client, _ = client_and_server()
    net.clock.advance(64 * T1 - 0.1)
    assert client.sent_times("INVITE") == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]


def test_invite_client_timer_b_times_out_at_64_t1() -> None:
    net, client, _ = client_and_server()
    net.clock.advance(64 * T1)
    assert (client.timeouts, client.txn.state) == (["B"], State.TERMINATED)


def test_invite_client_timeout_leaves_no_timer_armed() -> None:
    net, client, _ = client_and_server()
    net.clock.advance(64 * T1)
    assert net.clock.pending() == []


def test_invite_client_over_tcp_does_not_retransmit() -> None:
    net, client, _ = client_and_server(transport="tcp")
    net.clock.advance(64 * T1 - 0.1)
    assert client.sent_times("INVITE") == [0.0]


def test_invite_client_over_tcp_still_times_out_on_b() -> None:
    net, client, _ = client_and_server(transport="tcp")
    net.clock.advance(64 * T1)
    assert client.timeouts == ["B"]


def test_invite_client_provisional_stops_retransmissions_and_timer_b() -> None:
    net, client, server = client_and_server()
    server.respond(180)
    net.transfer(server, client)
    net.clock.advance(10 * 64 * T1)
    assert (client.sent_times("INVITE"), client.timeouts) == ([0.0], [])


def test_invite_client_delivers_every_provisional() -> None:
    net, client, server = client_and_server()
    server.respond(100)
    server.respond(180)
    server.respond(183)
    net.transfer(server, client)
    assert (statuses(client.delivered), client.txn.state) == ([100, 180, 183], State.PROCEEDING)


def test_invite_client_acks_non_2xx_itself() -> None:
    net, client, server = client_and_server()
    server.respond(486)
    net.transfer(server, client)
    assert (statuses(client.delivered), statuses(client.outbox)) == ([486], ["ACK"])


def test_invite_client_ack_copies_uri_call_id_from_and_cseq_number() -> None:
    invite = make_request(routes=ROUTES)
    ack = build_ack(invite, make_response(invite, 404, to_tag="t1"))
    assert (ack.method, ack.uri_text, ack.call_id, ack.get("from"), ack.get("cseq")) == (
        "ACK", "sip:bob@ims.example.org", "call-1@192.0.2.1",
        "<sip:alice@ims.example.org>;tag=uac-tag", "1 ACK")


def test_invite_client_ack_takes_to_with_tag_from_the_response() -> None:
    invite = make_request()
    ack = build_ack(invite, make_response(invite, 404, to_tag="t1"))
    assert (ack.get("to"), ack.to.tag) == ("<sip:bob@ims.example.org>;tag=t1", "t1")


def test_invite_client_ack_has_only_the_top_via_of_the_invite() -> None:
    invite = make_request()
    ack = build_ack(invite, make_response(invite, 404, to_tag="t1"))
    assert ack.get_all("via") == [f"SIP/2.0/UDP 192.0.2.1:5060;branch={BRANCH}"]


def test_invite_client_ack_carries_the_invite_routes() -> None:
    invite = make_request(routes=ROUTES)
    ack = build_ack(invite, make_response(invite, 404, to_tag="t1"))
    assert ack.get_all("route") == list(ROUTES)


def test_invite_client_ack_has_max_forwards_70_and_no_body() -> None:
    invite = make_request()
    ack = build_ack(invite, make_response(invite, 404, to_tag="t1"))
    assert (ack.max_forwards, ack.body) == (70, b"")


def test_invite_client_ack_reaches_the_server_transaction() -> None:
    net, client, server = client_and_server()
    server.respond(486)
    net.roundtrip(client, server)
    assert (server.txn.state, server.strays) == (State.CONFIRMED, [])


def test_invite_client_resends_ack_for_retransmitted_final() -> None:
    net, client, server = client_and_server()
    final = server.respond(486)
    net.transfer(server, client)
    client.receive(final)
    assert (statuses(client.outbox), statuses(client.delivered)) == (["ACK", "ACK"], [486])


def test_invite_client_timer_d_is_32s_on_udp() -> None:
    net, client, server = client_and_server()
    server.respond(486)
    net.transfer(server, client)
    assert client.txn.armed_timers == {"D": 32.0}


def test_invite_client_timer_d_terminates() -> None:
    net, client, server = client_and_server()
    server.respond(486)
    net.transfer(server, client)
    net.clock.advance(32.0)
    assert client.terminated == [client.txn.key]


def test_invite_client_over_tcp_terminates_on_final_at_once() -> None:
    net, client, server = client_and_server(transport="tcp")
    server.respond(486)
    net.transfer(server, client)
    assert (client.txn.state, statuses(client.outbox)) == (State.TERMINATED, ["ACK"])


def test_invite_client_2xx_enters_accepted_with_timer_m() -> None:
    net, client, server = client_and_server()
    server.respond(200)
    net.transfer(server, client)
    assert (client.txn.state, client.txn.armed_timers) == (State.ACCEPTED, {"M": 32.0})


def test_invite_client_does_not_ack_2xx() -> None:
    net, client, server = client_and_server()
    server.respond(200)
    net.transfer(server, client)
    assert (statuses(client.delivered), client.outbox) == ([200], [])


def test_invite_client_passes_2xx_retransmissions_to_tu_in_accepted() -> None:
    net, client, server = client_and_server()
    ok = server.respond(200)
    net.transfer(server, client)
    client.receive(ok)
    assert statuses(client.delivered) == [200, 200]


def test_invite_client_absorbs_late_provisional_in_accepted() -> None:
    net, client, server = client_and_server()
    server.respond(200)
    net.transfer(server, client)
    client.receive(make_response(client.txn.request, 180, to_tag="uas-tag"))
    assert statuses(client.delivered) == [200]


def test_invite_client_timer_m_terminates_accepted() -> None:
    net, client, server = client_and_server()
    server.respond(200)
    net.transfer(server, client)
    net.clock.advance(64 * T1)
    assert (client.txn.state, client.timeouts) == (State.TERMINATED, [])


# -- non-INVITE client transaction (§17.1.2) -----------------------------------
def test_non_invite_client_timer_e_doubles_up_to_t2() -> None:
    net, client, _ = client_and_server("MESSAGE")
    net.clock.advance(64 * T1 - 0.1)
    assert client.sent_times("MESSAGE") == [
        0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def test_non_invite_client_timer_f_times_out_at_64_t1() -> None:
    net, client, _ = client_and_server("MESSAGE")
    net.clock.advance(64 * T1)
    assert (client.timeouts, client.txn.state) == (["F"], State.TERMINATED)


def test_non_invite_client_retransmits_every_t2_in_proceeding() -> None:
    net, client, server = client_and_server("MESSAGE")
    net.clock.advance(0.25)
    server.respond(100)
    net.transfer(server, client)
    net.clock.advance(64 * T1 - 0.35)
    assert client.sent_times("MESSAGE") == [0.0, 0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]


def test_non_invite_client_over_tcp_does_not_retransmit() -> None:
    net, client, _ = client_and_server("MESSAGE", transport="tcp")
    net.clock.advance(64 * T1 - 0.1)
    assert client.sent_times() == [0.0]


def test_non_invite_client_final_enters_completed_with_timer_k() -> None:
    net, client, server = client_and_server("MESSAGE")
    server.respond(202)
    net.transfer(server, client)
    assert (client.txn.state, client.txn.armed_timers) == (State.COMPLETED, {"K": T4})


def test_non_invite_client_absorbs_retransmitted_final() -> None:
    net, client, server = client_and_server("MESSAGE")
    final = server.respond(202)
    net.transfer(server, client)
    client.receive(final)
    assert (statuses(client.delivered), client.outbox) == ([202], [])


def test_non_invite_client_timer_k_terminates() -> None:
    net, client, server = client_and_server("MESSAGE")
    server.respond(202)
    net.transfer(server, client)
    net.clock.advance(T4)
    assert client.terminated == [client.txn.key]


def test_non_invite_client_over_tcp_terminates_on_final_at_once() -> None:
    net, client, server = client_and_server("MESSAGE", transport="tcp")
    server.respond(202)
    net.transfer(server, client)
    assert (client.txn.state, statuses(client.delivered)) == (State.TERMINATED, [202])


# -- INVITE server transaction (§17.2.1, RFC 6026 §7.1) -------------------------
def test_invite_server_start_returns_no_actions() -> None:
    txn = ServerInviteTransaction(make_request(), UDP_PEER)
    assert (txn.start(now=0.0), txn.state) == ([], State.PROCEEDING)


def test_trying_is_sent_at_once_for_invite_only() -> None:
    assert (needs_immediate_trying(make_request("INVITE")),
            needs_immediate_trying(make_request("MESSAGE"))) == (True, False)


def test_invite_server_resends_last_provisional_on_retransmission() -> None:
    net, server = server_alone()
    server.respond(100)
    server.respond(180)
    server.receive(make_request())
    assert statuses(server.outbox) == [100, 180, 180]


def test_invite_server_sends_nothing_for_retransmission_before_any_response() -> None:
    net, client, server = client_and_server()
    net.clock.advance(T1)
    net.transfer(client, server)
    assert (server.outbox, len(server.requests)) == ([], 1)


def test_invite_server_timer_g_doubles_up_to_t2() -> None:
    net, server = server_alone()
    server.respond(486)
    net.clock.advance(64 * T1 - 0.1)
    assert server.sent_times(486) == [
        0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]


def test_invite_server_timer_h_reports_missing_ack() -> None:
    net, server = server_alone()
    server.respond(486)
    net.clock.advance(64 * T1)
    assert (server.timeouts, server.transactions) == (["H"], {})


def test_invite_server_resends_final_on_retransmission_in_completed() -> None:
    net, server = server_alone()
    server.respond(486)
    server.receive(make_request())
    assert statuses(server.outbox) == [486, 486]


def test_invite_server_ack_stops_timer_g_and_arms_timer_i() -> None:
    net, server = server_alone()
    server.respond(486)
    actions = server.txn.receive_request(make_request("ACK"), now=1.0)
    assert actions == [CancelTimer("G"), CancelTimer("H"), StartTimer("I", 1.0 + T4)]


def test_invite_server_confirmed_absorbs_acks_and_invites() -> None:
    net, server = server_alone()
    server.respond(486)
    for method in ("ACK", "ACK", "INVITE"):
        server.receive(make_request(method))
    assert (statuses(server.outbox), server.txn.state) == ([486], State.CONFIRMED)


def test_invite_server_timer_i_terminates_confirmed() -> None:
    net, server = server_alone()
    server.respond(486)
    server.receive(make_request("ACK"))
    net.clock.advance(T4)
    assert (server.terminated, server.timeouts) == ([server_key(make_request())], [])


def test_invite_server_over_tcp_does_not_retransmit_final() -> None:
    net, server = server_alone(transport="tcp")
    server.respond(486)
    net.clock.advance(64 * T1 - 0.1)
    assert server.sent_times(486) == [0.0]


def test_invite_server_over_tcp_terminates_on_ack_at_once() -> None:
    net, server = server_alone(transport="tcp")
    txn = server.txn
    server.respond(486)
    server.receive(make_request("ACK"))
    assert txn.state is State.TERMINATED


def test_invite_server_2xx_enters_accepted_with_timer_l() -> None:
    net, server = server_alone()
    server.respond(200)
    assert (server.txn.state, server.txn.armed_timers) == (State.ACCEPTED, {"L": 32.0})


def test_invite_server_does_not_retransmit_2xx_itself() -> None:
    net, server = server_alone()
    server.respond(200)
    net.clock.advance(64 * T1 - 0.1)
    assert server.sent_times(200) == [0.0]


def test_invite_server_sends_tu_2xx_retransmissions_in_accepted() -> None:
    net, server = server_alone()
    ok = server.respond(200)
    net.clock.advance(0.5)
    server.perform(server.txn, server.txn.send_response(ok, net.clock.now))
    assert server.sent_times(200) == [0.0, 0.5]


def test_invite_server_absorbs_invite_retransmission_in_accepted() -> None:
    net, server = server_alone()
    server.respond(200)
    server.receive(make_request())
    assert (statuses(server.outbox), len(server.requests)) == ([200], 1)


def test_invite_server_passes_ack_to_tu_in_accepted() -> None:
    net, server = server_alone()
    server.respond(200)
    server.receive(make_request("ACK", to_tag="uas-tag"))
    assert statuses(server.delivered) == ["ACK"]


def test_invite_server_timer_l_terminates_accepted() -> None:
    net, server = server_alone()
    txn = server.txn
    server.respond(200)
    net.clock.advance(64 * T1)
    assert (txn.state, server.timeouts) == (State.TERMINATED, [])


def test_unmatched_ack_for_2xx_goes_to_the_tu_not_a_transaction() -> None:
    net, server = server_alone()
    server.respond(200)
    server.receive(make_request("ACK", branch="z9hG4bK-new-for-2xx-ack", to_tag="uas-tag"))
    assert (statuses(server.strays), server.delivered) == (["ACK"], [])


# -- non-INVITE server transaction (§17.2.2) -----------------------------------
def test_non_invite_server_trying_absorbs_retransmission() -> None:
    net, server = server_alone("MESSAGE")
    server.receive(make_request("MESSAGE"))
    assert (server.outbox, server.txn.state) == ([], State.TRYING)


def test_non_invite_server_proceeding_resends_provisional() -> None:
    net, server = server_alone("MESSAGE")
    server.respond(100)
    server.receive(make_request("MESSAGE"))
    assert statuses(server.outbox) == [100, 100]


def test_non_invite_server_completed_resends_final() -> None:
    net, server = server_alone("MESSAGE")
    server.respond(100)
    server.respond(202)
    server.receive(make_request("MESSAGE"))
    assert statuses(server.outbox) == [100, 202, 202]


def test_non_invite_server_discards_second_final() -> None:
    net, server = server_alone("MESSAGE")
    server.respond(202)
    server.respond(500)
    assert (statuses(server.outbox), server.txn.last_response.status) == ([202], 202)  # type: ignore[union-attr]


def test_non_invite_server_timer_j_is_64_t1_on_udp() -> None:
    net, server = server_alone("MESSAGE")
    server.respond(202)
    assert server.txn.armed_timers == {"J": 64 * T1}


def test_non_invite_server_timer_j_terminates() -> None:
    net, server = server_alone("MESSAGE")
    server.respond(202)
    net.clock.advance(64 * T1)
    assert server.terminated == [server_key(make_request("MESSAGE"))]


def test_non_invite_server_over_tcp_terminates_on_final_at_once() -> None:
    txn = ServerNonInviteTransaction(make_request("MESSAGE"), Peer("tcp", "192.0.2.1", 5060))
    final = make_response(txn.request, 202, to_tag="x")
    assert txn.send_response(final, now=3.0) == [Send(final, txn.peer), Terminated(txn.key)]


# -- transport errors (§17.1.4, §17.2.4) ---------------------------------------
def test_client_transport_error_informs_tu_and_terminates() -> None:
    net, client, _ = client_and_server()
    client.perform(client.txn, client.txn.transport_error(now=0.1))
    assert (len(client.transport_errors), client.txn.state) == (1, State.TERMINATED)


def test_client_transport_error_cancels_its_timers() -> None:
    txn = ClientInviteTransaction(make_request(), UDP_PEER)
    txn.start(now=0.0)
    actions = txn.transport_error(now=0.1)
    assert [a for a in actions if not isinstance(a, TransportError)] == [
        CancelTimer("A"), CancelTimer("B"), Terminated(txn.key)]


def test_server_transport_error_informs_tu_and_terminates() -> None:
    net, server = server_alone()
    txn = server.txn
    server.respond(486)
    server.perform(txn, txn.transport_error(now=0.2))
    assert (len(server.transport_errors), txn.state, net.clock.pending()) == (
        1, State.TERMINATED, [])


# -- keys (§17.1.3, §17.2.3, §9.2) ---------------------------------------------
def test_server_key_is_branch_sent_by_and_method() -> None:
    assert server_key(make_request()) == (BRANCH, "192.0.2.1:5060", "INVITE")


def test_server_key_sent_by_host_is_case_insensitive() -> None:
    assert server_key(make_request(via_host="Proxy.IMS.example.org")) == server_key(
        make_request(via_host="proxy.ims.example.org"))


def test_server_key_maps_ack_to_invite() -> None:
    assert server_key(make_request("ACK", to_tag="uas-tag")) == server_key(make_request())


def test_server_key_of_cancel_differs_from_invite() -> None:
    assert server_key(make_request("CANCEL")) != server_key(make_request())


def test_cancel_target_key_matches_the_invite() -> None:
    assert cancel_target_key(make_request("CANCEL")) == server_key(make_request())


def test_cancel_creates_its_own_server_transaction_next_to_the_invite() -> None:
    net, server = server_alone()
    cancel = make_request("CANCEL")
    server.receive(cancel)
    assert (server.transactions[cancel_target_key(cancel)].request.method,
            server.transactions[server_key(cancel)].request.method) == ("INVITE", "CANCEL")


def test_rfc2543_key_without_magic_cookie() -> None:
    key = server_key(make_request(branch="1a2b3c"))
    assert key[0] == "rfc2543" and "call-1@192.0.2.1" in key


def test_rfc2543_key_without_branch_matches_retransmission() -> None:
    assert server_key(make_request(branch=None)) == server_key(make_request(branch=None))


def test_rfc2543_key_distinguishes_from_tag() -> None:
    assert server_key(make_request(branch=None)) != server_key(
        make_request(branch=None, from_tag="other"))


def test_rfc2543_ack_with_response_to_tag_matches_invite() -> None:
    ack = make_request("ACK", branch=None, to_tag="uas-tag")
    assert server_key(ack) == server_key(make_request(branch=None))


def test_rfc2543_non_invite_key_includes_to_tag() -> None:
    assert server_key(make_request("BYE", branch=None, to_tag="a")) != server_key(
        make_request("BYE", branch=None, to_tag="b"))


def test_rfc2543_cancel_target_key_matches_invite() -> None:
    cancel = make_request("CANCEL", branch=None)
    assert cancel_target_key(cancel) == server_key(make_request(branch=None))


def test_rfc2543_retransmission_is_absorbed_by_its_transaction() -> None:
    net = FakeNetwork()
    server = net.server()
    server.receive(make_request(branch=None))
    server.respond(100)
    server.receive(make_request(branch=None))
    assert (len(server.requests), statuses(server.outbox)) == (1, [100, 100])


def test_client_key_is_branch_and_cseq_method() -> None:
    assert client_key(make_request()) == (BRANCH, "INVITE")


def test_response_to_cancel_does_not_match_invite_client_transaction() -> None:
    net, client, _ = client_and_server()
    client.receive(make_response(make_request("CANCEL"), 200, to_tag="x"))
    assert (statuses(client.strays), client.delivered) == ([200], [])


# -- illegal inputs ------------------------------------------------------------
def test_response_after_terminated_raises() -> None:
    txn = ServerNonInviteTransaction(make_request("MESSAGE"), Peer("tcp", "192.0.2.1", 5060))
    txn.send_response(make_response(txn.request, 202, to_tag="x"), now=0.0)
    with pytest.raises(TransactionStateError, match="ServerNonInviteTransaction.*TERMINATED"):
        txn.send_response(make_response(txn.request, 202, to_tag="x"), now=0.1)


def test_provisional_after_final_raises_and_keeps_state() -> None:
    txn = ServerInviteTransaction(make_request(), UDP_PEER)
    txn.send_response(make_response(txn.request, 486, to_tag="x"), now=0.0)
    with pytest.raises(TransactionStateError) as info:
        txn.send_response(make_response(txn.request, 180, to_tag="x"), now=0.1)
    assert (info.value.state, info.value.event, txn.state) == (
        State.COMPLETED, Event.SEND_1XX, State.COMPLETED)


def test_state_error_hints_500() -> None:
    error = TransactionStateError(State.TERMINATED, Event.RECV_ACK, "ServerInviteTransaction")
    assert (error.status_hint, str(error)) == (
        500, "ServerInviteTransaction cannot handle 'ACK from transport' in state TERMINATED")


def test_start_twice_raises() -> None:
    txn = ClientNonInviteTransaction(make_request("OPTIONS"), UDP_PEER)
    txn.start(now=0.0)
    with pytest.raises(TransactionStateError, match="already started"):
        txn.start(now=0.1)


def test_response_before_start_raises() -> None:
    txn = ClientInviteTransaction(make_request(), UDP_PEER)
    with pytest.raises(TransactionStateError, match="not been started"):
        txn.receive_response(make_response(txn.request, 180), now=0.0)


def test_timer_that_is_not_armed_raises() -> None:
    txn = ClientInviteTransaction(make_request(), UDP_PEER)
    txn.start(now=0.0)
    txn.receive_response(make_response(txn.request, 180), now=0.1)
    with pytest.raises(TransactionStateError, match="Timer A is not armed"):
        txn.handle_timer("A", now=0.5)


def test_ack_on_non_invite_server_transaction_raises() -> None:
    txn = ServerNonInviteTransaction(make_request("MESSAGE"), UDP_PEER)
    with pytest.raises(TransactionStateError, match="ACK from transport"):
        txn.receive_request(make_request("ACK"), now=0.0)


@pytest.mark.parametrize("table", [CLIENT_INVITE_TRANSITIONS, CLIENT_NON_INVITE_TRANSITIONS,
                                   SERVER_INVITE_TRANSITIONS, SERVER_NON_INVITE_TRANSITIONS])
def test_every_live_state_accepts_transport_error_and_terminated_nothing(table: object) -> None:
    assert isinstance(table, dict)
    live = {s: Event.TRANSPORT_ERROR in events for s, events in table.items()
            if s is not State.TERMINATED}
    assert (all(live.values()), table[State.TERMINATED]) == (True, {})


# -- factories -----------------------------------------------------------------
def test_factories_choose_invite_or_non_invite_machines() -> None:
    kinds: list[type] = [type(new_client_transaction(make_request(m), UDP_PEER)) for m in ("INVITE", "BYE")]
    kinds += [type(new_server_transaction(make_request(m), UDP_PEER)) for m in ("INVITE", "BYE")]
    assert kinds == [ClientInviteTransaction, ClientNonInviteTransaction,
                     ServerInviteTransaction, ServerNonInviteTransaction]


@pytest.mark.parametrize("factory", [new_client_transaction, new_server_transaction])
def test_ack_never_creates_a_transaction(factory: object) -> None:
    assert callable(factory)
    with pytest.raises(ValueError, match="ACK"):
        factory(make_request("ACK"), UDP_PEER)


@pytest.mark.parametrize("machine", [ClientInviteTransaction, ClientNonInviteTransaction,
                                     ServerInviteTransaction, ServerNonInviteTransaction])
def test_every_timer_living_in_a_state_has_a_rule_there(
    machine: type[ClientTransaction | ServerTransaction],
) -> None:
    missing = [(state, name) for state, names in machine.STATE_TIMERS.items() for name in names
               if Event[f"TIMER_{name}"] not in machine.TRANSITIONS[state]]
    assert missing == []
