"""SIP messages: parsing, header access and mutation, serialisation, limits, validation
(RFC 3261 §7, §8.2, §20; RFC 5118 §4)."""

from __future__ import annotations

import pytest

from ims.sip.errors import SipLimitError, SipParseError
from ims.sip.message import (
    Limits,
    Request,
    Response,
    build_request,
    canonical_key,
    display_name_for,
    make_response,
    parse_message,
    validate_request,
    validate_response,
)
from ims.sip.uri import SipUri, parse_uri

INVITE = (
    b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
    b"v: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.com>\r\n"
    b"f: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"i: a84b4c76e66710@pc33.atlanta.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"m: <sip:alice@pc33.atlanta.com>\r\n"
    b"Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>\r\n"
    b"X-Custom:  Some  Value \r\n"
    b"Timestamp: 54\r\n"
    b"c: application/sdp\r\n"
    b"l: 5\r\n\r\n"
    b"v=0\r\n"
)


def parse_request(data: bytes = INVITE) -> Request:
    msg = parse_message(data)
    assert isinstance(msg, Request)
    return msg


# -- parsing and reading ---------------------------------------------------------------
def test_request_line_and_lazy_uri() -> None:
    req = parse_request()
    assert (req.method, req.uri_text, req.version) == ("INVITE", "sip:bob@biloxi.com", "SIP/2.0")
    assert isinstance(req.uri, SipUri) and req.uri.user == "bob"


def test_compact_and_full_names_are_one_header() -> None:
    req = parse_request()
    assert req.call_id == "a84b4c76e66710@pc33.atlanta.com"
    assert req.from_.tag == "1928301774"
    assert req.content_type == "application/sdp"
    assert [v.host for v in req.vias] == ["pc33.atlanta.com", "10.0.0.1", "10.0.0.2"]
    assert req.count("Via") == 3
    assert req.header_values("VIA")[1] == "SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2"
    assert canonical_key("I") == "call-id"
    assert display_name_for("call-id") == "Call-ID"
    assert display_name_for("x-custom") == "X-Custom"


def test_list_header_values_split_at_commas() -> None:
    req = parse_request()
    assert req.get_all("route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert req.get("route") == "<sip:p1.example.com;lr>"
    assert [r.uri.host for r in req.routes if isinstance(r.uri, SipUri)] == ["p1.example.com", "p2.example.com"]


def test_unknown_header_value_is_trimmed_but_raw_line_is_kept() -> None:
    req = parse_request()
    assert req.get("x-custom") == "Some  Value"
    assert b"X-Custom:  Some  Value \r\n" in req.to_bytes()


def test_missing_header_reads_as_default() -> None:
    req = parse_request()
    assert req.get("subject") is None
    assert req.get("subject", "x") == "x"
    assert req.has("subject") is False
    assert req.expires is None


def test_folded_header_is_unfolded_with_one_space() -> None:
    req = parse_request(INVITE.replace(b"Max-Forwards: 70\r\n", b"Subject: one\r\n \t two\r\n  three\r\nMax-Forwards: 70\r\n"))
    assert req.get("subject") == "one two three"
    assert b"Subject: one\r\n \t two\r\n  three\r\n" in req.to_bytes()


def test_leading_crlfs_are_skipped() -> None:
    assert parse_request(b"\r\n\r\n" + INVITE).method == "INVITE"


def test_bare_lf_message_is_accepted() -> None:
    req = parse_request(INVITE.replace(b"\r\n", b"\n").replace(b"l: 5", b"l: 4"))
    assert req.call_id == "a84b4c76e66710@pc33.atlanta.com"
    assert req.body == b"v=0\n"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "Missing empty line after headers"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", "Missing empty line after headers"),
        (b"INVITE sip:a@b SIP/2.0\r\nTo: a\rb\r\n\r\n", "Bare CR or LF in header"),
        (b"INVITE sip:a@b SIP/2.0\r\nTo: a\nFrom: b\r\n\r\n", "Bare CR or LF in header"),
        (b"INVITE sip:a@b SIP/2.0\r\n folded\r\n\r\n", "Continuation line before first header"),
        (b"INVITE sip:a@b SIP/2.0\r\nNoColon\r\n\r\n", "Bad header line"),
        (b"INVITE sip:a@b SIP/2.0\r\n: value\r\n\r\n", "Bad header line"),
        (b"INVITE sip:a@b SIP/2.0\r\nBad Name: v\r\n\r\n", "Bad header name"),
        (b"INVITE sip:a@b SIP/2.0\r\nT\xc3\xa9: v\r\n\r\n", "Bad header name"),
        (b"IN/VITE sip:a@b SIP/2.0\r\n\r\n", "Bad method"),
        (b"INVITE sip:a@b SIP/2\r\n\r\n", "Bad SIP-Version"),
        (b"INVITE sip:a@b\r\n\r\n", "Bad Request-Line"),
        (b"INVITE\tsip:a@b SIP/2.0\r\n\r\n", "Bad Request-Line"),
        (b"SIP/2.0 20 OK\r\n\r\n", "Bad Status-Code"),
        (b"SIP/2.0 099 Odd\r\n\r\n", "Bad Status-Code"),
        (b"SIP/2.0 700 Odd\r\n\r\n", "Bad Status-Code"),
        (b"SIP/2.x 200 OK\r\n\r\n", "Bad SIP-Version"),
        (OPTIONS_CL := b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n", "Bad Content-Length"),
    ],
)
def test_malformed_messages_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.reason.startswith(reason)
    assert info.value.status_hint == 400


