"""Pure transport rules: RFC 3261 §18.1.1, §18.2.1, §18.2.2; RFC 3581 §4; RFC 5118."""

from __future__ import annotations

import socket

import pytest
from sipwire import request

from ims.sip.events import Peer
from ims.sip.message import make_response
from ims.transport.rules import (
    address_key,
    choose_transport,
    format_hostport,
    host_family,
    make_via,
    response_target,
    rewrite_top_via,
    same_address,
    stamp_received,
    udp_size_limit,
)

SRC = Peer("udp", "192.0.2.7", 40000)


# -- §18.2.1 received, RFC 3581 rport ------------------------------------------
def test_received_added_when_sent_by_differs_from_source() -> None:
    req = request(via="SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1")
    assert stamp_received(req, SRC) is True
    assert req.top_via.received == "192.0.2.7"
    assert req.get("via") == "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=192.0.2.7"


def test_no_received_when_sent_by_is_the_source() -> None:
    req = request(via="SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1")
    assert stamp_received(req, SRC) is False
    assert req.top_via.received is None


def test_received_added_for_a_host_name() -> None:
    req = request(via="SIP/2.0/UDP ue.example.com;branch=z9hG4bK1")
    stamp_received(req, SRC)
    assert req.top_via.received == "192.0.2.7"


def test_empty_rport_filled_and_received_added_even_if_equal() -> None:
    req = request(via="SIP/2.0/UDP 192.0.2.7:5060;rport;branch=z9hG4bK1")
    stamp_received(req, SRC)
    via = req.top_via
    assert via.rport == 40000
    assert via.received == "192.0.2.7"
    assert str(via) == "SIP/2.0/UDP 192.0.2.7:5060;rport=40000;branch=z9hG4bK1;received=192.0.2.7"


def test_only_the_top_via_is_stamped() -> None:
    req = request(via="SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK0")
    stamp_received(req, SRC)
    assert [v.received for v in req.vias] == ["192.0.2.7", None]
    assert req.vias[1].host == "10.0.0.2"


def test_ipv6_source_compared_by_address_not_spelling() -> None:
    req = request(via="SIP/2.0/UDP [2001:db8:0:0::1]:5060;branch=z9hG4bK1")
    assert stamp_received(req, Peer("udp", "2001:db8::1", 5060)) is False


def test_ipv6_received_is_the_bare_address() -> None:
    req = request(via="SIP/2.0/UDP [2001:db8::1]:5060;rport;branch=z9hG4bK1")
    stamp_received(req, Peer("udp", "2001:db8::9", 6000))
    assert req.top_via.received == "2001:db8::9"
    assert req.top_via.rport == 6000


# -- §18.2.2 response destination ----------------------------------------------
def test_udp_response_goes_to_received_and_rport() -> None:
    req = request(via="SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1")
    stamp_received(req, SRC)
    assert response_target(make_response(req, 200), "udp") == ("192.0.2.7", 40000)


def test_udp_response_without_rport_goes_to_sent_by_port() -> None:
    req = request(via="SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1")
    stamp_received(req, SRC)
    assert response_target(make_response(req, 200), "udp") == ("192.0.2.7", 5070)


def test_response_default_port_when_sent_by_has_none() -> None:
    req = request(via="SIP/2.0/TLS 192.0.2.7;branch=z9hG4bK1")
    assert response_target(make_response(req, 200), "tls") == ("192.0.2.7", 5061)


def test_tcp_response_ignores_rport() -> None:
    req = request(via="SIP/2.0/TCP 10.0.0.1:5062;rport;branch=z9hG4bK1")
    stamp_received(req, Peer("tcp", "192.0.2.7", 40000))
    assert response_target(make_response(req, 200), "tcp") == ("192.0.2.7", 5062)


def test_response_to_maddr() -> None:
    req = request(via="SIP/2.0/UDP 10.0.0.1:5062;maddr=192.0.2.99;branch=z9hG4bK1")
    assert response_target(make_response(req, 200), "udp") == ("192.0.2.99", 5062)


