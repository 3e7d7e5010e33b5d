"""S6a build and read helpers (TS 29.272 §7.2-§7.3; Rel-17).

One pure ``build_<msg>`` and one ``read_<msg>`` per S6a command our HSS
serves or sends: AIR/AIA, ULR/ULA, CLR/CLA, IDR/IDA, DSR/DSA and PUR/PUA
(Purge-UE). ``read_<msg>`` returns the frozen dataclass ``build_<msg>``
takes. Answers are built from the received request (its header
identifiers) plus an ``Answer`` envelope (``results.py``); S6a errors go in
Experimental-Result with ``S6aExperimentalResult`` codes (TS 29.272 §7.4).

python-diameter's S6a command and grouped classes carry the right AVP codes,
so they are used as they are; each command is one table of ``mapping.py``
rows (dataclass field, AVP, codec). The library's EPS-Subscribed-QoS-Profile
defaults Allocation-Retention-Priority to the class itself, not None; the
mapping reads that as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any

from diameter.message import commands
from diameter.message.avp import grouped as grp

from .mapping import (
    INT,
    OCTETS,
    TBCD,
    TEXT,
    AnswerShape,
    Avp,
    Codec,
    RequestShape,
    Shape,
    Within,
    enum,
    flags,
    grouped,
    seq,
)
from .results import Answer, ApplicationId, Envelope


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


#: Immediate-Response-Preferred (TS 29.272 §7.3.114): present (any value) or absent.
_PRESENT = Codec(lambda preferred: 1 if preferred else None, lambda _value, _avp: True)

_VECTOR = Shape(
    EutranVector, grp.EUtranVector,
    Avp("item_number", "Item-Number", INT, absent=None),
    Avp("rand", "RAND", OCTETS),
    Avp("xres", "XRES", OCTETS),
    Avp("autn", "AUTN", OCTETS),
    Avp("kasme", "KASME", OCTETS),
)
_AIR = RequestShape(
    Air, commands.AuthenticationInformationRequest, ApplicationId.S6A,
    Avp("user_name", "User-Name", TEXT),
    Avp("visited_plmn_id", "Visited-PLMN-Id", OCTETS),
    Within("Requested-EUTRAN-Authentication-Info", grp.RequestedEutranAuthenticationInfo,
           Avp("number_of_vectors", "Number-Of-Requested-Vectors", INT, absent=1),
           Avp("immediate_response_preferred", "Immediate-Response-Preferred", _PRESENT,
               absent=False),
           Avp("resync_info", "Re-Synchronization-Info", OCTETS, absent=None),
           required=True),
)
_AIA = AnswerShape(
    Aia, commands.AuthenticationInformationAnswer,
    Within("Authentication-Info", grp.AuthenticationInfo,
           Avp("vectors", "E-UTRAN-Vector", seq(grouped(_VECTOR)), absent=())),
)
build_air, read_air = _AIR.build, _AIR.read
build_aia, read_aia = _AIA.build, _AIA.read


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


_AMBR = Avp("ambr", "AMBR", grouped(Shape(
    Ambr, grp.Ambr,
    Avp("max_requested_bandwidth_ul", "Max-Requested-Bandwidth-UL", INT),
    Avp("max_requested_bandwidth_dl", "Max-Requested-Bandwidth-DL", INT),
)), absent=None)
_ARP = Shape(
    Arp, grp.AllocationRetentionPriority,
    Avp("priority_level", "Priority-Level", INT),
    Avp("pre_emption_capability", "Pre-emption-Capability", enum(PreEmptionCapability),
        absent=PreEmptionCapability.DISABLED),
    Avp("pre_emption_vulnerability", "Pre-emption-Vulnerability", enum(PreEmptionVulnerability),
        absent=PreEmptionVulnerability.ENABLED),
)
_QOS = Shape(
    EpsQos, grp.EpsSubscribedQosProfile,
    Avp("qci", "QoS-Class-Identifier", INT),
    Avp("arp", "Allocation-Retention-Priority", grouped(_ARP)),
)
_APN = Shape(
    ApnConfiguration, grp.ApnConfiguration,
    Avp("context_identifier", "Context-Identifier", INT),
    Avp("apn", "Service-Selection", TEXT),
    Avp("pdn_type", "PDN-Type", enum(PdnType)),
    Avp("qos", "EPS-Subscribed-QoS-Profile", grouped(_QOS)),
    _AMBR,
)
_PROFILE = Shape(
    ApnProfile, grp.ApnConfigurationProfile,
    Avp("context_identifier", "Context-Identifier", INT),
    Avp("configurations", "APN-Configuration", seq(grouped(_APN)), absent=()),
    Avp("all_included", "All-APN-Configurations-Included-Indicator",
        enum(AllApnConfigurationsIncluded)),
)
_SUBSCRIPTION = Shape(
    SubscriptionData, grp.SubscriptionData,
    Avp("msisdn", "MSISDN", TBCD, absent=None),
    Avp("subscriber_status", "Subscriber-Status", enum(SubscriberStatus), absent=None),
    Avp("network_access_mode", "Network-Access-Mode", enum(NetworkAccessMode), absent=None),
    Avp("access_restriction_data", "Access-Restriction-Data", INT, absent=None),
    _AMBR,
    Avp("apn_profile", "APN-Configuration-Profile", grouped(_PROFILE), absent=None),
)


def put_subscription(data: SubscriptionData) -> Any:
    """The library's Subscription-Data grouped value for ``data``."""
    return _SUBSCRIPTION.put(grp.SubscriptionData(), data)


