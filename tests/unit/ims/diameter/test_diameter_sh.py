"""Sh build/read round trips, wire checks and Sh-Data XML (TS 29.329 §6.1, TS 29.328 Annex D)."""

from __future__ import annotations

import pytest
from diameterwire import IMPU, REALM, SCSCF, answer_to, envelope, find, top_avps, wire

from ims.diameter.results import SUCCESS, AvpError, Result, ResultCode, ShExperimentalResult
from ims.diameter.sh import (
    DataReference,
    ImsUserState,
    Pua,
    Pur,
    RepositoryData,
    RepositoryDataId,
    ShData,
    ShDataError,
    ShUserIdentity,
    Uda,
    Udr,
    build_pua,
    build_pur,
    build_sh_data,
    build_uda,
    build_udr,
    parse_sh_data,
    read_pua,
    read_pur,
    read_uda,
    read_udr,
)

REPO = RepositoryData("mmtel-settings", 3, '<simservs><cdiv active="true">voicemail</cdiv></simservs>')
SH_DATA = ShData(
    public_identities=(IMPU, "tel:+15550100"),
    msisdns=("15550100",),
    repository_data=(REPO, RepositoryData("plain", 0, "opaque text &amp; more")),
    scscf_name=SCSCF,
    ims_user_state=ImsUserState.REGISTERED,
)


def test_data_reference_values_match_ts29329() -> None:
    # TS 29.329 §6.3.4
    assert {v.name: int(v) for v in DataReference} == {
        "REPOSITORY_DATA": 0, "IMS_PUBLIC_IDENTITY": 10, "IMS_USER_STATE": 11,
        "S_CSCF_NAME": 12, "INITIAL_FILTER_CRITERIA": 13, "LOCATION_INFORMATION": 14,
        "USER_STATE": 15, "CHARGING_INFORMATION": 16, "MSISDN": 17, "PSI_ACTIVATION": 18,
        "DSAI": 19,
    }


def _udr(identity: ShUserIdentity) -> Udr:
    return Udr(envelope("as"), identity,
               (DataReference.REPOSITORY_DATA, DataReference.IMS_USER_STATE),
               (b"mmtel-settings",), SCSCF)


def test_udr_round_trip_by_public_identity() -> None:
    udr = _udr(ShUserIdentity(public_identity=IMPU))
    request = wire(build_udr(udr))
    assert request.header.command_code == 306 and request.header.application_id == 16777217
    got = read_udr(request)
    assert got == udr
    assert got.data_references == (0, 11)


def test_udr_round_trip_by_msisdn_sends_tbcd() -> None:
    udr = _udr(ShUserIdentity(msisdn="15550100"))
    request = wire(build_udr(udr))
    assert read_udr(request) == udr
    assert [a.value for a in find(request, (700, 10415), (701, 10415))] == [
        bytes.fromhex("51551000")]


def test_udr_without_identity_is_missing_avp() -> None:
    msg = build_udr(_udr(ShUserIdentity()))
    with pytest.raises(AvpError) as info:
        read_udr(wire(msg))
    assert info.value.avp == "Public-Identity"


def test_udr_unknown_data_reference_is_invalid() -> None:
    msg = build_udr(_udr(ShUserIdentity(public_identity=IMPU)))
    msg.data_reference = [99]
    with pytest.raises(AvpError) as info:
        read_udr(wire(msg))
    assert info.value.result_hint == ResultCode.DIAMETER_INVALID_AVP_VALUE


def test_uda_round_trip_uses_sh_user_data_702() -> None:
    request = wire(build_udr(_udr(ShUserIdentity(public_identity=IMPU))))
    uda = Uda(answer_to(read_udr(request).envelope, SUCCESS), build_sh_data(SH_DATA))
    received = wire(build_uda(request, uda))
    assert read_uda(received) == uda
    assert (702, 10415) in top_avps(received) and (606, 10415) not in top_avps(received)
    assert parse_sh_data(read_uda(received).user_data or "") == SH_DATA


def test_uda_user_unknown() -> None:
    request = wire(build_udr(_udr(ShUserIdentity(public_identity=IMPU))))
    uda = Uda(answer_to(read_udr(request).envelope,
                        Result.of(ShExperimentalResult.DIAMETER_ERROR_USER_UNKNOWN)))
    got = read_uda(wire(build_uda(request, uda)))
    assert got == uda and got.user_data is None


