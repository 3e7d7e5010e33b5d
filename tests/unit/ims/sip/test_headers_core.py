"""Generic parameters, lists, Via, CSeq and name-addr values (RFC 3261 §7.3.1, §20, §25.1)."""

from __future__ import annotations

import pytest

from ims.sip.errors import SipParseError
from ims.sip.headers import (
    MAGIC_COOKIE,
    NameAddr,
    Params,
    parse_cseq,
    parse_name_addr,
    parse_params,
)
from ims.sip.headers.cseq import MAX_CSEQ
from ims.sip.headers.params import quote, split_list, split_quoted, unquote
from ims.sip.headers.via import parse_via
from ims.sip.uri import SipUri, TelUri, parse_uri


# -- parameters -------------------------------------------------------------------
def test_params_keep_order_and_spelling_and_look_up_case_insensitively() -> None:
    params = parse_params(";Tag=abc;LR;expires=3600")
    assert params.items() == [("Tag", "abc"), ("LR", None), ("expires", "3600")]
    assert params.get("tag") == "abc"
    assert "lr" in params
    assert str(params) == ";Tag=abc;LR;expires=3600"


def test_params_lws_around_separators() -> None:
    params = parse_params(" ;  tag = 98asjd8 ; q = 0.33")
    assert params.items() == [("tag", "98asjd8"), ("q", "0.33")]


