"""S6a build and read helpers (TS 29.272 §7.2-§7.3; Rel-17).

One pure ``build_<msg>`` and one ``read_<msg>`` per S6a command our HSS
serves or sends: AIR/AIA, ULR/ULA, CLR/CLA, IDR/IDA, DSR/DSA and PUR/PUA
(Purge-UE). ``read_<msg>`` returns the frozen dataclass ``build_<msg>``
takes. Answers are built from the received request (its header
identifiers) plus an ``Answer`` envelope (``results.py``); S6a errors go in
Experimental-Result with ``S6aExperimentalResult`` codes (TS 29.272 §7.4).

python-diameter's S6a command and grouped classes carry the right AVP codes,
so they are used as they are. Its EPS-Subscribed-QoS-Profile defaults
Allocation-Retention-Priority to the class itself, not None; the reader
treats that as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any, TypeVar

from diameter.message import Message, commands
from diameter.message.avp import grouped as grp

from .results import (
    Answer,
    ApplicationId,
    AvpError,
    Envelope,
    decode_tbcd,
    encode_tbcd,
    enum_value,
    fill_answer,
    fill_request,
    integer,
    octets,
    opt_enum_value,
    opt_integer,
    opt_octets,
    read_answer,
    read_envelope,
    text,
)

F = TypeVar("F", bound=IntFlag)

# -- enumerations and flags -------------------------------------------------
class RatType(IntEnum):
    """RAT-Type (TS 29.212 §5.3.31), the 3GPP radio values an MME or SGSN sends."""

    UTRAN = 1000
    GERAN = 1001
    EUTRAN = 1004
    EUTRAN_NB_IOT = 1005


class CancellationType(IntEnum):
    """Cancellation-Type (TS 29.272 §7.3.24)."""

    MME_UPDATE_PROCEDURE = 0
    SGSN_UPDATE_PROCEDURE = 1
    SUBSCRIPTION_WITHDRAWAL = 2
    UPDATE_PROCEDURE_IWF = 3
    INITIAL_ATTACH_PROCEDURE = 4


class SubscriberStatus(IntEnum):
    """Subscriber-Status (TS 29.272 §7.3.29)."""

    SERVICE_GRANTED = 0
    OPERATOR_DETERMINED_BARRING = 1


class NetworkAccessMode(IntEnum):
    """Network-Access-Mode (TS 29.272 §7.3.21); 1 is reserved."""

    PACKET_AND_CIRCUIT = 0
    ONLY_PACKET = 2


class PdnType(IntEnum):
    """PDN-Type (TS 29.272 §7.3.62)."""

    IPV4 = 0
    IPV6 = 1
    IPV4V6 = 2
    IPV4_OR_IPV6 = 3


class AllApnConfigurationsIncluded(IntEnum):
    """All-APN-Configurations-Included-Indicator (TS 29.272 §7.3.44)."""

    ALL_APN_CONFIGURATIONS_INCLUDED = 0
    MODIFIED_ADDED_APN_CONFIGURATIONS_INCLUDED = 1


class PreEmptionCapability(IntEnum):
    """Pre-emption-Capability (TS 29.212 §5.3.46)."""

    ENABLED = 0
    DISABLED = 1


class PreEmptionVulnerability(IntEnum):
    """Pre-emption-Vulnerability (TS 29.212 §5.3.47)."""

    ENABLED = 0
    DISABLED = 1


class UlrFlags(IntFlag):
    """ULR-Flags bits (TS 29.272 §7.3.7)."""

    SINGLE_REGISTRATION_INDICATION = 1 << 0
    S6A_S6D_INDICATOR = 1 << 1
    SKIP_SUBSCRIBER_DATA = 1 << 2
    GPRS_SUBSCRIPTION_DATA_INDICATOR = 1 << 3
    NODE_TYPE_INDICATOR = 1 << 4
    INITIAL_ATTACH_INDICATOR = 1 << 5
    PS_LCS_NOT_SUPPORTED_BY_UE = 1 << 6
    SMS_ONLY_INDICATION = 1 << 7


class UlaFlags(IntFlag):
    """ULA-Flags bits (TS 29.272 §7.3.8)."""

    SEPARATION_INDICATION = 1 << 0
    MME_REGISTERED_FOR_SMS = 1 << 1


class ClrFlags(IntFlag):
    """CLR-Flags bits (TS 29.272 §7.3.152)."""

    S6A_S6D_INDICATOR = 1 << 0
    REATTACH_REQUIRED = 1 << 1


class IdrFlags(IntFlag):
    """IDR-Flags bits (TS 29.272 §7.3.103), the first ones."""

    UE_REACHABILITY_REQUEST = 1 << 0
    T_ADS_DATA_REQUEST = 1 << 1
    EPS_USER_STATE_REQUEST = 1 << 2
    EPS_LOCATION_INFORMATION_REQUEST = 1 << 3
    CURRENT_LOCATION_REQUEST = 1 << 4


class DsrFlags(IntFlag):
    """DSR-Flags bits (TS 29.272 §7.3.25), the first ones."""

    REGIONAL_SUBSCRIPTION_WITHDRAWAL = 1 << 0
    COMPLETE_APN_CONFIGURATION_PROFILE_WITHDRAWAL = 1 << 1
    SUBSCRIBED_CHARGING_CHARACTERISTICS_WITHDRAWAL = 1 << 2
    PDN_SUBSCRIPTION_CONTEXTS_WITHDRAWAL = 1 << 3
    STN_SR = 1 << 4


class PurFlags(IntFlag):
    """PUR-Flags bits (TS 29.272 §7.3.149)."""

    UE_PURGED_IN_MME = 1 << 0
    UE_PURGED_IN_SGSN = 1 << 1


class PuaFlags(IntFlag):
    """PUA-Flags bits (TS 29.272 §7.3.48)."""

    FREEZE_M_TMSI = 1 << 0
    FREEZE_P_TMSI = 1 << 1


def _flags(kind: type[F], value: Any, avp: str) -> F | None:
    number = opt_integer(value, avp)
    return None if number is None else kind(number)


def _put_flags(flags: IntFlag | None) -> int | None:
    return None if flags is None else int(flags)


# -- AIR/AIA (TS 29.272 §7.2.5-§7.2.6) --------------------------------------
@dataclass(frozen=True, slots=True)
class Air:
    """Authentication-Information-Request: the MME asks for E-UTRAN vectors.

    ``resync_info`` is RAND||AUTS (Re-Synchronization-Info, TS 29.272 §7.3.15).
    """

    envelope: Envelope
    user_name: str
    visited_plmn_id: bytes
    number_of_vectors: int = 1
    immediate_response_preferred: bool = False
    resync_info: bytes | None = None


@dataclass(frozen=True, slots=True)
class EutranVector:
    """E-UTRAN-Vector (TS 29.272 §7.3.18)."""

    rand: bytes
    xres: bytes
    autn: bytes
    kasme: bytes
    item_number: int | None = None


@dataclass(frozen=True, slots=True)
class Aia:
    """Authentication-Information-Answer."""

    answer: Answer
    vectors: tuple[EutranVector, ...] = ()


def build_air(air: Air) -> Message:
    """Build an AIR from ``air``."""
    msg = fill_request(commands.AuthenticationInformationRequest(), ApplicationId.S6A,
                       air.envelope)
    msg.user_name = air.user_name
    msg.visited_plmn_id = air.visited_plmn_id
    msg.requested_eutran_authentication_info = grp.RequestedEutranAuthenticationInfo(
        number_of_requested_vectors=air.number_of_vectors,
        immediate_response_preferred=1 if air.immediate_response_preferred else None,
        re_synchronization_info=air.resync_info,
    )
    return msg


def read_air(msg: Message) -> Air:
    """Read a received AIR.

    Raises:
        AvpError: a mandatory AVP, or Requested-EUTRAN-Authentication-Info, is missing.
    """
    info = msg.requested_eutran_authentication_info
    if info is None:
        raise AvpError("Requested-EUTRAN-Authentication-Info")
    wanted = opt_integer(info.number_of_requested_vectors, "Number-Of-Requested-Vectors")
    return Air(
        envelope=read_envelope(msg),
        user_name=text(msg.user_name, "User-Name"),
        visited_plmn_id=octets(msg.visited_plmn_id, "Visited-PLMN-Id"),
        number_of_vectors=1 if wanted is None else wanted,
        immediate_response_preferred=info.immediate_response_preferred is not None,
        resync_info=opt_octets(info.re_synchronization_info, "Re-Synchronization-Info"),
    )


def _put_vector(vector: EutranVector) -> Any:
    return grp.EUtranVector(item_number=vector.item_number, rand=vector.rand, xres=vector.xres,
                            autn=vector.autn, kasme=vector.kasme)


def _get_vector(grouped: Any) -> EutranVector:
    return EutranVector(
        rand=octets(grouped.rand, "RAND"),
        xres=octets(grouped.xres, "XRES"),
        autn=octets(grouped.autn, "AUTN"),
        kasme=octets(grouped.kasme, "KASME"),
        item_number=opt_integer(grouped.item_number, "Item-Number"),
    )


def build_aia(request: Message, aia: Aia) -> Message:
    """Build the AIA answering ``request`` (no Authentication-Info without vectors)."""
    msg = fill_answer(commands.AuthenticationInformationAnswer(), request, aia.answer)
    if aia.vectors:
        msg.authentication_info = grp.AuthenticationInfo(
            e_utran_vector=[_put_vector(v) for v in aia.vectors])
    return msg


def read_aia(msg: Message) -> Aia:
    """Read a received AIA."""
    info = msg.authentication_info
    vectors = () if info is None else tuple(_get_vector(v) for v in info.e_utran_vector)
    return Aia(read_answer(msg), vectors)


# -- Subscription-Data (TS 29.272 §7.3.2) -----------------------------------
@dataclass(frozen=True, slots=True)
class Ambr:
    """AMBR (TS 29.272 §7.3.41): aggregate maximum bit rates, bits per second."""

    max_requested_bandwidth_ul: int
    max_requested_bandwidth_dl: int


@dataclass(frozen=True, slots=True)
class Arp:
    """Allocation-Retention-Priority (TS 29.272 §7.3.40)."""

    priority_level: int
    pre_emption_capability: PreEmptionCapability = PreEmptionCapability.DISABLED
    pre_emption_vulnerability: PreEmptionVulnerability = PreEmptionVulnerability.ENABLED


@dataclass(frozen=True, slots=True)
class EpsQos:
    """EPS-Subscribed-QoS-Profile (TS 29.272 §7.3.37)."""

    qci: int
    arp: Arp


@dataclass(frozen=True, slots=True)
class ApnConfiguration:
    """APN-Configuration (TS 29.272 §7.3.35); ``apn`` is the Service-Selection."""

    context_identifier: int
    apn: str
    pdn_type: PdnType
    qos: EpsQos
    ambr: Ambr | None = None


@dataclass(frozen=True, slots=True)
class ApnProfile:
    """APN-Configuration-Profile (TS 29.272 §7.3.34); ``context_identifier`` is the default APN."""

    context_identifier: int
    configurations: tuple[ApnConfiguration, ...]
    all_included: AllApnConfigurationsIncluded = (
        AllApnConfigurationsIncluded.ALL_APN_CONFIGURATIONS_INCLUDED
    )


@dataclass(frozen=True, slots=True)
class SubscriptionData:
    """Subscription-Data (TS 29.272 §7.3.2), the parts an EPS attach needs."""

    msisdn: str | None = None
    subscriber_status: SubscriberStatus | None = None
    network_access_mode: NetworkAccessMode | None = None
    access_restriction_data: int | None = None
    ambr: Ambr | None = None
    apn_profile: ApnProfile | None = None


def _put_ambr(ambr: Ambr | None) -> Any:
    if ambr is None:
        return None
    return grp.Ambr(max_requested_bandwidth_ul=ambr.max_requested_bandwidth_ul,
                    max_requested_bandwidth_dl=ambr.max_requested_bandwidth_dl)


def _get_ambr(grouped: Any) -> Ambr | None:
    if grouped is None:
        return None
    return Ambr(integer(grouped.max_requested_bandwidth_ul, "Max-Requested-Bandwidth-UL"),
                integer(grouped.max_requested_bandwidth_dl, "Max-Requested-Bandwidth-DL"))


def _put_qos(qos: EpsQos) -> Any:
    arp = grp.AllocationRetentionPriority(
        priority_level=qos.arp.priority_level,
        pre_emption_capability=int(qos.arp.pre_emption_capability),
        pre_emption_vulnerability=int(qos.arp.pre_emption_vulnerability),
    )
    return grp.EpsSubscribedQosProfile(qos_class_identifier=qos.qci,
                                       allocation_retention_priority=arp)


def _get_qos(grouped: Any) -> EpsQos:
    arp = None if grouped is None else grouped.allocation_retention_priority
    if arp is None or isinstance(arp, type):
        raise AvpError("Allocation-Retention-Priority")
    capability = arp.pre_emption_capability
    vulnerability = arp.pre_emption_vulnerability
    return EpsQos(
        qci=integer(grouped.qos_class_identifier, "QoS-Class-Identifier"),
        arp=Arp(
            priority_level=integer(arp.priority_level, "Priority-Level"),
            pre_emption_capability=enum_value(
                PreEmptionCapability, 1 if capability is None else capability,
                "Pre-emption-Capability"),
            pre_emption_vulnerability=enum_value(
                PreEmptionVulnerability, 0 if vulnerability is None else vulnerability,
                "Pre-emption-Vulnerability"),
        ),
    )


def _put_apn(apn: ApnConfiguration) -> Any:
    return grp.ApnConfiguration(
        context_identifier=apn.context_identifier,
        pdn_type=int(apn.pdn_type),
        service_selection=apn.apn,
        eps_subscribed_qos_profile=_put_qos(apn.qos),
        ambr=_put_ambr(apn.ambr),
    )


def _get_apn(grouped: Any) -> ApnConfiguration:
    return ApnConfiguration(
        context_identifier=integer(grouped.context_identifier, "Context-Identifier"),
        apn=text(grouped.service_selection, "Service-Selection"),
        pdn_type=enum_value(PdnType, grouped.pdn_type, "PDN-Type"),
        qos=_get_qos(grouped.eps_subscribed_qos_profile),
        ambr=_get_ambr(grouped.ambr),
    )


def _put_profile(profile: ApnProfile | None) -> Any:
    if profile is None:
        return None
    return grp.ApnConfigurationProfile(
        context_identifier=profile.context_identifier,
        all_apn_configurations_included_indicator=int(profile.all_included),
        apn_configuration=[_put_apn(apn) for apn in profile.configurations],
    )


def _get_profile(grouped: Any) -> ApnProfile | None:
    if grouped is None:
        return None
    return ApnProfile(
        context_identifier=integer(grouped.context_identifier, "Context-Identifier"),
        configurations=tuple(_get_apn(apn) for apn in grouped.apn_configuration),
        all_included=enum_value(AllApnConfigurationsIncluded,
                                grouped.all_apn_configurations_included_indicator,
                                "All-APN-Configurations-Included-Indicator"),
    )


def put_subscription(data: SubscriptionData) -> Any:
    """The library's Subscription-Data grouped value for ``data``."""
    return grp.SubscriptionData(
        msisdn=None if data.msisdn is None else encode_tbcd(data.msisdn),
        subscriber_status=None if data.subscriber_status is None else int(data.subscriber_status),
        network_access_mode=(None if data.network_access_mode is None
                             else int(data.network_access_mode)),
        access_restriction_data=data.access_restriction_data,
        ambr=_put_ambr(data.ambr),
        apn_configuration_profile=_put_profile(data.apn_profile),
    )


