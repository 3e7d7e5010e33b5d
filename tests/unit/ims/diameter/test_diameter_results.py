"""Result codes, their placement in answers, the envelope and TBCD (TS 29.229 §6.2, TS 29.329 §6.2,
TS 29.272 §7.4, RFC 6733 §7.1)."""

from __future__ import annotations

import pytest
from diameter.message.commands import UserAuthorizationAnswer
from diameterwire import REALM, envelope, find, top_avps, wire

from ims.diameter.cx import Uar, build_uar
from ims.diameter.results import (
    APP_CX,
    APP_S6A,
    APP_SH,
    SUCCESS,
    VENDOR_3GPP,
    Answer,
    AvpError,
    CxExperimentalResult,
    Result,
    ResultCode,
    S6aExperimentalResult,
    ShExperimentalResult,
    decode_tbcd,
    encode_tbcd,
    fill_answer,
    read_answer,
    read_envelope,
    read_result,
    set_experimental_result,
    set_result,
    set_result_code,
)

# TS 29.229 §6.2.1 (success) and §6.2.2 (permanent failures), one clause per code.
TS29229_CX = {
    "DIAMETER_FIRST_REGISTRATION": 2001,  # §6.2.1.1
    "DIAMETER_SUBSEQUENT_REGISTRATION": 2002,  # §6.2.1.2
    "DIAMETER_UNREGISTERED_SERVICE": 2003,  # §6.2.1.3
    "DIAMETER_SUCCESS_SERVER_NAME_NOT_STORED": 2004,  # §6.2.1.4
    "DIAMETER_ERROR_USER_UNKNOWN": 5001,  # §6.2.2.1
    "DIAMETER_ERROR_IDENTITIES_DONT_MATCH": 5002,  # §6.2.2.2
    "DIAMETER_ERROR_IDENTITY_NOT_REGISTERED": 5003,  # §6.2.2.3
    "DIAMETER_ERROR_ROAMING_NOT_ALLOWED": 5004,  # §6.2.2.4
    "DIAMETER_ERROR_IDENTITY_ALREADY_REGISTERED": 5005,  # §6.2.2.5
    "DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED": 5006,  # §6.2.2.6
    "DIAMETER_ERROR_IN_ASSIGNMENT_TYPE": 5007,  # §6.2.2.7
    "DIAMETER_ERROR_TOO_MUCH_DATA": 5008,  # §6.2.2.8
    "DIAMETER_ERROR_NOT_SUPPORTED_USER_DATA": 5009,  # §6.2.2.9
    "DIAMETER_ERROR_FEATURE_UNSUPPORTED": 5011,  # §6.2.2.10
    "DIAMETER_ERROR_SERVING_NODE_FEATURE_UNSUPPORTED": 5012,  # §6.2.2.11
}

# TS 29.329 §6.2.2 (permanent) and §6.2.3 (transient); 5001/5002/5008/5011 reused from TS 29.229.
TS29329_SH = {
    "DIAMETER_USER_DATA_NOT_AVAILABLE": 4100,
    "DIAMETER_PRIOR_UPDATE_IN_PROGRESS": 4101,
    "DIAMETER_ERROR_USER_UNKNOWN": 5001,
    "DIAMETER_ERROR_IDENTITIES_DONT_MATCH": 5002,
    "DIAMETER_ERROR_TOO_MUCH_DATA": 5008,
    "DIAMETER_ERROR_FEATURE_UNSUPPORTED": 5011,
    "DIAMETER_ERROR_USER_DATA_NOT_RECOGNIZED": 5100,
    "DIAMETER_ERROR_OPERATION_NOT_ALLOWED": 5101,
    "DIAMETER_ERROR_USER_DATA_CANNOT_BE_READ": 5102,
    "DIAMETER_ERROR_USER_DATA_CANNOT_BE_MODIFIED": 5103,
    "DIAMETER_ERROR_USER_DATA_CANNOT_BE_NOTIFIED": 5104,
    "DIAMETER_ERROR_TRANSPARENT_DATA_OUT_OF_SYNC": 5105,
    "DIAMETER_ERROR_SUBS_DATA_ABSENT": 5106,
    "DIAMETER_ERROR_NO_SUBSCRIPTION_TO_DATA": 5107,
    "DIAMETER_ERROR_DSAI_NOT_AVAILABLE": 5108,
}

# TS 29.272 §7.4.3 (permanent) and §7.4.4 (transient).
TS29272_S6A = {
    "DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE": 4181,  # §7.4.4.1
    "DIAMETER_ERROR_CAMEL_SUBSCRIPTION_PRESENT": 4182,  # §7.4.4.2
    "DIAMETER_ERROR_USER_UNKNOWN": 5001,  # §7.4.3.1
    "DIAMETER_ERROR_ROAMING_NOT_ALLOWED": 5004,  # §7.4.3.3
    "DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION": 5420,  # §7.4.3.2
    "DIAMETER_ERROR_RAT_NOT_ALLOWED": 5421,  # §7.4.3.4
    "DIAMETER_ERROR_EQUIPMENT_UNKNOWN": 5422,  # §7.4.3.5
    "DIAMETER_ERROR_UNKNOWN_SERVING_NODE": 5423,  # §7.4.3.6
}


def test_cx_experimental_results_match_ts29229_table() -> None:
    assert {m.name: m.value for m in CxExperimentalResult} == TS29229_CX


def test_sh_experimental_results_match_ts29329_table() -> None:
    assert {m.name: m.value for m in ShExperimentalResult} == TS29329_SH


def test_s6a_experimental_results_match_ts29272_table() -> None:
    assert {m.name: m.value for m in S6aExperimentalResult} == TS29272_S6A


