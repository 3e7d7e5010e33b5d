"""S6a build/read round trips and wire checks (TS 29.272 §7.2, §7.3)."""

from __future__ import annotations

import pytest
from diameterwire import REALM, answer_to, envelope, find, top_avps, wire

from ims.diameter.results import (
    SUCCESS,
    AvpError,
    Origin,
    Result,
    S6aExperimentalResult,
)
from ims.diameter.s6a import (
    Aia,
    Air,
    AllApnConfigurationsIncluded,
    Ambr,
    ApnConfiguration,
    ApnProfile,
    Arp,
    CancellationType,
    Cla,
    Clr,
    ClrFlags,
    Dsa,
    Dsr,
    DsrFlags,
    EpsQos,
    EutranVector,
    Ida,
    Idr,
    IdrFlags,
    NetworkAccessMode,
    PdnType,
    PreEmptionCapability,
    PreEmptionVulnerability,
    Pua,
    PuaFlags,
    Pur,
    PurFlags,
    RatType,
    SubscriberStatus,
    SubscriptionData,
    Ula,
    UlaFlags,
    Ulr,
    UlrFlags,
    build_aia,
    build_air,
    build_cla,
    build_clr,
    build_dsa,
    build_dsr,
    build_ida,
    build_idr,
    build_pua,
    build_pur,
    build_ula,
    build_ulr,
    read_aia,
    read_air,
    read_cla,
    read_clr,
    read_dsa,
    read_dsr,
    read_ida,
    read_idr,
    read_pua,
    read_pur,
    read_ula,
    read_ulr,
)

IMSI = "001010000000001"
PLMN = bytes.fromhex("00f110")  # MCC 001, MNC 01 (TS 24.008 §10.5.1.13 layout)
MME = Origin(f"mme.{REALM}", REALM)
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
AUTN = bytes.fromhex("55f328b43577b9b94a9ffac354dfafb3")
XRES = bytes.fromhex("a54211d5e3ba50bf")
KASME = bytes(range(32))
AUTS = bytes.fromhex("bbb2b9f2e3e9a7b1d8a6f3c2e1d0")

INTERNET = ApnConfiguration(
    context_identifier=1, apn="internet", pdn_type=PdnType.IPV4V6,
    qos=EpsQos(9, Arp(8, PreEmptionCapability.DISABLED, PreEmptionVulnerability.ENABLED)),
    ambr=Ambr(50_000_000, 100_000_000),
)
IMS = ApnConfiguration(
    context_identifier=2, apn="ims", pdn_type=PdnType.IPV4,
    qos=EpsQos(5, Arp(1, PreEmptionCapability.ENABLED, PreEmptionVulnerability.DISABLED)),
)
SUBSCRIPTION = SubscriptionData(
    msisdn="15550100",
    subscriber_status=SubscriberStatus.SERVICE_GRANTED,
    network_access_mode=NetworkAccessMode.ONLY_PACKET,
    access_restriction_data=0x2F,
    ambr=Ambr(100_000_000, 200_000_000),
    apn_profile=ApnProfile(1, (INTERNET, IMS),
                           AllApnConfigurationsIncluded.ALL_APN_CONFIGURATIONS_INCLUDED),
)


def test_air_round_trip() -> None:
    air = Air(envelope("mme"), IMSI, PLMN, number_of_vectors=3, immediate_response_preferred=True)
    request = wire(build_air(air))
    assert request.header.command_code == 318 and request.header.application_id == 16777251
    got = read_air(request)
    assert got == air
    assert got.number_of_vectors == 3 and got.resync_info is None


def test_air_resync_round_trip() -> None:
    air = Air(envelope("mme"), IMSI, PLMN, resync_info=RAND + AUTS)
    request = wire(build_air(air))
    assert read_air(request) == air
    assert [a.value for a in find(request, (1408, 10415), (1411, 10415))] == [RAND + AUTS]


def test_aia_round_trip() -> None:
    request = wire(build_air(Air(envelope("mme"), IMSI, PLMN, number_of_vectors=2)))
    vectors = (EutranVector(RAND, XRES, AUTN, KASME, 1), EutranVector(AUTN, XRES, RAND, KASME, 2))
    aia = Aia(answer_to(read_air(request).envelope, SUCCESS), vectors)
    received = wire(build_aia(request, aia))
    got = read_aia(received)
    assert got == aia
    assert (got.vectors[0].rand, got.vectors[0].autn, got.vectors[0].kasme) == (RAND, AUTN, KASME)
    assert [a.value for a in find(received, (1413, 10415), (1414, 10415), (1419, 10415))] == [1, 2]