def get_subscription(grouped: Any) -> SubscriptionData | None:
    """Read a received Subscription-Data grouped value (None when absent)."""
    if grouped is None:
        return None
    msisdn = opt_octets(grouped.msisdn, "MSISDN")
    return SubscriptionData(
        msisdn=None if msisdn is None else decode_tbcd(msisdn),
        subscriber_status=opt_enum_value(SubscriberStatus, grouped.subscriber_status,
                                         "Subscriber-Status"),
        network_access_mode=opt_enum_value(NetworkAccessMode, grouped.network_access_mode,
                                           "Network-Access-Mode"),
        access_restriction_data=opt_integer(grouped.access_restriction_data,
                                            "Access-Restriction-Data"),
        ambr=_get_ambr(grouped.ambr),
        apn_profile=_get_profile(grouped.apn_configuration_profile),
    )


# -- ULR/ULA (TS 29.272 §7.2.3-§7.2.4) --------------------------------------
@dataclass(frozen=True, slots=True)
class Ulr:
    """Update-Location-Request: the MME registers and asks for the subscription."""

    envelope: Envelope
    user_name: str
    visited_plmn_id: bytes
    rat_type: RatType = RatType.EUTRAN
    flags: UlrFlags = UlrFlags.S6A_S6D_INDICATOR


