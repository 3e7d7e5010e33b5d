"""Security-Client / -Server / -Verify (RFC 3329 §2.2; TS 33.203 §7.1, Annex H)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ims.sip.errors import SipParseError
from ims.sip.headers.params import Params
from ims.sip.headers.security import (
    ENCRYPTION_ALGORITHMS,
    INTEGRITY_ALGORITHMS,
    SPI_MAX,
    SecurityMechanism,
    format_security_mechanisms,
    parse_security_mechanism,
    parse_security_mechanisms,
    same_mechanisms,
    security_mechanisms,
)
from ims.sip.message import Message, parse_message

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
# What a commercial handset offers: all six alg/ealg combinations, one SPI
# pair and one port pair (field notes; TS 33.203 §7.1).
UE_SPI_C, UE_SPI_S, UE_PORT_C, UE_PORT_S = 3758162452, 3758162453, 50396, 50397
OFFER = [
    f"ipsec-3gpp;alg={alg};ealg={ealg};mod=trans;port-c={UE_PORT_C};port-s={UE_PORT_S};"
    f"prot=esp;spi-c={UE_SPI_C};spi-s={UE_SPI_S}"
    for alg, ealg in itertools.product(("hmac-sha-1-96", "hmac-md5-96"),
                                       ("aes-cbc", "des-ede3-cbc", "null"))
]


def _parse(*lines: str) -> Message:
    return parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())


def _register(*extra: str) -> Message:
    return _parse(
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        "Via: SIP/2.0/UDP [2001:db8:1::2]:5060;branch=z9hG4bK3a91f;rport",
        "Max-Forwards: 70",
        f"From: <sip:001010123456789@{DOMAIN}>;tag=1928301774",
        f"To: <sip:001010123456789@{DOMAIN}>",
        "Call-ID: a84b4c76e66710@2001:db8:1::2",
        "CSeq: 1 REGISTER",
        "Supported: path, gruu, sec-agree",
        "Require: sec-agree",
        "Proxy-Require: sec-agree",
        *extra,
        "Content-Length: 0",
    )


def test_handset_offer_of_six_combinations_is_read_in_order() -> None:
    msg = _register(
        "Security-Client: " + ", ".join(OFFER[:3]), "Security-Client: " + ", ".join(OFFER[3:])
    )
    mechs = security_mechanisms(msg, "security-client")
    assert [(m.alg, m.ealg) for m in mechs] == [
        ("hmac-sha-1-96", "aes-cbc"), ("hmac-sha-1-96", "des-ede3-cbc"), ("hmac-sha-1-96", "null"),
        ("hmac-md5-96", "aes-cbc"), ("hmac-md5-96", "des-ede3-cbc"), ("hmac-md5-96", "null"),
    ]
    first = mechs[0]
    assert first.is_ipsec_3gpp
    assert (first.spi_c, first.spi_s, first.port_c, first.port_s) == (
        UE_SPI_C, UE_SPI_S, UE_PORT_C, UE_PORT_S)
    assert (first.prot, first.mod, first.q) == ("esp", "trans", None)
    assert [str(m) for m in mechs] == OFFER


def test_register_without_security_client_gives_empty_list() -> None:
    assert security_mechanisms(_register(), "security-client") == []


def test_builder_writes_canonical_order() -> None:
    mech = SecurityMechanism.ipsec_3gpp(
        alg="hmac-sha-1-96", ealg="aes-cbc", spi_c=1000, spi_s=1001, port_c=6100, port_s=5100,
        prot="esp", mod="trans", q=0.1,
    )
    assert str(mech) == (
        "ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1000;spi-s=1001;port-c=6100;"
        "port-s=5100;prot=esp;mod=trans;q=0.1"
    )
    assert mech.q == pytest.approx(0.1)


def test_security_verify_matches_security_server() -> None:
    server = parse_security_mechanisms([
        "ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;spi-c=11;spi-s=12;port-c=6100;port-s=5100",
        "digest;d-alg=md5;d-qop=auth-int",
    ])
    msg = _register("Security-Verify: " + format_security_mechanisms(server))
    verify = security_mechanisms(msg, "security-verify")
    assert same_mechanisms(verify, server)
    assert not same_mechanisms(verify[:1], server)
    tampered = verify[0].copy()
    tampered.params.set("spi-c", "99")
    assert not same_mechanisms([tampered, verify[1]], server)


def test_typed_values_and_unknown_params_are_kept() -> None:
    mech = parse_security_mechanism(
        "IPSEC-3GPP ; ALG=HMAC-MD5-96 ; spi-c=0 ; spi-s=4294967295 ; port-c=1 ; port-s=65535 ; "
        'q=1.000 ; x-note="a;b" ; flag'
    )
    assert mech.is_ipsec_3gpp
    assert (mech.alg, mech.ealg, mech.spi_c, mech.spi_s) == ("hmac-md5-96", None, 0, SPI_MAX)
    assert (mech.port_c, mech.port_s, mech.q) == (1, 65535, 1.0)
    assert str(mech) == (
        'IPSEC-3GPP;ALG=HMAC-MD5-96;spi-c=0;spi-s=4294967295;port-c=1;port-s=65535;q=1.000;'
        'x-note="a;b";flag'
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ipsec-3gpp;spi-c=4294967296", "Bad spi-c '4294967296': not 0..4294967295"),
        ("ipsec-3gpp;spi-s=-1", "Bad spi-s '-1'"),
        ("ipsec-3gpp;spi-s=12345678901", "Bad spi-s"),
        ("ipsec-3gpp;port-c=65536", "Bad port-c '65536': not 0..65535"),
        ("ipsec-3gpp;port-s=", "Bad port-s ''"),
        ("ipsec-3gpp;port-s", "Bad port-s"),
        ("ipsec-3gpp;q=1.5", "Bad q-value '1.5'"),
        ("ipsec-3gpp;q=0.1234", "Bad q-value"),
        ("ipsec-3gpp;spi-c=1;SPI-C=2", "Repeated parameter 'spi-c'"),
        ("ipsec 3gpp;alg=x", "Bad security mechanism name"),
        (";alg=x", "Bad security mechanism name"),
        ('ipsec-3gpp;x="unterminated', "Unterminated quoted string"),
        ("ipsec-3gpp;=x", "Bad parameter name|Empty parameter"),
        ("ipsec-3gpp;q", "Bad q-value ''"),
    ],
)
def test_malformed_mechanisms_raise(text: str, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        parse_security_mechanism(text)


def test_builder_rejects_out_of_range_values() -> None:
    with pytest.raises(SipParseError, match="Bad spi-c"):
        SecurityMechanism.ipsec_3gpp(alg="hmac-md5-96", spi_c=2**32, spi_s=1, port_c=1, port_s=2)
    with pytest.raises(SipParseError, match="Bad q-value"):
        SecurityMechanism.ipsec_3gpp(alg="hmac-md5-96", spi_c=1, spi_s=1, port_c=1, port_s=2, q=2.0)


def test_property_of_hand_built_mechanism_validates() -> None:
    mech = SecurityMechanism("ipsec-3gpp", Params([("port-c", "http")]))
    with pytest.raises(SipParseError, match="Bad port-c 'http'"):
        _ = mech.port_c


# -- properties ------------------------------------------------------------
_TOKENS = st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~]{1,12}", fullmatch=True)
_TYPED = {"spi-c", "spi-s", "port-c", "port-s", "q"}


@st.composite
def _mechanisms(draw: st.DrawFn) -> SecurityMechanism:
    mech = SecurityMechanism.ipsec_3gpp(
        alg=draw(st.sampled_from(INTEGRITY_ALGORITHMS)),
        ealg=draw(st.none() | st.sampled_from(ENCRYPTION_ALGORITHMS)),
        spi_c=draw(st.integers(0, SPI_MAX)), spi_s=draw(st.integers(0, SPI_MAX)),
        port_c=draw(st.integers(0, 65535)), port_s=draw(st.integers(0, 65535)),
        prot=draw(st.none() | st.just("esp")), mod=draw(st.none() | st.just("trans")),
        q=draw(st.none() | st.integers(0, 1000).map(lambda n: n / 1000)),
    )
    names = draw(st.lists(_TOKENS.filter(lambda n: n.lower() not in _TYPED and n.lower() not in
                                         mech.params.names()), max_size=3, unique_by=str.lower))
    for name in names:
        mech.params.set(name, draw(st.none() | _TOKENS))
    return mech


@given(_mechanisms())
def test_mechanism_round_trips_in_order(mech: SecurityMechanism) -> None:
    again = parse_security_mechanism(str(mech))
    assert again == mech
    assert str(again) == str(mech)
    assert again.params.items() == mech.params.items()


@given(st.lists(_mechanisms(), min_size=1, max_size=4))
def test_mechanism_lists_round_trip(mechs: list[SecurityMechanism]) -> None:
    again = parse_security_mechanisms([format_security_mechanisms(mechs)])
    assert same_mechanisms(again, mechs)


@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_sip_parse_error(text: str) -> None:
    try:
        mechs = parse_security_mechanisms([text])
    except SipParseError:
        return
    for mech in mechs:
        assert (mech.spi_c, mech.port_s, mech.q) is not None