def test_aia_error_carries_experimental_result_and_no_vectors() -> None:
    request = wire(build_air(Air(envelope("mme"), IMSI, PLMN)))
    result = Result.of(S6aExperimentalResult.DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE)
    aia = Aia(answer_to(read_air(request).envelope, result))
    received = wire(build_aia(request, aia))
    assert read_aia(received) == aia
    assert (1413, 10415) not in top_avps(received)
    assert read_aia(received).answer.result == Result(4181, experimental=True)


def test_ulr_round_trip() -> None:
    flags = UlrFlags.S6A_S6D_INDICATOR | UlrFlags.INITIAL_ATTACH_INDICATOR
    ulr = Ulr(envelope("mme"), IMSI, PLMN, RatType.EUTRAN, flags)
    request = wire(build_ulr(ulr))
    assert request.header.command_code == 316
    got = read_ulr(request)
    assert got == ulr
    assert got.flags == 0x22 and got.rat_type == 1004


def test_ula_round_trip_with_full_subscription() -> None:
    request = wire(build_ulr(Ulr(envelope("mme"), IMSI, PLMN)))
    ula = Ula(answer_to(read_ulr(request).envelope, SUCCESS), UlaFlags.SEPARATION_INDICATION,
              SUBSCRIPTION)
    received = wire(build_ula(request, ula))
    got = read_ula(received)
    assert got == ula
    assert got.subscription is not None and got.subscription.apn_profile is not None
    ims = got.subscription.apn_profile.configurations[1]
    assert (ims.apn, ims.qos.qci, ims.qos.arp.priority_level, ims.ambr) == ("ims", 5, 1, None)
    assert [a.value for a in find(received, (1400, 10415), (701, 10415))] == [
        bytes.fromhex("51551000")]
    assert [a.value for a in find(received, (1400, 10415), (1429, 10415), (1430, 10415),
                                  (493, 0))] == ["internet", "ims"]


def test_ula_unknown_eps_subscription() -> None:
    request = wire(build_ulr(Ulr(envelope("mme"), IMSI, PLMN)))
    result = Result.of(S6aExperimentalResult.DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION)
    ula = Ula(answer_to(read_ulr(request).envelope, result))
    got = read_ula(wire(build_ula(request, ula)))
    assert got == ula and got.subscription is None and got.answer.result.code == 5420


def test_qos_without_arp_is_missing_avp() -> None:
    request = wire(build_ulr(Ulr(envelope("mme"), IMSI, PLMN)))
    msg = build_ula(request, Ula(answer_to(read_ulr(request).envelope, SUCCESS), None,
                                 SUBSCRIPTION))
    msg.subscription_data.apn_configuration_profile.apn_configuration[0] \
        .eps_subscribed_qos_profile.allocation_retention_priority = None
    with pytest.raises(AvpError) as info:
        read_ula(wire(msg))
    assert info.value.avp == "Allocation-Retention-Priority"


def test_clr_cla_round_trip() -> None:
    env = envelope("hss", dest_host=f"mme.{REALM}")
    clr = Clr(env, IMSI, CancellationType.SUBSCRIPTION_WITHDRAWAL, ClrFlags.REATTACH_REQUIRED)
    request = wire(build_clr(clr))
    assert request.header.command_code == 317
    assert read_clr(request) == clr
    cla = Cla(answer_to(env, SUCCESS, MME))
    assert read_cla(wire(build_cla(request, cla))) == cla


def test_idr_ida_round_trip() -> None:
    env = envelope("hss", dest_host=f"mme.{REALM}")
    idr = Idr(env, IMSI, SubscriptionData(msisdn="15550100", ambr=Ambr(1000, 2000)),
              IdrFlags.EPS_USER_STATE_REQUEST)
    request = wire(build_idr(idr))
    assert request.header.command_code == 319
    assert read_idr(request) == idr
    ida = Ida(answer_to(env, SUCCESS, MME))
    assert read_ida(wire(build_ida(request, ida))) == ida


def test_dsr_dsa_round_trip() -> None:
    env = envelope("hss", dest_host=f"mme.{REALM}")
    dsr = Dsr(env, IMSI, DsrFlags.PDN_SUBSCRIPTION_CONTEXTS_WITHDRAWAL, (1, 2))
    request = wire(build_dsr(dsr))
    assert request.header.command_code == 320
    got = read_dsr(request)
    assert got == dsr and got.flags == 8
    dsa = Dsa(answer_to(env, SUCCESS, MME))
    assert read_dsa(wire(build_dsa(request, dsa))) == dsa


def test_purge_ue_round_trip() -> None:
    pur = Pur(envelope("mme"), IMSI, PurFlags.UE_PURGED_IN_MME)
    request = wire(build_pur(pur))
    assert request.header.command_code == 321
    assert read_pur(request) == pur
    pua = Pua(answer_to(pur.envelope, SUCCESS), PuaFlags.FREEZE_M_TMSI)
    got = read_pua(wire(build_pua(request, pua)))
    assert got == pua and got.flags == PuaFlags.FREEZE_M_TMSI