def test_quoted_value_keeps_its_quotes_and_separators() -> None:
    params = parse_params(';+sip.instance="<urn:uuid:1;2,3>";reg-id=1')
    assert params.get("+sip.instance") == '"<urn:uuid:1;2,3>"'
    assert unquote(params.get("+sip.instance") or "") == "<urn:uuid:1;2,3>"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (";;tag=1", "Empty parameter"),
        (";tag=1;", "Empty parameter"),
        (";a b=1", "Bad parameter name"),
        (";=1", "Empty parameter"),
        (";tag=a b", "Whitespace in parameter value"),
        (';x="open', "Unterminated quoted string"),
    ],
)
def test_malformed_params_are_refused(text: str, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_params(text)
    assert info.value.reason.startswith(reason)


def test_params_set_remove_copy_and_equality() -> None:
    params = Params([("tag", "1")])
    params.set("TAG", "2")
    params.set("lr")
    assert params.items() == [("tag", "2"), ("lr", None)]
    other = params.copy()
    other.remove("lr")
    assert len(params) == 2 and len(other) == 1
    assert parse_params(";A=1;b") == parse_params(";b;a=1")


def test_split_list_ignores_commas_in_quotes_and_angles() -> None:
    value = '"Doe, John" <sip:j@a.com;x=1,2>;q=0.5, <sip:k@b.com>'
    assert split_list(value) == ['"Doe, John" <sip:j@a.com;x=1,2>;q=0.5', "<sip:k@b.com>"]
    assert split_list(" a ,, b ") == ["a", "b"]
    assert split_list("") == []


def test_split_quoted_honours_escaped_quotes() -> None:
    assert split_quoted(r'"a\";b";c', ";") == [r'"a\";b"', "c"]
    with pytest.raises(SipParseError, match="Unterminated <"):
        split_quoted("<sip:a@b;c", ",")


def test_quote_and_unquote_round_trip_escapes() -> None:
    for text in ['J Rosenberg \\"', 'say "hi"', "plain", ""]:
        assert unquote(quote(text)) == text
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


# -- Via (RFC 3261 §20.42, RFC 3581, RFC 5118 §4.5) --------------------------------
def test_via_with_lws_around_slashes() -> None:
    via = parse_via("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw")
    assert (via.protocol, via.transport, via.host, via.port) == ("SIP/2.0", "UDP", "192.0.2.2", None)
    assert via.branch == "390skdjuw"
    assert via.is_rfc3261_branch is False
    assert str(via) == "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw"


def test_via_rport_received_and_maddr() -> None:
    via = parse_via("SIP/2.0/tcp pc33.atlanta.com:5066;branch=z9hG4bK776;rport=5067;received=192.0.2.1;maddr=224.2.0.1")
    assert (via.transport, via.sent_by, via.rport, via.wants_rport) == ("TCP", "pc33.atlanta.com:5066", 5067, True)
    assert (via.received, via.maddr) == ("192.0.2.1", "224.2.0.1")
    assert via.branch is not None and via.branch.startswith(MAGIC_COOKIE)
    empty = parse_via("SIP/2.0/UDP h;rport")
    assert (empty.rport, empty.wants_rport) == (None, True)


def test_via_ipv6_sent_by_and_received() -> None:
    # RFC 5118 §4.5: received with and without brackets; §4.7 port after "]".
    bracketed = parse_via("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111")
    bare = parse_via("SIP/2.0/UDP [2001:db8::9:1]:6050;received=2001:db8::9:255;branch=z9hG4bKas3")
    assert bracketed.host == "[2001:db8::9:1]" and bracketed.port is None
    assert bracketed.received == bare.received == "2001:db8::9:255"
    assert bare.port == 6050


@pytest.mark.parametrize(
    "text",
    ["SIP/2.0 host", "SIP/2.0/UDP", "SIP/2.0/UDP host:port", "SIP//UDP host", "SIP/2.0/UDP host;;", "SIP/2.0/UDP 2001:db8::1"],
)
def test_malformed_vias_are_refused(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_via(text)


def test_via_copy_is_independent() -> None:
    via = parse_via("SIP/2.0/UDP h;branch=z9hG4bK1")
    other = via.copy()
    other.params.set("received", "192.0.2.9")
    assert via.received is None and other.received == "192.0.2.9"


# -- CSeq (RFC 3261 §20.16) --------------------------------------------------------
def test_cseq_leading_zeros_and_limits() -> None:
    assert parse_cseq("0009\r\n  INVITE".replace("\r\n", "")) == parse_cseq("9 INVITE")
    assert parse_cseq(f"{MAX_CSEQ} ACK").seq == 2**32 - 1
    assert str(parse_cseq("101 REGISTER")) == "101 REGISTER"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("4294967296 INVITE", "CSeq number too large"),
        ("36893488147419103232 REGISTER", "CSeq number too large"),
        ("1" * 5000 + " INVITE", "CSeq number too large"),
        ("-1 INVITE", "Bad CSeq number"),
        ("\u00b2 INVITE", "Bad CSeq number"),
        ("INVITE", "Bad CSeq"),
        ("1 IN/VITE", "Bad CSeq method"),
        ("1 INVITE extra", "Bad CSeq"),
    ],
)
def test_malformed_cseq_is_refused(text: str, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_cseq(text)
    assert info.value.reason.startswith(reason)


# -- name-addr (RFC 3261 §20.10, §25.1) ------------------------------------------------
def test_quoted_display_name_with_escapes() -> None:
    addr = parse_name_addr(r'"J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8')
    assert addr.display_name == 'J Rosenberg \\"'
    assert addr.tag == "98asjd8"
    assert str(addr) == r'"J Rosenberg \\\"" <sip:jdrosen@example.com>;tag=98asjd8'
    assert parse_name_addr(str(addr)) == addr


def test_token_display_name_is_normalised() -> None:
    addr = parse_name_addr("Bob   Smith <sip:bob@b.com>")
    assert addr.display_name == "Bob Smith"
    assert str(addr) == '"Bob Smith" <sip:bob@b.com>'


def test_empty_quoted_display_name() -> None:
    addr = parse_name_addr('"" <sip:bob@b.com>')
    assert addr.display_name == ""
    assert str(addr) == '"" <sip:bob@b.com>'


def test_addr_spec_parameters_belong_to_the_header() -> None:
    addr = parse_name_addr("sip:+19725552222@gw1.example.net;unknownparam;expires=60")
    assert isinstance(addr.uri, SipUri) and len(addr.uri.params) == 0
    assert addr.params.items() == [("unknownparam", None), ("expires", "60")]
    assert addr.expires == 60
    assert str(addr) == "<sip:+19725552222@gw1.example.net>;unknownparam;expires=60"


def test_contact_feature_tags_and_instance() -> None:
    addr = parse_name_addr(
        '<sip:ue@10.45.0.2:5060>;+sip.instance="<urn:gsma:imei:35622410-038130-0>";'
        '+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel";+g.3gpp.smsip;q=0.5'
    )
    assert addr.instance_id == "urn:gsma:imei:35622410-038130-0"
    assert addr.feature_tags() == {
        "+sip.instance": '"<urn:gsma:imei:35622410-038130-0>"',
        "+g.3gpp.icsi-ref": '"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"',
        "+g.3gpp.smsip": None,
    }
    assert addr.q == 0.5


def test_tel_uri_in_name_addr() -> None:
    addr = parse_name_addr("<tel:+12015550123>")
    assert isinstance(addr.uri, TelUri)
    assert addr.uri.number == "+12015550123"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('"Mr. J. User <sip:j.user@example.com>', "Unterminated quoted display name"),
        ("Bell, Alexander <sip:a.g.bell@example.com>", "Bad display name"),
        ('"Watson, Thomas" < sip:t.watson@example.org >', "Whitespace inside <>"),
        ("sip:user@example.com?Route=%3Csip:sip.example.com%3E", "URI with '?' or ','"),
        ("<sip:a@b.com", "Unterminated <>"),
        ("<sip:a@b.com> junk", "Unexpected text after address"),
        ('"a" "b" <sip:a@b.com>', "Bad quoted display name"),
        ("", "Empty address"),
        ("*", "'*' is not an address"),
    ],
)
def test_malformed_name_addrs_are_refused(text: str, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_name_addr(text)
    assert info.value.reason.startswith(reason)


def test_name_addr_copy_is_independent() -> None:
    addr = NameAddr(parse_uri("sip:a@b.com"), "A")
    other = addr.copy()
    other.params.set("tag", "x")
    assert addr.tag is None and other.tag == "x"