@dataclass(frozen=True, slots=True)
class Ula:
    """Update-Location-Answer: the subscription data."""

    answer: Answer
    flags: UlaFlags | None = None
    subscription: SubscriptionData | None = None


def build_ulr(ulr: Ulr) -> Message:
    """Build a ULR from ``ulr``."""
    msg = fill_request(commands.UpdateLocationRequest(), ApplicationId.S6A, ulr.envelope)
    msg.user_name = ulr.user_name
    msg.visited_plmn_id = ulr.visited_plmn_id
    msg.rat_type = int(ulr.rat_type)
    msg.ulr_flags = int(ulr.flags)
    return msg


def read_ulr(msg: Message) -> Ulr:
    """Read a received ULR."""
    return Ulr(read_envelope(msg), text(msg.user_name, "User-Name"),
               octets(msg.visited_plmn_id, "Visited-PLMN-Id"),
               enum_value(RatType, msg.rat_type, "RAT-Type"),
               UlrFlags(integer(msg.ulr_flags, "ULR-Flags")))


def build_ula(request: Message, ula: Ula) -> Message:
    """Build the ULA answering ``request``."""
    msg = fill_answer(commands.UpdateLocationAnswer(), request, ula.answer)
    msg.ula_flags = _put_flags(ula.flags)
    if ula.subscription is not None:
        msg.subscription_data = put_subscription(ula.subscription)
    return msg


