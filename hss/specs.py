"""Provisioning specs of a subscriber and its shared objects (TS 23.008 §2, §5; TS 29.228 Annex B).

What an operator asks for, before validation: :class:`SubscriberSpec` with
its :class:`ImpuSpec` identities and :class:`ApnConfig` APNs, the shared
:class:`ServiceProfileSpec` / :class:`ApplicationServerSpec`, and the
validated :class:`SubscriberPlan` the store writes. The rules that turn a
spec into a plan are in :mod:`hss.validation`; every name here is also
importable from :mod:`hss.identities`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from hss.models import DEFAULT_SERVICE_PROFILE, AuthScheme, DefaultHandling, SptKind

__all__ = [
    "DEFAULT_APNS", "DEFAULT_DOMAIN", "ApnConfig", "ApplicationServerSpec", "FilterCriteriaSpec",
    "ImpuSpec", "PdnType", "ServiceProfileSpec", "SubscriberPlan", "SubscriberSpec",
    "TriggerSpec",
]

#: The home domain of the default configuration (architecture.md, Defaults).
DEFAULT_DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"


class PdnType(enum.IntEnum):
    """PDN-Type AVP values (TS 29.272 §7.3.62)."""

    IPV4 = 0
    IPV6 = 1
    IPV4V6 = 2
    IPV4_OR_IPV6 = 3


@dataclass(frozen=True, slots=True)
class ApnConfig:
    """One APN-Configuration (TS 29.272 §7.3.35), as provisioned and as read back.

    Attributes:
        name: Service-Selection, the APN network identifier.
        context_id: Context-Identifier, unique per subscription.
        qci: QoS-Class-Identifier of the default bearer (TS 23.203 §6.1.7).
        arp_priority: Priority-Level of the ARP, 1 (highest) .. 15.
        arp_preemption_capability: the bearer may pre-empt others.
        arp_preemption_vulnerability: the bearer may be pre-empted.
        ambr_ul: APN-AMBR uplink, bit/s.
        ambr_dl: APN-AMBR downlink, bit/s.
        pdn_type: PDN-Type.
        is_default: the Context-Identifier of the APN-Configuration-Profile.
    """

    name: str
    context_id: int
    qci: int
    arp_priority: int
    arp_preemption_capability: bool = False
    arp_preemption_vulnerability: bool = True
    ambr_ul: int = 100_000_000
    ambr_dl: int = 100_000_000
    pdn_type: PdnType = PdnType.IPV4V6
    is_default: bool = False


#: ``internet`` (default bearer QCI 9, ARP 8) and ``ims`` (QCI 5, ARP 1), TS 23.203 Table 6.1.7.
DEFAULT_APNS = (
    ApnConfig("internet", 1, qci=9, arp_priority=8, is_default=True),
    ApnConfig("ims", 2, qci=5, arp_priority=1, arp_preemption_capability=True,
              arp_preemption_vulnerability=False, ambr_ul=10_000_000, ambr_dl=10_000_000),
)


@dataclass(frozen=True, slots=True)
class ImpuSpec:
    """A public identity to provision; ``service_profile`` None: the subscriber's."""

    impu: str
    barred: bool = False
    service_profile: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriberSpec:
    """What to provision for one subscriber (TS 23.008 §2, §5.2).

    Keys are hex strings: K and OPc (or OP, converted with TS 35.206 §4.1)
    32 hex digits, AMF 4. ``impi`` and ``impus`` default to the identity set
    of the :mod:`hss.identities` docstring; ``digest_password`` (or ``digest_ha1``) makes the
    IMPI a SIP Digest identity, whose HA1 uses ``domain`` as realm.
    """

    imsi: str
    k: str | None = None
    opc: str | None = None
    op: str | None = None
    amf: str = "8000"
    sqn: int = 0
    msisdn: str | None = None
    domain: str = DEFAULT_DOMAIN
    impi: str | None = None
    impus: tuple[ImpuSpec, ...] | None = None
    digest_password: str | None = None
    digest_ha1: str | None = None
    service_profile: str = DEFAULT_SERVICE_PROFILE
    apns: tuple[ApnConfig, ...] = DEFAULT_APNS
    ambr_ul: int = 100_000_000
    ambr_dl: int = 100_000_000
    access_restriction: int = 0


@dataclass(frozen=True, slots=True)
class SubscriberPlan:
    """A validated :class:`SubscriberSpec`: binary keys, normalised identities."""

    imsi: str
    msisdn: str | None
    k: bytes | None = field(repr=False)
    opc: bytes | None = field(repr=False)
    amf: bytes
    sqn: int
    impi: str
    auth_scheme: AuthScheme
    digest_realm: str | None
    digest_ha1: str | None
    impus: tuple[ImpuSpec, ...]
    apns: tuple[ApnConfig, ...]
    ambr_ul: int
    ambr_dl: int
    access_restriction: int


@dataclass(frozen=True, slots=True)
class ApplicationServerSpec:
    """An application server (TS 29.228 Annex B.2.3), as provisioned and as read back."""

    name: str
    server_name: str
    default_handling: DefaultHandling = DefaultHandling.SESSION_CONTINUED
    service_info: str | None = None
    include_register_request: bool = False
    include_register_response: bool = False


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """A service point trigger (TS 29.228 Annex B.2.2, Annex C); see ``ServicePointTrigger``."""

    kind: SptKind
    value: str | None = None
    header: str | None = None
    group: int = 0
    negated: bool = False
    registration_type: int | None = None


@dataclass(frozen=True, slots=True)
class FilterCriteriaSpec:
    """An initial filter criteria (TS 29.228 Annex B.2.2) naming its AS."""

    priority: int
    application_server: str
    triggers: tuple[TriggerSpec, ...] = ()
    condition_type_cnf: bool = True
    profile_part_indicator: int | None = None


@dataclass(frozen=True, slots=True)
class ServiceProfileSpec:
    """A shared service profile: its iFCs (TS 29.228 Annex B.2.1)."""

    name: str
    filter_criteria: tuple[FilterCriteriaSpec, ...] = ()