def test_status_line_and_reason() -> None:
    resp = parse_message(b"SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n")
    assert isinstance(resp, Response)
    assert (resp.status, resp.reason, resp.version) == (486, "Busy Here", "SIP/2.0")
    assert repr(resp) == "<Response 486 Busy Here>"


def test_status_line_without_reason_or_space_is_accepted() -> None:
    resp = parse_message(b"SIP/2.0 180\r\n\r\n")
    assert isinstance(resp, Response) and (resp.status, resp.reason) == (180, "")


def test_body_without_content_length_runs_to_the_end() -> None:
    req = parse_request(INVITE.replace(b"l: 5\r\n", b"") + b"more")
    assert req.body == b"v=0\r\nmore"


def test_body_is_cut_to_content_length() -> None:
    assert parse_request(INVITE + b"garbage").body == b"v=0\r\n"


# -- limits ----------------------------------------------------------------------------
def test_message_over_max_size_is_513() -> None:
    with pytest.raises(SipLimitError) as info:
        parse_message(INVITE + b"x" * (65536 - len(INVITE) + 1))
    assert (info.value.status_hint, info.value.reason) == (513, "Message Too Large")


def test_message_at_max_size_parses() -> None:
    data = INVITE.replace(b"l: 5", b"l: 10") + b"x" * 5
    assert parse_message(data, Limits(max_message_size=len(data))).body == b"v=0\r\nxxxxx"


def test_too_many_header_fields() -> None:
    data = INVITE.replace(b"\r\n\r\n", b"\r\n" + b"X-A: 1\r\n" * 20 + b"\r\n", 1)
    with pytest.raises(SipLimitError) as info:
        parse_message(data, Limits(max_headers=30))
    assert (info.value.status_hint, info.value.reason) == (513, "Too many header fields")
    assert len(parse_message(data, Limits(max_headers=33)).fields) == 33


def test_header_count_is_after_unfolding() -> None:
    folded = b"Subject: a\r\n" + b" b\r\n" * 10
    data = INVITE.replace(b"Timestamp: 54\r\n", folded)
    assert parse_message(data, Limits(max_headers=14)).get("subject") == "a" + " b" * 10


def test_header_line_too_long() -> None:
    data = INVITE.replace(b"Timestamp: 54", b"Timestamp: " + b"5" * 100)
    with pytest.raises(SipLimitError, match="Header line too long"):
        parse_message(data, Limits(max_line_length=100))


def test_start_line_too_long() -> None:
    data = INVITE.replace(b"sip:bob@biloxi.com SIP", b"sip:" + b"b" * 200 + b"@biloxi.com SIP")
    with pytest.raises(SipLimitError, match="Start line too long"):
        parse_message(data, Limits(max_line_length=100))


# -- mutation and serialisation ----------------------------------------------------------
def test_untouched_message_serialises_byte_for_byte() -> None:
    assert parse_request().to_bytes() == INVITE