def read_ula(msg: Message) -> Ula:
    """Read a received ULA."""
    return Ula(read_answer(msg), _flags(UlaFlags, msg.ula_flags, "ULA-Flags"),
               get_subscription(msg.subscription_data))


# -- CLR/CLA (TS 29.272 §7.2.7-§7.2.8) --------------------------------------
@dataclass(frozen=True, slots=True)
class Clr:
    """Cancel-Location-Request: the HSS removes the UE from an MME."""

    envelope: Envelope
    user_name: str
    cancellation_type: CancellationType
    flags: ClrFlags | None = None


@dataclass(frozen=True, slots=True)
class Cla:
    """Cancel-Location-Answer."""

    answer: Answer


def build_clr(clr: Clr) -> Message:
    """Build a CLR from ``clr`` (its envelope needs a Destination-Host)."""
    msg = fill_request(commands.CancelLocationRequest(), ApplicationId.S6A, clr.envelope)
    msg.user_name = clr.user_name
    msg.cancellation_type = int(clr.cancellation_type)
    msg.clr_flags = _put_flags(clr.flags)
    return msg


def read_clr(msg: Message) -> Clr:
    """Read a received CLR."""
    return Clr(read_envelope(msg), text(msg.user_name, "User-Name"),
               enum_value(CancellationType, msg.cancellation_type, "Cancellation-Type"),
               _flags(ClrFlags, msg.clr_flags, "CLR-Flags"))


