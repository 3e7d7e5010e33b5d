"""Cx build/read round trips and wire checks (TS 29.229 §6.1, §6.3)."""

from __future__ import annotations

import pytest
from diameterwire import (
    HSS,
    IMPI,
    IMPU,
    REALM,
    SCSCF,
    TEL,
    answer_to,
    envelope,
    find,
    top_avps,
    wire,
)

from ims.diameter.cx import (
    AuthDataItem,
    AuthScheme,
    ChargingInformation,
    DigestAuthenticate,
    Lia,
    Lir,
    Maa,
    Mar,
    Ppa,
    Ppr,
    ReasonCode,
    Rta,
    Rtr,
    Saa,
    Sar,
    ServerAssignmentType,
    ServerCapabilities,
    Uaa,
    Uar,
    UserAuthorizationType,
    UserDataAlreadyAvailable,
    aka_item,
    build_lia,
    build_lir,
    build_maa,
    build_mar,
    build_ppa,
    build_ppr,
    build_rta,
    build_rtr,
    build_saa,
    build_sar,
    build_uaa,
    build_uar,
    read_lia,
    read_lir,
    read_maa,
    read_mar,
    read_ppa,
    read_ppr,
    read_rta,
    read_rtr,
    read_saa,
    read_sar,
    read_uaa,
    read_uar,
    resync_item,
)
from ims.diameter.results import (
    SUCCESS,
    AvpError,
    CxExperimentalResult,
    Origin,
    Result,
    ResultCode,
)

FIRST = Result.of(CxExperimentalResult.DIAMETER_FIRST_REGISTRATION)
UNKNOWN = Result.of(CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
AUTN = bytes.fromhex("55f328b43577b9b94a9ffac354dfafb3")
XRES = bytes.fromhex("a54211d5e3ba50bf")
CK = bytes.fromhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")
IK = bytes.fromhex("f769bcd751044604127672711c6d3441")
AUTS = bytes.fromhex("bbb2b9f2e3e9a7b1d8a6f3c2e1d0")
USER_DATA = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<IMSSubscription><PrivateID>'
    f"{IMPI}</PrivateID><ServiceProfile><PublicIdentity><Identity>{IMPU}</Identity>"
    "</PublicIdentity></ServiceProfile></IMSSubscription>"
)


def test_enumerations_match_ts29229() -> None:
    # §6.3.24 User-Authorization-Type, §6.3.17 Reason-Code, §6.3.26 User-Data-Already-Available
    assert [int(v) for v in UserAuthorizationType] == [0, 1, 2]
    assert [v.name for v in ReasonCode] == [
        "PERMANENT_TERMINATION", "NEW_SERVER_ASSIGNED", "SERVER_CHANGE", "REMOVE_S_CSCF"]
    assert [int(v) for v in UserDataAlreadyAvailable] == [0, 1]
    # §6.3.15 Server-Assignment-Type
    assert {v.name: int(v) for v in ServerAssignmentType} == {
        "NO_ASSIGNMENT": 0, "REGISTRATION": 1, "RE_REGISTRATION": 2, "UNREGISTERED_USER": 3,
        "TIMEOUT_DEREGISTRATION": 4, "USER_DEREGISTRATION": 5,
        "TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME": 6,
        "USER_DEREGISTRATION_STORE_SERVER_NAME": 7, "ADMINISTRATIVE_DEREGISTRATION": 8,
        "AUTHENTICATION_FAILURE": 9, "AUTHENTICATION_TIMEOUT": 10,
        "DEREGISTRATION_TOO_MUCH_DATA": 11, "AAA_USER_DATA_REQUEST": 12, "PGW_UPDATE": 13,
        "RESTORATION": 14,
    }
    assert [str(v) for v in AuthScheme] == ["Digest-AKAv1-MD5", "SIP Digest", "Unknown"]


# -- UAR/UAA --------------------------------------------------------------------------


def _uar() -> Uar:
    return Uar(envelope("icscf", dest_host=None), IMPI, IMPU, REALM,
               UserAuthorizationType.REGISTRATION_AND_CAPABILITIES)


def test_uar_round_trip() -> None:
    uar = _uar()
    received = wire(build_uar(uar))
    assert received.header.command_code == 300 and received.header.is_request
    assert read_uar(received) == uar
    assert read_uar(received).envelope.destination_host is None
    assert read_uar(received).authorization_type == 2


def test_uar_without_authorization_type_means_registration() -> None:
    msg = build_uar(_uar())
    msg.user_authorization_type = None
    assert read_uar(wire(msg)).authorization_type is UserAuthorizationType.REGISTRATION


def test_uaa_with_server_name_round_trip() -> None:
    request = wire(build_uar(_uar()))
    uaa = Uaa(answer_to(read_uar(request).envelope,
                        Result.of(CxExperimentalResult.DIAMETER_SUBSEQUENT_REGISTRATION)),
              server_name=SCSCF)
    received = wire(build_uaa(request, uaa))
    assert received.header.command_code == 300 and not received.header.is_request
    assert read_uaa(received) == uaa
    assert read_uaa(received).answer.result == Result(2002, experimental=True)
    assert read_uaa(received).server_capabilities is None