def test_base_result_codes_match_rfc6733() -> None:
    codes = {m.name: int(m) for m in ResultCode}
    assert codes["DIAMETER_SUCCESS"] == 2001
    assert codes["DIAMETER_UNABLE_TO_DELIVER"] == 3002
    assert codes["DIAMETER_TOO_BUSY"] == 3004
    assert codes["DIAMETER_AUTHENTICATION_REJECTED"] == 4001
    assert codes["DIAMETER_MISSING_AVP"] == 5005
    assert codes["DIAMETER_UNABLE_TO_COMPLY"] == 5012
    assert len(codes) == 32


def test_application_ids_and_vendor() -> None:
    assert (VENDOR_3GPP, APP_CX, APP_SH, APP_S6A) == (10415, 16777216, 16777217, 16777251)


def test_result_of_places_3gpp_codes_in_experimental_result() -> None:
    assert Result.of(CxExperimentalResult.DIAMETER_FIRST_REGISTRATION) == Result(2001, True)
    assert Result.of(S6aExperimentalResult.DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION) == Result(
        5420, True
    )
    assert Result.of(ResultCode.DIAMETER_UNABLE_TO_COMPLY) == Result(5012, False)
    assert SUCCESS == Result(2001, False)
    assert Result(2002, True).is_success and not Result(5001, True).is_success


def test_experimental_result_is_grouped_with_vendor_3gpp_on_the_wire() -> None:
    answer = UserAuthorizationAnswer()
    set_experimental_result(answer, CxExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)
    assert (268, 0) not in top_avps(answer)
    assert (297, 0) in top_avps(answer)
    assert [a.value for a in find(answer, (297, 0), (266, 0))] == [10415]
    assert [a.value for a in find(answer, (297, 0), (298, 0))] == [5001]
    assert read_result(wire(answer)) == Result(5001, experimental=True)
    assert not answer.header.is_error


def test_result_code_replaces_experimental_result() -> None:
    answer = UserAuthorizationAnswer()
    set_experimental_result(answer, 2001)
    set_result_code(answer, ResultCode.DIAMETER_UNABLE_TO_COMPLY)
    assert (297, 0) not in top_avps(answer)
    assert [a.value for a in find(answer, (268, 0))] == [5012]
    assert read_result(wire(answer)) == Result(5012, experimental=False)
    assert not answer.header.is_error


def test_protocol_error_sets_the_e_bit() -> None:
    answer = UserAuthorizationAnswer()
    set_result(answer, Result(ResultCode.DIAMETER_TOO_BUSY))
    assert wire(answer).header.is_error
    assert read_result(wire(answer)) == Result(3004)


def test_read_result_without_any_result_is_missing_avp() -> None:
    with pytest.raises(AvpError) as info:
        read_result(wire(UserAuthorizationAnswer()))
    assert info.value.result_hint == ResultCode.DIAMETER_MISSING_AVP
    assert info.value.avp == "Result-Code"


def test_read_result_rejects_a_foreign_vendor() -> None:
    answer = UserAuthorizationAnswer()
    set_experimental_result(answer, 2001)
    answer.experimental_result.vendor_id = 5535
    with pytest.raises(AvpError) as info:
        read_result(wire(answer))
    assert info.value.result_hint == ResultCode.DIAMETER_INVALID_AVP_VALUE


def test_request_envelope_session_id_first_and_application_ids() -> None:
    env = envelope("icscf")
    msg = build_uar(Uar(env, "impi", "sip:impu", REALM))
    avps = top_avps(msg)
    assert avps[0] == (263, 0)
    assert msg.header.application_id == 16777216
    assert msg.header.is_request and msg.header.is_proxyable
    assert [a.value for a in find(msg, (260, 0), (266, 0))] == [10415]
    assert [a.value for a in find(msg, (260, 0), (258, 0))] == [16777216]
    assert [a.value for a in find(msg, (277, 0))] == [1]
    assert read_envelope(wire(msg)) == env


def test_request_without_origin_host_is_missing_avp() -> None:
    msg = build_uar(Uar(envelope(), "impi", "sip:impu", REALM))
    msg.origin_host = None
    with pytest.raises(AvpError) as info:
        read_envelope(wire(msg))
    assert info.value.avp == "Origin-Host"


def test_answer_copies_request_identifiers() -> None:
    request = build_uar(Uar(envelope(), "impi", "sip:impu", REALM))
    request.header.hop_by_hop_identifier = 0x1234
    request.header.end_to_end_identifier = 0xABCDEF
    received = wire(request)
    env = Answer("s;1", "hss.x", "x", SUCCESS)
    answer = wire(fill_answer(UserAuthorizationAnswer(), received, env))
    assert answer.header.hop_by_hop_identifier == 0x1234
    assert answer.header.end_to_end_identifier == 0xABCDEF
    assert answer.header.application_id == 16777216
    assert not answer.header.is_request and answer.header.is_proxyable
    assert answer.vendor_specific_application_id.auth_application_id == 16777216
    assert answer.auth_session_state == 1
    assert read_answer(answer) == env


@pytest.mark.parametrize(
    ("digits", "octets"),
    [
        ("15550100", bytes.fromhex("51551000")),
        ("491711234567", bytes.fromhex("947111325476")),
        ("12345", bytes.fromhex("2143f5")),
    ],
)
def test_tbcd(digits: str, octets: bytes) -> None:
    assert encode_tbcd(digits) == octets
    assert decode_tbcd(octets) == digits


def test_tbcd_rejects_non_digits() -> None:
    with pytest.raises(ValueError):
        encode_tbcd("+1555")