def build_cla(request: Message, cla: Cla) -> Message:
    """Build the CLA answering ``request``."""
    return fill_answer(commands.CancelLocationAnswer(), request, cla.answer)


def read_cla(msg: Message) -> Cla:
    """Read a received CLA."""
    return Cla(read_answer(msg))


# -- IDR/IDA (TS 29.272 §7.2.9-§7.2.10) -------------------------------------
@dataclass(frozen=True, slots=True)
class Idr:
    """Insert-Subscriber-Data-Request: the HSS pushes changed subscription data."""

    envelope: Envelope
    user_name: str
    subscription: SubscriptionData
    flags: IdrFlags | None = None


@dataclass(frozen=True, slots=True)
class Ida:
    """Insert-Subscriber-Data-Answer."""

    answer: Answer


def build_idr(idr: Idr) -> Message:
    """Build an IDR from ``idr`` (its envelope needs a Destination-Host)."""
    msg = fill_request(commands.InsertSubscriberDataRequest(), ApplicationId.S6A, idr.envelope)
    msg.user_name = idr.user_name
    msg.subscription_data = put_subscription(idr.subscription)
    msg.idr_flags = _put_flags(idr.flags)
    return msg


def read_idr(msg: Message) -> Idr:
    """Read a received IDR."""
    subscription = get_subscription(msg.subscription_data)
    if subscription is None:
        raise AvpError("Subscription-Data")
    return Idr(read_envelope(msg), text(msg.user_name, "User-Name"), subscription,
               _flags(IdrFlags, msg.idr_flags, "IDR-Flags"))