def test_add_via_on_top_keeps_the_rest_untouched() -> None:
    req = parse_request()
    assert req.top_via.host == "pc33.atlanta.com"
    req.add("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1", first=True)
    assert req.top_via.host == "proxy.example.com"  # cache invalidated
    out = req.to_bytes()
    assert out.startswith(b"INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1\r\nVia: SIP/2.0/UDP pc33")
    assert out.replace(b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1\r\n", b"") == INVITE


def test_add_appends_after_the_last_line_of_that_name_or_at_the_end() -> None:
    req = parse_request()
    req.add("Route", "<sip:p3.example.com;lr>")
    req.add("P-Asserted-Identity", "<sip:alice@atlanta.com>")
    keys = [f.key for f in req.fields]
    assert keys.index("route") + 1 == keys.index("route", keys.index("route") + 1)
    assert req.fields[-1].line() == "P-Asserted-Identity: <sip:alice@atlanta.com>"
    assert len(req.routes) == 3


def test_pop_first_takes_one_value_of_a_comma_joined_line() -> None:
    req = parse_request()
    assert req.pop_first("via") == "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"
    assert [v.host for v in req.vias] == ["10.0.0.1", "10.0.0.2"]
    assert req.pop_first("via") == "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1"
    assert req.pop_first("via") == "SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK2"
    assert req.pop_first("via") is None
    assert req.vias == []


def test_set_replaces_every_line_and_remove_deletes_them() -> None:
    req = parse_request()
    req.set("Via", "SIP/2.0/UDP only.example.com;branch=z9hG4bKo")
    assert req.header_values("via") == ["SIP/2.0/UDP only.example.com;branch=z9hG4bKo"]
    assert req.remove("via") == 1
    assert req.remove("via") == 0
    req.set("Max-Forwards", "69")
    assert req.max_forwards == 69
    assert b"Max-Forwards: 69\r\n" in req.to_bytes()


def test_content_length_follows_the_body() -> None:
    req = parse_request()
    req.body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
    out = req.to_bytes()
    assert b"l: 31\r\n\r\n" in out
    assert parse_message(out).body == req.body


def test_content_length_added_when_missing_and_duplicates_dropped() -> None:
    req = build_request("OPTIONS", "sip:a@b.com", [("Content-Length", "0"), ("l", "0")])
    assert req.to_bytes() == b"OPTIONS sip:a@b.com SIP/2.0\r\nContent-Length: 0\r\n\r\n"
    bare = build_request("OPTIONS", "sip:a@b.com", [("Call-ID", "x")], b"hi")
    assert bare.to_bytes() == b"OPTIONS sip:a@b.com SIP/2.0\r\nCall-ID: x\r\nContent-Length: 2\r\n\r\nhi"


def test_request_uri_setter_rewrites_the_start_line() -> None:
    req = parse_request()
    req.uri = parse_uri("sip:bob@192.0.2.4:5060")
    assert req.to_bytes().startswith(b"INVITE sip:bob@192.0.2.4:5060 SIP/2.0\r\n")
    assert repr(req) == "<Request INVITE sip:bob@192.0.2.4:5060>"


def test_non_ascii_and_binary_octets_survive_a_round_trip() -> None:
    data = INVITE.replace(b"X-Custom:  Some  Value ", b"X-Custom: caf\xc3\xa9 \xff\xfe")
    req = parse_request(data)
    assert req.to_bytes() == data


# -- building responses -----------------------------------------------------------------
def test_make_response_copies_the_rfc3261_8_2_6_headers() -> None:
    req = parse_request()
    resp = make_response(req, 180, to_tag="a6c85cf")
    assert (resp.status, resp.reason) == (180, "Ringing")
    assert [f.key for f in resp.fields] == ["via", "via", "from", "to", "call-id", "cseq"]
    assert [v.host for v in resp.vias] == ["pc33.atlanta.com", "10.0.0.1", "10.0.0.2"]
    assert resp.to.tag == "a6c85cf"
    assert resp.cseq == req.cseq
    again = parse_message(resp.to_bytes())
    assert isinstance(again, Response)
    validate_response(again)


def test_100_trying_copies_timestamp_and_has_no_to_tag() -> None:
    resp = make_response(parse_request(), 100, to_tag="x", headers=[("Server", "ims")])
    assert resp.to.tag is None
    assert resp.get("timestamp") == "54"
    assert resp.get("server") == "ims"


def test_existing_to_tag_is_kept() -> None:
    req = parse_request(INVITE.replace(b"To: Bob <sip:bob@biloxi.com>", b"To: <sip:bob@biloxi.com>;tag=old"))
    assert make_response(req, 200, to_tag="new").to.tag == "old"


# -- validation ----------------------------------------------------------------------------
def test_valid_request_passes() -> None:
    req = parse_request()
    validate_request(req)  # raises SipError on any defect
    assert (req.method, req.cseq.method, req.max_forwards) == ("INVITE", "INVITE", 70)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"i: a84b4c76e66710@pc33.atlanta.com\r\n", b"", "Missing Call-ID"),
        (b"f: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n", b"", "Missing From"),
        (b"To: Bob <sip:bob@biloxi.com>\r\n", b"", "Missing To"),
        (b"CSeq: 314159 INVITE\r\n", b"", "Missing CSeq"),
        (b"Max-Forwards: 70", b"Max-Forwards: 256", "Bad Max-Forwards"),
        (b"Max-Forwards: 70", b"Max-Forwards: " + b"7" * 5000, "Bad Max-Forwards"),
        (b"Max-Forwards: 70", b"Max-Forwards: \xc2\xb2", "Bad Max-Forwards"),
        (b"Max-Forwards: 70", b"Expires: 4294967296", "Bad Expires"),
        (b"i: a84b4c76e66710@pc33.atlanta.com", b"i: a84b4c76 e66710", "Bad Call-ID"),
        (b"i: a84b4c76e66710@pc33.atlanta.com", b"i: a@b@c", "Bad Call-ID"),
        (b"CSeq: 314159 INVITE", b"CSeq: 314159 ACK", "CSeq method does not match request method"),
        (b"m: <sip:alice@pc33.atlanta.com>", b"m: <sip:alice@pc33.atlanta.com;;>", "Empty parameter"),
        (b"Route: <sip:p1.example.com;lr>", b"Route: sip:p1.example.com?x=1", "URI with '?'"),
        (b"To: Bob", b"To: Bob\r\nTo: Bob", "Multiple To values"),
    ],
)
def test_invalid_requests_are_refused(old: bytes, new: bytes, reason: str) -> None:
    req = parse_request(INVITE.replace(old, new, 1))
    with pytest.raises(SipParseError) as info:
        validate_request(req)
    assert info.value.reason.startswith(reason)
    assert info.value.status_hint == 400


