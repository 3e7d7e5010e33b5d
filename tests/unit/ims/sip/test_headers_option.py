"""Option tags and expiry (RFC 3261 §10.2.1.1, §19.2, §20.10, §20.19, §20.23, §20.32)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ims.sip.errors import SipParseError
from ims.sip.headers.nameaddr import NameAddr
from ims.sip.headers.option import (
    MALFORMED_EXPIRES,
    MAX_DELTA_SECONDS,
    contact_expiry,
    min_expires,
    option_tags,
    requires,
    supports,
    unsupported_tags,
)
from ims.sip.headers.params import Params
from ims.sip.message import Message, parse_message
from ims.sip.uri import parse_uri

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
UE_CONTACT = (
    '<sip:001010123456789@[2001:db8:1::2]:50397>;+sip.instance="<urn:gsma:imei:35622011-843212-0>"'
    ';+g.3gpp.icsi-ref="urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel"'
)


def _parse(*lines: str) -> Message:
    return parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())


def _register(*extra: str) -> Message:
    return _parse(
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/UDP [2001:db8:1::2]:50397;branch=z9hG4bK3a91f;rport",
        "Max-Forwards: 70",
        f"From: <sip:001010123456789@{DOMAIN}>;tag=1928301774",
        f"To: <sip:001010123456789@{DOMAIN}>",
        "Call-ID: a84b4c76e66710@2001:db8:1::2",
        "CSeq: 3 REGISTER",
        *extra,
        "Content-Length: 0",
    )


def test_handset_register_option_tags() -> None:
    msg = _register("Supported: path, gruu,sec-agree", "k: 100rel", "Require: Sec-Agree",
                    "Proxy-Require: sec-agree")
    assert option_tags(msg) == ["path", "gruu", "sec-agree", "100rel"]
    assert option_tags(msg, "proxy-require") == ["sec-agree"]
    assert requires(msg, "sec-agree")
    assert not requires(msg, "path")
    assert supports(msg, "PATH")
    assert option_tags(msg, "unsupported") == []


def test_unsupported_tags_for_420() -> None:
    msg = _register("Require: sec-agree, precondition", "Proxy-Require: sec-agree")
    assert unsupported_tags(msg, ["sec-agree"]) == ["precondition"]
    assert unsupported_tags(msg, ["Sec-Agree"], "proxy-require") == []


def test_empty_supported_is_allowed() -> None:
    assert option_tags(_register("Supported: ")) == []


def test_bad_option_tag_raises() -> None:
    with pytest.raises(SipParseError, match="Bad option-tag 'sec agree'"):
        option_tags(_register("Require: sec agree"), "require")


@pytest.mark.parametrize(
    ("contact_params", "expires_header", "expected"),
    [
        (";expires=600000", "Expires: 3600", 600000),
        ("", "Expires: 600000", 600000),
        (";expires=0", "Expires: 3600", 0),
        ("", "Expires: 0", 0),
        ("", None, None),
        (";expires=soon", "Expires: 60", MALFORMED_EXPIRES),
        (";expires", None, MALFORMED_EXPIRES),
        (";expires=4294967296", None, MAX_DELTA_SECONDS),
        (";expires=" + "9" * 5000, None, MAX_DELTA_SECONDS),
        (";expires=0000600", None, 600),
    ],
)
def test_contact_expiry(
    contact_params: str, expires_header: str | None, expected: int | None
) -> None:
    contact = UE_CONTACT + contact_params
    msg = _register(f"Contact: {contact}", *([expires_header] if expires_header else []))
    assert contact_expiry(msg.contacts[0], msg) == expected


def test_contact_expiry_per_binding() -> None:
    msg = _register(f"Contact: {UE_CONTACT};expires=300, <sip:alt@192.0.2.7>", "Expires: 7200")
    assert [contact_expiry(c, msg) for c in msg.contacts] == [300, 7200]


@pytest.mark.parametrize("value", ["soon", "-1", "4294967296", "²", "9" * 5000])
def test_malformed_expires_header_raises(value: str) -> None:
    msg = _register(f"Contact: {UE_CONTACT}", f"Expires: {value}")
    with pytest.raises(SipParseError, match="Bad Expires"):
        contact_expiry(msg.contacts[0], msg)


def test_min_expires_of_423() -> None:
    msg = _parse("SIP/2.0 423 Interval Too Brief", "Min-Expires: 600", "Content-Length: 0")
    assert min_expires(msg) == 600
    assert min_expires(_register()) is None


@pytest.mark.parametrize("value", ["", "1.5", "0x10", "4294967296"])
def test_bad_min_expires_raises(value: str) -> None:
    msg = _parse("SIP/2.0 423 Interval Too Brief", f"Min-Expires: {value}", "Content-Length: 0")
    with pytest.raises(SipParseError, match="Bad Min-Expires"):
        min_expires(msg)


@given(st.none() | st.text(max_size=20))
def test_contact_expiry_is_always_in_range(value: str | None) -> None:
    contact = NameAddr(parse_uri("sip:ue@192.0.2.1"), params=Params([("expires", value)]))
    result = contact_expiry(contact, _register())
    assert result is not None and 0 <= result <= MAX_DELTA_SECONDS