def build_ida(request: Message, ida: Ida) -> Message:
    """Build the IDA answering ``request``."""
    return fill_answer(commands.InsertSubscriberDataAnswer(), request, ida.answer)


def read_ida(msg: Message) -> Ida:
    """Read a received IDA."""
    return Ida(read_answer(msg))


# -- DSR/DSA (TS 29.272 §7.2.11-§7.2.12) ------------------------------------
@dataclass(frozen=True, slots=True)
class Dsr:
    """Delete-Subscriber-Data-Request: the HSS withdraws parts of the subscription."""

    envelope: Envelope
    user_name: str
    flags: DsrFlags
    context_identifiers: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Dsa:
    """Delete-Subscriber-Data-Answer."""

    answer: Answer


def build_dsr(dsr: Dsr) -> Message:
    """Build a DSR from ``dsr`` (its envelope needs a Destination-Host)."""
    msg = fill_request(commands.DeleteSubscriberDataRequest(), ApplicationId.S6A, dsr.envelope)
    msg.user_name = dsr.user_name
    msg.dsr_flags = int(dsr.flags)
    msg.context_identifier = list(dsr.context_identifiers)
    return msg


def read_dsr(msg: Message) -> Dsr:
    """Read a received DSR."""
    contexts = tuple(integer(v, "Context-Identifier") for v in msg.context_identifier)
    return Dsr(read_envelope(msg), text(msg.user_name, "User-Name"),
               DsrFlags(integer(msg.dsr_flags, "DSR-Flags")), contexts)


def build_dsa(request: Message, dsa: Dsa) -> Message:
    """Build the DSA answering ``request``."""
    return fill_answer(commands.DeleteSubscriberDataAnswer(), request, dsa.answer)


def read_dsa(msg: Message) -> Dsa:
    """Read a received DSA."""
    return Dsa(read_answer(msg))


# -- PUR/PUA, Purge-UE (TS 29.272 §7.2.13-§7.2.14) --------------------------
@dataclass(frozen=True, slots=True)
class Pur:
    """Purge-UE-Request: the MME has deleted the UE's context."""

    envelope: Envelope
    user_name: str
    flags: PurFlags | None = None


@dataclass(frozen=True, slots=True)
class Pua:
    """Purge-UE-Answer."""

    answer: Answer
    flags: PuaFlags | None = None


def build_pur(pur: Pur) -> Message:
    """Build a Purge-UE-Request from ``pur``."""
    msg = fill_request(commands.PurgeUeRequest(), ApplicationId.S6A, pur.envelope)
    msg.user_name = pur.user_name
    msg.pur_flags = _put_flags(pur.flags)
    return msg


def read_pur(msg: Message) -> Pur:
    """Read a received Purge-UE-Request."""
    return Pur(read_envelope(msg), text(msg.user_name, "User-Name"),
               _flags(PurFlags, msg.pur_flags, "PUR-Flags"))


def build_pua(request: Message, pua: Pua) -> Message:
    """Build the Purge-UE-Answer to ``request``."""
    msg = fill_answer(commands.PurgeUeAnswer(), request, pua.answer)
    msg.pua_flags = _put_flags(pua.flags)
    return msg


def read_pua(msg: Message) -> Pua:
    """Read a received Purge-UE-Answer."""
    return Pua(read_answer(msg), _flags(PuaFlags, msg.pua_flags, "PUA-Flags"))