def test_response_to_ipv6_sent_by_is_unbracketed() -> None:
    req = request(via="SIP/2.0/UDP [::1]:5062;branch=z9hG4bK1")
    assert response_target(make_response(req, 200), "udp") == ("::1", 5062)


def test_response_target_none_for_unresolved_name() -> None:
    req = request(via="SIP/2.0/UDP pcscf.example.net;branch=z9hG4bK1")
    assert response_target(make_response(req, 200), "udp") is None


# -- §18.1.1 size rule ---------------------------------------------------------
def test_size_limit_is_1300_when_mtu_unknown() -> None:
    assert udp_size_limit(None) == 1300
    assert udp_size_limit(1500) == 1300
    assert udp_size_limit(9000) == 8800


def test_small_request_stays_on_udp() -> None:
    peer = Peer("udp", "127.0.0.1", 5060)
    assert choose_transport(request(), peer) is peer


def test_large_request_switches_to_tcp_same_address() -> None:
    big = request(body=b"x" * 1400, extra="Content-Type: text/plain\r\n")
    chosen = choose_transport(big, Peer("udp", "127.0.0.1", 5060, conn_id=None))
    assert chosen == Peer("tcp", "127.0.0.1", 5060)


def test_threshold_is_exclusive() -> None:
    req = request()
    size = len(req.to_bytes())
    peer = Peer("udp", "127.0.0.1", 5060)
    assert choose_transport(req, peer, mtu=size + 200).transport == "udp"
    assert choose_transport(req, peer, mtu=size + 199).transport == "tcp"


def test_no_switch_without_tcp_transport() -> None:
    big = request(body=b"x" * 2000)
    peer = Peer("udp", "127.0.0.1", 5060)
    assert choose_transport(big, peer, tcp_available=False) is peer


def test_responses_never_switch() -> None:
    resp = make_response(request(body=b"x" * 2000), 200)
    resp.body = b"y" * 2000
    peer = Peer("udp", "127.0.0.1", 5060)
    assert choose_transport(resp, peer) is peer


def test_tcp_stays_tcp() -> None:
    peer = Peer("tcp", "127.0.0.1", 5060)
    assert choose_transport(request(body=b"x" * 2000), peer) is peer


# -- Via writing, RFC 5118 -----------------------------------------------------
def test_rewrite_top_via_to_tcp_keeps_params() -> None:
    req = request(via="SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc;rport")
    rewrite_top_via(req, "tcp", "127.0.0.1", 5062)
    assert req.get("via") == "SIP/2.0/TCP 127.0.0.1:5062;branch=z9hG4bKabc;rport"


def test_rewrite_top_via_brackets_ipv6() -> None:
    req = request(via="SIP/2.0/UDP [::1]:5060;branch=z9hG4bKabc")
    rewrite_top_via(req, "tcp", "::1", 5060)
    assert req.get("via") == "SIP/2.0/TCP [::1]:5060;branch=z9hG4bKabc"
    assert req.top_via.host == "[::1]"


def test_make_via_brackets_ipv6_and_asks_rport() -> None:
    assert make_via("udp", "::1", 5060, "z9hG4bK1") == "SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1;rport"
    assert make_via("tls", "127.0.0.1", 5061, "z9hG4bK2", rport=False) == (
        "SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK2"
    )


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [("::1", 5060, "[::1]:5060"), ("[::1]", None, "[::1]"), ("10.0.0.1", 5, "10.0.0.1:5")],
)
def test_format_hostport(host: str, port: int | None, text: str) -> None:
    assert format_hostport(host, port) == text


def test_address_helpers() -> None:
    assert host_family("[::1]") == socket.AF_INET6
    assert host_family("127.0.0.1") == socket.AF_INET
    assert address_key("[0:0::1]") == "::1"
    assert same_address("Host.Example", "host.example")
    assert not same_address("127.0.0.1", "127.0.0.2")
