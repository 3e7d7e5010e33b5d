"""Verdicts on received bytes: deliver, answer with 400/505/513, or drop (RFC 3261 §8.2, §18.2.1)."""

from __future__ import annotations

from sipwire import request_bytes

from ims.sip.events import Peer
from ims.sip.message import Limits, Request, Response
from ims.transport.inbound import receive

SRC = Peer("udp", "127.0.0.1", 40000)
LIMITS = Limits()


def test_good_request_is_delivered_stamped() -> None:
    verdict = receive(request_bytes(via="SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK1;rport"), SRC, LIMITS)
    assert isinstance(verdict.message, Request)
    assert verdict.error is None and verdict.reply is None
    assert verdict.message.top_via.received == "127.0.0.1"
    assert verdict.message.top_via.rport == 40000


def test_good_response_is_delivered() -> None:
    data = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n"
            b"Content-Length: 0\r\n\r\n")
    verdict = receive(data, SRC, LIMITS)
    assert isinstance(verdict.message, Response)
    assert verdict.message.status == 200


def test_bad_header_line_answered_400_with_reason() -> None:
    data = request_bytes(extra="This is not a header\r\n")
    verdict = receive(data, SRC, LIMITS)
    assert verdict.message is None
    reply = verdict.reply
    assert reply is not None
    assert reply.status == 400
    assert reply.reason == "Bad header line 'This is not a header'"
    assert reply.call_id == "call-1@test"
    assert str(reply.cseq) == "1 OPTIONS"
    assert reply.to.tag is not None
    assert reply.from_.tag == "a1"


def test_unparsed_reply_gets_rport_routing_headers_copied() -> None:
    data = request_bytes(via="SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKq;rport", extra="Bad\r\n")
    reply = receive(data, SRC, LIMITS).reply
    assert reply is not None
    assert [str(v) for v in reply.vias] == ["SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKq;rport"]


def test_validation_failure_answered_with_reason() -> None:
    data = request_bytes().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE")
    reply = receive(data, SRC, LIMITS).reply
    assert reply is not None
    assert (reply.status, reply.reason) == (400, "CSeq method does not match request method")
    assert (reply.top_via.received, reply.top_via.rport) == ("127.0.0.1", 40000)


def test_wrong_version_answered_505() -> None:
    data = request_bytes().replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1)
    reply = receive(data, SRC, LIMITS).reply
    assert reply is not None
    assert (reply.status, reply.reason) == (505, "Version Not Supported")


def test_too_large_answered_513() -> None:
    data = request_bytes(body=b"x" * 3000)
    reply = receive(data, SRC, Limits(max_message_size=2000)).reply
    assert reply is not None
    assert (reply.status, reply.reason) == (513, "Message Too Large")
    assert reply.call_id == "call-1@test"


def test_missing_call_id_is_dropped() -> None:
    data = request_bytes().replace(b"Call-ID: call-1@test\r\n", b"")
    verdict = receive(data, SRC, LIMITS)
    assert verdict.message is None and verdict.reply is None
    assert verdict.error is not None and verdict.error.reason == "Missing Call-ID"


def test_malformed_ack_is_never_answered() -> None:
    data = request_bytes("ACK", extra="garbage line\r\n")
    verdict = receive(data, SRC, LIMITS)
    assert verdict.reply is None and verdict.error is not None


def test_malformed_response_is_dropped() -> None:
    data = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n\r\n"
    verdict = receive(data, SRC, LIMITS)
    assert verdict.message is None and verdict.reply is None
    assert verdict.error is not None


def test_garbage_is_dropped() -> None:
    verdict = receive(b"\x00\x01\x02 hello", SRC, LIMITS)
    assert verdict.message is None and verdict.reply is None and verdict.error is not None
