"""SIP, SIPS and tel URIs: parsing, round trips, RFC 3261 §19.1.4 comparison,
RFC 5118 IPv6 references and RFC 3966 tel URIs."""

from __future__ import annotations

import pytest

from ims.sip.errors import SipParseError
from ims.sip.uri import AbsoluteUri, SipUri, TelUri, parse_hostport, parse_uri, unescape, uri_equal


def sip(text: str) -> SipUri:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    return uri


# -- parsing -------------------------------------------------------------------
def test_full_sip_uri_parts() -> None:
    uri = sip("sips:alice:secret@atlanta.com:5061;transport=tls;lr?subject=x&priority=urgent")
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (
        "sips", "alice", "secret", "atlanta.com", 5061
    )
    assert uri.transport == "tls"
    assert uri.lr is True
    assert uri.headers == [("subject", "x"), ("priority", "urgent")]
    assert uri.host_port == "atlanta.com:5061"


def test_scheme_is_case_insensitive() -> None:
    assert sip("SIP:alice@atlanta.com").scheme == "sip"


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@atlanta.com",
        "sip:alice@atlanta.com:5060;transport=TCP;lr",
        "sips:+1-212-555-1212:1234@gateway.com;user=phone",
        "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
        "sip:%61lice@atlanta.com;maddr=239.255.255.1;ttl=15",
        "sip:[2001:db8::10]:5070;transport=udp",
        "sip:user;par=u%40example.net@example.com",
        "tel:+1-201-555-0123;phone-context=example.com",
        "urn:service:sos",
    ],
)
def test_uri_round_trips(text: str) -> None:
    assert str(parse_uri(text)) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("alice@atlanta.com", "Bad URI"),
        ("sip:", "Bad host"),
        ("sip:alice@", "Bad host"),
        ("sip:alice@atlanta.com:99999", "Bad port"),
        ("sip:alice@atlanta.com:5o60", "Bad port"),
        ("sip:alice@atlanta.com:\u00b2", "Bad port"),
        ("sip:alice smith@atlanta.com", "Whitespace in URI"),
        ("sip:alice@atlanta.com; lr", "Whitespace in URI"),
        ("sip:alice@atlanta.com;;lr", "Empty parameter"),
        ("sip:alice@atlanta.com;", "Empty parameter"),
        ("sip:al\"ice@atlanta.com", "Bad user part"),
        ("sip:alice@atl_anta.com", "Bad host"),
        ("sip:alice@atlanta.com?subject", "Bad URI header"),
        ("tel:", "Bad tel URI"),
        ("tel:+", "Bad tel URI"),
        ("tel:+1 212", "Bad tel URI"),
        ("mailto:", "Bad URI"),
        ("http:<x>", "Bad URI"),
    ],
)
def test_malformed_uris_are_refused(text: str, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_uri(text)
    assert info.value.reason.startswith(reason)


def test_unknown_scheme_is_kept_verbatim() -> None:
    uri = parse_uri("soap.beep://192.0.2.103:3002")
    assert isinstance(uri, AbsoluteUri)
    assert uri.scheme == "soap.beep"
    assert uri.copy() == uri


def test_copy_is_independent() -> None:
    uri = sip("sip:alice@atlanta.com;lr")
    other = uri.copy()
    other.params.set("transport", "tcp")
    assert "transport" not in uri.params
    assert str(other) == "sip:alice@atlanta.com;lr;transport=tcp"


def test_unescape_keeps_invalid_octets_distinct() -> None:
    assert unescape("sips%3Auser%40example.com") == "sips:user@example.com"
    assert unescape("%fe") != unescape("%ff")
    assert unescape("no-escapes") == "no-escapes"


# -- RFC 3261 §19.1.4 comparison -------------------------------------------------
EQUAL = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    (
        "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
        "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
    ),
    (
        "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
        "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
    ),
]
NOT_EQUAL = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
    # the intransitivity example: security=on vs security=off
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
]


@pytest.mark.parametrize(("a", "b"), EQUAL)
def test_rfc3261_equal_uris(a: str, b: str) -> None:
    assert uri_equal(parse_uri(a), parse_uri(b))
    assert uri_equal(parse_uri(b), parse_uri(a))


@pytest.mark.parametrize(("a", "b"), NOT_EQUAL)
def test_rfc3261_unequal_uris(a: str, b: str) -> None:
    assert not uri_equal(parse_uri(a), parse_uri(b))
    assert not uri_equal(parse_uri(b), parse_uri(a))


@pytest.mark.parametrize("param", ["user=phone", "ttl=1", "method=INVITE", "maddr=192.0.2.1"])
def test_significant_parameter_in_one_uri_only_differs(param: str) -> None:
    assert not uri_equal(parse_uri("sip:a@b.com"), parse_uri(f"sip:a@b.com;{param}"))