def get_subscription(group: Any) -> SubscriptionData | None:
    """Read a received Subscription-Data grouped value (None when absent)."""
    return None if group is None else _SUBSCRIPTION.get(group)


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


_ULR = RequestShape(
    Ulr, commands.UpdateLocationRequest, ApplicationId.S6A,
    Avp("user_name", "User-Name", TEXT),
    Avp("visited_plmn_id", "Visited-PLMN-Id", OCTETS),
    Avp("rat_type", "RAT-Type", enum(RatType)),
    Avp("flags", "ULR-Flags", flags(UlrFlags)),
)
_ULA = AnswerShape(
    Ula, commands.UpdateLocationAnswer,
    Avp("flags", "ULA-Flags", flags(UlaFlags), absent=None),
    Avp("subscription", "Subscription-Data", grouped(_SUBSCRIPTION), absent=None),
)
build_ulr, read_ulr = _ULR.build, _ULR.read
build_ula, read_ula = _ULA.build, _ULA.read


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


_CLR = RequestShape(
    Clr, commands.CancelLocationRequest, ApplicationId.S6A,
    Avp("user_name", "User-Name", TEXT),
    Avp("cancellation_type", "Cancellation-Type", enum(CancellationType)),
    Avp("flags", "CLR-Flags", flags(ClrFlags), absent=None),
)
_CLA = AnswerShape(Cla, commands.CancelLocationAnswer)
build_clr, read_clr = _CLR.build, _CLR.read
build_cla, read_cla = _CLA.build, _CLA.read


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


_IDR = RequestShape(
    Idr, commands.InsertSubscriberDataRequest, ApplicationId.S6A,
    Avp("user_name", "User-Name", TEXT),
    Avp("subscription", "Subscription-Data", grouped(_SUBSCRIPTION)),
    Avp("flags", "IDR-Flags", flags(IdrFlags), absent=None),
)
_IDA = AnswerShape(Ida, commands.InsertSubscriberDataAnswer)
build_idr, read_idr = _IDR.build, _IDR.read
build_ida, read_ida = _IDA.build, _IDA.read


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


_DSR = RequestShape(
    Dsr, commands.DeleteSubscriberDataRequest, ApplicationId.S6A,
    Avp("user_name", "User-Name", TEXT),
    Avp("flags", "DSR-Flags", flags(DsrFlags)),
    Avp("context_identifiers", "Context-Identifier", seq(INT), absent=()),
)
_DSA = AnswerShape(Dsa, commands.DeleteSubscriberDataAnswer)
build_dsr, read_dsr = _DSR.build, _DSR.read
build_dsa, read_dsa = _DSA.build, _DSA.read


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


_PUR = RequestShape(
    Pur, commands.PurgeUeRequest, ApplicationId.S6A,
    Avp("user_name", "User-Name", TEXT),
    Avp("flags", "PUR-Flags", flags(PurFlags), absent=None),
)
_PUA = AnswerShape(
    Pua, commands.PurgeUeAnswer,
    Avp("flags", "PUA-Flags", flags(PuaFlags), absent=None),
)
build_pur, read_pur = _PUR.build, _PUR.read
build_pua, read_pua = _PUA.build, _PUA.read