def test_uaa_with_capabilities_round_trip() -> None:
    request = wire(build_uar(_uar()))
    caps = ServerCapabilities(mandatory=(1, 7), optional=(3,), server_names=(SCSCF,))
    uaa = Uaa(answer_to(read_uar(request).envelope, FIRST), server_capabilities=caps)
    got = read_uaa(wire(build_uaa(request, uaa)))
    assert got == uaa
    assert got.server_capabilities == caps and got.server_name is None


# -- MAR/MAA --------------------------------------------------------------------------


def _mar(item: AuthDataItem) -> Mar:
    return Mar(envelope(), IMPI, IMPU, SCSCF, item, number_auth_items=2)


def test_mar_round_trip() -> None:
    mar = _mar(AuthDataItem(AuthScheme.AKAV1_MD5))
    got = read_mar(wire(build_mar(mar)))
    assert got == mar
    assert got.auth_data.scheme == "Digest-AKAv1-MD5" and got.number_auth_items == 2


def test_mar_resync_carries_rand_and_auts_in_sip_authorization() -> None:
    got = read_mar(wire(build_mar(_mar(resync_item(RAND, AUTS)))))
    assert got.auth_data.authorization == RAND + AUTS
    assert got.auth_data.authenticate is None


def test_mar_uses_3gpp_auth_avps_on_the_wire() -> None:
    msg = build_mar(_mar(resync_item(RAND, AUTS)))
    avps = top_avps(msg)
    assert (612, 10415) in avps and (607, 10415) in avps
    assert (376, 0) not in avps and (382, 0) not in avps
    assert [a.value for a in find(msg, (612, 10415), (608, 10415))] == ["Digest-AKAv1-MD5"]
    assert [a.value for a in find(msg, (612, 10415), (610, 10415))] == [RAND + AUTS]
    assert [a.value for a in find(msg, (601, 10415))] == [IMPU]


def test_maa_aka_round_trip() -> None:
    request = wire(build_mar(_mar(AuthDataItem(AuthScheme.AKAV1_MD5))))
    items = (aka_item(1, RAND, AUTN, XRES, CK, IK), aka_item(2, AUTN, RAND, XRES, IK, CK))
    maa = Maa(answer_to(read_mar(request).envelope, SUCCESS), IMPI, IMPU, 2, items)
    received = wire(build_maa(request, maa))
    got = read_maa(received)
    assert got == maa
    first = got.auth_items[0]
    assert (first.item_number, first.rand, first.autn) == (1, RAND, AUTN)
    assert (first.authorization, first.confidentiality_key, first.integrity_key) == (XRES, CK, IK)
    assert got.answer.result == Result(2001, experimental=False)
    assert [a.value for a in find(received, (1, 0))] == [IMPI]
    assert [a.value for a in find(received, (612, 10415), (613, 10415))] == [1, 2]


def test_maa_sip_digest_round_trip() -> None:
    request = wire(build_mar(_mar(AuthDataItem(AuthScheme.SIP_DIGEST))))
    digest = DigestAuthenticate(REALM, "0d3b4e8a3f7c6f3d2a1b0c9d8e7f6a5b", qop="auth",
                                algorithm="MD5")
    item = AuthDataItem(AuthScheme.SIP_DIGEST, item_number=1, digest=digest)
    maa = Maa(answer_to(read_mar(request).envelope, SUCCESS), IMPI, IMPU, 1, (item,))
    received = wire(build_maa(request, maa))
    assert read_maa(received) == maa
    assert [a.value for a in find(received, (612, 10415), (635, 10415), (104, 0))] == [REALM]


def test_maa_error_has_no_items() -> None:
    request = wire(build_mar(_mar(AuthDataItem(AuthScheme.AKAV1_MD5))))
    maa = Maa(answer_to(read_mar(request).envelope, UNKNOWN))
    got = read_maa(wire(build_maa(request, maa)))
    assert got == maa
    assert got.auth_items == () and got.answer.result == Result(5001, experimental=True)


def test_mar_without_auth_data_item_is_missing_avp() -> None:
    msg = build_mar(_mar(AuthDataItem(AuthScheme.AKAV1_MD5)))
    msg.sip_auth_data_item = None
    with pytest.raises(AvpError) as info:
        read_mar(wire(msg))
    assert info.value.avp == "SIP-Auth-Data-Item"
    assert info.value.result_hint == ResultCode.DIAMETER_MISSING_AVP


# -- SAR/SAA --------------------------------------------------------------------------


def _sar() -> Sar:
    return Sar(envelope(), SCSCF, ServerAssignmentType.REGISTRATION, (IMPU, TEL), IMPI,
               UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE)