def test_sip_and_sips_never_equal() -> None:
    assert not uri_equal(parse_uri("sip:alice@atlanta.com"), parse_uri("sips:alice@atlanta.com"))


def test_user_part_is_case_sensitive_after_unescaping() -> None:
    assert uri_equal(parse_uri("sip:%41lice@a.com"), parse_uri("sip:Alice@a.com"))
    assert not uri_equal(parse_uri("sip:alice@a.com"), parse_uri("sip:Alice@a.com"))


def test_escaped_parameter_name_compares_unescaped() -> None:
    assert uri_equal(parse_uri("sip:a@b.com;%6C%72"), parse_uri("sip:a@b.com;lr"))


def test_different_kinds_never_equal() -> None:
    assert not uri_equal(parse_uri("tel:+12125551212"), parse_uri("sip:+12125551212@a.com"))
    assert uri_equal(parse_uri("urn:service:sos"), parse_uri("urn:service:sos"))


# -- RFC 5118 IPv6 references ------------------------------------------------------
def test_rfc5118_4_1_ipv6_reference_in_uri() -> None:
    uri = sip("sip:[2001:db8::10]")
    assert (uri.host, uri.port, uri.bare_host) == ("[2001:db8::10]", None, "2001:db8::10")


def test_rfc5118_4_2_unbracketed_ipv6_is_refused() -> None:
    with pytest.raises(SipParseError):
        parse_uri("sip:2001:db8::10")


def test_rfc5118_4_3_port_inside_brackets_is_part_of_the_address() -> None:
    uri = sip("sip:[2001:db8::10:5070]")
    assert (uri.host, uri.port) == ("[2001:db8::10:5070]", None)


def test_rfc5118_4_4_port_after_brackets() -> None:
    uri = sip("sip:[2001:db8::10]:5070")
    assert (uri.host, uri.port) == ("[2001:db8::10]", 5070)
    assert not uri_equal(uri, sip("sip:[2001:db8::10:5070]"))


def test_rfc5118_4_9_ipv4_mapped_address() -> None:
    uri = sip("sip:ted@[::ffff:192.0.2.2]")
    assert uri.bare_host == "::ffff:192.0.2.2"
    assert parse_hostport("[::ffff:192.0.2.10]:19823") == ("[::ffff:192.0.2.10]", 19823)


def test_rfc5118_4_10_extra_colon_is_tolerated() -> None:
    assert sip("sip:user@[2001:db8:::192.0.2.1]").host == "[2001:db8:::192.0.2.1]"
    assert sip("sip:user@[2001:db8::192.0.2.1]").host == "[2001:db8::192.0.2.1]"


@pytest.mark.parametrize("host", ["[2001:db8::10", "[2001:db8::g]", "[1:2:3:4:5:6:7:8:9]", "[]"])
def test_invalid_ipv6_references_are_refused(host: str) -> None:
    with pytest.raises(SipParseError, match="Bad IPv6 reference"):
        parse_hostport(host)


def test_ipv6_host_compares_case_insensitively() -> None:
    assert uri_equal(sip("sip:[2001:DB8::1]"), sip("sip:[2001:db8::1]"))


# -- tel URIs (RFC 3966) ----------------------------------------------------------
def test_global_tel_uri() -> None:
    uri = parse_uri("tel:+1-201-555-0123")
    assert isinstance(uri, TelUri)
    assert (uri.is_global, uri.digits, uri.scheme) == (True, "+12015550123", "tel")


def test_local_tel_uri_with_phone_context() -> None:
    uri = parse_uri("tel:7042;phone-context=example.com")
    assert isinstance(uri, TelUri)
    assert uri.is_global is False
    assert uri.params.get("phone-context") == "example.com"


def test_tel_comparison_ignores_visual_separators() -> None:
    assert uri_equal(parse_uri("tel:+1-201-555-0123"), parse_uri("tel:+1(201)5550123"))
    assert uri_equal(parse_uri("tel:863-1234;phone-context=+1-914-555"),
                     parse_uri("tel:8631234;PHONE-CONTEXT=+1-914-555"))


def test_tel_parameter_in_one_uri_only_differs() -> None:
    # RFC 3966 §4: every parameter counts.
    assert not uri_equal(parse_uri("tel:+12015550123"), parse_uri("tel:+12015550123;ext=22"))
    assert not uri_equal(parse_uri("tel:7042;phone-context=a.com"), parse_uri("tel:7042;phone-context=b.com"))


def test_tel_copy_is_independent() -> None:
    uri = parse_uri("tel:+12015550123;ext=1")
    assert isinstance(uri, TelUri)
    other = uri.copy()
    other.params.set("ext", "2")
    assert str(uri) == "tel:+12015550123;ext=1"
