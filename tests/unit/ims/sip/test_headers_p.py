"""IMS P-headers and registration routes (RFC 7315, RFC 3325, RFC 3327, RFC 3608)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ims.sip.errors import SipParseError
from ims.sip.headers.params import Params
from ims.sip.headers.pheaders import (
    AccessNetworkInfo,
    ChargingFunctionAddresses,
    ChargingVector,
    VisitedNetworkId,
    access_network_info,
    asserted_identities,
    associated_uris,
    charging_function_addresses,
    charging_vector,
    parse_access_network_info,
    parse_charging_function_addresses,
    parse_charging_vector,
    parse_visited_network_id,
    path,
    preferred_identities,
    select_identity,
    service_routes,
    visited_network_ids,
)
from ims.sip.message import Message, parse_message

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMSI_IMPU = f"sip:001010123456789@{DOMAIN}"


def _parse(*lines: str) -> Message:
    return parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())


def _request(*extra: str) -> Message:
    return _parse(
        "INVITE tel:+15551230002 SIP/2.0",
        "Via: SIP/2.0/UDP pcscf.ims.mnc001.mcc001.3gppnetwork.org:5060;branch=z9hG4bKinv1",
        "Max-Forwards: 69",
        "From: <sip:+15551230001@ims.mnc001.mcc001.3gppnetwork.org>;tag=a1",
        "To: <tel:+15551230002>",
        "Call-ID: inv1@2001:db8:1::2",
        "CSeq: 1 INVITE",
        *extra,
        "Content-Length: 0",
    )


def _register_ok() -> Message:
    """The 200 OK to a REGISTER as the S-CSCF sends it (TS 24.229 §5.4.1.2.2)."""
    return _parse(
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP pcscf.ims.mnc001.mcc001.3gppnetwork.org:5060;branch=z9hG4bKpc2",
        f"From: <{IMSI_IMPU}>;tag=1928301774",
        f"To: <{IMSI_IMPU}>;tag=scscf2",
        "Call-ID: a84b4c76e66710@2001:db8:1::2",
        "CSeq: 2 REGISTER",
        "Path: <sip:term@pcscf.ims.mnc001.mcc001.3gppnetwork.org:5060;lr>",
        "Service-Route: <sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr>",
        f"P-Associated-URI: <{IMSI_IMPU}>, <sip:+15551230001@{DOMAIN}>",
        "P-Associated-URI: <tel:+15551230001>",
        'P-Charging-Function-Addresses: ccf=192.0.2.10; ccf=192.0.2.11; ecf="pcrf.example"',
        "Content-Length: 0",
    )


# -- P-Charging-Vector ------------------------------------------------------
def test_charging_vector_rfc7315_example() -> None:
    msg = _request(
        "P-Charging-Vector: icid-value=1234bc9876e; icid-generated-at=192.0.6.8; orig-ioi=home1.net"
    )
    pcv = charging_vector(msg)
    assert pcv is not None
    assert pcv.icid_value == "1234bc9876e"
    assert (pcv.icid_generated_at, pcv.orig_ioi, pcv.term_ioi) == ("192.0.6.8", "home1.net", None)
    assert str(pcv) == "icid-value=1234bc9876e;icid-generated-at=192.0.6.8;orig-ioi=home1.net"


def test_charging_vector_quoted_icid_and_other_params() -> None:
    pcv = parse_charging_vector(
        'orig-ioi="Type 3home1.net";icid-value="AyretyU0dm+6O2IrT5tAFrbHLso=023551024";'
        "transit-ioi=x.net"
    )
    assert pcv.icid_value == "AyretyU0dm+6O2IrT5tAFrbHLso=023551024"
    assert pcv.orig_ioi == "Type 3home1.net"
    assert pcv.params.get("transit-ioi") == "x.net"
    pcv.set_param("term-ioi", "home2 net")
    assert str(pcv) == (
        'icid-value="AyretyU0dm+6O2IrT5tAFrbHLso=023551024";orig-ioi="Type 3home1.net";'
        'transit-ioi=x.net;term-ioi="home2 net"'
    )


def test_absent_charging_vector_is_none() -> None:
    assert charging_vector(_request()) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("orig-ioi=home1.net", "exactly one icid-value"),
        ("icid-value=a;icid-value=b", "exactly one icid-value"),
        ("icid-value", "empty icid-value"),
        ('icid-value="abc', "Unterminated quoted string"),
    ],
)
def test_malformed_charging_vector_raises(text: str, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        parse_charging_vector(text)


def test_two_charging_vectors_raise() -> None:
    msg = _request("P-Charging-Vector: icid-value=a", "P-Charging-Vector: icid-value=b")
    with pytest.raises(SipParseError, match="Multiple P-Charging-Vector"):
        charging_vector(msg)


# -- P-Charging-Function-Addresses -----------------------------------------
def test_charging_function_addresses_keep_order() -> None:
    pcfa = charging_function_addresses(_register_ok())
    assert pcfa is not None
    assert pcfa.ccf == ["192.0.2.10", "192.0.2.11"]
    assert pcfa.ecf == ["pcrf.example"]
    assert str(pcfa) == 'ccf=192.0.2.10;ccf=192.0.2.11;ecf="pcrf.example"'


def test_charging_function_addresses_build_quotes_only_when_needed() -> None:
    pcfa = ChargingFunctionAddresses.build(["[2001:db8::10]", "ccf.home1.net"], ["ecf 1"])
    assert str(pcfa) == 'ccf=[2001:db8::10];ccf=ccf.home1.net;ecf="ecf 1"'
    assert parse_charging_function_addresses(str(pcfa)).ecf == ["ecf 1"]


def test_empty_charging_function_addresses_raises() -> None:
    with pytest.raises(SipParseError, match="Empty P-Charging-Function-Addresses"):
        parse_charging_function_addresses("")


# -- P-Access-Network-Info --------------------------------------------------
def test_access_network_info_e_utran_and_network_provided() -> None:
    msg = _request(
        "P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=001010001000019B01",
        'P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp="001010001000019B01";'
        'network-provided, IEEE-802.11;i-wlan-node-id=ffeeddccbbaa',
    )
    ue, net, wlan = access_network_info(msg)
    assert (ue.access_type, ue.utran_cell_id_3gpp, ue.network_provided) == (
        "3GPP-E-UTRAN-FDD", "001010001000019B01", False)
    assert (net.utran_cell_id_3gpp, net.network_provided) == ("001010001000019B01", True)
    assert (wlan.access_type, wlan.get("i-wlan-node-id")) == ("IEEE-802.11", "ffeeddccbbaa")
    assert str(net) == '3GPP-E-UTRAN-FDD;utran-cell-id-3gpp="001010001000019B01";network-provided'


def test_access_network_info_geran_cgi() -> None:
    pani = parse_access_network_info("3GPP-GERAN; cgi-3gpp=23456789ABCDEF")
    assert pani.cgi_3gpp == "23456789ABCDEF"
    assert pani.utran_cell_id_3gpp is None


@pytest.mark.parametrize("text", ["", ";utran-cell-id-3gpp=1", '"3GPP"', "3GPP E-UTRAN"])
def test_malformed_access_network_info_raises(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_access_network_info(text)


# -- P-Visited-Network-ID ---------------------------------------------------
def test_visited_network_ids_rfc7315_example() -> None:
    msg = _request(
        f"P-Visited-Network-ID: {DOMAIN}",
        'P-Visited-Network-ID: other.net, "Visited network number 1";x=1',
    )
    ids = visited_network_ids(msg)
    assert [v.value for v in ids] == [DOMAIN, "other.net", "Visited network number 1"]
    assert ids[2].params.get("x") == "1"
    assert [str(v) for v in ids] == [DOMAIN, "other.net", '"Visited network number 1";x=1']


@pytest.mark.parametrize("text", ["", "two words", '"a"b"', ";x=1"])
def test_malformed_visited_network_id_raises(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_visited_network_id(text)


# -- identities and routes --------------------------------------------------
def test_asserted_identity_sip_and_tel() -> None:
    msg = _request(f'P-Asserted-Identity: "Alice" <sip:+15551230001@{DOMAIN}>, <tel:+15551230001>')
    ids = asserted_identities(msg)
    assert [str(a.uri) for a in ids] == [f"sip:+15551230001@{DOMAIN}", "tel:+15551230001"]
    assert ids[0].display_name == "Alice"
    tel = select_identity(ids, "tel")
    sip = select_identity(ids, "sips")
    assert tel is not None and str(tel.uri) == "tel:+15551230001"
    assert sip is ids[0]


def test_preferred_identity_single_sips() -> None:
    msg = _request(f"P-Preferred-Identity: <sips:+15551230001@{DOMAIN}>")
    [ppi] = preferred_identities(msg)
    assert ppi.uri.scheme == "sips"
    assert select_identity([ppi], "tel") is None
    assert asserted_identities(msg) == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (f"<sip:a@{DOMAIN}>, <sips:b@{DOMAIN}>", "two URIs of one kind"),
        ("<tel:+1555>, <tel:+1666>", "two URIs of one kind"),
        ("<mailto:alice@example.com>", "mailto: URI"),
        ("<sip:a@>", "Bad|Empty|Invalid"),
    ],
)
def test_bad_asserted_identity_raises(value: str, reason: str) -> None:
    with pytest.raises(SipParseError, match=reason):
        asserted_identities(_request(f"P-Asserted-Identity: {value}"))


def test_registration_200_ok_routes_and_implicit_set() -> None:
    msg = _register_ok()
    assert [str(a.uri) for a in path(msg)] == [f"sip:term@pcscf.{DOMAIN}:5060;lr"]
    [route] = service_routes(msg)
    assert str(route.uri) == "sip:orig@scscf.ims.mnc001.mcc001.3gppnetwork.org:6060;lr"
    assert [str(a.uri) for a in associated_uris(msg)] == [
        IMSI_IMPU, f"sip:+15551230001@{DOMAIN}", "tel:+15551230001"]


def test_absent_route_headers_are_empty() -> None:
    msg = _request()
    assert (path(msg), service_routes(msg), associated_uris(msg)) == ([], [], [])
    assert (visited_network_ids(msg), access_network_info(msg)) == ([], [])
    assert charging_function_addresses(msg) is None


# -- properties ------------------------------------------------------------
_TOKENS = st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~]{1,12}", fullmatch=True)
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


def _params(exclude: set[str]) -> st.SearchStrategy[Params]:
    names = st.lists(_TOKENS.filter(lambda n: n.lower() not in exclude), max_size=3,
                     unique_by=str.lower)
    return names.flatmap(lambda ns: st.lists(st.none() | _TOKENS, min_size=len(ns),
                                             max_size=len(ns)).map(
        lambda vs: Params(list(zip(ns, vs, strict=True)))))


@given(_TEXT, _params({"icid-value"}))
def test_charging_vector_round_trips(icid: str, params: Params) -> None:
    pcv = ChargingVector(icid, params)
    assert parse_charging_vector(str(pcv)) == pcv


@given(_TOKENS, _params(set()))
def test_access_network_info_round_trips(access_type: str, params: Params) -> None:
    pani = AccessNetworkInfo(access_type, params)
    assert parse_access_network_info(str(pani)) == pani


@given(_TEXT, _params(set()))
def test_visited_network_id_round_trips(value: str, params: Params) -> None:
    vni = VisitedNetworkId(value, params)
    assert parse_visited_network_id(str(vni)) == vni


@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_sip_parse_error(text: str) -> None:
    parsers = (parse_charging_vector, parse_access_network_info, parse_visited_network_id,
               parse_charging_function_addresses)
    for parse in parsers:
        try:
            parse(text)
        except SipParseError:
            pass