def test_sar_round_trip() -> None:
    sar = _sar()
    got = read_sar(wire(build_sar(sar)))
    assert got == sar
    assert got.public_identities == (IMPU, TEL)
    assert got.assignment_type == 1


def test_sar_unknown_assignment_type_is_invalid_avp_value() -> None:
    msg = build_sar(_sar())
    msg.server_assignment_type = 15
    with pytest.raises(AvpError) as info:
        read_sar(wire(msg))
    assert info.value.result_hint == ResultCode.DIAMETER_INVALID_AVP_VALUE
    assert info.value.avp == "Server-Assignment-Type"


def test_saa_round_trip() -> None:
    request = wire(build_sar(_sar()))
    charging = ChargingInformation(primary_ecf="aaa://ecf.example.net", primary_ccf="aaa://ccf1",
                                   secondary_ccf="aaa://ccf2")
    saa = Saa(answer_to(read_sar(request).envelope, SUCCESS), IMPI, USER_DATA, charging,
              (IMPI, f"second@{REALM}"))
    received = wire(build_saa(request, saa))
    assert read_saa(received) == saa
    assert [a.value for a in find(received, (606, 10415))] == [USER_DATA.encode()]
    assert [a.value for a in find(received, (1, 0))] == [IMPI]


def test_saa_error_round_trip() -> None:
    request = wire(build_sar(_sar()))
    saa = Saa(answer_to(read_sar(request).envelope,
                        Result.of(CxExperimentalResult.DIAMETER_ERROR_IN_ASSIGNMENT_TYPE)))
    got = read_saa(wire(build_saa(request, saa)))
    assert got == saa and got.user_data is None and got.associated_identities == ()


# -- LIR/LIA --------------------------------------------------------------------------


def test_lir_lia_round_trip() -> None:
    lir = Lir(envelope("icscf", dest_host=None), TEL)
    request = wire(build_lir(lir))
    assert request.header.command_code == 302
    assert read_lir(request) == lir
    lia = Lia(answer_to(lir.envelope, Result.of(CxExperimentalResult.DIAMETER_UNREGISTERED_SERVICE)),
              server_name=SCSCF)
    got = read_lia(wire(build_lia(request, lia)))
    assert got == lia
    assert got.server_name == SCSCF and got.answer.result == Result(2003, True)


def test_lia_with_capabilities_round_trip() -> None:
    request = wire(build_lir(Lir(envelope("icscf"), IMPU)))
    lia = Lia(answer_to(read_lir(request).envelope, SUCCESS),
              server_capabilities=ServerCapabilities(mandatory=(2,)))
    assert read_lia(wire(build_lia(request, lia))) == lia


# -- RTR/RTA --------------------------------------------------------------------------


def test_rtr_rta_round_trip() -> None:
    env = envelope("hss", dest_host=f"scscf.{REALM}")
    rtr = Rtr(env, IMPI, ReasonCode.PERMANENT_TERMINATION, "subscription ended", (IMPU, TEL),
              (IMPI,))
    request = wire(build_rtr(rtr))
    assert request.header.command_code == 304
    got = read_rtr(request)
    assert got == rtr
    assert got.reason is ReasonCode.PERMANENT_TERMINATION and got.reason_info == "subscription ended"
    assert [a.value for a in find(request, (615, 10415), (616, 10415))] == [0]
    rta = Rta(answer_to(env, SUCCESS, Origin(f"scscf.{REALM}", REALM)), (IMPI,))
    assert read_rta(wire(build_rta(request, rta))) == rta


def test_rtr_without_reason_is_missing_avp() -> None:
    msg = build_rtr(Rtr(envelope("hss"), IMPI, ReasonCode.SERVER_CHANGE))
    msg.deregistration_reason = None
    with pytest.raises(AvpError) as info:
        read_rtr(wire(msg))
    assert info.value.avp == "Deregistration-Reason"


# -- PPR/PPA --------------------------------------------------------------------------


def test_ppr_ppa_round_trip() -> None:
    env = envelope("hss", dest_host=f"scscf.{REALM}")
    ppr = Ppr(env, IMPI, USER_DATA, ChargingInformation(secondary_ecf="aaa://ecf2"))
    request = wire(build_ppr(ppr))
    assert request.header.command_code == 305
    assert read_ppr(request) == ppr
    ppa = Ppa(answer_to(env, SUCCESS, Origin(f"scscf.{REALM}", REALM)))
    got = read_ppa(wire(build_ppa(request, ppa)))
    assert got == ppa and got.answer.origin_host == f"scscf.{REALM}"


def test_answer_origin_is_the_hss() -> None:
    request = wire(build_lir(Lir(envelope("icscf"), IMPU)))
    got = read_lia(wire(build_lia(request, Lia(answer_to(read_lir(request).envelope, SUCCESS)))))
    assert (got.answer.origin_host, got.answer.origin_realm) == (HSS.host, HSS.realm)
    assert got.answer.session_id == envelope("icscf").session_id