def test_missing_via_is_refused() -> None:
    req = parse_request(b"".join(line + b"\r\n" for line in INVITE.split(b"\r\n")[:-1] if not line.lower().startswith((b"via", b"v:"))))
    with pytest.raises(SipParseError, match="Missing Via"):
        validate_request(req)


def test_other_sip_version_is_505() -> None:
    req = parse_request(INVITE.replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1))
    with pytest.raises(SipParseError) as info:
        validate_request(req)
    assert info.value.status_hint == 505


def test_lower_case_version_is_sip_2_0() -> None:
    validate_request(parse_request(INVITE.replace(b" SIP/2.0\r\n", b" sip/2.0\r\n", 1)))


def test_register_with_wildcard_contact_validates() -> None:
    req = parse_request(
        b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b"From: <sip:a@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\nCall-ID: c\r\n"
        b"CSeq: 2 REGISTER\r\nContact: *\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n"
    )
    validate_request(req)
    assert req.contacts == [] and req.expires == 0


# -- RFC 5118 IPv6 messages ------------------------------------------------------------------
RFC5118_4_5 = (  # RFC 5118 §4.5, first message: received in brackets
    b"BYE sip:[2001:db8::10] SIP/2.0\r\n"
    b"To: sip:user@example.com;tag=bd76ya\r\n"
    b"From: sip:user@example.com;tag=81x2\r\n"
    b"Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111\r\n"
    b"Call-ID: SSG9559905523997077@hlau_4100\r\n"
    b"Max-Forwards: 70\r\n"
    b"CSeq: 321 BYE\r\n"
    b"Content-Length: 0\r\n\r\n"
)
RFC5118_4_7 = (  # RFC 5118 §4.7: IPv4 and IPv6 in one Via list
    b"BYE sip:user@host.example.net SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKjhja8781hjuaij65144\r\n"
    b"Via: SIP/2.0/TCP [2001:db8::9:255];branch=z9hG4bK451jj;received=192.0.2.200\r\n"
    b"Call-ID: 997077@lau_4100\r\n"
    b"Max-Forwards: 70\r\n"
    b"CSeq: 89187 BYE\r\n"
    b"To: sip:user@example.net;tag=9817--94\r\n"
    b"From: sip:user@example.com;tag=81x2\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_rfc5118_4_5_bracketed_received_is_read() -> None:
    req = parse_request(RFC5118_4_5)
    validate_request(req)
    assert isinstance(req.uri, SipUri) and req.uri.bare_host == "2001:db8::10"
    assert (req.top_via.host, req.top_via.received) == ("[2001:db8::9:1]", "2001:db8::9:255")


def test_rfc5118_4_7_mixed_via_list() -> None:
    req = parse_request(RFC5118_4_7)
    validate_request(req)
    assert [(v.transport, v.host, v.port) for v in req.vias] == [
        ("UDP", "[2001:db8::9:1]", 6050), ("UDP", "192.0.2.1", None), ("TCP", "[2001:db8::9:255]", None)
    ]
    assert req.vias[2].received == "192.0.2.200"


def test_rfc5118_4_2_unbracketed_request_uri_is_refused() -> None:
    req = parse_request(RFC5118_4_5.replace(b"BYE sip:[2001:db8::10]", b"BYE sip:2001:db8::10"))
    with pytest.raises(SipParseError, match="Bad port"):
        validate_request(req)