def test_pur_round_trip_uses_sh_user_data_702() -> None:
    xml = build_sh_data(ShData(repository_data=(REPO,)))
    pur = Pur(envelope("as"), ShUserIdentity(public_identity=IMPU),
              DataReference.REPOSITORY_DATA, xml)
    request = wire(build_pur(pur))
    assert request.header.command_code == 307
    assert read_pur(request) == pur
    assert [a.value for a in find(request, (702, 10415))] == [xml.encode()]
    assert parse_sh_data(read_pur(request).user_data).repository_data[0].sequence_number == 3


def test_pur_without_user_data_is_missing_avp() -> None:
    msg = build_pur(Pur(envelope("as"), ShUserIdentity(public_identity=IMPU),
                        DataReference.REPOSITORY_DATA, "<Sh-Data/>"))
    msg.user_data = None
    with pytest.raises(AvpError) as info:
        read_pur(wire(msg))
    assert info.value.avp == "User-Data"


def test_pua_round_trip() -> None:
    pur = Pur(envelope("as"), ShUserIdentity(public_identity=IMPU),
              DataReference.REPOSITORY_DATA, build_sh_data(ShData(repository_data=(REPO,))))
    request = wire(build_pur(pur))
    pua = Pua(answer_to(pur.envelope, SUCCESS), RepositoryDataId(b"mmtel-settings", 3),
              DataReference.REPOSITORY_DATA)
    assert read_pua(wire(build_pua(request, pua))) == pua


def test_pua_out_of_sync() -> None:
    request = wire(build_pur(Pur(envelope("as"), ShUserIdentity(public_identity=IMPU),
                                 DataReference.REPOSITORY_DATA, "<Sh-Data/>")))
    result = Result.of(ShExperimentalResult.DIAMETER_ERROR_TRANSPARENT_DATA_OUT_OF_SYNC)
    pua = Pua(answer_to(read_pur(request).envelope, result))
    got = read_pua(wire(build_pua(request, pua)))
    assert got == pua and got.answer.result == Result(5105, experimental=True)


def test_sh_data_xml_layout() -> None:
    xml = build_sh_data(SH_DATA)
    assert xml.startswith("<Sh-Data><PublicIdentifiers><IMSPublicIdentity>")
    assert ('<ServiceData><simservs><cdiv active="true">voicemail</cdiv></simservs>'
            "</ServiceData>") in xml
    assert "<ServiceData>opaque text &amp; more</ServiceData>" in xml
    assert xml.endswith(f"<Sh-IMS-Data><S-CSCFName>{SCSCF}</S-CSCFName>"
                        "<IMSUserState>1</IMSUserState></Sh-IMS-Data></Sh-Data>")


def test_sh_data_round_trip() -> None:
    got = parse_sh_data(build_sh_data(SH_DATA))
    assert got == SH_DATA
    assert got.repository_data[1].service_data == "opaque text &amp; more"


def test_sh_data_rejects_bad_service_data_fragment() -> None:
    with pytest.raises(ShDataError):
        build_sh_data(ShData(repository_data=(RepositoryData("x", 1, "<open>"),)))


@pytest.mark.parametrize(
    "xml",
    [
        "<Sh-Data><RepositoryData><ServiceIndication>x</ServiceIndication>"
        "<SequenceNumber>-1</SequenceNumber></RepositoryData></Sh-Data>",
        "<Sh-Data><RepositoryData><SequenceNumber>1</SequenceNumber></RepositoryData></Sh-Data>",
        "<Other/>",
        "<Sh-Data>",
        '<!DOCTYPE a [<!ENTITY e "x">]><Sh-Data/>',
        "<Sh-Data><Sh-IMS-Data><IMSUserState>9</IMSUserState></Sh-IMS-Data></Sh-Data>",
    ],
)
def test_sh_data_rejects_bad_documents(xml: str) -> None:
    with pytest.raises(ShDataError):
        parse_sh_data(xml)


def test_sh_data_size_limit() -> None:
    with pytest.raises(ShDataError):
        parse_sh_data("<Sh-Data>" + " " * (256 * 1024) + "</Sh-Data>")
    assert REALM in IMPU
